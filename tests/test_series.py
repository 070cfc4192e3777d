"""The Taylor-series paths of the structured evaluator: the exact path's values, to rounding."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from backprop_ref import MLP, Layer
from backprop_ref.fast import _moves, _series

SIGMOID_DERIVATIVES = [  # the brief's closed forms, in a = σ(z)
    lambda a: a * (1 - a),
    lambda a: a * (1 - a) * (1 - 2 * a),
    lambda a: a * (1 - a) * (1 - 6 * a + 6 * a**2),
    lambda a: a * (1 - a) * (1 - 2 * a) * (1 - 12 * a + 12 * a**2),
]


def test_sigmoid_derivative_polynomials_match_the_closed_forms() -> None:
    a = np.linspace(0.0, 1.0, 101)
    polys = _series.lifts(np.array([0.0, 1.0]), _series.SMOOTH["sigmoid"], 4)
    for p, closed in zip(polys[1:], SIGMOID_DERIVATIVES, strict=True):
        np.testing.assert_allclose(np.polynomial.polynomial.polyval(a, p), closed(a), atol=1e-15)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_derivatives_match_the_function_and_the_bounds_hold(name: str) -> None:
    smooth = _series.SMOOTH[name]
    f = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh}[name]
    z, h = np.linspace(-6, 6, 41), 1e-3
    polys = _series.lifts(np.array([0.0, 1.0]), smooth, 5)
    for n in range(1, 5):  # the n-th derivative against a central difference of the (n−1)-th
        lower = np.polynomial.polynomial.polyval(f(z + h), polys[n - 1])
        upper = np.polynomial.polynomial.polyval(f(z - h), polys[n - 1])
        numerical = (lower - upper) / (2 * h)
        np.testing.assert_allclose(np.polynomial.polynomial.polyval(f(z), polys[n]), numerical,
                                   atol=1e-5)
    grid = np.polynomial.polynomial.polyval(np.tanh(np.linspace(-20, 20, 200001)) if name ==
                                            "tanh" else f(np.linspace(-40, 40, 200001)), polys[5])
    assert _series.sup_abs(polys[5], smooth) == pytest.approx(np.max(np.abs(grid)), rel=1e-6)
    assert _series.sup_abs(polys[5], smooth) == pytest.approx(
        {"sigmoid": 0.25, "tanh": 16.0}[name], rel=1e-12)


def _network(hidden: str, output: str, loss: str, sizes: list[int], dtype: Any) -> Any:
    mlp = MLP(sizes, activation=hidden, output_activation=output, loss=loss, weight_decay=0.1)
    params = [Layer(W.astype(dtype), b.astype(dtype))
              for W, b in mlp.init_params(rng=3, scale=0.6)]
    rng = np.random.default_rng(4)
    X, Y = rng.random((7, sizes[0])), rng.random((7, sizes[-1]))
    leaves = [a for layer in params for a in layer]
    return mlp.objective(X, Y), leaves


def _evaluators(objective: Any, leaves: list[Any]) -> tuple[Any, Any]:
    series = objective.gradcheck_evaluator(leaves, None, ())
    exact = objective.gradcheck_evaluator(leaves, None, ())
    exact._series = False
    return series, exact


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    original = _moves._exact_costs

    def counted(st: Any, k: int, rows: Any, change: Any) -> Any:
        calls[0] += len(rows)
        return original(st, k, rows, change)

    monkeypatch.setattr(_moves, "_exact_costs", counted)
    return calls


CASES = [
    ("sigmoid", "sigmoid", "squared", [3, 6, 5, 4]),
    ("tanh", "tanh", "squared", [3, 6, 5, 4]),
    ("sigmoid", "sigmoid", "cross_entropy", [3, 6, 5, 5, 4]),
    ("tanh", "identity", "squared", [3, 6, 5, 5, 4]),
    ("tanh", "softmax", "cross_entropy", [3, 6, 5, 4]),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("hidden", "output", "loss", "sizes"), CASES)
def test_series_path_agrees_with_the_exact_path(
    hidden: str, output: str, loss: str, sizes: list[int], dtype: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objective, leaves = _network(hidden, output, loss, sizes, dtype)
    series, exact = _evaluators(objective, leaves)
    size = sum(a.size for a in leaves)
    index = np.arange(size)
    step = float(np.finfo(dtype).eps) ** (1 / 3)
    shift = np.where(index % 2 == 0, step, -step).astype(dtype).astype(np.float64)
    expected = exact.along(index, shift)
    calls = _counting(monkeypatch)
    values = series.along(index, shift)
    rtol = 1e-13 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(values, expected, rtol=rtol)
    if output != "softmax":  # every move took a series; softmax's output layer has none
        assert calls[0] == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden", ["sigmoid", "tanh"])
def test_complex_series_path_agrees_with_the_exact_path(
    hidden: str, dtype: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    objective, leaves = _network(hidden, "sigmoid", "cross_entropy", [3, 6, 5, 4], dtype)
    series, exact = _evaluators(objective, leaves)
    index = np.arange(sum(a.size for a in leaves))
    shift = np.full(len(index), 1e-20 if dtype == np.float64 else 1e-10)
    expected = exact.along_imaginary(index, shift)
    calls = _counting(monkeypatch)
    values = series.along_imaginary(index, shift)
    rtol = 1e-13 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(values.real, expected.real, rtol=rtol)
    np.testing.assert_allclose(values.imag, expected.imag, rtol=100 * rtol,
                               atol=rtol * np.max(np.abs(expected.imag)))
    assert calls[0] == 0


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh"])
def test_guard_falls_back_to_the_exact_path_for_big_steps(
    hidden: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objective, leaves = _network(hidden, "sigmoid", "squared", [3, 6, 5, 4], np.float64)
    series, exact = _evaluators(objective, leaves)
    index = np.arange(sum(a.size for a in leaves))
    shift = np.full(len(index), 6e-3)  # about Richardson's base step
    expected = exact.along(index, shift)
    calls = _counting(monkeypatch)
    np.testing.assert_allclose(series.along(index, shift), expected, rtol=1e-13)
    assert 0 < calls[0] <= len(index)
    calls[0] = 0
    series.along(index, np.full(len(index), 0.5))
    assert calls[0] == len(index)


def test_limits_follow_the_lagrange_bound() -> None:
    a = np.random.default_rng(0).random((4, 3))
    W, W_next = np.ones((3, 2)), np.ones((2, 3))
    hidden = _series.hidden_series("sigmoid", a, W, W_next, 2.0**-52)
    bound = 0.125  # sup|σ‴|: order 2 leaves σ‴ D³/3!
    assert hidden.limits[1] == pytest.approx((0.01 * 2.0**-52 * 6 / bound) ** (1 / 3))
    assert math.isinf(_series.hidden_series("identity", a, W, W_next, 2.0**-52).limits[0])
