"""The estimators, their error estimates, the evaluation layer, and numerical_gradient."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from gradcheck import evaluators as _evaluate
from gradcheck import methods, numerical_gradient
from gradcheck import tree as _tree

RNG_SEED = 20240611
EPS64 = float(np.finfo(np.float64).eps)
_A = np.random.default_rng(1).normal(size=(6, 6))


def _rosenbrock(x: Any) -> Any:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _rosenbrock_grad(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def _lse_grad(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


# name: (f accepting real or complex x, exact gradient)
SMOOTH: dict[str, tuple[Callable[[Any], Any], Callable[[np.ndarray], np.ndarray]]] = {
    "sum_sin": (lambda x: np.sum(np.sin(x)), np.cos),
    "rosenbrock": (_rosenbrock, _rosenbrock_grad),
    "logsumexp": (lambda x: np.log(np.sum(np.exp(x))), _lse_grad),
    "quadratic": (lambda x: x @ _A.astype(x.real.dtype) @ x, lambda x: (_A + _A.T) @ x),
}
LADDER64 = {"forward": 1e-6, "central": 1e-9, "richardson": 1e-11, "complex": 1e-13}
LADDER32 = {"forward": 3e-3, "central": 3e-4, "richardson": 1e-4, "complex": 1e-6}


def _x(dtype: type = np.float64) -> np.ndarray:
    return np.random.default_rng(RNG_SEED).uniform(-1.5, 1.5, 6).astype(dtype)


def _rel_error(estimate: np.ndarray, exact: np.ndarray) -> float:
    return float(np.max(np.abs(estimate - exact)) / np.max(np.abs(exact)))


@pytest.mark.parametrize("name", sorted(SMOOTH))
@pytest.mark.parametrize("method", sorted(LADDER64))
def test_tolerance_ladder_float64(name: str, method: str) -> None:
    f, exact = SMOOTH[name]
    x = _x()
    g = numerical_gradient(f, x, method=method)
    assert g.dtype == np.float64
    assert _rel_error(g, exact(x)) < LADDER64[method]


@pytest.mark.parametrize("name", sorted(SMOOTH))
@pytest.mark.parametrize("method", sorted(LADDER32))
def test_tolerance_ladder_float32(name: str, method: str) -> None:
    f, exact = SMOOTH[name]
    x = _x(np.float32)
    g = numerical_gradient(f, x, method=method)
    assert g.dtype == np.float32
    assert _rel_error(g.astype(np.float64), exact(x.astype(np.float64))) < LADDER32[method]


def _estimate(f: Callable[..., Any], x: Any, method: str, *, with_f0: bool = True
              ) -> tuple[methods.Estimate, methods.Problem]:
    pb = methods.prepare(f, x, (), method)
    ev = pb.evaluator()
    f0 = ev.at_x() if with_f0 or method == "forward" else None
    noise = methods.noise_for(pb, ev.result_eps, 0.0)
    h = methods.resolve_steps(method, pb.leaves, pb.layout, pb.treedef, None,
                            eps_floor=ev.result_eps)
    return methods.estimate(ev, pb, noise, h, methods.all_coordinates(pb), f0), pb


@pytest.mark.parametrize("name", sorted(SMOOTH))
@pytest.mark.parametrize("method", sorted(LADDER64))
def test_error_estimates_bound_the_actual_error(name: str, method: str) -> None:
    f, exact = SMOOTH[name]
    x = _x()
    est, _ = _estimate(f, x, method)
    assert np.all(np.abs(est.value - exact(x)) <= 10 * est.error)
    assert not est.nonsmooth.any()


@pytest.mark.parametrize("method", sorted(LADDER64))
def test_numerical_gradient_returns_the_estimates_values_bit_for_bit(method: str) -> None:
    # numerical_gradient skips the error model; its values must still be the estimate's.
    f, _ = SMOOTH[sorted(SMOOTH)[0]]
    x = _x()
    est, _ = _estimate(f, x, method, with_f0=False)
    np.testing.assert_array_equal(numerical_gradient(f, x, method=method), est.value)


@pytest.mark.parametrize(("method", "calls"), [
    ("forward", lambda p: p + 1), ("central", lambda p: 2 * p), ("complex", lambda p: p),
    ("richardson", lambda p: 6 * p),
])
def test_cost_in_evaluations(method: str, calls: Callable[[int], int]) -> None:
    count = [0]

    def f(p: dict[str, Any]) -> Any:
        count[0] += 1
        return np.sum(p["a"] ** 2) + np.sum(np.sin(p["b"]))

    numerical_gradient(f, {"a": np.ones(3), "b": np.ones((2, 2))}, method=method)
    assert count[0] == calls(7)


def test_pytree_in_pytree_out_with_dtypes() -> None:
    x = {"w": [np.ones((2, 3), np.float32), np.arange(2.0)], "s": np.array(0.5)}
    g = numerical_gradient(
        lambda p: np.sum(p["w"][0] ** 2) + np.sum(p["w"][1] ** 3) + p["s"] ** 2, x
    )
    assert g["w"][0].dtype == np.float32 and g["w"][0].shape == (2, 3)
    np.testing.assert_allclose(g["w"][0], 2.0, rtol=1e-3)
    np.testing.assert_allclose(g["w"][1], [0.0, 3.0], atol=1e-8)
    assert g["s"].shape == () and abs(float(g["s"]) - 1.0) < 1e-9


def test_richardson_flags_a_kink_and_not_a_smooth_function() -> None:
    x = np.array([0.0, 0.3, -0.7])
    est, _ = _estimate(lambda v: np.sum(np.abs(v)), x, "richardson")
    assert est.nonsmooth.tolist() == [True, False, False]
    assert est.low[0] == pytest.approx(-1.0) and est.high[0] == pytest.approx(1.0)


def test_central_flags_a_kink_at_its_own_step() -> None:
    est, _ = _estimate(lambda v: np.sum(np.abs(v)), np.array([0.0, 0.3]), "central")
    assert est.nonsmooth.tolist() == [True, False]


def _snapshot(tree: Any) -> list[np.ndarray]:
    return [leaf.copy() for leaf in _tree.flatten(tree)[0]]


def _unchanged(tree: Any, snapshot: list[np.ndarray]) -> bool:
    leaves = _tree.flatten(tree)[0]
    return all(np.array_equal(a, b) and a.flags.writeable for a, b in zip(leaves, snapshot,
                                                                          strict=True))


@pytest.mark.parametrize("method", sorted(LADDER64))
def test_caller_arrays_unchanged_after_success(method: str) -> None:
    x = {"w": np.linspace(-1, 1, 5), "b": np.ones(2)}
    before = _snapshot(x)
    numerical_gradient(lambda p: np.sum(np.sin(p["w"])) + np.sum(p["b"] ** 2), x, method=method)
    assert _unchanged(x, before)


@pytest.mark.parametrize("method", sorted(LADDER64))
def test_caller_arrays_unchanged_when_f_raises_midway(method: str) -> None:
    x = [np.linspace(-1, 1, 5)]
    before = _snapshot(x)
    calls = [0]

    def f(p: list[np.ndarray]) -> Any:
        calls[0] += 1
        if calls[0] == 5:
            raise RuntimeError("boom on call 5")
        return np.sum(p[0] ** 2)

    with pytest.raises(RuntimeError, match="boom on call 5"):
        numerical_gradient(f, x, method=method)
    assert _unchanged(x, before)


@pytest.mark.parametrize("method", sorted(LADDER64))
def test_f_writing_into_its_argument_still_gives_the_right_gradient(method: str) -> None:
    x = {"w": np.linspace(-1, 1, 5)}
    before = _snapshot(x)

    def f(p: dict[str, np.ndarray]) -> Any:
        p["w"] *= 2.0  # f(w) = sum((2w)^2), gradient 8w
        return np.sum(p["w"] ** 2)

    g = numerical_gradient(f, x, method=method)
    np.testing.assert_allclose(g["w"], 8.0 * x["w"], rtol=1e-6, atol=1e-6)
    assert _unchanged(x, before)


def test_f_replacing_entries_of_its_argument_does_not_leak_between_calls() -> None:
    x = {"w": np.linspace(-1, 1, 4)}

    def f(p: dict[str, np.ndarray]) -> Any:
        p["w"] = p["w"] * 2.0
        return np.sum(p["w"] ** 2)

    np.testing.assert_allclose(numerical_gradient(f, x)["w"], 8.0 * x["w"], rtol=1e-8)


def test_evaluator_switches_to_copies_when_f_writes_and_counts_every_call() -> None:
    leaves, _, treedef = _tree.flatten(np.array([1.0, 2.0]))
    seen: list[bool] = []

    def f(v: np.ndarray) -> float:
        seen.append(v.flags.writeable)
        v[0] += 0.0
        return float(np.sum(v))

    ev = _evaluate.SerialEvaluator(f, leaves, treedef, ())
    assert ev.along(np.array([1, 1], np.intp), np.array([0.5, -0.5])).tolist() == [3.5, 2.5]
    assert seen == [False, True, True]
    assert ev.n_evaluations == 3


def test_evaluator_imaginary_shifts_use_the_matching_complex_dtype() -> None:
    leaves, _, treedef = _tree.flatten([np.ones(2, np.float32), np.ones(1)])
    dtypes: list[Any] = []

    def f(p: list[np.ndarray]) -> Any:
        dtypes.append((p[0].dtype, p[1].dtype))
        return np.sum(p[0] * p[0]) + np.sum(p[1]).astype(np.complex64)

    ev = _evaluate.SerialEvaluator(f, leaves, treedef, ())
    out = ev.along_imaginary(np.array([1, 2], np.intp), np.array([1e-10, 1e-10]))
    assert dtypes[0] == (np.complex64, np.complex128)
    np.testing.assert_allclose(out.imag / 1e-10, [2.0, 1.0], rtol=1e-6)
    assert ev.result_eps == float(np.finfo(np.float32).eps)


@pytest.mark.parametrize(
    ("f", "cause"),
    [
        (lambda x: np.sum(np.abs(x)), None),
        (lambda x: np.sum(np.real(x) ** 2), None),
        (lambda x: float(x[0]) ** 2 + np.sum(x), Warning),
        (lambda x: math.sin(complex(x[0])) + np.sum(x), TypeError),
    ],
    ids=["abs", "np.real", "float()", "math.sin"],
)
def test_complex_step_on_a_non_analytic_f_is_explained(f: Callable[..., Any],
                                                       cause: type | None) -> None:
    x = np.array([0.5, 1.5])
    before = x.copy()
    with pytest.raises(TypeError, match=r"complex step .* analytic in x: no abs, np.real") as info:
        numerical_gradient(f, x, method="complex")
    if cause is not None:
        assert isinstance(info.value.__cause__, cause)
    np.testing.assert_array_equal(x, before)


def test_complex_step_in_float32_is_accurate() -> None:
    x = _x(np.float32)
    g = numerical_gradient(lambda v: np.sum(1.0 / (1.0 + np.exp(-3 * v))), x, method="complex")
    s = 1.0 / (1.0 + np.exp(-3 * x.astype(np.float64)))
    assert _rel_error(g.astype(np.float64), 3 * s * (1 - s)) < 1e-6


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.array([1.0]), r"`f` must return a real scalar .*an array of shape \(1,\)"),
        ((1.0, np.ones(2)), r"it returned a tuple of length 2 \(a function returning \(value"),
        ("1.0", r"`f` must return a real scalar .*it returned str '1.0'"),
        (True, r"`f` must return a real scalar; it returned bool True"),
        (1 + 2j, r"it returned complex \(1\+2j\)"),
        (None, r"it returned NoneType None"),
    ],
)
def test_f_must_return_a_real_scalar(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        numerical_gradient(lambda x: value, np.ones(2))


@pytest.mark.parametrize(
    "value", [np.float32(2.0), np.array(2.0), 2, np.int64(2), np.float64(2.0), 2.0]
)
def test_accepted_scalar_returns(value: object) -> None:
    np.testing.assert_array_equal(numerical_gradient(lambda x: value, np.ones(2)), 0.0)


def test_non_finite_f_at_x_and_near_x() -> None:
    with pytest.raises(ValueError, match=r"^`f` returned nan at x; f must return a finite"):
        numerical_gradient(lambda x: np.nan, np.ones(2), method="forward")

    def f(x: np.ndarray) -> Any:
        with np.errstate(invalid="ignore"):
            return np.sum(np.sqrt(x))

    # the step is shrunk 4096-fold before f is reported not finite near x
    with pytest.raises(ValueError, match=r"returned nan at x moved by -2.44e-07 along `x\[1\]`"):
        numerical_gradient(f, np.array([1.0, 1e-9]), step=1e-3)


def test_richardson_order_test_flags_a_kink_of_the_derivative_not_a_steep_smooth_f() -> None:
    # ½ relu(x)² at 0: the central values shrink 2x per halving, not 4x; exp(20 x) is smooth
    est, _ = _estimate(lambda v: 0.5 * np.maximum(v[0], 0.0) ** 2 + np.exp(20 * v[1]),
                       np.array([0.0, 0.1]), "richardson")
    assert est.nonsmooth.tolist() == [True, False]


def test_one_sided_range_is_unbounded_where_a_second_kink_lies_within_the_step() -> None:
    # |x| + 50 |x + 1e-3| at 0: the backward quotients cross the second kink and do not settle
    est, _ = _estimate(lambda v: np.abs(v[0]) + 50 * np.abs(v[0] + 1e-3), np.zeros(1),
                       "richardson")
    assert est.nonsmooth[0] and est.low[0] == -np.inf and est.high[0] == np.inf


def _probe(f: Callable[[Any], Any], x: np.ndarray) -> tuple[float, int]:
    pb = methods.prepare(f, x, (), "central")
    reach = methods.default_steps("central", pb.leaves, eps_floor=0.0)
    return methods.probe_noise(pb, f, float(f(x)), methods.noise_for(pb, 0.0, 0.0).eps, reach)


def test_noise_probe_sees_cancellation_that_eps_times_f_misses() -> None:
    x = np.array([0.3, -0.2])
    sigma, calls = _probe(lambda v: np.sum(np.sin(v)), x)
    assert calls == 5 * methods.PROBE_DIRECTIONS - 1
    assert sigma < 10 * EPS64  # |f| ~ 0.1: rounding noise of order ε |f|
    # f = ((1e4 + v0) - 1e4)² - v0² is 0 up to the rounding of 1e4 + v0: ~1e-12 · |v0|
    sigma, _ = _probe(lambda v: ((1e4 + v[0]) - 1e4) ** 2 - v[0] ** 2 + v[1], x)
    assert sigma > 1e-14


def test_noise_probe_leaves_the_caller_arrays_alone() -> None:
    x = np.array([1.0, 2.0], np.float32)
    before = x.copy()
    _probe(lambda v: float(np.sum(v * v)), x)
    np.testing.assert_array_equal(x, before)


def test_a_method_is_one_registry_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Backward differences as one entry: forward's, its derivative taken at -h.
    def backward(ev: Any, pb: Any, h: Any, index: Any) -> Any:
        return methods._forward_derivative(ev, pb, -h, index)

    entry = dataclasses.replace(methods.METHODS["forward"], name="backward", derivative=backward)
    monkeypatch.setitem(methods.METHODS, "backward", entry)
    x = np.array([2.0, 3.0, 5.0])
    cube = lambda v: float(np.sum(v**3))  # noqa: E731
    exact = 3.0 * x**2
    # a step large enough that truncation (h f'' / 2 = 3 h x) outweighs rounding
    below = numerical_gradient(cube, x, method="backward", step=1e-3)
    above = numerical_gradient(cube, x, method="forward", step=1e-3)
    np.testing.assert_allclose(below, exact - 3e-3 * x, rtol=1e-6)
    np.testing.assert_allclose(above, exact + 3e-3 * x, rtol=1e-6)
    with pytest.raises(ValueError, match=r"one of forward, central, complex, richardson, backward"):
        numerical_gradient(cube, x, method="sideways")


def test_status_codes_keep_their_values_and_int8_arrays() -> None:
    from gradcheck import report

    assert [int(s) for s in report.Status] == [0, 1, 2, 3, 4]
    codes = (report.PASS, report.MISMATCH, report.UNVERIFIABLE, report.UNCHECKED,
             report.UNRESOLVED)
    assert tuple(report.Status) == codes
    # the module constants are plain ints: np.where keeps the status arrays int8
    status = np.zeros(2, np.int8)
    assert np.where([True, False], report.MISMATCH, status).dtype == np.int8
