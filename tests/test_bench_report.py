"""The benchmark report builder on small synthetic pytest-benchmark JSONs."""

from __future__ import annotations

import copy
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks._compare import agreement
from benchmarks._paired import SMOKE, PairedRatio, PairPlan, paired_trust, time_pairs
from benchmarks._stats import Conditions, natural_key, trust
from benchmarks.report import (
    build_headline,
    build_report,
    format_seconds,
    main,
    network_rows,
    write_report,
)


def _bench(name: str, group: str, median: float, *, rounds: int = 7, spread: float = 0.02,
           **extra: Any) -> dict[str, Any]:
    """A benchmark whose quartiles lie ``spread``·median/2 either side of the median."""
    half = median * spread / 2
    stats = {"median": median, "iqr": 2 * half, "q1": median - half, "q3": median + half,
             "rounds": rounds, "min": median - 2 * half, "mean": median}
    return {"name": name, "fullname": f"benchmarks/x.py::{name}", "group": group,
            "extra_info": extra, "options": {"timer": "time.process_time"}, "stats": stats}


def _network(impl: str, median: float, m: int = 2048, **options: Any) -> dict[str, Any]:
    return _bench(f"test_{impl}[64x128x128x10-float64-m{m}]",
                  f"network 64x128x128x10 float64 m={m}", median, bench="network", impl=impl,
                  layers="64x128x128x10", dtype="float64", m=m, flops=4_000_000_000, **options)


def _checker(impl: str, method: str, median: float, P: int = 808, **options: Any
             ) -> dict[str, Any]:
    return _bench(f"test_{impl}[{method}-P{P}]", f"checker P={P}", median, bench="checker",
                  impl=impl, method=method, P=P, evaluations=2 * P, **options)


def _batched(function: str, P: int, m: int | None, path: str, median: float, **options: Any
             ) -> dict[str, Any]:
    size = "" if m is None else f"-m{m}"
    return _bench(f"test_seconds_per_parameter[{function}-P{P}{size}-{path}]",
                  f"batched {function} P={P}", median,
                  bench="batched", function=function, P=P, m=m, path=path, **options)


def _full(impl: str, P: int, seconds: float) -> dict[str, Any]:
    return _bench(f"test_{impl}_full_check[P{P}]", "full-check", seconds, rounds=1,
                  spread=0.0, bench="full-check", impl=impl, P=P)


def _spread_ratios(center: float, spread: float, pairs: int) -> list[float]:
    """``pairs`` ratios evenly spaced over center·(1 ± spread): their IQR/median is ``spread``."""
    step = 2 * spread / (pairs - 1) if pairs > 1 else 0.0
    return [center * (1 - spread + i * step) for i in range(pairs)]


def _paired(kind: str, num: str, den: str, ratio: float, *, spread: float = 0.04,
            pairs: int = 11, **extra: Any) -> dict[str, Any]:
    """A benchmark of test_bench_paired.py: ``den`` takes 10 ms a call, ``num`` ratio times more."""
    case = "-".join(f"{value}" for value in extra.values())
    num_seconds = [0.01 * r for r in _spread_ratios(ratio, spread, pairs)]
    return _bench(f"test_{kind}_pair[{num}-{case}]", f"paired {kind}", 1.0, rounds=1, spread=0.0,
                  bench="paired", kind=kind, num=num, den=den, num_seconds=num_seconds,
                  den_seconds=[0.01] * pairs, calls=[1, 3], **extra)


def _paired_network(impl: str, ratio: float, m: int = 2048, **options: Any) -> dict[str, Any]:
    return _paired("network", impl, "vectorized", ratio, layers="64x128x128x10",
                   dtype="float64", m=m, **options)


@pytest.fixture
def data() -> dict[str, Any]:
    return {
        "machine_info": {
            "python_implementation": "CPython",
            "python_version": "3.11.7",
            "gradcheck_bench": {
                "cpu_model": "Test CPU 9000",
                "cpu_count": 2,
                "numpy": "2.4.6",
                "torch": None,
                "blas": [
                    {"internal_api": "openblas", "version": "0.3.31", "num_threads": 1},
                    {"prefix": "libscipy_openblas", "version": "0.3.30", "num_threads": 1},
                ],
                "thread_env": {"OPENBLAS_NUM_THREADS": "1"},
            },
        },
        "conditions": {"load_before": [0.5, 0.4, 0.3], "load_after": [1.1, 0.9, 0.5],
                       "timer": "time.process_time", "threads": "1", "quick": False,
                       "cpu_count": 2},
        "commit_info": {"id": "abc123", "branch": "wt-bench", "dirty": False},
        "datetime": "2025-01-01T00:00:00",
        "benchmarks": [
            _checker("scipy.check_grad", "forward", 0.1, P=9344),
            _network("vectorized", 0.010),
            _network("matmul", 0.008),
            _network("loop", 0.250),
            _network("torch", 0.020),
            _network("vectorized", 0.002, m=256),
            _checker("check_gradient", "central", 0.5),
            _checker("numerical_gradient", "central", 0.4),
            _checker("torch.gradcheck", "central", 1.5),
            _batched("mlp", 58, 16, "unbatched", 0.002),
            _batched("mlp", 58, 16, "batched", 0.0002),
            _batched("mlp", 58, 4, "batched", 0.0001),
            _batched("rosenbrock", 50, None, "unbatched", 0.001),
            _batched("rosenbrock", 50, None, "threads+batched", 0.0004),
            _full("structured", 26122, 0.2),
            _full("torch", 26122, 14.0),
            _full("plain", 1732, 0.5),
            _paired_network("loop", 25.0),
            _paired_network("torch", 2.0),
            _paired_network("matmul", 0.8),
            _paired("full-check", "torch", "structured", 70.0, P=26122),
            _paired("checker", "torch.gradcheck", "check_gradient", 3.0, P=808,
                    method="central"),
            _paired("batched", "unbatched", "batched", 10.0, function="mlp", P=58, m=16),
        ],
    }


def _replace(data: dict[str, Any], name: str, new: dict[str, Any]) -> None:
    data["benchmarks"] = [new if b["name"] == name else b for b in data["benchmarks"]]


def _drop_paired(data: dict[str, Any], impl: str) -> None:
    """Remove the paired network figure of ``impl`` (m = 2048)."""
    data["benchmarks"] = [b for b in data["benchmarks"] if (
        b["extra_info"].get("bench"), b["extra_info"].get("kind"), b["extra_info"].get("num"))
        != ("paired", "network", impl)]


def test_format_seconds_picks_a_unit_with_three_digits() -> None:
    assert [format_seconds(s) for s in (2.5, 0.0123, 4.56e-5, 7e-9)] == [
        "2.5 s",
        "12.3 ms",
        "45.6 µs",
        "7 ns",
    ]


def test_natural_key_orders_numbers_by_value() -> None:
    groups = [f"network 8x16x4 float64 m={m}" for m in (4096, 16, 2, 2048, 256, 1)]
    ordered = sorted(groups, key=natural_key)
    assert [g.rsplit("=", 1)[1] for g in ordered] == ["1", "2", "16", "256", "2048", "4096"]
    assert sorted(["64x128x128x10", "8x16x4", "256x512x512x10"], key=natural_key) == [
        "8x16x4", "64x128x128x10", "256x512x512x10"]


def test_network_rows_join_the_implementations_of_a_case(data: dict[str, Any]) -> None:
    rows = network_rows(data["benchmarks"])
    assert [(row["m"], row["vectorized"]) for row in rows] == [(256, 0.002), (2048, 0.010)]
    row = rows[1]
    assert row["loop_ratio"] == pytest.approx(25.0)
    assert row["torch_ratio"] == pytest.approx(2.0)
    assert row["matmul_fraction"] == pytest.approx(0.8)
    assert row["gflops"] == pytest.approx(400.0)
    assert row["matmul_gflops"] == pytest.approx(500.0)
    assert rows[0]["loop_ratio"] is None and rows[0]["matmul_fraction"] is None


def test_report_has_the_machine_the_conditions_and_a_table_per_group(
    data: dict[str, Any],
) -> None:
    report = build_report(data)
    assert "| CPU | Test CPU 9000, 2 logical cores |" in report
    assert "openblas 0.3.31 (1 threads); libscipy_openblas 0.3.30 (1 threads)" in report
    assert "| torch | not installed |" in report
    assert "| timer | time.process_time |" in report
    assert "| load average (1/5/15 min) before | 0.50 / 0.40 / 0.30 |" in report
    row = "| 64x128x128x10 | float64 | 2048 | 10 ms | 400 | 500 | 80% | 25.0 | 20 ms | 2.00 |"
    assert row in report
    peer = "| 808 | torch.gradcheck | central | 1.5 s | 1616 | 1.08e+03 | 1.86 ms | 3.00 |  |"
    assert peer in report
    loop = "| `test_loop[64x128x128x10-float64-m2048]` | 250 ms | 5 ms | 245 ms | 7 | 31.25 |"
    assert loop in report  # 250 ms / 8 ms: the matrix products are the fastest
    assert "| mlp | 58 | 16 | 34.5 µs | 10.00 | – | – |" in report  # 2 ms / 58; 2 ms / 0.2 ms
    assert "| mlp | 58 | 4 | – | – | – | – |" in report  # no unbatched run: no ratio
    assert "| rosenbrock | 50 | – | 20 µs | – | – | 2.50 |" in report
    assert report.index("| mlp | 58 | 4 |") < report.index("| mlp | 58 | 16 |")
    assert report.count("\n### ") == 7  # 2 network, 2 checker, 2 batched, full-check
    assert report.index("| 808 | check_gradient |") < report.index("| 9344 | scipy.check_grad |")


def test_headline_holds_each_ratio_with_its_spread(data: dict[str, Any]) -> None:
    headline = build_headline(data)
    # per-pair ratios evenly over 25·(1 ± 4%), 11 pairs: quartiles 24.5 and 25.5, fastest
    # loop 24 ms over fastest vectorized 10 ms; uncertainty 0.929 · 4% / √11 = 1.1%
    assert ("| vectorized vs loop (× faster) | 64x128x128x10 float64 m=2048 | 25.0 | 24.5–25.5 | "
            "±1.1% | 11 | 24.0 |  |") in headline
    assert "| ours vs torch autograd (torch time / ours) | 64x128x128x10 float64 m=2048 | 2.00 |"\
        in headline
    assert "| matmul share (floor / whole) | 64x128x128x10 float64 m=2048 | 80% | 78%–82% |" \
        in headline
    assert "| full check: torch.autograd.gradcheck / ours | P=26122 | 70.0 | 68.6–71.4 |" \
        in headline
    assert "| batched vs unbatched (× faster) | mlp P=58 m=16 | 10.0 |" in headline
    assert "rosenbrock" not in headline  # no batched side: no figure
    assert "m=None" not in headline
    assert "plain check: torch.autograd.gradcheck / check_gradient | P=808 central | 3.00" \
        in headline
    assert "scipy check_grad / ours" not in headline  # no scipy full check in this run
    assert "Left out" not in headline


def test_a_figure_timed_apart_is_left_out_as_unpaired(data: dict[str, Any]) -> None:
    """The unpaired benchmarks of the same case (25 and 2.00 here) never make a headline."""
    _drop_paired(data, "loop")
    headline = build_headline(data)
    assert "| vectorized vs loop (× faster) |" not in headline
    assert ("- vectorized vs loop (× faster), 64x128x128x10 float64 m=2048: unreliable (not "
            "paired: its two sides were timed apart") in headline
    assert "Left out of the headline (1 of 6):" in headline
    assert "| ours vs torch autograd (torch time / ours) |" in headline  # still paired


def test_a_wide_spread_or_a_busy_machine_keeps_a_figure_out_of_the_headline(
    data: dict[str, Any],
) -> None:
    _replace(data, "test_loop[64x128x128x10-float64-m2048]",
             _network("loop", 0.250, spread=0.3))
    _replace(data, "test_torch[64x128x128x10-float64-m2048]",
             _network("torch", 0.020, others_cpu=1.6))
    report = build_report(data)
    # the detailed tables judge each benchmark on its own spread and load
    assert "| 64x128x128x10 | float64 | 2048 | 10 ms | 400 | 500 | 80% | (25.0) | (20 ms) | " \
        "(2.00) | loop: spread 30%; torch: load: others used 1.60 of 2 cores |" in report
    _replace(data, "test_torch.gradcheck[central-P808]",
             _checker("torch.gradcheck", "central", 1.5, spread=0.2))
    _replace(data, "test_seconds_per_parameter[mlp-P58-m16-batched]",
             _batched("mlp", 58, 16, "batched", 0.0002, others_cpu=1.2))
    report = build_report(data)
    assert "| 808 | torch.gradcheck | central | (1.5 s) | 1616 | 1.08e+03 | (1.86 ms) | (3.00) | " \
        "spread 20% |" in report
    assert "| mlp | 58 | 16 | 34.5 µs | (10.00) | – | – |" in report
    assert "| mlp | 58 | 4 | – | – | – | – |" in report
    group = report[report.index("### network 64x128x128x10 float64 m=2048"):]
    assert group.split("\n")[2] == "**Unreliable: 2 of 4** (load, spread: see the notes)."
    assert "**Unreliable" not in report[report.index("### full-check"):][:300]
    assert "### paired" not in report  # a pairing's total time is not a benchmark to show
    # others may use half the cores left free by the run's threads, and at least a quarter core
    for others, cores, threads, reliable in [(0.45, 2, 1, True), (0.55, 2, 1, False),
                                             (7.4, 16, 1, True), (0.3, 2, 2, False)]:
        bench = _network("torch", 0.02, others_cpu=others)
        assert trust(bench, Conditions(cores, threads)).reliable is reliable


def test_the_headline_judges_a_paired_figure_on_its_pairs(data: dict[str, Any]) -> None:
    """Too wide a spread for the pairs made, or too few pairs: out; a busy machine: a note."""
    for impl, options in [("loop", {"spread": 0.3}), ("torch", {"others_cpu": 1.6}),
                          ("matmul", {"pairs": 3})]:
        _drop_paired(data, impl)
        data["benchmarks"].append(_paired_network(impl, {"loop": 25.0, "torch": 2.0,
                                                         "matmul": 0.8}[impl], **options))
    data["benchmarks"].append(_paired("batched", "unbatched", "batched", 5.0, spread=0.6,
                                      pairs=41, function="mlp", P=58, m=4))
    headline = build_headline(data)
    # 0.929 · 30% / √11 = 8.4% > 4%
    assert ("- vectorized vs loop (× faster), 64x128x128x10 float64 m=2048: unreliable "
            "(uncertainty ±8.4% (spread 30% over 11 pairs))") in headline
    assert "| ours vs torch autograd (torch time / ours) | 64x128x128x10 float64 m=2048 | 2.00 " \
        "| 1.96–2.04 | ±1.1% | 11 | 1.92 | others used 1.60 of 2 cores |" in headline
    assert "matmul share (floor / whole), 64x128x128x10 float64 m=2048: unreliable (3 pairs: " \
        "spread unknown)" in headline
    # 41 pairs would make 60% precise enough, but so wide a spread is no single speed
    assert "mlp P=58 m=4: unreliable (pairs' spread 60%)" in headline


def test_a_floor_slower_than_the_whole_is_a_fault_never_a_share(data: dict[str, Any]) -> None:
    _replace(data, "test_matmul[64x128x128x10-float64-m2048]", _network("matmul", 0.014))
    _drop_paired(data, "matmul")
    data["benchmarks"].append(_paired_network("matmul", 1.4))
    report = build_report(data)
    assert "140%" not in report
    assert "- matmul share (floor / whole), 64x128x128x10 float64 m=2048: measurement fault" \
        in report
    assert "| 64x128x128x10 | float64 | 2048 | 10 ms | 400 | fault | fault |" in report
    assert "matmul floor slower than the whole: a measurement fault" in report


def test_impossible_values_are_not_printed(data: dict[str, Any]) -> None:
    data["benchmarks"].append(_bench("test_vectorized[8x16x4-float64-m1]",
                                     "network 8x16x4 float64 m=1", 2e-5, bench="network",
                                     impl="vectorized", layers="8x16x4", dtype="float64", m=1,
                                     flops=1_000))
    report = build_report(data)
    assert "| 8x16x4 | float64 | 1 | 20 µs | 0.0500 |" in report  # not "GFLOP/s 0.0"
    assert "| 0 ns |" not in report  # one round: no IQR of zero
    full = report[report.index("### full-check"):]
    full = full[: full.index("\n### ")]
    assert "| `test_torch_full_check[P26122]` | 14 s | – | 14 s | 1 | 70.00 | 536 µs |" in full
    assert "| `test_plain_full_check[P1732]` | 500 ms | – | 500 ms | 1 | 1.00 | 289 µs |" in full
    assert "| 2.50 |" not in full  # no "× fastest" between P = 1732 and P = 26122


def test_groups_and_cases_sort_numerically(data: dict[str, Any]) -> None:
    for m in (4096, 16, 1, 2):
        data["benchmarks"].append(_network("vectorized", 1e-3 * m, m=m))
    report = build_report(data)
    groups = [line for line in report.splitlines() if line.startswith("### network")]
    assert [g.rsplit("=", 1)[1] for g in groups] == ["1", "2", "16", "256", "2048", "4096"]
    ms = [line.split(" | ")[2] for line in report.splitlines()
          if line.startswith("| 64x128x128x10 | float64 |")]
    assert ms == ["1", "2", "16", "256", "2048", "4096"]


def _small(impl: str, median: float, m: int, **options: Any) -> dict[str, Any]:
    return _bench(f"test_{impl}[8x16x4-float64-m{m}]", f"network 8x16x4 float64 m={m}", median,
                  bench="network", impl=impl, layers="8x16x4", dtype="float64", m=m,
                  flops=1000 * m, **options)


def _memory(check: str, P: int, per_coordinate: float) -> dict[str, Any]:
    return _bench(f"test_peak_memory[{check}-P{P}]", "memory", 0.1, rounds=1, spread=0.0,
                  bench="memory", check=check, P=P, bytes_per_coordinate=per_coordinate,
                  copies_of_x=round(per_coordinate / 8, 2))


def test_small_m_puts_ours_beside_bare_numpy_with_the_spread_of_each(
    data: dict[str, Any],
) -> None:
    data["benchmarks"] += [_small("vectorized", 40e-6, 16), _small("bare numpy", 25e-6, 16),
                           _small("vectorized", 30e-6, 1), _small("bare numpy", 25e-6, 1),
                           _small("vectorized", 50e-6, 4)]  # no bare numpy at m=4: no row
    data["benchmarks"] += [
        _paired("network", "bare numpy", "vectorized", 0.8, layers="8x16x4", dtype="float64",
                m=1),
        _paired("network", "bare numpy", "vectorized", 0.625, layers="8x16x4",
                dtype="float64", m=16),
    ]
    report = build_report(data)
    section = report[report.index("## Small m"):report.index("## Checker")]
    # min, median, IQR of ours, then of bare numpy; 30 / 25 and 29.4 / 24.5
    assert ("| 8x16x4 | float64 | 1 | 29.4 µs | 30 µs | 600 ns | 24.5 µs | 25 µs | 500 ns | "
            "1.20 | 1.20 | within |  |") in section
    assert "| 8x16x4 | float64 | 16 | 39.2 µs | 40 µs | 800 ns | 24.5 µs | 25 µs | 500 ns | " \
        "1.60 | 1.60 | **over** |  |" in section
    assert section.index("| 8x16x4 | float64 | 1 |") < section.index("| 8x16x4 | float64 | 16 |")
    assert "| 8x16x4 | float64 | 4 |" not in section
    headline = build_headline(data)  # the headline has the paired figures
    assert ("| small m: bare numpy / ours (target ≥ 1/1.3 = 0.77) | 8x16x4 float64 m=1 | "
            "0.800 | 0.784–0.816 | ±1.1% | 11 |") in headline
    assert "| small m: bare numpy / ours (target ≥ 1/1.3 = 0.77) | 8x16x4 float64 m=16 | " \
        "0.625 |" in headline
    assert "64x128x128x10 float64 m=2048 | 0." not in headline  # no bare numpy there


def test_small_m_marks_an_unreliable_comparison_and_keeps_it_out_of_the_headline(
    data: dict[str, Any],
) -> None:
    data["benchmarks"] += [_small("vectorized", 30e-6, 1),
                           _small("bare numpy", 25e-6, 1, spread=0.4)]
    report = build_report(data)
    assert ("| 8x16x4 | float64 | 1 | (29.4 µs) | (30 µs) | (600 ns) | (15 µs) | (25 µs) | "
            "(10 µs) | (1.20) | (1.96) | (within) | bare: spread 40% |") in report
    assert "- small m: bare numpy / ours (target ≥ 1/1.3 = 0.77), 8x16x4 float64 m=1: " \
        "unreliable (not paired" in build_headline(data)


def test_memory_table_gives_bytes_per_coordinate_against_the_targets(
    data: dict[str, Any],
) -> None:
    assert "## Memory" not in build_report(data)  # no memory benchmark, no table
    data["benchmarks"] += [_memory("check_sampled", 1_000_000, 16.0),
                           _memory("check_gradient", 100_000, 209.3),
                           _memory("taylor_test", 100_000, 30.0),
                           _memory("taylor_test", 1_000_000, 24.4),  # 24 B + 500 kB / 1e6
                           _memory("check_sampled", 100_000, 16.1)]
    report = build_report(data)
    section = report[report.index("## Memory"):report.index("## Plots")]
    assert "| check_gradient | 100000 | 209.3 B | 26.16 | ≤ 100 B | **over** |" in section
    assert "| check_sampled | 100000 | 16.1 B | 2.01 | ≤ 24 B (3 copies) | within |" in section
    assert "| taylor_test | 100000 | 30.0 B | 3.75 | ≤ 24 B (3 copies) | **over** |" in section
    assert "| taylor_test | 1000000 | 24.4 B | 3.05 | ≤ 24 B (3 copies) | within |" in section
    assert section.index("| check_sampled | 100000 |") < section.index(
        "| check_sampled | 1000000 |") < section.index("| taylor_test | 100000 |")
    assert "memory" not in build_headline(data).lower()


def test_compare_puts_each_benchmark_beside_the_earlier_run(data: dict[str, Any]) -> None:
    old = copy.deepcopy(data)
    _replace(data, "test_loop[64x128x128x10-float64-m2048]", _network("loop", 0.5))
    _replace(data, "test_torch[64x128x128x10-float64-m2048]", _network("torch", 0.01, spread=0.5))
    data["benchmarks"] = [b for b in data["benchmarks"] if b["name"]
                          != "test_matmul[64x128x128x10-float64-m2048]"]
    data["benchmarks"].append(_network("vectorized", 0.03, m=4096))
    data["machine_info"]["gradcheck_bench"]["numpy"] = "2.5.0"
    # the headline compares the paired figures: loop doubles, torch halves with a wide spread,
    # the matmul share moves by 10%, the rest stays
    for impl in ("loop", "torch", "matmul"):
        _drop_paired(data, impl)
    data["benchmarks"] += [_paired_network("loop", 50.0), _paired_network("matmul", 0.88),
                           _paired_network("torch", 1.0, spread=0.5)]
    report = build_report(data, earlier=old)
    section = report[report.index("## Compared with an earlier run"):]
    assert "numpy: 2.4.6 → 2.5.0" in section
    assert "4 of 6 headline figures agree within 15%; of the 5 reliable in both runs, 4 agree." \
        in section
    assert "| vectorized vs loop (× faster) | 64x128x128x10 float64 m=2048 | 25 | 50 | +100% | " \
        "differ |" in section
    assert "| ours vs torch autograd (torch time / ours) | 64x128x128x10 float64 m=2048 | 2 | 1 " \
        "| -50% | differ (unreliable) |" in section
    assert "| matmul share (floor / whole) | 64x128x128x10 float64 m=2048 | 0.8 | 0.88 | +10% | " \
        "agree |" in section
    assert "| batched vs unbatched (× faster) | mlp P=58 m=16 | 10 | 10 | +0% | agree |" in section
    assert "| + | 250 ms | 500 ms | 2.00 |  | benchmarks/x.py::test_loop[" in section
    assert "| ~ | 20 ms | 10 ms | 0.50 | spread 50% | benchmarks/x.py::test_torch[" in section
    assert "|  | 8 ms | – | – | removed | benchmarks/x.py::test_matmul[" in section
    assert "|  | – | 30 ms | – | added | benchmarks/x.py::test_vectorized[64x128x128x10-float64" \
        "-m4096]" in section
    assert "|  | 10 ms | 10 ms | 1.00 |  | benchmarks/x.py::test_vectorized[64x128x128x10-" \
        "float64-m2048]" in section
    assert "pair[" not in section  # a pairing's total time is compared as its figure only


def test_peer_checkers_on_corpora_get_a_table_of_their_own(data: dict[str, Any]) -> None:
    data["benchmarks"] += [
        _bench("test_corpus[gradcheck]", "corpus-peers", 2.0, checker="gradcheck",
               false_alarms=0, caught=48, planted=50),
        _bench("test_corpus[torch.gradcheck]", "corpus-peers", 5.0, checker="torch.gradcheck",
               false_alarms=7, caught=41, planted=50, others_cpu=1.9),
        _bench("test_jacobians[jax]", "jacobian-peers", 0.3, impl="jax", false_alarms=1,
               caught=9, planted=10),
    ]
    headline = build_headline(data)
    section = headline[headline.index("## Checkers on corpora"):]
    assert "| corpus-peers | gradcheck | 0 | 48/50 | 2 s |" in section
    assert "| corpus-peers | torch.gradcheck | 7 | 41/50 | unreliable | load: others used 1.90" \
        in section
    assert "| jacobian-peers | jax | 1 | 9/10 | 300 ms |" in section
    assert section.index("corpus-peers") < section.index("jacobian-peers")
    assert "## Checkers on corpora" not in build_headline(
        {**data, "benchmarks": data["benchmarks"][:-3]})


def test_write_report_without_matplotlib_says_plots_were_skipped(
    data: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    monkeypatch.delitem(sys.modules, "benchmarks._plots", raising=False)
    report = write_report(saved, tmp_path / "out")
    text = report.read_text(encoding="utf-8")
    assert "Plots skipped: matplotlib is not importable" in text
    assert "| 64x128x128x10 | float64 | 2048 |" in text
    assert not list((tmp_path / "out").glob("*.png"))
    headline = (tmp_path / "out" / "headline.md").read_text(encoding="utf-8")
    assert headline == build_headline(data) and "## Headline" in headline


def test_main_writes_the_report_and_the_plots(data: dict[str, Any], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(data), encoding="utf-8")
    assert main([str(saved), "-o", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    names = ("network_time_vs_batch.png", "network_ratios.png", "checker_time_vs_P.png",
             "checker_ratios.png")
    for name in names:
        assert f"![{name}]({name})" in text
        assert (tmp_path / "out" / name).stat().st_size > 0


def test_plot_styles_are_fixed_per_implementation() -> None:
    plots = pytest.importorskip("benchmarks._plots")
    assert plots.style("matmul")["linestyle"] == "--"
    assert plots.style("torch") == plots.style("torch")
    assert plots.style("vectorized")["color"] != plots.style("torch")["color"]
    assert plots.style("some-new-peer") == plots.style("some-new-peer")  # stable across runs


def test_main_rejects_a_missing_file(
    data: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([str(tmp_path / "missing.json")])
    assert "`json` is" in capsys.readouterr().err
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SystemExit):
        main([str(saved), "--compare", str(tmp_path / "old.json")])
    error = capsys.readouterr().err
    assert "`compare` is" in error and "old.json', which is not a file" in error


def test_machine_info_is_stable_between_runs() -> None:
    """What `--benchmark-compare` compares must not change from one call to the next."""
    conftest = pytest.importorskip("benchmarks.conftest")
    infos = []
    for clock in ("2.1 GHz", "2.9 GHz"):
        machine = {"cpu": {"brand_raw": "Test CPU", "hz_actual_friendly": clock}}
        conftest.pytest_benchmark_update_machine_info(None, machine)
        infos.append(machine)
    assert infos[0] == infos[1]
    assert infos[0]["cpu"] == {"brand_raw": "Test CPU"}
    pools = infos[0]["gradcheck_bench"]["blas"]
    assert pools == sorted(pools, key=lambda pool: [str(value) for value in pool.values()])


def test_paired_ratio_has_the_quartiles_of_the_per_pair_ratios() -> None:
    # ratios 1, 2, ..., 9: quartiles 3 and 7 (inclusive method), median 5
    num, den = [0.01 * r for r in range(1, 10)], [0.01] * 9
    ratio = PairedRatio.of(num, den)
    assert (ratio.q1, ratio.median, ratio.q3, ratio.pairs) == pytest.approx((3, 5, 7, 9))
    assert ratio.spread == pytest.approx(0.8)
    assert ratio.uncertainty == pytest.approx(1.2533 / 1.349 * 0.8 / 3, rel=1e-4)
    assert ratio.minimum == pytest.approx(1.0)  # fastest num over fastest den
    assert PairedRatio.of([0.03], [0.01]).spread == 0.0  # one pair: no spread, and no error
    with pytest.raises(ValueError, match=r"`num` and `den` need the same number \(≥ 1\) of "
                                         r"pairs; got 2 and 3"):
        PairedRatio.of([1.0, 2.0], [1.0, 1.0, 1.0])


class _DriftingMachine:
    """A fake CPU-time clock whose speed drifts: a call costs ``cost`` × the current slowness.

    The slowness doubles over ``period`` seconds, then falls back, as the VM's did between the
    minutes of one benchmark run.
    """

    def __init__(self, period: float) -> None:
        self.now, self.period, self.log = 0.0, period, []

    def timer(self) -> float:
        return self.now

    def work(self, name: str, cost: float) -> Callable[[], str]:
        def call() -> str:
            self.log.append(name)
            self.now += cost * (1.0 + (self.now / self.period) % 1.0)
            return name
        return call


def test_pairs_divide_out_a_drift_that_wrecks_a_ratio_of_medians() -> None:
    machine = _DriftingMachine(period=10.0)
    ours, theirs = machine.work("ours", 0.001), machine.work("theirs", 0.003)
    plan = PairPlan(min_pairs=9, max_pairs=50, block_seconds=0.02, budget_seconds=1.0)
    pairs = time_pairs(theirs, ours, plan=plan, timer=machine.timer)
    ratio = PairedRatio.of(pairs.num, pairs.den)
    assert ratio.median == pytest.approx(3.0, rel=0.01)  # the true ratio, drift or not
    assert paired_trust([{"extra_info": pairs.extra_info()}], Conditions(2, 1)).reliable
    assert pairs.results == ("theirs", "ours")
    # blocks of 20 ms: 7 calls of theirs (3 ms each), 20 of ours (after one call each to size)
    assert pairs.calls == (7, 20)
    assert plan.min_pairs <= ratio.pairs < plan.max_pairs
    # odd pairs start with the other side: theirs, ours, ours, theirs, theirs, ours ...
    blocks = [name for i, name in enumerate(machine.log[2:]) if i == 0 or
              name != machine.log[2:][i - 1]]
    assert blocks[:5] == ["theirs", "ours", "theirs", "ours", "theirs"]
    assert machine.log[2:9] == ["theirs"] * 7 and machine.log[9:49] == ["ours"] * 40
    # the same calls timed a second apart, as two benchmarks are: off by the drift
    early = time_pairs(theirs, theirs, plan=plan, timer=machine.timer).num
    machine.now += 4.0
    late = time_pairs(ours, ours, plan=plan, timer=machine.timer).num
    assert statistics.median(early) / statistics.median(late) < 2.5


def test_pairing_stops_between_its_bounds() -> None:
    machine = _DriftingMachine(period=1e9)
    slow, fast = machine.work("slow", 0.5), machine.work("fast", 1e-4)
    few = PairPlan(min_pairs=3, max_pairs=10, block_seconds=0.0, budget_seconds=0.1)
    assert len(time_pairs(slow, fast, plan=few, timer=machine.timer).num) == 3
    assert len(time_pairs(fast, fast, plan=few, timer=machine.timer).num) == 10
    one = time_pairs(slow, fast, plan=SMOKE, timer=machine.timer)
    assert (len(one.num), one.calls) == (1, (1, 1))
    # the fast side's block lasts a quarter of the slow call (125 ms), not just 10 ms
    balanced = PairPlan(min_pairs=1, max_pairs=1, block_seconds=0.01, budget_seconds=0.0)
    assert time_pairs(slow, fast, plan=balanced, timer=machine.timer).calls == (1, 1250)


@pytest.mark.parametrize(("spread", "pairs", "others", "problem", "note"), [
    (0.10, 11, None, "", ""),
    (0.20, 11, None, "uncertainty ±5.6% (spread 20% over 11 pairs)", ""),
    (0.20, 31, None, "", ""),  # more pairs pin the median down
    (0.60, 61, None, "pairs' spread 60%", ""),
    (0.02, 4, None, "4 pairs: spread unknown", ""),
    (0.02, 11, 1.6, "", "others used 1.60 of 2 cores"),  # both sides slowed alike: a note
])
def test_a_paired_figure_is_judged_on_its_uncertainty(
    spread: float, pairs: int, others: float | None, problem: str, note: str
) -> None:
    options = {} if others is None else {"others_cpu": others}
    bench = _paired("network", "torch", "vectorized", 2.0, spread=spread, pairs=pairs,
                    **options)
    verdict = paired_trust([bench], Conditions(2, 1))
    assert verdict.problems == ((problem,) if problem else ())
    assert verdict.notes == ((note,) if note else ())


def test_a_plan_splits_its_pairs_and_budget_between_visits() -> None:
    plan = PairPlan(min_pairs=7, max_pairs=61, block_seconds=0.05, budget_seconds=4.0)
    assert plan.per_visit(4) == PairPlan(min_pairs=2, max_pairs=16, block_seconds=0.05,
                                         budget_seconds=1.0)
    assert plan.per_visit(1) == plan
    with pytest.raises(ValueError, match=r"`visits` must be at least 1; got 0"):
        plan.per_visit(0)


def _visits(ratios: list[float], pairs: int = 11) -> list[dict[str, Any]]:
    """One paired benchmark per visit of the torch network figure, each at its own ratio."""
    return [_paired_network("torch", ratio, pairs=pairs, spread=0.02, visit=k)
            for k, ratio in enumerate(ratios)]


def test_the_visits_of_a_figure_are_pooled() -> None:
    ratio = PairedRatio.pooled(_visits([2.0, 2.0, 2.2, 2.2]))
    assert ratio.pairs == 44
    assert ratio.visit_medians == pytest.approx((2.0, 2.0, 2.2, 2.2))
    assert 2.0 < ratio.median < 2.2
    # visits apart by 10%: the mean of four is known to ±1.2% of 2.1, more than the pairs say
    expected = statistics.stdev([2.0, 2.0, 2.2, 2.2]) / 2 / ratio.median
    assert ratio.visits_uncertainty == pytest.approx(expected)
    assert ratio.uncertainty == ratio.visits_uncertainty > ratio.pairs_uncertainty
    assert PairedRatio.pooled(_visits([2.0])).visit_medians == ()
    with pytest.raises(ValueError, match="`benches` needs at least one visit"):
        PairedRatio.pooled([])


def test_visits_that_disagree_keep_a_figure_out_of_the_headline(data: dict[str, Any]) -> None:
    _drop_paired(data, "torch")
    data["benchmarks"] += _visits([1.6, 2.0, 2.4, 2.0])
    headline = build_headline(data)
    # stdev 0.327 / √4 / 2.0 = 8.2%
    assert ("ours vs torch autograd (torch time / ours), 64x128x128x10 float64 m=2048: "
            "unreliable (uncertainty ±8.2% (its 4 visits gave 1.60 to 2.40))") in headline
    _drop_paired(data, "torch")
    data["benchmarks"] += _visits([2.0, 2.04, 1.98, 2.02])
    headline = build_headline(data)
    assert "| ours vs torch autograd (torch time / ours) | 64x128x128x10 float64 m=2048 | " \
        "2.01 |" in headline
    assert "| 44 |" in headline  # one row of the four visits' pairs


def test_the_run_puts_each_visit_in_a_process_of_its_own_spread_over_the_others() -> None:
    run = pytest.importorskip("benchmarks.run")
    paired = "benchmarks/test_bench_paired.py::test_network_pair"
    visits = [f"{paired}[{figure}-visit{k}]" for k in range(2) for figure in "ab"]
    others = [f"benchmarks/test_network.py::test_x[o{i}]" for i in range(5)]
    assert run.plan_parts(others[:2] + visits + others[2:]) == [
        visits[:2], others[:2], visits[2:], others[2:]]  # 5 others: 2 after visit 0, 3 after 1
    assert run.plan_parts(others) == [others]
    assert run.plan_parts(visits[:2]) == [visits[:2]]
    assert run.plan_parts([]) == []


def test_the_run_merges_its_parts_into_one_json() -> None:
    run = pytest.importorskip("benchmarks.run")
    first = {"machine_info": {"node": "vm"}, "benchmarks": [{"name": "a"}],
             "conditions": {"load_before": [0.1], "load_after": [0.2], "timer": "t"}}
    last = {"machine_info": {"node": "other"}, "benchmarks": [{"name": "b"}, {"name": "c"}],
            "conditions": {"load_before": [0.3], "load_after": [0.9], "timer": "t"}}
    merged = run.merge([first, last])
    assert [b["name"] for b in merged["benchmarks"]] == ["a", "b", "c"]
    assert merged["machine_info"] == {"node": "vm"}
    assert merged["conditions"] == {"load_before": [0.1], "load_after": [0.9], "timer": "t",
                                    "processes": 2}
    assert first["benchmarks"] == [{"name": "a"}]  # the parts are left as they were
    with pytest.raises(ValueError, match="`parts` needs at least one saved JSON"):
        run.merge([])


def test_agreement_counts_figures_within_15_percent_and_the_reliable_ones() -> None:
    rows = [["f", "a", "1", "1.1", "+10%", "agree"], ["f", "b", "1", "1.2", "+20%", "differ"],
            ["f", "c", "1", "1.0", "+0%", "agree (unreliable)"],
            ["f", "d", "1", "2.0", "+100%", "differ (unreliable)"]]
    assert agreement(rows) == ("2 of 4 headline figures agree within 15%; of the 2 reliable in "
                               "both runs, 1 agree.")
