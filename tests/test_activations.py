"""Activations: each derivative against a difference quotient, and the numerics at the extremes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backprop_ref.activations import (
    ACTIVATIONS,
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    log_softmax,
    sigmoid,
    softmax,
    softmax_backward,
)

ELEMENTWISE = HIDDEN_ACTIVATIONS
# Away from relu's kink at 0, and from the saturated tails where the difference quotient is noise.
Z = np.array([-6.0, -2.5, -1.0, -0.3, 0.2, 0.7, 1.5, 4.0])


def test_the_names_match_the_design() -> None:
    assert set(HIDDEN_ACTIVATIONS) == {"identity", "relu", "sigmoid", "tanh"}
    assert set(OUTPUT_ACTIVATIONS) == set(HIDDEN_ACTIVATIONS) | {"softmax"}
    assert set(ACTIVATIONS) == set(OUTPUT_ACTIVATIONS)
    assert all(ACTIVATIONS[name].name == name for name in ACTIVATIONS)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_backward_is_the_derivative_times_g(name: str) -> None:
    activation = ACTIVATIONS[name]
    h = 1e-6
    numerical = (activation.function(Z + h) - activation.function(Z - h)) / (2 * h)
    g = np.linspace(-2.0, 3.0, Z.size)
    analytic = activation.backward(activation.function(Z), g.copy())
    np.testing.assert_allclose(analytic, g * numerical, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", OUTPUT_ACTIVATIONS)
def test_out_argument_gives_the_same_values_in_place(name: str) -> None:
    function = ACTIVATIONS[name].function
    z = np.array([[-800.0, -3.0, 0.0, 2.0, 800.0], [1.0, -1.0, 0.5, 0.0, -0.5]])
    expected = function(z)
    buffer = z.copy()
    result = function(buffer, out=buffer)
    assert result is buffer
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(z[0], [-800.0, -3.0, 0.0, 2.0, 800.0])  # z itself untouched


@pytest.mark.parametrize("name", OUTPUT_ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_keep_the_dtype(name: str, dtype: type[np.floating]) -> None:
    activation = ACTIVATIONS[name]
    z = np.array([[-1.0, 0.5, 2.0]], dtype=dtype)
    a = activation.function(z)
    assert a.dtype == dtype
    assert activation.backward(a, np.ones_like(a)).dtype == dtype


def test_sigmoid_is_accurate_in_both_tails() -> None:
    z = np.array([-700.0, -40.0, -20.0, -1.0, 0.0, 1.0, 20.0, 40.0, 700.0])
    exact = np.array([1.0 / (1.0 + math.exp(-v)) if v > -30 else math.exp(v) for v in z])
    # Relative accuracy also where σ(z) ≈ e^z is tiny: 1/2 (1 + tanh(z/2)) would lose it there.
    np.testing.assert_allclose(sigmoid(z), exact, rtol=1e-15, atol=0)


def test_sigmoid_saturates_without_overflow_warnings() -> None:
    for dtype in (np.float32, np.float64):
        z = np.array([-1e3, -800.0, -80.0, 80.0, 800.0, 1e3], dtype=dtype)
        a = sigmoid(z)
        assert a.dtype == dtype
        assert np.all((a >= 0) & (a <= 1))
        np.testing.assert_allclose(a, [0.0, 0.0, np.exp(-80.0), 1.0, 1.0, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(sigmoid(np.array([-1e308, 1e308])), [0.0, 1.0])


def test_softmax_rows_are_distributions_and_shift_invariant() -> None:
    z = np.array([[1.0, 2.0, 3.0], [-1e3, 0.0, 1e3], [5.0, 5.0, 5.0]])
    a = softmax(z)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(a[0], np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum())
    np.testing.assert_array_equal(a[1], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(a[2], 1 / 3, rtol=1e-15)
    np.testing.assert_allclose(softmax(z[:1] + 700.0), a[:1], rtol=1e-14)


def test_log_softmax_is_finite_where_softmax_underflows() -> None:
    z = np.array([[1.0, 2.0, 3.0], [-1e3, 0.0, 1e3]])
    logs = log_softmax(z)
    np.testing.assert_allclose(logs[0], np.log(softmax(z[:1])[0]), rtol=1e-14)
    np.testing.assert_allclose(logs[1], [-2e3, -1e3, 0.0], rtol=1e-15)


def test_softmax_backward_is_the_jacobian_product() -> None:
    z = np.array([0.3, -1.2, 2.0, 0.0])
    a = softmax(z)
    jacobian = np.diag(a) - np.outer(a, a)  # ∂a_k/∂z_j = a_k (δ_kj − a_j)
    g = np.array([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(softmax_backward(a, g), g @ jacobian, rtol=1e-14, atol=1e-16)
    h = 1e-6
    columns = [(softmax(z + h * e) - softmax(z - h * e)) / (2 * h) for e in np.eye(4)]
    np.testing.assert_allclose(softmax_backward(a, g), np.array(columns) @ g, rtol=1e-8)
