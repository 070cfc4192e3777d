"""Run the benchmarks as ``tox -e bench`` does: each visit of the paired figures in a process of
its own, spread over the run, and one JSON for the report.

Usage::

    python -m benchmarks.run --json bench-report/benchmarks.json [PYTEST ARGS ...]

runs pytest (``--benchmark-enable`` added) once per visit of the paired benchmarks
(``benchmarks/test_bench_paired.py``, ``-visitN`` in their ids), with a quarter of the other
benchmarks after each, then merges the parts' JSON files into ``--json``. Visit k thus runs
k/4 of the way through the run, in a fresh process.

Why processes: in two back-to-back runs (2026-12-02, one process each, the visits minutes
apart), the loop/vectorized ratio of 8x16x4 at m = 2048 read 142–169 in the four visits of the
first run and 112–126 in the four of the second: a bias that held for a whole run. Timed in six
fresh processes, one visit each, the same figure read 125 to 160. A figure pooled over visits
that each ran in a process of their own averages such a bias down, and the spread of its
visits' medians, which the report's uncertainty takes in (`benchmarks._paired`), shows it.

Extra arguments go to every part (``-k``, ``--benchmark-timer=...``); a part in which they
select nothing is skipped. The merged JSON has the first part's machine and commit, every
part's benchmarks, and the run's ``conditions`` with the load before the first part and after
the last.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "merge", "plan_parts"]

PAIRED = "benchmarks/test_bench_paired.py"
_VISIT = re.compile(r"-visit(\d+)\]$")
NO_TESTS = 5
"""pytest's exit status when the arguments select no test."""


def _collect(pytest_args: Sequence[str]) -> list[str]:
    """The node ids pytest would run with these arguments, in its order."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks", "--benchmark-enable", "--collect-only",
         *pytest_args, "--verbosity=-1"],  # after the caller's -q or -v: one node id a line
        capture_output=True, text=True, check=False)
    if done.returncode not in (0, NO_TESTS):
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(done.returncode)
    return [line for line in done.stdout.splitlines() if "::" in line and " " not in line]


def plan_parts(node_ids: Sequence[str]) -> list[list[str]]:
    """The node ids of each part, in order: each visit of the paired benchmarks, followed by
    its share of the others (one part of them all when nothing is timed in visits)."""
    visits: dict[int, list[str]] = {}
    others = []
    for node in node_ids:
        match = _VISIT.search(node) if node.startswith(PAIRED) else None
        if match:
            visits.setdefault(int(match.group(1)), []).append(node)
        else:
            others.append(node)
    count = max(visits, default=-1) + 1
    if not count:
        return [others] if others else []
    parts = []
    for k in range(count):
        parts.append(visits.get(k, []))
        share = others[round(k * len(others) / count):round((k + 1) * len(others) / count)]
        if share:
            parts.append(share)
    return [part for part in parts if part]


def merge(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One pytest-benchmark JSON from the JSONs of a run's parts, in the order they ran."""
    if not parts:
        raise ValueError("`parts` needs at least one saved JSON; got none")
    merged = dict(parts[0])
    merged["benchmarks"] = [bench for part in parts for bench in part.get("benchmarks", [])]
    conditions = dict(parts[0].get("conditions") or {})
    conditions["load_after"] = (parts[-1].get("conditions") or {}).get("load_after")
    conditions["processes"] = len(parts)
    merged["conditions"] = conditions
    return merged


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m benchmarks.run --json OUT [PYTEST ARGS ...]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, required=True,
                        help="where to write the merged pytest-benchmark JSON")
    args, pytest_args = parser.parse_known_args(argv)
    parts = plan_parts(_collect(pytest_args))
    if not parts:
        parser.error("the pytest arguments select no benchmark")
    saved = []
    with tempfile.TemporaryDirectory(prefix="bench-parts-") as folder:
        for index, nodes in enumerate(parts):
            path = Path(folder) / f"part{index}.json"
            print(f"benchmarks.run: part {index + 1} of {len(parts)}, {len(nodes)} benchmarks",
                  flush=True)
            status = subprocess.run(
                [sys.executable, "-m", "pytest", *nodes, "--benchmark-enable",
                 f"--benchmark-json={path}", *pytest_args], check=False).returncode
            if status not in (0, NO_TESTS):
                return status
            if path.is_file():
                saved.append(json.loads(path.read_text(encoding="utf-8")))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(merge(saved), indent=4), encoding="utf-8")
    print(f"benchmarks.run: {sum(len(p) for p in parts)} benchmarks in {len(parts)} processes, "
          f"saved to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
