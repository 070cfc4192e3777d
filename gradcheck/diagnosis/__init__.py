"""Say why a gradient is wrong: simple mistakes that explain a failed check down to the noise.

`diagnose` compares the analytic and the numerical gradient leaf by leaf and names the mistakes
that leave a recognisable trace in the numbers: a constant factor, a multiple of the parameter
(weight decay missing, doubled, of the other convention, applied to biases), a transposed leaf,
a gradient written to the wrong leaf, a leaf never written, a few wrong elements, a constant
factor on the data term alone (the decay term right: the 1/m average missing), and where the
mismatch is confined (biases, weights, one layer). Network words (weight, bias, layer, decay,
the ½ of the squared error, the 1/m average) come only from the caller, through `Hints`, λ and
m; never from a leaf's name or shape. A finding is made only where removing its explanation
leaves every element within the checker's tolerance (up to `SLACK`); when any leaf that clearly
fails is left unexplained, nothing is said at all. Numpy only, vectorised per leaf.

Modules, one job each: `_parts` (`Hints`, the caller's words, checked against the leaves; the
leaves and the residual test, the shared context of named constants and candidates, `Finding`
and `format_findings`), `_patterns` (constant factors, multiples of the
parameter, localisation, structural mistakes, a factor on the data term only, and the
least-squares fits) and this package's `diagnose`, which tries them all. The derivative
checks' matrices (rows and columns named by an `Axis`) have their own patterns, tried by
`diagnose_matrix` here: a constant factor or sign, a transposed matrix, zero blocks, one wrong
element, row or column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.typing import ArrayLike

from gradcheck.diagnosis._parts import (
    SLACK,
    ElementNamer,
    Finding,
    Hints,
    _Candidate,
    _check_paths,
    _Context,
    _leaves,
    _Named,
    format_findings,
    name_of,
    resolve_hints,
)
from gradcheck.diagnosis._patterns import (
    _data_factor,
    _factor_table,
    _fitted_findings,
    _isolated,
    _isolated_finding,
    _linear,
    _localise,
    _multiple_table,
    _named_findings,
    _structural,
    _structural_findings,
)
from gradcheck.tree import element_name


def _explain(i: int, ctx: _Context) -> list[_Candidate]:
    """Explanations of leaf `i` (a clear miss): the most specific, or the fitted and isolated."""
    isolated = _isolated(i, ctx)
    if not np.all(np.isfinite(ctx.leaves[i].a)):
        return [] if isolated is None else [isolated]
    structural = _structural(i, ctx)
    if structural is not None:
        return [structural]
    linear = _linear(i, ctx)
    if linear and linear[0].named is not None:
        return linear
    return linear + ([] if isolated is None else [isolated])


def _merge(options: Sequence[Sequence[_Candidate]], ctx: _Context) -> list[Finding] | None:
    """Findings from the per-leaf explanations, most specific first; None if a leaf has none."""
    chosen = [opts[0] for opts in options if opts and opts[0].rank < 2]
    pending = [opts for opts in options if opts and opts[0].rank >= 2]
    fitted, done = _fitted_findings(pending, ctx)
    for opts in pending:
        if opts[0].leaf not in done:
            chosen.append(opts[-1])
    if len(chosen) + len(done) < len(options) or any(c.rank == 2 for c in chosen):
        return None
    groups: dict[tuple[str, _Named | None], list[_Candidate]] = {}
    for cand in chosen:
        groups.setdefault((cand.pattern, cand.named), []).append(cand)
    made: list[tuple[int, Finding]] = [(2, finding) for finding in fitted]
    for (pattern, _), group in groups.items():
        if pattern in ("factor", "multiple"):
            made += [(1, finding) for finding in _named_findings(group, ctx)]
        elif pattern == "isolated":
            made += [(3, finding) for finding in _isolated_finding(group, ctx)]
        else:
            made += [(0, finding) for finding in _structural_findings(group, ctx)]
    order = {leaf.path: i for i, leaf in enumerate(ctx.leaves)}
    made.sort(key=lambda row: (row[0], min(order[path] for path in row[1].leaves)))
    return [finding for _, finding in made]


def diagnose(
    paths: Sequence[str],
    analytic: Sequence[ArrayLike],
    numeric: Sequence[ArrayLike],
    tolerance: Sequence[ArrayLike],
    params: Sequence[ArrayLike] | None = None,
    *,
    weight_decay: float | None = None,
    n_examples: int | None = None,
    hints: Hints | Mapping[str, Any] | None = None,
) -> tuple[Finding, ...]:
    """Name the mistakes that explain a failed gradient check, down to the numerical noise.

    Parameters
    ----------
    paths : sequence of str
        One path per leaf, e.g. ``"[0].W"``, ``"[1].b"``, ``"['w']"``, ``""`` for a bare array.
    analytic, numeric : sequence of array_like
        The analytic and the numerical gradient, one array per leaf, leaf ``k`` of shape ``s_k``.
    tolerance : sequence of array_like
        The per-element absolute tolerance the checker used (broadcastable to ``s_k``, finite,
        >= 0): element ``j`` passes iff ``|analytic[k][j] - numeric[k][j]| <= tolerance[k][j]``.
    params : sequence of array_like, optional
        The parameter leaves x, shapes ``s_k``; needed for the multiple-of-the-parameter patterns.
    weight_decay : float, optional
        λ >= 0 of the cost; when given, decay findings name the constant (±λ, ±λ/m, ...).
    n_examples : int, optional
        m >= 1, the examples the cost averages over; names the factors m and 1/m, and λ/m.
    hints : Hints or mapping of its fields, optional
        The caller's words for the leaves: roles (weight, bias), layers, the loss, λ and m
        (see :class:`Hints`; λ and m given both here and above must agree). Leaf names in it
        are ``"x" + path``.

    Returns
    -------
    tuple of Finding
        Explanations, most specific first, then where the mismatch is confined; empty when the
        gradient passes or when no pattern explains every failing element.

    Raises
    ------
    TypeError
        A sequence argument that is not one, a non-real leaf, a non-number λ or a non-int m,
        `hints` not a Hints or a mapping of its fields.
    ValueError
        Leaf counts or shapes that differ, NaN or inf in `numeric` or `params`, a tolerance
        that is negative or not finite, λ < 0 or m < 1, a role other than weight or bias, a
        hinted leaf name that is not ``"x" + path`` of one of `paths`, λ or m given twice
        with two values.

    Notes
    -----
    An element fails when ``|a - n| > tol``; it is a *clear* miss when ``|a - n| > SLACK·tol``.
    A near miss (failing, not clear) is what noise does as easily as a bug: a leaf with only
    near misses needs no explanation, and with no clear miss anywhere nothing is said.

    Each leaf with a clear miss is explained by the first that holds of: zero (every
    ``|a| <= tol``); transposed (square, ``aᵀ ≈ n``); the numerical gradient of another leaf of
    its shape (``swapped`` when mutual, else ``other-leaf``); a constant factor ``a = c·n``; a
    multiple of the parameter ``a - n = c·x``; a few wrong elements (at most max(3, 5 %) of the
    leaf and at most half of it, all of them clear misses). ``c`` is the least-squares fit
    (``⟨a, n⟩/⟨n, n⟩``, ``⟨a - n, x⟩/⟨x, x⟩``, each term weighted by ``1/tol²`` so that leaves
    of different scales fit together), replaced by a named constant (2, ½, -1, m, 1/m; ±λ,
    ±λ/m, λ/m - λ, λ - λ/m on weights; λ, λ/m on biases) whenever that constant explains the
    leaf too. Leaves with fitted constants are merged while one refitted constant explains them
    all; a fitted constant must fix two clear misses or more, so that fitting one number never
    passes for an explanation.

    The residual rule: an explanation holds only if, once removed (``a/c``, ``a - c·x``, ``aᵀ``,
    the other leaf's numbers), every element of its leaves is within ``SLACK`` tolerances of n.
    Dividing by c puts the factor test in n's units: the tolerance is scaled by ``|c|``.
    ``SLACK = 2`` covers the error of a fitted c: for a relative tolerance ``tol = ρ|n|`` the
    weighted fit gives ``|c_fit - c| <= ρ|c|``, one more tolerance at most on each element. If
    any leaf with a clear miss is left unexplained, one more pattern is tried on all of them
    together (below); if it fails too, no finding is made at all. Otherwise the localisation
    follows, as far as the hints name roles and layers: only the biases, only the weights,
    only one layer (the first, the last), when every failing element lies there and other
    leaves exist.

    The data term scaled, the decay term right (``data-factor``): a backprop whose data term g
    is α× too large (the 1/m average missing: α = m; a missing ½: α = 2) but whose decay term
    c·x is right gives ``a = α·g + c·x = α·n + β·x`` on the weights, ``β = c(1 - α)``, and
    ``a = α·n`` on every other leaf (biases are never decayed); tried only with λ given or
    weights hinted (with λ and no roles, every leaf may carry the decay term). (α, β) is the
    joint weighted least-squares fit over the leaves with a clear miss; α must be a named
    factor (2, ½, -1, m, 1/m, or, when m is not given, m or 1/m for the whole m >= 3 nearest
    the fitted α: any other constant on the data term is also what an output δ off by a σ′
    alike in every example gives), and β is ``c(1 - α)`` for c = λ or λ/m when that explains the leaves too, else
    fitted. Its residual is ``(a - β·x)/α - n`` under the same rule, and each fitted constant
    must fix one more clear miss than it could fit alone.

    *Words.* Messages name leaves as reports do (``x[0].W``, ``x['a']``) and use network words
    only where the caller gave them, never guessed from a name or a shape: the ±λ, ±λ/m and
    convention multiples need λ, and apply to the leaves hinted as weights (written W) and
    biases (b), or to every leaf (written x) when λ is given without roles; the data-factor
    pattern needs λ or hinted weights; "only the weights/biases" needs roles, "only layer
    [1]" needs layers; m and 1/m need m; "a missing ½ in the squared error" needs the loss
    hinted ``"squared"``. Without them a factor is "a constant factor 2" and a multiple of
    the parameter is reported with its fitted c. A wrong or missing activation derivative
    leaves no such pattern and gets no finding. Cost: a few vectorised passes over each leaf
    with a clear miss, plus one per other leaf of its shape.

    Examples
    --------
    >>> import numpy as np
    >>> numeric = [np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([0.1, -0.3])]
    >>> analytic = [2 * numeric[0], numeric[1].copy()]
    >>> tolerance = [np.full((2, 2), 1e-8), np.full(2, 1e-8)]
    >>> findings = diagnose(["['a']", "['b']"], analytic, numeric, tolerance)
    >>> print(format_findings(findings))
    Diagnosis:
      - [constant-factor] the gradient of x['a'] is 2× the numerical one (residual 0.0e+00 ≤ tol): a constant factor 2
    >>> hints = Hints(roles={"x[0].W": "weight", "x[0].b": "bias"}, loss="squared")
    >>> findings = diagnose(["[0].W", "[0].b"], analytic, numeric, tolerance, hints=hints)
    >>> print(format_findings(findings))
    Diagnosis:
      - [constant-factor] the gradient of x[0].W is 2× the numerical one (residual 0.0e+00 ≤ tol): a missing ½ in the squared error?
      - [weights-only] only the weights are wrong (x[0].W); every bias passes
    >>> diagnose(["['a']", "['b']"], numeric, numeric, tolerance)
    ()
    """  # noqa: E501
    _check_paths(paths)
    return diagnose_named(
        paths, analytic, numeric, tolerance, params,
        resolve_hints(hints, paths, weight_decay=weight_decay, n_examples=n_examples),
    )  # fmt: skip


def _default_namer(paths: Sequence[str]) -> ElementNamer:
    """Elements named as reports name them: ``x<path>[index]``."""
    return lambda i, index: element_name(name_of(paths[i]), index)


def diagnose_named(
    paths: Sequence[str],
    analytic: Sequence[ArrayLike],
    numeric: Sequence[ArrayLike],
    tolerance: Sequence[ArrayLike],
    params: Sequence[ArrayLike] | None,
    hints: Hints,
    element: ElementNamer | None = None,
) -> tuple[Finding, ...]:
    """`diagnose` with checked hints, naming element ``index`` of leaf ``i`` ``element(i,
    index)`` (default ``x<path>[index]``): for leaves that are samples of the caller's."""
    leaves = _leaves(paths, analytic, numeric, tolerance, params, hints)
    clear = [i for i, leaf in enumerate(leaves) if leaf.clear.any()]
    if not clear:
        return ()  # every failing element is a near miss, which noise explains as well
    lam, m = hints.weight_decay, hints.n_examples
    multiples = {
        "weight": _multiple_table("weight", lam, m),
        "bias": _multiple_table("bias", lam, m),
        "other": () if hints.roles else _multiple_table("weight", lam, m, "x"),
    }  # without roles, λ may be on any leaf
    ctx = _Context(leaves, _factor_table(m, hints.loss), multiples, lam, m, hints,
                   element or _default_namer(paths))
    with np.errstate(all="ignore"):
        findings = _merge([_explain(i, ctx) for i in clear], ctx)
        if findings is None:
            findings = _data_factor(clear, ctx)
    return () if findings is None else (*findings, *_localise(ctx))


@dataclass(frozen=True)
class Axis:
    """Rows or columns of a derivative matrix: leaves named in full, with their shapes."""

    names: tuple[str, ...]
    """Each leaf's full name, e.g. ``"f(x)['h']"``, ``"x['W']"``, ``"t[0]"``."""
    shapes: tuple[tuple[int, ...], ...]

    @property
    def offsets(self) -> tuple[int, ...]:
        """Where each leaf starts in the flat axis, and the axis' size last."""
        return (0, *np.cumsum([math.prod(s) for s in self.shapes], dtype=int).tolist())

    def describe(self, k: int) -> str:
        """The name of element ``k`` of the axis, e.g. ``x['W'][0, 3]``."""
        offsets = self.offsets
        leaf = int(np.searchsorted(offsets[1:], k, side="right"))
        index = np.unravel_index(k - offsets[leaf], self.shapes[leaf])
        return element_name(self.names[leaf], tuple(int(i) for i in index))


# The patterns of a derivative matrix (check_jacobian, check_vjp, check_jvp, check_hessian).
# A pattern holds when, once removed, every checked element lies within SLACK tolerances of
# the numerical value; it is looked for only when some element misses by more than that (a
# *clear* miss). Tried in order: a constant factor (``a = c n``; ``c = -1`` is a sign error),
# a transposed Jacobian (``a = nᵀ``), zero blocks, one wrong element, one wrong row (one
# output), one wrong column (one input). A pattern of many elements needs several clear
# misses to be named (MIN_SUPPORT; a whole short row or column will do): with loose
# tolerances elsewhere, one or two misses fit almost any pattern, and a wrong hint is worse
# than none. A single clear miss is named as the element.

Float64Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

#: Clear misses needed before a pattern of many elements (factor, row, column) is named: one
#: or two misses fit almost any pattern when the other elements' tolerances are loose.
MIN_SUPPORT = 3
#: Factors named when they explain the mismatch as well as the fitted one.
NAMED_FACTORS = (-1.0, 2.0, 0.5, -2.0, -0.5)


def matrix_finding(name: str, message: str, subject: str, **evidence: float | str) -> Finding:
    """A Finding about ``subject`` of a derivative matrix."""
    return Finding(name=name, message=message, leaves=(subject,),
                   evidence=MappingProxyType(evidence))


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
            found.append(matrix_finding("zero-block", f"the block {name} is zero: its "
                                        "derivative is missing", name))
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
        return [matrix_finding("wrong-element", f"only {name} is wrong", name)]
    if len(r_hit) == 1 and rows.offsets[-1] > 1 and _supported(clear[r_hit[0]]):
        name = rows.describe(int(r_hit[0]))
        where = _within_leaves(cols, bad[r_hit[0]])
        return [matrix_finding("wrong-row", f"only the row of {name} is wrong{where} (one "
                               f"output: {int(clear.sum())} clear misses, all in it)", name)]
    if len(c_hit) == 1 and cols.offsets[-1] > 1 and _supported(clear[:, c_hit[0]]):
        name = cols.describe(int(c_hit[0]))
        where = _within_leaves(rows, bad[:, c_hit[0]])
        return [matrix_finding("wrong-column", f"only the column of {name} is wrong{where} "
                               f"(one input: {int(clear.sum())} clear misses, all in it)",
                               name)]
    return []


def diagnose_matrix(
    rows: Axis, cols: Axis, a: Float64Array, n: Float64Array, tol: Float64Array,
    bad: Mask, checked: Mask, *, joiner: str = " wrt ",
) -> tuple[Finding, ...]:
    """The findings that explain the mismatches of a (rows, cols) derivative matrix.

    ``bad`` marks the mismatching elements, ``checked`` those compared (passing or not).

    Examples
    --------
    >>> n = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> rows, cols = Axis(("f(x)",), ((2,),)), Axis(("x",), ((2,),))
    >>> bad = np.ones((2, 2), bool)
    >>> [f.name for f in diagnose_matrix(rows, cols, n.T, n, np.full((2, 2), 1e-9), bad, bad)]
    ['transposed']
    """
    with np.errstate(all="ignore"):
        clear = bad & ~(np.abs(a - n) <= SLACK * tol)
        if not clear.any():
            return ()
        n_clear = int(clear.sum())
        c = _factor(a, n, tol, checked) if n_clear >= MIN_SUPPORT else None
        if c is not None:
            name = "sign" if c == -1.0 else "constant-factor"
            what = "has the wrong sign" if c == -1.0 else f"is {c:.6g}× the numerical one"
            return (matrix_finding(name, f"the whole derivative {what}", "all", factor=c),)
        if (n_clear >= 2 and a.shape[0] == a.shape[1] and a.shape[0] > 1
                and _within(a.T - n, tol, checked)):
            return (matrix_finding("transposed", "the derivative is transposed: it holds J "
                                   "where Jᵀ belongs (or the reverse)", "all"),)
        lines = _lines(rows, cols, a - n, tol, clear, bad, joiner)
        if n_clear == 1 and lines:  # one miss: the element, not a block it happens to fill
            return tuple(lines)
        zero = _zero_blocks(rows, cols, a, tol, clear)
        return tuple(zero or lines)


__all__ = ["SLACK", "Axis", "Finding", "Hints", "diagnose", "diagnose_matrix", "format_findings"]

# The public names belong to this package: their reprs, pickles and doctests say so.
Finding.__module__ = diagnose.__module__ = format_findings.__module__ = __name__
Hints.__module__ = __name__
