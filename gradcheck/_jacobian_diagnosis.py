"""Patterns that explain a failed derivative-matrix check, down to the numerical noise.

A pattern holds when, once removed, every checked element lies within ``SLACK`` tolerances
of the numerical value (the residual rule of :mod:`gradcheck.diagnosis`); it is looked for only
when some element misses by more than that (a *clear* miss). Tried in order: a constant factor
(``a = c n``; ``c = -1`` is a sign error), a transposed Jacobian (``a = nᵀ``), zero blocks,
one wrong element, one wrong row (one output), one wrong column (one input). A pattern of many
elements needs several clear misses to be named (``MIN_SUPPORT``; a whole short row or column
will do): with loose tolerances elsewhere, one or two misses fit almost any pattern, and a
wrong hint is worse than none. A single clear miss is named as the element.

Example
-------
>>> import numpy as np
>>> from gradcheck.derivative_report import Axis
>>> n = np.array([[1.0, 2.0], [3.0, 4.0]])
>>> rows, cols = Axis(("f(x)",), ((2,),)), Axis(("x",), ((2,),))
>>> status = np.ones((2, 2), np.int8)
>>> [f.name for f in diagnose_matrix(rows, cols, n.T, n, np.full((2, 2), 1e-9), status)]
['transposed']
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from gradcheck.derivative_report import Axis
from gradcheck.diagnosis import Finding
from gradcheck.report import MISMATCH, PASS

Float64Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

#: A residual within this many tolerances is explained (as in gradcheck.diagnosis).
SLACK = 2.0
#: Clear misses needed before a pattern of many elements (factor, row, column) is named: one
#: or two misses fit almost any pattern when the other elements' tolerances are loose.
MIN_SUPPORT = 3
#: Factors named when they explain the mismatch as well as the fitted one.
NAMED_FACTORS = (-1.0, 2.0, 0.5, -2.0, -0.5)


def _finding(name: str, message: str, subject: str, **evidence: float | str) -> Finding:
    """A Finding about ``subject``."""
    return Finding(name, message, (subject,), MappingProxyType(evidence))


def _within(residual: Float64Array, tol: Float64Array, checked: Mask) -> bool:
    """Whether every checked element's residual is within SLACK tolerances."""
    return bool(np.all(np.abs(residual[checked]) <= SLACK * tol[checked]))


def _factor(a: Float64Array, n: Float64Array, tol: Float64Array, checked: Mask) -> float | None:
    """The constant c with ``a = c n`` within the noise (a named one when it fits), or None."""
    w = 1.0 / np.maximum(tol[checked], 1e-300) ** 2
    den = float(np.sum(w * n[checked] ** 2))
    if den == 0.0:
        return None
    fitted = float(np.sum(w * a[checked] * n[checked])) / den
    for c in (*NAMED_FACTORS, fitted):
        if c != 0.0 and _within(a / c - n, tol / abs(c), checked):
            return c
    return None


def _blocks(rows: Axis, cols: Axis) -> list[tuple[str, slice, slice]]:
    """(name, row slice, column slice) of every block."""
    return [
        (f"{rn} wrt {cn}", slice(rows.offsets[i], rows.offsets[i + 1]),
         slice(cols.offsets[j], cols.offsets[j + 1]))
        for i, rn in enumerate(rows.names) for j, cn in enumerate(cols.names)
    ]


def _zero_blocks(
    rows: Axis, cols: Axis, a: Float64Array, tol: Float64Array, clear: Mask
) -> list[Finding]:
    """Blocks with a clear miss whose analytic values are all zero, if they hold every miss."""
    found, covered = [], np.zeros_like(clear)
    for name, r, c in _blocks(rows, cols):
        if clear[r, c].any() and np.all(np.abs(a[r, c]) <= tol[r, c]):
            covered[r, c] = True
            found.append(_finding("zero-block", f"the block {name} is zero: its derivative is "
                                  "missing", name))
    return found if found and not np.any(clear & ~covered) else []


def _supported(line: Mask) -> bool:
    """Whether a row's or column's clear misses support calling the whole line wrong.

    MIN_SUPPORT of them, or every element of a shorter line (at least two).
    """
    n = int(line.sum())
    return n >= MIN_SUPPORT or (n >= 2 and n == line.size)


def _within_leaves(axis: Axis, line: Mask) -> str:
    """`` (in its x['v'] block)`` when the misses of a line lie in one leaf of a many-leaf axis."""
    if len(axis.names) < 2:
        return ""
    leaves = {int(np.searchsorted(axis.offsets[1:], k, side="right"))
              for k in np.flatnonzero(line)}
    return f", in its {axis.names[leaves.pop()]} block" if len(leaves) == 1 else ""


def _lines(
    rows: Axis, cols: Axis, residual: Float64Array, tol: Float64Array, clear: Mask,
    bad: Mask, joiner: str,
) -> list[Finding]:
    """One wrong element, one wrong row or one wrong column, when every miss lies there."""
    r_hit, c_hit = np.flatnonzero(bad.any(axis=1)), np.flatnonzero(bad.any(axis=0))
    if len(r_hit) == 1 and len(c_hit) == 1:
        name = f"{rows.describe(int(r_hit[0]))}{joiner}{cols.describe(int(c_hit[0]))}"
        return [_finding("wrong-element", f"only {name} is wrong", name)]
    if len(r_hit) == 1 and rows.offsets[-1] > 1 and _supported(clear[r_hit[0]]):
        name = rows.describe(int(r_hit[0]))
        where = _within_leaves(cols, bad[r_hit[0]])
        return [_finding("wrong-row", f"only the row of {name} is wrong{where} (one output: "
                         f"{int(clear.sum())} clear misses, all in it)", name)]
    if len(c_hit) == 1 and cols.offsets[-1] > 1 and _supported(clear[:, c_hit[0]]):
        name = cols.describe(int(c_hit[0]))
        where = _within_leaves(rows, bad[:, c_hit[0]])
        return [_finding("wrong-column", f"only the column of {name} is wrong{where} (one "
                         f"input: {int(clear.sum())} clear misses, all in it)", name)]
    return []


def diagnose_matrix(
    rows: Axis, cols: Axis, a: Float64Array, n: Float64Array, tol: Float64Array,
    status: npt.NDArray[np.int8], *, joiner: str = " wrt ",
) -> tuple[Finding, ...]:
    """The findings that explain the mismatches of a (rows, cols) derivative matrix."""
    bad = status == MISMATCH
    checked = bad | (status == PASS)
    with np.errstate(all="ignore"):
        clear = bad & ~(np.abs(a - n) <= SLACK * tol)
        if not clear.any():
            return ()
        n_clear = int(clear.sum())
        c = _factor(a, n, tol, checked) if n_clear >= MIN_SUPPORT else None
        if c is not None:
            name = "sign" if c == -1.0 else "constant-factor"
            what = "has the wrong sign" if c == -1.0 else f"is {c:.6g}× the numerical one"
            return (_finding(name, f"the whole derivative {what}", "all", factor=c),)
        if (n_clear >= 2 and a.shape[0] == a.shape[1] and a.shape[0] > 1
                and _within(a.T - n, tol, checked)):
            return (_finding("transposed", "the derivative is transposed: it holds J where "
                             "Jᵀ belongs (or the reverse)", "all"),)
        lines = _lines(rows, cols, a - n, tol, clear, bad, joiner)
        if n_clear == 1 and lines:  # one miss: the element, not a block it happens to fill
            return tuple(lines)
        zero = _zero_blocks(rows, cols, a, tol, clear)
        return tuple(zero or lines)
