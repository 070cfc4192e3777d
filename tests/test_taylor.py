"""taylor_test: slope 2 for a correct gradient, 1 for a wrong one, rounding handled.

Its doctests run with gradcheck.partial's, in test_partial.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import gradcheck
from backprop_ref import MLP
from backprop_ref.bugs import plant


def _problem() -> tuple[Any, Any, Any]:
    mlp = MLP([4, 6, 3], activation="tanh", loss="cross_entropy", weight_decay=1e-2)
    params = mlp.init_params(rng=0, scale=0.5)
    rng = np.random.default_rng(1)
    return mlp, params, mlp.objective(rng.random((8, 4)), rng.random((8, 3)))


def test_a_correct_mlp_gradient_has_slope_two() -> None:
    _, params, objective = _problem()
    result = gradcheck.taylor_test(objective, params, objective.gradient)
    assert result.passed, str(result)
    assert np.all(np.abs(result.slopes - 2.0) < 0.1)
    assert result.remainders.shape == (3, 17) and result.n_evaluations == 1 + 3 * 17
    assert "slope 2.0" in str(result)


def test_planted_bugs_have_slope_one() -> None:
    mlp, params, objective = _problem()
    for planted in plant(mlp, params, objective.X, objective.Y):
        if planted.effect < 1e-3:
            continue
        result = gradcheck.taylor_test(objective, params, planted.grads)
        assert not result.passed, planted.bug.name
        assert np.nanmin(result.slopes) < 1.3, planted.bug.name
        assert "MISMATCH" in str(result)


def test_a_linear_function_is_all_rounding_and_passes() -> None:
    result = gradcheck.taylor_test(lambda w: float(np.sum(3.0 * w)), np.arange(4.0),
                                   lambda w: np.full_like(w, 3.0))
    assert result.passed and np.all(np.isnan(result.slopes))
    assert "below the rounding floor" in str(result)


def test_a_wrong_gradient_of_a_linear_function_fails() -> None:
    result = gradcheck.taylor_test(lambda w: float(np.sum(3.0 * w)), np.arange(4.0),
                                   lambda w: np.full_like(w, 3.001))
    assert not result.passed and np.all(np.abs(result.slopes - 1.0) < 0.05)


def test_explicit_ladder_and_f_returning_the_gradient() -> None:
    result = gradcheck.taylor_test(lambda w: (float(np.sum(w**4)), 4 * w**3), np.ones(3),
                                   steps=[1e-4, 1e-2, 1e-3, 1e-1])
    assert result.passed and list(result.steps) == [1e-1, 1e-2, 1e-3, 1e-4]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"steps": [1e-3, 1e-4]}, ValueError, "at least 3 positive"),
        ({"steps": [1e-3, -1e-4, 1e-5]}, ValueError, "at least 3 positive"),
        ({"n_directions": 0}, ValueError, "`n_directions` is 0"),
        ({"rng": -1}, TypeError, "`rng` is -1"),
    ],
)
def test_bad_arguments_are_named(options: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        gradcheck.taylor_test(lambda w: float(w @ w), np.ones(2), lambda w: 2 * w, **options)
