"""The result of a gradient check: verdict, per-parameter summary, worst elements, report text.

Example
-------
>>> import numpy as np
>>> result = build_result(
...     paths=("['w']",), shapes=((2,),), analytic=np.array([1.0, 2.0]),
...     numeric=np.array([1.0, 2.5]), tolerance=np.array([1e-9, 1e-9]),
...     status=np.array([PASS, MISMATCH], np.int8), method="central", n_evaluations=6,
...     seconds=0.001)
>>> bool(result), result.worst.name, result.n_mismatches
(False, "x['w'][1]", 1)
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from gradcheck.diagnosis import Finding, format_findings
from gradcheck.tree import element_name

__all__ = [
    "MISMATCH",
    "PASS",
    "UNCHECKED",
    "UNRESOLVED",
    "UNVERIFIABLE",
    "ElementError",
    "GradientCheckResult",
    "GradientMismatch",
    "LeafSummary",
    "Status",
    "build_result",
]

Float64Array = npt.NDArray[np.float64]
StatusArray = npt.NDArray[np.int8]

class Status(enum.IntEnum):
    """Per-element status codes in :attr:`GradientCheckResult.status` (int8 arrays).

    UNRESOLVED: the element's tolerance exceeds its own magnitude and the gradient's, so the
    check could not have seen an error of the element's size (see :mod:`gradcheck.verdict`).
    """

    PASS = 0
    MISMATCH = 1
    UNVERIFIABLE = 2
    UNCHECKED = 3
    UNRESOLVED = 4


# Plain ints, not members: numpy takes an IntEnum for an int64 scalar, not a Python int, and
# would widen the int8 status arrays that np.where builds from these.
PASS, MISMATCH, UNVERIFIABLE, UNCHECKED, UNRESOLVED = (int(code) for code in Status)
"""The :class:`Status` codes as plain ints, as the status arrays hold them."""

#: Relative errors are measured against at least this fraction of the largest |numeric|.
REL_FLOOR = 1e-8
#: How many mismatching (and unverifiable) elements the result keeps and the report lists.
N_LISTED = 10


@dataclass(frozen=True)
class ElementError:
    """One element of the gradient compared: where it is, both values, the errors."""

    path: str
    """Path of the leaf in ``x`` (``"[1].W"``; ``""`` for a bare array)."""
    index: tuple[int, ...]
    """Index of the element within its leaf."""
    analytic: float
    numeric: float
    abs_error: float
    """``|analytic - numeric|``."""
    rel_error: float
    """``abs_error / max(|analytic|, |numeric|, floor)``."""
    tolerance: float
    """The largest ``abs_error`` the check accepts for this element."""

    @property
    def name(self) -> str:
        """The element as written in reports, e.g. ``x[1].W[2, 3]``."""
        return element_name("x" + self.path, self.index)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        out: dict[str, Any] = {"name": self.name}
        for key, value in dataclasses.asdict(self).items():
            out[key] = _json_float(value) if isinstance(value, float) else value
        out["index"] = list(self.index)
        return out


class LeafSummary(NamedTuple):
    """The comparison summarised over one leaf (parameter array) of ``x``."""

    path: str
    shape: tuple[int, ...]
    size: int
    n_mismatches: int
    n_unverifiable: int
    max_abs_error: float
    """Over the verifiable elements (0 when there are none)."""
    max_rel_error: float
    worst_index: tuple[int, ...] | None
    """Index of the element closest to (or furthest past) its tolerance; None if none."""
    n_unresolved: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        out = self._asdict()
        out["shape"] = list(self.shape)
        out["worst_index"] = None if self.worst_index is None else list(self.worst_index)
        out["max_abs_error"] = _json_float(self.max_abs_error)
        out["max_rel_error"] = _json_float(self.max_rel_error)
        return out


def _json_float(value: float) -> float | str:
    """A float, or "nan"/"inf"/"-inf" so that strict JSON accepts it."""
    return value if math.isfinite(value) else str(value)


@dataclass(frozen=True, eq=False)
class GradientCheckResult:
    """The outcome of :func:`gradcheck.check_gradient`.

    ``bool(result)`` is ``result.passed``; ``str(result)`` is a short report. Errors are
    taken over the verifiable elements (status PASS or MISMATCH). Elements where f is not
    smooth within the step are *not verifiable* (status UNVERIFIABLE): they neither pass nor
    fail. Elements whose tolerance exceeds their own magnitude and the gradient's are
    *unresolved* (status UNRESOLVED): the check could not have seen an error of their size, so
    it does not pass. ``passed`` is True when there is no mismatch and nothing unresolved,
    whatever ``n_unverifiable``; ``resolution`` is then the smallest error it would have caught.
    The per-element arrays ``analytic``, ``numeric``, ``tolerance`` and ``status`` are tuples
    with one read-only array per leaf of ``x``, shaped like it, in the order of ``paths``.
    """

    passed: bool
    method: str
    max_abs_error: float
    max_rel_error: float
    relative_difference: float
    """``‖n - a‖ / ‖n + a‖`` over the verifiable elements (0 when both are zero)."""
    worst: ElementError | None
    """The element with the largest ``abs_error / tolerance``; None if none is verifiable."""
    leaves: tuple[LeafSummary, ...]
    mismatches: tuple[ElementError, ...]
    """The worst mismatches (at most 10), largest ``abs_error / tolerance`` first."""
    n_mismatches: int
    unverifiable: tuple[ElementError, ...]
    """The first elements that could not be verified (at most 10)."""
    n_unverifiable: int
    n_evaluations: int
    """Calls of f, including the two at x and any confirmation of failing elements."""
    seconds: float
    paths: tuple[str, ...]
    analytic: tuple[Float64Array, ...]
    numeric: tuple[Float64Array, ...]
    tolerance: tuple[Float64Array, ...]
    status: tuple[StatusArray, ...]
    tolerance_rule: str = "error model"
    """"error model", or the explicit ``rtol=..., atol=...`` that replaced it."""
    nondeterministic: bool = False
    """True when two calls of f at x differed by more than ``nondet_tol``: nothing checked."""
    nondeterminism: float = 0.0
    """``|f(x) - f(x)|`` over the two calls at x."""
    nondet_tol: float = 0.0
    diagnosis: tuple[Finding, ...] = ()
    """The mistakes that explain the mismatches (see :func:`gradcheck.diagnosis.diagnose`);
    empty when the check passed or when no known pattern explains them."""
    unresolved: tuple[ElementError, ...] = ()
    """The first elements the check could not resolve (at most 10)."""
    n_unresolved: int = 0
    unresolved_reason: str = ""
    """Why elements are unresolved, and which method or option would resolve them."""
    resolution: float = 0.0
    """The largest tolerance of a passing element: an error larger than this at any element
    would have been caught (0 when no element passed)."""

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return render(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (per-element arrays left out; non-finite floats as strings)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            if field.name in ("analytic", "numeric", "tolerance", "status"):
                continue
            out[field.name] = _jsonable(getattr(self, field.name))
        out["n_elements"] = int(sum(leaf.size for leaf in self.leaves))
        return out


def _jsonable(value: Any) -> Any:
    """``value`` with named tuples, tuples and floats turned into JSON-ready values."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    return str(value)


class GradientMismatch(AssertionError):
    """Raised by :func:`gradcheck.assert_gradient`; the message is the report."""

    def __init__(self, result: GradientCheckResult) -> None:
        super().__init__(str(result))
        self.result = result


def _errors(
    analytic: Float64Array, numeric: Float64Array
) -> tuple[Float64Array, Float64Array]:
    """Absolute and relative errors per element (see :class:`ElementError`)."""
    abs_error = np.abs(analytic - numeric)
    finite = np.abs(numeric[np.isfinite(numeric)])
    floor = REL_FLOOR * float(finite.max()) if finite.size else 0.0
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), max(floor, 1e-300))
    with np.errstate(invalid="ignore"):  # an infinite analytic value: inf / inf is NaN, as a NaN
        return abs_error, abs_error / scale


def _ratio(abs_error: Float64Array, tolerance: Float64Array) -> Float64Array:
    """``abs_error / tolerance`` with NaN as +inf (a NaN is the worst possible element)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = abs_error / tolerance
    ratio[np.isnan(ratio)] = np.inf
    ratio[(abs_error == 0) & (tolerance == 0)] = 0.0
    return ratio


def _element(
    k: int, paths: Sequence[str], shapes: Sequence[tuple[int, ...]], offsets: Sequence[int],
    arrays: tuple[Float64Array, ...],
) -> ElementError:
    """The ElementError of flat coordinate ``k``."""
    leaf = int(np.searchsorted(offsets[1:], k, side="right"))
    index = tuple(int(i) for i in np.unravel_index(k - offsets[leaf], shapes[leaf]))
    a, n, abs_e, rel_e, tol = (float(arr[k]) for arr in arrays)
    return ElementError(paths[leaf], index, a, n, abs_e, rel_e, tol)


def _max(values: Float64Array) -> float:
    """Largest value (NaN if any is NaN), 0 for an empty array."""
    return float(np.max(values)) if values.size else 0.0


def _relative_difference(analytic: Float64Array, numeric: Float64Array) -> float:
    """``‖n - a‖ / ‖n + a‖``, 0 when both vectors are zero."""
    den = float(np.linalg.norm(numeric + analytic))
    num = float(np.linalg.norm(numeric - analytic))
    return 0.0 if num == 0.0 else (num / den if den else math.inf)


def _leaf_summary(
    path: str, shape: tuple[int, ...], status: StatusArray, abs_error: Float64Array,
    rel_error: Float64Array, ratio: Float64Array,
) -> LeafSummary:
    """The summary of one leaf from its flat per-element arrays."""
    checked = (status == PASS) | (status == MISMATCH)
    worst = None
    if checked.any():
        k = int(np.flatnonzero(checked)[np.argmax(ratio[checked])])
        worst = tuple(int(i) for i in np.unravel_index(k, shape))
    return LeafSummary(
        path, shape, int(status.size), int(np.sum(status == MISMATCH)),
        int(np.sum(status == UNVERIFIABLE)), _max(abs_error[checked]),
        _max(rel_error[checked]), worst, int(np.sum(status == UNRESOLVED)),
    )


def _per_leaf(
    flat: npt.NDArray[Any], offsets: Sequence[int], shapes: Sequence[tuple[int, ...]]
) -> tuple[npt.NDArray[Any], ...]:
    """A flat (P,) array cut into read-only per-leaf arrays shaped like the leaves."""
    parts = tuple(
        flat[a:b].reshape(shape).copy()
        for a, b, shape in zip(offsets[:-1], offsets[1:], shapes, strict=True)
    )
    for part in parts:
        part.flags.writeable = False
    return parts


def build_result(
    *,
    paths: tuple[str, ...],
    shapes: tuple[tuple[int, ...], ...],
    analytic: Float64Array,
    numeric: Float64Array,
    tolerance: Float64Array,
    status: StatusArray,
    method: str,
    n_evaluations: int,
    seconds: float,
    **extra: Any,
) -> GradientCheckResult:
    """The result from flat (P,) per-element arrays in coordinate order (see ``tree.Layout``).

    ``extra`` sets the optional fields (``tolerance_rule``, ``nondeterministic``, ...).
    """
    offsets = [0, *np.cumsum([math.prod(s) for s in shapes]).tolist()]
    abs_error, rel_error = _errors(analytic, numeric)
    ratio = _ratio(abs_error, tolerance)
    checked = (status == PASS) | (status == MISMATCH)
    arrays = (analytic, numeric, abs_error, rel_error, tolerance)
    bad = np.flatnonzero(status == MISMATCH)
    bad = bad[np.argsort(-ratio[bad], kind="stable")][:N_LISTED]
    odd = np.flatnonzero(status == UNVERIFIABLE)[:N_LISTED]
    open_ = np.flatnonzero(status == UNRESOLVED)[:N_LISTED]
    passing = tolerance[status == PASS]
    ranked = np.flatnonzero(checked)
    worst = [int(ranked[np.argmax(ratio[ranked])])] if ranked.size else []
    leaves = tuple(
        _leaf_summary(p, s, status[a:b], abs_error[a:b], rel_error[a:b], ratio[a:b])
        for p, s, a, b in zip(paths, shapes, offsets[:-1], offsets[1:], strict=True)
    )

    def elements(ks: Sequence[int] | npt.NDArray[np.intp]) -> tuple[ElementError, ...]:
        return tuple(_element(int(k), paths, shapes, offsets, arrays) for k in ks)

    return GradientCheckResult(
        passed=not extra.get("nondeterministic", False)
        and not bool(np.any((status == MISMATCH) | (status == UNRESOLVED))),
        method=method,
        max_abs_error=_max(abs_error[checked]),
        max_rel_error=_max(rel_error[checked]),
        relative_difference=_relative_difference(analytic[checked], numeric[checked]),
        worst=elements(worst)[0] if worst else None,
        leaves=leaves,
        mismatches=elements(bad),
        n_mismatches=int(np.sum(status == MISMATCH)),
        unverifiable=elements(odd),
        n_unverifiable=int(np.sum(status == UNVERIFIABLE)),
        unresolved=elements(open_),
        n_unresolved=int(np.sum(status == UNRESOLVED)),
        resolution=_max(passing[np.isfinite(passing)]),
        n_evaluations=n_evaluations,
        seconds=seconds,
        paths=paths,
        analytic=_per_leaf(analytic, offsets, shapes),
        numeric=_per_leaf(numeric, offsets, shapes),
        tolerance=_per_leaf(tolerance, offsets, shapes),
        status=_per_leaf(status, offsets, shapes),
        **extra,
    )


# The text of a report (``str(result)``).

METHOD_NAMES = {
    "forward": "forward differences",
    "central": "central differences",
    "complex": "complex step",
    "richardson": "Richardson extrapolation",
}


def _plural(n: int, word: str) -> str:
    """``1 evaluation``, ``2 evaluations``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _verdict(r: GradientCheckResult) -> str:
    """The first line: PASSED/FAILED, method, errors, cost."""
    size = sum(leaf.size for leaf in r.leaves)
    method = METHOD_NAMES.get(r.method, r.method)
    cost = f"{_plural(r.n_evaluations, 'evaluation')} of f, {r.seconds:.3g} s"
    if r.nondeterministic:
        return (
            f"FAILED: f is not deterministic: two calls at the same x differed by "
            f"{r.nondeterminism:.3g} (nondet_tol={r.nondet_tol:.3g}); the gradient was not "
            f"checked ({cost})"
        )
    what = (
        f"{r.n_mismatches} of {_plural(size, 'element')} mismatch" if r.n_mismatches
        else _plural(size, "element")
    )
    open_ = f", {r.n_unresolved} unresolved" if r.n_unresolved else ""
    odd = f", {r.n_unverifiable} not verifiable at this step" if r.n_unverifiable else ""
    rule = "" if r.tolerance_rule == "error model" else f", tolerance {r.tolerance_rule}"
    return (
        f"{'PASSED' if r.passed else 'FAILED'}: {method}, {what}{open_}{odd}, max rel error "
        f"{r.max_rel_error:.2e}, relative difference {r.relative_difference:.2e}{rule}"
        f"{_resolution(r)}, {cost}"
    )


def _resolution(r: GradientCheckResult) -> str:
    """What a pass could have missed: the largest tolerance, absolute and over the gradient."""
    if not r.passed:
        return ""
    finite = [np.abs(a[np.isfinite(a)]) for a in r.analytic]
    top = max((float(a.max(initial=0.0)) for a in finite), default=0.0)
    relative = f" ({r.resolution / top:.1e} of the gradient's max-norm)" if top > 0 else ""
    return f", resolution {r.resolution:.2e}{relative}"


def _table(r: GradientCheckResult) -> list[str]:
    """One row per leaf of x."""
    head = ("parameter", "shape", "max rel error", "mismatches", "not verifiable", "unresolved")
    rows = [
        (
            "x" + leaf.path,
            str(leaf.shape),
            f"{leaf.max_rel_error:.2e}",
            f"{leaf.n_mismatches}/{leaf.size}",
            str(leaf.n_unverifiable),
            str(leaf.n_unresolved),
        )
        for leaf in r.leaves
    ]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    return [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [head, *rows]
    ]


def _mismatches(r: GradientCheckResult) -> list[str]:
    """The worst mismatching elements, one line each."""
    if not r.mismatches:
        return []
    width = max(len(e.name) for e in r.mismatches)
    lines = [f"worst mismatches ({len(r.mismatches)} of {r.n_mismatches}):"]
    lines += [
        f"  {e.name.ljust(width)}  analytic {e.analytic: .9e}  numeric {e.numeric: .9e}  "
        f"|diff| {e.abs_error:.2e}  tolerance {e.tolerance:.2e}"
        for e in r.mismatches
    ]
    return lines


def _unverifiable(r: GradientCheckResult) -> list[str]:
    """The elements where f is not smooth within the step."""
    if not r.unverifiable:
        return []
    names = ", ".join(e.name for e in r.unverifiable)
    more = f" and {r.n_unverifiable - len(r.unverifiable)} more" if (
        r.n_unverifiable > len(r.unverifiable)
    ) else ""
    return [
        "not verifiable at this step (f is not smooth within the step, e.g. a kink, or the "
        f"finite differences cannot settle it): {names}{more}"
    ]


def _unresolved(r: GradientCheckResult) -> list[str]:
    """The elements the check could not resolve, with why and what would."""
    if not r.unresolved:
        return []
    names = ", ".join(
        f"{e.name} (analytic {e.analytic:.3g}, tolerance {e.tolerance:.2g})" for e in r.unresolved
    )
    more = f" and {r.n_unresolved - len(r.unresolved)} more" if (
        r.n_unresolved > len(r.unresolved)
    ) else ""
    return [
        "unresolved (an error of the element's size could not have been seen, see why): "
        f"{names}{more}",
        f"  why: {r.unresolved_reason}",
    ]


def render(r: GradientCheckResult) -> str:
    """The whole report."""
    lines = [_verdict(r)]
    if not r.nondeterministic:
        lines += _table(r) + _mismatches(r) + _unresolved(r) + _unverifiable(r)
    if r.diagnosis:
        lines.append(format_findings(r.diagnosis))
    return "\n".join(lines)
