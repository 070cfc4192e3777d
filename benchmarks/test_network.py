"""The vectorized core: cost and gradient over the grid, against the loop and the BLAS limit.

Each case has its own group, ``network <layers> <dtype> m=<m>``, holding the vectorized
`MLP.cost_and_gradient`, the bare matrix products it does (numpy's own rate for those shapes:
the physical limit) and, where installed, PyTorch (``test_network_peers.py``); the per-example
loop joins for the cases in ``LOOP_CASES``. pytest-benchmark's relative column then reads off
every ratio from one run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from backprop_ref import train
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
