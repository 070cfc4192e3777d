"""The network one layer at a time: each layer's forward step, its backward step, the loss's δ.

The seeds' δ recursion is a chain of vector-Jacobian products. Layer l maps A(l) (m, s_l) to
A(l+1) = f(A(l) W(l)ᵀ + b(l)) (m, s_{l+1}); its backward step takes G = ∂J/∂A(l+1), of the
same shape, and returns the cotangents of its inputs::

    δ = G ⊙ f′(Z(l+1))       ∂J/∂W(l) = δᵀ A(l)      ∂J/∂b(l) = Σ_i δ_i      ∂J/∂A(l) = δ W(l)

The last layer stops at Z(L) = A(L−1) W(L−1)ᵀ + b(L−1) (f′ = 1 above), because the loss's output
δ is taken with respect to Z(L): :func:`output_delta` is ∂J_data/∂Z(L) of :func:`data_cost`,
``(1/m) Σ_i loss(z_i, y_i)``. Each step can then be checked alone (with
``gradcheck.check_vjp`` and ``gradcheck.check_jacobian``), and a bug of the catalogue
(`backprop_ref.bugs`) that lives in one step fails there.

Example
-------
>>> import numpy as np
>>> from backprop_ref import MLP
>>> mlp = MLP([2, 3, 1])
>>> params = mlp.init_params(rng=0, scale=1.0)
>>> X, Y = np.eye(2), np.array([[0.0], [1.0]])
>>> [s.name for s in steps(mlp, params, X)]
['layer 1 (sigmoid)', 'layer 2 (output, to Z(L))']
>>> out = forward_all(mlp, params, X)
>>> bool(np.isclose(data_cost(mlp, out, Y), mlp.cost(params, X, Y)))
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from backprop_ref import bugs
from backprop_ref._types import FloatArray, Layer
from backprop_ref.network import MLP, ParamsLike

__all__ = [
    "LAYER_BUGS", "Step", "backward_step", "data_cost", "forward_all", "forward_step",
    "output_delta", "steps",
]

Derivative = Callable[[FloatArray], FloatArray]
"""f′ from a = f(z), elementwise."""

LAYER_BUGS: tuple[str, ...] = (
    "hidden-no-derivative", "wrong-activation-derivative", "derivative-at-a",
    "output-no-derivative",
)
"""The bugs of `backprop_ref.bugs.BUGS` living in one step: the hidden steps' f′, the loss's δ."""


def forward_step(W: FloatArray, b: FloatArray, A: FloatArray,
                 function: Callable[..., FloatArray] | None) -> FloatArray:
    """``f(A Wᵀ + b)``, (m, s_{l+1}) from A (m, s_l), W (s_{l+1}, s_l), b (s_{l+1},).

    ``function`` None is the identity (the last layer, which stops at Z(L)).
    """
    z = A @ W.T + b
    return z if function is None else function(z)


def backward_step(W: FloatArray, b: FloatArray, A: FloatArray, G: FloatArray,
                  function: Callable[..., FloatArray] | None,
                  derivative: Derivative | None) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(∂J/∂W, ∂J/∂b, ∂J/∂A)`` from ``G = ∂J/∂A(l+1)`` (the module's formulas).

    ``derivative`` gives f′ from a = f(z) (None: f′ = 1, the last layer).
    """
    a = forward_step(W, b, A, function)
    delta = G if derivative is None else G * derivative(a)  # (m, s_{l+1})
    return delta.T @ A, delta.sum(axis=0), delta @ W


def data_cost(mlp: MLP, z: FloatArray, Y: FloatArray) -> float:
    """``J_data = (1/m) Σ_i loss(z_i, y_i)`` of the output pre-activations z = Z(L) (m, s_L)."""
    loss, output = mlp._functions.loss, mlp._functions.output
    total = float(loss.cost(z, output.function(z), Y))
    return total / int(z.shape[0])


def output_delta(mlp: MLP, z: FloatArray, Y: FloatArray, *, bug: str | None = None) -> FloatArray:
    """``∂J_data/∂Z(L)`` (m, s_L): the loss's δ(L), divided by m as J_data averages.

    ``bug="output-no-derivative"`` returns the δ of that bug of the catalogue instead.
    """
    functions = mlp._functions
    a = functions.output.function(z)
    if bug == "output-no-derivative":
        delta = a - Y if mlp.loss == "squared" else functions.output.backward(a, a - Y)
    else:
        delta = functions.loss.delta(z, a, Y)
    return np.asarray(delta / z.shape[0])


class Step(NamedTuple):
    """One layer as a function of its inputs ``{"W(l)", "b(l)", "A(l)"}`` and its VJP."""

    name: str
    """E.g. ``"layer 1 (sigmoid)"``."""
    point: dict[str, FloatArray]
    """The inputs at which the network evaluates the step."""
    forward: Callable[[dict[str, FloatArray]], FloatArray]
    """``A(l+1)`` of the inputs (Z(L) for the last layer)."""
    backward: Callable[[dict[str, FloatArray], FloatArray], dict[str, FloatArray]]
    """``vjp(inputs, G)``: the cotangents of the inputs, keyed like them."""


def _hidden_derivative(mlp: MLP, bug: str | None) -> Derivative:
    """The hidden f′ from a, as the backward pass computes it (or as ``bug`` does)."""
    name = mlp.activation
    own = bugs._DERIVATIVES[name]
    if bug == "hidden-no-derivative":
        return np.ones_like
    if bug == "wrong-activation-derivative":
        return bugs._DERIVATIVES[bugs._WRONG_DERIVATIVE[name]]
    if bug == "derivative-at-a":
        hidden = mlp._functions.hidden.function
        return lambda a: own(hidden(a))
    return own


def _step(number: int, layer: Layer, A: FloatArray, function: Callable[..., FloatArray] | None,
          derivative: Derivative | None, name: str) -> Step:
    """The Step of layer ``number`` (1-based) at its inputs."""
    keys = (f"W({number})", f"b({number})", f"A({number})")

    def forward(p: dict[str, FloatArray]) -> FloatArray:
        return forward_step(p[keys[0]], p[keys[1]], p[keys[2]], function)

    def backward(p: dict[str, FloatArray], G: FloatArray) -> dict[str, FloatArray]:
        grads = backward_step(p[keys[0]], p[keys[1]], p[keys[2]], G, function, derivative)
        return dict(zip(keys, grads, strict=True))

    point = dict(zip(keys, (np.array(layer.W), np.array(layer.b), np.array(A)), strict=True))
    return Step(name, point, forward, backward)


def forward_all(mlp: MLP, params: ParamsLike, X: Any) -> FloatArray:
    """Z(L) of the inputs X (m, s_1), one forward step after the other."""
    A = np.asarray(X, dtype=float)
    for s in steps(mlp, params, A):
        A = s.forward(s.point)
    return A


def steps(mlp: MLP, params: ParamsLike, X: Any, *, bug: str | None = None) -> list[Step]:
    """The layers' steps at the activations the inputs X (m, s_1) reach; ``bug`` in LAYER_BUGS."""
    if bug is not None and bug not in LAYER_BUGS:
        raise ValueError(f"`bug` is {bug!r}; it must be None or one of {list(LAYER_BUGS)}")
    layers: Sequence[Layer] = [Layer(np.asarray(W), np.asarray(b)) for W, b in params]
    hidden = mlp._functions.hidden.function
    derivative = _hidden_derivative(mlp, bug)
    A, out = np.asarray(X, dtype=float), []
    for number, layer in enumerate(layers, start=1):
        last = number == len(layers)
        function = None if last else hidden
        name = (f"layer {number} (output, to Z(L))" if last
                else f"layer {number} ({mlp.activation})")
        out.append(_step(number, layer, A, function, None if last else derivative, name))
        A = forward_step(layer.W, layer.b, A, function)
    return out
