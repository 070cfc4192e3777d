"""check_gradient and assert_gradient: sabotage, false alarms, kinks, nondeterminism, inputs."""

from __future__ import annotations

import doctest
import importlib
import itertools
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest

import gradcheck
from gradcheck import (
    GradientCheckResult,
    GradientMismatch,
    assert_gradient,
    check_gradient,
    methods,
    report,
)
from gradcheck import evaluators as _evaluate
from gradcheck.check import CheckOptions, run_check

METHODS = ("forward", "central", "complex", "richardson")


class Layer(NamedTuple):
    W: Any  # (s_next, s)
    b: Any  # (s_next,)


def _sin_cost(params: list[Layer]) -> Any:
    return sum(np.sum(np.sin(p.W)) + np.sum(np.sin(p.b)) for p in params)


def _sin_grad(params: list[Layer]) -> list[Layer]:
    return [Layer(np.cos(p.W), np.cos(p.b)) for p in params]


def _params(seed: int = 0) -> list[Layer]:
    rng = np.random.default_rng(seed)
    return [Layer(rng.normal(size=(3, 2)), rng.normal(size=3)),
            Layer(rng.normal(size=(4, 5)), rng.normal(size=4))]


def _scaled(grad: list[Layer], factor: float) -> list[Layer]:
    return [Layer(p.W * factor, p.b * factor) for p in grad]


# --- a small sigmoid MLP, written out here so that the checker is tested against it --------


def _softplus(t: Any) -> Any:
    """log(1 + exp(t)) without overflow, for real or complex t."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(np.real(t) > 0, t + np.log1p(np.exp(-t)), np.log1p(np.exp(t)))


def _mlp_cost(params: list[Layer], X: np.ndarray, Y: np.ndarray, loss: str, lam: float) -> Any:
    """J for X (m, s_1), Y (m, s_L): squared error or cross-entropy, plus (λ/2) Σ ‖W‖²."""
    a = X
    for p in params:
        z = a @ p.W.T + p.b  # (m, s_next)
        a = 1.0 / (1.0 + np.exp(-z))
    if loss == "squared":
        data = 0.5 * np.sum((a - Y) * (a - Y))
    else:  # -[y log a + (1 - y) log(1 - a)] with a = sigmoid(z)
        data = np.sum(Y * _softplus(-z) + (1.0 - Y) * _softplus(z))
    return data / X.shape[0] + lam / 2.0 * sum(np.sum(p.W * p.W) for p in params)


def _mlp_grad(params: list[Layer], X: np.ndarray, Y: np.ndarray, loss: str, lam: float
              ) -> list[Layer]:
    """Backpropagation: δ(L) = (a - y) a (1 - a) or a - y, δ(l) = (δ(l+1) W(l)) a (1 - a)."""
    acts = [X]
    for p in params:
        acts.append(1.0 / (1.0 + np.exp(-(acts[-1] @ p.W.T + p.b))))
    a = acts[-1]
    delta = (a - Y) * a * (1.0 - a) if loss == "squared" else a - Y
    grads: list[Layer] = []
    for p, a_in in zip(reversed(params), reversed(acts[:-1]), strict=True):
        grads.append(Layer(delta.T @ a_in / X.shape[0] + lam * p.W, delta.mean(axis=0)))
        delta = (delta @ p.W) * a_in * (1.0 - a_in)
    return grads[::-1]


class Case(NamedTuple):
    params: list[Layer]
    args: tuple[np.ndarray, np.ndarray, str, float]


def _case(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    sizes = [int(n) for n in rng.integers(1, 7, size=int(rng.integers(2, 5)))]
    scale = float(rng.choice([0.01, 0.1, 1.0, 5.0]))
    m = int(rng.integers(1, 6))
    params = [Layer(scale * rng.normal(size=(b, a)), scale * rng.normal(size=b))
              for a, b in itertools.pairwise(sizes)]
    X = rng.normal(size=(m, sizes[0]))
    Y = rng.uniform(size=(m, sizes[-1])) if rng.uniform() < 0.5 else (
        rng.integers(0, 2, size=(m, sizes[-1])).astype(float)
    )
    loss = str(rng.choice(["squared", "cross_entropy"]))
    return Case(params, (X, Y, loss, float(rng.choice([0.0, 0.01, 0.3, 1.0, 3.0]))))


CASES = [_case(seed) for seed in range(50)]


def _flat(tree: list[Layer]) -> np.ndarray:
    return np.concatenate([np.concatenate([p.W.ravel(), p.b.ravel()]) for p in tree])


def _unflat(vector: np.ndarray, like: list[Layer]) -> list[Layer]:
    out, at = [], 0
    for p in like:
        W = vector[at:at + p.W.size].reshape(p.W.shape)
        at += p.W.size
        out.append(Layer(W, vector[at:at + p.b.size]))
        at += p.b.size
    return out


@pytest.mark.parametrize("method", ["central", "richardson", "complex"])
def test_no_false_alarm_on_correct_mlp_gradients(method: str) -> None:
    failed = []
    for i, case in enumerate(CASES):
        result = check_gradient(_mlp_cost, case.params, _mlp_grad(case.params, *case.args),
                                args=case.args, method=method)
        if not result.passed or result.n_unverifiable:
            failed.append((i, str(result)))
    assert failed == []


@pytest.mark.parametrize(("method", "size"), [
    ("central", 1e-4), ("richardson", 1e-4), ("complex", 1e-7),
])
def test_planted_mlp_bugs_of_small_relative_size_are_caught(method: str, size: float) -> None:
    rng = np.random.default_rng(99)
    caught, planted = 0, 0
    for case in CASES:
        g = _flat(_mlp_grad(case.params, *case.args))
        single = np.zeros_like(g)
        single[int(rng.integers(g.size))] = 1.0
        for direction in (rng.normal(size=g.size), single, g):
            bug = g + size * np.linalg.norm(g) * direction / np.linalg.norm(direction)
            result = check_gradient(_mlp_cost, case.params, _unflat(bug, case.params),
                                    args=case.args, method=method)
            planted += 1
            caught += not result.passed
    assert caught >= 0.99 * planted


# --- sabotage ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("factor", [1.0001, 2.001])
def test_a_scaled_gradient_fails_naming_leaf_and_index(method: str, factor: float) -> None:
    params = _params()
    with pytest.raises(GradientMismatch, match=(
        r"(?s)^FAILED: [a-zA-Z ]+, 33 of 33 elements mismatch.*worst mismatches \(10 of 33\):\n"
        r"  x\[\d\]\.[Wb]\[[\d, ]+\] +analytic"
    )):
        assert_gradient(_sin_cost, params, _scaled(_sin_grad(params), factor), method=method)


@pytest.mark.parametrize("method", METHODS)
def test_the_correct_gradient_passes(method: str) -> None:
    params = _params()
    result = check_gradient(_sin_cost, params, _sin_grad(params), method=method)
    assert result.passed and bool(result) and result.n_mismatches == 0
    assert_gradient(_sin_cost, params, _sin_grad, method=method)


@pytest.mark.parametrize("method", METHODS)
def test_a_single_wrong_element_is_named(method: str) -> None:
    params = _params(1)
    grad = _sin_grad(params)
    grad[1].W[2, 3] += 1e-3
    with pytest.raises(GradientMismatch, match=(
        r"(?s)1 of 33 elements mismatch.*\n  x\[1\]\.W  +\(4, 5\) .* 1/20 .*"
        r"worst mismatches \(1 of 1\):\n  x\[1\]\.W\[2, 3\]  analytic"
    )) as info:
        assert_gradient(_sin_cost, params, grad, method=method)
    worst = info.value.result.worst
    assert (worst.path, worst.index, worst.name) == ("[1].W", (2, 3), "x[1].W[2, 3]")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(5))
def test_tiny_gradient_elements_never_false_alarm(method: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = np.array([1.0, 1e-12, 3.0, 1e-14, 1e-9, 0.0])
    x = rng.uniform(-3, 3, c.size)
    result = check_gradient(lambda v: np.sum(c * np.sin(v)) + 0.5 * np.sum(v * v), x,
                            lambda v: c * np.cos(v) + v, method=method)
    assert result.passed, str(result)


def test_a_tiny_element_with_a_large_error_still_fails() -> None:
    x = np.array([0.3, 1.2])
    result = check_gradient(lambda v: np.sin(v[0]) + 1e-12 * np.sin(v[1]), x,
                            np.array([np.cos(0.3), 1e-12 * np.cos(1.2) + 1e-6]))
    assert [e.name for e in result.mismatches] == ["x[1]"]


@pytest.mark.parametrize("method", METHODS)
def test_grad_none_means_f_returns_value_and_gradient(method: str) -> None:
    params = _params()
    result = check_gradient(lambda p: (_sin_cost(p), _sin_grad(p)), params, method=method)
    assert result.passed
    with pytest.raises(TypeError, match=r"with grad=None, f must return \(value, gradient\)"):
        check_gradient(_sin_cost, params)


def test_nan_in_the_gradient_is_a_mismatch_not_an_exception() -> None:
    x = np.array([0.1, 0.2, 0.3])
    grad = np.cos(x)
    grad[1] = np.nan
    result = check_gradient(lambda v: np.sum(np.sin(v)), x, grad)
    assert not result.passed and [e.name for e in result.mismatches] == ["x[1]"]
    assert "analytic nan" in str(result).replace("  ", " ")


# --- kinks -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["central", "richardson"])
def test_abs_at_exact_zeros_is_not_verifiable_and_the_rest_passes(method: str) -> None:
    x = np.array([0.0, 0.5, -1.2, 0.0, 2.0])
    result = check_gradient(lambda v: np.sum(np.abs(v)), x, np.sign(x), method=method)
    assert result.passed and result.n_unverifiable == 2
    assert result.status[0].tolist() == [report.UNVERIFIABLE, 0, 0, report.UNVERIFIABLE, 0]
    assert "2 not verifiable at this step" in str(result)
    assert "cannot settle it): x[0], x[3]" in (
        str(result)
    )


def test_a_value_outside_the_one_sided_derivatives_at_a_kink_is_a_mismatch() -> None:
    x = np.array([0.0, 0.5])
    result = check_gradient(lambda v: np.sum(np.abs(v)), x, np.array([5.0, 1.0]))
    assert result.n_mismatches == 1 and result.mismatches[0].name == "x[0]"


def test_relu_layer_with_exact_zeros() -> None:
    inputs = np.array([[1.0, 2.0], [0.5, -1.0]])  # (m, s_1)
    params = {"W": np.array([[0.0, 0.0], [1.0, 0.25], [0.3, 0.2]]), "b": np.zeros(3)}

    def cost(p: dict[str, np.ndarray]) -> Any:
        return np.sum(np.maximum(inputs @ p["W"].T + p["b"], 0.0) ** 1) / 2

    def grad(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        active = (inputs @ p["W"].T + p["b"] > 0).astype(float)  # relu'(0) = 0
        return {"W": active.T @ inputs / 2, "b": active.sum(axis=0) / 2}

    result = check_gradient(cost, params, grad)
    assert result.passed
    assert result.status[0][0].tolist() == [report.UNVERIFIABLE] * 2  # the dead row of W
    assert result.status[1][0] == report.UNVERIFIABLE
    assert result.n_unverifiable == 3


@pytest.mark.parametrize("method", METHODS)
def test_a_smooth_function_with_a_wrong_gradient_is_a_mismatch_not_a_kink(method: str) -> None:
    x = np.linspace(-3, 3, 7)
    result = check_gradient(lambda v: np.sum(np.sin(v)), x, np.cos(x) * (1 + 1e-4),
                            method=method)
    assert not result.passed and result.n_unverifiable == 0
    assert result.n_mismatches == 7


# --- regressions found by the property suite ---------------------------------------------


def _half_relu_squared(v: Any) -> Any:
    return 0.5 * np.maximum(v[0], 0.0) ** 2  # C¹ at 0, f″ jumps from 0 to 1


@pytest.mark.parametrize("method", ["forward", "central", "richardson"])
def test_a_kink_of_the_derivative_is_not_verifiable_and_a_wrong_value_there_fails(
    method: str,
) -> None:
    # central differences at 0 give h/4: an O(h) error no smooth error model explains
    result = check_gradient(_half_relu_squared, np.zeros(1), lambda v: np.maximum(v, 0.0),
                            method=method)
    assert result.passed and result.status[0].tolist() == [report.UNVERIFIABLE], str(result)
    assert not check_gradient(_half_relu_squared, np.zeros(1), np.array([1e-3]),
                              method=method).passed


def _near_zero_cost() -> tuple[Callable[[Any], Any], list[Layer], list[Layer]]:
    """J = (1/2m) Σ (w x + b - y)² with every value v: residuals v² computed as (v² + v) - v."""
    v = 5.688666741345898e-05  # found by Hypothesis
    X = np.full(6, v)  # (m,)

    def cost(p: list[Layer]) -> Any:
        r = p[0].W[0, 0] * X + p[0].b[0] - v
        return 0.5 * np.mean(r * r)

    r = v * v + v - v
    params = [Layer(np.full((1, 1), v), np.full(1, v))]
    return cost, params, [Layer(np.full((1, 1), np.mean(r * X)), np.full(1, r))]


@pytest.mark.parametrize("method", METHODS)
def test_a_cost_near_zero_by_cancellation_is_not_a_mismatch(method: str) -> None:
    cost, params, grad = _near_zero_cost()
    result = check_gradient(cost, params, grad, method=method)
    assert result.passed and result.n_unverifiable == 0, str(result)
    assert not check_gradient(cost, params, _scaled(grad, 1.01), method=method).passed


def test_the_near_zero_cost_of_backprop_ref_passes() -> None:
    from backprop_ref import MLP
    from backprop_ref import Layer as RefLayer

    v = 5.688666741345898e-05
    mlp = MLP([1, 1], activation="identity", output_activation="identity")
    params = [RefLayer(np.full((1, 1), v), np.full(1, v))]
    X, Y = np.full((6, 1), v), np.full((6, 1), v)
    grads = mlp.cost_and_gradient(params, X, Y)[1]
    for method in METHODS:
        result = check_gradient(lambda p: mlp.cost(p, X, Y), params, grads, method=method)
        assert result.passed, str(result)


def _relu_cubed(v: Any) -> Any:
    return np.sum(np.maximum(v, 0.0) ** 3)  # kink of f‴ at 0, 0.002 from x


@pytest.mark.parametrize("method", METHODS)
def test_a_wrong_gradient_near_a_kink_is_caught(method: str) -> None:
    # the confirmation works at the method's own step: Richardson's default step (6e-3)
    # crosses the kink at 0, which once let a 1% error pass
    x = np.array([0.002])
    correct = check_gradient(_relu_cubed, x, lambda v: 3 * np.maximum(v, 0.0) ** 2,
                             method=method)
    assert correct.passed and correct.n_unverifiable == 0, str(correct)
    wrong = check_gradient(_relu_cubed, x, lambda v: 1.01 * 3 * np.maximum(v, 0.0) ** 2,
                           method=method)
    assert not wrong.passed and wrong.n_mismatches == 1, str(wrong)


# --- nondeterminism ----------------------------------------------------------------------


def _jittery() -> Callable[[np.ndarray], float]:
    calls = [0]

    def f(v: np.ndarray) -> float:
        calls[0] += 1
        return float(np.sum(v * v)) + 1e-12 * (calls[0] % 2)

    return f


def test_a_nondeterministic_f_is_reported_as_such_not_as_a_mismatch() -> None:
    x = np.array([0.5, -0.25])
    result = check_gradient(_jittery(), x, 2 * x)
    assert not result.passed and result.nondeterministic and result.n_mismatches == 0
    assert result.nondeterminism == pytest.approx(1e-12, rel=1e-3)
    assert str(result).startswith("FAILED: f is not deterministic: two calls at the same x "
                                  "differed by 1e-12 (nondet_tol=0); the gradient was not")
    assert result.n_evaluations == 2


def test_nondet_tol_accepts_a_known_spread() -> None:
    x = np.array([0.5, -0.25])
    result = check_gradient(_jittery(), x, 2 * x, nondet_tol=2e-12)
    assert result.passed and not result.nondeterministic
    assert not check_gradient(_jittery(), x, 2 * x + 1e-3, nondet_tol=2e-12).passed


# --- explicit tolerances, costs, the caller's arrays ------------------------------------


def test_explicit_rtol_atol_replace_the_error_model() -> None:
    x = np.array([0.1, 0.2])
    grad = np.cos(x) * 1.0001

    def f(v: np.ndarray) -> Any:
        return np.sum(np.sin(v))

    assert not check_gradient(f, x, grad).passed
    result = check_gradient(f, x, grad, rtol=1e-3)
    assert result.passed and result.tolerance_rule == "rtol=0.001, atol=0"
    assert check_gradient(f, x, grad, atol=1e-3).passed
    assert not check_gradient(f, x, grad, rtol=1e-6, atol=1e-9).passed
    np.testing.assert_allclose(result.tolerance[0], 1e-3 * np.abs(result.numeric[0]))


def test_evaluation_count_includes_the_two_calls_the_probe_and_the_confirmation() -> None:
    x = np.linspace(0.1, 1.0, 5)
    grad = np.cos(x)
    probe = 5 * methods.PROBE_DIRECTIONS - 1
    assert check_gradient(lambda v: np.sum(np.sin(v)), x, grad).n_evaluations == (
        2 + probe + 2 * 5
    )
    grad[[1, 3]] += 1e-3
    # each failing element: 12 calls repeating its difference around x and x + s (its own
    # noise), then 6 for the confirmation
    assert check_gradient(lambda v: np.sum(np.sin(v)), x, grad).n_evaluations == (
        2 + probe + 10 + 2 * 12 + 12
    )
    assert check_gradient(lambda v: np.sum(np.sin(v)), x, grad, rtol=1e-6).n_evaluations == 12


def test_caller_arrays_unchanged_when_f_and_grad_write_into_x() -> None:
    x = {"w": np.linspace(-1, 1, 4)}
    before = x["w"].copy()

    def f(p: dict[str, np.ndarray]) -> Any:
        p["w"] *= 3.0
        return np.sum(p["w"] ** 2)  # = 9 Σ w², gradient 18 w

    def grad(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        p["w"] *= 0.0
        return {"w": 18.0 * before}

    assert check_gradient(f, x, grad).passed
    np.testing.assert_array_equal(x["w"], before)


def test_caller_arrays_unchanged_when_f_raises_midway_in_a_check() -> None:
    x = [np.linspace(-1, 1, 4)]
    before = x[0].copy()
    calls = [0]

    def f(p: list[np.ndarray]) -> Any:
        calls[0] += 1
        if calls[0] == 5:
            raise RuntimeError("call 5")
        return np.sum(p[0] ** 2)

    with pytest.raises(RuntimeError, match="call 5"):
        check_gradient(f, x, [2 * before])
    np.testing.assert_array_equal(x[0], before)


@pytest.mark.parametrize(("method", "factor"), [
    ("forward", 1.2), ("central", 1.01), ("complex", 1.0001), ("richardson", 1.01),
])
def test_float32_parameters_are_checked_with_their_precision(method: str, factor: float) -> None:
    x = np.random.default_rng(3).uniform(-2, 2, 8).astype(np.float32)
    good = check_gradient(lambda v: np.sum(np.sin(v)), x, np.cos(x), method=method)
    assert good.passed, str(good)
    bad = check_gradient(lambda v: np.sum(np.sin(v)), x, np.cos(x) * factor, method=method)
    assert not bad.passed


# --- invalid arguments --------------------------------------------------------------------

_X = [Layer(np.zeros((2, 3)), np.zeros(2))]
_G = [Layer(np.zeros((2, 3)), np.zeros(2))]


def _zero(p: Any) -> float:
    return 0.0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"f": 3}, TypeError, r"^`f` is int 3; it must be a callable f\(x, \*args\) -> float"),
        ({"x": [1.0, 2.0]}, TypeError, r"^`x\[0\]` is a float; the leaves of `x` must be float32"),
        ({"x": np.arange(3)}, TypeError, r"^`x` has dtype int64; the leaves of `x` must be"),
        ({"x": {}}, ValueError, r"^`x` is dict \{\}; it must hold at least one array"),
        ({"x": [Layer(np.array([[0.0, np.nan, 0], [0, 0, 0]]), np.zeros(2))]}, ValueError,
         r"^`x\[0\]\.W` has nan at index \(0, 1\); `x` must be finite"),
        ({"args": [1]}, TypeError, r"^`args` is list \[1\]; it must be a tuple of extra"),
        ({"method": "backward"}, ValueError,
         r"^`method` is 'backward'; it must be one of forward, central, complex, richardson"),
        ({"step": -1.0}, ValueError, r"^`step` is -1.0; it must be a positive finite number"),
        ({"grad": [Layer(np.zeros((3, 2)), np.zeros(2))]}, ValueError,
         r"^`grad\[0\]\.W` has shape \(3, 2\); `x\[0\]\.W` has shape \(2, 3\)"),
        ({"grad": [(np.zeros((2, 3)), np.zeros(2))]}, TypeError,
         r"^`grad\[0\]` is a tuple of 2 items; `x\[0\]` is a Layer with fields \['W', 'b'\]"),
        ({"grad": [Layer(np.zeros((2, 3), int), np.zeros(2))]}, TypeError,
         r"^`grad\[0\]\.W` has dtype int64"),
        ({"grad": None}, TypeError, r"^`f` returned float 0.0; with grad=None, f must return"),
        ({"rtol": -1e-3}, ValueError, r"^`rtol` is -0.001; it must be a finite number >= 0"),
        ({"rtol": np.nan}, ValueError, r"^`rtol` is nan; it must be a finite number >= 0"),
        ({"atol": "0"}, TypeError, r"^`atol` is '0'; it must be a finite number >= 0"),
        ({"rtol": True}, TypeError, r"^`rtol` is True; it must be a finite number >= 0"),
        ({"nondet_tol": -1}, ValueError, r"^`nondet_tol` is -1; it must be a finite number >= 0"),
        ({"f": lambda p: np.ones(1)}, TypeError,
         r"^`f` must return a real scalar .*it returned an array of shape \(1,\)"),
        ({"f": lambda p: np.inf}, ValueError, r"^`f` returned inf at x; f must return a finite"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    call: dict[str, Any] = {"f": _zero, "x": _X, "grad": _G, **kwargs}
    with pytest.raises(error, match=message):
        check_gradient(call.pop("f"), call.pop("x"), call.pop("grad"), **call)


def test_results_are_gradient_check_results() -> None:
    result = check_gradient(_zero, _X, _G)
    assert isinstance(result, GradientCheckResult) and result.passed


@pytest.mark.parametrize("module", [
    "gradcheck", "gradcheck.tree", "gradcheck.evaluators", "gradcheck.evaluators.vector",
    "gradcheck.methods", "gradcheck.verdict", "gradcheck.check",
    "gradcheck.report",
])
def test_doctests(module: str) -> None:
    outcome = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert outcome.failed == 0


def test_f_returning_float32_for_float64_x_is_judged_with_float32_precision() -> None:
    x = np.linspace(-1.0, 1.0, 6)

    def f(v: np.ndarray) -> Any:
        return np.float32(np.sum(np.sin(v)))

    assert check_gradient(f, x, np.cos(x)).passed
    assert not check_gradient(f, x, np.cos(x) * 1.01).passed


def test_another_evaluator_plugs_in_through_run_check() -> None:
    calls: list[int] = []

    class Logging(_evaluate.SerialEvaluator):
        def along(self, index: np.ndarray, shift: np.ndarray) -> np.ndarray:
            calls.append(len(index))
            return super().along(index, shift)

    params = _params()
    options = CheckOptions(method="central")
    result = run_check(_sin_cost, params, _scaled(_sin_grad(params), 1.0001), options, Logging)
    assert result.n_mismatches == 33
    # both sides of the central differences in one request, the failing elements' own noise
    # (their differences at x, x ± r, x + s and x + s ± r), then the confirmation's three
    # levels, both sides each
    assert calls == [2 * 33] * 10


def test_the_package_surface() -> None:
    assert gradcheck.__all__ == sorted(gradcheck.__all__)
    assert gradcheck.__version__ == "0.1.0"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = gradcheck.nope
    code = "import sys, gradcheck; assert 'hypothesis' not in sys.modules, 'hypothesis imported'"
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


def test_a_failed_check_carries_the_diagnosis_that_explains_it() -> None:
    rng = np.random.default_rng(3)
    x = {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=3)}
    lam = 0.25

    def f(p: dict[str, np.ndarray]) -> float:
        return float(np.sum(np.tanh(p["W"])) + np.sum(p["b"] ** 2) + lam / 2 * np.sum(p["W"] ** 2))

    def grad_without_decay(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"W": 1 - np.tanh(p["W"]) ** 2, "b": 2 * p["b"]}

    result = check_gradient(f, x, grad_without_decay, weight_decay=lam)
    assert not result.passed
    assert result.diagnosis[0].name == "decay-missing"
    assert "weight-decay term" in str(result)
    correct = check_gradient(
        f, x, lambda p: {"W": grad_without_decay(p)["W"] + lam * p["W"], "b": 2 * p["b"]}
    )
    assert correct.passed and correct.diagnosis == ()


# A saturated 1-5-2-1 sigmoid network on one example whose cost is computed with ~30 ulps of
# rounding noise, more than the noise probe sees: the one-sided gaps grow as h shrinks. Once
# read as kinks, this made a zeroed first-layer gradient (about 1e-9) "not verifiable".
_NOISY_LAYERS = [
    ([[1.7202477990650595], [-0.3663440794330015], [-3.8462543890255576],
      [-1.7959482586908218], [2.874679279956702]],
     [1.704224147508763, -0.8341725335796235, 2.383214225185265, -5.479881577388486,
      -1.966257077777976]),
    ([[0.21736781390329374, 1.0322810822349875, 3.2737498912155942, 0.3659731959449596,
       1.0104713563281589],
      [0.5823965681668679, -3.0693891587004813, -0.44296346427489086, 4.401416013003595,
       2.2773800055827653]],
     [-0.801924795150813, 0.1660141638112204]),
    ([[5.296425762144565, 4.874286984536893]], [5.759897629184899]),
]


def _noisy_cost_and_gradient(params: list[Any]) -> tuple[Any, list[Any]]:
    """½‖σ(...σ(W x + b)...) − y‖² on x = -0.0881, y = 0.9649, and its backprop gradient."""
    a = [np.array([-0.08809354826580734])]
    for W, b in params:
        a.append(0.5 * (1 + np.tanh(0.5 * (W @ a[-1] + b))))
    delta = (a[-1] - 0.9648718226082473) * a[-1] * (1 - a[-1])
    grads: list[Any] = []
    for k in range(len(params) - 1, -1, -1):
        grads.insert(0, (np.outer(delta, a[k]), delta))
        delta = (params[k][0].T @ delta) * a[k] * (1 - a[k])
    return 0.5 * np.sum((a[-1] - 0.9648718226082473) ** 2), grads


@pytest.mark.parametrize("method", ["central", "richardson", "complex"])
def test_a_zeroed_leaf_is_caught_where_f_is_noisier_than_probed(method: str) -> None:
    params = [(np.array(W), np.array(b)) for W, b in _NOISY_LAYERS]
    grads = _noisy_cost_and_gradient(params)[1]
    cost = lambda p: _noisy_cost_and_gradient(p)[0]  # noqa: E731
    assert check_gradient(cost, params, grads, method=method).passed
    zeroed = [(np.zeros_like(grads[0][0]), grads[0][1]), *grads[1:]]
    result = check_gradient(cost, params, zeroed, method=method)
    assert not result.passed and result.leaves[0].n_mismatches == 5


PASSING_PATH = {"gradcheck.check", "gradcheck.methods", "gradcheck.verdict",
                "gradcheck.evaluators", "gradcheck.report", "gradcheck.tree"}
"""The core modules a passing check runs code of (issue 13: at most 6), README's Architecture."""


@pytest.mark.parametrize("method", METHODS)
def test_a_passing_check_goes_through_six_core_modules(method: str) -> None:
    x = {"w": np.linspace(0.1, 1.0, 6).reshape(2, 3), "b": np.array([0.3, -0.2])}

    def check() -> GradientCheckResult:
        return check_gradient(lambda p: np.sum(np.sin(p["w"])) + np.sum(np.exp(p["b"])), x,
                              lambda p: {"w": np.cos(p["w"]), "b": np.exp(p["b"])},
                              method=method)

    entered: set[str] = set()

    def record(frame: Any, event: str, arg: object) -> None:
        if event == "call" and frame.f_globals.get("__name__", "").startswith("gradcheck"):
            entered.add(frame.f_globals["__name__"])

    check()  # imports done before the count
    sys.setprofile(record)
    try:
        result = check()
    finally:
        sys.setprofile(None)
    assert result.passed and entered == PASSING_PATH
