"""check_jacobian, check_vjp, check_jvp, check_hessian: verdicts, costs, reports, bad input."""

from __future__ import annotations

import doctest
import importlib
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import gradcheck
from gradcheck import report

A = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0], [0.3, 0.2, 0.1], [-0.4, 0.6, 0.9]])
X = np.array([0.1, 0.2, -0.3])


def layer(x: Any) -> Any:
    """A pytree layer: {"h": tanh(W v + b), "s": sum(v²)} of x = {"W", "v", "b"}."""
    return {"h": np.tanh(x["W"] @ x["v"] + x["b"]), "s": np.sum(x["v"] ** 2)}


def layer_jacobian(x: Any) -> Any:
    """jax.jacobian's layout: out leaf shape + in leaf shape per block."""
    d = 1 - np.tanh(x["W"] @ x["v"] + x["b"]) ** 2  # (2,)
    eye = np.eye(2)
    return {
        "h": {"W": np.einsum("i,ik,l->ikl", d, eye, x["v"]), "v": d[:, None] * x["W"],
              "b": np.diag(d)},
        "s": {"W": np.zeros((2, 3)), "v": 2 * x["v"], "b": np.zeros(2)},
    }


def point() -> dict[str, np.ndarray]:
    """A fresh x for ``layer``."""
    rng = np.random.default_rng(3)
    return {"W": rng.standard_normal((2, 3)), "v": rng.standard_normal(3),
            "b": rng.standard_normal(2)}


class Counted:
    """f with a count of its calls."""

    def __init__(self, f: Any) -> None:
        self.f, self.calls = f, 0

    def __call__(self, x: Any, *args: Any) -> Any:
        self.calls += 1
        return self.f(x, *args)


def dense(x: np.ndarray) -> np.ndarray:
    """tanh(A x), 4 outputs of 3 inputs."""
    return np.tanh(A @ x)


def dense_jacobian(x: np.ndarray) -> np.ndarray:
    """(4, 3)."""
    return (1 - np.tanh(A @ x) ** 2)[:, None] * A


def test_correct_pytree_jacobian_passes_and_names_both_sides() -> None:
    x = point()
    result = gradcheck.check_jacobian(layer, x, layer_jacobian)
    assert result.passed and bool(result)
    assert result.status.shape == (3, 11)
    assert [b.name for b in result.blocks][:2] == ["f(x)['h'] wrt x['W']", "f(x)['h'] wrt x['v']"]
    assert [b.shape for b in result.blocks][:2] == [(2, 2, 3), (2, 3)]
    assert result.max_rel_error < 1e-8
    assert str(result).startswith("PASSED: Jacobian, central differences, 33 elements")


def test_wrong_element_is_named_with_output_and_input() -> None:
    x = point()
    jac = layer_jacobian(x)
    jac["h"]["W"][1, 1, 2] *= 1.001
    result = gradcheck.check_jacobian(layer, x, jac)
    assert not result.passed and result.n_mismatches == 1
    assert result.worst is not None
    assert result.worst.name == "f(x)['h'][1] wrt x['W'][1, 2]"
    assert "f(x)['h'][1] wrt x['W'][1, 2]" in str(result)
    assert [f.name for f in result.diagnosis] == ["wrong-element"]
    data = json.loads(json.dumps(result.to_dict()))
    assert data["n_mismatches"] == 1 and data["kind"] == "jacobian"
    assert data["mismatches"][0]["name"] == "f(x)['h'][1] wrt x['W'][1, 2]"


@pytest.mark.parametrize("n_outputs", [1, 4, 40])
def test_full_jacobian_costs_2p_plus_16_calls_whatever_the_outputs(n_outputs: int) -> None:
    rng = np.random.default_rng(n_outputs)
    w = rng.standard_normal((n_outputs, 25))
    f = Counted(lambda x: np.sin(w @ x))
    x = rng.standard_normal(25)
    result = gradcheck.check_jacobian(f, x, np.cos(w @ x)[:, None] * w)
    assert result.passed
    assert f.calls == result.n_evaluations == 2 * 25 + 16


def test_vjp_costs_one_gradient_check_for_all_cotangents() -> None:
    f = Counted(dense)
    result = gradcheck.check_vjp(f, X, lambda x, ct: dense_jacobian(x).T @ ct, n_cotangents=5)
    assert result.passed and result.status.shape == (5, 3)
    assert f.calls == 2 * 3 + 16
    assert result.slip_probability == pytest.approx(0.0797**5, rel=1e-2)
    assert "passes all 5 random cotangents with probability <= 3.2e-06" in str(result)


def test_jvp_costs_two_calls_per_tangent() -> None:
    f = Counted(dense)
    result = gradcheck.check_jvp(f, X, lambda x, t: dense_jacobian(x) @ t, n_tangents=3)
    assert result.passed and result.status.shape == (4, 3)
    assert f.calls == 2 * 3 + 16
    assert result.worst is not None and " along t[" in result.worst.name


def test_given_directions_are_used_and_left_unchanged() -> None:
    ct = [np.array([1.0, 0.0, 0.0, 0.0])]
    t = [np.array([0.0, 1.0, 0.0])]
    vjp = gradcheck.check_vjp(dense, X, lambda x, c: dense_jacobian(x).T @ c, cotangents=ct)
    jvp = gradcheck.check_jvp(dense, X, lambda x, u: dense_jacobian(x) @ u, tangents=t)
    np.testing.assert_allclose(vjp.numeric[0], dense_jacobian(X)[0], rtol=1e-8)
    np.testing.assert_allclose(jvp.numeric[:, 0], dense_jacobian(X)[:, 1], rtol=1e-8)
    assert vjp.slip_probability is None and jvp.slip_probability is None
    assert ct[0].tolist() == [1.0, 0.0, 0.0, 0.0] and t[0].tolist() == [0.0, 1.0, 0.0]


def test_hessian_with_grad_is_the_jacobian_of_grad() -> None:
    rng = np.random.default_rng(0)
    m = rng.standard_normal((4, 4))
    m = m + m.T

    def f(x: np.ndarray) -> float:
        return float(x @ m @ x / 2 + np.sum(np.sin(x)))

    grad = Counted(lambda x: m @ x + np.cos(x))
    x = rng.standard_normal(4)
    hess = m - np.diag(np.sin(x))
    result = gradcheck.check_hessian(f, x, hess, grad=grad)
    assert result.passed and grad.calls == 2 * 4 + 16
    assert result.worst is not None and result.worst.name.startswith("∇f(x)[")
    assert "the Hessian is symmetric" in str(result)
    assert gradcheck.check_hessian(f, x, hess).passed  # gradient by central differences


def test_asymmetric_hessian_fails_on_symmetry() -> None:
    def f(x: np.ndarray) -> float:
        return float(x[0] ** 2 * x[1])

    x = np.array([0.7, -1.2])
    hess = np.array([[2 * x[1], 2 * x[0]], [2 * x[0] + 0.5, 0.0]])
    result = gradcheck.check_hessian(f, x, hess, grad=lambda x: np.array([2 * x[0] * x[1],
                                                                          x[0] ** 2]))
    assert not result.passed
    assert "asymmetric" in [finding.name for finding in result.diagnosis]


def test_hessian_vector_products_and_their_symmetry() -> None:
    m = np.array([[2.0, 1.0], [1.0, 3.0]])

    def f(x: np.ndarray) -> float:
        return float(x @ m @ x / 2)

    x = np.array([0.3, 0.4])
    good = gradcheck.check_hessian(f, x, lambda x, v: m @ v, hvp=True, grad=lambda x: m @ x)
    assert good.passed and good.status.shape == (2, 2)
    bad = gradcheck.check_hessian(f, x, lambda x, v: m.T @ v + [0.0, 0.1 * v[0]], hvp=True,
                                  grad=lambda x: m @ x)
    assert not bad.passed


def test_assert_forms_raise_gradient_mismatch_with_the_report() -> None:
    with pytest.raises(gradcheck.GradientMismatch, match=r"FAILED: Jacobian.*\n"):
        gradcheck.assert_jacobian(dense, X, 2 * dense_jacobian(X))
    with pytest.raises(gradcheck.GradientMismatch, match=r"(?s)FAILED: VJP.*\[sign\]"):
        gradcheck.assert_vjp(dense, X, lambda x, ct: -dense_jacobian(x).T @ ct)
    with pytest.raises(gradcheck.GradientMismatch, match=r"FAILED: JVP"):
        gradcheck.assert_jvp(dense, X, lambda x, t: 0 * t[0] + dense_jacobian(x) @ t * 1.01)
    with pytest.raises(gradcheck.GradientMismatch, match=r"FAILED: Hessian") as info:
        gradcheck.assert_hessian(lambda x: float(x @ x), X, 3 * np.eye(3))
    assert isinstance(info.value.result, gradcheck.DerivativeCheckResult)
    gradcheck.assert_jacobian(dense, X, dense_jacobian)
    gradcheck.assert_vjp(dense, X, lambda x, ct: dense_jacobian(x).T @ ct)


def _square(x: np.ndarray) -> np.ndarray:
    """A square Jacobian with no symmetry."""
    return np.tanh(A[:3] @ x)


def _square_jacobian(x: np.ndarray) -> np.ndarray:
    return (1 - np.tanh(A[:3] @ x) ** 2)[:, None] * A[:3]


def _with(j: np.ndarray, where: tuple[Any, ...], value: float) -> np.ndarray:
    j = j.copy()
    j[where] = value
    return j


@pytest.mark.parametrize(
    ("analytic", "finding"),
    [
        (lambda j: 2 * j, "constant-factor"),
        (lambda j: -j, "sign"),
        (lambda j: j.T, "transposed"),
        (lambda j: _with(j, (1, slice(None)), 0.3), "wrong-row"),
        (lambda j: _with(j, (slice(None), 2), -0.1), "wrong-column"),
        (lambda j: _with(j, (0, 1), 7.0), "wrong-element"),
    ],
)
def test_diagnosis_names_the_pattern(analytic: Any, finding: str) -> None:
    result = gradcheck.check_jacobian(_square, X, analytic(_square_jacobian(X)))
    assert not result.passed
    assert [f.name for f in result.diagnosis] == [finding]


def test_zero_block_and_transposed_vjp_are_recognised() -> None:
    x = point()
    jac = layer_jacobian(x)
    jac["h"]["v"] = np.zeros((2, 3))
    result = gradcheck.check_jacobian(layer, x, jac)
    assert [f.name for f in result.diagnosis] == ["zero-block"]
    assert result.diagnosis[0].leaves == ("f(x)['h'] wrt x['v']",)
    vjp = gradcheck.check_vjp(_square, X, lambda x, ct: _square_jacobian(x) @ ct)
    assert [f.name for f in vjp.diagnosis] == ["transposed"]


def test_executor_gives_the_serial_numbers() -> None:
    x = point()
    serial = gradcheck.check_jacobian(layer, x, layer_jacobian)
    with ThreadPoolExecutor(2) as pool:
        parallel = gradcheck.check_jacobian(layer, x, layer_jacobian, executor=pool)
    np.testing.assert_array_equal(serial.numeric, parallel.numeric)
    assert parallel.n_evaluations == serial.n_evaluations


def test_process_pool_and_dask_give_the_serial_numbers() -> None:
    distributed = pytest.importorskip("distributed")
    serial = gradcheck.check_vjp(dense, X, _dense_vjp)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        pooled = gradcheck.check_vjp(dense, X, _dense_vjp, executor=pool)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        dasked = gradcheck.check_jvp(dense, X, lambda x, t: dense_jacobian(x) @ t,
                                     executor=client)
    np.testing.assert_array_equal(serial.numeric, pooled.numeric)
    assert pooled.passed and dasked.passed
    np.testing.assert_array_equal(
        dasked.numeric, gradcheck.check_jvp(dense, X, lambda x, t: dense_jacobian(x) @ t).numeric
    )


def _dense_vjp(x: np.ndarray, ct: np.ndarray) -> np.ndarray:
    return dense_jacobian(x).T @ ct


@pytest.mark.parametrize("method", ["forward", "central", "complex", "richardson"])
def test_every_method_passes_a_correct_jacobian_and_fails_a_wrong_one(method: str) -> None:
    assert gradcheck.check_jacobian(dense, X, dense_jacobian, method=method).passed
    assert not gradcheck.check_jacobian(dense, X, 1.0001 * dense_jacobian(X),
                                        method=method).passed


def test_float32_and_explicit_tolerance() -> None:
    x32 = X.astype(np.float32)
    assert gradcheck.check_jacobian(dense, x32, dense_jacobian(X)).passed
    loose = gradcheck.check_jacobian(dense, X, 1.01 * dense_jacobian(X), rtol=0.02)
    assert loose.passed


def test_nondeterministic_f_fails_without_comparing() -> None:
    rng = np.random.default_rng(0)
    result = gradcheck.check_jacobian(lambda x: x + 1e-9 * rng.standard_normal(3), X, np.eye(3))
    assert not result.passed and result.nondeterministic
    assert str(result).startswith("FAILED: Jacobian not checked: two calls of f")
    # a declared spread of 1e-6 widens every tolerance past the elements: unresolved, not passed
    wide = gradcheck.check_jacobian(lambda x: x + 1e-9 * rng.standard_normal(3), X, np.eye(3),
                                    nondet_tol=1e-6)
    assert not wide.nondeterministic and not wide.passed and wide.n_unresolved == 9
    assert gradcheck.check_jacobian(lambda x: x + 1e-14 * rng.standard_normal(3), X, np.eye(3),
                                    nondet_tol=1e-12).passed


def test_callers_arrays_are_never_changed() -> None:
    x = point()
    before = {k: v.copy() for k, v in x.items()}
    jac = layer_jacobian(x)
    jac_before = jac["h"]["W"].copy()

    def writer(p: Any) -> Any:
        p["v"][0] = 99.0  # numpy refuses: f gets read-only views, then fresh copies
        return layer(p)

    with pytest.raises(ValueError, match="read-only"):
        writer({k: gradcheck.evaluators.read_only(v) for k, v in x.items()})
    gradcheck.check_jacobian(writer, x, jac)
    gradcheck.check_vjp(layer, x, lambda p, ct: layer_jacobian(p)["s"])
    for key, value in before.items():
        np.testing.assert_array_equal(x[key], value)
    np.testing.assert_array_equal(jac["h"]["W"], jac_before)


def _bad_vjp(x: Any, ct: Any) -> Any:
    return [x]


def _never(x: Any) -> Any:
    raise AssertionError("f was called before the arguments were validated")


BAD_INPUT = [
    (lambda: gradcheck.check_jacobian(dense, X, np.zeros((3, 4))), ValueError,
     r"`jacobian` has shape \(3, 4\); the block of `f\(x\)` wrt `x` must have shape \(4, 3\)"),
    (lambda: gradcheck.check_jacobian(layer, point(), {"h": np.zeros((2, 2, 3))}), TypeError,
     r"`jacobian` is a dict with keys \[\"'h'\"\]; `∂f\(x\)/∂x` is a dict with keys "
     r"\[\"'h'\", \"'s'\"\]"),
    (lambda: gradcheck.check_jacobian(layer, point(), {**layer_jacobian(point()), "s": {
        "W": np.zeros((2, 3)), "v": np.zeros(4), "b": np.zeros(2)}}), ValueError,
     r"`jacobian\['s'\]\['v'\]` has shape \(4,\); the block of `f\(x\)\['s'\]` wrt `x\['v'\]` "
     r"must have shape \(3,\)"),
    (lambda: gradcheck.check_jacobian(dense, X, np.zeros((4, 3), int)), TypeError,
     r"`jacobian` has dtype int64"),
    (lambda: gradcheck.check_jacobian(lambda x: [1, 2], X, None), TypeError,
     r"`f\(x\)\[0\]` is int 1; f must return float arrays"),
    (lambda: gradcheck.check_jacobian(lambda x: x + np.inf, X, None), ValueError,
     r"`f\(x\)\[0\]` is inf at x; f must be finite"),
    (lambda: gradcheck.check_vjp(dense, X, _bad_vjp), TypeError,
     r"`vjp\(x, ct\)` is a list of 1 items; `x` is an array"),
    (lambda: gradcheck.check_vjp(dense, X, lambda x, ct: np.zeros(4)), ValueError,
     r"`vjp\(x, ct\)` has shape \(4,\); `x` has shape \(3,\)"),
    (lambda: gradcheck.check_jvp(dense, X, lambda x, t: {"h": t}), TypeError,
     r"`jvp\(x, t\)` is a dict with keys \[\"'h'\"\]; `f\(x\)` is an array"),
    (lambda: gradcheck.check_vjp(dense, X, _bad_vjp, cotangents=[np.zeros(3)]), ValueError,
     r"`cotangents\[0\]` has shape \(3,\); `f\(x\)` has shape \(4,\)"),
    (lambda: gradcheck.check_vjp(dense, X, _bad_vjp, n_cotangents=0), ValueError,
     r"`n_cotangents` is 0; it must be an int >= 1"),
    (lambda: gradcheck.check_jvp(dense, X, _bad_vjp, tangents=[np.zeros(3)]), ValueError,
     r"`tangents\[0\]` must be finite and not all zero"),
    (lambda: gradcheck.check_jvp(dense, X, _bad_vjp, tangents=np.ones(3)), TypeError,
     r"`tangents` is ndarray; it must be a non-empty list"),
    (lambda: gradcheck.check_hessian(dense, X, np.eye(3)), TypeError,
     r"check_hessian needs a scalar f: `f` must return a real scalar .* an array of shape "
     r"\(4,\)"),
    (lambda: gradcheck.check_hessian(lambda x: float(x @ x), X, np.eye(3), grad=2 * X),
     TypeError, r"`grad` is ndarray; it must be None or a callable"),
    (lambda: gradcheck.check_jacobian(dense, X, dense_jacobian, method="secant"), ValueError,
     r"`method`"),
    (lambda: gradcheck.check_jacobian(dense, X, dense_jacobian, executor=1), TypeError,
     r"`executor`"),
    (lambda: gradcheck.check_jacobian(dense, X, dense_jacobian, max_batch_bytes=64), ValueError,
     r"`max_batch_bytes` is 64 but `vectorized` is False"),
    (lambda: gradcheck.check_hessian(lambda x: float(x @ x), X, np.eye(3), vectorized=True),
     ValueError, r"`vectorized` is True but `grad` is None"),
    (lambda: gradcheck.check_hessian(lambda x: float(x @ x), X, np.eye(3), method="complex"),
     ValueError, r"`method` is 'complex' but `grad` is None"),
    # every argument is validated before f is first called (_never fails when called)
    (lambda: gradcheck.check_jacobian(_never, X, None, rtol=-1), ValueError,
     r"`rtol` is -1; it must be a finite number >= 0"),
    (lambda: gradcheck.check_jacobian(_never, X, None, step=-1.0), ValueError, r"`step` is -1.0"),
    (lambda: gradcheck.check_vjp(_never, X, np.eye(3)), TypeError,
     r"`vjp` is ndarray; it must be a callable vjp\(x, ct, \*args\)"),
    (lambda: gradcheck.check_vjp(_never, X, _bad_vjp, seed="a"), TypeError,
     r"`seed` is 'a'; it must be None or an int >= 0"),
    (lambda: gradcheck.check_vjp(_never, X, _bad_vjp, n_cotangents=0), ValueError,
     r"`n_cotangents` is 0"),
    (lambda: gradcheck.check_vjp(_never, X, _bad_vjp, cotangents=np.ones(4)), TypeError,
     r"`cotangents` is ndarray; it must be a non-empty list"),
    (lambda: gradcheck.check_vjp(_never, X, _bad_vjp, nondet_tol=-1.0), ValueError,
     r"`nondet_tol` is -1.0"),
    (lambda: gradcheck.check_jvp(_never, X, np.eye(3)), TypeError,
     r"`jvp` is ndarray; it must be a callable jvp\(x, t, \*args\)"),
    (lambda: gradcheck.check_jvp(_never, X, _bad_vjp, seed=-1), ValueError, r"`seed` is -1"),
    (lambda: gradcheck.check_jvp(_never, X, _bad_vjp, tangents=[np.ones(2)]), ValueError,
     r"`tangents\[0\]` has shape \(2,\); `x` has shape \(3,\)"),
    (lambda: gradcheck.check_jvp(_never, X, _bad_vjp, step="a"), TypeError, r"`step` is 'a'"),
    (lambda: gradcheck.check_hessian(_never, X, np.eye(3), hvp=True), TypeError,
     r"`hessian` is ndarray; it must be a callable hessian\(x, v, \*args\)"),
    (lambda: gradcheck.check_hessian(_never, X, np.eye(3), atol=-1.0), ValueError,
     r"`atol` is -1.0"),
    (lambda: gradcheck.check_hessian(_never, X, _bad_vjp, hvp=True, n_tangents=0), ValueError,
     r"`n_tangents` is 0"),
    (lambda: gradcheck.check_hessian(_never, X, _bad_vjp, hvp=True, tangents=[np.ones(2)]),
     ValueError, r"`tangents\[0\]` has shape \(2,\); `x` has shape \(3,\)"),
    (lambda: gradcheck.check_hessian(_never, X, np.eye(3), grad=_never, executor=1), TypeError,
     r"`executor`"),
    (lambda: gradcheck.check_hessian(lambda x: float(x @ x), X, np.eye(2)), ValueError,
     r"`hessian` has shape \(2, 2\); the block of `∇f\(x\)` wrt `x` must have shape \(3, 3\)"),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD_INPUT)
def test_bad_input_is_rejected_with_a_message_naming_it(
    call: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


def test_statuses_are_those_of_the_scalar_report() -> None:
    result = gradcheck.check_jacobian(dense, X, dense_jacobian)
    assert set(np.unique(result.status)) == {report.PASS}
    assert not result.status.flags.writeable


@pytest.mark.parametrize(
    "name",
    ["diagnosis", "_rows", "evaluators.vector", "derivative_report", "hessian", "jacobian",
     "check"],
)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"gradcheck.{name}")
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=True)
    assert failed == 0 and attempted > 0


def test_the_scale_script_counts_2p_plus_16_calls() -> None:
    from benchmarks import jacobian_scale

    lines = jacobian_scale.main(300, 30)
    assert "passed=True, 616 calls (2P + 16 = 616)" in lines[0]
    assert lines[1].startswith("one element 1e-4 off: passed=False")
    assert "['wrong-element']" in lines[1]


def batched_layer(x: Any) -> Any:
    """``layer`` on a batch: every leaf of x and of f(x) has a leading batch axis."""
    h = np.tanh(np.einsum("nij,nj->ni", x["W"], x["v"]) + x["b"])
    return {"h": h, "s": np.sum(x["v"] ** 2, axis=1)}


@pytest.mark.parametrize("method", ["central", "complex"])
def test_vectorized_f_gives_the_serial_numbers(method: str) -> None:
    x = point()
    serial = gradcheck.check_jacobian(layer, x, layer_jacobian, method=method)
    batched = gradcheck.check_jacobian(batched_layer, x, layer_jacobian, method=method,
                                       vectorized=True, max_batch_bytes=2048)
    assert batched.passed and serial.passed
    # einsum and @ round differently: the values of f differ in their last bits
    np.testing.assert_allclose(batched.numeric, serial.numeric, rtol=1e-8, atol=1e-12)
    vjp = gradcheck.check_vjp(batched_layer, x, lambda p, ct: layer_vjp(p, ct), vectorized=True)
    jvp = gradcheck.check_jvp(batched_layer, x, lambda p, t: layer_jvp(p, t), vectorized=True)
    assert vjp.passed and jvp.passed
    wrong = gradcheck.check_vjp(batched_layer, x,
                                lambda p, ct: {**layer_vjp(p, ct), "b": 0 * p["b"]},
                                vectorized=True)
    assert not wrong.passed and {f.name for f in wrong.diagnosis} == {"zero-block"}
    with pytest.raises(ValueError, match=r"a vectorized f must return every leaf with a leading"):
        gradcheck.check_jacobian(lambda p: np.sum(p["v"]), x, layer_jacobian, vectorized=True)


def _blocks(x: Any) -> list[tuple[str, str, np.ndarray]]:
    jac = layer_jacobian(x)
    return [(o, i, jac[o][i]) for o in jac for i in jac[o]]


def layer_vjp(x: Any, ct: Any) -> Any:
    out = {k: np.zeros_like(v) for k, v in x.items()}
    for o, i, block in _blocks(x):
        out[i] = out[i] + np.tensordot(ct[o], block, axes=np.ndim(ct[o]))
    return out


def layer_jvp(x: Any, t: Any) -> Any:
    out = {"h": np.zeros(2), "s": np.zeros(())}
    for o, i, block in _blocks(x):
        out[o] = out[o] + np.tensordot(block, t[i], axes=np.ndim(t[i]))
    return out


def test_a_status_other_than_pass_or_unverifiable_fails_the_result() -> None:
    from gradcheck.derivative_report import Axis, build_derivative_result

    status = np.array([[report.PASS, report.UNVERIFIABLE, 4]], np.int8)  # 4: a newer status
    result = build_derivative_result(
        kind="jacobian", rows=Axis(("f(x)",), ((),)), cols=Axis(("x",), ((3,),)),
        analytic=np.ones((1, 3)), numeric=np.ones((1, 3)), tolerance=np.full((1, 3), 1e-9),
        status=status, method="central", n_evaluations=22, seconds=0.0)
    assert not result.passed and result.n_unresolved == 1 and result.n_mismatches == 0
    assert "1 not verifiable at this step, 1 unresolved" in str(result)


def test_the_contract_names_are_exported() -> None:
    names = {"check_jacobian", "check_vjp", "check_jvp", "check_hessian", "assert_jacobian",
             "assert_vjp", "assert_jvp", "assert_hessian", "DerivativeCheckResult"}
    assert names <= set(gradcheck.__all__)
    assert issubclass(gradcheck.derivative_report.DerivativeMismatch, gradcheck.GradientMismatch)
