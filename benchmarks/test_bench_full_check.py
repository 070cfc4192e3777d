"""A full gradient check of an MLP, four ways: who is the fastest honest checker?

Group ``full-check``: every check compares the backpropagated gradient of the same sigmoid
network (squared error, λ = 1e-4) with every one of its P numerical derivatives.

- ``structured``: ``gradcheck.check_gradient(mlp.objective(X, Y), params, grad)``, central
  differences through the structure-aware evaluator of `backprop_ref.fast`;
- ``plain``: the same check of ``lambda p: mlp.cost(p, X, Y)``, one call of the cost per point;
- ``scipy``: ``scipy.optimize.check_grad`` on the same cost and gradient of the flat θ (forward
  differences, P + 1 calls; its verdict: ‖g − n‖ / ‖g‖ < 1e-5);
- ``torch``: ``torch.autograd.gradcheck`` of a custom ``torch.autograd.Function`` whose forward
  is the same numpy cost and whose backward is our backpropagated gradient (central
  differences, 2P calls of the forward).

Every check runs at [16, 32, 32, 4] (P = 1,732, three rounds), so that all four compare at
one P; the structured, scipy and torch checks also at the full size, [64, 128, 128, 10] with
m = 64 (P = 26,122): one round each for the peers, which take tens of seconds there (the plain
path would take minutes). ``BENCH_QUICK=1`` (the quick mode of ``tox -e bench``) leaves out the
peers at the full size. With ``--benchmark-disable`` (the CI smoke run) only the small size
runs, once, and torch is skipped when it is not installed. Each benchmark records
``bench="full-check"``, ``impl``, P, the seconds of its last run and the verdict in
``extra_info``; speed is never asserted, the verdict always is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import gradcheck
from backprop_ref import MLP, flatten, unflatten

FULL = (64, 128, 128, 10)
SMALL = (16, 32, 32, 4)
M = 64


def _case(sizes: tuple[int, ...]) -> tuple[MLP, Any, Any, Any]:
    """The network, its parameters and a batch of m = 64 examples."""
    mlp = MLP(list(sizes), weight_decay=1e-4)
    rng = np.random.default_rng(0)
    params = mlp.init_params(rng=rng, scale=0.1)
    return mlp, params, rng.random((M, sizes[0])), rng.random((M, sizes[-1]))


SIZES = [pytest.param(SMALL, id="P1732"), pytest.param(FULL, id="P26122")]


def _skip_unless_timed(benchmark: Any, sizes: tuple[int, ...], *, peer: bool) -> None:
    """Only the small size in the smoke run; no peer at the full size in the quick mode."""
    if sizes == SMALL:
        return
    if benchmark.disabled:
        pytest.skip("the full size runs only when timing (--benchmark-enable)")
    if peer and os.environ.get("BENCH_QUICK"):
        pytest.skip("BENCH_QUICK: no peer at the full size")


def _once(benchmark: Any, run: Callable[[], Any], size: int, impl: str) -> Any:
    """Timed runs (a full check is seconds long): three at the small size, else one."""
    rounds = 3 if size < 10_000 else 1
    start = time.perf_counter()
    result = benchmark.pedantic(run, rounds=rounds, iterations=1)
    seconds = (time.perf_counter() - start) / rounds
    benchmark.extra_info.update(bench="full-check", impl=impl, P=size, seconds=round(seconds, 4))
    return result


def structured_run(sizes: tuple[int, ...]) -> tuple[Callable[[], bool], int]:
    """The structure-aware central check as a call returning its verdict, and P."""
    mlp, params, X, Y = _case(sizes)
    objective = mlp.objective(X, Y)
    grads = objective.gradient(params)
    return lambda: gradcheck.check_gradient(objective, params, grads).passed, flatten(params).size


def plain_run(sizes: tuple[int, ...]) -> tuple[Callable[[], bool], int]:
    """The same check calling the cost once per point, and P."""
    mlp, params, X, Y = _case(sizes)
    grads = mlp.cost_and_gradient(params, X, Y)[1]
    return (lambda: gradcheck.check_gradient(lambda p: mlp.cost(p, X, Y), params, grads).passed,
            flatten(params).size)


def scipy_run(sizes: tuple[int, ...]) -> tuple[Callable[[], bool], int]:
    """``scipy.optimize.check_grad`` of the flat θ (verdict: ‖g − n‖ / ‖g‖ < 1e-5), and P."""
    optimize = pytest.importorskip("scipy.optimize")
    mlp, params, X, Y = _case(sizes)
    theta = flatten(params)

    def cost(t: Any) -> float:
        return float(mlp.cost(unflatten(t, mlp), X, Y))

    def grad(t: Any) -> Any:
        return flatten(mlp.cost_and_gradient(unflatten(t, mlp), X, Y)[1])

    norm = float(np.linalg.norm(grad(theta)))
    return lambda: float(optimize.check_grad(cost, grad, theta)) / norm < 1e-5, theta.size


def torch_run(sizes: tuple[int, ...]) -> tuple[Callable[[], bool], int]:
    """``torch.autograd.gradcheck`` of our numpy cost with our gradient as backward, and P."""
    torch = pytest.importorskip("torch")
    mlp, params, X, Y = _case(sizes)

    class Cost(torch.autograd.Function):  # type: ignore[misc]
        """Our numpy cost, with our backpropagated gradient as its backward."""

        @staticmethod
        def forward(ctx: Any, t: Any) -> Any:
            ctx.save_for_backward(t)
            theta = t.detach().numpy()
            return torch.tensor(mlp.cost(unflatten(theta, mlp), X, Y), dtype=torch.float64)

        @staticmethod
        def backward(ctx: Any, out: Any) -> Any:
            (t,) = ctx.saved_tensors
            g = flatten(mlp.cost_and_gradient(unflatten(t.detach().numpy(), mlp), X, Y)[1])
            return out * torch.from_numpy(g)

    theta = torch.tensor(flatten(params), dtype=torch.float64, requires_grad=True)
    return lambda: bool(torch.autograd.gradcheck(Cost.apply, (theta,))), theta.numel()


RUNS: dict[str, Callable[[tuple[int, ...]], tuple[Callable[[], bool], int]]] = {
    "structured": structured_run, "plain": plain_run, "scipy": scipy_run, "torch": torch_run,
}
"""impl -> builder of (a call returning the verdict, P); `test_bench_paired.py` pairs them."""


def _timed_check(benchmark: Any, sizes: tuple[int, ...], impl: str) -> None:
    run, size = RUNS[impl](sizes)
    passed = _once(benchmark, run, size, impl)
    benchmark.extra_info["verdict"] = "pass" if passed else "fail"
    assert passed


@pytest.mark.benchmark(group="full-check")
@pytest.mark.parametrize("sizes", SIZES)
def test_structured_full_check(benchmark: Any, sizes: tuple[int, ...]) -> None:
    _skip_unless_timed(benchmark, sizes, peer=False)
    _timed_check(benchmark, sizes, "structured")


@pytest.mark.benchmark(group="full-check")
def test_plain_full_check(benchmark: Any) -> None:
    _timed_check(benchmark, SMALL, "plain")


@pytest.mark.benchmark(group="full-check")
@pytest.mark.parametrize("sizes", SIZES)
def test_scipy_check_grad(benchmark: Any, sizes: tuple[int, ...]) -> None:
    pytest.importorskip("scipy.optimize")
    _skip_unless_timed(benchmark, sizes, peer=True)
    _timed_check(benchmark, sizes, "scipy")


@pytest.mark.benchmark(group="full-check")
@pytest.mark.parametrize("sizes", SIZES)
def test_torch_gradcheck(benchmark: Any, sizes: tuple[int, ...]) -> None:
    pytest.importorskip("torch")
    _skip_unless_timed(benchmark, sizes, peer=True)
    _timed_check(benchmark, sizes, "torch")
