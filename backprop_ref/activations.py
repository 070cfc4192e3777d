"""Activation functions, each beside its derivative.

Every derivative is written in terms of the activation's output a = f(z), as the tutorial's
implementation note does for the sigmoid (f′(z) = a(1 − a)), so the backward pass needs only the
activations kept by the forward pass. Softmax couples the units of a layer; instead of an
elementwise derivative it has the product of its Jacobian with a vector, and it may only be the
activation of the output layer.

Each ``function(z, out=None)`` may write its result into ``out`` (``out=z`` works); each
``backward(a, g)`` returns g ⊙ f′(z) for g = ∂J/∂a and may overwrite ``g``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import NamedTuple, Protocol

import numpy as np

from backprop_ref._types import FloatArray

__all__ = [
    "ACTIVATIONS",
    "HIDDEN_ACTIVATIONS",
    "HOLOMORPHIC_ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "Activation",
    "holomorphic_log_softmax",
    "holomorphic_relu",
    "holomorphic_softmax",
    "identity",
    "identity_derivative",
    "log_softmax",
    "relu",
    "relu_derivative",
    "sigmoid",
    "sigmoid_derivative",
    "softmax",
    "softmax_backward",
    "tanh",
    "tanh_derivative",
]


def sigmoid(z: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """σ(z) = 1 / (1 + e^(−z)), in four in-place passes.

    Accurate to a few ulps, relative, wherever σ(z) is a normal float. For z below about −709
    (−88 in float32) e^(−z) overflows to inf and 1 / (1 + inf) = 0 is the right limit, so that
    overflow is expected and not reported. (The form 1/2 + tanh(z/2)/2 would lose the relative
    accuracy of the tiny values in the negative tail.)
    """
    result: FloatArray = np.negative(z, out=out)
    with np.errstate(over="ignore"):
        np.exp(result, out=result)
    result += 1.0
    np.reciprocal(result, out=result)
    return result


def sigmoid_derivative(a: FloatArray) -> FloatArray:
    """σ′(z) = a(1 − a), where a = σ(z)."""
    derivative: FloatArray = np.subtract(1.0, a)
    derivative *= a
    return derivative


def tanh(z: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z))."""
    result: FloatArray = np.tanh(z, out=out)
    return result


def tanh_derivative(a: FloatArray) -> FloatArray:
    """tanh′(z) = 1 − a², where a = tanh(z)."""
    derivative: FloatArray = np.square(a)
    np.subtract(1.0, derivative, out=derivative)
    return derivative


def relu(z: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """relu(z) = max(z, 0)."""
    result: FloatArray = np.maximum(z, 0.0, out=out)
    return result


def relu_derivative(a: FloatArray) -> FloatArray:
    """relu′(z) = 1 where z > 0 (that is, a > 0), else 0; taken as 0 at the kink z = 0."""
    derivative: FloatArray = (a > 0).astype(a.dtype)
    return derivative


def identity(z: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """identity(z) = z (a copy, or z written into ``out``)."""
    if out is None:
        out = np.empty_like(z)
    np.copyto(out, z)
    return out


def identity_derivative(a: FloatArray) -> FloatArray:
    """identity′(z) = 1."""
    return np.ones_like(a)


def softmax(z: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """softmax(z)_k = e^(z_k) / Σ_j e^(z_j) along the last axis, less the row maximum first."""
    result: FloatArray = np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
    np.exp(result, out=result)
    result /= result.sum(axis=-1, keepdims=True)
    return result


def log_softmax(z: FloatArray) -> FloatArray:
    """log softmax(z)_k = z_k − max(z) − log Σ_j e^(z_j − max(z)), finite for every finite z."""
    shifted: FloatArray = z - z.max(axis=-1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return shifted


def softmax_backward(a: FloatArray, g: FloatArray) -> FloatArray:
    """gᵀ ∂a/∂z = a ⊙ (g − Σ_k g_k a_k) along the last axis, where a = softmax(z)."""
    result: FloatArray = g - (g * a).sum(axis=-1, keepdims=True)
    result *= a
    return result


class _Forward(Protocol):
    def __call__(self, z: FloatArray, out: FloatArray | None = None) -> FloatArray: ...


_Derivative = Callable[[FloatArray], FloatArray]


class Activation(NamedTuple):
    """An activation by name: its ``function`` and its ``backward`` (g ↦ g ⊙ f′(z), from a)."""

    name: str
    function: _Forward
    backward: Callable[[FloatArray, FloatArray], FloatArray]


def _times_derivative(derivative: _Derivative, a: FloatArray, g: FloatArray) -> FloatArray:
    """g ⊙ f′(z) for an elementwise f, written into g."""
    g *= derivative(a)
    return g


def _elementwise(name: str, function: _Forward, derivative: _Derivative) -> Activation:
    """The Activation record of an elementwise function and its derivative."""
    return Activation(name, function, partial(_times_derivative, derivative))


HIDDEN_ACTIVATIONS: tuple[str, ...] = ("identity", "relu", "sigmoid", "tanh")
"""The names allowed for ``activation`` (every layer but the output layer)."""

OUTPUT_ACTIVATIONS: tuple[str, ...] = ("identity", "relu", "sigmoid", "softmax", "tanh")
"""The names allowed for ``output_activation``."""

ACTIVATIONS: Mapping[str, Activation] = {
    "identity": _elementwise("identity", identity, identity_derivative),
    "relu": _elementwise("relu", relu, relu_derivative),
    "sigmoid": _elementwise("sigmoid", sigmoid, sigmoid_derivative),
    "softmax": Activation("softmax", softmax, softmax_backward),
    "tanh": _elementwise("tanh", tanh, tanh_derivative),
}
"""Every activation by name."""


# --- complex arguments, for complex-step differentiation ---------------------------------------
# The complex step needs f(z + ih) for a tiny h, so each function must be analytic in z: no
# abs, no comparison of complex values, no conjugate. The real part decides the branch.


def holomorphic_relu(z: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """relu(z) = z · [Re z > 0]: z on the positive side, 0 on the other (complex z allowed)."""
    result: FloatArray = np.multiply(z, z.real > 0, out=out)
    return result


def holomorphic_softmax(z: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """softmax(z) along the last axis, less the row maximum of Re z (complex z allowed)."""
    result: FloatArray = np.subtract(z, z.real.max(axis=-1, keepdims=True), out=out)
    np.exp(result, out=result)
    result /= result.sum(axis=-1, keepdims=True)
    return result


def holomorphic_log_softmax(z: FloatArray) -> FloatArray:
    """log softmax(z) along the last axis, less the row maximum of Re z (complex z allowed)."""
    shifted: FloatArray = z - z.real.max(axis=-1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return shifted


HOLOMORPHIC_ACTIVATIONS: Mapping[str, _Forward] = {
    "identity": identity,
    "relu": holomorphic_relu,
    "sigmoid": sigmoid,
    "softmax": holomorphic_softmax,
    "tanh": tanh,
}
"""Every activation by name, as a function that accepts complex z and is analytic in it."""
