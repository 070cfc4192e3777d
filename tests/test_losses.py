"""Losses: each cost against its textbook formula, each δ(L) against a difference quotient in z."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_ref._types import Layer
from backprop_ref.activations import ACTIVATIONS, OUTPUT_ACTIVATIONS
from backprop_ref.losses import decay_term, make_loss

Z = np.array([[0.4, -1.3, 2.1], [-0.2, 0.9, -2.4]])  # (m, K) = (2, 3)
Y = np.array([[0.0, 1.0, 0.25], [1.0, 0.0, 0.6]])  # in [0, 1]; rows not distributions
PAIRS = [("squared", name) for name in OUTPUT_ACTIVATIONS] + [
    ("cross_entropy", "sigmoid"),
    ("cross_entropy", "softmax"),
]


def textbook_cost(loss: str, output: str, z: np.ndarray, y: np.ndarray) -> float:
    """The sources' formulas on h = f(z), written out with naive exponentials."""
    if output == "softmax":
        h = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    else:
        h = {
            "sigmoid": 1 / (1 + np.exp(-z)),
            "tanh": np.tanh(z),
            "relu": np.maximum(z, 0),
            "identity": z,
        }[output]
    if loss == "squared":
        return float(0.5 * np.sum((h - y) ** 2))
    if output == "sigmoid":
        return float(-np.sum(y * np.log(h) + (1 - y) * np.log(1 - h)))
    return float(-np.sum(y * np.log(h)))


@pytest.mark.parametrize(("loss", "output"), PAIRS)
def test_cost_is_the_textbook_formula(loss: str, output: str) -> None:
    activation = ACTIVATIONS[output]
    cost = make_loss(loss, activation).cost(Z, activation.function(Z), Y)
    assert float(cost) == pytest.approx(textbook_cost(loss, output, Z, Y), rel=1e-14)


@pytest.mark.parametrize(("loss", "output"), PAIRS)
def test_delta_is_the_derivative_of_the_cost_in_z(loss: str, output: str) -> None:
    activation = ACTIVATIONS[output]
    rule = make_loss(loss, activation)
    h = 1e-6
    numerical = np.zeros_like(Z)
    for index in np.ndindex(Z.shape):
        step = np.zeros_like(Z)
        step[index] = h
        up, down = Z + step, Z - step
        numerical[index] = (
            rule.cost(up, activation.function(up), Y)
            - rule.cost(down, activation.function(down), Y)
        ) / (2 * h)
    delta = rule.delta(Z, activation.function(Z), Y)
    np.testing.assert_allclose(delta, numerical, rtol=1e-7, atol=1e-9)


def test_softmax_cross_entropy_delta_is_a_minus_y_for_distributions() -> None:
    softmax = ACTIVATIONS["softmax"]
    y = np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])
    a = softmax.function(Z)
    np.testing.assert_allclose(make_loss("cross_entropy", softmax).delta(Z, a, y), a - y)


@pytest.mark.parametrize(
    ("output", "z", "y", "expected"),
    [
        ("sigmoid", [[1e3, -1e3]], [[0.0, 1.0]], 2e3),  # −log(1 − σ(1e3)) = −log σ(−1e3) = 1e3
        ("sigmoid", [[1e3, -1e3]], [[1.0, 0.0]], 0.0),
        ("sigmoid", [[40.0]], [[1.0]], np.exp(-40.0)),  # log(1 + e^−40), not 0 and not noise
        ("softmax", [[1e3, -1e3]], [[0.0, 1.0]], 2e3),
        ("softmax", [[1e3, -1e3]], [[1.0, 0.0]], 0.0),
    ],
)
def test_cross_entropy_at_saturation_is_exact_not_clipped(
    output: str, z: list[list[float]], y: list[list[float]], expected: float
) -> None:
    activation = ACTIVATIONS[output]
    z_array, y_array = np.array(z), np.array(y)
    rule = make_loss("cross_entropy", activation)
    a = activation.function(z_array)
    assert float(rule.cost(z_array, a, y_array)) == pytest.approx(expected, rel=1e-15, abs=0)
    assert np.all(np.isfinite(rule.delta(z_array, a, y_array)))


def test_cross_entropy_rejects_outputs_that_are_not_probabilities() -> None:
    for name in ("identity", "relu", "tanh"):
        with pytest.raises(ValueError, match=rf"`output_activation` is '{name}'"):
            make_loss("cross_entropy", ACTIVATIONS[name])


def test_decay_term_is_half_c_times_the_squared_weights_only() -> None:
    layers = [
        Layer(np.array([[1.0, -2.0]]), np.array([100.0])),
        Layer(np.array([[3.0]]), np.array([-7.0])),
    ]
    assert decay_term(layers, 0.5) == pytest.approx(0.25 * (1 + 4 + 9), rel=1e-15)
    assert decay_term(layers, 0.0) == 0.0
