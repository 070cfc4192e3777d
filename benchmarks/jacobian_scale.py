"""The scale target of the Jacobian check: 10,000 inputs, 1,000 outputs, 2P + 16 calls of f.

Run ``python -m benchmarks.jacobian_scale [P] [outputs]`` (defaults 10000 and 1000). The
layer's output i is ``tanh`` of 10 inputs (a sparse layer, so that f costs little beside the
checker): its Jacobian is (outputs, P), mostly zeros. Prints the calls, the wall time, the time
f alone takes for as many calls, and the check of one element planted 1e-4 off.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

import gradcheck

#: Inputs each output reads.
FAN_IN = 10


def sparse_layer(n_inputs: int, n_outputs: int) -> tuple[Any, Any, np.ndarray]:
    """(f, its Jacobian function, the index array (outputs, FAN_IN)) of a seeded layer."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, n_inputs, size=(n_outputs, FAN_IN))
    w = rng.standard_normal((n_outputs, FAN_IN)) / np.sqrt(FAN_IN)

    def f(x: np.ndarray) -> np.ndarray:
        return np.tanh(np.sum(x[idx] * w, axis=1))

    def jacobian(x: np.ndarray) -> np.ndarray:
        d = 1 - f(x) ** 2
        out = np.zeros((n_outputs, n_inputs))
        rows = np.repeat(np.arange(n_outputs), FAN_IN)
        np.add.at(out, (rows, idx.ravel()), (d[:, None] * w).ravel())
        return out

    return f, jacobian, idx


def main(n_inputs: int = 10_000, n_outputs: int = 1_000) -> list[str]:
    """The lines of the measurement."""
    f, jacobian, idx = sparse_layer(n_inputs, n_outputs)
    x = np.random.default_rng(1).standard_normal(n_inputs)
    start = time.perf_counter()
    result = gradcheck.check_jacobian(f, x, jacobian)
    wall = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(result.n_evaluations):
        f(x)
    alone = time.perf_counter() - start
    wrong = jacobian(x)
    wrong[3, idx[3, 0]] *= 1 + 1e-4
    bad = gradcheck.check_jacobian(f, x, wrong)
    return [
        f"P={n_inputs} outputs={n_outputs}: passed={result.passed}, "
        f"{result.n_evaluations} calls (2P + 16 = {2 * n_inputs + 16}), {wall:.1f} s wall, "
        f"f alone {alone:.1f} s",
        f"one element 1e-4 off: passed={bad.passed}, worst {bad.worst.name if bad.worst else ''}"
        f", diagnosis {[d.name for d in bad.diagnosis]}",
    ]


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:3]]
    print("\n".join(main(*sizes)))
