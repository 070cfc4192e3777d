"""PyTorch CPU autograd on the same network, batch and dtype as `test_network.py`.

Skipped as a whole when torch is not installed. The forward pass and the cost are those of
`MLP` (sigmoid layers, squared error), with the parameters as leaf tensors that share memory
with the numpy arrays; ``torch.autograd.grad`` gives the gradient of every W and b, none for X.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks._problems import Case, Problem, case_params, cases, network_info

torch = pytest.importorskip("torch")


def _torch_cost_and_gradient(problem: Problem) -> Any:
    """A function of no arguments returning (J, gradients) by torch autograd."""
    leaves = [
        torch.from_numpy(array).requires_grad_() for layer in problem.params for array in layer
    ]
    X, Y, m = torch.from_numpy(problem.X), torch.from_numpy(problem.Y), problem.case.m

    def run() -> tuple[float, Any]:
        a = X
        for W, b in zip(leaves[::2], leaves[1::2], strict=True):
            a = torch.sigmoid(torch.addmm(b, a, W.T))  # A(l+1) = σ(A(l) W(l)ᵀ + b(l))
        cost = 0.5 * torch.sum((a - Y) ** 2) / m
        grads = torch.autograd.grad(cost, leaves)
        return float(cost.detach()), grads

    return run


@pytest.mark.parametrize("case", case_params(cases()))
def test_torch_autograd(benchmark: BenchmarkFixture, case: Case) -> None:
    problem = Problem.make(case)
    benchmark.extra_info.update(network_info(case, "torch"))
    benchmark.extra_info["torch_threads"] = torch.get_num_threads()
    cost, grads = benchmark(_torch_cost_and_gradient(problem))
    assert math.isfinite(cost)
    reference = problem.mlp.cost(problem.params, problem.X, problem.Y)
    assert cost == pytest.approx(reference, rel=1e-3 if case.dtype == "float32" else 1e-9)
    shapes = [tuple(array.shape) for layer in problem.params for array in layer]
    assert [tuple(g.shape) for g in grads] == shapes
