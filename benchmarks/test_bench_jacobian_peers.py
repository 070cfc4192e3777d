"""Jacobian checks side by side: gradcheck, torch.autograd.gradcheck, jax's check_grads.

The same functions of a flat float64 x (written once, for numpy, torch and jax.numpy), the same
derivatives (autograd's Jacobian) and the same planted bugs (the Jacobian catalogue of
``tests/corpus/vector.py``: scaled, sign, one element, a zeroed element, one row, one column,
transposed). Each tool checks a function whose backward pass is that Jacobian: for torch an
``autograd.Function`` whose backward is ``g @ J``, for jax a ``custom_vjp``, for gradcheck
``check_jacobian``. The benchmark times the check of the correct derivative; ``extra_info``
records ``false_alarms`` (the correct derivative failing), ``caught`` and ``planted``. The
second-order benchmarks check a scalar loss's Hessian (gradcheck's ``check_hessian``,
torch's ``gradgradcheck``, ``check_grads(order=2)``) and plant nothing. Each tool is skipped
when it is not installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import gradcheck

pytest.importorskip("autograd")

import autograd  # after importorskip, as the corpus below
import autograd.numpy as anp

from tests.corpus.vector import planted_jacobians

GROUP = "jacobian-peers"
A = np.random.default_rng(7).standard_normal((6, 6)) / 2


def _dense(x: Any, xp: Any) -> Any:
    return xp.tanh(xp.asarray(A) @ x) if xp is not anp else anp.tanh(A @ x)


def _softmax(x: Any, xp: Any) -> Any:
    e = xp.exp(x - 0.5)
    return e / xp.sum(e)


def _log_softmax(x: Any, xp: Any) -> Any:
    return x - xp.log(xp.sum(xp.exp(x)))


def _layer_norm(x: Any, xp: Any) -> Any:
    mu = xp.sum(x) / x.shape[0]
    return (x - mu) / xp.sqrt(xp.sum((x - mu) ** 2) / x.shape[0] + 1e-5)


def _rational(x: Any, xp: Any) -> Any:
    return x / (1 + x**2) + xp.sin(x) * x[0]


FUNCTIONS: dict[str, Callable[[Any, Any], Any]] = {
    "dense-tanh": _dense, "softmax": _softmax, "log-softmax": _log_softmax,
    "layer-norm": _layer_norm, "rational": _rational,
}
X = np.random.default_rng(3).standard_normal(6)


def _jacobian(name: str) -> np.ndarray:
    f = FUNCTIONS[name]
    return np.asarray(autograd.jacobian(lambda v: f(v, anp))(X))


def _ours(name: str, jac: np.ndarray) -> bool:
    f = FUNCTIONS[name]
    return gradcheck.check_jacobian(lambda v: f(v, np), X, jac).passed


def _torch(name: str, jac: np.ndarray) -> bool:
    torch = pytest.importorskip("torch")
    f, J = FUNCTIONS[name], torch.from_numpy(jac)

    class Fn(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return f(x, torch)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g @ J

    x = torch.from_numpy(X.copy()).requires_grad_()
    return bool(torch.autograd.gradcheck(Fn.apply, (x,), raise_exception=False))


def _jax(name: str, jac: np.ndarray) -> bool:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    from jax.test_util import check_grads

    f, J = FUNCTIONS[name], jnp.asarray(jac)

    @jax.custom_vjp
    def fn(x: Any) -> Any:
        return f(x, jnp)

    fn.defvjp(lambda x: (f(x, jnp), None), lambda _, g: (g @ J,))
    try:
        check_grads(fn, (jnp.asarray(X),), order=1, modes=("rev",))
    except AssertionError:
        return False
    return True


TOOLS = {"gradcheck": _ours, "torch": _torch, "jax": _jax}


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("tool", list(TOOLS))
def test_first_order(benchmark: BenchmarkFixture, tool: str, name: str) -> None:
    check, jac = TOOLS[tool], _jacobian(name)
    passed = check(name, jac)  # also imports (or skips) the tool before timing
    bugs = planted_jacobians(jac)
    caught = sum(not check(name, wrong) for wrong in bugs.values())
    benchmark.extra_info.update(
        {"false_alarms": int(not passed), "caught": caught, "planted": len(bugs), "tool": tool}
    )
    assert benchmark(check, name, jac) == passed
    assert passed
    if tool == "gradcheck":  # the peers' counts are recorded, not required
        assert caught == len(bugs)


def _loss(x: Any, xp: Any) -> Any:
    return xp.sum(_log_softmax(x, xp) * xp.asarray(np.linspace(0.1, 0.6, 6))) + xp.sum(x**4)


def _second_ours() -> bool:
    grad = autograd.grad(lambda v: _loss(v, anp))
    hess = autograd.hessian(lambda v: _loss(v, anp))(X)
    return gradcheck.check_hessian(lambda v: float(_loss(v, np)), X, hess, grad=grad).passed


def _second_torch() -> bool:
    torch = pytest.importorskip("torch")
    x = torch.from_numpy(X.copy()).requires_grad_()
    return bool(torch.autograd.gradgradcheck(lambda v: _loss(v, torch), (x,),
                                             raise_exception=False))


def _second_jax() -> bool:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from jax.test_util import check_grads

    try:
        check_grads(lambda v: _loss(v, jax.numpy), (jax.numpy.asarray(X),), order=2)
    except AssertionError:
        return False
    return True


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("tool", ["gradcheck", "torch", "jax"])
def test_second_order(benchmark: BenchmarkFixture, tool: str) -> None:
    check = {"gradcheck": _second_ours, "torch": _second_torch, "jax": _second_jax}[tool]
    passed = check()
    benchmark.extra_info.update(
        {"false_alarms": int(not passed), "caught": 0, "planted": 0, "tool": tool}
    )
    assert benchmark(check) == passed and passed
