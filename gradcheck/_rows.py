"""The engine of the derivative checks: one scalar check per row, over shared evaluations of f.

Each row of a derivative matrix (an output element of f, or ``⟨ct, f(x)⟩`` for a cotangent)
is checked by :func:`gradcheck.check.run_check`, the verdict of :func:`gradcheck.check_gradient`,
on a :class:`gradcheck.evaluators.vector.Component` whose evaluators are views of one
:class:`gradcheck.evaluators.vector.VectorSource`: a point is evaluated once for all rows.
Here too: the moves of a JVP along its tangents (:class:`Along`), the symmetry of a Hessian
and the error a numerical inner gradient brings into it (:class:`InnerError`).

**The first pass** (:func:`settle`) judges every row at once and settles the easy ones.
:meth:`Start.compare` checks each row of a derivative matrix with the scalar
verdict (:func:`gradcheck.check.run_check`). For most rows of a correct derivative that
verdict is decided by its first step: every element within the error-model tolerance, none
suspect (central differences' kink test) or coarse, so no confirmation runs and only the
resolution rule can still mark an element. :func:`settle` computes that first step for all
rows together, as (rows, P) arrays from the values of f already cached by the
:class:`gradcheck.evaluators.vector.VectorSource` (the same points, the same formulas, the same
order of floating-point operations as :func:`gradcheck.methods.probe_noise`,
:func:`gradcheck.methods.central` and :func:`gradcheck.verdict.judge`), and settles the rows
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
>>> pb = methods.prepare(np.sin, np.array([0.3, -0.7]), (), "central")
>>> source = vector.VectorSource(pb)
>>> jac = np.diag(np.cos(pb.x_flat)) * [[1.0], [1.001]]   # the second row 0.1 % off
>>> rows = [(vector.Component(source, i), jac[i]) for i in range(2)]
>>> out = (np.empty((2, 2)), np.empty((2, 2)), np.empty((2, 2), np.int8))
>>> settle(source, CheckOptions(), 0.0, rows, out).tolist(), out[2][0].tolist()
([True, False], [0, 0])
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import check, diagnosis, methods, report, tree, verdict
from gradcheck.check import CheckOptions
from gradcheck.derivative_report import Axis, DerivativeCheckResult, build_derivative_result
from gradcheck.diagnosis import Finding
from gradcheck.evaluators import vector
from gradcheck.methods import Noise
from gradcheck.report import PASS
from gradcheck.tree import OutputLayout

Float64Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

class Start:
    """What every derivative check does first: validate, call f twice at x, start the clock."""

    def __init__(self, f: object, x: object, options: CheckOptions) -> None:
        self.clock = time.perf_counter()
        self.options = options
        self.x = x
        self.pb = methods.prepare(f, x, options.args, options.method)
        options.validate(self.pb)
        self.allowed = options.allowed_spread()
        evaluation = options.evaluation()
        batch = evaluation.max_batch_bytes if evaluation.vectorized else None
        self.source = vector.VectorSource(self.pb, evaluation.executor, batch)
        self.reasons: list[str] = []
        """Why the rows' unresolved elements are unresolved, each reason once, in order."""

    @staticmethod
    def validate(f: object, x: object, options: CheckOptions) -> methods.Problem:
        """f, x, args and method checked, x flattened (no call of f)."""
        return methods.prepare(f, x, options.args, options.method)

    @property
    def outputs(self) -> OutputLayout:
        """The structure of f(x)."""
        return self.source.outputs

    def output_axis(self, prefix: str = "f(x)") -> Axis:
        """The output elements of f, named ``f(x)['h']``..."""
        layout = self.outputs.layout
        return Axis(tuple(prefix + p for p in layout.paths), layout.shapes)

    def input_axis(self) -> Axis:
        """The coordinates of x, named ``x['W']``..."""
        layout = self.pb.layout
        return Axis(tuple("x" + p for p in layout.paths), layout.shapes)

    def compare(
        self, rows: Sequence[tuple[vector.Component, Any]],
        analytic: Analytic | None = None,
    ) -> tuple[Float64Array, Float64Array, npt.NDArray[np.int8]]:
        """(numeric, tolerance, status), each (rows, P): the scalar check of each row.

        :func:`settle` (the first pass) settles the rows decided by the check's first step, all
        at once; the others run :func:`gradcheck.check.run_check` (same numbers either way).
        ``analytic`` gives the first pass the rows' analytic values without reading each tree.
        """
        n, p = len(rows), self.pb.layout.size
        numeric, tolerance = np.empty((n, p)), np.empty((n, p))
        status = np.empty((n, p), np.int8)
        scalar = self.options
        # rows the first pass settles are those run_check would decide at its first step
        settled = settle(self.source, scalar, self.allowed, rows,
                                     (numeric, tolerance, status), analytic)
        for i in np.flatnonzero(~settled):
            component, grad_tree = rows[int(i)]
            res = check.run_check(component, self.x, grad_tree, scalar, self.source.factory)
            numeric[i] = tree.concat(res.numeric)
            tolerance[i] = tree.concat(res.tolerance)
            status[i] = np.concatenate([s.reshape(-1) for s in res.status])
            for reason in res.unresolved_reason.split("; ") if res.unresolved_reason else ():
                if reason not in self.reasons:
                    self.reasons.append(reason)
        return numeric, tolerance, status

    def nondeterministic(self) -> bool:
        """Whether the two values of f at x differ by more than ``nondet_tol``."""
        return self.source.spread > self.allowed

    def result(
        self, kind: str, rows: Axis, cols: Axis, analytic: Float64Array, numeric: Float64Array,
        tolerance: Float64Array, status: npt.NDArray[np.int8], **extra: Any,
    ) -> DerivativeCheckResult:
        """The result, with the calls of f and the time since the start."""
        return build_derivative_result(
            kind=kind, rows=rows, cols=cols, analytic=analytic, numeric=numeric,
            tolerance=tolerance, status=status, method=self.pb.method,
            n_evaluations=self.source.n_evaluations,
            seconds=time.perf_counter() - self.clock,
            **{"unresolved_reason": "; ".join(self.reasons), **extra},
        )

    def unchecked(
        self, kind: str, rows: Axis, cols: Axis, analytic: Float64Array
    ) -> DerivativeCheckResult:
        """The failed result of an f that gave two values at x: nothing compared."""
        nan = np.full(analytic.shape, np.nan)
        status = np.full(analytic.shape, report.UNCHECKED, np.int8)
        return self.result(kind, rows, cols, analytic, nan, nan, status,
                           nondeterministic=True, nondeterminism=self.source.spread)


#: Set to False to send every row through ``run_check`` (the equivalence test compares both).
ENABLED = True
#: Elements per block of rows: the (rows, P) arrays of one block stay near 32 MiB.
BLOCK_ELEMENTS = 1 << 22


def applies(pb: methods.Problem, options: CheckOptions) -> bool:
    """Whether the first pass can decide rows: central differences, error-model tolerance."""
    return (ENABLED and pb.method == "central" and options.rtol is None
            and options.atol is None and pb.layout.size > 0)


Picker = Callable[[npt.NDArray[Any]], Any]


def picker(components: Sequence[vector.Component]) -> Picker:
    """The values of every component from values of f (last axis: outputs → components)."""
    if all(c.weights is None for c in components):
        index = np.array([c.index for c in components], np.intp)
        return lambda values: values[..., index]
    return lambda values: np.stack([c.pick(values) for c in components], axis=-1)


def _leaves(pb: methods.Problem, shift: Float64Array) -> list[npt.NDArray[Any]]:
    """The point ``x + shift`` as leaves in x's dtypes (as :func:`methods.evaluator_at`)."""
    flat = pb.x_flat + shift
    return [part.astype(leaf.dtype) for leaf, part in zip(pb.leaves, pb.split(flat), strict=True)]


def _value_at(source: vector.VectorSource, pick: Picker, shift: Float64Array) -> Float64Array:
    """Every component at ``x + shift``; NaN where f raises a domain error there."""
    try:
        values = source.value_at(_leaves(source.problem, shift))
    except methods.DOMAIN_ERRORS:
        values = np.full(source.outputs.layout.size, np.nan)
    return np.asarray(pick(values), np.float64)


Analytic = Callable[[slice], tuple[Float64Array, Float64Array]]
"""``analytic(part)``: the analytic values of the rows ``part`` and the epsilon of each, as
:func:`gradcheck.check._analytic` reads them, both (rows, P)."""


def per_row(pb: methods.Problem, rows: Sequence[tuple[Any, Any]]) -> Analytic:
    """The rows' analytic values and epsilons read from their trees, one row at a time."""
    def of(part: slice) -> tuple[Float64Array, Float64Array]:
        pairs = [check._analytic(pb, tree, None) for _, tree in rows[part]]
        shape = (len(pairs), pb.layout.size)
        return (np.array([a for a, _ in pairs]).reshape(shape),
                np.array([e for _, e in pairs]).reshape(shape))
    return of


#: The probe's multiples ``j`` of its shift, as a column.
_J = np.array([[-2.0], [-1.0], [1.0], [2.0]])


def _exact(pb: methods.Problem, base: Float64Array, shift: Float64Array) -> BoolArray:
    """Where ``base + j shift`` is exact in x's dtypes for j = ±1, ±2: the test of
    ``methods._exact``, the four points rounded together."""
    moved = base + _J * shift
    back = np.empty_like(moved)
    for dtype, a, b in pb.layout.runs():
        back[:, a:b] = moved[:, a:b].astype(dtype)
    exact: BoolArray = (back - base == _J * shift).all(axis=0)
    return exact


def probe_shifts(pb: methods.Problem, eps: Float64Array) -> list[Float64Array]:
    """:func:`gradcheck.methods.probe_shifts` with the faster :func:`_exact`."""
    delta = 2.0 ** np.ceil(np.log2(methods.PROBE_STEP * eps * np.maximum(1.0, np.abs(pb.x_flat))))
    shifts = []
    for signs in _signs(pb.layout.size):
        shift = delta * signs
        shifts.append(np.where(_exact(pb, pb.x_flat, shift), shift, 0.0))
    return shifts


@functools.lru_cache(maxsize=8)
def _signs(size: int) -> tuple[Float64Array, ...]:
    """The probe's seeded ±1 directions for ``size`` coordinates (read-only, drawn once)."""
    rng = np.random.default_rng(methods.PROBE_SEED)
    out = tuple(rng.choice([-1.0, 1.0], size=size) for _ in range(methods.PROBE_DIRECTIONS))
    for signs in out:
        signs.flags.writeable = False
    return out


def probe(
    source: vector.VectorSource, pick: Picker, f0: Float64Array, eps: Float64Array,
    reach: Float64Array,
) -> Float64Array:
    """``σ_f`` of every component: :func:`gradcheck.methods.probe_noise`, all rows at once."""
    pb = source.problem
    worst = np.zeros(len(f0))
    for d, shift in enumerate(probe_shifts(pb, eps)):
        base = methods.rounded(pb, pb.x_flat + (-1.0) ** d * min(d, 1) * reach * np.sign(shift))
        shift = np.where(_exact(pb, base, shift), shift, 0.0)
        center = f0 if d == 0 else _value_at(source, pick, base - pb.x_flat)
        values = [_value_at(source, pick, base + j * shift - pb.x_flat) for j in (-2, -1, 1, 2)]
        d4 = methods.fourth_difference(values, center)
        finite = np.isfinite(d4)
        worst[finite] = np.maximum(worst[finite], np.abs(d4[finite]))
    out: Float64Array = methods.PROBE_SAFETY * worst / math.sqrt(70.0)
    return out


class _Shared:
    """What every row shares: the steps, the shifted points, f's noise model without σ_f."""

    def __init__(self, source: vector.VectorSource, step: Any, allowed: float) -> None:
        pb = self.pb = source.problem
        eps_f = source.outputs.eps
        self.noise: Noise = methods.noise_for(pb, eps_f, allowed)
        h = methods.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, step,
                                eps_floor=eps_f)
        confirm = methods.confirmation_steps(pb.method, h, pb.leaves, eps_floor=eps_f)
        self.reach = np.maximum(confirm, h)
        self.index = index = methods.all_coordinates(pb)
        full = np.zeros((2, pb.layout.size))
        full[:, index] = np.array([[1.0], [-1.0]]) * h[index]  # as numerical._sides
        self.hp, self.hm = methods.shifted_steps(pb.x_flat, pb.layout, full, only=index)[:, index]
        self.m = methods.scale(pb, index)
        self.float32 = bool(np.any(self.noise.eps > 1e-10))


def settle(
    source: vector.VectorSource, options: CheckOptions, allowed: float,
    rows: Sequence[tuple[vector.Component, Any]],
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
    except methods.DOMAIN_ERRORS:  # run_check shrinks the steps there, row by row
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
) -> methods.Estimate:
    """:func:`gradcheck.methods.central` of every row of a block, arrays (rows, P)."""
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
    nonsmooth = disagreement > methods.KINK_FACTOR * (half * f_max / m**2
                                                        + 4.0 * rounding / half)
    error = rounding / half + half**2 / 6.0 * third
    unused = np.empty(0)
    return methods.Estimate(
        value=(fp - fm) / (hp - hm), error=error, step=hp, f_max=f_max, nonsmooth=nonsmooth,
        suspect=nonsmooth, low=unused, high=unused, quotient_noise=unused, curvature=unused,
        n_evaluations=2 * p,
    )


def _block(
    shared: _Shared, picked: Float64Array, f0: Float64Array, sigma: Float64Array,
    rows_analytic: Analytic, part: slice,
    out: tuple[Float64Array, Float64Array, npt.NDArray[np.int8]],
) -> BoolArray:
    """The first pass of :func:`gradcheck.verdict.judge` on the rows ``part``."""
    pb, noise, m = shared.pb, shared.noise, shared.m
    analytic, eps_a = rows_analytic(part)
    eps_a = np.maximum(eps_a, noise.eps)
    est = _central(shared, picked, f0, sigma)
    numeric = est.value
    tolerance = verdict.model_tolerance(est, analytic, eps_a, m)
    fail = ~(np.abs(analytic - numeric) <= tolerance)
    size = np.maximum(np.abs(analytic), np.abs(numeric))
    size = np.where(np.isfinite(size), size, 0.0)
    gradient = size.max(axis=1, initial=0.0, keepdims=True)
    coarse = tolerance > verdict.COARSE * np.maximum(size, gradient)  # as verdict._coarse
    settled: BoolArray = ~(fail | est.suspect | coarse).any(axis=1)
    resolution = noise.resolution(shared.index) / est.step
    floor = np.maximum(np.maximum(est.f_max, sigma[:, None] / noise.eps) / m,
                       10.0 * verdict.SAFETY * resolution)
    out[0][settled], out[1][settled], out[2][settled] = numeric[settled], tolerance[settled], PASS
    # verdict.mark leaves a row of passes whose tolerances are all within their sizes as
    # it is: only the rows that may have an unresolved element are marked
    if noise.spread == 0.0:
        size = np.maximum(size, floor)
    may_open = (tolerance > np.maximum(size, gradient)).any(axis=1)
    passing = np.full(len(shared.index), PASS, np.int8)
    for i in np.flatnonzero(settled & may_open):
        out[2][i] = verdict.mark(
            passing, analytic[i], numeric[i], tolerance[i], floor=floor[i], method=pb.method,
            spread=noise.spread, float32=shared.float32,
        )[0]
    return settled


class Along:
    """``s ↦ f(x + Σ_j (s_j / h_j) m_j)``: f moved by the exact moves ``m_j`` per base step h_j.

    The checker's steps in ``s`` are ``2^k h_j`` (the base step, its confirmation levels), so
    ``s_j / h_j`` is a power of two and the move ``2^k m_j`` is exact; :func:`exact_moves` makes
    ``x + 2^k m_j`` representable as well, so no rounding of order ``ε |x|`` enters the point.
    """

    def __init__(self, f: Any, pb_x: Any, n: int) -> None:
        self._f = f
        self._x = pb_x.x_flat
        self._layout = pb_x.layout
        self._treedef = pb_x.treedef
        self._moves = np.zeros((n, pb_x.layout.size))  # until set: f at x (s = 0) only
        self._base = np.ones(n)

    def set_moves(self, moves: Float64Array, base: Float64Array) -> None:
        """Move x by ``moves[j]`` (rows) when ``s_j`` is the base step ``base[j]``."""
        self._moves, self._base = moves, base

    def __call__(self, s: Any, *args: Any) -> Any:
        flat = self._x + (np.asarray(s) / self._base) @ self._moves  # (P,) or (batch, P)
        batch = flat.shape[:-1]
        complex_input = np.iscomplexobj(flat)
        layout = self._layout
        leaves = [
            flat[..., a:b].reshape(batch + shape).astype(
                np.result_type(dtype, np.complex64) if complex_input else dtype)
            for a, b, shape, dtype in zip(layout.offsets[:-1], layout.offsets[1:],
                                          layout.shapes, layout.dtypes, strict=True)
        ]
        return self._f(tree.unflatten(self._treedef, leaves), *args)


#: Moves are exact for steps down to ``2^-EXACT_LEVELS`` base steps: the checker's finest is 1/4.
EXACT_LEVELS = 2


def exact_moves(pb_x: Any, wanted: Float64Array) -> Float64Array:
    """``wanted`` (n, P) rounded so that ``x + 2^k m`` is exact for ``k >= -EXACT_LEVELS``.

    Each coordinate's move is rounded to a multiple of ``2^(EXACT_LEVELS+1)`` spacings of
    ``x_k`` in its dtype: the sum stays on x_k's grid (or the coarser one above it, which the
    extra factor 2 covers) while the move is below ``|x_k|``; a larger move is rounded only
    relative to itself, at the dtype's ε.
    """
    grid = np.empty(pb_x.layout.size)
    for dtype, a, b in pb_x.layout.runs():
        grid[a:b] = np.spacing(np.abs(pb_x.x_flat[a:b]).astype(dtype)).astype(np.float64)
    grid *= 2.0 ** (EXACT_LEVELS + 1)
    moves: Float64Array = np.round(wanted / grid) * grid
    return moves


def diagnose_matrix(
    rows: Axis, cols: Axis, analytic: Float64Array, numeric: Float64Array,
    tolerance: Float64Array, status: npt.NDArray[np.int8], *, joiner: str = " wrt ",
) -> tuple[Finding, ...]:
    """:func:`gradcheck.diagnosis.diagnose_matrix` of the mismatches among the compared."""
    bad = status == report.MISMATCH
    return diagnosis.diagnose_matrix(rows, cols, analytic, numeric, tolerance, bad,
                                     bad | (status == PASS), joiner=joiner)


def _asymmetric(
    what: str, asym: Float64Array, allowed: Float64Array, status: npt.NDArray[np.int8]
) -> tuple[npt.NDArray[np.int8], tuple[Finding, ...], tuple[str, ...]]:
    """Mark the pairs beyond ``allowed`` as mismatches, with a finding, and a note either way."""
    over = asym > allowed
    note = f"{what} symmetric: max |asymmetry| {float(np.max(asym, initial=0.0)):.2e}"
    if not over.any():
        return status, (), (f"{what} is {note[len(what) + 1:]}",)
    status = status.copy()
    status[np.nonzero(over)] = report.MISMATCH
    finding = Finding(name="asymmetric", message=f"{what} is not symmetric beyond its "
                      f"tolerance at {int(over.sum())} elements", leaves=("all",),
                      evidence=MappingProxyType({"max_asymmetry": float(asym.max())}))
    return status, (finding,), (f"{what} is not {note[len(what) + 1:]}",)


def symmetry(
    rows: Axis, cols: Axis, analytic: Float64Array, numeric: Float64Array,
    tolerance: Float64Array, status: npt.NDArray[np.int8],
) -> tuple[npt.NDArray[np.int8], tuple[Finding, ...], tuple[str, ...]]:
    """A Hessian's elements whose transposed element differs by more than both tolerances."""
    del rows, cols, numeric
    asym = np.abs(analytic - analytic.T)
    return _asymmetric("the Hessian", asym, tolerance + tolerance.T, status)


def product_symmetry(
    t: Float64Array, hv: Float64Array, tolerance: Float64Array, status: npt.NDArray[np.int8],
) -> tuple[npt.NDArray[np.int8], tuple[Finding, ...], tuple[str, ...]]:
    """Hessian-vector products with ``tᵢ · H tⱼ = tⱼ · H tᵢ`` beyond the tolerances.

    ``t`` (n, P) holds the tangents, ``hv`` and ``tolerance`` (P, n) the products and their
    tolerances; a pair off is marked on both of its products' columns.
    """
    s = t @ hv  # (n, n): s[i, j] = tᵢ · H tⱼ
    bound = np.abs(t) @ tolerance
    asym, allowed = np.abs(s - s.T), bound + bound.T
    _, findings, notes = _asymmetric("⟨tᵢ, H tⱼ⟩", asym, allowed, status)
    over = (asym > allowed).any(axis=0)
    if over.any():
        status = status.copy()
        status[:, over] = report.MISMATCH
    return status, findings, notes


#: How much each outer method amplifies an error of the differenced values (the noise term of
#: its quotient over the step: central ``2e / 2h``, forward ``2e / h``, Richardson ``6.6 e / h``).
OUTER_GAIN = {"central": 1.0, "forward": 2.0, "richardson": 6.6}


@dataclass(frozen=True)
class InnerError:
    """The error bound of a numerical gradient's elements, which a Hessian's tolerance carries.

    Differencing a gradient whose element k is off by up to ``bound[k]`` (its rounding) moves
    the derivative along column j by up to ``gain · bound[k] / step_j``: that is added to the
    tolerance, so an element within it is no mismatch, and the note says what size of error
    the check resolves.
    """

    bound: Float64Array
    method: str

    def widen(
        self, outer_steps: Float64Array, analytic: Float64Array, numeric: Float64Array,
        tolerance: Float64Array, status: npt.NDArray[np.int8],
    ) -> tuple[Float64Array, npt.NDArray[np.int8], tuple[str, ...]]:
        """(tolerance, status, notes) with the inner error added; ``outer_steps`` per column."""
        extra = OUTER_GAIN[self.method] * self.bound[:, None] / outer_steps[None, :]
        tolerance = tolerance + extra
        status = status.copy()
        with np.errstate(invalid="ignore"):
            within = np.abs(analytic - numeric) <= tolerance
        status[(status == report.MISMATCH) & within] = report.PASS
        note = ("Without `grad`, the gradient is a finite difference of f: its rounding "
                f"(about {float(np.max(self.bound)):.1e}) is part of each tolerance, so the "
                f"check resolves errors above about {float(np.median(extra)):.1e} (at most "
                f"{float(np.max(extra)):.1e}); pass `grad` for a sharper check.")
        return tolerance, status, (note,)

