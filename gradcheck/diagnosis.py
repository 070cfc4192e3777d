"""Say why a gradient is wrong: simple mistakes that explain a failed check down to the noise.

`diagnose` compares the analytic and the numerical gradient leaf by leaf and names the mistakes
that leave a recognisable trace in the numbers: a constant factor, a multiple of the parameter
(weight decay missing, doubled, of the other convention, applied to biases), a transposed leaf,
a gradient written to the wrong leaf, a leaf never written, a few wrong elements, and where the
mismatch is confined (biases, weights, one layer). A finding is made only where removing its
explanation leaves every element within the checker's tolerance (up to `SLACK`); when any leaf
that clearly fails is left unexplained, nothing is said at all. Numpy only, vectorised per leaf.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["SLACK", "Finding", "diagnose", "format_findings"]

Array: TypeAlias = NDArray[np.float64]
EvidenceValue: TypeAlias = "float | int | str"
_Fit: TypeAlias = "tuple[float, float]"  # worst residual, worst residual / tolerance

SLACK = 2.0
"""Allowed residual, in tolerances, after an explanation is removed (see `diagnose`, Notes)."""

_LISTED = 5
_LAST_NAME = re.compile(r"(?:\.(\w+)|\[\s*(['\"])(.*?)\2\s*\])$")
_WEIGHT_NAME = re.compile(r"(?:w|weights?|kernel)\d*", re.IGNORECASE)
_BIAS_NAME = re.compile(r"(?:b|bias|biases)\d*", re.IGNORECASE)
_LAYER = re.compile(r"\[(\d+)\]")


class Finding(NamedTuple):
    """One explanation of a failed gradient check.

    Attributes
    ----------
    name : str
        Short pattern name, e.g. ``"constant-factor"``, ``"decay-missing"``, ``"transposed"``.
    message : str
        One sentence for a person.
    leaves : tuple of str
        Paths of the leaves concerned, e.g. ``("[0].W", "[1].W")``.
    evidence : Mapping
        The numbers behind the finding, e.g. ``{"factor": 2.0, "residual": 3e-12}`` (read-only).
    """

    name: str
    message: str
    leaves: tuple[str, ...]
    evidence: Mapping[str, EvidenceValue]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict: name, message, leaves (a list) and evidence (a dict)."""
        return {
            "name": self.name,
            "message": self.message,
            "leaves": list(self.leaves),
            "evidence": {
                key: value if not isinstance(value, float) or np.isfinite(value) else str(value)
                for key, value in self.evidence.items()
            },
        }


class _Leaf(NamedTuple):
    path: str
    a: Array  # analytic
    n: Array  # numeric
    tol: Array  # per-element absolute tolerance, broadcast to the leaf's shape
    x: Array  # the parameter; zeros when `params` is not given (no multiple then fits)
    kind: str  # "weight", "bias" or "other"
    layer: int | None
    failing: NDArray[np.bool_]  # |a − n| > tol (or NaN)
    clear: NDArray[np.bool_]  # |a − n| > SLACK·tol: more than a near miss
    fit_weight: Array  # 1/tol² up to one common scale: the least-squares weights


class _Named(NamedTuple):
    value: float
    name: str  # the finding's name
    label: str  # how the constant is written
    hint: str
    convention: str


class _Candidate(NamedTuple):
    rank: int  # 0 structural, 1 named constant, 2 fitted constant, 3 isolated elements
    pattern: str  # "zero", "transposed", "other-leaf", "factor", "multiple", "isolated"
    leaf: int
    c: float = 0.0
    named: _Named | None = None
    partner: int = -1
    fit: _Fit = (0.0, 0.0)


class _Context(NamedTuple):
    leaves: tuple[_Leaf, ...]
    factors: tuple[_Named, ...]
    multiples: Mapping[str, tuple[_Named, ...]]
    weight_decay: float | None
    n_examples: int | None


def _leaf_kind(path: str, ndim: int) -> str:
    """Kind from the path's last name (W/w/weight(s)/kernel, b/bias(es)), else 2-D/1-D."""
    match = _LAST_NAME.search(path)
    name = "" if match is None else (match.group(1) or match.group(3))
    if _WEIGHT_NAME.fullmatch(name):
        return "weight"
    if _BIAS_NAME.fullmatch(name):
        return "bias"
    return {2: "weight", 1: "bias"}.get(ndim, "other")


def _arrays(name: str, values: Sequence[ArrayLike], count: int) -> list[Array]:
    """The leaves of one argument as float64 arrays, after checking their number and dtype."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        kind = type(values).__name__
        raise TypeError(f"`{name}` must be a sequence of arrays, one per leaf; got {kind}")
    if len(values) != count:
        raise ValueError(f"`{name}` has {len(values)} leaves; `paths` has {count}")
    arrays = []
    for i, value in enumerate(values):
        array = np.asarray(value)
        if array.dtype.kind not in "fiu":
            raise TypeError(f"`{name}[{i}]` must be a real array; got dtype {array.dtype}")
        arrays.append(np.asarray(array, dtype=np.float64))  # read only: never written to
    return arrays


def _check_leaf(i: int, path: str, a: Array, n: Array, t: Array, x: Array | None) -> Array:
    """Check one leaf's shapes and values; return its tolerance broadcast to the leaf."""
    where = f"(leaf {path!r})"
    for name, other in (("numeric", n), ("params", x)):
        if other is not None and other.shape != a.shape:
            raise ValueError(
                f"`{name}[{i}]` {where} has shape {other.shape}; `analytic[{i}]` has {a.shape}"
            )
    try:
        tol = np.broadcast_to(t, a.shape)
    except ValueError:
        raise ValueError(
            f"`tolerance[{i}]` {where} has shape {t.shape}, which does not broadcast to {a.shape}"
        ) from None
    if not np.all(np.isfinite(tol) & (tol >= 0)):
        raise ValueError(f"`tolerance[{i}]` {where} must be finite and >= 0")
    for name, values in (("numeric", n), ("params", x)):
        if values is not None and not np.all(np.isfinite(values)):
            raise ValueError(f"`{name}[{i}]` {where} holds NaN or inf")
    return tol


def _leaves(
    paths: Sequence[str],
    analytic: Sequence[ArrayLike],
    numeric: Sequence[ArrayLike],
    tolerance: Sequence[ArrayLike],
    params: Sequence[ArrayLike] | None,
) -> tuple[_Leaf, ...]:
    """Validate the arguments and gather them per leaf."""
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Sequence):
        raise TypeError(f"`paths` must be a sequence of str; got {type(paths).__name__}")
    if not all(isinstance(path, str) for path in paths):
        raise TypeError("`paths` must hold only str")
    count = len(paths)
    a_s, n_s = _arrays("analytic", analytic, count), _arrays("numeric", numeric, count)
    t_s = _arrays("tolerance", tolerance, count)
    x_s = None if params is None else _arrays("params", params, count)
    tols = [
        _check_leaf(i, path, a, n, t, None if x_s is None else x_s[i])
        for i, (path, a, n, t) in enumerate(zip(paths, a_s, n_s, t_s, strict=True))
    ]
    top = max((float(tol.max(initial=0.0)) for tol in tols), default=0.0)
    leaves = []
    for i, (path, a, n, tol) in enumerate(zip(paths, a_s, n_s, tols, strict=True)):
        layer = _LAYER.search(path)
        weight = (top / np.maximum(tol, 1e-12 * top)) ** 2 if top > 0 else np.ones_like(a)
        leaves.append(
            _Leaf(
                path,
                a,
                n,
                tol,
                np.zeros_like(a) if x_s is None else x_s[i],
                _leaf_kind(path, a.ndim),
                None if layer is None else int(layer.group(1)),
                ~(np.abs(a - n) <= tol),
                ~(np.abs(a - n) <= SLACK * tol),
                weight,
            )
        )
    return tuple(leaves)


def _distinct(rows: Sequence[_Named], m: int | None) -> tuple[_Named, ...]:
    """Drop zero constants; of two with one value (m = 1 or 2), keep the first, with both hints."""
    table: list[_Named] = []
    for row in rows:
        same = [
            i
            for i, kept in enumerate(table)
            if abs(kept.value - row.value) <= 1e-12 * abs(row.value)
        ]
        if same:
            kept = table[same[0]]
            table[same[0]] = kept._replace(hint=f"{kept.hint} (or, as m = {m}: {row.hint})")
        elif row.value != 0:
            table.append(row)
    return tuple(table)


def _factor_table(m: int | None) -> tuple[_Named, ...]:
    """Named factors a = c·n: the usual slips of a loss or an average."""
    table = [
        _Named(2.0, "constant-factor", "2", "a missing ½ in the squared error?", ""),
        _Named(0.5, "constant-factor", "½", "an extra ½, or a dropped 2?", ""),
        _Named(-1.0, "constant-factor", "-1", "a sign flip", ""),
    ]
    if m is not None and m > 1:
        table += [
            _Named(float(m), "constant-factor", "m", f"the 1/m average is missing (m = {m})?", ""),
            _Named(1 / m, "constant-factor", "1/m", f"averaged twice (m = {m})?", ""),
        ]
    return _distinct(table, m)


_WEIGHT_MULTIPLES = (  # c = p·λ + q·λ/m: (p, q, name, label, hint, convention)
    (-1, 0, "decay-missing", "-λ", "the weight-decay term λW is missing", "ufldl"),
    (0, -1, "decay-missing", "-λ/m", "the weight-decay term (λ/m)W is missing", "coursera"),
    (1, 0, "decay-doubled", "+λ", "the weight-decay term λW is added twice", "ufldl"),
    (0, 1, "decay-doubled", "+λ/m", "the weight-decay term (λ/m)W is added twice", "coursera"),
    (-1, 1, "decay-convention", "(λ/m - λ)",
     "the gradient uses (λ/m)W (course notes) but the cost (λ/2)ΣW² (tutorial)", "mixed"),
    (1, -1, "decay-convention", "(λ - λ/m)",
     "the gradient uses λW (tutorial) but the cost (λ/(2m))ΣW² (course notes)", "mixed"),
)  # fmt: skip
_BIAS_MULTIPLES = (
    (1, 0, "bias-decay", "+λ", "the biases are decayed with λb, but bias is never decayed",
     "ufldl"),
    (0, 1, "bias-decay", "+λ/m", "the biases are decayed with (λ/m)b, but bias is never decayed",
     "coursera"),
)  # fmt: skip


def _multiple_table(kind: str, lam: float | None, m: int | None) -> tuple[_Named, ...]:
    """Named multiples a − n = c·x of the parameter: weight decay gone wrong."""
    if lam is None or kind == "other":
        return ()
    rows = [
        _Named(p * lam + (0.0 if m is None else q * lam / m), name, label, hint, convention)
        for p, q, name, label, hint, convention in (
            _BIAS_MULTIPLES if kind == "bias" else _WEIGHT_MULTIPLES
        )
        if q == 0 or m is not None
    ]
    return _distinct(rows, m)


def _within(dev: Array, tol: Array) -> _Fit | None:
    """(worst residual, worst residual/tol) when every residual is ≤ SLACK·tol, else None."""
    if not np.all(dev <= SLACK * tol):
        return None
    ratio = np.divide(dev, tol, out=np.zeros_like(dev), where=tol > 0)
    return float(dev.max(initial=0.0)), float(ratio.max(initial=0.0))


def _residual(leaf: _Leaf, pattern: str, c: float) -> Array:
    """|a' − n| once the explanation is removed: a' = a/c (factor) or a − c·x (multiple)."""
    if pattern == "factor":
        return np.abs(leaf.a / c - leaf.n)
    return np.abs(leaf.a - c * leaf.x - leaf.n)


def _check(leaves: Sequence[_Leaf], pattern: str, c: float) -> _Fit | None:
    """The worst residual and ratio of `pattern` with constant `c` over `leaves`, or None."""
    worst = (0.0, 0.0)
    for leaf in leaves:
        fit = _within(_residual(leaf, pattern, c), leaf.tol)
        if fit is None:
            return None
        worst = (max(worst[0], fit[0]), max(worst[1], fit[1]))
    return worst


def _fit(leaves: Sequence[_Leaf], pattern: str) -> float | None:
    """Weighted least-squares c of a ≈ c·n (factor) or a − n ≈ c·x (multiple); None if void."""
    num = den = 0.0
    for leaf in leaves:
        target, regressor = (leaf.a, leaf.n) if pattern == "factor" else (leaf.a - leaf.n, leaf.x)
        weight, regressor = leaf.fit_weight.ravel(), regressor.ravel()  # einsum: no BLAS threads
        num += float(np.einsum("i,i,i->", weight, target.ravel(), regressor))
        den += float(np.einsum("i,i,i->", weight, regressor, regressor))
    c = num / den if den > 0 else 0.0
    return c if np.isfinite(c) and c != 0 else None


def _probe(leaf: _Leaf, pattern: str) -> _Leaf:
    """Two elements of `leaf`: the one that weighs most in the fit, and the worst failing one."""
    regressor = leaf.n if pattern == "factor" else leaf.x
    score, miss = leaf.fit_weight * regressor**2, leaf.fit_weight * (leaf.a - leaf.n) ** 2
    index = np.array([np.argmax(score.ravel()), np.argmax(miss.ravel())])
    return leaf._replace(
        a=leaf.a.ravel()[index], n=leaf.n.ravel()[index], tol=leaf.tol.ravel()[index],
        x=leaf.x.ravel()[index], fit_weight=leaf.fit_weight.ravel()[index],
    )  # fmt: skip


def _linear(i: int, ctx: _Context) -> list[_Candidate]:
    """A factor or parameter multiple on leaf `i`: a named constant, else the fitted ones."""
    leaf, fitted = ctx.leaves[i], []
    for pattern, table in (("factor", ctx.factors), ("multiple", ctx.multiples[leaf.kind])):
        c = _fit([leaf], pattern)
        if c is None:
            continue
        probe = _probe(leaf, pattern)  # a cheap necessary test before the full one
        for value, named in [*((row.value, row) for row in table), (c, None)]:
            fit = _check([probe], pattern, value) and _check([leaf], pattern, value)
            if fit is not None and named is not None:
                return [_Candidate(1, pattern, i, value, named, fit=fit)]
            if fit is not None:
                fitted.append(_Candidate(2, pattern, i, c, fit=fit))
    return fitted


def _structural(i: int, ctx: _Context) -> _Candidate | None:
    """Leaf `i` zero, transposed, or holding the numerical gradient of another leaf."""
    leaf = ctx.leaves[i]
    if np.all(np.abs(leaf.a) <= leaf.tol):
        return _Candidate(0, "zero", i)
    if leaf.a.ndim == 2 and leaf.a.shape[0] == leaf.a.shape[1] >= 2:
        fit = _within(np.abs(leaf.a.T - leaf.n), leaf.tol)
        if fit is not None:
            return _Candidate(0, "transposed", i, fit=fit)
    for j, other in enumerate(ctx.leaves):
        if j != i and other.a.shape == leaf.a.shape and np.any(np.abs(other.n) > other.tol):
            fit = _within(np.abs(leaf.a - other.n), other.tol)
            if fit is not None:
                return _Candidate(0, "other-leaf", i, partner=j, fit=fit)
    return None


def _isolated(i: int, ctx: _Context) -> _Candidate | None:
    """Leaf `i` with few wrong elements (≤ max(3, 5 %), ≤ half of it), each a clear miss."""
    leaf = ctx.leaves[i]
    size, wrong = leaf.a.size, int(np.count_nonzero(leaf.failing))
    if wrong <= max(3, size // 20) and 2 * wrong <= size and np.all(leaf.clear == leaf.failing):
        return _Candidate(3, "isolated", i)
    return None


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


def _subject(paths: Sequence[str], ctx: _Context) -> tuple[str, str]:
    """("the gradient(s) of …", verb) for the leaves `paths`."""
    if len(paths) == len(ctx.leaves) or paths == [""]:
        return "the gradient", "is"
    if len(paths) == 1:
        return f"the gradient of {paths[0]}", "is"
    return "the gradients of " + ", ".join(paths), "are"


def _residual_text(fit: _Fit) -> str:
    """The residual, and whether it is within one tolerance or needed the slack."""
    bound = "tol" if fit[1] <= 1 else f"{SLACK:g}·tol"
    return f"residual {fit[0]:.1e} ≤ {bound}"


def _evidence(**values: EvidenceValue) -> Mapping[str, EvidenceValue]:
    """A read-only evidence mapping."""
    return MappingProxyType(values)


def _factor_finding(
    leaves: Sequence[_Leaf], c: float, named: _Named | None, fit: _Fit, ctx: _Context
) -> Finding:
    """The constant-factor finding a = c·n on `leaves`."""
    paths = [leaf.path for leaf in leaves]
    subject, verb = _subject(paths, ctx)
    label = f"{c:.6g}" if named is None else named.label
    hint = "a constant factor" if c > 0 else "a sign flip and a constant factor"
    hint = hint if named is None else named.hint
    one = "one" if verb == "is" else "ones"
    message = f"{subject} {verb} {label}× the numerical {one} ({_residual_text(fit)}): {hint}"
    evidence = _evidence(factor=c, residual=fit[0], residual_ratio=fit[1])
    return Finding("constant-factor", message, tuple(paths), evidence)


def _multiple_finding(
    leaves: Sequence[_Leaf], c: float, named: _Named | None, fit: _Fit, ctx: _Context
) -> Finding:
    """The parameter-multiple finding a − n = c·x on `leaves` (weight decay gone wrong)."""
    paths = [leaf.path for leaf in leaves]
    symbol = {"weight": "W", "bias": "b"}.get(leaves[0].kind, "x")
    where = f"analytic - numeric on {', '.join(paths) or 'the gradient'}"
    if named is None:
        hint = {
            "weight": "a weight-decay term of the wrong size (c = -λ: missing, +λ: doubled)?",
            "bias": "the biases are decayed, but bias is never decayed?",
        }.get(leaves[0].kind, "a decay term of the wrong size?")
        message = f"{where} is c·{symbol} with c = {c:.6g} ({_residual_text(fit)}): {hint}"
        evidence = _evidence(c=c, residual=fit[0], residual_ratio=fit[1])
        return Finding("parameter-multiple", message, tuple(paths), evidence)
    value = f"{named.label}·{symbol} = {c:.6g}·{symbol}"
    message = f"{where} is {value} ({_residual_text(fit)}): {named.hint}"
    given = {"weight_decay": ctx.weight_decay, "n_examples": ctx.n_examples}
    evidence = _evidence(
        c=c, residual=fit[0], residual_ratio=fit[1], convention=named.convention,
        **{key: value for key, value in given.items() if value is not None},
    )  # fmt: skip
    return Finding(named.name, message, tuple(paths), evidence)


def _named_findings(group: Sequence[_Candidate], ctx: _Context) -> list[Finding]:
    """One finding for the leaves that share a named factor or multiple."""
    named = group[0].named
    make = _factor_finding if group[0].pattern == "factor" else _multiple_finding
    leaves = [ctx.leaves[cand.leaf] for cand in group]
    fit = (max(cand.fit[0] for cand in group), max(cand.fit[1] for cand in group))
    return [] if named is None else [make(leaves, named.value, named, fit, ctx)]


def _joint(indices: Sequence[int], pattern: str, ctx: _Context) -> tuple[float, _Fit] | None:
    """One refitted constant for the leaves `indices`, and its fit, if it explains them all."""
    leaves = [ctx.leaves[i] for i in indices]
    c = _fit(leaves, pattern)
    fit = None if c is None else _check(leaves, pattern, c)
    return None if c is None or fit is None else (c, fit)


def _clusters(pool: Sequence[_Candidate], ctx: _Context) -> list[tuple[list[int], float, _Fit]]:
    """Leaves with one fitted constant each, merged while one refitted constant explains all.

    One constant for all the leaves is tried first, then neighbours in c are merged greedily.
    A multiple is merged only within one kind: weights and biases are not decayed as one.
    """

    def group(cand: _Candidate) -> str:
        return ctx.leaves[cand.leaf].kind if cand.pattern == "multiple" else ""

    clusters: list[tuple[list[int], float, _Fit, str]] = []
    for key in sorted({group(cand) for cand in pool}):
        members = [cand.leaf for cand in pool if group(cand) == key]
        joint = _joint(members, pool[0].pattern, ctx)
        if joint is not None:
            clusters.append((members, *joint, key))
    pool = [cand for cand in pool if all(cand.leaf not in cluster[0] for cluster in clusters)]
    for cand in sorted(pool, key=lambda cand: (group(cand), cand.c)):
        if clusters and clusters[-1][3] == group(cand):
            trial = [*clusters[-1][0], cand.leaf]
            joint = _joint(trial, cand.pattern, ctx)
            if joint is not None:
                clusters[-1] = (trial, *joint, group(cand))
                continue
        clusters.append(([cand.leaf], cand.c, cand.fit, group(cand)))
    return [(indices, c, fit) for indices, c, fit, _ in clusters]


def _fitted_findings(
    pending: Sequence[Sequence[_Candidate]], ctx: _Context
) -> tuple[list[Finding], set[int]]:
    """Findings for fitted constants that fix two clear misses or more; the leaves explained.

    Factors are tried before multiples; a leaf takes the first of its fits that joins such a
    cluster. One constant fitted to one number would explain anything, so explains nothing.
    """
    findings: list[Finding] = []
    done: set[int] = set()
    for pattern, make in (("factor", _factor_finding), ("multiple", _multiple_finding)):
        pool = [c for opts in pending for c in opts if c.pattern == pattern and c.leaf not in done]
        for indices, c, fit in _clusters(pool, ctx):
            leaves = [ctx.leaves[i] for i in sorted(indices)]
            if sum(int(np.count_nonzero(leaf.clear)) for leaf in leaves) >= 2:
                findings.append(make(leaves, c, None, fit, ctx))
                done.update(indices)
    return findings, done


def _structural_findings(group: Sequence[_Candidate], ctx: _Context) -> list[Finding]:
    """Zero leaves, transposed leaves, and gradients of another leaf (swapped when mutual)."""
    pattern, paths = group[0].pattern, [ctx.leaves[cand.leaf].path for cand in group]
    fit = (max(cand.fit[0] for cand in group), max(cand.fit[1] for cand in group))
    subject, verb = _subject(paths, ctx)
    if pattern == "zero":
        top = max(float(np.abs(ctx.leaves[cand.leaf].n).max(initial=0.0)) for cand in group)
        message = f"{subject} {verb} zero where the numerical one is not (max |numeric| "
        message += f"{top:.1e}): never computed, or never written back?"
        return [Finding("zero", message, tuple(paths), _evidence(max_numeric=top))]
    if pattern == "transposed":
        message = f"{subject} {verb} the transpose of the numerical one ({_residual_text(fit)}): "
        message += "a product in the wrong order, or swapped indices?"
        evidence = _evidence(residual=fit[0], residual_ratio=fit[1])
        return [Finding("transposed", message, tuple(paths), evidence)]
    findings, moved = [], {cand.leaf: cand for cand in group}
    for cand in group:
        mine, theirs = ctx.leaves[cand.leaf].path, ctx.leaves[cand.partner].path
        back = moved.get(cand.partner)
        evidence = _evidence(residual=cand.fit[0], residual_ratio=cand.fit[1], of=theirs)
        if back is not None and back.partner == cand.leaf:
            if cand.leaf < cand.partner:
                message = f"the gradients of {mine} and {theirs} are swapped "
                message += f"({_residual_text(cand.fit)}): layers mixed up in the backward pass?"
                findings.append(Finding("swapped", message, (mine, theirs), evidence))
            continue
        message = f"the gradient of {mine} is the numerical gradient of {theirs} "
        message += f"({_residual_text(cand.fit)}): written to the wrong leaf?"
        findings.append(Finding("other-leaf", message, (mine,), evidence))
    return findings


def _isolated_finding(group: Sequence[_Candidate], ctx: _Context) -> list[Finding]:
    """Few wrong elements: list the first `_LISTED` of them by path and index."""
    names, worst, count = [], 0.0, 0
    for cand in group:
        leaf = ctx.leaves[cand.leaf]
        where = np.argwhere(leaf.failing)
        count += len(where)
        gaps = np.abs(leaf.a - leaf.n)[leaf.failing]
        worst = max(worst, float(np.max(np.where(np.isnan(gaps), np.inf, gaps))))
        names += [f"{leaf.path}[{', '.join(map(str, index))}]" for index in where.tolist()]
    listing = ", ".join(names[:_LISTED]) + (f", … ({count} in all)" if count > _LISTED else "")
    plural = "elements are" if count > 1 else "element is"
    message = f"{count} isolated {plural} wrong, every other element passes: {listing}"
    paths = tuple(ctx.leaves[cand.leaf].path for cand in group)
    return [Finding("isolated", message, paths, _evidence(count=count, elements=listing))]


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


def _localise(ctx: _Context) -> list[Finding]:
    """Where the failing leaves are confined: only biases, only weights, only one layer."""
    failing = [leaf for leaf in ctx.leaves if leaf.failing.any()]
    paths = tuple(leaf.path for leaf in failing)
    kinds, all_kinds = {leaf.kind for leaf in failing}, {leaf.kind for leaf in ctx.leaves}
    findings = []
    for kind, other, word in (("bias", "weight", "biases"), ("weight", "bias", "weights")):
        if kinds == {kind} and other in all_kinds:
            message = f"only the {word} are wrong ({', '.join(paths)}); every {other} passes"
            findings.append(Finding(f"{word}-only", message, paths, _evidence(scope=word)))
    layers = {leaf.layer for leaf in failing}
    numbered = {leaf.layer for leaf in ctx.leaves if leaf.layer is not None}
    if len(layers) == 1 and len(numbered) > 1 and (layer := layers.pop()) is not None:
        position = "first" if layer == min(numbered) else "last" if layer == max(numbered) else ""
        name, which = (
            (f"{position}-layer-only", f", the {position} one,") if position else ("layer-only", "")
        )
        message = f"only layer [{layer}]{which} is wrong ({', '.join(paths)}); every other passes"
        findings.append(Finding(name, message, paths, _evidence(layer=layer)))
    return findings


def _constants(weight_decay: float | None, n_examples: int | None) -> None:
    """Check `weight_decay` (λ ≥ 0) and `n_examples` (m ≥ 1) when given."""
    if weight_decay is not None:
        if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float, np.number)):
            raise TypeError(f"`weight_decay` must be a real number; got {weight_decay!r}")
        if not (np.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"`weight_decay` must be finite and >= 0; got {weight_decay!r}")
    if n_examples is not None:
        if isinstance(n_examples, bool) or not isinstance(n_examples, (int, np.integer)):
            raise TypeError(f"`n_examples` must be an int; got {n_examples!r}")
        if n_examples < 1:
            raise ValueError(f"`n_examples` must be >= 1; got {n_examples!r}")


def diagnose(
    paths: Sequence[str],
    analytic: Sequence[ArrayLike],
    numeric: Sequence[ArrayLike],
    tolerance: Sequence[ArrayLike],
    params: Sequence[ArrayLike] | None = None,
    *,
    weight_decay: float | None = None,
    n_examples: int | None = None,
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

    Returns
    -------
    tuple of Finding
        Explanations, most specific first, then where the mismatch is confined; empty when the
        gradient passes or when no pattern explains every failing element.

    Raises
    ------
    TypeError
        A sequence argument that is not one, a non-real leaf, a non-number λ or a non-int m.
    ValueError
        Leaf counts or shapes that differ, NaN or inf in `numeric` or `params`, a tolerance
        that is negative or not finite, λ < 0 or m < 1.

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
    any leaf with a clear miss is left unexplained, no finding is made at all; otherwise the
    localisation follows: only the biases, only the weights, only one layer (the first, the
    last), when every failing element lies there and other leaves exist.

    Leaf kinds come from the path's last name (``W``, ``w``, ``weight(s)``, ``kernel``, with an
    optional digit: weight; ``b``, ``bias(es)``: bias), else from ``ndim`` (2-D weight, 1-D bias,
    other: neither); the layer is the path's first ``[i]``. A wrong or missing activation
    derivative leaves no such pattern and gets no finding. Cost: a few vectorised passes over
    each leaf with a clear miss, plus one per other leaf of its shape.

    Examples
    --------
    >>> import numpy as np
    >>> numeric = [np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([0.1, -0.3])]
    >>> analytic = [2 * numeric[0], numeric[1].copy()]
    >>> tolerance = [np.full((2, 2), 1e-8), np.full(2, 1e-8)]
    >>> findings = diagnose(["[0].W", "[0].b"], analytic, numeric, tolerance)
    >>> [finding.name for finding in findings]
    ['constant-factor', 'weights-only']
    >>> print(findings[0].message)
    the gradient of [0].W is 2× the numerical one (residual 0.0e+00 ≤ tol): a missing ½ in the squared error?
    >>> diagnose(["[0].W", "[0].b"], numeric, numeric, tolerance)
    ()
    """  # noqa: E501
    _constants(weight_decay, n_examples)
    leaves = _leaves(paths, analytic, numeric, tolerance, params)
    clear = [i for i, leaf in enumerate(leaves) if leaf.clear.any()]
    if not clear:
        return ()  # every failing element is a near miss, which noise explains as well
    lam = None if weight_decay is None else float(weight_decay)
    m = None if n_examples is None else int(n_examples)
    multiples = {kind: _multiple_table(kind, lam, m) for kind in ("weight", "bias", "other")}
    ctx = _Context(leaves, _factor_table(m), multiples, lam, m)
    with np.errstate(all="ignore"):
        findings = _merge([_explain(i, ctx) for i in clear], ctx)
    return () if findings is None else (*findings, *_localise(ctx))


def format_findings(findings: Sequence[Finding]) -> str:
    """The lines a report prints under its table: ``Diagnosis:`` and one line per finding.

    Parameters
    ----------
    findings : sequence of Finding
        As returned by `diagnose`.

    Returns
    -------
    str
        ``"Diagnosis:"`` followed by ``"  - [name] message"`` lines, without a final newline;
        the empty string when there is no finding.

    Examples
    --------
    >>> finding = Finding("constant-factor", "the gradient is -1× the numerical one", ("",), {})
    >>> print(format_findings([finding]))
    Diagnosis:
      - [constant-factor] the gradient is -1× the numerical one
    >>> format_findings([])
    ''
    """
    if not findings:
        return ""
    return "\n".join(["Diagnosis:", *(f"  - [{item.name}] {item.message}" for item in findings)])
