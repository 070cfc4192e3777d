"""Turn a saved pytest-benchmark JSON into a Markdown report, with plots when matplotlib is here.

Usage::

    python -m benchmarks.report SAVED.json [-o DIR]

writes ``DIR/report.md`` (default DIR: ``bench-report``) and, when matplotlib is importable,
``DIR/network_time_vs_batch.png`` and ``DIR/checker_time_vs_P.png`` beside it. The report has
the machine and library versions, the ratios that matter (vectorized vs loop, fraction of the
matrix-product rate, ours vs PyTorch, the checker vs SciPy and PyTorch, batched vs one call
per point) and one table per
benchmark group with medians, interquartile ranges and rounds.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["build_report", "format_seconds", "main", "network_rows", "write_report"]

Bench = dict[str, Any]


def format_seconds(seconds: float) -> str:
    """A duration with a unit that keeps 3 significant digits: "12.3 ms"."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _ratio(numerator: float | None, denominator: float | None, fmt: str = ".2f") -> str:
    """numerator / denominator formatted, or "–" when either is missing."""
    if numerator is None or not denominator:
        return "–"
    return f"{numerator / denominator:{fmt}}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table; numeric columns are right-aligned."""
    align = ["---:" if i else ":---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _median(bench: Bench | None) -> float | None:
    return None if bench is None else float(bench["stats"]["median"])


def _index(benches: Sequence[Bench], kind: str, *keys: str) -> dict[tuple[Any, ...], Bench]:
    """Benchmarks whose extra_info has ``bench == kind``, by the extra_info values of ``keys``."""
    found = {}
    for bench in benches:
        info = bench.get("extra_info", {})
        if info.get("bench") == kind:
            found[tuple(info.get(key) for key in keys)] = bench
    return found


def network_rows(benches: Sequence[Bench]) -> list[dict[str, Any]]:
    """Per network case (layers, dtype, m) the medians of each implementation and the ratios.

    Keys: layers, dtype, m, flops, vectorized, matmul, loop, torch (medians in seconds or None),
    gflops (achieved by the vectorized version), matmul_gflops, matmul_fraction (matmul time
    over vectorized time), loop_ratio (loop / vectorized), torch_ratio (torch / vectorized).
    """
    found = _index(benches, "network", "layers", "dtype", "m", "impl")
    cases = sorted({key[:3] for key in found}, key=lambda c: (len(str(c[0])), c[0], c[1], c[2]))
    rows = []
    for case in cases:
        row: dict[str, Any] = dict(zip(("layers", "dtype", "m"), case, strict=True))
        for impl in ("vectorized", "matmul", "loop", "torch"):
            row[impl] = _median(found.get((*case, impl)))
        some = next(found[key] for key in found if key[:3] == case)
        row["flops"] = flops = some["extra_info"].get("flops")
        ours = row["vectorized"]
        row["gflops"] = flops / ours / 1e9 if ours and flops else None
        row["matmul_gflops"] = flops / row["matmul"] / 1e9 if row["matmul"] and flops else None
        row["matmul_fraction"] = row["matmul"] / ours if ours and row["matmul"] else None
        row["loop_ratio"] = row["loop"] / ours if ours and row["loop"] else None
        row["torch_ratio"] = row["torch"] / ours if ours and row["torch"] else None
        rows.append(row)
    return rows


def _maybe(value: float | None, fmt: str) -> str:
    return "–" if value is None else f"{value:{fmt}}"


def _network_section(benches: Sequence[Bench]) -> list[str]:
    rows = network_rows(benches)
    if not rows:
        return []
    header = [
        "layers",
        "dtype",
        "m",
        "vectorized",
        "GFLOP/s",
        "matmul GFLOP/s",
        "fraction of matmul rate",
        "loop / vectorized",
        "torch",
        "torch / vectorized",
    ]
    body = [
        [
            str(row["layers"]),
            str(row["dtype"]),
            str(row["m"]),
            "–" if row["vectorized"] is None else format_seconds(row["vectorized"]),
            _maybe(row["gflops"], ".1f"),
            _maybe(row["matmul_gflops"], ".1f"),
            _maybe(row["matmul_fraction"], ".0%"),
            _maybe(row["loop_ratio"], ".1f"),
            "–" if row["torch"] is None else format_seconds(row["torch"]),
            _maybe(row["torch_ratio"], ".2f"),
        ]
        for row in rows
    ]
    return [
        "## Network: cost and gradient",
        "",
        "Medians. *GFLOP/s* counts the matrix products only (2·m·s_l·s_{l+1} per product: one "
        "forward and two backward per layer, one backward at the first layer). *Fraction of "
        "matmul rate*: numpy doing those products alone, over the whole cost and gradient. "
        "Ratios above 1 mean the vectorized version is faster.",
        "",
        *_table(header, body),
        "",
    ]


def _checker_section(benches: Sequence[Bench]) -> list[str]:
    found = _index(benches, "checker", "P", "impl", "method")
    if not found:
        return []
    ours = {(k[0], k[2]): b for k, b in found.items() if k[1] == "check_gradient"}
    body = []
    for (P, impl, method), bench in sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][1:])):
        info, median = bench["extra_info"], float(bench["stats"]["median"])
        evaluations = info.get("evaluations")
        peer = (
            ""
            if impl in ("check_gradient", "numerical_gradient")
            else _ratio(median, _median(ours.get((P, method))))
        )
        body.append(
            [
                str(P),
                impl,
                method,
                format_seconds(median),
                str(evaluations or "–"),
                _ratio(evaluations, median, ".3g"),
                format_seconds(median / P),
                peer,
            ]
        )
    header = [
        "P",
        "implementation",
        "method",
        "median",
        "evaluations",
        "evaluations/s",
        "seconds per parameter",
        "peer / check_gradient",
    ]
    return [
        "## Checker",
        "",
        "One call per row on J(θ) of an MLP; *peer / check_gradient* compares each peer with our "
        "`check_gradient` of the same method (SciPy's `check_grad` uses forward differences, "
        "`torch.autograd.gradcheck` central ones); above 1 means ours is faster.",
        "",
        *_table(header, body),
        "",
    ]


def _batched_section(benches: Sequence[Bench]) -> list[str]:
    found = _index(benches, "batched", "function", "P", "m", "path")
    if not found:
        return []
    cases = sorted({key[:3] for key in found}, key=lambda k: (k[0], k[1], k[2] or 0))
    body = []
    for function, P, m in cases:
        medians = {path: _median(found.get((function, P, m, path)))
                   for path in ("unbatched", "batched", "threads", "threads+batched")}
        unbatched = medians["unbatched"]
        body.append([
            function, str(P), "–" if m is None else str(m),
            "–" if unbatched is None else format_seconds(unbatched / P),
            *(_ratio(unbatched, medians[path]) for path in
              ("batched", "threads", "threads+batched")),
        ])
    header = ["f", "P", "m", "unbatched s/parameter", "batched", "threads", "threads+batched"]
    return [
        "## Batched evaluation",
        "",
        "Central differences by `numerical_gradient` on f of P parameters (the mlp on m "
        "examples). The last three columns divide the unbatched median by that path's median: "
        "above 1, the path is faster than one call of f per point in this thread.",
        "",
        *_table(header, body),
        "",
    ]


def _group_sections(benches: Sequence[Bench]) -> list[str]:
    groups: dict[str, list[Bench]] = {}
    for bench in benches:
        groups.setdefault(str(bench.get("group") or "(no group)"), []).append(bench)
    lines = ["## Every group", ""]
    for group in sorted(groups):
        members = sorted(groups[group], key=lambda b: float(b["stats"]["median"]))
        fastest = float(members[0]["stats"]["median"])
        body = [
            [
                f"`{bench['name']}`",
                format_seconds(float(bench["stats"]["median"])),
                format_seconds(float(bench["stats"]["iqr"])),
                str(bench["stats"]["rounds"]),
                _ratio(float(bench["stats"]["median"]), fastest),
            ]
            for bench in members
        ]
        lines += [f"### {group}", ""]
        lines += [*_table(["benchmark", "median", "IQR", "rounds", "× fastest"], body), ""]
    return lines


def _machine_section(data: dict[str, Any]) -> list[str]:
    machine, commit = data.get("machine_info", {}), data.get("commit_info", {})
    extra = machine.get("gradcheck_bench", {})
    cpu = extra.get("cpu_model") or machine.get("cpu", {}).get("brand_raw") or "unknown"
    blas = (
        "; ".join(
            f"{pool.get('prefix') or pool.get('internal_api')} {pool.get('version')} "
            f"({pool.get('num_threads')} threads)"
            for pool in extra.get("blas", [])
        )
        or "unknown"
    )
    timers = sorted({str(b.get("options", {}).get("timer")) for b in data.get("benchmarks", [])})
    threads = ", ".join(f"{k}={v}" for k, v in extra.get("thread_env", {}).items() if v)
    rows = [
        ["date", str(data.get("datetime", "unknown"))],
        [
            "commit",
            f"{commit.get('id', 'unknown')} ({commit.get('branch', '?')}"
            f"{', dirty' if commit.get('dirty') else ''})",
        ],
        ["CPU", f"{cpu}, {extra.get('cpu_count', '?')} logical cores"],
        [
            "python",
            f"{machine.get('python_implementation', '')} "
            f"{machine.get('python_version', 'unknown')}".strip(),
        ],
        ["numpy", str(extra.get("numpy", "unknown"))],
        ["BLAS", blas],
        ["scipy", str(extra.get("scipy") or "not installed")],
        [
            "torch",
            "not installed"
            if not extra.get("torch")
            else f"{extra['torch']} ({extra.get('torch_threads')} threads)",
        ],
        ["thread variables", threads or "none set"],
        ["timer", str(timers[0] if len(timers) == 1 else ", ".join(timers) or "unknown")],
    ]
    return ["## Machine", "", *_table(["", ""], rows), ""]


def build_report(data: dict[str, Any], plots: Sequence[str] = (), plot_note: str = "") -> str:
    """The Markdown report of a loaded pytest-benchmark JSON; ``plots`` are PNG file names."""
    benches = [b for b in data.get("benchmarks", []) if b.get("stats")]
    lines = ["# gradcheck benchmarks", ""]
    lines += _machine_section(data) + _network_section(benches) + _checker_section(benches)
    lines += _batched_section(benches)
    lines += ["## Plots", ""]
    lines += [f"![{name}]({name})" for name in plots] or [plot_note or "No plots."]
    lines += ["", *_group_sections(benches)]
    return "\n".join(lines).rstrip() + "\n"


def write_report(json_path: Path, out_dir: Path) -> Path:
    """Read ``json_path``, write ``out_dir/report.md`` and the plots; return the report's path."""
    data = json.loads(json_path.read_text(encoding="utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    benches = [b for b in data.get("benchmarks", []) if b.get("stats")]
    try:
        from benchmarks._plots import write_plots

        plots, note = write_plots(benches, out_dir), ""
    except ImportError as error:
        plots, note = [], f"Plots skipped: matplotlib is not importable ({error})."
    report = out_dir / "report.md"
    report.write_text(build_report(data, plots, note), encoding="utf-8")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m benchmarks.report SAVED.json [-o DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument("json", type=Path, help="a JSON file saved by pytest-benchmark")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("bench-report"),
        help="the directory for report.md and the plots (default: bench-report)",
    )
    args = parser.parse_args(argv)
    if not args.json.is_file():
        parser.error(f"`json` is {str(args.json)!r}, which is not a file")
    print(write_report(args.json, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
