"""What a saved benchmark run records about the machine and about the conditions of the run.

``machine_info`` (pytest-benchmark's, plus ``gradcheck_bench``) holds what does not change from
one run to the next on the same machine: library versions, the BLAS and OpenMP pools with their
thread counts (sorted, and read after importing every library that brings one, so that the list
does not depend on import order), the CPU model and the thread variables. pytest-benchmark
compares it with a saved run's under ``--benchmark-compare`` and warns, an error under
``filterwarnings = error``, when it differs; so what changes every run goes elsewhere:

- ``conditions`` at the top of the JSON: the load average before and after the run, the timer,
  the thread count asked for (``BENCH_THREADS``) and whether the run was the quick one;
- per benchmark, ``extra_info["others_cpu"]``: how many cores other processes kept busy, on
  average, while the benchmark ran (from ``/proc/stat`` less this process's CPU time), which
  the report turns into a per-group contention warning.

``BENCH_QUICK=1`` deselects the benchmarks marked ``full_only`` (the quick mode of ``tox -e
bench``: the headline's cases without the rest of the grid).

Benchmarks parametrized by ``visit`` (the paired ones of ``test_bench_paired.py``) are timed
in several visits, which ``python -m benchmarks.run`` (``tox -e bench``) runs in processes of
their own, spread over the run; the smoke run (``--benchmark-disable``) keeps visit 0 only.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

THREAD_VARIABLES = ("BENCH_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
VOLATILE_CPU_KEYS = ("hz_actual", "hz_actual_friendly")
"""py-cpuinfo keys that change from call to call (the current clock), left out of machine_info."""

_LOAD_BEFORE = pytest.StashKey[tuple[float, ...]]()


def _version(module: str) -> str | None:
    """The ``__version__`` of ``module``, or None when it is not installed."""
    try:
        return str(importlib.import_module(module).__version__)
    except ImportError:
        return None


def _blas() -> list[dict[str, Any]]:
    """The BLAS and OpenMP pools of numpy, scipy and torch, as threadpoolctl sees them, sorted."""
    try:
        threadpool_info = importlib.import_module("threadpoolctl").threadpool_info
    except ImportError:
        return []
    for module in ("scipy.linalg", "torch"):  # each loads its own pools when first imported
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    keys = ("user_api", "internal_api", "version", "num_threads", "threading_layer", "prefix")
    pools = [{key: info.get(key) for key in keys} for info in threadpool_info()]
    return sorted(pools, key=lambda pool: [str(pool[key]) for key in keys])


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what the platform module says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _torch_threads() -> int | None:
    """torch's intra-op thread count, when torch is installed."""
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return None
    return int(torch.get_num_threads())


def _load() -> tuple[float, ...]:
    """The 1, 5 and 15 minute load averages, or () where the system has none."""
    try:
        return tuple(round(value, 2) for value in os.getloadavg())
    except OSError:
        return ()


def _busy_seconds() -> float | None:
    """CPU seconds all processes spent busy since boot (steal included), from /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = sum(fields[3:5])  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def pytest_configure(config: pytest.Config) -> None:
    """Register ``full_only``, create the folder of ``--benchmark-json``, note the load."""
    config.addinivalue_line(
        "markers", "full_only: a benchmark that the quick mode (BENCH_QUICK=1) leaves out"
    )
    json_path = config.getoption("benchmark_json", None)
    if json_path:
        Path(os.fsdecode(json_path)).parent.mkdir(parents=True, exist_ok=True)
    config.stash[_LOAD_BEFORE] = _load()


def _visit(item: pytest.Item) -> int | None:
    """The ``visit`` parameter of a benchmark timed in visits, else None."""
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("visit")


def _deselect(config: pytest.Config, items: list[pytest.Item], drop: set[pytest.Item]) -> None:
    if drop:
        config.hook.pytest_deselected(items=[item for item in items if item in drop])
        items[:] = [item for item in items if item not in drop]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the ``full_only`` benchmarks under ``BENCH_QUICK=1`` and the later visits in
    the smoke run."""
    if os.environ.get("BENCH_QUICK"):
        _deselect(config, items, {item for item in items if item.get_closest_marker("full_only")})
    disabled = config.getoption("benchmark_disable", False) and not config.getoption(
        "benchmark_enable", False)
    if disabled:
        _deselect(config, items, {item for item in items if (_visit(item) or 0) > 0})


@pytest.fixture(autouse=True)
def _others_cpu(request: pytest.FixtureRequest) -> Iterator[None]:
    """Record in a benchmark's extra_info the cores other processes used while it ran."""
    benchmark = (
        request.getfixturevalue("benchmark") if "benchmark" in request.fixturenames else None
    )
    busy, own, wall = _busy_seconds(), time.process_time(), time.perf_counter()
    yield
    busy_after = _busy_seconds()
    elapsed = time.perf_counter() - wall
    if benchmark is None or busy is None or busy_after is None or elapsed <= 0:
        return
    others = (busy_after - busy) - (time.process_time() - own)
    benchmark.extra_info["others_cpu"] = round(max(others, 0.0) / elapsed, 3)


def pytest_benchmark_update_machine_info(
    config: pytest.Config, machine_info: dict[str, Any]
) -> None:
    """Add versions, BLAS, CPU model and thread settings; drop the CPU's current clock."""
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure the BLAS library is loaded
    for key in VOLATILE_CPU_KEYS:
        machine_info.get("cpu", {}).pop(key, None)
    machine_info["gradcheck_bench"] = {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": _version("scipy"),
        "torch": _version("torch"),
        "torch_threads": _torch_threads(),
        "blas": _blas(),
        "thread_env": {name: os.environ.get(name) for name in THREAD_VARIABLES},
    }


def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]
) -> None:
    """Add the conditions of this run: load before and after, timer, threads, quick mode,
    cores and the hash seed (tox draws one per run unless ``PYTHONHASHSEED`` is set)."""
    timer = config.getoption("benchmark_timer", None)
    output_json["conditions"] = {
        "load_before": list(config.stash.get(_LOAD_BEFORE, ())),
        "load_after": list(_load()),
        "timer": str(timer),
        "threads": os.environ.get("BENCH_THREADS"),
        "quick": bool(os.environ.get("BENCH_QUICK")),
        "cpu_count": os.cpu_count(),
        "hash_seed": os.environ.get("PYTHONHASHSEED"),
    }
