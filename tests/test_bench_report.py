"""The benchmark report builder on a small synthetic pytest-benchmark JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.report import build_report, format_seconds, main, network_rows, write_report


def _bench(name: str, group: str, median: float, **extra: Any) -> dict[str, Any]:
    stats = {"median": median, "iqr": median / 10, "rounds": 7, "min": median, "mean": median}
    return {
        "name": name,
        "group": group,
        "extra_info": extra,
        "options": {"timer": "perf_counter"},
        "stats": stats,
    }


def _network(impl: str, median: float, m: int = 2048) -> dict[str, Any]:
    return _bench(
        f"test_{impl}[64x128x128x10-float64-m{m}]",
        f"network 64x128x128x10 float64 m={m}",
        median,
        bench="network",
        impl=impl,
        layers="64x128x128x10",
        dtype="float64",
        m=m,
        flops=4_000_000_000,
    )


def _checker(impl: str, method: str, median: float, P: int = 808) -> dict[str, Any]:
    return _bench(
        f"test_{impl}[{method}-P{P}]",
        f"checker P={P}",
        median,
        bench="checker",
        impl=impl,
        method=method,
        P=P,
        evaluations=2 * P,
    )


def _batched(function: str, P: int, m: int | None, path: str, median: float) -> dict[str, Any]:
    return _bench(f"test_seconds_per_parameter[{function} P={P}-{path}]",
                  f"batched {function} P={P}", median,
                  bench="batched", function=function, P=P, m=m, path=path)


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
        ],
    }


def test_format_seconds_picks_a_unit_with_three_digits() -> None:
    assert [format_seconds(s) for s in (2.5, 0.0123, 4.56e-5, 7e-9)] == [
        "2.5 s",
        "12.3 ms",
        "45.6 µs",
        "7 ns",
    ]


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


def test_report_has_the_machine_the_ratios_and_a_table_per_group(data: dict[str, Any]) -> None:
    report = build_report(data)
    assert "| CPU | Test CPU 9000, 2 logical cores |" in report
    assert "openblas 0.3.31 (1 threads); libscipy_openblas 0.3.30 (1 threads)" in report
    assert "| torch | not installed |" in report
    row = "| 64x128x128x10 | float64 | 2048 | 10 ms | 400.0 | 500.0 | 80% | 25.0 | 20 ms | 2.00 |"
    assert row in report
    peer = "| 808 | torch.gradcheck | central | 1.5 s | 1616 | 1.08e+03 | 1.86 ms | 3.00 |"
    assert peer in report
    assert "### network 64x128x128x10 float64 m=2048" in report
    loop = "| `test_loop[64x128x128x10-float64-m2048]` | 250 ms | 25 ms | 7 | 31.25 |"
    assert loop in report  # 250 ms / 8 ms: the matrix products are the fastest
    assert "| mlp | 58 | 16 | 34.5 µs | 10.00 | – | – |" in report  # 2 ms / 58; 2 ms / 0.2 ms
    assert "| mlp | 58 | 4 | – | – | – | – |" in report  # no unbatched run: no ratio
    assert "| rosenbrock | 50 | – | 20 µs | – | – | 2.50 |" in report
    assert report.index("| mlp | 58 | 4 |") < report.index("| mlp | 58 | 16 |")
    assert report.count("### ") == 6
    assert report.index("| 808 | check_gradient |") < report.index("| 9344 | scipy.check_grad |")


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


def test_main_writes_the_report_and_the_plots(data: dict[str, Any], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(data), encoding="utf-8")
    assert main([str(saved), "-o", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "![network_time_vs_batch.png](network_time_vs_batch.png)" in text
    assert (tmp_path / "out" / "network_time_vs_batch.png").stat().st_size > 0
    assert (tmp_path / "out" / "checker_time_vs_P.png").stat().st_size > 0


def test_main_rejects_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([str(tmp_path / "missing.json")])
    assert "is not a file" in capsys.readouterr().err
