"""check_directional and check_sampled: cheap partial checks, tested by sabotage."""

from __future__ import annotations

import doctest
import math
import re
from typing import Any

import numpy as np
import pytest

import gradcheck
from backprop_ref import MLP
from backprop_ref.bugs import plant
from gradcheck import partial
from gradcheck import tree as _tree


def _problem() -> tuple[Any, Any, Any]:
    mlp = MLP([4, 6, 3], weight_decay=1e-2)
    params = mlp.init_params(rng=0, scale=0.5)
    rng = np.random.default_rng(1)
    return mlp, params, mlp.objective(rng.random((8, 4)), rng.random((8, 3)))


def test_doctests() -> None:
    assert doctest.testmod(partial, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.mark.parametrize("method", ["central", "forward", "complex"])
@pytest.mark.parametrize("distribution", ["gaussian", "rademacher"])
def test_correct_gradient_passes(method: str, distribution: str) -> None:
    _, params, objective = _problem()
    result = gradcheck.check_directional(objective, params, objective.gradient, rng=3,
                                         method=method, distribution=distribution)
    assert result.passed, str(result)
    assert result.size == 51 and len(result.tolerance) == 4
    assert result.n_evaluations == 1 + 4 * (2 if method == "central" else 1)


def test_planted_bugs_are_caught_and_the_miss_probability_is_reported() -> None:
    mlp, params, objective = _problem()
    X, Y = objective.X, objective.Y
    for planted in plant(mlp, params, X, Y):
        if planted.effect < 1e-6:
            continue
        result = gradcheck.check_directional(objective, params, planted.grads, rng=0)
        assert not result.passed, planted.bug.name
    result = gradcheck.check_directional(objective, params, objective.gradient, rng=0)
    assert "missed with probability < 1%" in str(result)
    e = result.detectable_error()
    assert 0 < result.miss_probability(e) <= 0.01
    assert result.miss_probability(0.0) == 1.0
    assert result.miss_probability(1e3 * e) < result.miss_probability(e)


def test_miss_probability_formula_matches_a_simulation() -> None:
    size, tau, norm = 400, 0.02, 1.0
    rng = np.random.default_rng(5)
    z = rng.standard_normal((20000, size))
    e = np.zeros(size)
    e[:7] = norm / math.sqrt(7)
    seen = np.abs((z / np.linalg.norm(z, axis=1, keepdims=True)) @ e)
    expected = math.erf(tau * math.sqrt(size / 2) / norm)
    assert np.mean(seen <= tau) == pytest.approx(expected, abs=0.01)


def test_float32_points_use_the_displacement_really_taken() -> None:
    x = np.linspace(1.0, 50.0, 300, dtype=np.float32)
    result = gradcheck.check_directional(lambda w: float(np.sum(w.astype(np.float64) ** 2)),
                                         x, lambda w: 2 * w.astype(np.float64))
    assert result.passed, str(result)


def test_sampled_check_reports_which_coordinates() -> None:
    _, params, objective = _problem()
    grads = objective.gradient(params)
    result = gradcheck.check_sampled(objective, params, grads, k=10, rng=2)
    assert result.passed and result.size == 51 and len(result.coordinates) == 10
    assert "10 of 51 coordinates chosen at random" in str(result)
    assert result.names[0].startswith("x[")
    assert np.all(np.diff(result.coordinates) > 0)


def test_sampled_check_names_the_wrong_coordinate() -> None:
    _, params, objective = _problem()
    grads = objective.gradient(params)
    grads[1].b[2] += 1e-3  # coordinate 4*6 + 6 + 3*6 + 2 = 50
    result = gradcheck.check_sampled(objective, params, grads, k=51)
    assert not result.passed
    assert result.mismatches == ("x[1].b[2]",)
    assert "mismatching: x[1].b[2]" in str(result)


def test_sampled_check_reports_only_the_callers_names() -> None:
    rng = np.random.default_rng(4)
    x = {"W": rng.normal(size=(5, 8)), "b": rng.normal(size=5)}
    grad = {"W": 1 - np.tanh(x["W"]) ** 2, "b": 3 * x["b"] ** 2}
    grad["W"][3, 7] *= 1.1
    grad["b"][2] *= 2.0

    def f(p: dict[str, Any]) -> float:
        return float(np.sum(np.tanh(p["W"])) + np.sum(p["b"] ** 3))

    result = gradcheck.check_sampled(f, x, grad, k=45)
    report = str(result)
    assert re.findall(r"x\[\d+\]\[\d+\]", report) == [], report  # no internal x[0][31]
    assert result.result.paths == ("['W']", "['b']")
    assert [(leaf.shape, leaf.size) for leaf in result.result.leaves] == [((5, 8), 40), ((5,), 5)]
    assert [e.name for e in result.result.mismatches] == ["x['b'][2]", "x['W'][3, 7]"]
    assert result.result.leaves[0].worst_index == (3, 7)
    assert result.result.diagnosis[0].message == (
        "2 isolated elements are wrong, every other element passes: x['W'][3, 7], x['b'][2]"
    )
    assert result.mismatches == ("x['W'][3, 7]", "x['b'][2]")


def test_sampled_check_errors_name_the_callers_element() -> None:
    raw, paths, _ = _tree.flatten({"b": np.ones(3), "a": np.ones((2, 3))}, "x")
    layout = _tree.Layout.of(raw, paths, "x")
    used, local = [0, 1], {0: np.array([2]), 1: np.array([1, 5])}  # sampled: b[2], a[0, 1], a[1, 2]
    renamed = r"^`f` returned nan along `x\['a'\]\[1, 2\]` and x\[0\]\[7\]$"
    with (
        pytest.raises(ValueError, match=renamed) as info,
        partial._callers_errors(layout, used, local),
    ):
        raise ValueError("`f` returned nan along `x[1][1]` and x[0][7]")  # x[0][7]: not sampled
    assert "x[1][1]" in str(info.value.__cause__)
    with pytest.raises(TypeError, match=r"^`grad` is None$"), partial._callers_errors(
        layout, used, local
    ):
        raise TypeError("`grad` is None")  # nothing to rename: the error itself


def test_sampled_check_with_f_returning_the_gradient() -> None:
    result = gradcheck.check_sampled(lambda w: (float(w @ w), 2 * w), np.arange(5.0), k=2)
    assert result.passed and len(result.names) == 2


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda f, x, g: gradcheck.check_directional(f, x, g, n_directions=0), ValueError,
         "`n_directions` is 0"),
        (lambda f, x, g: gradcheck.check_directional(f, x, g, method="richardson"), ValueError,
         "`method` is 'richardson'"),
        (lambda f, x, g: gradcheck.check_directional(f, x, g, distribution="uniform"),
         ValueError, "`distribution` is 'uniform'"),
        (lambda f, x, g: gradcheck.check_directional(f, x, g, step=-1.0), ValueError,
         "`step` is -1.0"),
        (lambda f, x, g: gradcheck.check_directional(f, x, g, rng="seed"), TypeError,
         "`rng` is 'seed'"),
        (lambda f, x, g: gradcheck.check_sampled(f, x, g, k=1.5), TypeError, "`k` is 1.5"),
        (lambda f, x, g: gradcheck.check_sampled(f, x, g[:2]), ValueError, "shape"),
    ],
)
def test_bad_arguments_are_named(call: Any, error: type[Exception], match: str) -> None:
    x = np.arange(1.0, 4.0)
    with pytest.raises(error, match=match):
        call(lambda w: float(w @ w), x, 2 * x)
