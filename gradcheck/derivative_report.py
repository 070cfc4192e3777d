"""The result of a Jacobian, VJP, JVP or Hessian check: both sides named, summary, report text.

A derivative check compares a matrix: one row per scalar function checked (an output element
of f, a cotangent's ``⟨ct, f(x)⟩``, a gradient element) and one column per direction (a
coordinate of x, or a tangent). An :class:`Axis` names the rows or the columns; an element reads
``f(x)['h'][2] wrt x['W'][0, 3]``.

Example
-------
>>> import numpy as np
>>> rows = Axis(("f(x)",), ((2,),))
>>> cols = Axis(("x",), ((1,),))
>>> result = build_derivative_result(
...     kind="jacobian", rows=rows, cols=cols, analytic=np.array([[1.0], [2.0]]),
...     numeric=np.array([[1.0], [2.5]]), tolerance=np.full((2, 1), 1e-9),
...     status=np.array([[0], [1]], np.int8), method="central", n_evaluations=18, seconds=0.0)
>>> bool(result), result.worst.name
(False, 'f(x)[1] wrt x[0]')
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from gradcheck import report
from gradcheck.diagnosis import Axis, Finding, format_findings
from gradcheck.report import METHOD_NAMES

__all__ = [
    "Axis", "BlockSummary", "DerivativeCheckResult", "DerivativeElement",
    "DerivativeMismatch", "build_derivative_result", "slip_fields", "slip_probability",
]

Float64Array = npt.NDArray[np.float64]
StatusArray = npt.NDArray[np.int8]
_KNOWN = (report.PASS, report.MISMATCH, report.UNVERIFIABLE, report.UNCHECKED)
_KINDS = {"jacobian": "Jacobian", "vjp": "VJP", "jvp": "JVP", "hessian": "Hessian"}


@dataclass(frozen=True)
class DerivativeElement:
    """One element of the derivative compared: both sides named, both values, the errors."""

    name: str
    """E.g. ``f(x)['h'][2] wrt x['W'][0, 3]``."""
    row: int
    col: int
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float
    tolerance: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return {k: _json(v) for k, v in dataclasses.asdict(self).items()}


class BlockSummary(NamedTuple):
    """The comparison over one block: one row leaf against one column leaf."""

    name: str
    """E.g. ``f(x)['h'] wrt x['W']``."""
    shape: tuple[int, ...]
    """``row leaf shape + column leaf shape``: the layout of ``jax.jacobian``."""
    n_mismatches: int
    n_unverifiable: int
    max_rel_error: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return {"name": self.name, "shape": list(self.shape), "n_mismatches": self.n_mismatches,
                "n_unverifiable": self.n_unverifiable,
                "max_rel_error": _json(self.max_rel_error)}


def _json(value: Any) -> Any:
    """Non-finite floats as strings, so that strict JSON accepts them."""
    return value if not isinstance(value, float) or math.isfinite(value) else str(value)


@dataclass(frozen=True, eq=False)
class DerivativeCheckResult:
    """The outcome of :func:`gradcheck.check_jacobian`, ``check_vjp``, ``check_jvp`` and others.

    ``bool(result)`` is ``result.passed``; ``str(result)`` is the report. The per-element
    matrices ``analytic``, ``numeric``, ``tolerance`` and ``status`` (read-only, shape
    ``(rows, cols)``) hold one row per scalar function checked and one column per direction;
    ``rows`` and ``cols`` name them. Status codes are those of :mod:`gradcheck.report`.
    """

    kind: str
    passed: bool
    method: str
    max_abs_error: float
    max_rel_error: float
    relative_difference: float
    worst: DerivativeElement | None
    blocks: tuple[BlockSummary, ...]
    mismatches: tuple[DerivativeElement, ...]
    n_mismatches: int
    unverifiable: tuple[DerivativeElement, ...]
    n_unverifiable: int
    n_unresolved: int
    """Elements with any other status of the scalar check (e.g. one its method could not
    resolve): they fail the check like mismatches."""
    unresolved: tuple[DerivativeElement, ...]
    """The first unresolved elements (at most ``report.N_LISTED``), in order."""
    n_evaluations: int
    """Calls of f (of the gradient, for a Hessian given with ``grad``)."""
    seconds: float
    rows: Axis
    cols: Axis
    analytic: Float64Array
    numeric: Float64Array
    tolerance: Float64Array
    status: StatusArray
    nondeterministic: bool = False
    nondeterminism: float = 0.0
    diagnosis: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    """Facts the report adds: the chance a wrong VJP slipped through, the Hessian's symmetry."""
    slip_probability: float | None = None
    """VJP and JVP with random directions: the largest chance that a wrong derivative whose
    error is 10 tolerances (in the directions' norm) passed every direction drawn."""
    unresolved_reason: str = ""
    """Why elements are unresolved, and which method would resolve them ("" when none is)."""

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return _render(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (per-element matrices left out)."""
        out: dict[str, Any] = {}
        skip = ("analytic", "numeric", "tolerance", "status", "rows", "cols")
        for field in dataclasses.fields(self):
            if field.name not in skip:
                out[field.name] = report._jsonable(getattr(self, field.name))
        out["shape"] = list(self.status.shape)
        return out


class DerivativeMismatch(report.GradientMismatch):
    """Raised by the assert forms of the derivative checks; the message is the report."""

    def __init__(self, result: DerivativeCheckResult) -> None:
        AssertionError.__init__(self, str(result))
        self.result = result  # type: ignore[assignment]


def _blocks(
    rows: Axis, cols: Axis, status: StatusArray, rel: Float64Array, checked: npt.NDArray[np.bool_],
    joiner: str,
) -> tuple[BlockSummary, ...]:
    """One summary per (row leaf, column leaf)."""
    out = []
    for i, (rname, rshape) in enumerate(zip(rows.names, rows.shapes, strict=True)):
        r0, r1 = rows.offsets[i], rows.offsets[i + 1]
        for j, (cname, cshape) in enumerate(zip(cols.names, cols.shapes, strict=True)):
            c0, c1 = cols.offsets[j], cols.offsets[j + 1]
            s, ok = status[r0:r1, c0:c1], checked[r0:r1, c0:c1]
            out.append(BlockSummary(
                name=f"{rname}{joiner}{cname}", shape=rshape + cshape,
                n_mismatches=int(np.sum(s == report.MISMATCH)),
                n_unverifiable=int(np.sum(s == report.UNVERIFIABLE)),
                max_rel_error=_max(rel[r0:r1, c0:c1][ok]),
            ))
    return tuple(out)


def _max(values: Float64Array) -> float:
    """Largest value, 0 for none."""
    return float(np.max(values)) if values.size else 0.0


def build_derivative_result(
    *, kind: str, rows: Axis, cols: Axis, analytic: Float64Array, numeric: Float64Array,
    tolerance: Float64Array, status: StatusArray, method: str, n_evaluations: int,
    seconds: float, **extra: Any,
) -> DerivativeCheckResult:
    """The result from (rows, cols) matrices; ``extra`` sets the optional fields."""
    abs_error, rel_error = report._errors(analytic.ravel(), numeric.ravel())
    ratio = report._ratio(abs_error, tolerance.ravel())
    flat = status.ravel()
    checked = (flat == report.PASS) | (flat == report.MISMATCH)
    joiner = " along " if kind == "jvp" else " wrt "
    arrays = (analytic.ravel(), numeric.ravel(), abs_error, rel_error, tolerance.ravel())
    width = status.shape[1]

    def element(k: int) -> DerivativeElement:
        r, c = divmod(k, width)
        a, n, e, rel, t = (float(arr[k]) for arr in arrays)
        return DerivativeElement(name=f"{rows.describe(r)}{joiner}{cols.describe(c)}", row=r,
                                 col=c, analytic=a, numeric=n, abs_error=e, rel_error=rel,
                                 tolerance=t)

    bad = np.flatnonzero(flat == report.MISMATCH)
    bad = bad[np.argsort(-ratio[bad], kind="stable")][: report.N_LISTED]
    odd = np.flatnonzero(flat == report.UNVERIFIABLE)[: report.N_LISTED]
    open_ = np.flatnonzero(~np.isin(flat, _KNOWN))[: report.N_LISTED]
    ranked = np.flatnonzero(checked)
    frozen = [np.array(m, dtype=d) for m, d in ((analytic, float), (numeric, float),
                                                 (tolerance, float), (status, np.int8))]
    for m in frozen:
        m.flags.writeable = False
    return DerivativeCheckResult(
        kind=kind,
        passed=not extra.get("nondeterministic", False) and not bool(np.any(
            (flat != report.PASS) & (flat != report.UNVERIFIABLE))),
        method=method,
        max_abs_error=_max(abs_error[checked]),
        max_rel_error=_max(rel_error[checked]),
        relative_difference=report._relative_difference(arrays[0][checked], arrays[1][checked]),
        worst=element(int(ranked[np.argmax(ratio[ranked])])) if ranked.size else None,
        blocks=_blocks(rows, cols, status, rel_error.reshape(status.shape),
                       checked.reshape(status.shape), joiner),
        mismatches=tuple(element(int(k)) for k in bad),
        n_mismatches=int(np.sum(flat == report.MISMATCH)),
        unverifiable=tuple(element(int(k)) for k in odd),
        n_unverifiable=int(np.sum(flat == report.UNVERIFIABLE)),
        n_unresolved=int(np.sum(~np.isin(flat, _KNOWN))),
        unresolved=tuple(element(int(k)) for k in open_),
        n_evaluations=n_evaluations, seconds=seconds, rows=rows, cols=cols,
        analytic=frozen[0], numeric=frozen[1], tolerance=frozen[2], status=frozen[3],
        **extra,
    )


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


def _render(r: DerivativeCheckResult) -> str:
    """The report: the verdict line, one row per block, the worst mismatches, the findings."""
    what, size = _KINDS[r.kind], r.status.size
    cost = f"{r.n_evaluations} evaluations, {r.seconds:.3g} s"
    if r.nondeterministic:
        lines = [f"FAILED: {what} not checked: two calls of f at the same x differed by "
                 f"{r.nondeterminism:.3g} ({cost})"]
        return "\n".join([*lines, *r.notes])
    odd = f", {r.n_unverifiable} not verifiable at this step" if r.n_unverifiable else ""
    odd += f", {r.n_unresolved} unresolved" if r.n_unresolved else ""
    verdict = "PASSED" if r.passed else "FAILED"
    count = f"{r.n_mismatches} of {size} elements mismatch" if not r.passed else f"{size} elements"
    method = METHOD_NAMES.get(r.method, r.method)
    lines = [f"{verdict}: {what}, {method}, {count}{odd}, max rel error "
             f"{r.max_rel_error:.2e}, relative difference {r.relative_difference:.2e}, {cost}"]
    width = max(len(b.name) for b in r.blocks)
    lines += [f"  {b.name.ljust(width)}  {b.shape!s:<14} max rel error {b.max_rel_error:.2e}"
              f"  mismatches {b.n_mismatches}" for b in r.blocks[:20]]
    if len(r.blocks) > 20:
        lines.append(f"  ... and {len(r.blocks) - 20} more blocks")
    if r.mismatches:
        lines.append(f"worst mismatches ({len(r.mismatches)} of {r.n_mismatches}):")
        w = max(len(e.name) for e in r.mismatches)
        lines += [f"  {e.name.ljust(w)}  analytic {e.analytic: .9e}  numeric {e.numeric: .9e}"
                  f"  |diff| {e.abs_error:.2e}  tolerance {e.tolerance:.2e}" for e in r.mismatches]
    lines += _unresolved_lines(r)
    if r.diagnosis:
        lines.append(format_findings(r.diagnosis))
    return "\n".join([*lines, *r.notes])


def _unresolved_lines(r: DerivativeCheckResult) -> list[str]:
    """The unresolved elements, with why and which method would resolve them."""
    if not r.n_unresolved:
        return []
    names = ", ".join(f"{e.name} (analytic {e.analytic:.3g}, tolerance {e.tolerance:.2g})"
                      for e in r.unresolved)
    more = r.n_unresolved - len(r.unresolved)
    lines = ["unresolved (an error of the element's size could not have been seen, see why): "
             f"{names}{f' and {more} more' if more else ''}"]
    return lines + ([f"  why: {r.unresolved_reason}"] if r.unresolved_reason else [])
