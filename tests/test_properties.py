"""The property suite: backprop_ref's gradients pass the checker; the checker catches bugs.

For every activation, both losses, both decay conventions and every method, ∂J/∂W and ∂J/∂b
from `cost_and_gradient` and from `cost_and_gradient_loop` pass `check_gradient` with its
default tolerances (relu kinks are the elements it reports as not verifiable). Every bug of
`backprop_ref.bugs` whose effect is above the method's noise is caught.

Three failures of the checker core found by these properties are pinned below as strict xfail
regressions. A failure in exactly those situations (see `_known_core_issue`) is counted with
`event` instead of failing the property; any other failure fails it. A fix of the core turns
the xfails into failures, the signal to remove `_excused`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import event, example, given, note
from hypothesis import strategies as st

from backprop_ref import MLP, Layer, vectorized
from gradcheck import check_gradient
from gradcheck._verify import METHODS, Case, bug_statuses
from gradcheck.strategies import Case as DrawnCase
from gradcheck.strategies import checkable_cases

ZERO_CASE = DrawnCase(
    [4, 1], "identity", "sigmoid", "cross_entropy", 0.0, "ufldl",
    [(np.zeros((1, 4)), np.zeros(1))], np.zeros((1, 4)), np.zeros((1, 1)),
)
"""The all-zero case: every unit at σ(0), softplus terms log 2."""


def _network(case: DrawnCase, method: str) -> tuple[MLP, list[Layer]]:
    """The case's MLP and params, noted for Hypothesis's report."""
    mlp = MLP(**case.keywords)
    note(f"{mlp!r}, m={case.X.shape[0]}, method={method}")
    return mlp, [Layer(W, b) for W, b in case.params]


def _pre_activations(mlp: MLP, params: list[Layer], X: Any) -> list[Any]:
    """Z(2), ..., Z(L), each paired with whether its layer is relu."""
    activations, z_out = vectorized.forward(mlp._functions, params, X)
    hidden = [a @ W.T + b for a, (W, b) in zip(activations[:-2], params[:-1], strict=True)]
    return [(z, mlp.activation == "relu") for z in hidden] + [
        (z_out, mlp.output_activation == "relu")
    ]


def _known_core_issue(mlp: MLP, params: list[Layer], X: Any, Y: Any, *, near: float) -> str:
    """The name of a known checker-core failure this case is in, or "" (see the xfails)."""
    relu_z = [z for z, relu in _pre_activations(mlp, params, X) if relu]
    if any(np.any(np.abs(z) <= near) for z in relu_z):
        return "relu pre-activation at (or near) its kink"
    if mlp.cost(params, X, Y) < 1e-10:
        return "cost near zero"
    return ""


def _excused(mlp: MLP, params: list[Layer], case: DrawnCase, failure: str) -> None:
    """Fail with ``failure`` unless the case is in a known checker-core issue; count it if so."""
    issue = _known_core_issue(mlp, params, case.X, case.Y, near=0.1)
    assert issue, failure  # outside the known core issues: a new bug of checker or network
    event(f"excused, known core issue: {issue}")


@given(checkable_cases(), st.sampled_from(METHODS))
@example(ZERO_CASE, "central")
def test_backprop_gradients_pass_the_checker(case: DrawnCase, method: str) -> None:
    mlp, params = _network(case, method)
    for compute in (mlp.cost_and_gradient, mlp.cost_and_gradient_loop):
        _, grads = compute(params, case.X, case.Y)
        result = check_gradient(lambda p: mlp.cost(p, case.X, case.Y), params, grads,
                                method=method)
        if not result.passed:
            _excused(mlp, params, case, str(result))
            return
        event(f"{method}: {'some' if result.n_unverifiable else 'no'} unverifiable elements")


@given(checkable_cases(), st.sampled_from(METHODS))
@example(ZERO_CASE, "complex")
def test_the_checker_catches_every_applicable_bug(case: DrawnCase, method: str) -> None:
    mlp, params = _network(case, method)
    correct = check_gradient(lambda p: mlp.cost(p, case.X, case.Y), params,
                             mlp.cost_and_gradient(params, case.X, case.Y)[1], method=method)
    if not correct.passed:
        _excused(mlp, params, case, str(correct))
        return
    statuses = bug_statuses(Case(mlp, params, case.X, case.Y), method, correct)
    for name, status in statuses:
        event(f"{name}: {status}")
    missed = [name for name, status in statuses if status == "missed"]
    if missed:
        _excused(mlp, params, case, f"missed: {missed}")


# --- the checker-core failures found above, pinned ----------------------------------------


@pytest.mark.xfail(strict=True, reason="checker core: O(h) error where f is C¹ but f″ jumps")
def test_regression_relu_output_at_its_kink_is_not_a_mismatch() -> None:
    # J(b) = ½ relu(b)² at b = 0: J′(0) = 0, but central differences give h/4 (f″ jumps),
    # which neither the error model nor the kink test accounts for.
    result = check_gradient(lambda x: 0.5 * float(np.maximum(x[0], 0.0) ** 2), np.zeros(1),
                            lambda x: np.maximum(x, 0.0))
    assert result.passed, str(result)


@pytest.mark.xfail(strict=True, reason="checker core: noise model ε|f| when f ≈ 0 by cancellation")
def test_regression_cost_near_zero_is_not_a_mismatch() -> None:
    v = 5.688666741345898e-05  # found by Hypothesis: every parameter and value equal to v
    mlp = MLP([1, 1], activation="identity", output_activation="identity")
    params = [Layer(np.full((1, 1), v), np.full(1, v))]
    X, Y = np.full((6, 1), v), np.full((6, 1), v)
    grads = mlp.cost_and_gradient(params, X, Y)[1]
    for method in ("forward", "richardson"):
        result = check_gradient(lambda p: mlp.cost(p, X, Y), params, grads, method=method)
        assert result.passed, str(result)


@pytest.mark.xfail(strict=True, reason="checker core: confirmation step straddles a far kink")
def test_regression_wrong_gradient_near_a_kink_is_caught() -> None:
    # f = relu(x)³ at x = 0.002 with the derivative 1% too large: central differences
    # (h ≈ 6e-6) see the error, but the Richardson confirmation (h ≈ 6e-3) crosses the kink
    # at 0, its error estimate grows, and it clears the element.
    result = check_gradient(lambda x: float(np.sum(np.maximum(x, 0.0) ** 3)), np.array([0.002]),
                            lambda x: 1.01 * 3 * np.maximum(x, 0.0) ** 2)
    assert not result.passed, str(result)
