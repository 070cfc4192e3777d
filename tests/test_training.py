"""train: batch gradient descent learns XOR; the steps and the history are what they claim."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from backprop_ref import MLP, Layer, flatten, train

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def test_learns_xor() -> None:
    mlp = MLP([2, 3, 1])
    start = mlp.init_params(rng=0, scale=1.0)
    params, history = train(mlp, start, XOR_X, XOR_Y, learning_rate=5.0, epochs=1000)
    assert history[-1] < 0.01 * history[0]
    h = mlp.predict(params, XOR_X)
    np.testing.assert_array_equal(h > 0.5, XOR_Y > 0.5)
    assert np.all(np.abs(h - XOR_Y) < 0.2)


def test_history_has_the_cost_before_and_after_every_step() -> None:
    mlp = MLP([2, 2, 1], loss="cross_entropy", weight_decay=1e-3)
    start = mlp.init_params(rng=1, scale=0.5)
    params, history = train(mlp, start, XOR_X, XOR_Y, learning_rate=0.5, epochs=7)
    assert len(history) == 8 and all(type(cost) is float for cost in history)
    assert history[0] == mlp.cost(start, XOR_X, XOR_Y)
    assert history[-1] == mlp.cost(params, XOR_X, XOR_Y)
    assert all(later < earlier for earlier, later in itertools.pairwise(history))  # small α


def test_one_step_is_w_minus_alpha_times_the_gradient() -> None:
    mlp = MLP([2, 3, 1], activation="tanh", weight_decay=0.1, decay_convention="coursera")
    start = mlp.init_params(rng=2, scale=0.5)
    _, grads = mlp.cost_and_gradient(start, XOR_X, XOR_Y)
    params, _ = train(mlp, start, XOR_X, XOR_Y, learning_rate=0.3, epochs=1)
    np.testing.assert_allclose(flatten(params), flatten(start) - 0.3 * flatten(grads), rtol=1e-15)


def test_zero_epochs_returns_a_copy() -> None:
    mlp = MLP([2, 1])
    start = mlp.init_params(rng=3)
    params, history = train(mlp, start, XOR_X, XOR_Y, learning_rate=1.0, epochs=0)
    assert history == [mlp.cost(start, XOR_X, XOR_Y)]
    np.testing.assert_array_equal(flatten(params), flatten(start))
    assert params[0].W is not start[0].W and not np.shares_memory(params[0].W, start[0].W)


def test_train_leaves_the_caller_arrays_unchanged() -> None:
    mlp = MLP([2, 2, 1])
    start = mlp.init_params(rng=4, scale=1.0)
    arrays = [*start[0], *start[1], XOR_X, XOR_Y]
    before = [array.copy() for array in arrays]
    train(mlp, start, XOR_X, XOR_Y, learning_rate=1.0, epochs=5)
    for original, now in zip(before, arrays, strict=True):
        np.testing.assert_array_equal(original, now)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_of_params_is_kept(dtype: type[np.floating]) -> None:
    mlp = MLP([2, 2, 1])
    start = [Layer(W.astype(dtype), b.astype(dtype)) for W, b in mlp.init_params(rng=5)]
    params, _ = train(mlp, start, XOR_X, XOR_Y, learning_rate=1.0, epochs=3)
    assert all(array.dtype == dtype for layer in params for array in layer)
