"""The text of a gradient-check report (``str(result)``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gradcheck.diagnosis import format_findings

if TYPE_CHECKING:
    from gradcheck.report import GradientCheckResult

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
