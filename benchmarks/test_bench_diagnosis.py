"""The diagnosis of a failed check on a hundred thousand elements (gradcheck.diagnosis).

Two cases on four leaves of 50,000 + 250 + 50,000 + 200 elements: a gradient scaled by 1.7
(one finding, the constant factor) and a gradient with 1e-3 relative noise (no finding: the
most work, since every pattern is tried and refused). Each asserts its findings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from gradcheck.diagnosis import diagnose

Array = npt.NDArray[np.float64]
PATHS = ("[0].W", "[0].b", "[1].W", "[1].b")
SHAPES = ((250, 200), (250,), (200, 250), (200,))


def _case(kind: str) -> tuple[list[Array], list[Array], list[Array], list[Array]]:
    """analytic, numeric, tolerance and params leaves of one case."""
    rng = np.random.default_rng(6)
    numeric = [rng.normal(size=shape) for shape in SHAPES]
    tolerance = [1e-8 * np.abs(n) + 1e-12 for n in numeric]
    params = [rng.normal(size=shape) for shape in SHAPES]
    if kind == "factor":
        analytic = [1.7 * n for n in numeric]
    else:
        analytic = [n * (1 + 1e-3 * rng.normal(size=n.shape)) for n in numeric]
    return analytic, numeric, tolerance, params


@pytest.mark.benchmark(group="diagnosis P=100450")
@pytest.mark.parametrize(("kind", "expected"), [("factor", ["constant-factor"]), ("noise", [])])
def test_diagnose(benchmark: BenchmarkFixture, kind: str, expected: list[str]) -> None:
    analytic, numeric, tolerance, params = _case(kind)
    findings: Any = benchmark(diagnose, PATHS, analytic, numeric, tolerance, params)
    assert [finding.name for finding in findings] == expected
