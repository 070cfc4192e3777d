"""The engine of the derivative checks: one scalar check per row, over shared evaluations of f.

Each row of a derivative matrix (an output element of f, or ``⟨ct, f(x)⟩`` for a cotangent)
is checked by :func:`gradcheck.check.run_check`, the verdict of :func:`gradcheck.check_gradient`,
on a :class:`gradcheck.evaluators.vector.Component` whose evaluators are views of one
:class:`gradcheck.evaluators.vector.VectorSource`: a point is evaluated once for all rows.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import _first_pass, check, report, steps, tree
from gradcheck import steps as _problem
from gradcheck.derivative_report import Axis, DerivativeCheckResult, build_derivative_result
from gradcheck.diagnosis import Finding
from gradcheck.evaluators import factory
from gradcheck.evaluators import vector as _vector
from gradcheck.tree import OutputLayout

Float64Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Options(check.CheckOptions):
    """The keyword options every derivative check shares: the scalar check's (whose
    ``weight_decay``, ``n_examples`` and ``hints`` stay unset) and the evaluation's."""

    executor: Any = None
    vectorized: Any = False
    max_batch_bytes: Any = None

    def scalar(self) -> check.CheckOptions:
        """The options of the scalar check of one row."""
        return check.CheckOptions(**{f.name: getattr(self, f.name)
                                     for f in dataclasses.fields(check.CheckOptions)})

    def validate(self, pb: _problem.Problem) -> None:
        """The numeric options checked against the problem ``pb``, before f is first called."""
        check._explicit_tolerance(self.rtol, self.atol)
        self.allowed_spread()
        factory.options(vectorized=self.vectorized, executor=self.executor,
                            max_batch_bytes=self.max_batch_bytes)
        if self.step is not None:
            steps.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, self.step,
                                eps_floor=0.0)

    def allowed_spread(self) -> float:
        """``nondet_tol`` as a number (0 when not given)."""
        return 0.0 if self.nondet_tol is None else check._number("nondet_tol", self.nondet_tol)


class Start:
    """What every derivative check does first: validate, call f twice at x, start the clock."""

    def __init__(self, f: object, x: object, options: Options) -> None:
        self.clock = time.perf_counter()
        self.options = options
        self.x = x
        self.pb = _problem.prepare(f, x, options.args, options.method)
        options.validate(self.pb)
        self.allowed = options.allowed_spread()
        evaluation = factory.options(vectorized=options.vectorized,
                                         executor=options.executor,
                                         max_batch_bytes=options.max_batch_bytes)
        batch = evaluation.max_batch_bytes if evaluation.vectorized else None
        self.source = _vector.VectorSource(self.pb, evaluation.executor, batch)
        self.reasons: list[str] = []
        """Why the rows' unresolved elements are unresolved, each reason once, in order."""

    @staticmethod
    def validate(f: object, x: object, options: Options) -> _problem.Problem:
        """f, x, args and method checked, x flattened (no call of f)."""
        return _problem.prepare(f, x, options.args, options.method)

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
        self, rows: Sequence[tuple[_vector.Component, Any]],
        analytic: _first_pass.Analytic | None = None,
    ) -> tuple[Float64Array, Float64Array, npt.NDArray[np.int8]]:
        """(numeric, tolerance, status), each (rows, P): the scalar check of each row.

        :mod:`gradcheck._first_pass` settles the rows decided by the check's first step, all
        at once; the others run :func:`gradcheck.check.run_check` (same numbers either way).
        ``analytic`` gives the first pass the rows' analytic values without reading each tree.
        """
        n, p = len(rows), self.pb.layout.size
        numeric, tolerance = np.empty((n, p)), np.empty((n, p))
        status = np.empty((n, p), np.int8)
        scalar = self.options.scalar()
        # rows the first pass settles are those run_check would decide at its first step
        settled = _first_pass.settle(self.source, scalar, self.allowed, rows,
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


def float_tree(value: object, treedef: tree.TreeDef, name: str, ref: str,
               shapes: Sequence[tuple[int, ...]], paths: Sequence[str]) -> list[Any]:
    """The leaves of ``value``, checked to be float arrays with the structure and shapes of ref.

    TypeError naming ``name`` for another structure or a non-float leaf; ValueError naming
    the leaf and the expected shape.
    """
    raw = tree.flatten_like(value, treedef, name, ref)
    leaves = tree.float_leaves(raw, paths, name, strict=False)
    for leaf, path, shape in zip(leaves, paths, shapes, strict=True):
        if leaf.shape != shape:
            raise ValueError(f"`{name}{path}` has shape {leaf.shape}; `{ref}{path}` has shape "
                             f"{shape}, and `{name}{path}` must have it too")
    return leaves


def standard_normal_tree(
    rng: np.random.Generator, shapes: Sequence[tuple[int, ...]]
) -> list[Float64Array]:
    """Leaves of independent standard normal numbers, one per shape."""
    return [rng.standard_normal(shape) for shape in shapes]


def check_seed(seed: object) -> int | None:
    """``seed`` as None or an int >= 0, or TypeError/ValueError naming it."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"`seed` is {seed!r}; it must be None or an int >= 0")
    if seed < 0:
        raise ValueError(f"`seed` is {seed!r}; it must be None or an int >= 0")
    return int(seed)


def check_callable(name: str, value: object, signature: str) -> None:
    """TypeError naming ``name`` unless ``value`` is callable (``signature``: how it is called)."""
    if not callable(value):
        raise TypeError(f"`{name}` is {type(value).__name__}; it must be a callable "
                        f"{signature}")


def slip_probability(n_directions: int, factor: float = 10.0) -> float:
    """The largest chance that ``n`` standard normal directions all miss an error.

    An error of a linear map E seen along a standard normal direction d is normal with the
    norm of E's row as its scale; it stays within the tolerance ``τ`` with probability
    ``erf(τ / (σ √2))``, at most ``erf(1 / (factor √2))`` when ``σ >= factor τ``.
    """
    return float(math.erf(1.0 / (factor * math.sqrt(2.0))) ** n_directions)


def slip_fields(what: str, name: str, n: int) -> dict[str, Any]:
    """The ``slip_probability`` and its note, for ``n`` random directions named ``name``."""
    p = slip_probability(n)
    note = (f"A wrong {what} whose error is 10 tolerances (in the norm of a random direction) "
            f"passes all {n} random {name} with probability <= {p:.1e}.")
    return {"slip_probability": p, "notes": (note,)}


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
    finding = Finding("asymmetric", f"{what} is not symmetric beyond its tolerance at "
                      f"{int(over.sum())} elements", ("all",),
                      MappingProxyType({"max_asymmetry": float(asym.max())}))
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

