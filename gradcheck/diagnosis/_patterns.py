"""The patterns a diagnosis fits, one section each, all built on `_parts`.

Constant factors a = c·n; multiples of the parameter a − n = c·x (the decay words from the
caller); where a mismatch is confined; structural mistakes (zero, transposed, another leaf's
gradient, a few wrong elements); a factor on the data term alone; and the weighted
least-squares fits that name or merge the linear explanations.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np

from gradcheck.diagnosis._parts import (
    Array,
    Finding,
    _Candidate,
    _Context,
    _distinct,
    _evidence,
    _Fit,
    _Leaf,
    _Named,
    _names,
    _residual_text,
    _subject,
    _take,
    _within,
    name_of,
)

# Constant factors a = c·n: the usual slips of a loss or an average (2, ½, -1, m, 1/m).

def _factor_table(m: int | None, loss: str | None = None) -> tuple[_Named, ...]:
    """Named factors a = c·n: the usual slips of a loss (as hinted) or an average (given m)."""
    two = "a missing ½ in the squared error?" if loss == "squared" else "a constant factor 2"
    table = [
        _Named(2.0, "constant-factor", "2", two, ""),
        _Named(0.5, "constant-factor", "½", "an extra ½, or a dropped 2?", ""),
        _Named(-1.0, "constant-factor", "-1", "a sign flip", ""),
    ]
    if m is not None and m > 1:
        table += [
            _Named(float(m), "constant-factor", "m", f"the 1/m average is missing (m = {m})?", ""),
            _Named(1 / m, "constant-factor", "1/m", f"averaged twice (m = {m})?", ""),
        ]
    return _distinct(table, m)


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


# Multiples of the parameter a − n = c·x: weight decay missing, doubled, mixed, on biases.
#
# The decay words come from the caller: λ (``weight_decay``) names the constants, the hinted
# roles say which leaves are weights (W) and biases (b). Without λ a multiple is reported with its
# fitted c; without roles, every leaf is the parameter x.

_WEIGHT_MULTIPLES = (  # c = p·λ + q·λ/m: (p, q, name, label, hint, convention); {s}: W or x
    (-1, 0, "decay-missing", "-λ", "the weight-decay term λ{s} is missing", "ufldl"),
    (0, -1, "decay-missing", "-λ/m", "the weight-decay term (λ/m){s} is missing", "coursera"),
    (1, 0, "decay-doubled", "+λ", "the weight-decay term λ{s} is added twice", "ufldl"),
    (0, 1, "decay-doubled", "+λ/m", "the weight-decay term (λ/m){s} is added twice", "coursera"),
    (-1, 1, "decay-convention", "(λ/m - λ)",
     "the gradient uses (λ/m){s} but the cost (λ/2)Σ{s}²", "mixed"),
    (1, -1, "decay-convention", "(λ - λ/m)",
     "the gradient uses λ{s} but the cost (λ/(2m))Σ{s}²", "mixed"),
)  # fmt: skip
_BIAS_MULTIPLES = (
    (1, 0, "bias-decay", "+λ", "the biases are decayed with λb, but bias is never decayed",
     "ufldl"),
    (0, 1, "bias-decay", "+λ/m", "the biases are decayed with (λ/m)b, but bias is never decayed",
     "coursera"),
)  # fmt: skip


def _multiple_table(
    kind: str, lam: float | None, m: int | None, symbol: str = "W"
) -> tuple[_Named, ...]:
    """Named multiples a − n = c·x of a leaf of `kind` ("weight", "bias"): decay gone wrong."""
    if lam is None or kind not in ("weight", "bias"):
        return ()
    rows = [
        _Named(p * lam + (0.0 if m is None else q * lam / m), name, label,
               hint.format(s=symbol), convention)
        for p, q, name, label, hint, convention in (
            _BIAS_MULTIPLES if kind == "bias" else _WEIGHT_MULTIPLES
        )
        if q == 0 or m is not None
    ]  # fmt: skip
    return _distinct(rows, m)


def _unnamed_hint(kind: str, ctx: _Context) -> str:
    """What a fitted multiple c·x suggests: decay words only where the caller used them."""
    if kind == "bias":
        return "the biases are decayed, but bias is never decayed?"
    if kind == "weight" or ctx.weight_decay is not None:
        return "a weight-decay term of the wrong size (c = -λ: missing, +λ: doubled)?"
    return "the analytic gradient is the numerical one plus c·x"


def _multiple_finding(
    leaves: Sequence[_Leaf], c: float, named: _Named | None, fit: _Fit, ctx: _Context
) -> Finding:
    """The parameter-multiple finding a − n = c·x on `leaves` (weight decay gone wrong)."""
    paths = [leaf.path for leaf in leaves]
    symbol = {"weight": "W", "bias": "b"}.get(leaves[0].kind, "x")
    where = f"analytic - numeric on {_names(paths) or 'the gradient'}"
    if named is None:
        hint = _unnamed_hint(leaves[0].kind, ctx)
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


# Where the mismatch is confined: only the biases, only the weights, only one layer.
#
# Roles and layers are the caller's hints (`Hints`); without them nothing is localised.

def _localise(ctx: _Context) -> list[Finding]:
    """Where the failing leaves are confined: only biases, only weights, only one layer."""
    failing = [leaf for leaf in ctx.leaves if leaf.failing.any()]
    paths = tuple(leaf.path for leaf in failing)
    kinds, all_kinds = {leaf.kind for leaf in failing}, {leaf.kind for leaf in ctx.leaves}
    findings = []
    for kind, other, word in (("bias", "weight", "biases"), ("weight", "bias", "weights")):
        if kinds == {kind} and other in all_kinds:
            message = f"only the {word} are wrong ({_names(paths)}); every {other} passes"
            findings.append(Finding(f"{word}-only", message, paths, _evidence(scope=word)))
    layers = {leaf.layer for leaf in failing}
    named = list(dict.fromkeys(leaf.layer for leaf in ctx.leaves if leaf.layer is not None))
    if len(layers) == 1 and len(named) > 1 and (layer := layers.pop()) is not None:
        position = "first" if layer == named[0] else "last" if layer == named[-1] else ""
        name, which = (
            (f"{position}-layer-only", f", the {position} one,") if position else ("layer-only", "")
        )
        message = f"only layer {layer}{which} is wrong ({_names(paths)}); every other passes"
        findings.append(Finding(name, message, paths, _evidence(layer=layer)))
    return findings


# Structural mistakes: a leaf zero, transposed, another leaf's gradient, a few wrong elements.

_LISTED = 5


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
                message = f"the gradients of {name_of(mine)} and {name_of(theirs)} are swapped "
                message += f"({_residual_text(cand.fit)}): {_swap_hint(cand.leaf, ctx)}"
                findings.append(Finding("swapped", message, (mine, theirs), evidence))
            continue
        message = f"the gradient of {name_of(mine)} is the numerical gradient of "
        message += f"{name_of(theirs)} "
        message += f"({_residual_text(cand.fit)}): written to the wrong leaf?"
        findings.append(Finding("other-leaf", message, (mine,), evidence))
    return findings


def _swap_hint(i: int, ctx: _Context) -> str:
    """Why two leaves hold each other's gradients: layers mixed up, when layers are hinted."""
    if ctx.leaves[i].layer is not None:
        return "layers mixed up in the backward pass?"
    return "each written to the other's place?"


def _isolated_finding(group: Sequence[_Candidate], ctx: _Context) -> list[Finding]:
    """Few wrong elements: list the first `_LISTED` of them by path and index."""
    names, worst, count = [], 0.0, 0
    for cand in group:
        leaf = ctx.leaves[cand.leaf]
        where = np.argwhere(leaf.failing)
        count += len(where)
        gaps = np.abs(leaf.a - leaf.n)[leaf.failing]
        worst = max(worst, float(np.max(np.where(np.isnan(gaps), np.inf, gaps))))
        names += [ctx.element(cand.leaf, tuple(index)) for index in where.tolist()]
    listing = ", ".join(names[:_LISTED]) + (f", … ({count} in all)" if count > _LISTED else "")
    plural = "elements are" if count > 1 else "element is"
    message = f"{count} isolated {plural} wrong, every other element passes: {listing}"
    paths = tuple(ctx.leaves[cand.leaf].path for cand in group)
    return [Finding("isolated", message, paths, _evidence(count=count, elements=listing))]


# A constant factor on the data term while the decay term is right: a = α·n + β·W on weights.
#
# A backprop that scales its data term g by α (the 1/m average missing, a ½ missing) but adds the
# decay term c·W right gives a = α·g + c·W = α·(n − c·W) + c·W = α·n + β·W on the weights, with
# β = c(1 − α), and a = α·n on the biases, which are never decayed: α is common to every leaf, β
# to the weights. Tried only when the per-leaf patterns leave a clear miss unexplained, and only
# when the caller spoke of a decay: λ given, or leaves hinted as weights (`_Context.decayed`).

_CONDITION = 1e-12
"""The joint fit of α and β is void when det(A) ≤ _CONDITION·A₀₀·A₁₁ (n and W collinear)."""


class _Scaled(NamedTuple):
    alpha: float
    beta: float
    named: _Named  # α's name: 2, ½, -1, m, 1/m
    decay: _Named | None  # the convention whose c gives β = c(1 − α), when one does
    free: int  # how many of α and β were fitted to the numbers


def _decays(ctx: _Context) -> tuple[_Named, ...]:
    """The decay coefficients c of the two conventions: λ, and λ/m when m is given."""
    lam, m, s = ctx.weight_decay, ctx.n_examples, ctx.symbol
    if lam is None:
        return ()
    rows = [_Named(lam, "data-factor", f"λ{s}", "λ", "ufldl")]  # hint: c's own symbol
    if m is not None:
        rows.append(_Named(lam / m, "data-factor", f"(λ/m){s}", "λ/m", "coursera"))
    return _distinct(rows, m)


def _normal(group: Sequence[_Leaf]) -> tuple[Array, Array]:
    """The 1/tol²-weighted normal equations A·(α, β) = r of a ≈ α·n + β·x over `group`."""
    A, r = np.zeros((2, 2)), np.zeros(2)
    for leaf in group:
        w, a, n, x = (v.ravel() for v in (leaf.fit_weight, leaf.a, leaf.n, leaf.x))
        nx = float(np.einsum("i,i,i->", w, n, x))  # einsum: no BLAS threads
        A += [
            [float(np.einsum("i,i,i->", w, n, n)), nx],
            [nx, float(np.einsum("i,i,i->", w, x, x))],
        ]
        r += [float(np.einsum("i,i,i->", w, a, n)), float(np.einsum("i,i,i->", w, a, x))]
    return A, r


def _alphas(A: Array, r: Array, ctx: _Context) -> list[tuple[_Named, int]]:
    """Named α, each with how many constants were fitted to find it (0 or 1).

    The named factors; when m is not given, also m and 1/m for the whole m ≥ 3 nearest the
    jointly fitted α (or 1/α). Any other α is not tried: an output δ off by σ′(z) where every
    example has the same z (σ′ ≈ ¼) scales the data term by a constant to the noise too.
    """
    alphas = [(row, 0) for row in ctx.factors]
    det = A[0, 0] * A[1, 1] - A[0, 1] ** 2
    if ctx.n_examples is None and det > _CONDITION * A[0, 0] * A[1, 1]:
        fitted = float(r[0] * A[1, 1] - r[1] * A[0, 1]) / det
        k = round(max(fitted, 1 / fitted)) if np.isfinite(fitted) and fitted > 0 else 0
        if k >= 3:
            alphas += [(row, 1) for row in _factor_table(k) if row.label in ("m", "1/m")]
    return alphas


def _hypotheses(group: Sequence[_Leaf], ctx: _Context) -> Iterator[_Scaled]:
    """(α, β) to try, most specific first: named α; β = c(1 − α) for λ or λ/m before fitted β."""
    A, r = _normal(group)
    if not A[1, 1] > 0:
        return  # no weight leaf with a nonzero parameter: no decay term to tell apart
    for named, free in _alphas(A, r, ctx):
        alpha = named.value
        for decay in _decays(ctx):
            yield _Scaled(alpha, decay.value * (1 - alpha), named, decay, free)
        yield _Scaled(alpha, float(r[1] - alpha * A[0, 1]) / A[1, 1], named, None, free + 1)


def _check_scaled(group: Sequence[_Leaf], h: _Scaled) -> _Fit | None:
    """The residual rule on (a − β·x)/α − n over `group`: worst residual and ratio, or None."""
    worst = (0.0, 0.0)
    for leaf in group:
        fit = _within(np.abs((leaf.a - h.beta * leaf.x) / h.alpha - leaf.n), leaf.tol)
        if fit is None:
            return None
        worst = (max(worst[0], fit[0]), max(worst[1], fit[1]))
    return worst


def _probe_scaled(leaf: _Leaf) -> _Leaf:
    """Three elements of `leaf`: the worst miss, and those that weigh most on α and on β."""
    scores = (leaf.a - leaf.n, leaf.n, leaf.x)
    return _take(leaf, np.array([np.argmax((leaf.fit_weight * s**2).ravel()) for s in scores]))


def _data_factor(clear: Sequence[int], ctx: _Context) -> list[Finding] | None:
    """The data-factor finding on the leaves `clear`, if one (α, β) explains all of them.

    Each constant fitted to the numbers must fix one clear miss more than it could fit alone.
    """
    group = [
        leaf if ctx.decayed(leaf) else leaf._replace(x=np.zeros_like(leaf.x))
        for leaf in (ctx.leaves[i] for i in clear)
    ]  # β·x applies to the decayed leaves only: x is zero on the others
    if not any(ctx.decayed(leaf) for leaf in group):
        return None
    probes = [_probe_scaled(leaf) for leaf in group]  # a cheap necessary test before the full one
    misses = sum(int(np.count_nonzero(leaf.clear)) for leaf in group)
    for h in _hypotheses(group, ctx):
        fit = _check_scaled(probes, h) and _check_scaled(group, h) if misses > h.free else None
        if fit is not None:
            return [_finding(group, h, fit, ctx)]
    return None


def _finding(group: Sequence[_Leaf], h: _Scaled, fit: _Fit, ctx: _Context) -> Finding:
    """The data-factor finding: α's name, and whether β is c(1 − α) for c = λ or λ/m."""
    paths = [leaf.path for leaf in group]
    subject, verb = _subject(paths, ctx)
    term, one = ("data term", "one") if verb == "is" else ("data terms", "ones")
    label = h.named.label
    c = h.beta / (1 - h.alpha)
    if h.decay is not None:
        rest = f" while the decay term {h.decay.label} is right"
    else:
        known = [row.hint for row in _decays(ctx)]
        neither = f", {'neither' if len(known) > 1 else 'not'} {' nor '.join(known)}" * bool(known)
        s, on = ctx.symbol, " on the weights" if ctx.hints.roles else ""
        rest = f", with a decay term c·{s} left unscaled (a = {label}·n + β·{s}{on}, β = "
        rest += f"{h.beta:.6g}, c = β/(1 - α) = {c:.6g}{neither})"
    message = f"the {term} of {subject} {verb} {label}× the numerical {one}"
    message += f"{rest} ({_residual_text(fit)}): {h.named.hint}"
    given = {
        "convention": None if h.decay is None else h.decay.convention,
        "weight_decay": ctx.weight_decay,
        "n_examples": ctx.n_examples,
    }
    evidence = _evidence(
        factor=h.alpha, beta=h.beta, decay=c, residual=fit[0], residual_ratio=fit[1],
        **{key: value for key, value in given.items() if value is not None},
    )  # fmt: skip
    return Finding("data-factor", message, tuple(paths), evidence)


# Linear explanations fitted by weighted least squares: a = c·n (factor), a − n = c·x (multiple).
#
# Each leaf gets a named constant when one explains it, else its fitted constant; leaves with
# fitted constants are merged while one refitted constant explains them all.

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
    return _take(leaf, index)


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
