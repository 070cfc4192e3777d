"""Issue 11, second round: false alarms and report gaps that the first round left open.

Each test failed before its fix: f ≡ 0 by cancellation on constant rows (Richardson), the same
f through ``var`` with the complex step (a mismatch where the premise check could not tell;
later unresolved or "not verifiable", now decided by the real confirmation),
and a layer norm at 100 + N(0, 1) whose central-difference truncation the scaling model
missed (check_jacobian, 1 seed of 40).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gradcheck import check_gradient, check_jacobian, check_sampled, report


def _centred(x: Any) -> Any:
    """Identically 0: each centred row sums to 0 (complex for complex x, through var)."""
    return np.sum((x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5))


def test_richardson_on_f_zero_by_cancellation_over_constant_rows_raises_no_false_alarm() -> None:
    # before: 2 of 12 mismatches (numeric 3.2e-11, tolerance 6.3e-12): the noise of those two
    # elements' own evaluations happened to come out 1e-16 and 0 among the others' 4.7e-13
    result = check_gradient(_centred, np.full((3, 4), 1.5), np.zeros((3, 4)),
                            method="richardson")
    assert result.passed and result.n_unverifiable == 0, str(result)


def test_richardson_still_catches_a_gradient_on_f_zero_by_cancellation() -> None:
    wrong = np.zeros((3, 4))
    wrong[1, 2] = 1e-6
    result = check_gradient(_centred, np.full((3, 4), 1.5), wrong, method="richardson")
    assert not result.passed and result.status[0][1, 2] == report.MISMATCH


_ZERO_POINTS = [np.full((3, 4), 1.5), 3.0 + 0.03 * np.random.default_rng(2).normal(size=(3, 4))]


@pytest.mark.parametrize("x", _ZERO_POINTS, ids=["constant_rows", "spread_0.03"])
def test_the_complex_step_on_f_zero_through_var_passes_at_the_real_differences_resolution(
    x: np.ndarray,
) -> None:
    # f ≡ 0, so its complex values are 0 too (rounding) and the premise check cannot tell that
    # var broke analyticity. First the rounding-level elements were mismatches (8 of 12), then
    # unresolved (12 of 12 on constant rows) or "not verifiable" (3 of 12 at spread 0.03, the
    # confirmation's levels taking f's rounding for a kink): now the real confirmation decides
    # them, its own noise measured, as it does for central differences
    result = check_gradient(_centred, x, np.zeros((3, 4)), method="complex")
    assert result.passed, str(result)
    assert result.n_unverifiable == 0 and result.n_unresolved == 0, str(result)
    # the pass states its resolution: the real differences' where they decided (constant
    # rows: 8.9e-7), the complex step's own where its measured noise covers the zeros (1.5e-13)
    assert 0.0 < result.resolution < 1e-5, str(result)


@pytest.mark.parametrize("x", _ZERO_POINTS, ids=["constant_rows", "spread_0.03"])
@pytest.mark.parametrize("error", [1e-9, 1e-8, 1e-7, 3e-7, 1e-6, 1e-3])
def test_a_wrong_gradient_of_f_zero_through_var_passes_only_within_the_stated_resolution(
    x: np.ndarray, error: float,
) -> None:
    wrong = np.zeros((3, 4))
    wrong[1, 2] = error
    result = check_gradient(_centred, x, wrong, method="complex")
    if result.passed:  # an error the pass says it could have missed
        assert error <= result.resolution, str(result)
    else:
        assert result.status[0][1, 2] == report.MISMATCH, str(result)
    if error >= 3e-7:  # above the premise check's resolution (1.5e-7 and 7e-8 here)
        assert not result.passed, str(result)


def test_the_complex_step_keeps_a_large_mismatch_where_the_premise_could_see_it() -> None:
    x = np.full((3, 4), 1.5)
    wrong = np.zeros((3, 4))
    wrong[0, 1] = 1e-3
    result = check_gradient(_centred, x, wrong, method="complex")
    assert result.status[0][0, 1] == report.MISMATCH


def _ln(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / np.sqrt(x.var() + 1e-5)


def _ln_jacobian(x: np.ndarray) -> np.ndarray:
    n, y = x.size, _ln(x)
    inv = 1.0 / np.sqrt(x.var() + 1e-5)
    return inv / n * (n * np.eye(n) - 1.0 - np.outer(y, y))


def test_a_layer_norm_at_100_passes_check_jacobian() -> None:
    # seed 13 failed: f(x)[4] wrt x[1], |diff| 2.8e-10 against 2.45e-10. f varies on the scale
    # of the spread (1), not of |x| (100): central's truncation, measured now by the
    # confirmation's levels, is what the model's F / m³ missed
    for seed in (13, 0, 1):
        x = 100.0 + np.random.default_rng(seed).normal(size=6)
        result = check_jacobian(_ln, x, _ln_jacobian)
        assert result.passed, str(result)


def test_check_jacobian_still_catches_a_small_error_in_that_layer_norm() -> None:
    x = 100.0 + np.random.default_rng(13).normal(size=6)
    jac = _ln_jacobian(x)
    jac[4, 1] *= 1.0 + 1e-6
    result = check_jacobian(_ln, x, lambda v: jac)
    assert not result.passed and result.n_mismatches == 1


def test_the_derivative_report_says_why_elements_are_unresolved_and_what_resolves_them() -> None:
    x = np.array([0.5, -1.0, 2.0])
    # a deterministic f with a declared spread of 1e-6: every tolerance widened past the
    # elements (x ↦ 1e-9 x has a Jacobian of 1e-9)
    result = check_jacobian(lambda v: 1e-9 * v, x, lambda v: 1e-9 * np.eye(3), nondet_tol=1e-6)
    assert not result.passed and result.n_unresolved == 9 and result.n_mismatches == 0
    assert len(result.unresolved) == 9 and result.unresolved[0].name == "f(x)[0] wrt x[0]"
    assert result.unresolved_reason.startswith("`nondet_tol` widened the tolerance")
    lines = str(result).splitlines()
    assert lines[-2].startswith("unresolved (an error of the element's size could not have "
                                "been seen, see why): f(x)[0] wrt x[0] (analytic 1e-09")
    assert lines[-1] == ("  why: `nondet_tol` widened the tolerance past the gradient; a "
                         "deterministic f (or a smaller `nondet_tol`) would resolve it")
    assert result.to_dict()["unresolved_reason"] == result.unresolved_reason
    assert check_jacobian(lambda v: 1e-9 * v, x, lambda v: 1e-9 * np.eye(3)).unresolved_reason == ""


def test_check_sampled_lists_unresolved_and_not_verifiable_coordinates_too() -> None:
    special = pytest.importorskip("scipy.special")
    near_pole = np.array([0.002, 0.5])
    result = check_sampled(lambda v: float(np.sum(special.digamma(v))), near_pole,
                           special.polygamma(1, near_pole), k=2, step=0.003)
    assert not result.passed and result.mismatches == () and result.unresolved == ("x[0]",)
    assert "\nunresolved: x[0]\n" in str(result) and "why: f changes faster" in str(result)
    kink = check_sampled(lambda v: float(np.sum(np.maximum(v, 0.0))), np.array([0.0, 1.0]),
                         np.array([0.5, 1.0]), k=2)
    assert kink.passed and kink.unverifiable == ("x[0]",) and kink.unresolved == ()
    assert "\nnot verifiable at this step: x[0]\n" in str(kink)


@pytest.mark.parametrize("method", ["forward", "central", "richardson"])
def test_a_saturated_f_is_unresolved_so_a_sign_flip_there_cannot_pass(method: str) -> None:
    # tanh at 100: its values do not move over any step (the estimate is exactly 0), and the
    # gradient is about 1e-87. Before, f's scale (|f| / |x|) excused a tolerance of 1e-11 and
    # the correct and the sign-flipped gradient both passed
    x = np.array([100.0, 101.0, 99.5])
    true = 1.0 / np.cosh(x) ** 2
    for grad in (true, true * np.array([-1.0, 1.0, 1.0])):
        result = check_gradient(lambda v: np.sum(np.tanh(v)), x, grad, method=method)
        assert not result.passed and result.n_mismatches == 0 and result.n_unresolved == 3
        assert "f's values do not move over the step (f saturated" in result.unresolved_reason


@pytest.mark.parametrize("wrong", [1e-16, 1e-14, 1e-12, 1e-10, 1e-8])
def test_the_complex_step_never_passes_a_wrong_element_where_real_differences_are_flat(
    wrong: float,
) -> None:
    # tanh at 100: the gradient is about 1e-87. An analytic element of 1e-14 or 1e-12 lies
    # within the premise check's resolution, so the real confirmation decides it, and its
    # values do not move over the step: it sees 0 and would pass it (flat, so unresolved)
    x = np.array([100.0, 101.0, 99.5])
    grad = 1.0 / np.cosh(x) ** 2
    grad[0] = wrong
    result = check_gradient(lambda v: np.sum(np.tanh(v)), x, grad, method="complex")
    assert not result.passed and result.status[0][0] in (report.MISMATCH, report.UNRESOLVED)
    assert result.status[0][1:].tolist() == [report.PASS, report.PASS], str(result)


def test_a_gradient_that_is_zero_by_structure_still_passes_where_f_is_flat() -> None:
    x = np.array([100.0, 0.5])  # f flat in x[0] (saturated) whose analytic element is 0 too
    result = check_gradient(lambda v: float(np.tanh(v[0]) * 0.0 + v[1] ** 2), x,
                            np.array([0.0, 1.0]))
    assert result.passed and result.n_unresolved == 0, str(result)


def _centred_grad(x: np.ndarray) -> np.ndarray:
    """The textbook gradient of `_centred`: 0, up to its rounding (1e-16 or so)."""
    var = x.var(1, keepdims=True) + 1e-5
    y = (x - x.mean(1, keepdims=True)) / np.sqrt(var)
    return (1.0 - 1.0 - y * y.mean(1, keepdims=True)) / np.sqrt(var)


def test_forward_differences_do_not_take_f_zero_by_cancellation_for_a_flat_f() -> None:
    # f ≡ 0 can be exactly 0 at x and at x + h (a forward quotient of exactly 0) while its
    # values elsewhere move by their rounding, which the noise probe sees: not saturated. With
    # the one-sided quotient alone as evidence, 2 to 5 of 12 elements were unresolved
    for seed in (0, 1, 3):
        x = np.random.default_rng(seed).normal(size=(3, 4))
        result = check_gradient(_centred, x, _centred_grad(x), method="forward")
        assert result.passed and result.n_unresolved == 0, str(result)
