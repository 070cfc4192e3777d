"""The vectorized core: cost and gradient over the grid, against the loop and the BLAS limit.

Each case has its own group, ``network <layers> <dtype> m=<m>``, holding the vectorized
`MLP.cost_and_gradient`, the bare matrix products it does (numpy's own rate for those shapes:
the physical limit) and, where installed, PyTorch (``test_network_peers.py``); the per-example
loop joins for the cases in ``LOOP_CASES``, and the same math in bare numpy (no validation,
no workspace) for the small batches of ``SMALL_CASES``. pytest-benchmark's relative column then
reads off every ratio from one run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from backprop_ref import Layer, train
from benchmarks._problems import (
    LAYER_SIZES,
    Case,
    Problem,
    case_params,
    cases,
    matrix_products,
    network_info,
)

GRID = case_params(cases())
SMALL_CASES = case_params(cases(batches=(1, 16), dtypes=("float64",)))
"""Where Python's overhead is most of the time: the bare numpy version joins these groups."""
LOOP_CASES = case_params(
    cases(sizes=((8, 16, 4), (64, 128, 128, 10)), batches=(16, 256, 2048), dtypes=("float64",)),
    min_rounds=3,
)


def _bench_gradient(benchmark: BenchmarkFixture, case: Case, impl: str) -> None:
    """Time ``MLP.cost_and_gradient`` (impl "vectorized") or its loop twin; check the result."""
    problem = Problem.make(case)
    method = problem.mlp.cost_and_gradient_loop if impl == "loop" else problem.mlp.cost_and_gradient
    benchmark.extra_info.update(network_info(case, impl))
    cost, grads = benchmark(method, problem.params, problem.X, problem.Y)
    assert math.isfinite(cost)
    assert len(grads) == len(problem.params)
    for (W, b), (grad_W, grad_b) in zip(problem.params, grads, strict=True):
        assert grad_W.shape == W.shape and grad_b.shape == b.shape
        assert grad_W.dtype == W.dtype


@pytest.mark.parametrize("case", GRID)
def test_cost_and_gradient(benchmark: BenchmarkFixture, case: Case) -> None:
    _bench_gradient(benchmark, case, "vectorized")


@pytest.mark.parametrize("case", GRID)
def test_matrix_products(benchmark: BenchmarkFixture, case: Case) -> None:
    benchmark.extra_info.update(network_info(case, "matmul"))
    assert math.isfinite(benchmark(matrix_products(case)))


def bare_cost_and_gradient(
    params: list[Layer], X: npt.NDArray[Any], Y: npt.NDArray[Any]
) -> tuple[float, list[tuple[npt.NDArray[Any], npt.NDArray[Any]]]]:
    """The benchmarks' network (sigmoid layers, squared error, no decay) in bare numpy.

    The same math as `MLP.cost_and_gradient`, written as directly as numpy allows: no
    validation, no workspace, fresh arrays. What the vectorized method costs beyond it, at small
    m, is its overhead in Python.
    """
    activations = [X]
    for W, b in params:
        activations.append(1.0 / (1.0 + np.exp(-(activations[-1] @ W.T + b))))
    out = activations[-1]
    m = X.shape[0]
    cost = 0.5 * float(np.sum((out - Y) ** 2)) / m
    delta = (out - Y) * out * (1.0 - out) / m  # Δ(L), (m, s_L)
    grads = []
    for k in range(len(params) - 1, -1, -1):
        a = activations[k]
        grads.append((delta.T @ a, delta.sum(axis=0)))
        if k > 0:
            delta = (delta @ params[k].W) * a * (1.0 - a)
    return cost, grads[::-1]


@pytest.mark.parametrize("case", SMALL_CASES)
def test_bare_numpy(benchmark: BenchmarkFixture, case: Case) -> None:
    problem = Problem.make(case)
    benchmark.extra_info.update(network_info(case, "bare numpy"))
    cost, grads = benchmark(bare_cost_and_gradient, problem.params, problem.X, problem.Y)
    ref_cost, ref_grads = problem.mlp.cost_and_gradient(problem.params, problem.X, problem.Y)
    assert cost == pytest.approx(ref_cost, rel=1e-12)
    for (grad_W, grad_b), ref in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(grad_W, ref.W, rtol=1e-10, atol=1e-17)
        np.testing.assert_allclose(grad_b, ref.b, rtol=1e-10, atol=1e-17)


@pytest.mark.parametrize("case", LOOP_CASES)
def test_cost_and_gradient_loop(benchmark: BenchmarkFixture, case: Case) -> None:
    _bench_gradient(benchmark, case, "loop")


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.id, marks=pytest.mark.benchmark(group="predict"))
        for case in cases(sizes=LAYER_SIZES, batches=(256, 4096))
    ],
)
def test_predict(benchmark: BenchmarkFixture, case: Case) -> None:
    problem = Problem.make(case)
    benchmark.extra_info.update(network_info(case, "predict") | {"bench": "predict"})
    h = benchmark(problem.mlp.predict, problem.params, problem.X)
    assert h.shape == (case.m, case.sizes[-1]) and h.dtype == np.dtype(case.dtype)
    assert np.all((h >= 0) & (h <= 1))


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.id, marks=pytest.mark.benchmark(group="train one epoch"))
        for case in cases(sizes=LAYER_SIZES, batches=(2048,))
    ],
)
def test_train_epoch(benchmark: BenchmarkFixture, case: Case) -> None:
    problem = Problem.make(case)
    benchmark.extra_info.update(network_info(case, "train") | {"bench": "train"})
    params, history = benchmark(
        train, problem.mlp, problem.params, problem.X, problem.Y, learning_rate=0.1, epochs=1
    )
    assert len(history) == 2 and all(math.isfinite(cost) for cost in history)
    assert len(params) == len(problem.params)
