"""Linear explanations fitted by weighted least squares: a = c·n (factor), a − n = c·x (multiple).

Each leaf gets a named constant when one explains it, else its fitted constant; leaves with
fitted constants are merged while one refitted constant explains them all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradcheck.diagnosis._context import _Candidate, _Context
from gradcheck.diagnosis._decay import _multiple_finding
from gradcheck.diagnosis._factors import _factor_finding
from gradcheck.diagnosis._findings import Finding
from gradcheck.diagnosis._leaves import Array, _Fit, _Leaf, _take, _within


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
