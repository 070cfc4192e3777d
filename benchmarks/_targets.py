"""The report's tables for two of issue 14's targets: memory per coordinate, overhead at small m.

*Memory* (``bench == "memory"``, from ``benchmarks/test_memory.py``): tracemalloc's peak per
coordinate of x beyond x itself, against its target: 3 copies of a float64 x (24 B) for the
partial checks, ``FULL_CHECK_BYTES`` for the full check, each plus ``SLACK_BYTES`` whatever P
(as ``test_memory.py`` asserts). A peak is one deterministic measurement: it has no spread.

*Small m* (``impl == "bare numpy"`` in the network groups, from ``benchmarks/test_network.py``):
`MLP.cost_and_gradient` beside the same math in bare numpy, each with its spread (min, median,
IQR), and their ratio against ``SMALL_M_TARGET``.
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks._stats import (
    MIN_ROUNDS_FOR_SPREAD,
    Bench,
    Conditions,
    format_seconds,
    info,
    natural_key,
    sig3,
    stat,
    table,
    trust,
)

__all__ = [
    "FULL_CHECK_BYTES",
    "PARTIAL_BYTES",
    "SLACK_BYTES",
    "SMALL_M_TARGET",
    "bare_numpy_section",
    "memory_section",
]

PARTIAL_BYTES = 3 * 8
"""Bytes per coordinate a partial check may use: 3 copies of a float64 x (issue 14)."""
SLACK_BYTES = 500_000
"""Bytes allowed beyond the per-coordinate target whatever P: chunk buffers, small arrays."""
FULL_CHECK_BYTES = 100
"""Bytes per coordinate beyond x that the full check may use (issue 14)."""
SMALL_M_TARGET = 1.3
"""`MLP.cost_and_gradient` over bare numpy, at most, at small m (issue 14)."""


def _seconds(bench: Bench, name: str, reliable: bool = True) -> str:
    value = stat(bench, name)
    if value is None:
        return "–"
    if name == "iqr" and int(bench["stats"].get("rounds") or 0) < MIN_ROUNDS_FOR_SPREAD:
        return "–"
    text = format_seconds(value)
    return text if reliable else f"({text})"


def memory_section(benches: Sequence[Bench], conditions: Conditions) -> list[str]:
    """One row per check and P: bytes per coordinate, copies of x, the target, within or over."""
    found = [b for b in benches if info(b).get("bench") == "memory"]
    if not found:
        return []
    rows = []
    for bench in sorted(found, key=lambda b: (str(info(b).get("check")),
                                              natural_key(info(b).get("P")))):
        extra = info(bench)
        per_coordinate, size = float(extra["bytes_per_coordinate"]), int(extra["P"])
        full = str(extra.get("check")).startswith("check_gradient")
        limit = FULL_CHECK_BYTES if full else PARTIAL_BYTES
        target = f"≤ {limit} B" + ("" if full else " (3 copies)")
        within = per_coordinate <= limit + SLACK_BYTES / size
        rows.append([str(extra.get("check")), str(size), f"{per_coordinate:.1f} B",
                     f"{float(extra['copies_of_x']):.2f}", target,
                     "within" if within else "**over**"])
    header = ["check", "P", "peak per coordinate", "copies of x", "target", "status"]
    return [
        "## Memory", "",
        "tracemalloc's peak while the check ran, beyond x and its gradient (made before), per "
        "coordinate of x; *copies of x* divides the peak by x's bytes (8 per coordinate). "
        "f is x·x with an evaluator of its own, so this is the checker's memory, not f's. "
        f"*Within* allows {SLACK_BYTES // 1000} kB beyond the target whatever P (chunk "
        "buffers, small arrays). One measurement each: a peak has no spread.", "",
        *table(header, rows), "",
    ]


def _ratio_text(num: float | None, den: float | None, reliable: bool) -> str:
    if num is None or not den:
        return "–"
    text = sig3(num / den)
    return text if reliable else f"({text})"


def bare_numpy_section(benches: Sequence[Bench], conditions: Conditions) -> list[str]:
    """Per small-m case: ours and bare numpy (min, median, IQR) and ours / bare numpy."""
    found = {
        (extra.get("layers"), extra.get("dtype"), extra.get("m"), extra.get("impl")): bench
        for bench in benches
        if (extra := info(bench)).get("bench") == "network"
    }
    cases = sorted((key[:3] for key in found if key[3] == "bare numpy"), key=natural_key)
    rows = []
    for case in cases:
        bare_key, ours_key = (*case, "bare numpy"), (*case, "vectorized")
        bare, ours = found[bare_key], found.get(ours_key)
        if ours is None:
            continue
        verdict = trust(ours, conditions).named("ours") + trust(bare, conditions).named("bare")
        ok = verdict.reliable
        median = _ratio_text(stat(ours, "median"), stat(bare, "median"), ok)
        ratio = (stat(ours, "median") or 0.0) / (stat(bare, "median") or 1.0)
        status = "within" if ratio <= SMALL_M_TARGET else "**over**"
        rows.append([str(case[0]), str(case[1]), str(case[2]),
                     *(_seconds(ours, name, ok) for name in ("min", "median", "iqr")),
                     *(_seconds(bare, name, ok) for name in ("min", "median", "iqr")),
                     median, _ratio_text(stat(ours, "min"), stat(bare, "min"), ok),
                     status if ok else f"({status})", str(verdict)])
    if not rows:
        return []
    header = ["layers", "dtype", "m", "ours min", "ours median", "ours IQR", "bare min",
              "bare median", "bare IQR", "ours / bare (medians)", "ours / bare (minima)",
              f"≤ {SMALL_M_TARGET}×", "note"]
    return [
        "## Small m: `MLP.cost_and_gradient` beside bare numpy", "",
        "The same math (sigmoid layers, squared error) written as directly as numpy allows: "
        "no validation, no workspace. *Ours / bare* is what checking the arguments and the "
        f"rest of the Python around the products cost; the target is at most {SMALL_M_TARGET}× "
        "(issue 14). Values in brackets are unreliable (see the note).", "",
        *table(header, rows), "",
    ]
