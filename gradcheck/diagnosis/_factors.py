"""Constant factors a = c·n: the usual slips of a loss or an average (2, ½, -1, m, 1/m)."""

from __future__ import annotations

from collections.abc import Sequence

from gradcheck.diagnosis._context import _Context, _distinct, _Named
from gradcheck.diagnosis._findings import Finding, _evidence, _residual_text, _subject
from gradcheck.diagnosis._leaves import _Fit, _Leaf


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
