"""The first pass of the derivative checks: every row judged at once, the easy ones settled.

:meth:`gradcheck._rows.Start.compare` checks each row of a derivative matrix with the scalar
verdict (:func:`gradcheck.check.run_check`). For most rows of a correct derivative that
verdict is decided by its first step: every element within the error-model tolerance, none
suspect (central differences' kink test) or coarse, so no confirmation runs and only the
resolution rule can still mark an element. :func:`settle` computes that first step for all
rows together, as (rows, P) arrays from the values of f already cached by the
:class:`gradcheck.evaluators.vector.VectorSource` (the same points, the same formulas, the same
order of floating-point operations as :func:`gradcheck._problem.probe_noise`,
:func:`gradcheck.numerical.central` and :func:`gradcheck._verdict.judge`), and settles the rows
where it is final. Every other row (a failing, suspect or coarse element) goes through
``run_check`` as before, so the result is the per-row result, bit for bit
(``tests/test_first_pass.py`` runs both paths on the vector corpus and on planted bugs).

Only central differences with the error-model tolerance take this pass (the default, and the
method whose first step is cheap to share); other methods, explicit ``rtol``/``atol``, and an
f that raises a domain error at one of the points leave every row to ``run_check``. An f
that returns NaN near x (where ``run_check`` shrinks its steps, or at a probe point) is the
one case where the result differs: the verdict is the same, but ``n_evaluations`` counts the
first pass's own calls too, up to 2P + 14 more than the per-row checks make.

Example
-------
>>> from gradcheck.evaluators import vector as _vector
>>> pb = _problem.prepare(np.sin, np.array([0.3, -0.7]), (), "central")
>>> source = _vector.VectorSource(pb)
>>> jac = np.diag(np.cos(pb.x_flat)) * [[1.0], [1.001]]   # the second row 0.1 % off
>>> rows = [(_vector.Component(source, i), jac[i]) for i in range(2)]
>>> out = (np.empty((2, 2)), np.empty((2, 2)), np.empty((2, 2), np.int8))
>>> settle(source, check.CheckOptions(), 0.0, rows, out).tolist(), out[2][0].tolist()
([True, False], [0, 0])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import check, steps
from gradcheck import methods as numerical
from gradcheck import steps as _problem
from gradcheck import verdict as _resolution
from gradcheck import verdict as _verdict
from gradcheck.evaluators import vector as _vector
from gradcheck.report import PASS
from gradcheck.steps import Noise

Float64Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Set to False to send every row through ``run_check`` (the equivalence test compares both).
ENABLED = True
#: Elements per block of rows: the (rows, P) arrays of one block stay near 32 MiB.
BLOCK_ELEMENTS = 1 << 22


def applies(pb: _problem.Problem, options: check.CheckOptions) -> bool:
    """Whether the first pass can decide rows: central differences, error-model tolerance."""
    return (ENABLED and pb.method == "central" and options.rtol is None
            and options.atol is None and pb.layout.size > 0)


Picker = Callable[[npt.NDArray[Any]], Any]


def picker(components: Sequence[_vector.Component]) -> Picker:
    """The values of every component from values of f (last axis: outputs → components)."""
    if all(c.weights is None for c in components):
        index = np.array([c.index for c in components], np.intp)
        return lambda values: values[..., index]
    return lambda values: np.stack([c.pick(values) for c in components], axis=-1)


def _leaves(pb: _problem.Problem, shift: Float64Array) -> list[npt.NDArray[Any]]:
    """The point ``x + shift`` as leaves in x's dtypes (as :func:`_problem.evaluator_at`)."""
    flat = pb.x_flat + shift
    return [part.astype(leaf.dtype) for leaf, part in zip(pb.leaves, pb.split(flat), strict=True)]


def _value_at(source: _vector.VectorSource, pick: Picker, shift: Float64Array) -> Float64Array:
    """Every component at ``x + shift``; NaN where f raises a domain error there."""
    try:
        values = source.value_at(_leaves(source.problem, shift))
    except _problem.DOMAIN_ERRORS:
        values = np.full(source.outputs.layout.size, np.nan)
    return np.asarray(pick(values), np.float64)


Analytic = Callable[[slice], tuple[Float64Array, Float64Array]]
"""``analytic(part)``: the analytic values of the rows ``part`` and the epsilon of each, as
:func:`gradcheck.check._analytic` reads them, both (rows, P)."""


def per_row(pb: _problem.Problem, rows: Sequence[tuple[Any, Any]]) -> Analytic:
    """The rows' analytic values and epsilons read from their trees, one row at a time."""
    def of(part: slice) -> tuple[Float64Array, Float64Array]:
        pairs = [check._analytic(pb, tree, None) for _, tree in rows[part]]
        shape = (len(pairs), pb.layout.size)
        return (np.array([a for a, _ in pairs]).reshape(shape),
                np.array([e for _, e in pairs]).reshape(shape))
    return of


#: The probe's multiples ``j`` of its shift, as a column.
_J = np.array([[-2.0], [-1.0], [1.0], [2.0]])


def _exact(pb: _problem.Problem, base: Float64Array, shift: Float64Array) -> BoolArray:
    """Where ``base + j shift`` is exact in x's dtypes for j = ±1, ±2: the test of
    ``_problem._exact``, the four points rounded together."""
    moved = base + _J * shift
    back = np.empty_like(moved)
    for dtype, a, b in pb.layout.runs():
        back[:, a:b] = moved[:, a:b].astype(dtype)
    exact: BoolArray = (back - base == _J * shift).all(axis=0)
    return exact


def probe_shifts(pb: _problem.Problem, eps: Float64Array) -> list[Float64Array]:
    """:func:`gradcheck._problem.probe_shifts` with the faster :func:`_exact`."""
    delta = 2.0 ** np.ceil(np.log2(_problem.PROBE_STEP * eps * np.maximum(1.0, np.abs(pb.x_flat))))
    shifts = []
    for signs in _signs(pb.layout.size):
        shift = delta * signs
        shifts.append(np.where(_exact(pb, pb.x_flat, shift), shift, 0.0))
    return shifts


@functools.lru_cache(maxsize=8)
def _signs(size: int) -> tuple[Float64Array, ...]:
    """The probe's seeded ±1 directions for ``size`` coordinates (read-only, drawn once)."""
    rng = np.random.default_rng(_problem.PROBE_SEED)
    out = tuple(rng.choice([-1.0, 1.0], size=size) for _ in range(_problem.PROBE_DIRECTIONS))
    for signs in out:
        signs.flags.writeable = False
    return out


def probe(
    source: _vector.VectorSource, pick: Picker, f0: Float64Array, eps: Float64Array,
    reach: Float64Array,
) -> Float64Array:
    """``σ_f`` of every component: :func:`gradcheck._problem.probe_noise`, all rows at once."""
    pb = source.problem
    worst = np.zeros(len(f0))
    for d, shift in enumerate(probe_shifts(pb, eps)):
        base = _problem.rounded(pb, pb.x_flat + (-1.0) ** d * min(d, 1) * reach * np.sign(shift))
        shift = np.where(_exact(pb, base, shift), shift, 0.0)
        center = f0 if d == 0 else _value_at(source, pick, base - pb.x_flat)
        values = [_value_at(source, pick, base + j * shift - pb.x_flat) for j in (-2, -1, 1, 2)]
        d4 = _problem.fourth_difference(values, center)
        finite = np.isfinite(d4)
        worst[finite] = np.maximum(worst[finite], np.abs(d4[finite]))
    out: Float64Array = _problem.PROBE_SAFETY * worst / math.sqrt(70.0)
    return out


class _Shared:
    """What every row shares: the steps, the shifted points, f's noise model without σ_f."""

    def __init__(self, source: _vector.VectorSource, step: Any, allowed: float) -> None:
        pb = self.pb = source.problem
        eps_f = source.outputs.eps
        self.noise: Noise = _problem.noise_for(pb, eps_f, allowed)
        h = steps.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, step,
                                eps_floor=eps_f)
        confirm = steps.confirmation_steps(pb.method, h, pb.leaves, eps_floor=eps_f)
        self.reach = np.maximum(confirm, h)
        self.index = index = _problem.all_coordinates(pb)
        full = np.zeros((2, pb.layout.size))
        full[:, index] = np.array([[1.0], [-1.0]]) * h[index]  # as numerical._sides
        self.hp, self.hm = steps.shifted_steps(pb.x_flat, pb.layout, full, only=index)[:, index]
        self.m = _problem.scale(pb, index)
        self.float32 = bool(np.any(self.noise.eps > 1e-10))


def settle(
    source: _vector.VectorSource, options: check.CheckOptions, allowed: float,
    rows: Sequence[tuple[_vector.Component, Any]],
    out: tuple[Float64Array, Float64Array, npt.NDArray[np.int8]],
    analytic: Analytic | None = None,
) -> BoolArray:
    """Which rows the first pass settles; their numeric, tolerance and status put in ``out``.

    ``out`` is (numeric, tolerance, status), each (rows, P), filled in place. ``analytic``
    gives the rows' analytic values and epsilons as ``run_check`` reads them from their
    trees (:func:`per_row` by default).
    """
    settled = np.zeros(len(rows), bool)
    if not rows or not applies(source.problem, options):
        return settled
    shared = _Shared(source, options.step, allowed)
    index = shared.index
    components = [component for component, _ in rows]
    pick = picker(components)
    f0 = np.asarray(pick(source.at_x), np.float64)
    sigma = probe(source, pick, f0, shared.noise.eps, shared.reach)
    try:
        values = source.along(np.concatenate([index, index]),
                              np.concatenate([shared.hp, shared.hm]))
    except _problem.DOMAIN_ERRORS:  # run_check shrinks the steps there, row by row
        return settled
    block = max(1, BLOCK_ELEMENTS // (3 * len(index)))
    rows_analytic = analytic or per_row(source.problem, rows)
    numeric, tolerance, status = out
    for lo in range(0, len(rows), block):
        part = slice(lo, lo + block)
        settled[part] = _block(shared, picker(components[part])(values), f0[part],
                               sigma[part], rows_analytic, part,
                               (numeric[part], tolerance[part], status[part]))
    return settled


def _central(
    shared: _Shared, picked: Float64Array, f0: Float64Array, sigma: Float64Array
) -> numerical.Estimate:
    """:func:`gradcheck.numerical.central` of every row of a block, arrays (rows, P)."""
    hp, hm, m, noise, index = shared.hp, shared.hm, shared.m, shared.noise, shared.index
    p = len(index)
    fp, fm, f0 = picked[:p].T, picked[p:].T, f0[:, None]
    half = (hp - hm) / 2.0
    f_max = np.maximum(np.maximum(np.abs(fp), np.abs(fm)), np.abs(f0))
    level = np.maximum(noise.eps[index] * f_max, sigma[:, None])  # as Noise.rounding
    rounding = np.maximum(level, noise.resolution(index)) + noise.spread
    third = f_max / m**3
    fwd, bwd = (fp - f0) / hp, (f0 - fm) / -hm
    disagreement = np.abs(fwd - bwd)
    third = np.maximum(third, disagreement / half / m)
    nonsmooth = disagreement > numerical.KINK_FACTOR * (half * f_max / m**2
                                                        + 4.0 * rounding / half)
    error = rounding / half + half**2 / 6.0 * third
    unused = np.empty(0)
    return numerical.Estimate((fp - fm) / (hp - hm), error, hp, f_max, nonsmooth, nonsmooth,
                              unused, unused, unused, unused, 2 * p)


def _block(
    shared: _Shared, picked: Float64Array, f0: Float64Array, sigma: Float64Array,
    rows_analytic: Analytic, part: slice,
    out: tuple[Float64Array, Float64Array, npt.NDArray[np.int8]],
) -> BoolArray:
    """The first pass of :func:`gradcheck._verdict.judge` on the rows ``part``."""
    pb, noise, m = shared.pb, shared.noise, shared.m
    analytic, eps_a = rows_analytic(part)
    eps_a = np.maximum(eps_a, noise.eps)
    est = _central(shared, picked, f0, sigma)
    numeric = est.value
    tolerance = _verdict.model_tolerance(est, analytic, eps_a, m)
    fail = ~(np.abs(analytic - numeric) <= tolerance)
    size = np.maximum(np.abs(analytic), np.abs(numeric))
    size = np.where(np.isfinite(size), size, 0.0)
    gradient = size.max(axis=1, initial=0.0, keepdims=True)
    coarse = tolerance > _verdict.COARSE * np.maximum(size, gradient)  # as _verdict._coarse
    settled: BoolArray = ~(fail | est.suspect | coarse).any(axis=1)
    resolution = noise.resolution(shared.index) / est.step
    floor = np.maximum(np.maximum(est.f_max, sigma[:, None] / noise.eps) / m,
                       10.0 * _verdict.SAFETY * resolution)
    out[0][settled], out[1][settled], out[2][settled] = numeric[settled], tolerance[settled], PASS
    # _resolution.mark leaves a row of passes whose tolerances are all within their sizes as
    # it is: only the rows that may have an unresolved element are marked
    if noise.spread == 0.0:
        size = np.maximum(size, floor)
    may_open = (tolerance > np.maximum(size, gradient)).any(axis=1)
    passing = np.full(len(shared.index), PASS, np.int8)
    for i in np.flatnonzero(settled & may_open):
        out[2][i] = _resolution.mark(
            passing, analytic[i], numeric[i], tolerance[i], floor=floor[i], method=pb.method,
            spread=noise.spread, float32=shared.float32,
        )[0]
    return settled
