"""Seconds per parameter of numerical_gradient: one point per call of f, or a batch per call.

Two functions, each written twice: for one point, and for a batch of B points with a leading
axis on every leaf (``vectorized=True``).

* ``rosenbrock``: the extended Rosenbrock function of P variables, O(P) work per point.
* ``mlp``: the cost of a two-layer network (tanh hidden layer, sigmoid output, squared
  error) on a fixed batch of m examples, O(m P) work per point; m = 1, 4 and 16.

One group per function, P (about 50, 300 and 1000) and m holds central differences with f
called once per point (``unbatched``), once per block of points (``batched``), and both
through a thread pool of two workers. Each records ``bench="batched"``, the function, P, m
and the path in ``extra_info`` (the report's "Batched evaluation" table joins on them) and,
when timed, seconds per parameter; the speed-up is read off them, never asserted. Every
benchmark asserts its gradient against the unbatched one.

Batching saves the cost of a call of f, 6 to 12 µs for these numpy functions whatever P
and m, plus gradcheck's own cost per point; it cannot save f's arithmetic, which grows as
m P. The ratio therefore falls as m P grows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import gradcheck

Array = npt.NDArray[np.float64]
PATHS = ("unbatched", "batched", "threads", "threads+batched")


def rosenbrock(x: Array) -> float:
    """Σ_i 100 (x_{i+1} − x_i²)² + (1 − x_i)², x of shape (P,)."""
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def batch_rosenbrock(x: Array) -> Array:
    """:func:`rosenbrock` of every row of x, shape (B, P) -> (B,)."""
    result: Array = np.sum(100.0 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1.0 - x[:, :-1]) ** 2,
                           axis=1)
    return result


def mlp(p: dict[str, Array], X: Array, Y: Array) -> float:
    """J = (1/m) Σ ½‖σ(W2 tanh(W1 x + b1) + b2) − y‖²; W1 (h, d), b1 (h,), W2 (k, h), b2 (k,)."""
    hidden = np.tanh(X @ p["W1"].T + p["b1"])  # (m, h)
    out = 1.0 / (1.0 + np.exp(-(hidden @ p["W2"].T + p["b2"])))  # (m, k)
    return float(0.5 * np.sum((out - Y) ** 2) / len(X))


def batch_mlp(p: dict[str, Array], X: Array, Y: Array) -> Array:
    """:func:`mlp` of B parameter sets: W1 (B, h, d), b1 (B, h), ...; returns (B,)."""
    W1 = p["W1"]
    B, h, d = W1.shape
    z1 = (X @ W1.reshape(B * h, d).T).reshape(len(X), B, h) + p["b1"]  # one gemm: (m, B, h)
    hidden = np.tanh(z1).transpose(1, 0, 2)  # (B, m, h)
    out = 1.0 / (1.0 + np.exp(-(hidden @ p["W2"].transpose(0, 2, 1) + p["b2"][:, None, :])))
    result: Array = 0.5 * np.sum((out - Y) ** 2, axis=(1, 2)) / len(X)  # out: (B, m, k)
    return result


class Case(NamedTuple):
    """A function at a point: both versions of f, x, the extra arguments and m."""

    f: Callable[..., Any]
    batch_f: Callable[..., Any]
    x: Any
    args: tuple[Any, ...]
    examples: int = 0


def _rosenbrock_case(n: int) -> Case:
    return Case(rosenbrock, batch_rosenbrock, np.random.default_rng(0).normal(size=n), ())


def _mlp_case(d: int, h: int, k: int, m: int) -> Case:
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(0, 0.5, (h, d)), "b1": rng.normal(0, 0.5, h),
              "W2": rng.normal(0, 0.5, (k, h)), "b2": rng.normal(0, 0.5, k)}
    X, Y = rng.normal(size=(m, d)), rng.random((m, k))
    return Case(mlp, batch_mlp, params, (X, Y), m)


MLP_SHAPES = {58: (4, 8, 2), 316: (8, 24, 4), 1012: (16, 48, 4)}
"""P -> (inputs, hidden units, outputs) of the mlp cases."""

CASES = {
    "rosenbrock P=50": _rosenbrock_case(50),
    "rosenbrock P=300": _rosenbrock_case(300),
    "rosenbrock P=1000": _rosenbrock_case(1000),
    **{f"mlp P={n} m={m}": _mlp_case(*shape, m)
       for n, shape in MLP_SHAPES.items() for m in (1, 4, 16)},
}


def _n_params(x: Any) -> int:
    leaves = x.values() if isinstance(x, dict) else [x]
    return sum(int(np.size(leaf)) for leaf in leaves)


def _leaves(tree: Any) -> list[Array]:
    return list(tree.values()) if isinstance(tree, dict) else [tree]


def _test_id(name: str) -> str:
    """ "mlp-P316-m4" for "mlp P=316 m=4": no spaces or "=", which ``-k`` cannot match."""
    return name.replace("=", "").replace(" ", "-")


@pytest.fixture(scope="module")
def threads() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.mark.parametrize("path", [
    pytest.param(path, marks=pytest.mark.full_only) if "threads" in path else path
    for path in PATHS
])
@pytest.mark.parametrize("name", [
    pytest.param(name, id=_test_id(name), marks=pytest.mark.benchmark(group=f"batched {name}"))
    for name in CASES
])
def test_seconds_per_parameter(
    benchmark: BenchmarkFixture, threads: ThreadPoolExecutor, name: str, path: str
) -> None:
    case = CASES[name]
    vectorized = path in ("batched", "threads+batched")
    options: dict[str, Any] = {"vectorized": vectorized}
    if path.startswith("threads"):
        options["executor"] = threads
    f = case.batch_f if vectorized else case.f
    gradient = benchmark(gradcheck.numerical_gradient, f, case.x, args=case.args, **options)
    n_params = _n_params(case.x)
    benchmark.extra_info.update(bench="batched", function=name.split()[0], P=n_params,
                                m=case.examples or None, path=path)
    stats = getattr(benchmark.stats, "stats", None)
    if stats is not None:
        benchmark.extra_info["seconds_per_parameter"] = stats.median / n_params
    reference = gradcheck.numerical_gradient(case.f, case.x, args=case.args)
    for got, want in zip(_leaves(gradient), _leaves(reference), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
