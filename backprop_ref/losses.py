"""The data terms of the cost, each beside its output error δ(L) = ∂J/∂z(L).

A loss is chosen together with the output activation, since δ(L) depends on both:

- squared error, any output f: cost ½‖a − y‖², δ = (a − y) ⊙ f′(z) (for softmax, the product of
  a − y with its Jacobian);
- cross-entropy, sigmoid output (independent classes): cost −Σ_k [y log a + (1 − y) log(1 − a)],
  δ = a − y;
- cross-entropy, softmax output (one class per example): cost −Σ_k y_k log a_k,
  δ = a Σ_k y_k − y, which is a − y when the targets of an example sum to 1.

Each ``cost(z, a, y)`` sums over every example and unit (rows are examples; a single example is
a 1-D row) and is computed from z where a logarithm is involved, so that it never takes log(0);
each ``delta(z, a, y)`` returns a new array shaped like z. Neither divides by m. The weight
decay term D, the same for every loss, is here too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from backprop_ref._types import FloatArray, Layer
from backprop_ref.activations import Activation, holomorphic_log_softmax, log_softmax

__all__ = [
    "CROSS_ENTROPY_OUTPUTS",
    "LOSSES",
    "Loss",
    "NetworkFunctions",
    "decay_term",
    "holomorphic_cost",
    "holomorphic_decay_term",
    "holomorphic_softplus",
    "make_loss",
]

LOSSES: tuple[str, ...] = ("cross_entropy", "squared")
"""The names allowed for ``loss``."""

CROSS_ENTROPY_OUTPUTS: tuple[str, ...] = ("sigmoid", "softmax")
"""The output activations that cross-entropy accepts: those whose outputs are probabilities."""

_Scalar = Any
"""A numpy float scalar of the arrays' dtype."""


class Loss(NamedTuple):
    """A data cost Σ (over examples and units) and its output error δ(L), both from (z, a, y)."""

    name: str
    cost: Callable[[FloatArray, FloatArray, FloatArray], _Scalar]
    delta: Callable[[FloatArray, FloatArray, FloatArray], FloatArray]


def squared_error(z: FloatArray, a: FloatArray, y: FloatArray) -> _Scalar:
    """Σ ½ (a − y)²."""
    error = a - y
    return 0.5 * np.vdot(error, error)


def squared_error_delta(
    output: Activation, z: FloatArray, a: FloatArray, y: FloatArray
) -> FloatArray:
    """δ = −(y − a) ⊙ f′(z), the tutorial's output error (through the Jacobian for softmax)."""
    return output.backward(a, a - y)


def sigmoid_cross_entropy(z: FloatArray, a: FloatArray, y: FloatArray) -> _Scalar:
    """Σ −[y log σ(z) + (1 − y) log(1 − σ(z))], from z.

    With −log σ(z) = log(1 + e^(−z)) and −log(1 − σ(z)) = log(1 + e^z), each term is
    log(1 + e^(−|z|)) + |z| · (1 − y if z ≥ 0 else y): non-negative parts, no cancellation.
    """
    abs_z = np.abs(z)
    terms = np.log1p(np.exp(-abs_z))
    terms += abs_z * np.where(z >= 0, 1.0 - y, y)
    return terms.sum()


def sigmoid_cross_entropy_delta(z: FloatArray, a: FloatArray, y: FloatArray) -> FloatArray:
    """δ = a − y."""
    return a - y


def softmax_cross_entropy(z: FloatArray, a: FloatArray, y: FloatArray) -> _Scalar:
    """Σ −y_k log softmax(z)_k, with the log-softmax computed from z."""
    return -np.vdot(y, log_softmax(z))


def softmax_cross_entropy_delta(z: FloatArray, a: FloatArray, y: FloatArray) -> FloatArray:
    """δ = a Σ_k y_k − y (a − y when the targets of each example sum to 1)."""
    delta: FloatArray = a * y.sum(axis=-1, keepdims=True)
    delta -= y
    return delta


def make_loss(name: str, output: Activation) -> Loss:
    """The Loss named ``name`` (one of ``LOSSES``) for the output activation ``output``.

    Raises ValueError for cross-entropy with an output that is not a probability.
    """
    if name == "squared":
        return Loss(name, squared_error, partial(squared_error_delta, output))
    if output.name not in CROSS_ENTROPY_OUTPUTS:
        raise ValueError(
            f"`output_activation` is {output.name!r}, but loss='cross_entropy' needs outputs "
            "in (0, 1) that are probabilities: 'sigmoid' (independent classes) or 'softmax' "
            "(one class per example)"
        )
    if output.name == "softmax":
        return Loss(name, softmax_cross_entropy, softmax_cross_entropy_delta)
    return Loss(name, sigmoid_cross_entropy, sigmoid_cross_entropy_delta)


class NetworkFunctions(NamedTuple):
    """What a network computes with: its hidden and output activations and its loss."""

    hidden: Activation
    output: Activation
    loss: Loss


def decay_term(layers: Sequence[Layer], coefficient: float) -> _Scalar:
    """D = (c/2) Σ_l ‖W(l)‖², biases excluded; c is λ ("ufldl") or λ/m ("coursera")."""
    return 0.5 * coefficient * sum(np.vdot(W, W) for W, _ in layers)


# --- complex parameters, for complex-step differentiation --------------------------------------
# The same costs written with analytic operations only (no abs, no conjugate, no comparison of
# complex values), so that Im J(θ + ih e_k) / h is ∂J/∂θ_k. They are slower than the real forms.


def holomorphic_softplus(z: FloatArray) -> FloatArray:
    """log(1 + e^z) = max(z, 0) + log(1 + e^(−|z|)), the branch chosen by Re z; e^(·) ≤ 1."""
    positive = z.real > 0
    result: FloatArray = np.where(positive, z, 0.0) + np.log1p(np.exp(np.where(positive, -z, z)))
    return result


def _holomorphic_squared_error(z: FloatArray, a: FloatArray, y: FloatArray) -> _Scalar:
    """Σ ½ (a − y)², with (a − y)² not |a − y|²."""
    error = a - y
    return 0.5 * np.sum(error * error)


def _holomorphic_sigmoid_cross_entropy(z: FloatArray, a: FloatArray, y: FloatArray) -> _Scalar:
    """Σ [y softplus(−z) + (1 − y) softplus(z)], the same sum as `sigmoid_cross_entropy`."""
    return np.sum(y * holomorphic_softplus(-z) + (1.0 - y) * holomorphic_softplus(z))


def _holomorphic_softmax_cross_entropy(z: FloatArray, a: FloatArray, y: FloatArray) -> _Scalar:
    """Σ −y_k log softmax(z)_k."""
    return -np.sum(y * holomorphic_log_softmax(z))


def holomorphic_cost(loss: Loss, output: Activation) -> Callable[..., _Scalar]:
    """The data cost of ``loss`` with output ``output``, analytic in complex z and a."""
    if loss.name == "squared":
        return _holomorphic_squared_error
    if output.name == "softmax":
        return _holomorphic_softmax_cross_entropy
    return _holomorphic_sigmoid_cross_entropy


def holomorphic_decay_term(layers: Sequence[Layer], coefficient: float) -> _Scalar:
    """D = (c/2) Σ_l Σ W(l)², with W·W (not |W|²), so analytic in complex W."""
    return 0.5 * coefficient * sum(np.sum(W * W) for W, _ in layers)
