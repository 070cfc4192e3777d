"""The networks, batches and flop counts that the benchmarks share.

A case is (layer sizes, batch size m, dtype). Every benchmark records what it measured in
``benchmark.extra_info`` under the keys the report joins on: ``bench`` (network, checker, ...),
``impl`` (vectorized, loop, matmul, torch, ...), ``layers`` ("64x128x128x10"), ``m``, ``dtype``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise, product
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from backprop_ref import MLP, Layer

__all__ = [
    "BATCH_SIZES",
    "DTYPES",
    "LAYER_SIZES",
    "Case",
    "Problem",
    "case_params",
    "full_only",
    "matrix_products",
    "network_info",
    "product_flops",
]

LAYER_SIZES: tuple[tuple[int, ...], ...] = ((8, 16, 4), (64, 128, 128, 10), (256, 512, 512, 10))
"""The widths of the grid, smallest to largest."""

BATCH_SIZES: tuple[int, ...] = (1, 16, 256, 2048, 4096)
"""The batch sizes m of the grid."""

DTYPES: tuple[str, ...] = ("float64", "float32")

QUICK_BATCHES: tuple[int, ...] = (16, 2048)
"""The batch sizes the quick mode keeps (float64 only): the cases of the report's headline."""


def layers_name(sizes: tuple[int, ...]) -> str:
    """ "64x128x128x10" for (64, 128, 128, 10)."""
    return "x".join(map(str, sizes))


@dataclass(frozen=True)
class Case:
    """One point of the grid: layer sizes, batch size and dtype."""

    sizes: tuple[int, ...]
    m: int
    dtype: str

    @property
    def id(self) -> str:
        """The parameter id, stable across runs: "64x128x128x10-float64-m2048"."""
        return f"{layers_name(self.sizes)}-{self.dtype}-m{self.m}"

    @property
    def quick(self) -> bool:
        """Whether the quick mode (``BENCH_QUICK=1``) keeps this case."""
        return self.dtype == "float64" and self.m in QUICK_BATCHES

    @property
    def group(self) -> str:
        """The pytest-benchmark group: every implementation of this case side by side."""
        return f"network {layers_name(self.sizes)} {self.dtype} m={self.m}"


@dataclass(frozen=True)
class Problem:
    """A network with parameters and a batch: X (m, s_1), Y (m, s_L) in (0, 1)."""

    case: Case
    mlp: MLP
    params: list[Layer]
    X: npt.NDArray[Any]
    Y: npt.NDArray[Any]

    @classmethod
    def make(cls, case: Case, seed: int = 0) -> Problem:
        """Parameters from N(0, 0.1²) and standard normal inputs, all in ``case.dtype``."""
        rng = np.random.default_rng(seed)
        mlp = MLP(case.sizes)
        params = [
            Layer(W.astype(case.dtype), b.astype(case.dtype))
            for W, b in mlp.init_params(rng=rng, scale=0.1)
        ]
        X = rng.standard_normal((case.m, case.sizes[0])).astype(case.dtype)
        Y = rng.random((case.m, case.sizes[-1])).astype(case.dtype)
        return cls(case, mlp, params, X, Y)


def cases(
    sizes: tuple[tuple[int, ...], ...] = LAYER_SIZES,
    batches: tuple[int, ...] = BATCH_SIZES,
    dtypes: tuple[str, ...] = DTYPES,
) -> Iterator[Case]:
    """Every combination, in grid order."""
    for s, m, dtype in product(sizes, batches, dtypes):
        yield Case(s, m, dtype)


def case_params(grid: Iterator[Case], **marker: Any) -> list[Any]:
    """``pytest.param`` per case: its id, its benchmark group (plus ``marker`` options) and,
    unless the quick mode keeps it, the ``full_only`` mark."""
    params = []
    for case in grid:
        marks = [pytest.mark.benchmark(group=case.group, **marker)]
        params.append(pytest.param(case, id=case.id, marks=marks + full_only(not case.quick)))
    return params


def full_only(condition: bool = True) -> list[pytest.MarkDecorator]:
    """``[pytest.mark.full_only]`` when ``condition`` holds, else ``[]``."""
    return [pytest.mark.full_only] if condition else []


def product_flops(sizes: tuple[int, ...], m: int) -> int:
    """Flops of the matrix products of one cost-and-gradient: 2·m·s_l·s_{l+1} per product.

    Per layer l: one forward product A(l) W(l)ᵀ and one for ∇W(l) = Δ(l+1)ᵀ A(l); and one for
    Δ(l) = Δ(l+1) W(l) except at the first layer, which needs no input δ.
    """
    per_layer = [2 * m * s_in * s_out for s_in, s_out in pairwise(sizes)]
    return 2 * sum(per_layer) + sum(per_layer[1:])


def network_info(case: Case, impl: str) -> dict[str, Any]:
    """The ``extra_info`` of a network benchmark."""
    n_params = sum(s_out * (s_in + 1) for s_in, s_out in pairwise(case.sizes))
    return {
        "bench": "network",
        "impl": impl,
        "layers": layers_name(case.sizes),
        "m": case.m,
        "dtype": case.dtype,
        "params": n_params,
        "flops": product_flops(case.sizes, case.m),
    }


def matrix_products(case: Case, seed: int = 0) -> Callable[[], float]:
    """The matrix products of one `MLP.cost_and_gradient` on ``case``, and nothing else: the floor.

    The operands are those of the real computation on ``Problem.make(case, seed)``: its X and
    W(l), the activations A(l) of its forward pass and a Δ(l) of the shape the backward pass
    makes. Each product is the very call `backprop_ref.vectorized` makes (the same orientation
    and transposed views, ``einsum`` for the outer product of m = 1) into output buffers laid
    out as its own, allocated once here, so the floor is a strict part of the whole computation
    in the same process and thread settings: a floor slower than the whole is a measurement
    fault. The function returns the sum of one output entry per product, to check it is finite.
    """
    problem = Problem.make(case, seed)
    layers, m = problem.params, case.m
    acts = [problem.X]
    for W, b in layers:  # A(l+1) = σ(A(l) W(l)ᵀ + b(l)): the operands the real products see
        acts.append(1.0 / (1.0 + np.exp(-(acts[-1] @ W.T + b))))
    delta_out = (acts[-1] - problem.Y) / m  # Δ(L), (m, s_L)
    forward_out = [np.empty_like(a) for a in acts[1:]]
    grad_out = [np.empty_like(W) for W, _ in layers]
    widest = max((a.shape[1] for a in acts[1:-1]), default=0)
    spare = [np.empty(m * widest, dtype=case.dtype) for _ in range(2)]  # Δ(l+1) in one, Δ(l)

    def run() -> float:
        total = 0.0
        for k, (W, _) in enumerate(layers):
            np.matmul(acts[k], W.T, out=forward_out[k])  # Z(l+1) = A(l) W(l)ᵀ
            total += float(forward_out[k][0, 0])
        delta = delta_out
        for k in range(len(layers) - 1, -1, -1):
            W, a = layers[k].W, acts[k]
            if m == 1:  # as the implementation: BLAS is slow with an inner dimension of 1
                np.einsum("i,j->ij", delta[0], a[0], out=grad_out[k])
            else:
                np.matmul(delta.T, a, out=grad_out[k])  # Δ(l+1)ᵀ A(l)
            total += float(grad_out[k][0, 0])
            if k > 0:
                out = spare[k % 2][: a.size].reshape(a.shape)
                delta = np.matmul(delta, W, out=out)  # Δ(l+1) W(l)
                total += float(delta[0, 0])
        return total

    return run
