"""A constant factor on the data term while the decay term is right: a = α·n + β·W on weights.

A backprop that scales its data term g by α (the 1/m average missing, a ½ missing) but adds the
decay term c·W right gives a = α·g + c·W = α·(n − c·W) + c·W = α·n + β·W on the weights, with
β = c(1 − α), and a = α·n on the biases, which are never decayed: α is common to every leaf, β
to the weights. Tried only when the per-leaf patterns leave a clear miss unexplained, and only
when the caller spoke of a decay: λ given, or leaves hinted as weights (`_Context.decayed`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np

from gradcheck.diagnosis._context import _Context, _distinct, _Named
from gradcheck.diagnosis._factors import _factor_table
from gradcheck.diagnosis._findings import Finding, _evidence, _residual_text, _subject
from gradcheck.diagnosis._leaves import Array, _Fit, _Leaf, _take, _within

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


def _check(group: Sequence[_Leaf], h: _Scaled) -> _Fit | None:
    """The residual rule on (a − β·x)/α − n over `group`: worst residual and ratio, or None."""
    worst = (0.0, 0.0)
    for leaf in group:
        fit = _within(np.abs((leaf.a - h.beta * leaf.x) / h.alpha - leaf.n), leaf.tol)
        if fit is None:
            return None
        worst = (max(worst[0], fit[0]), max(worst[1], fit[1]))
    return worst


def _probe(leaf: _Leaf) -> _Leaf:
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
    probes = [_probe(leaf) for leaf in group]  # a cheap necessary test before the full one
    misses = sum(int(np.count_nonzero(leaf.clear)) for leaf in group)
    for h in _hypotheses(group, ctx):
        fit = _check(probes, h) and _check(group, h) if misses > h.free else None
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
