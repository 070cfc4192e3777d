"""Where the mismatch is confined: only the biases, only the weights, only one layer.

Roles and layers are the caller's hints (`Hints`); without them nothing is localised.
"""

from __future__ import annotations

from gradcheck.diagnosis._context import _Context
from gradcheck.diagnosis._findings import Finding, _evidence, _names


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
