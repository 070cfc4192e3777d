"""The tutorial's backpropagation, one example at a time, step by step.

Vectors are 1-D: a(l) of shape (s_l,), z(l) and δ(l) alike. In the code list index k stands for
layer k + 1, so ``layers[k]`` is (W(k+1), b(k+1)) and ``a[k]`` is a(k+1). `MLP` validates the
arguments and calls `cost_and_gradient_loop`; its vectorized twin is `backprop_ref.vectorized`.
"""

from __future__ import annotations

import numpy as np

from backprop_ref._types import FloatArray, Layer
from backprop_ref.losses import NetworkFunctions, decay_term

__all__ = ["cost_and_gradient_loop", "deltas_example", "forward_example"]


def forward_example(
    functions: NetworkFunctions, layers: list[Layer], x: FloatArray
) -> tuple[list[FloatArray], FloatArray]:
    """a(1) = x, ..., a(L) by z(l+1) = W(l) a(l) + b(l), a(l+1) = f(z(l+1)); and z(L)."""
    a = [x]
    for W, b in layers[:-1]:
        a.append(functions.hidden.function(W @ a[-1] + b))
    W, b = layers[-1]
    z_out = W @ a[-1] + b
    a.append(functions.output.function(z_out))
    return a, z_out


def deltas_example(
    functions: NetworkFunctions,
    layers: list[Layer],
    a: list[FloatArray],
    z_out: FloatArray,
    y: FloatArray,
) -> list[FloatArray]:
    """δ(2), ..., δ(L): δ(L) = ∂J(W, b; x, y)/∂z(L), then δ(l) = (W(l)ᵀ δ(l+1)) ⊙ f′(z(l))."""
    deltas = [functions.loss.delta(z_out, a[-1], y)]
    for k in range(len(layers) - 1, 0, -1):  # l = L−1, ..., 2; no δ for the input layer
        deltas.insert(0, functions.hidden.backward(a[k], layers[k].W.T @ deltas[0]))
    return deltas


def cost_and_gradient_loop(
    functions: NetworkFunctions, layers: list[Layer], X: FloatArray, Y: FloatArray, *, decay: float
) -> tuple[float, list[Layer]]:
    """J and its gradient for validated X (m, s_1) and Y (m, s_L); ``decay`` is c = λ or λ/m."""
    m = X.shape[0]
    # 1. ΔW(l) := 0, Δb(l) := 0 for every l.
    Delta_W = [np.zeros_like(W) for W, _ in layers]
    Delta_b = [np.zeros_like(b) for _, b in layers]
    data_cost = np.zeros((), X.dtype)
    # 2. For i = 1..m: backpropagation on (x_i, y_i) alone, added into ΔW and Δb.
    for x, y in zip(X, Y, strict=True):
        a, z_out = forward_example(functions, layers, x)
        data_cost += functions.loss.cost(z_out, a[-1], y)
        for k, delta in enumerate(deltas_example(functions, layers, a, z_out, y)):
            Delta_W[k] += np.outer(delta, a[k])  # ∇W(l) J(W, b; x, y) = δ(l+1) a(l)ᵀ
            Delta_b[k] += delta  # ∇b(l) J(W, b; x, y) = δ(l+1)
    # 3. Average over the examples; weight decay on W only.
    grads = [
        Layer(dW / m + decay * W, db / m)
        for dW, db, (W, _) in zip(Delta_W, Delta_b, layers, strict=True)
    ]
    return float(data_cost / m + decay_term(layers, decay)), grads
