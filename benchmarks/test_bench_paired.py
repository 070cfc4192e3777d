"""The headline's ratios, each measured as a ratio: both sides interleaved in one benchmark.

One benchmark per headline figure and case (`benchmarks._headline.FIGURES`): it builds the two
calls the figure divides (the peer or the reference as ``num``, ours as ``den``) and times them
in alternating blocks with `benchmarks._paired.time_pairs`, so that the machine's drift divides
out of every pair. ``extra_info`` holds ``bench="paired"``, the figure's ``kind``, ``num`` and
``den``, the case keys it joins on (layers, dtype, m; P, method; function, P, m) and the
per-pair seconds of each side; the report's headline reads its figures from these. Both sides'
last results are asserted, as in the benchmarks they mirror.

Each figure is timed in `VISITS` visits (``visit`` in ``extra_info`` and ``-visitN`` in the
name), which ``python -m benchmarks.run`` (``tox -e bench``) runs in processes of their own,
spread over the run; the report pools their pairs. The quick mode (``BENCH_QUICK=1``) pairs for
about 1 s of CPU time per figure in all (12 to 28 pairs) and the checker up to P = 808; the
full run for about 4 s (8 to 64 pairs) at every size. The smoke run (``--benchmark-disable``)
makes one pair of single calls in one visit, on the checker up to P = 808 and none of the full
checks.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

import gradcheck
from benchmarks import test_bench_batched as batched
from benchmarks import test_bench_full_check as full_check
from benchmarks import test_checker as checker
from benchmarks._paired import FULL, QUICK, SMOKE, PairPlan, time_pairs
from benchmarks._problems import LAYER_SIZES, Case, Problem, full_only, layers_name, matrix_products
from benchmarks.test_network import bare_cost_and_gradient

Side = Callable[[], Any]
QUICK_MAX_P = 808
"""The quick mode and the smoke run pair the checker up to this P (the full run: every P)."""
VISITS = 4
"""Visits per figure, spread over the run: each makes a quarter of the figure's pairs."""


def _plan(benchmark: Any) -> PairPlan:
    if benchmark.disabled:
        return SMOKE
    return (QUICK if os.environ.get("BENCH_QUICK") else FULL).per_visit(VISITS)


def _timer(request: pytest.FixtureRequest) -> Callable[[], float]:
    """pytest-benchmark's timer (``--benchmark-timer``), the process's CPU time by default."""
    option = request.config.getoption("benchmark_timer", None)
    timer: Callable[[], float] = getattr(option, "target", time.process_time)
    return timer


def _pair(benchmark: Any, request: pytest.FixtureRequest, theirs: Side, ours: Side,
          **extra: Any) -> tuple[Any, Any]:
    """Time ``theirs`` (the numerator) against ``ours`` in pairs under the benchmark, record
    them in ``extra_info`` with ``extra`` (the visit among them); return the last result of
    each."""
    plan, timer = _plan(benchmark), _timer(request)
    pairs = benchmark.pedantic(lambda: time_pairs(theirs, ours, plan=plan, timer=timer),
                               rounds=1, iterations=1)
    benchmark.extra_info.update(bench="paired", **extra, **pairs.extra_info())
    assert len(pairs.num) == len(pairs.den) >= plan.min_pairs
    return pairs.results


def _network_side(impl: str, problem: Problem) -> Side:
    params, X, Y, mlp = problem.params, problem.X, problem.Y, problem.mlp
    if impl == "vectorized":
        return lambda: mlp.cost_and_gradient(params, X, Y)[0]
    if impl == "loop":
        return lambda: mlp.cost_and_gradient_loop(params, X, Y)[0]
    if impl == "bare numpy":
        return lambda: bare_cost_and_gradient(params, X, Y)[0]
    if impl == "matmul":
        return matrix_products(problem.case)
    pytest.importorskip("torch")
    from benchmarks.test_network_peers import _torch_cost_and_gradient

    run = _torch_cost_and_gradient(problem)
    return lambda: run()[0]


def _network_params() -> list[Any]:
    params = []
    for sizes in LAYER_SIZES:
        impls = [(impl, m) for impl in ("torch", "matmul") for m in (16, 2048)]
        impls += [("bare numpy", m) for m in (1, 16)]
        impls += [("loop", m) for m in (16, 2048) if sizes != LAYER_SIZES[-1]]
        for impl, m in impls:
            name = f"network-{impl.replace(' ', '')}-{layers_name(sizes)}-m{m}"
            params.append(pytest.param(impl, Case(sizes, m, "float64"), id=name))
    return params


@pytest.mark.parametrize("visit", range(VISITS), ids=lambda k: f"visit{k}")
@pytest.mark.benchmark(group="paired network")
@pytest.mark.parametrize(("impl", "case"), _network_params())
def test_network_pair(benchmark: Any, request: pytest.FixtureRequest, visit: int, impl: str,
                      case: Case) -> None:
    problem = Problem.make(case)
    theirs, ours = _pair(benchmark, request, _network_side(impl, problem),
                         _network_side("vectorized", problem), kind="network", visit=visit,
                         num=impl, den="vectorized", layers=layers_name(case.sizes),
                         dtype=case.dtype, m=case.m)
    assert math.isfinite(theirs) and math.isfinite(ours)
    if impl != "matmul":  # the floor's result is a sum of entries, not the cost
        assert theirs == pytest.approx(ours, rel=1e-9)


def _full_check_params() -> list[Any]:
    params = []
    for sizes, size_id in ((full_check.SMALL, "P1732"), (full_check.FULL, "P26122")):
        for impl in ("torch", "scipy", "plain"):
            if impl == "plain" and sizes == full_check.FULL:
                continue  # minutes at the full size
            marks = full_only(sizes == full_check.FULL)
            params.append(pytest.param(impl, sizes, id=f"full-check-{impl}-{size_id}",
                                       marks=marks))
    return params


@pytest.mark.parametrize("visit", range(VISITS), ids=lambda k: f"visit{k}")
@pytest.mark.benchmark(group="paired full-check")
@pytest.mark.parametrize(("impl", "sizes"), _full_check_params())
def test_full_check_pair(benchmark: Any, request: pytest.FixtureRequest, visit: int,
                         impl: str, sizes: tuple[int, ...]) -> None:
    if benchmark.disabled:
        pytest.skip("timing only: the smoke run of test_bench_full_check.py runs these checks")
    theirs, size = full_check.RUNS[impl](sizes)
    ours, _ = full_check.structured_run(sizes)
    verdicts = _pair(benchmark, request, theirs, ours, kind="full-check", visit=visit, num=impl,
                     den="structured", P=size)
    assert verdicts == (True, True)


def _checker_params() -> list[Any]:
    params = []
    for sizes in checker.CHECK_LAYERS:
        size = sum(s_out * (s_in + 1) for s_in, s_out in pairwise(sizes))
        for peer in ("torch", "scipy"):
            params.append(pytest.param(peer, sizes, id=f"checker-{peer}-P{size}",
                                       marks=full_only(size > QUICK_MAX_P)))
    return params


@pytest.mark.parametrize("visit", range(VISITS), ids=lambda k: f"visit{k}")
@pytest.mark.benchmark(group="paired checker")
@pytest.mark.parametrize(("peer", "sizes"), _checker_params())
def test_checker_pair(benchmark: Any, request: pytest.FixtureRequest, visit: int, peer: str,
                      sizes: tuple[int, ...]) -> None:
    objective = checker.Objective.make(sizes)
    if benchmark.disabled and objective.n_params > QUICK_MAX_P:
        pytest.skip(f"the smoke run pairs the checker up to P = {QUICK_MAX_P}")
    method = "central" if peer == "torch" else "forward"  # each peer's own method
    theirs = checker.torch_run(objective) if peer == "torch" else checker.scipy_run(objective)
    verdict, result = _pair(benchmark, request, theirs,
                            checker.check_gradient_run(objective, method), kind="checker",
                            visit=visit,
                            num="torch.gradcheck" if peer == "torch" else "scipy.check_grad",
                            den="check_gradient", P=objective.n_params, method=method)
    assert result.passed, str(result)
    assert verdict is True if peer == "torch" else checker.scipy_passed(objective, verdict)


@pytest.mark.parametrize("visit", range(VISITS), ids=lambda k: f"visit{k}")
@pytest.mark.benchmark(group="paired batched")
@pytest.mark.parametrize("name", [pytest.param(name, id=f"batched-{batched._test_id(name)}")
                                  for name in batched.CASES])
def test_batched_pair(benchmark: Any, request: pytest.FixtureRequest, visit: int,
                      name: str) -> None:
    case = batched.CASES[name]

    def unbatched() -> Any:
        return gradcheck.numerical_gradient(case.f, case.x, args=case.args)

    def vectorized() -> Any:
        return gradcheck.numerical_gradient(case.batch_f, case.x, args=case.args,
                                            vectorized=True)

    one, block = _pair(benchmark, request, unbatched, vectorized, kind="batched", visit=visit,
                       num="unbatched", den="batched", function=name.split()[0],
                       P=batched._n_params(case.x), m=case.examples or None)
    for got, want in zip(batched._leaves(block), batched._leaves(one), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
