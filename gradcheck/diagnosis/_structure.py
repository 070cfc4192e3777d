"""Structural mistakes: a leaf zero, transposed, another leaf's gradient, a few wrong elements."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradcheck.diagnosis._context import _Candidate, _Context
from gradcheck.diagnosis._findings import Finding, _evidence, _residual_text, _subject
from gradcheck.diagnosis._leaves import _within, name_of

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
