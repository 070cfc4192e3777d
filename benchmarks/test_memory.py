"""Peak memory of the checks against P: tracemalloc's peak, in bytes per coordinate of x.

f is ``x·x`` with an evaluator of its own that answers a request chunk by chunk, so that
what is measured is the checker's memory, not f's: the peak of everything allocated during
the check, beyond x and the gradient (made before). A float64 x is 8 bytes per coordinate:
the partial checks must stay within 3 copies of it (24 B), as ``gradcheck.partial`` explains.
The figures go to ``benchmark.extra_info`` (``bytes_per_coordinate``, ``copies_of_x``) for
the report. P = 1e6 runs only with ``--benchmark-enable`` (seconds per check here).

Measured on this 2-core machine (``pytest benchmarks/test_memory.py --benchmark-enable``), see
README's memory table. The full check estimates, measures f's own noise, confirms and marks
in blocks of ``gradcheck.methods.BLOCK`` coordinates (their intermediates exist for one block
at a time) and holds per element only what its verdict reads: with every method it peaks
within FULL_CHECK_BYTES (central: 96.0 at P = 1e5, 92.0 at 1e6, every element confirmed as
for this f; the complex step 92.2 and 92.0, its premise check holding its (P,) arrays one at
a time), and the test fails above it.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import gradcheck
from benchmarks._targets import FULL_CHECK_BYTES, PARTIAL_BYTES, SLACK_BYTES

Float64Array = npt.NDArray[np.float64]
SIZES = (100_000, 1_000_000)
PARTIAL_LIMIT = PARTIAL_BYTES
"""Bytes per coordinate the partial checks may use: 3 copies of a float64 x."""
SLACK = SLACK_BYTES
"""Bytes allowed beyond that whatever P: chunk buffers of 64 KiB, the small arrays."""
FULL_NOW = 100
"""Bytes per coordinate the full check may use (every method): its target FULL_CHECK_BYTES,
which it meets since the verdict works by blocks (342 before, 96 after)."""
_CHUNK = 1 << 13


class Dot:
    """f(x) = x·x, which allocates nothing of the size of x, with an O(1)-per-point evaluator."""

    def __call__(self, x: Float64Array) -> Any:
        return x @ x

    def gradcheck_evaluator(
        self, leaves: Sequence[Float64Array], treedef: object, args: tuple[Any, ...]
    ) -> DotEvaluator:
        return DotEvaluator(np.asarray(leaves[0]).reshape(-1))


class DotEvaluator:
    """f(x + δ e_k) = x·x + (2 x_k + δ) δ, chunk by chunk into the output."""

    def __init__(self, x: Float64Array) -> None:
        self.x, self.count, self.value = x, 0, x @ x

    @property
    def n_evaluations(self) -> int:
        return self.count

    @property
    def result_eps(self) -> float:
        return float(np.finfo(np.float64).eps) if self.count else 0.0

    def at_x(self) -> float:
        self.count += 1
        return float(self.value)

    def along(self, index: npt.NDArray[np.intp], shift: Float64Array) -> Any:
        return self._moved(index, shift, np.float64)

    def along_imaginary(self, index: npt.NDArray[np.intp], shift: Float64Array) -> Any:
        return self._moved(index, 1j * np.asarray(shift), np.complex128)

    def _moved(self, index: Any, delta: Any, dtype: Any) -> Any:
        out = np.empty(len(index), dtype)
        for lo in range(0, len(index), _CHUNK):
            part = slice(lo, lo + _CHUNK)
            out[part] = self.value + (2 * self.x[index[part]] + delta[part]) * delta[part]
        self.count += len(index)
        return out


CHECKS: dict[str, Callable[[Any, Float64Array, Float64Array], Any]] = {
    "check_gradient": lambda f, x, g: gradcheck.check_gradient(f, x, g),
    "check_gradient complex": lambda f, x, g: gradcheck.check_gradient(f, x, g,
                                                                       method="complex"),
    "check_gradient forward": lambda f, x, g: gradcheck.check_gradient(f, x, g,
                                                                       method="forward"),
    "check_gradient richardson": lambda f, x, g: gradcheck.check_gradient(
        f, x, g, method="richardson"),
    "check_directional": lambda f, x, g: gradcheck.check_directional(f, x, g, rng=0),
    "check_directional complex": lambda f, x, g: gradcheck.check_directional(
        f, x, g, rng=0, method="complex"),
    "taylor_test": lambda f, x, g: gradcheck.taylor_test(f, x, g, rng=0),
    "check_sampled": lambda f, x, g: gradcheck.check_sampled(f, x, g, k=20, rng=0),
}


def _peak(run: Callable[[], Any]) -> tuple[Any, int]:
    """``run()`` and the peak of memory allocated while it ran, in bytes."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        out = run()
        return out, tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("size", SIZES, ids=[f"P{p:.0e}".replace("+0", "") for p in SIZES])
@pytest.mark.parametrize("check", sorted(CHECKS))
def test_peak_memory(benchmark: BenchmarkFixture, check: str, size: int) -> None:
    if benchmark.disabled and size > SIZES[0]:
        pytest.skip("P = 1e6 runs with --benchmark-enable")
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 1.0, size)
    gradient = 2 * x
    f = Dot()
    CHECKS[check](f, x[:1000], gradient[:1000])  # imports and caches, outside the peak
    result, peak = benchmark.pedantic(
        lambda: _peak(lambda: CHECKS[check](f, x, gradient)), rounds=1, iterations=1
    )
    per_coordinate = peak / size
    benchmark.extra_info.update({
        "bench": "memory", "check": check, "P": size,
        "bytes_per_coordinate": round(per_coordinate, 1),
        "copies_of_x": round(peak / x.nbytes, 2),
    })
    assert result.passed
    if not check.startswith("check_gradient"):
        assert per_coordinate <= PARTIAL_LIMIT + SLACK / size
        return
    assert per_coordinate <= min(FULL_NOW, FULL_CHECK_BYTES) + SLACK / size
