"""A catalogue of classic backpropagation bugs, as deliberately broken gradients.

Each `Bug` has a name, a one-line description and a function ``(mlp, params, X, Y) -> grads``
that returns the gradient as a program with that bug would: either the correct gradient of
`MLP.cost_and_gradient` transformed (a sign flipped, the decay term dropped), or a flagged
variant of the vectorized backward pass (`backprop_ref.vectorized`) fed a wrong output error or
a wrong f′. They exist to test gradient checkers: a checker must catch every one of them.

Some bugs change nothing for some problems: the decay bugs when λ = 0, a missing 1/m when
m = 1, a missing f′ when f is the identity. `plant` measures the relative size of each bug,
‖g_bug − g‖ / ‖g‖, so that callers can report the bugs below a threshold as not applicable.

Examples
--------
>>> import numpy as np
>>> from backprop_ref import MLP
>>> mlp = MLP([2, 3, 1], weight_decay=0.0)
>>> params = mlp.init_params(rng=0, scale=1.0)
>>> X, Y = np.eye(2), np.ones((2, 1))  # X: (2, 2), Y: (2, 1)
>>> planted = {p.bug.name: p for p in plant(mlp, params, X, Y)}
>>> planted["no-decay"].effect, planted["factor-2"].effect  # λ = 0: no decay to forget
(0.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from backprop_ref import vectorized
from backprop_ref._types import FloatArray, Layer
from backprop_ref.activations import (
    Activation,
    identity_derivative,
    relu_derivative,
    sigmoid_derivative,
    tanh_derivative,
)
from backprop_ref.losses import squared_error_delta
from backprop_ref.network import MLP, ParamsLike

__all__ = ["BUGS", "Bug", "PlantedBug", "plant", "relative_effect"]

BrokenGradient = Callable[[MLP, ParamsLike, npt.ArrayLike, npt.ArrayLike], list[Layer]]
_Derivative = Callable[[FloatArray], FloatArray]

_DERIVATIVES: dict[str, _Derivative] = {
    "identity": identity_derivative,
    "relu": relu_derivative,
    "sigmoid": sigmoid_derivative,
    "tanh": tanh_derivative,
}
_WRONG_DERIVATIVE = {"sigmoid": "tanh", "tanh": "sigmoid", "relu": "identity", "identity": "relu"}
"""The derivative mistaken for each hidden activation's own (tanh′ for a sigmoid layer...)."""


class Bug(NamedTuple):
    """A classic backprop bug: ``gradient(mlp, params, X, Y)`` returns the broken gradient."""

    name: str
    description: str
    gradient: BrokenGradient


class PlantedBug(NamedTuple):
    """A bug applied to one problem: its broken gradient and its size relative to the true one."""

    bug: Bug
    grads: list[Layer]
    effect: float
    """‖g_bug − g‖ / ‖g‖ over all parameters (0 when the bug changes nothing)."""


class _Problem(NamedTuple):
    """A validated problem, its correct gradient, the decay coefficient c and m."""

    mlp: MLP
    layers: list[Layer]
    X: FloatArray
    Y: FloatArray
    decay: float
    m: int
    grads: list[Layer]


def _problem(mlp: MLP, params: ParamsLike, X: npt.ArrayLike, Y: npt.ArrayLike) -> _Problem:
    """Validate the arguments (as `MLP.cost_and_gradient` does) and compute the true gradient."""
    layers, inputs, targets, decay = mlp._check(params, X, Y)
    _, grads = mlp.cost_and_gradient(layers, inputs, targets)
    return _Problem(mlp, layers, inputs, targets, decay, inputs.shape[0], grads)


def _other_decay(pb: _Problem) -> float:
    """c of the other decay convention: λ/m for "ufldl", λ for "coursera"."""
    lam = pb.mlp.weight_decay
    return lam / pb.m if pb.mlp.decay_convention == "ufldl" else lam


# --- bugs made by transforming the correct gradient --------------------------------------------


def _map(pb: _Problem, weights: Callable[[Layer, Layer], FloatArray] | None = None,
         biases: Callable[[Layer, Layer], FloatArray] | None = None) -> list[Layer]:
    """New grads: ``weights(grad, layer)`` for each ∂J/∂W, ``biases(...)`` for each ∂J/∂b."""
    return [
        Layer(
            g.W.copy() if weights is None else weights(g, layer),
            g.b.copy() if biases is None else biases(g, layer),
        )
        for g, layer in zip(pb.grads, pb.layers, strict=True)
    ]


def _scaled(factor: float) -> Callable[[_Problem], list[Layer]]:
    """Every gradient multiplied by ``factor``."""
    return lambda pb: _map(pb, lambda g, _: factor * g.W, lambda g, _: factor * g.b)


def _no_decay(pb: _Problem) -> list[Layer]:
    return _map(pb, lambda g, p: g.W - pb.decay * p.W)


def _double_decay(pb: _Problem) -> list[Layer]:
    return _map(pb, lambda g, p: g.W + pb.decay * p.W)


def _decay_on_bias(pb: _Problem) -> list[Layer]:
    return _map(pb, biases=lambda g, p: g.b + pb.decay * p.b)


def _other_convention(pb: _Problem) -> list[Layer]:
    return _map(pb, lambda g, p: g.W + (_other_decay(pb) - pb.decay) * p.W)


def _no_mean(pb: _Problem) -> list[Layer]:
    return _map(pb, lambda g, p: pb.m * (g.W - pb.decay * p.W) + pb.decay * p.W,
                lambda g, _: pb.m * g.b)


def _transposed(pb: _Problem) -> list[Layer]:
    return _map(pb, lambda g, _: g.W.ravel(order="F").reshape(g.W.shape))


def _zeroed_leaf(pb: _Problem) -> list[Layer]:
    grads = _map(pb)
    grads[0].W[...] = 0.0
    return grads


def _one_wrong_element(pb: _Problem) -> list[Layer]:
    grads = _map(pb)
    W = grads[-1].W
    W.flat[np.argmax(np.abs(W))] *= 1.01
    return grads


# --- bugs made by a flagged backward pass ------------------------------------------------------


def _backprop(pb: _Problem, *, derivative: _Derivative | None = None,
              output_delta: Callable[..., FloatArray] | None = None) -> list[Layer]:
    """The vectorized backward pass with the hidden f′ or the output error δ(L) replaced."""
    functions = pb.mlp._functions
    if derivative is not None:
        hidden = functions.hidden
        functions = functions._replace(
            hidden=Activation(hidden.name, hidden.function, lambda a, g: g * derivative(a))
        )
    activations, z_out = vectorized.forward(functions, pb.layers, pb.X)
    delta = (output_delta or functions.loss.delta)(z_out, activations[-1], pb.Y) / pb.m
    return vectorized.backward(functions, pb.layers, activations, delta, decay=pb.decay)


def _no_hidden_derivative(pb: _Problem) -> list[Layer]:
    return _backprop(pb, derivative=np.ones_like)


def _wrong_hidden_derivative(pb: _Problem) -> list[Layer]:
    return _backprop(pb, derivative=_DERIVATIVES[_WRONG_DERIVATIVE[pb.mlp.activation]])


def _derivative_at_a(pb: _Problem) -> list[Layer]:
    hidden = pb.mlp._functions.hidden
    own = _DERIVATIVES[pb.mlp.activation]
    return _backprop(pb, derivative=lambda a: own(hidden.function(a)))


def _no_output_derivative(pb: _Problem) -> list[Layer]:
    if pb.mlp.loss == "squared":
        return _backprop(pb, output_delta=lambda z, a, y: a - y)
    output = pb.mlp._functions.output
    return _backprop(pb, output_delta=lambda z, a, y: squared_error_delta(output, z, a, y))


def _bug(name: str, description: str, broken: Callable[[_Problem], list[Layer]]) -> Bug:
    """A Bug whose gradient validates the problem and hands it to ``broken``."""
    return Bug(name, description, lambda mlp, params, X, Y: broken(_problem(mlp, params, X, Y)))


BUGS: tuple[Bug, ...] = (
    _bug("no-decay", "the weight decay term λW is left out of ∂J/∂W", _no_decay),
    _bug("double-decay", "the weight decay term is added twice (2λW)", _double_decay),
    _bug("decay-on-bias", "the biases are decayed too (∂J/∂b gets λb)", _decay_on_bias),
    _bug("other-decay-convention", "the decay of the other convention (λ vs λ/m)",
         _other_convention),
    _bug("no-1/m", "the data term is summed over the examples, not averaged", _no_mean),
    _bug("hidden-no-derivative", "δ(l) = δ(l+1) W(l), the hidden f′(z) left out",
         _no_hidden_derivative),
    _bug("output-no-derivative", "δ(L) = a − y, f′(z) left out (cross-entropy: the squared-error "
         "δ used instead)", _no_output_derivative),
    _bug("wrong-activation-derivative", "the hidden layers use another activation's f′ (tanh′ "
         "for sigmoid, σ′ for tanh, 1 for relu, relu′ for identity)", _wrong_hidden_derivative),
    _bug("derivative-at-a", "f′ evaluated at a = f(z) instead of at z (σ(a)(1 − σ(a)))",
         _derivative_at_a),
    _bug("sign-flip", "the gradient of the cost's negative (ascent, not descent)", _scaled(-1.0)),
    _bug("factor-2", "every gradient twice too large (a ½ forgotten)", _scaled(2.0)),
    _bug("transposed", "∂J/∂W in column-major order read back row-major (its transpose when W "
         "is square)", _transposed),
    _bug("zeroed-leaf", "∂J/∂W(1) never accumulated: left at zero", _zeroed_leaf),
    _bug("one-wrong-element", "the largest element of the last ∂J/∂W 1% off",
         _one_wrong_element),
)
"""The catalogue, in a fixed order; names are unique."""


def relative_effect(broken: Sequence[Layer], correct: Sequence[Layer]) -> float:
    """‖g_bug − g‖ / ‖g‖ over all arrays; 0 when equal, inf when only ‖g‖ is 0."""
    diff = math.sqrt(sum(float(np.vdot(b - c, b - c)) for bl, cl in zip(broken, correct,
                     strict=True) for b, c in zip(bl, cl, strict=True)))
    norm = math.sqrt(sum(float(np.vdot(c, c)) for layer in correct for c in layer))
    if diff == 0.0:
        return 0.0
    return diff / norm if norm else math.inf


def plant(
    mlp: MLP, params: ParamsLike, X: npt.ArrayLike, Y: npt.ArrayLike,
    bugs: Sequence[Bug] = BUGS,
) -> list[PlantedBug]:
    """Apply each bug to one problem.

    Parameters
    ----------
    mlp : MLP
    params : list of Layer
        W(l) of shape (s_{l+1}, s_l) and b(l) of shape (s_{l+1},), real.
    X : array of shape (m, s_1)
    Y : array of shape (m, s_L)
    bugs : sequence of Bug
        By default the whole catalogue `BUGS`.

    Returns
    -------
    list of PlantedBug
        One per bug, in order: the broken gradient (shaped like ``params``) and its
        `relative_effect` against `MLP.cost_and_gradient`.

    Raises
    ------
    TypeError, ValueError
        As `MLP.cost_and_gradient`.
    """
    _, correct = mlp.cost_and_gradient(params, X, Y)
    out = []
    for bug in bugs:
        grads = bug.gradient(mlp, params, X, Y)
        out.append(PlantedBug(bug, grads, relative_effect(grads, correct)))
    return out
