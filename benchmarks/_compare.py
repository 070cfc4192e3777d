"""A run beside an earlier one, benchmark by benchmark, in the manner of asv's ``compare``.

Benchmarks are matched by ``fullname`` (module, test and parameter id, stable across runs). The
ratio is the new median over the old: above ``1 + threshold`` the benchmark got slower (``+``),
below ``1 / (1 + threshold)`` faster (``-``). A change where either run is unreliable is marked
``~`` and not called a regression; a benchmark in one run only is listed as added or removed.
"""

from __future__ import annotations

from typing import Any

from benchmarks._headline import FIGURES, ratios
from benchmarks._stats import Bench, Conditions, format_seconds, natural_key, stat, table, trust

__all__ = ["AGREEMENT", "THRESHOLD", "agreement", "compare_section", "headline_changes",
           "machine_differences"]

THRESHOLD = 0.10
"""A change smaller than 10% is within the noise of a quiet run and is not marked."""
AGREEMENT = 0.15
"""Two runs agree on a headline figure when it changed by at most 15%."""


def _by_name(data: dict[str, Any]) -> dict[str, Bench]:
    """The benchmarks by name, less the paired ones (compared as headline figures)."""
    return {str(b.get("fullname") or b.get("name")): b for b in _benches(data)
            if b.get("extra_info", {}).get("bench") != "paired"}


def machine_differences(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    """The machine facts (CPU, versions, BLAS, threads, timer) that differ between two runs."""
    def facts(data: dict[str, Any]) -> dict[str, Any]:
        machine = (data.get("machine_info") or {}).get("gradcheck_bench") or {}
        conditions = data.get("conditions") or {}
        keys = ("cpu_model", "cpu_count", "numpy", "scipy", "torch", "blas", "thread_env")
        return {**{k: machine.get(k) for k in keys}, "timer": conditions.get("timer")}

    a, b = facts(new), facts(old)
    return [f"{key}: {b[key]} → {a[key]}" for key in a if a[key] != b[key]]


def agreement(rows: list[list[str]]) -> str:
    """How many headline figures agree, among all and among those reliable in both runs."""
    agree = [row[-1].startswith("agree") for row in rows]
    trusted = [ok for ok, row in zip(agree, rows, strict=True) if "unreliable" not in row[-1]]
    return (f"{sum(agree)} of {len(rows)} headline figures agree within {AGREEMENT:.0%}; "
            f"of the {len(trusted)} reliable in both runs, {sum(trusted)} agree.")


def headline_changes(new: dict[str, Any], old: dict[str, Any]) -> list[list[str]]:
    """Rows (figure, case, before, after, change, verdict) for each headline ratio of both runs.

    The verdict is "agree" or "differ", followed by " (unreliable)" when either run left the
    figure out of its headline.
    """
    rows = []
    for figure in FIGURES:
        before = {r.label: r for r in ratios(_benches(old), Conditions.of(old), figure)}
        for after in ratios(_benches(new), Conditions.of(new), figure):
            earlier = before.get(after.label)
            if earlier is None or not earlier.median:
                continue
            change = after.median / earlier.median - 1
            unsure = not (after.trust.reliable and earlier.trust.reliable) or after.fault \
                or earlier.fault
            verdict = "agree" if abs(change) <= AGREEMENT else "differ"
            rows.append([figure.title, after.label, f"{earlier.median:.3g}",
                         f"{after.median:.3g}", f"{change:+.0%}",
                         f"{verdict}{' (unreliable)' if unsure else ''}"])
    return rows


def _benches(data: dict[str, Any]) -> list[Bench]:
    return [b for b in data.get("benchmarks", []) if b.get("stats")]


def _mark(ratio: float, reliable: bool, threshold: float) -> str:
    if ratio > 1 + threshold:
        return "+" if reliable else "~"
    if ratio < 1 / (1 + threshold):
        return "-" if reliable else "~"
    return ""


def compare_section(
    new: dict[str, Any], old: dict[str, Any], *, threshold: float = THRESHOLD
) -> list[str]:
    """The section comparing ``new`` with ``old``: one row per benchmark in either."""
    new_benches, old_benches = _by_name(new), _by_name(old)
    c_new, c_old = Conditions.of(new), Conditions.of(old)
    rows = []
    for name in sorted(new_benches.keys() | old_benches.keys(), key=natural_key):
        after, before = new_benches.get(name), old_benches.get(name)
        m_after, m_before = stat(after, "median"), stat(before, "median")
        if after is None or before is None or not m_after or not m_before:
            was = "–" if not m_before else format_seconds(m_before)
            now = "–" if not m_after else format_seconds(m_after)
            rows.append(["", was, now, "–", "added" if before is None else "removed", name])
            continue
        verdict = trust(after, c_new) + trust(before, c_old)
        ratio = m_after / m_before
        rows.append([_mark(ratio, verdict.reliable, threshold), format_seconds(m_before),
                     format_seconds(m_after), f"{ratio:.2f}", "; ".join(verdict.problems), name])
    differences = machine_differences(new, old)
    lines = ["## Compared with an earlier run", "",
             f"New median over old: `+` slower, `-` faster by more than {threshold:.0%}; `~` a "
             "change where either run is unreliable.", ""]
    if differences:
        lines += ["The runs differ in: " + "; ".join(differences) + ".", ""]
    changes = headline_changes(new, old)
    if changes:
        lines += [f"Headline figures (they agree when within {AGREEMENT:.0%}). "
                  + agreement(changes), "",
                  *table(["figure", "case", "before", "after", "change", "verdict"], changes),
                  "", "Every benchmark:", ""]
    header = ["", "before", "after", "ratio", "note", "benchmark"]
    return [*lines, *table(header, rows), ""]
