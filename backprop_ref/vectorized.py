"""Backpropagation on all m examples at once, one matrix product per layer and direction.

Rows are examples: A(l) and Z(l) are (m, s_l), Δ(l) is (m, s_l). In the code list index k stands
for layer k + 1, so ``layers[k]`` is (W(k+1), b(k+1)) and ``activations[k]`` is A(k+1). `MLP`
validates the arguments and calls these; the tutorial's per-example twin is `backprop_ref.loop`.
Elementwise work is done in place on arrays made here, never on the caller's.
"""

from __future__ import annotations

from backprop_ref._types import FloatArray, Layer
from backprop_ref.losses import NetworkFunctions, decay_term

__all__ = ["backward", "cost", "cost_and_gradient", "forward"]


def forward(
    functions: NetworkFunctions, layers: list[Layer], X: FloatArray
) -> tuple[list[FloatArray], FloatArray]:
    """A(1) = X, ..., A(L) by Z(l+1) = A(l) W(l)ᵀ + b(l), A(l+1) = f(Z(l+1)); and Z(L)."""
    activations = [X]
    for W, b in layers[:-1]:
        z = activations[-1] @ W.T
        z += b
        activations.append(functions.hidden.function(z, out=z))
    W, b = layers[-1]
    z_out = activations[-1] @ W.T
    z_out += b
    activations.append(functions.output.function(z_out))  # a new array: Z(L) is kept
    return activations, z_out


def backward(
    functions: NetworkFunctions,
    layers: list[Layer],
    activations: list[FloatArray],
    delta: FloatArray,
    *,
    decay: float,
) -> list[Layer]:
    """∇W(l) = Δ(l+1)ᵀ A(l) + cW(l), ∇b(l) = Σ_i Δ(l+1)_i, from Δ(L) = δ(L)/m down.

    Δ(l) = (Δ(l+1) W(l)) ⊙ f′(Z(l)) for l = L−1..2; none for the input layer. c = ``decay``.
    """
    grads = []
    for k in range(len(layers) - 1, -1, -1):
        W, a = layers[k].W, activations[k]
        grad_W = delta.T @ a  # (s_{k+2}, s_{k+1})
        if decay:
            grad_W += decay * W
        grads.append(Layer(grad_W, delta.sum(axis=0)))
        if k > 0:
            delta = functions.hidden.backward(a, delta @ W)  # (m, s_{k+1})
    grads.reverse()
    return grads


def cost(
    functions: NetworkFunctions, layers: list[Layer], X: FloatArray, Y: FloatArray, *, decay: float
) -> float:
    """J = (1/m) Σ_i loss(h(x_i), y_i) + D for validated X (m, s_1) and Y (m, s_L)."""
    activations, z_out = forward(functions, layers, X)
    data_cost = functions.loss.cost(z_out, activations[-1], Y) / X.shape[0]
    return float(data_cost + decay_term(layers, decay))


def cost_and_gradient(
    functions: NetworkFunctions, layers: list[Layer], X: FloatArray, Y: FloatArray, *, decay: float
) -> tuple[float, list[Layer]]:
    """J and its gradient for validated X (m, s_1) and Y (m, s_L); ``decay`` is c = λ or λ/m."""
    m = X.shape[0]
    activations, z_out = forward(functions, layers, X)
    data_cost = functions.loss.cost(z_out, activations[-1], Y) / m
    delta = functions.loss.delta(z_out, activations[-1], Y)  # δ(L), (m, s_L)
    delta /= m
    grads = backward(functions, layers, activations, delta, decay=decay)
    return float(data_cost + decay_term(layers, decay)), grads
