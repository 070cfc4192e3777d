"""The structure-aware objective: an MLP's cost with an evaluator that moves one weight cheaply.

`Objective` is what `backprop_ref.MLP.objective` returns; its ``gradcheck_evaluator`` follows
the core's evaluator contract without importing gradcheck (see `backprop_ref.fast.objective`).
"""

from __future__ import annotations

from backprop_ref.fast.objective import BLOCK_BYTES, Objective, StructuredEvaluator

__all__ = ["BLOCK_BYTES", "Objective", "StructuredEvaluator"]
