"""The property suite: backprop_ref's gradients pass the checker; the checker catches bugs.

For every activation, both losses, both decay conventions and every method, ∂J/∂W and ∂J/∂b
from `cost_and_gradient` and from `cost_and_gradient_loop` pass `check_gradient` with its
default tolerances (relu kinks are the elements it reports as not verifiable). Every bug of
`backprop_ref.bugs` whose effect is above the method's noise is caught. No exemption: the
checker-core failures these properties once found (a relu output at its kink, a cost near
zero by cancellation, a wrong gradient near a kink) are pinned as `@example`s here and as
ordinary regression tests in tests/test_check.py.

Two limits of the oracle, not of the checker, are stated as such. A relu pre-activation
within 1e-6 of its kink but not at it (from inputs like 1e-300 or 6e-8, or biases like 1e-47)
puts a kink within the step but not at x, and with several examples several kinks: x then sits
on a sliver whose slope, backprop's relu′(z), no difference quotient at the method's step sees
and the one-sided quotients do not bound (the kinks' jumps can cancel). Such cases are assumed
away; kinks exactly at x (dead units, zero inputs) stay in. And a planted bug that only moves
elements to another one-sided derivative of f at a real kink (relu′(0) = 1 for 0) is not
wrong: a missed bug is excused only where every element it moves lands within the one-sided
quotients of f at a step of 1e-8, and these differ (f has a kink there).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, event, example, given, note
from hypothesis import strategies as st

from backprop_ref import MLP, Layer, vectorized
from backprop_ref.bugs import plant
from gradcheck import check_gradient, methods
from gradcheck.cli._verify import METHODS, Case, bug_statuses
from gradcheck.strategies import Case as DrawnCase
from gradcheck.strategies import checkable_cases

ZERO_CASE = DrawnCase(
    [4, 1], "identity", "sigmoid", "cross_entropy", 0.0, "ufldl",
    [(np.zeros((1, 4)), np.zeros(1))], np.zeros((1, 4)), np.zeros((1, 1)),
)
"""The all-zero case: every unit at σ(0), softplus terms log 2."""

RELU_AT_KINK = DrawnCase(
    [1, 1], "identity", "relu", "squared", 0.0, "ufldl",
    [(np.zeros((1, 1)), np.zeros(1))], np.ones((1, 1)), np.zeros((1, 1)),
)
"""J = ½ relu(z)² at z = 0: f is C¹ but f″ jumps, central differences are off by h/4."""

_V = 5.688666741345898e-05
COST_NEAR_ZERO = DrawnCase(
    [1, 1], "identity", "identity", "squared", 0.0, "ufldl",
    [(np.full((1, 1), _V), np.full(1, _V))], np.full((6, 1), _V), np.full((6, 1), _V),
)
"""Every value equal to v: J ≈ 5e-18 from residuals v² computed as (v² + v) - v."""

RELU_NEAR_KINK = DrawnCase(
    [1, 1], "identity", "relu", "squared", 0.0, "ufldl",
    [(np.ones((1, 1)), np.full(1, 0.002))], np.zeros((1, 1)), np.zeros((1, 1)),
)
"""J = ½ relu(b)² at b = 0.002: a kink within Richardson's default step, not central's."""

DEAD_RELU = DrawnCase(
    [1, 1, 1, 1], "identity", "relu", "squared", 1e-8, "ufldl",
    [(np.zeros((1, 1)), np.zeros(1)), (np.zeros((1, 1)), np.zeros(1)),
     (np.zeros((1, 1)), np.full(1, -0.01))], np.zeros((1, 1)), np.ones((1, 1)),
)
"""A dead relu output: the gradient is 0, and decay on the last bias moves it by 1e-10,
which Richardson resolves but its confirmation, at a far smaller step, cannot."""

RELU_CHAIN_AT_KINK = DrawnCase(
    [1, 1, 1, 1], "identity", "relu", "squared", 0.0, "ufldl",
    [(np.zeros((1, 1)), np.zeros(1)), (np.full((1, 1), 0.005), np.zeros(1)),
     (np.full((1, 1), 0.01), np.full(1, 0.01))], np.zeros((1, 1)), np.zeros((1, 1)),
)
"""Both relu units exactly at their kink (a Hypothesis counterexample with the complex step)."""

TINY_BIAS = DrawnCase(
    [1, 1], "identity", "identity", "squared", 0.0, "ufldl",
    [(np.zeros((1, 1)), np.full(1, 2.9059682e-256))], np.zeros((1, 1)), np.zeros((1, 1)),
)
"""A gradient of 3e-256 that central differences round to exactly 0 (f(b ± h) equal), though
f's values move: not a flat f, so not unresolved."""

TINY_TARGET = DrawnCase(
    [1, 1], "identity", "identity", "squared", 0.0, "ufldl",
    [(np.zeros((1, 1)), np.zeros(1))], np.zeros((1, 1)), np.full((1, 1), 1.77277165e-108),
)
"""The same with a target of 2e-108."""

OUTPUT_RELU_AT_KINK = DrawnCase(
    [1, 1], "identity", "relu", "squared", 0.0, "ufldl",
    [(np.zeros((1, 1)), np.zeros(1))], np.zeros((1, 1)), np.ones((1, 1)),
)
"""A relu output exactly at its kink: the complex step refuses it, naming the cause (a
Hypothesis counterexample of the random profile, once the premise check came in)."""

KINKED_DECAY = DrawnCase(
    [1, 2, 1, 1], "relu", "identity", "squared", 1e-4, "ufldl",
    [(np.zeros((2, 1)), np.zeros(2)), (np.full((1, 2), -1.0), np.zeros(1)),
     (np.ones((1, 1)), np.zeros(1))], np.zeros((1, 1)), np.ones((1, 1)),
)
"""The second relu layer exactly at its kink, its bias's own evaluations straddling it: that
"noise" must not be lent to the smooth weights, where a missing decay of 1e-4 was passed
with forward differences (a Hypothesis counterexample of the random profile)."""


SATURATED_FORWARD = DrawnCase(
    [1, 4, 2, 1], "identity", "sigmoid", "squared", 0.0, "ufldl",
    [(np.array([[0.0], [0.0], [3.0], [0.0]]), np.zeros(4)), (np.full((2, 4), 3.0), np.zeros(2)),
     (np.array([[0.0, 1.5]]), np.zeros(1))], np.ones((1, 1)), np.ones((1, 1)),
)
"""A sigmoid output at z = 13.5: J = (1 - σ)² / 2 ≈ 9e-13 is rounded in 1 + e^(-z), far
coarser than ε J, and forward differences at the dyadic step 2^-26 and their confirmation
agreed on a quotient 4e-5 off (a Hypothesis counterexample of the random profile: the
repeats' offsets of 1e3 ulps left that rounding where it was)."""


FLAT_DECAY = DrawnCase(
    [1, 1], "identity", "relu", "squared", 7.739768295285974e-05, "ufldl",
    [(np.full((1, 1), 3.90625e-05), np.zeros(1))], -np.ones((1, 1)), np.ones((1, 1)),
)
"""A dead relu output: ∂J/∂W = λ W = 3e-9 moves J = ½ by half an ulp over the forward step,
so forward differences report it unresolved, not passed (a Hypothesis counterexample of the
random profile; a failing check that the oracle accepts only below f's resolution)."""


TINY_DECAYED_WEIGHT = DrawnCase(
    [1, 2], "identity", "softmax", "cross_entropy", 1e-4, "ufldl",
    [(np.array([[5.49431775e-220], [0.0]]), np.zeros(2))], np.zeros((1, 1)),
    np.full((1, 2), 0.5),
)
"""A weight of 5e-220 whose decay gradient, 5e-224, no forward quotient resolves: the same
(a Hypothesis counterexample of the random profile)."""


OUTPUT_RELU_AT_KINK_NO_INPUT = DrawnCase(
    [1, 1], "identity", "relu", "squared", 0.0, "ufldl",
    [(np.zeros((1, 1)), np.zeros(1))], np.zeros((1, 1)), np.ones((1, 1)),
)
"""A relu output at its kink that the complex step refuses, in the bug-catching property too
(a Hypothesis counterexample of the random profile)."""


def _network(case: DrawnCase, method: str) -> tuple[MLP, list[Layer]]:
    """The case's MLP and params, noted for Hypothesis's report; sliver cases assumed away."""
    mlp = MLP(**case.keywords)
    note(f"{mlp!r}, m={case.X.shape[0]}, method={method}")
    params = [Layer(W, b) for W, b in case.params]
    assume(not _relu_sliver(mlp, params, case.X))
    return mlp, params


def _relu_inputs(mlp: MLP, params: list[Layer], X: Any) -> list[Any]:
    """The pre-activations of the network's relu units, one array per relu layer."""
    activations, z_out = vectorized.forward(mlp._functions, params, X)
    hidden = [a @ W.T + b for a, (W, b) in zip(activations[:-2], params[:-1], strict=True)]
    relu_z = [z for z in hidden if mlp.activation == "relu"]
    return relu_z + ([z_out] if mlp.output_activation == "relu" else [])


def _relu_sliver(mlp: MLP, params: list[Layer], X: Any) -> bool:
    """Whether a relu pre-activation is near its kink but not at it (see the module notes)."""
    return any(np.any((z != 0) & (np.abs(z) < 1e-6)) for z in _relu_inputs(mlp, params, X))


def _relu_at_kink(mlp: MLP, params: list[Layer], X: Any) -> bool:
    """Whether a relu pre-activation is exactly at its kink, where f is not analytic."""
    return any(np.any(z == 0) for z in _relu_inputs(mlp, params, X))


def _one_sided_swap(case: Case, correct: Any, name: str) -> bool:
    """Whether bug ``name`` only moves elements to another one-sided derivative of f at x."""
    planted = next(p for p in plant(case.mlp, case.params, case.X, case.Y) if p.bug.name == name)
    flat = [np.concatenate([np.ravel(a) for a in arrays]) for arrays in (
        correct.analytic, [a for layer in planted.grads for a in layer], correct.tolerance)]
    moved = np.flatnonzero(np.abs(flat[1] - flat[0]) >= 2.0 * np.maximum(flat[2], 1e-300))
    if moved.size == 0:
        return False
    fwd, bwd = _one_sided(lambda p: case.mlp.cost(p, case.X, case.Y), case.params, moved)
    slack = 2.0 * flat[2][moved] + 1e-6 * np.maximum(np.abs(fwd), np.abs(bwd))
    low, high = np.minimum(fwd, bwd) - slack, np.maximum(fwd, bwd) + slack
    return bool(np.all((flat[1][moved] >= low) & (flat[1][moved] <= high) & (fwd != bwd)))


def _one_sided(f: Any, params: list[Layer], index: Any) -> tuple[Any, Any]:
    """Forward and backward quotients of f at a step of 1e-8 along the coordinates ``index``."""
    pb = methods.prepare(f, params, (), "central")
    ev = pb.evaluator()
    f0 = ev.at_x()
    h = 1e-8 * np.maximum(1.0, np.abs(pb.x_flat[index]))
    return (ev.along(index, h) - f0) / h, (f0 - ev.along(index, -h)) / h


@given(checkable_cases(), st.sampled_from(METHODS))
@example(ZERO_CASE, "central")
@example(RELU_AT_KINK, "central")
@example(RELU_AT_KINK, "richardson")
@example(COST_NEAR_ZERO, "forward")
@example(COST_NEAR_ZERO, "richardson")
@example(TINY_BIAS, "forward")
@example(OUTPUT_RELU_AT_KINK, "complex")
@example(SATURATED_FORWARD, "forward")
@example(FLAT_DECAY, "forward")
def test_backprop_gradients_pass_the_checker(case: DrawnCase, method: str) -> None:
    mlp, params = _network(case, method)
    # the complex step may refuse a relu exactly at its kink (f is not analytic there), with
    # the cause named; anywhere else, and with any other method, a correct gradient passes
    may_refuse = method == "complex" and _relu_at_kink(mlp, params, case.X)
    for compute in (mlp.cost_and_gradient, mlp.cost_and_gradient_loop):
        _, grads = compute(params, case.X, case.Y)
        try:
            result = check_gradient(lambda p: mlp.cost(p, case.X, case.Y), params, grads,
                                    method=method)
        except TypeError as refusal:
            if not (may_refuse and "cannot check this f" in str(refusal)):
                raise
            event("complex: refused at a relu kink")
            continue
        if not result.passed and _below_forward_resolution(result, mlp, params, case, method):
            event("forward: unresolved, f moves by a few ulps over the step")
            continue
        assert result.passed, str(result)
        event(f"{method}: {'some' if result.n_unverifiable else 'no'} unverifiable elements")


def _below_forward_resolution(
    result: Any, mlp: MLP, params: list[Layer], case: DrawnCase, method: str
) -> bool:
    """Whether the check failed only by unresolved elements that a correct gradient moves f
    by fewer than 16 units in the last place of f(x) over the forward step: no forward
    quotient resolves them to their own size (its tolerance is some 10 ulps over h)."""
    if method != "forward" or result.mismatches or not result.unresolved:
        return False
    ulp = np.spacing(abs(mlp.cost(params, case.X, case.Y)))
    for e in result.unresolved:
        layer, field = re.fullmatch(r"\[(\d+)\]\.(W|b)", e.path).groups()  # type: ignore[union-attr]
        x_k = getattr(params[int(layer)], field)[e.index]
        relative = methods.relative_step("forward", float(np.finfo(np.float64).eps))
        step = relative * max(1.0, abs(x_k))
        if abs(e.analytic) * step > 16.0 * ulp:
            return False
    return True


@given(checkable_cases(), st.sampled_from(METHODS))
@example(ZERO_CASE, "complex")
@example(RELU_NEAR_KINK, "central")
@example(RELU_NEAR_KINK, "complex")
@example(RELU_NEAR_KINK, "richardson")
@example(COST_NEAR_ZERO, "forward")
@example(DEAD_RELU, "richardson")
@example(RELU_CHAIN_AT_KINK, "complex")
@example(TINY_TARGET, "forward")
@example(KINKED_DECAY, "forward")
@example(KINKED_DECAY, "central")
@example(TINY_DECAYED_WEIGHT, "forward")
@example(OUTPUT_RELU_AT_KINK_NO_INPUT, "complex")
def test_the_checker_catches_every_applicable_bug(case: DrawnCase, method: str) -> None:
    mlp, params = _network(case, method)
    try:
        correct = check_gradient(lambda p: mlp.cost(p, case.X, case.Y), params,
                                 mlp.cost_and_gradient(params, case.X, case.Y)[1], method=method)
    except TypeError as refusal:
        # as above: the complex step may refuse a relu exactly at its kink, naming the cause
        if not (method == "complex" and _relu_at_kink(mlp, params, case.X)
                and "cannot check this f" in str(refusal)):
            raise
        event("complex: refused at a relu kink")
        return
    if not correct.passed and _below_forward_resolution(correct, mlp, params, case, method):
        event("forward: unresolved, f moves by a few ulps over the step")
        return
    assert correct.passed, str(correct)
    statuses = bug_statuses(Case(mlp, params, case.X, case.Y), method, correct)
    for name, status in statuses:
        event(f"{name}: {status}")
    case_ = Case(mlp, params, case.X, case.Y)
    missed = [name for name, status in statuses
              if status == "missed" and not _one_sided_swap(case_, correct, name)]
    assert not missed, f"missed: {missed}"


@pytest.mark.parametrize("method", METHODS)
def test_a_saturated_sigmoid_output_passes_every_method(method: str) -> None:
    mlp, params = MLP(**SATURATED_FORWARD.keywords), [Layer(W, b) for W, b in
                                                      SATURATED_FORWARD.params]
    X, Y = SATURATED_FORWARD.X, SATURATED_FORWARD.Y
    grads = mlp.cost_and_gradient(params, X, Y)[1]
    result = check_gradient(lambda p: mlp.cost(p, X, Y), params, grads, method=method)
    assert result.passed, str(result)
    # the measured noise must not hide a real error above it: forward differences' quotients
    # there are off by up to 1e-3 (resolution 4e-13, a fifth of the last bias's 1.9e-12)
    wrong = [Layer(g.W, g.b) for g in grads]
    wrong[-1] = Layer(grads[-1].W, grads[-1].b * (1.5 if method == "forward" else 1.001))
    bad = check_gradient(lambda p: mlp.cost(p, X, Y), params, wrong, method=method)
    assert not bad.passed and {e.path for e in bad.mismatches} == {"[2].b"}, str(bad)
