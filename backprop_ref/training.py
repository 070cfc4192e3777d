"""Batch gradient descent, the tutorial's training loop."""

from __future__ import annotations

import numpy.typing as npt

from backprop_ref._types import Layer
from backprop_ref._validate import check_int, check_params, check_real
from backprop_ref.network import MLP, ParamsLike

__all__ = ["train"]


def train(
    mlp: MLP,
    params: ParamsLike,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
    *,
    learning_rate: float,
    epochs: int,
) -> tuple[list[Layer], list[float]]:
    """Train by batch gradient descent: W ← W − α ∇W J, b ← b − α ∇b J, ``epochs`` times.

    Parameters
    ----------
    mlp : MLP
        The network, its loss and weight decay.
    params : list of Layer
        The starting point: W(l) of shape (s_{l+1}, s_l), b(l) of shape (s_{l+1},). Left
        unchanged.
    X : array of shape (m, s_1)
    Y : array of shape (m, s_L)
    learning_rate : float
        α > 0.
    epochs : int
        The number of steps, each on all m examples; 0 returns a copy of ``params``.

    Returns
    -------
    params : list of Layer
        New arrays, of the dtype of the given ``params``.
    history : list of float
        ``epochs + 1`` costs: J before the first step, then after every step (the last entry
        is the cost of the returned parameters).

    Raises
    ------
    TypeError, ValueError
        As `MLP.cost_and_gradient`; also ``mlp`` not an MLP, α not finite or not > 0,
        ``epochs`` not an int >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> mlp = MLP([2, 1])
    >>> X, Y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0], [0.0]])  # (2, 2), (2, 1)
    >>> params, history = train(mlp, mlp.init_params(rng=0), X, Y, learning_rate=1.0, epochs=50)
    >>> len(history), history[-1] < history[0]
    (51, True)
    """
    if not isinstance(mlp, MLP):
        raise TypeError(f"`mlp` must be an MLP, got {type(mlp).__name__}")
    alpha = check_real("learning_rate", learning_rate, positive=True)
    steps = check_int("epochs", epochs, minimum=0)
    layers = [Layer(W.copy(), b.copy()) for W, b in check_params(params, mlp.layer_sizes)]
    history = []
    for _ in range(steps):
        cost, grads = mlp.cost_and_gradient(layers, X, Y)
        history.append(cost)
        for (W, b), (grad_W, grad_b) in zip(layers, grads, strict=True):
            W -= alpha * grad_W  # in place, on the copies made above
            b -= alpha * grad_b
    history.append(mlp.cost(layers, X, Y))
    return layers, history
