"""gradcheck.cli._memo: remembered values change nothing in a check, and spare repeated calls."""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pytest

from backprop_ref import MLP
from gradcheck import tree as _tree
from gradcheck.check import check_gradient
from gradcheck.cli import _memo, _verify
from gradcheck.report import GradientCheckResult

METHODS = ("forward", "central", "complex", "richardson")


def _network() -> tuple[MLP, Any, Any, Any]:
    rng = np.random.default_rng(4)
    mlp = MLP([3, 4, 2], activation="tanh", weight_decay=1e-3)
    params = mlp.init_params(rng, scale=0.7)
    return mlp, params, rng.random((5, 3)), rng.random((5, 2))


def _same(a: GradientCheckResult, b: GradientCheckResult) -> bool:
    arrays = ("numeric", "tolerance", "status", "analytic")
    return a.passed == b.passed and a.n_evaluations == b.n_evaluations and all(
        np.array_equal(u, v, equal_nan=True)
        for name in arrays for u, v in zip(getattr(a, name), getattr(b, name), strict=True)
    )


@pytest.mark.parametrize("method", METHODS)
def test_a_memoized_f_gives_the_checks_of_f_bit_for_bit(method: str) -> None:
    mlp, params, X, Y = _network()
    grads = mlp.cost_and_gradient(params, X, Y)[1]
    wrong = [type(g)(g.W * 1.01, g.b) for g in grads]  # mismatches: confirmation runs too
    calls = [0]

    def cost(p: Any) -> Any:
        calls[0] += 1
        return mlp.cost(p, X, Y)

    memo = _memo.Memoized(cost)
    for analytic in (grads, wrong, wrong):
        plain = check_gradient(lambda p: mlp.cost(p, X, Y), params, analytic, method=method)
        assert _same(check_gradient(memo, params, analytic, method=method), plain)
    assert calls[0] == memo.n_computed
    assert memo.n_computed < memo.n_served / 2  # the repeated checks were served from the table


def test_points_differ_by_base_shift_and_kind() -> None:
    memo = _memo.Memoized(lambda w: complex(np.sum(w**3)) if np.iscomplexobj(w)
                          else float(np.sum(w**3)))
    x = np.array([1.0, 2.0])
    ev = memo.gradcheck_evaluator([x], _tree_def(x), ())
    index = np.array([0, 0, 1])
    assert ev.along(index, np.array([0.5, -0.5, 0.5])).tolist() == [11.375, 8.125, 16.625]
    assert ev.along_imaginary(np.array([0]), np.array([0.5]))[0] == pytest.approx(
        complex(np.sum(np.array([1 + 0.5j, 2.0]) ** 3)))
    moved = memo.gradcheck_evaluator([x + 1.0], _tree_def(x), ())
    assert moved.at_x() == 35.0 and ev.at_x() == 9.0
    assert ev.n_evaluations == 5 and memo.n_computed == 6


def _tree_def(x: Any) -> Any:
    return _tree.flatten(x)[2]


def test_verify_bug_statuses_with_a_shared_cost_are_those_of_fresh_costs() -> None:
    case = _verify.random_case(np.random.default_rng(11))
    grads = case.mlp.cost_and_gradient(case.params, case.X, case.Y)[1]
    shared = _verify._cost(case)
    for method in ("central", "forward"):
        correct = check_gradient(shared, case.params, grads, method=method)
        assert correct.passed
        assert _verify.bug_statuses(case, method, correct, cost=shared) == _verify.bug_statuses(
            case, method, correct)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_an_objective_is_the_cost_with_its_data_checked_once(dtype: Any) -> None:
    mlp, params, X, Y = _network()
    params = [type(layer)(layer.W.astype(dtype), layer.b.astype(dtype)) for layer in params]
    objective = mlp.objective(X, Y)
    assert objective(params) == mlp.cost(params, X, Y)
    if dtype is not np.complex128:
        for a, b in zip(objective.gradient(params), mlp.cost_and_gradient(params, X, Y)[1],
                        strict=True):
            assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)


def test_an_objective_still_checks_its_params() -> None:
    mlp, params, X, Y = _network()
    objective = mlp.objective(X, Y)
    params[1].b[0] = np.nan
    with pytest.raises(ValueError, match=r"`params\[1\].b` contains 1 NaN or inf"):
        objective(params)
    with pytest.raises(ValueError, match=r"`params` has 1 layer\(s\); expected 2"):
        objective.gradient(params[:1])


def test_doctests() -> None:
    assert doctest.testmod(_memo).failed == 0
