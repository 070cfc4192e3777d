"""The headline: the ratios the README quotes, each with its spread, in one place.

A `Figure` names the two sides of a ratio (``kind``, ``num``, ``den``) and the case keys that
tell its cases apart. Its value on a case comes from the benchmark of ``benchmarks/
test_bench_paired.py`` that timed both sides in alternating blocks (``bench == "paired"``), in
visits spread over the run: the median of the per-pair ratios of all its visits, with their
quartiles and the median's uncertainty (`benchmarks._paired`). Without one, the figure divides
the medians of two benchmarks timed apart (``bench == kind``, ``key`` telling the sides
apart), and is left out of the headline as unpaired: on a VM, the machine's speed drifts
between them by more than the 15% two runs must agree to. A figure whose pairs are too few or
too spread is left out with the reason, and a share above 100% (a floor slower than the
whole) is a measurement fault.

Groups whose benchmarks carry ``false_alarms``, ``caught`` and ``planted`` (the peer checkers
on corpora: ``corpus-peers``, ``jacobian-peers``) make a table of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks._paired import SPREAD_CEILING, UNCERTAINTY_LIMIT, PairedRatio, paired_trust
from benchmarks._stats import (
    Bench,
    Conditions,
    Trust,
    format_seconds,
    info,
    natural_key,
    sig3,
    stat,
    table,
    trust,
)

__all__ = ["FIGURES", "Figure", "Ratio", "corpora_section", "headline_section", "ratios"]


def _headline_network(case: dict[str, Any]) -> bool:
    """The network cases of the headline: those the quick mode keeps (``Case.quick``)."""
    return case.get("dtype") == "float64" and case.get("m") in (16, 2048)


def _small_network(case: dict[str, Any]) -> bool:
    """The small batches, where bare numpy is measured beside ours (``SMALL_CASES``)."""
    return case.get("dtype") == "float64" and case.get("m") in (1, 16)


@dataclass(frozen=True)
class Figure:
    """median(``key == num``) / median(``key == den``) per case of benchmarks of ``kind``."""

    title: str
    kind: str
    key: str
    num: str
    den: str
    case_keys: tuple[str, ...]
    share: bool = False
    """A part over its whole: printed as a percentage, a measurement fault above 100%."""
    select: Callable[[dict[str, Any]], bool] | None = None


NETWORK = ("layers", "dtype", "m")
FIGURES: tuple[Figure, ...] = (
    Figure("vectorized vs loop (× faster)", "network", "impl", "loop", "vectorized", NETWORK,
           select=_headline_network),
    Figure("ours vs torch autograd (torch time / ours)", "network", "impl", "torch",
           "vectorized", NETWORK, select=_headline_network),
    Figure("matmul share (floor / whole)", "network", "impl", "matmul", "vectorized", NETWORK,
           share=True, select=_headline_network),
    Figure("small m: bare numpy / ours (target ≥ 1/1.3 = 0.77)", "network", "impl",
           "bare numpy", "vectorized", NETWORK, select=_small_network),
    Figure("full check: torch.autograd.gradcheck / ours", "full-check", "impl", "torch",
           "structured", ("P",)),
    Figure("full check: scipy check_grad / ours", "full-check", "impl", "scipy", "structured",
           ("P",)),
    Figure("full check: plain check_gradient / structure-aware", "full-check", "impl", "plain",
           "structured", ("P",)),
    Figure("plain check: torch.autograd.gradcheck / check_gradient", "checker", "impl",
           "torch.gradcheck", "check_gradient", ("P", "method")),
    Figure("plain check: scipy check_grad / check_gradient", "checker", "impl",
           "scipy.check_grad", "check_gradient", ("P", "method")),
    Figure("batched vs unbatched (× faster)", "batched", "path", "unbatched", "batched",
           ("function", "P", "m")),
)


@dataclass(frozen=True)
class Ratio:
    """One figure on one case: its ratio, of minima, its quartile range, count, trust.

    Paired (``bench == "paired"``): the median, Q1 and Q3 of the per-pair ratios over
    ``count`` pairs. Unpaired (two benchmarks timed apart, as in runs before the pairing):
    the ratio of medians and Q1/Q3 to Q3/Q1 over ``count`` rounds, never trusted.
    """

    figure: Figure
    case: dict[str, Any]
    median: float
    minimum: float | None
    low: float | None
    high: float | None
    rounds: int
    trust: Trust
    paired: bool = False
    uncertainty: float | None = None

    @property
    def fault(self) -> bool:
        """A share above 100%: the floor took longer than the whole, so one of them is wrong."""
        return self.figure.share and self.median > 1.0

    @property
    def label(self) -> str:
        return " ".join(
            f"{k}={v}" if k in ("P", "m") else str(v) for k, v in self.case.items() if v is not None
        )


UNPAIRED = "not paired: its two sides were timed apart, so the machine's drift is in it"


def _quotient(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _ratio(figure: Figure, case: dict[str, Any], num: Bench, den: Bench, c: Conditions) -> Ratio:
    median = _quotient(stat(num, "median"), stat(den, "median"))
    rounds = min(int(num["stats"].get("rounds", 0)), int(den["stats"].get("rounds", 0)))
    sides = trust(num, c).named(figure.num) + trust(den, c).named(figure.den)
    return Ratio(
        figure=figure,
        case=case,
        median=median or 0.0,
        minimum=_quotient(stat(num, "min"), stat(den, "min")),
        low=_quotient(stat(num, "q1"), stat(den, "q3")) if rounds > 1 else None,
        high=_quotient(stat(num, "q3"), stat(den, "q1")) if rounds > 1 else None,
        rounds=rounds,
        trust=Trust((UNPAIRED,)) + sides,
    )


def _paired_ratio(figure: Figure, case: dict[str, Any], visits: Sequence[Bench],
                  c: Conditions) -> Ratio:
    paired = PairedRatio.pooled(visits)
    return Ratio(figure=figure, case=case, median=paired.median, minimum=paired.minimum,
                 low=paired.q1, high=paired.q3, rounds=paired.pairs,
                 trust=paired_trust(visits, c), paired=True, uncertainty=paired.uncertainty)


@dataclass
class _Sides:
    """A figure's benchmarks by case: the visits of its paired benchmark, and each side's
    benchmark timed apart (``num``, ``den``)."""

    paired: dict[tuple[Any, ...], list[Bench]]
    num: dict[tuple[Any, ...], Bench]
    den: dict[tuple[Any, ...], Bench]


def _sides(benches: Sequence[Bench], figure: Figure) -> _Sides:
    sides = _Sides({}, {}, {})
    for bench in benches:
        extra = info(bench)
        case = tuple(extra.get(key) for key in figure.case_keys)
        if extra.get("bench") == "paired":
            if (extra.get("kind"), extra.get("num"), extra.get("den")) == (
                    figure.kind, figure.num, figure.den):
                sides.paired.setdefault(case, []).append(bench)
        elif extra.get("bench") == figure.kind and extra.get(figure.key) == figure.num:
            sides.num[case] = bench
        elif extra.get("bench") == figure.kind and extra.get(figure.key) == figure.den:
            sides.den[case] = bench
    return sides


def ratios(benches: Sequence[Bench], conditions: Conditions, figure: Figure) -> list[Ratio]:
    """The figure on every measured case, in numeric order: paired where a paired benchmark
    ran, else from two benchmarks timed apart (left out of the headline as unpaired)."""
    sides = _sides(benches, figure)
    cases = sides.paired.keys() | (sides.num.keys() & sides.den.keys())
    found = []
    for case in sorted(cases, key=natural_key):
        named = dict(zip(figure.case_keys, case, strict=True))
        if figure.select is not None and not figure.select(named):
            continue
        if case in sides.paired:
            found.append(_paired_ratio(figure, named, sides.paired[case], conditions))
        else:
            found.append(_ratio(figure, named, sides.num[case], sides.den[case], conditions))
    return found


def _value(ratio: Ratio, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0%}" if ratio.figure.share else sig3(value)


def _row(ratio: Ratio) -> list[str]:
    band = "–" if ratio.low is None else f"{_value(ratio, ratio.low)}–{_value(ratio, ratio.high)}"
    error = "–" if ratio.uncertainty is None else f"±{ratio.uncertainty:.1%}"
    return [ratio.figure.title, ratio.label, _value(ratio, ratio.median), band, error,
            str(ratio.rounds), _value(ratio, ratio.minimum), "; ".join(ratio.trust.notes)]


def headline_section(benches: Sequence[Bench], conditions: Conditions) -> list[str]:
    """The headline table of trusted ratios, then what was left out of it and why."""
    shown, left_out = [], []
    for figure in FIGURES:
        for ratio in ratios(benches, conditions, figure):
            if ratio.fault:
                left_out.append(f"- {figure.title}, {ratio.label}: measurement fault (the floor "
                                "took longer than the whole computation)")
            elif not ratio.trust.reliable:
                left_out.append(f"- {figure.title}, {ratio.label}: unreliable "
                                f"({'; '.join(ratio.trust.problems)})")
            else:
                shown.append(_row(ratio))
    if not shown and not left_out:
        return []
    header = ["figure", "case", "ratio", "Q1–Q3", "uncertainty", "pairs", "ratio of minima",
              "note"]
    lines = ["## Headline", "",
             "Each figure is timed as a ratio: its two sides run in alternating blocks, in "
             "visits spread over the run, and the *ratio* is the median of the per-pair ratios "
             "of all visits (*Q1–Q3*: their quartiles; *uncertainty*: the standard error of "
             "that median, from the pairs' spread or the visits', whichever is larger). Above "
             "1, ours is faster; a share is the matrix products' time over the whole. A "
             "figure is left "
             f"out when its uncertainty exceeds {UNCERTAINTY_LIMIT:.0%}, its pairs' spread "
             f"{SPREAD_CEILING:.0%}, or when it was not paired.", ""]
    lines += table(header, shown) if shown else ["No figure of this run is reliable."]
    if left_out:
        lines += ["", f"Left out of the headline ({len(left_out)} of "
                      f"{len(left_out) + len(shown)}):", "", *left_out]
    return [*lines, ""]


def _is_corpus(bench: Bench) -> bool:
    extra = info(bench)
    return all(extra.get(key) is not None for key in ("false_alarms", "caught", "planted"))


def _checker_name(bench: Bench) -> str:
    extra = info(bench)
    return str(extra.get("checker") or extra.get("impl") or bench.get("name", "?"))


def corpora_section(benches: Sequence[Bench], conditions: Conditions) -> list[str]:
    """The "checkers on corpora" table of the peer groups, when any ran."""
    found = sorted((b for b in benches if _is_corpus(b)),
                   key=lambda b: (natural_key(b.get("group")), natural_key(_checker_name(b))))
    if not found:
        return []
    rows = []
    for bench in found:
        extra, verdict = info(bench), trust(bench, conditions)
        median = stat(bench, "median")
        time = "–" if median is None else format_seconds(median)
        rows.append([str(bench.get("group")), _checker_name(bench), str(extra["false_alarms"]),
                     f"{extra['caught']}/{extra['planted']}",
                     time if verdict.reliable else "unreliable", str(verdict)])
    return ["## Checkers on corpora", "",
            "Each checker on the same corpus: false alarms on correct derivatives, planted "
            "bugs caught, and the median time of the whole corpus.", "",
            *table(["group", "checker", "false alarms", "caught/planted", "time", "note"], rows),
            ""]
