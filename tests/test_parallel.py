"""executor=: threads, processes and Dask give the serial path's results, bit for bit."""

from __future__ import annotations

import doctest
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
import pytest

from gradcheck import check_gradient, numerical_gradient
from gradcheck.evaluators import parallel as _parallel

METHODS = ("forward", "central", "complex", "richardson")


class Layer(NamedTuple):
    W: Any  # (4, 3)
    b: Any  # (4,)


class Planted(Exception):
    """Raised by :func:`fails_when_moved_up` (module level, so processes can pickle it)."""


def _point() -> list[Layer]:
    rng = np.random.default_rng(3)
    return [Layer(rng.normal(size=(4, 3)), rng.normal(size=4)),
            Layer(rng.normal(size=(1, 4)).astype(np.float32), rng.normal(size=1))]


def cost(params: list[Layer]) -> Any:
    """A small tanh network's output on a fixed input (module level: picklable)."""
    a = np.tanh(params[0].W @ np.array([0.5, -1.0, 2.0]) + params[0].b)
    return np.sum(np.sin(params[1].W @ a + params[1].b) ** 2)


def gradient(params: list[Layer]) -> list[Layer]:
    x = np.array([0.5, -1.0, 2.0])
    a = np.tanh(params[0].W @ x + params[0].b)
    z = params[1].W @ a + params[1].b
    dz = 2 * np.sin(z) * np.cos(z)
    da = (params[1].W.T @ dz) * (1 - a**2)
    return [Layer(np.outer(da, x), da), Layer(np.outer(dz, a).astype(np.float32), dz)]


def fails_when_moved_up(params: list[Layer]) -> Any:
    """:func:`cost`, raising once the first weight is moved up from its value in _point."""
    if params[0].W[0, 0] > _point()[0].W[0, 0]:
        raise Planted("planted failure")
    return cost(params)


def _leaves(params: list[Layer]) -> list[Any]:
    return [leaf for layer in params for leaf in layer]


def _assert_identical(a: list[Layer], b: list[Layer]) -> None:
    for left, right in zip(_leaves(a), _leaves(b), strict=True):
        assert left.dtype == right.dtype
        np.testing.assert_array_equal(left, right)


@pytest.fixture(scope="module")
def processes() -> Iterator[Executor]:
    # spawn: the same on every platform and Python version, and no fork of a threaded process
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.mark.parametrize("method", METHODS)
def test_threads_give_the_serial_gradient(method: str) -> None:
    x = _point()
    with ThreadPoolExecutor(3) as pool:
        pooled = numerical_gradient(cost, x, method=method, executor=pool)
    _assert_identical(pooled, numerical_gradient(cost, x, method=method))


@pytest.mark.parametrize("method", ["central", "complex"])
def test_processes_give_the_serial_gradient(method: str, processes: Executor) -> None:
    x = _point()
    pooled = numerical_gradient(cost, x, method=method, executor=processes)
    _assert_identical(pooled, numerical_gradient(cost, x, method=method))


def test_processes_give_the_serial_verdict(processes: Executor) -> None:
    x = _point()
    bad = gradient(x)
    bad[0].W[2, 1] *= 1.001
    serial = check_gradient(cost, x, bad)
    pooled = check_gradient(cost, x, bad, executor=processes)
    assert not pooled.passed and pooled.n_mismatches == serial.n_mismatches == 1
    assert pooled.n_evaluations == serial.n_evaluations
    for a, b in zip(serial.numeric + serial.status, pooled.numeric + pooled.status, strict=True):
        np.testing.assert_array_equal(a, b)


def test_more_tasks_than_points_and_fewer() -> None:
    x = np.linspace(-1.0, 1.0, 3 * _parallel.TASKS_PER_REQUEST + 5)

    def f(v: Any) -> Any:
        return np.sum(np.exp(v) * v)

    with ThreadPoolExecutor(2) as pool:
        assert np.array_equal(numerical_gradient(f, x, executor=pool), numerical_gradient(f, x))
        small = np.array([0.25])
        assert np.array_equal(numerical_gradient(f, small, executor=pool),
                              numerical_gradient(f, small))


def test_a_batched_task_holds_at_least_a_block() -> None:
    x = np.linspace(-1.0, 1.0, 40)  # central: 80 points, 30 rows (9.6 KB) per block
    sizes: list[int] = []

    def f(v: Any) -> Any:
        sizes.append(len(v))
        return np.sum(np.exp(v) * v, axis=1)

    with ThreadPoolExecutor(2) as pool:
        got = numerical_gradient(f, x, vectorized=True, executor=pool, max_batch_bytes=9600)
    assert sorted(sizes) == [26, 27, 27]  # 3 tasks, not 32 of 2 or 3 points
    np.testing.assert_allclose(got, numerical_gradient(f, x, vectorized=True), rtol=1e-12)


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_an_exception_in_a_task_keeps_its_type_and_the_arrays(
    kind: str, processes: Executor
) -> None:
    x = _point()
    before = [leaf.copy() for leaf in _leaves(x)]
    with ThreadPoolExecutor(2) as threads:
        pool = threads if kind == "threads" else processes
        with pytest.raises(Planted, match="planted failure"):
            numerical_gradient(fails_when_moved_up, x, executor=pool)
    for leaf, old in zip(_leaves(x), before, strict=True):
        np.testing.assert_array_equal(leaf, old)


def test_f_writing_into_its_argument_in_threads_leaves_x_alone() -> None:
    x = np.array([0.3, -0.7, 1.1])
    before = x.copy()

    def f(v: Any) -> Any:
        value = float(np.sum(v**3))
        try:
            v[:] = 0.0
        except ValueError:  # read-only: the evaluator then hands f fresh copies
            v = v.copy()
            v[:] = 0.0
        return value

    with ThreadPoolExecutor(2) as pool:
        g = numerical_gradient(f, x, executor=pool)
    np.testing.assert_allclose(g, 3 * before**2, rtol=1e-8)
    np.testing.assert_array_equal(x, before)


def test_progress_hears_every_task() -> None:
    x = np.linspace(0.0, 1.0, 2 * _parallel.TASKS_PER_REQUEST)
    seen: list[tuple[int, int]] = []
    with ThreadPoolExecutor(2) as pool:
        numerical_gradient(np.sum, x, executor=pool,
                           progress=lambda done, total: seen.append((done, total)))
    assert len(seen) == _parallel.TASKS_PER_REQUEST  # both sides go out as one request
    assert [d for d, _ in seen] == [4 * (k + 1) for k in range(len(seen))]
    assert {t for _, t in seen} == {2 * x.size}


def test_dask_client_gives_the_serial_result() -> None:
    distributed = pytest.importorskip("distributed")
    x = _point()
    good = gradient(x)
    # In-process workers (processes=False): starts in a fraction of a second and opens no port
    # for the workers (inproc transport). Its HTTP server takes a free port (":0"): with
    # dashboard_address=None it still asks for 8787, which a cluster in another pytest -n
    # worker may hold, and the warning about it is an error here.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        pooled = numerical_gradient(cost, x, method="richardson", executor=client)
        result = check_gradient(cost, x, good, executor=client)
    _assert_identical(pooled, numerical_gradient(cost, x, method="richardson"))
    serial = check_gradient(cost, x, good)
    assert result.passed and serial.passed
    for a, b in zip(serial.numeric, result.numeric, strict=True):
        np.testing.assert_array_equal(a, b)


def test_doctests() -> None:
    assert doctest.testmod(_parallel).failed == 0
