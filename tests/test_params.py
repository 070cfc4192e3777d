"""flatten / unflatten: the unrolling order, the round trip, copies and dtype."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backprop_ref import MLP, Layer, flatten, unflatten

layer_sizes = st.lists(st.integers(1, 6), min_size=2, max_size=4)


def test_order_is_w1_b1_w2_b2_each_in_c_order() -> None:
    params = [
        Layer(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([7.0, 8.0])),
        Layer(np.array([[9.0, 10.0]]), np.array([11.0])),
    ]
    np.testing.assert_array_equal(flatten(params), np.arange(1.0, 12.0))
    fortran = [Layer(np.asfortranarray(W), b) for W, b in params]  # memory layout is irrelevant
    np.testing.assert_array_equal(flatten(fortran), np.arange(1.0, 12.0))


@given(layer_sizes, st.integers(0, 2**32 - 1))
def test_round_trip(sizes: list[int], seed: int) -> None:
    mlp = MLP(sizes)
    params = mlp.init_params(rng=seed, scale=1.0)
    theta = flatten(params)
    assert theta.shape == (sum(b * (a + 1) for a, b in itertools.pairwise(sizes)),)
    back = unflatten(theta, mlp)
    assert all(isinstance(layer, Layer) for layer in back)
    for (W, b), (W_back, b_back) in zip(params, back, strict=True):
        np.testing.assert_array_equal(W_back, W)
        np.testing.assert_array_equal(b_back, b)
    np.testing.assert_array_equal(flatten(back), theta)


def test_results_are_copies() -> None:
    mlp = MLP([2, 3, 1])
    params = mlp.init_params(rng=0)
    theta = flatten(params)
    theta[:] = 0.0
    assert np.all(params[0].W != 0.0)
    theta = np.arange(13.0)
    back = unflatten(theta, mlp)
    back[0].W[...] = -1.0
    np.testing.assert_array_equal(theta, np.arange(13.0))
    assert not any(np.shares_memory(array, theta) for layer in back for array in layer)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flatten_and_unflatten_keep_the_dtype(dtype: type[np.floating]) -> None:
    mlp = MLP([3, 2])
    theta = np.linspace(-1.0, 1.0, 8).astype(dtype)
    params = unflatten(theta, mlp)
    assert all(array.dtype == dtype for layer in params for array in layer)
    assert flatten(params).dtype == dtype
