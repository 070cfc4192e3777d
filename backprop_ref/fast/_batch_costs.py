"""The data cost of a batch of moved networks, Σ loss per batch item, from Z(L) and A(L).

Arrays are (n, s_L, m) (units before examples, as the structured evaluator keeps them) with
targets (s_L, m); softmax, which couples the units, gets (n, m, s_L) views and targets (m, s_L).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from backprop_ref._types import FloatArray
from backprop_ref.activations import holomorphic_log_softmax, log_softmax
from backprop_ref.losses import NetworkFunctions, holomorphic_softplus

__all__ = ["BatchCost", "batch_cost"]

BatchCost = Callable[[FloatArray, FloatArray, FloatArray], Any]


def _squared(z: FloatArray, a: FloatArray, y: FloatArray) -> Any:
    """Σ ½ (a − y)² per batch item, (n, ·, ·) → (n,); (a − y)² as a product, analytic."""
    error = np.subtract(a, y, out=a)  # a is a scratch array of the caller's
    return 0.5 * np.einsum("bij,bij->b", error, error)


def _sigmoid_cross_entropy(z: FloatArray, a: FloatArray, y: FloatArray) -> Any:
    """Σ log(1 + e^(−|z|)) + |z| (1 − y if z ≥ 0 else y) per batch item (as losses does)."""
    abs_z = np.abs(z)
    terms = np.log1p(np.exp(-abs_z))
    terms += abs_z * np.where(z >= 0, 1.0 - y, y)
    return terms.sum(axis=(1, 2))


def _holomorphic_sigmoid_cross_entropy(z: FloatArray, a: FloatArray, y: FloatArray) -> Any:
    """Σ y softplus(−z) + (1 − y) softplus(z) per batch item, analytic in z."""
    terms = y * holomorphic_softplus(-z) + (1.0 - y) * holomorphic_softplus(z)
    return terms.sum(axis=(1, 2))


def _softmax_cross_entropy(z: FloatArray, a: FloatArray, y: FloatArray) -> Any:
    """Σ −y_k log softmax(z)_k per batch item."""
    return -np.einsum("ij,bij->b", y, log_softmax(z))


def _holomorphic_softmax_cross_entropy(z: FloatArray, a: FloatArray, y: FloatArray) -> Any:
    """Σ −y_k log softmax(z)_k per batch item, analytic in z."""
    return -np.einsum("ij,bij->b", y, holomorphic_log_softmax(z))


def batch_cost(functions: NetworkFunctions, analytic: bool) -> tuple[BatchCost, bool]:
    """The per-batch-item data cost of the network's loss, and whether it needs a = f(z)."""
    if functions.loss.name == "squared":
        return _squared, True
    if functions.output.name == "softmax":
        return (_holomorphic_softmax_cross_entropy if analytic else _softmax_cross_entropy), False
    return (_holomorphic_sigmoid_cross_entropy if analytic else _sigmoid_cross_entropy), False
