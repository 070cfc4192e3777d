"""What the saved benchmark JSON records about the machine, beyond pytest-benchmark's own.

``pytest_benchmark_update_machine_info`` adds the library versions, the BLAS libraries numpy
loaded with their thread counts (from threadpoolctl), the CPU model and the thread-count
environment variables, so that a report can say what the numbers were measured on.
"""

from __future__ import annotations

import importlib
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pytest

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _version(module: str) -> str | None:
    """The ``__version__`` of ``module``, or None when it is not installed."""
    try:
        return str(importlib.import_module(module).__version__)
    except ImportError:
        return None


def _blas() -> list[dict[str, Any]]:
    """The thread pools numpy's BLAS (and OpenMP) run on, as threadpoolctl sees them."""
    try:
        threadpool_info = importlib.import_module("threadpoolctl").threadpool_info
    except ImportError:
        return []
    keys = ("user_api", "internal_api", "version", "num_threads", "threading_layer", "prefix")
    return [{key: info.get(key) for key in keys} for info in threadpool_info()]


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


def pytest_configure(config: pytest.Config) -> None:
    """Create the folder of ``--benchmark-json`` (pytest-benchmark writes the file at the end)."""
    json_path = config.getoption("benchmark_json", None)
    if json_path:
        Path(os.fsdecode(json_path)).parent.mkdir(parents=True, exist_ok=True)


def pytest_benchmark_update_machine_info(
    config: pytest.Config, machine_info: dict[str, Any]
) -> None:
    """Add versions, BLAS, CPU model and thread settings to the saved ``machine_info``."""
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure the BLAS library is loaded
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
