"""Multiples of the parameter a − n = c·x: weight decay missing, doubled, mixed, on biases.

The decay words come from the caller: λ (``weight_decay``) names the constants, the hinted
roles say which leaves are weights (W) and biases (b). Without λ a multiple is reported with its
fitted c; without roles, every leaf is the parameter x.
"""

from __future__ import annotations

from collections.abc import Sequence

from gradcheck.diagnosis._context import _Context, _distinct, _Named
from gradcheck.diagnosis._findings import Finding, _evidence, _names, _residual_text
from gradcheck.diagnosis._leaves import _Fit, _Leaf

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
