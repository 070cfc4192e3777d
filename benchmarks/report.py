"""Turn a saved pytest-benchmark JSON into a Markdown report, with plots when matplotlib is here.

Usage::

    python -m benchmarks.report SAVED.json [-o DIR] [--compare EARLIER.json]

writes ``DIR/report.md`` (default DIR: ``bench-report``), ``DIR/headline.md`` (the conditions
and the headline alone: what the README quotes) and, when matplotlib is importable, the plots
beside them. The report has the machine and the conditions of the run (threads, timer, load
before and after), the headline ratios (each timed as a ratio by ``benchmarks/
test_bench_paired.py``, with the quartiles of its per-pair ratios and the uncertainty of their
median), the network table, the small-m comparison with bare numpy (min, median, IQR), the
checker and batched tables, the memory table (bytes per coordinate), the peer checkers on
corpora, one table per benchmark group, and with ``--compare`` each headline figure and each
benchmark beside the earlier run, with how many headline figures agree within 15%. A figure
whose pairs are too few or too spread is marked and left out of the headline, as is a ratio
of two benchmarks timed apart; a share above 100% is a measurement fault, never a result.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._compare import compare_section
from benchmarks._headline import corpora_section, headline_section
from benchmarks._sections import (
    batched_section,
    checker_section,
    group_sections,
    network_rows,
    network_section,
)
from benchmarks._stats import Conditions, format_seconds, table
from benchmarks._targets import bare_numpy_section, memory_section

__all__ = [
    "build_headline",
    "build_report",
    "format_seconds",
    "main",
    "network_rows",
    "write_report",
]


def _blas(extra: dict[str, Any]) -> str:
    pools = [
        f"{pool.get('prefix') or pool.get('internal_api')} {pool.get('version') or ''} "
        f"({pool.get('num_threads')} threads)".replace("  ", " ")
        for pool in extra.get("blas", [])
    ]
    return "; ".join(pools) or "unknown"


def _load(values: Sequence[float] | None) -> str:
    return " / ".join(f"{v:.2f}" for v in values) if values else "not recorded"


def _machine_section(data: dict[str, Any]) -> list[str]:
    machine, commit = data.get("machine_info", {}), data.get("commit_info", {})
    extra = machine.get("gradcheck_bench", {})
    conditions = data.get("conditions") or {}
    cpu = extra.get("cpu_model") or machine.get("cpu", {}).get("brand_raw") or "unknown"
    timers = sorted({str(b.get("options", {}).get("timer")) for b in data.get("benchmarks", [])})
    threads = ", ".join(f"{k}={v}" for k, v in extra.get("thread_env", {}).items() if v)
    torch = extra.get("torch")
    dirty = ", dirty" if commit.get("dirty") else ""
    rows = [
        ["date", str(data.get("datetime", "unknown"))],
        ["commit", f"{commit.get('id', 'unknown')} ({commit.get('branch', '?')}{dirty})"],
        ["CPU", f"{cpu}, {extra.get('cpu_count', '?')} logical cores"],
        ["python", f"{machine.get('python_implementation', '')} "
                   f"{machine.get('python_version', 'unknown')}".strip()],
        ["numpy", str(extra.get("numpy", "unknown"))],
        ["BLAS", _blas(extra)],
        ["scipy", str(extra.get("scipy") or "not installed")],
        ["torch", f"{torch} ({extra.get('torch_threads')} threads)" if torch
         else "not installed"],
        ["thread variables", threads or "none set"],
        ["timer", conditions.get("timer") or ", ".join(timers) or "unknown"],
        ["load average (1/5/15 min) before", _load(conditions.get("load_before"))],
        ["load average (1/5/15 min) after", _load(conditions.get("load_after"))],
        ["mode", "quick (BENCH_QUICK)" if conditions.get("quick") else "full"],
    ]
    return ["## Machine and conditions", "", *table(["", ""], rows), ""]


def _benches(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in data.get("benchmarks", []) if b.get("stats")]


def build_headline(data: dict[str, Any]) -> str:
    """The machine, the conditions and the headline: the part of the report the README mirrors."""
    benches, conditions = _benches(data), Conditions.of(data)
    lines = ["# gradcheck benchmarks: headline", "", *_machine_section(data)]
    lines += headline_section(benches, conditions) + corpora_section(benches, conditions)
    return "\n".join(lines).rstrip() + "\n"


def build_report(
    data: dict[str, Any],
    plots: Sequence[str] = (),
    plot_note: str = "",
    earlier: dict[str, Any] | None = None,
) -> str:
    """The Markdown report of a loaded pytest-benchmark JSON; ``plots`` are PNG file names.

    ``earlier``, a loaded JSON of an earlier run, adds a section comparing the two.
    """
    benches, conditions = _benches(data), Conditions.of(data)
    lines = ["# gradcheck benchmarks", "", *_machine_section(data)]
    lines += headline_section(benches, conditions) + corpora_section(benches, conditions)
    if earlier is not None:
        lines += compare_section(data, earlier)
    lines += network_section(benches, conditions) + bare_numpy_section(benches, conditions)
    lines += checker_section(benches, conditions) + batched_section(benches, conditions)
    lines += memory_section(benches, conditions)
    lines += ["## Plots", ""]
    lines += [f"![{name}]({name})" for name in plots] or [plot_note or "No plots."]
    lines += ["", *group_sections(benches, conditions)]
    return "\n".join(lines).rstrip() + "\n"


def _load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_report(json_path: Path, out_dir: Path, earlier: Path | None = None) -> Path:
    """Read ``json_path``, write ``report.md``, ``headline.md`` and the plots into ``out_dir``.

    Returns the path of ``report.md``. ``earlier`` is a saved JSON to compare with.
    """
    data = _load_json(json_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        from benchmarks._plots import write_plots

        plots, note = write_plots(_benches(data), out_dir, Conditions.of(data)), ""
    except ImportError as error:
        plots, note = [], f"Plots skipped: matplotlib is not importable ({error})."
    old = None if earlier is None else _load_json(earlier)
    report = out_dir / "report.md"
    report.write_text(build_report(data, plots, note, old), encoding="utf-8")
    (out_dir / "headline.md").write_text(build_headline(data), encoding="utf-8")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m benchmarks.report SAVED.json [-o DIR] [--compare OLD]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", type=Path, help="a JSON file saved by pytest-benchmark")
    parser.add_argument("-o", "--output", type=Path, default=Path("bench-report"),
                        help="the directory for report.md and the plots (default: bench-report)")
    parser.add_argument("--compare", type=Path, default=None, metavar="EARLIER",
                        help="a JSON of an earlier run to put beside this one")
    args = parser.parse_args(argv)
    for name, path in (("json", args.json), ("compare", args.compare)):
        if path is not None and not path.is_file():
            parser.error(f"`{name}` is {str(path)!r}, which is not a file")
    print(write_report(args.json, args.output, args.compare))
    return 0


if __name__ == "__main__":
    sys.exit(main())
