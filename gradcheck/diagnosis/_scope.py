"""Where the mismatch is confined: only the biases, only the weights, only one layer."""

from __future__ import annotations

from gradcheck.diagnosis._context import _Context
from gradcheck.diagnosis._findings import Finding, _evidence


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
