"""What the report reads off a saved benchmark: medians and quartiles, and whether to trust them.

A figure is *unreliable* when its spread is too wide (IQR/median above ``SPREAD_LIMIT`` over at
least ``MIN_ROUNDS_FOR_SPREAD`` rounds) or when other processes were busy while it ran: their
average use of cores (``extra_info["others_cpu"]``, recorded by ``benchmarks/conftest.py``)
above ``LOAD_SHARE`` of the cores the run's threads left free (at least ``LOAD_FLOOR``). Even
on a free core a neighbour slows a run down through the shared caches and memory, and the CPU
time does not show it: on the 2-core VM these benchmarks were written on, a neighbour using
one core made the same one-thread benchmark take up to twice the CPU time, with a narrow
spread. A run of one or two rounds has no spread to judge: it is marked, not hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LOAD_FLOOR",
    "LOAD_SHARE",
    "SPREAD_LIMIT",
    "Bench",
    "Conditions",
    "Trust",
    "format_seconds",
    "info",
    "natural_key",
    "sig3",
    "stat",
    "table",
    "trust",
]

Bench = dict[str, Any]

SPREAD_LIMIT = 0.10
"""IQR over median above which a median is not trusted to 15% between two runs."""
MIN_ROUNDS_FOR_SPREAD = 3
LOAD_SHARE = 0.5
"""Other processes may use this share of the cores left free by the run's threads ..."""
LOAD_FLOOR = 0.25
"""... or this many cores, whichever is more."""


def format_seconds(seconds: float) -> str:
    """A duration with a unit that keeps 3 significant digits: "12.3 ms"."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def sig3(value: float) -> str:
    """Three significant digits, zeros kept: "2.00", "25.0", "400", "5.00e-05"; never "0.0"."""
    return f"{value:.0f}" if 100 <= abs(value) < 1e5 else f"{value:#.3g}"


def natural_key(value: Any) -> tuple[tuple[int, Any], ...]:
    """A sort key that orders the numbers inside text by value: "m=16" before "m=256"."""
    parts = re.split(r"(\d+(?:\.\d+)?)", str(value))
    return tuple((0, float(part)) if i % 2 else (1, part) for i, part in enumerate(parts))


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table; every column but the first is right-aligned."""
    align = ["---:" if i else ":---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def stat(bench: Bench | None, name: str) -> float | None:
    """``bench["stats"][name]`` as a float (median, min, q1, q3, iqr, ...), or None."""
    if bench is None or bench.get("stats", {}).get(name) is None:
        return None
    return float(bench["stats"][name])


def info(bench: Bench) -> dict[str, Any]:
    """The benchmark's ``extra_info`` (an empty dict when it has none)."""
    extra: dict[str, Any] = bench.get("extra_info") or {}
    return extra


@dataclass(frozen=True)
class Conditions:
    """What a run's trust depends on: the cores of the machine and the threads asked for."""

    cores: int
    threads: int

    @property
    def load_limit(self) -> float:
        """The cores other processes may keep busy before a figure is unreliable."""
        return max(LOAD_SHARE * (self.cores - self.threads), LOAD_FLOOR)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Conditions:
        """From a loaded JSON: ``conditions``, else the machine info, else one thread."""
        conditions = data.get("conditions") or {}
        machine = (data.get("machine_info") or {}).get("gradcheck_bench") or {}
        cores = conditions.get("cpu_count") or machine.get("cpu_count") or 1
        env = machine.get("thread_env") or {}
        threads = conditions.get("threads") or env.get("BENCH_THREADS") or env.get(
            "OMP_NUM_THREADS"
        )
        if threads is None:
            pools = [pool.get("num_threads") or 1 for pool in machine.get("blas") or []]
            threads = max(pools, default=1)
        return cls(int(cores), int(threads))


@dataclass(frozen=True)
class Trust:
    """Why a benchmark's figure is unreliable (``problems``) and what else to know (``notes``)."""

    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def reliable(self) -> bool:
        return not self.problems

    def __add__(self, other: Trust) -> Trust:
        merge = dict.fromkeys
        return Trust(
            tuple(merge(self.problems + other.problems)), tuple(merge(self.notes + other.notes))
        )

    def named(self, name: str) -> Trust:
        """The same, each problem and note prefixed with ``name``: "loop: spread 30%"."""
        return Trust(tuple(f"{name}: {p}" for p in self.problems),
                     tuple(f"{name}: {n}" for n in self.notes))

    def __str__(self) -> str:
        return "; ".join(self.problems + self.notes)


def trust(bench: Bench, conditions: Conditions) -> Trust:
    """The problems (spread, load) and notes (too few rounds) of one benchmark."""
    problems, notes = [], []
    rounds = int(bench.get("stats", {}).get("rounds") or 0)
    median, iqr = stat(bench, "median"), stat(bench, "iqr")
    if rounds < MIN_ROUNDS_FOR_SPREAD:
        notes.append(f"{rounds} round{'s' * (rounds != 1)}: spread unknown")
    elif median and iqr is not None and iqr / median > SPREAD_LIMIT:
        problems.append(f"spread {iqr / median:.0%}")
    others = info(bench).get("others_cpu")
    if others is not None and others > conditions.load_limit:
        problems.append(f"load: others used {others:.2f} of {conditions.cores} cores")
    return Trust(tuple(problems), tuple(notes))
