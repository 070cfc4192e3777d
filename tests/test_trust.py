"""Issue 11, "What was seen": each case a regression test of the verdict it must now give.

No case here may pass silently (a wrong gradient passing) or raise a false alarm (a correct
gradient failing); each wrong gradient is a mismatch, unresolved, or refused with its cause.
"""

from __future__ import annotations

import doctest
import importlib
import json
import math
import re
from typing import Any

import numpy as np
import pytest

from gradcheck import check_gradient, numerical_gradient, report

special = pytest.importorskip("scipy.special")


def _digamma(x: np.ndarray) -> float:
    return float(np.sum(special.digamma(x)))


_NEAR_POLE = np.array([0.002, 0.5])


@pytest.mark.parametrize("wrong", [-1.0, 0.0])
def test_richardson_straddling_a_pole_never_passes_a_wrong_gradient(wrong: float) -> None:
    true = special.polygamma(1, _NEAR_POLE)
    result = check_gradient(_digamma, _NEAR_POLE, true * np.array([wrong, 1.0]),
                            method="richardson")
    assert not result.passed
    assert result.n_mismatches + result.n_unresolved >= 1
    assert result.status[0][0] in (report.MISMATCH, report.UNRESOLVED)


def test_a_tolerance_past_the_gradient_is_unresolved_with_its_reason() -> None:
    # a step of 0.003 straddles the pole at 0, and so do the confirmation's (4 times larger)
    result = check_gradient(_digamma, _NEAR_POLE, special.polygamma(1, _NEAR_POLE),
                            step=0.003)
    assert not result.passed and result.n_mismatches == 0
    assert result.n_unresolved == 1 and result.unresolved[0].index == (0,)
    assert result.status[0].tolist() == [report.UNRESOLVED, report.PASS]
    assert "straddle a singularity" in result.unresolved_reason
    text = str(result)
    assert text.startswith("FAILED: central differences, 2 elements, 1 unresolved")
    assert "unresolved (an error of the element's size could not have been seen" in text
    assert text.split("\n")[1].endswith("not verifiable  unresolved")  # its own column
    assert text.split("\n")[2].endswith("0/2         0               1")
    assert 'a smaller `step`, or method="complex"' in text
    summary = json.loads(json.dumps(result.to_dict()))
    assert summary["n_unresolved"] == 1 and summary["n_mismatches"] == 0
    assert summary["unresolved"][0]["name"] == "x[0]"
    assert summary["leaves"][0]["n_unresolved"] == 1


def test_richardson_near_a_pole_is_confirmed_at_a_smaller_step() -> None:
    # its own step (0.0058) straddles the pole; its tolerance is coarse, so the element is
    # confirmed at the confirmation's step (2.4e-5), which resolves it
    true = special.polygamma(1, _NEAR_POLE)
    result = check_gradient(_digamma, _NEAR_POLE, true, method="richardson")
    assert result.passed and result.resolution < 1e-8 * true[0]
    wrong = check_gradient(_digamma, _NEAR_POLE, true * np.array([1.0 + 1e-6, 1.0]),
                           method="richardson")
    assert wrong.status[0].tolist() == [report.MISMATCH, report.PASS]


def _quadratic(x: np.ndarray) -> float:
    return float(2.0 * np.sum(x**2))


@pytest.mark.parametrize("factor", [1.0, 1.5])
def test_nondet_tol_widening_past_the_gradient_is_unresolved_not_passed(factor: float) -> None:
    x = np.array([1.0])
    result = check_gradient(_quadratic, x, 4.0 * factor * x, nondet_tol=1e-5)
    assert not result.passed and result.n_unresolved == 1
    assert result.unresolved_reason.startswith("`nondet_tol` widened the tolerance")


def test_a_small_nondet_tol_still_resolves_and_passes() -> None:
    x = np.array([1.0, -2.0])
    result = check_gradient(_quadratic, x, 4.0 * x, nondet_tol=1e-12)
    assert result.passed and result.n_unresolved == 0
    assert 0 < result.resolution < 1e-3


def test_a_pass_states_its_resolution() -> None:
    x = np.array([0.3, -1.2, 2.0])
    result = check_gradient(lambda v: float(np.sum(np.sin(v))), x, np.cos(x))
    assert result.passed
    assert 0 < result.resolution < 1e-6
    first = str(result).splitlines()[0]
    assert f"resolution {result.resolution:.2e} (" in first
    assert "of the gradient's max-norm)" in first


def _centred(x: Any) -> float:
    """Identically 0: each centred row sums to 0."""
    return float(np.sum((x - x.mean(1, keepdims=True))
                        / np.sqrt(x.var(1, keepdims=True) + 1e-5)))


def test_a_smooth_function_at_small_x_is_never_not_verifiable() -> None:
    x = 0.01 * (1.0 + np.arange(5) / 7.0)

    def f(v: np.ndarray) -> float:
        return float(np.sum(np.cos(v) * np.exp(v)))

    def grad(v: np.ndarray) -> np.ndarray:
        return np.exp(v) * (np.cos(v) - np.sin(v))

    assert check_gradient(f, x, grad).n_unverifiable == 0
    wrong = grad(x) * (1.0 + 1e-6 * (np.arange(5) == 2))
    result = check_gradient(f, x, wrong)
    assert not result.passed and result.n_unverifiable == 0
    assert result.status[0][2] == report.MISMATCH


def _xlogx(x: np.ndarray) -> float:
    return float(np.sum(x * np.log(x)))


def _sum_math_log(x: np.ndarray) -> float:
    return sum(math.log(v) for v in x)


@pytest.mark.parametrize("method", ["forward", "central", "richardson"])
def test_steps_that_leave_the_domain_are_shrunk_not_reported(method: str) -> None:
    x = np.array([0.004, 0.01, 0.5])  # Richardson's step 0.0058 reaches x < 0: NaN there
    with np.errstate(invalid="ignore"):
        assert check_gradient(_xlogx, x, np.log(x) + 1.0, method=method).passed
        wrong = check_gradient(_xlogx, x, (np.log(x) + 1.0) * (1.0 + 1e-6), method=method)
    assert wrong.n_mismatches == 3


def test_a_domain_error_raised_by_f_shrinks_the_step() -> None:
    x = np.array([0.001, 2.0])  # math.log raises "math domain error" at x < 0
    assert check_gradient(_sum_math_log, x, 1.0 / x, method="richardson").passed
    wrong = check_gradient(_sum_math_log, x, np.array([1000.0 * (1 + 1e-6), 0.5]),
                           method="richardson")
    assert wrong.status[0].tolist() == [report.MISMATCH, report.PASS]


def test_f_not_finite_on_any_neighbourhood_is_not_verifiable_with_the_point_named() -> None:
    # before: a ValueError, and no report; now the element is not verifiable, the report says
    # where f failed (the other elements are still judged), and numerical_gradient still raises
    x = np.array([1.0, 2.0])
    result = check_gradient(lambda v: float(np.sqrt(v[0]) if v[0] == 1.0 else np.nan) + v[1] ** 2,
                            x, np.array([0.5, 4.0]))
    assert result.status[0].tolist() == [report.UNVERIFIABLE, report.PASS]
    assert result.diagnosis[0].name == "outside-domain"
    assert re.search(r"`f` returned nan at x moved by .* along `x\[0\]`",
                     result.diagnosis[0].message)
    with pytest.raises(ValueError, match=r"`f` returned nan at x moved by .* along `x\[0\]`"):
        numerical_gradient(lambda v: float(np.sqrt(v[0]) if v[0] == 1.0 else np.nan), x[:1])


@pytest.mark.parametrize("module", ["gradcheck.methods", "gradcheck.verdict", "gradcheck.check"])
def test_doctests(module: str) -> None:
    outcome = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert outcome.failed == 0 and outcome.attempted > 0


def _layer_norm(x: np.ndarray) -> Any:
    y = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    return np.sum(np.arange(1.0, 13.0).reshape(3, 4) * y)  # complex for complex x


_CAUSES = r"likely causes: abs, var/std \(they go through conj\), maximum/minimum/where"


@pytest.mark.parametrize(("f", "x", "grad"), [
    (lambda v: np.sum(v * np.abs(v)), np.array([0.5, -1.5, 2.0]), np.abs),  # true: 2|x|
    (lambda v: np.sum(3.0 * np.maximum(v, 0.0)), np.zeros(3), lambda v: 3.0 + 0 * v),
    (lambda v: np.sum(3.0 * np.maximum(v, 0.0)), np.zeros(3), lambda v: -3.0 + 0 * v),
    (lambda v: np.sum(special.jn(2, v)), np.array([0.7, 3.1, 5.0]),
     lambda v: -special.jvp(2, v)),
], ids=["x_abs_x", "relu_at_0_plus", "relu_at_0_minus", "jn_sign_flipped"])
def test_the_complex_step_refuses_an_f_it_cannot_check(f: Any, x: np.ndarray, grad: Any) -> None:
    with pytest.raises(TypeError, match=r'^`method="complex"` cannot check this f: .*' + _CAUSES
                       + r'.*use method="central" or method="richardson"'):
        check_gradient(f, x, grad(x), method="complex")


def test_a_layer_norm_through_var_is_refused_by_the_complex_step_with_its_cause() -> None:
    x = 3.0 + 0.03 * np.random.default_rng(5).normal(size=(3, 4))
    with pytest.raises(TypeError, match=_CAUSES):
        check_gradient(_layer_norm, x, np.zeros((3, 4)), method="complex")


def test_the_complex_step_still_checks_an_analytic_f_sharply() -> None:
    x = np.array([0.5, -1.5, 2.0])
    grad = np.exp(x) * (np.sin(x) + np.cos(x))
    result = check_gradient(lambda v: np.sum(np.sin(v) * np.exp(v)), x, grad, method="complex")
    assert result.passed and result.resolution < 1e-12
    wrong = grad * (1.0 + 1e-10 * (np.arange(3) == 1))
    assert not check_gradient(lambda v: np.sum(np.sin(v) * np.exp(v)), x, wrong,
                              method="complex").passed


@pytest.mark.parametrize("method", ["forward", "central", "richardson"])
def test_layer_norm_with_small_spread_or_constant_rows_raises_no_false_alarm(method: str) -> None:
    # before issue 11, 84 of 240 such checks failed (40 draws, both inputs, three methods)
    rng = np.random.default_rng(11)
    for _ in range(8):
        c = rng.normal(size=(3, 4))
        for x in (3.0 + 0.03 * rng.normal(size=(3, 4)),
                  np.repeat(rng.normal(size=(3, 1)), 4, axis=1)):
            result = check_gradient(lambda v, c=c: np.sum(c * _normalised(v)), x,
                                    _normalised_grad(x, c), method=method)
            assert result.passed, str(result)


def test_f_identically_zero_by_cancellation_passes_its_zero_gradient() -> None:
    x = np.full((3, 4), 1.5)  # the case: FAILED 12/12 with a tolerance of 1.4e-12
    for method in ("forward", "central"):
        result = check_gradient(_centred, x, lambda p: np.zeros_like(p), method=method)
        assert result.passed and result.n_unverifiable == 0, str(result)


def _normalised(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)


def _normalised_grad(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """∂/∂x of Σ c ⊙ y, y the layer norm of each row (the textbook backward pass)."""
    y = _normalised(x)
    inv = 1.0 / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    return inv * (c - c.mean(1, keepdims=True) - y * (c * y).mean(1, keepdims=True))


def test_forward_differences_take_the_other_side_at_the_edge_of_fs_domain() -> None:
    def f(v: np.ndarray) -> float:  # defined for v <= 1 only: NaN past the edge, not raised
        return math.nan if v[0] > 1.0 else float(np.exp(v[0]) + v[1] ** 2)

    estimate = numerical_gradient(f, np.array([1.0, 0.5]), method="forward")
    np.testing.assert_allclose(estimate, [math.e, 1.0], rtol=1e-6)
