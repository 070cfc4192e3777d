"""Paired timing: a headline ratio measured as a ratio, with both sides interleaved.

On the 2-core KVM VM these benchmarks were written on, the CPU time of the same call drifts by
up to 1.7× over a minute (steal, other tenants' use of the shared caches and memory, clock), so
two benchmarks timed a minute apart do not give a ratio that holds to 15% from one run to the
next, however narrow each one's spread. `time_pairs` therefore times the two sides of a ratio
in alternating blocks of calls (num, den, den, num, ...) in the same process, and each pair
gives one ratio: a drift slower than a pair divides out.

A drift does not divide out entirely: two different workloads do not slow alike (in two runs
back to back, torch's gradcheck slowed 2.2× where ours slowed 1.8×, and their ratio moved by
16%); and a whole process can run a figure 10-20% off (``benchmarks/run.py``). So each figure
is timed in several visits, each in a process of its own, spread over the run (``python -m
benchmarks.run``), and its pairs are pooled: the figure then carries a mix of the machine's
states and of processes, not one of each. The figure is the median of the pooled per-pair
ratios; its spread is their IQR over the median; its uncertainty is the larger of the standard
error that spread implies for that many pairs and the standard error of the mean of the visits'
medians (pairs of one visit share a state, so they are not independent). `paired_trust` judges
a figure on that uncertainty: the load of other processes, which slows both sides alike, is
only noted.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks._stats import Bench, Conditions, Trust, info, sig3

__all__ = [
    "FULL",
    "QUICK",
    "SMOKE",
    "SPREAD_CEILING",
    "UNCERTAINTY_LIMIT",
    "PairPlan",
    "PairedRatio",
    "Pairs",
    "paired_trust",
    "time_pairs",
]

UNCERTAINTY_LIMIT = 0.04
"""A paired figure whose median's standard error exceeds 4% of it is unreliable: two runs'
medians then differ by more than 15% (2.6 standard errors of their difference) too often."""
SPREAD_CEILING = 0.5
"""Per-pair ratios whose IQR exceeds half their median are unreliable however many pairs."""
MIN_PAIRS = 5
"""Fewer pairs than this give no spread worth judging: such a figure is unreliable."""
_MEDIAN_ERROR = 1.2533 / 1.3490
"""Standard error of a median ≈ 1.2533 σ/√n, with σ ≈ IQR/1.349 for a normal spread."""


@dataclass(frozen=True)
class PairPlan:
    """How long to pair: each side's block lasts at least ``block_seconds``; pairing goes on
    until ``budget_seconds`` have passed, between ``min_pairs`` and ``max_pairs`` pairs."""

    min_pairs: int
    max_pairs: int
    block_seconds: float
    budget_seconds: float

    def per_visit(self, visits: int) -> PairPlan:
        """The share of one of ``visits`` visits: the pairs and the budget split between them."""
        if visits < 1:
            raise ValueError(f"`visits` must be at least 1; got {visits}")
        return PairPlan(min_pairs=math.ceil(self.min_pairs / visits),
                        max_pairs=math.ceil(self.max_pairs / visits),
                        block_seconds=self.block_seconds,
                        budget_seconds=self.budget_seconds / visits)


QUICK = PairPlan(min_pairs=9, max_pairs=25, block_seconds=0.02, budget_seconds=1.0)
FULL = PairPlan(min_pairs=7, max_pairs=61, block_seconds=0.05, budget_seconds=4.0)
SMOKE = PairPlan(min_pairs=1, max_pairs=1, block_seconds=0.0, budget_seconds=0.0)
"""``--benchmark-disable``: one call of each side, to check that both run."""


@dataclass(frozen=True)
class Pairs:
    """Seconds per call of each side, pair by pair, the calls per block and the last results."""

    num: tuple[float, ...]
    den: tuple[float, ...]
    calls: tuple[int, int]
    results: tuple[Any, Any]

    @property
    def ratios(self) -> tuple[float, ...]:
        return tuple(a / b for a, b in zip(self.num, self.den, strict=True))

    def extra_info(self) -> dict[str, Any]:
        """What the report reads: per-pair seconds of each side and the calls per block."""
        return {"num_seconds": [float(f"{t:.6g}") for t in self.num],
                "den_seconds": [float(f"{t:.6g}") for t in self.den],
                "calls": list(self.calls)}


def _block(fn: Callable[[], Any], calls: int, timer: Callable[[], float]) -> tuple[float, Any]:
    """Seconds per call of ``calls`` calls in a row, and the last result."""
    result = None
    start = timer()
    for _ in range(calls):
        result = fn()
    return (timer() - start) / calls, result


BALANCE = 4
"""A block lasts at least a quarter of the slower side's call, so that the faster side's block
is not so short that its own noise swamps the pair's ratio."""


def _calls_per_block(sides: tuple[Callable[[], Any], Callable[[], Any]],
                     timer: Callable[[], float], seconds: float) -> tuple[int, int]:
    """Calls per block of each side, from one warm-up call of each (one each if no time)."""
    if seconds <= 0:
        return 1, 1
    once = [max(_block(fn, 1, timer)[0], 1e-9) for fn in sides]
    target = max(seconds, max(once) / BALANCE)
    return math.ceil(target / once[0]), math.ceil(target / once[1])


def time_pairs(num: Callable[[], Any], den: Callable[[], Any], *, plan: PairPlan,
               timer: Callable[[], float], clock: Callable[[], float] | None = None) -> Pairs:
    """Time ``num`` and ``den`` in alternating blocks, one pair of blocks per ratio.

    Odd pairs run ``den`` first, so that a drift within a pair, or a cost of going first
    (cold caches), falls on each side equally often. ``clock`` measures the budget
    (default: ``timer``).
    """
    clock = clock or timer
    calls = _calls_per_block((num, den), timer, plan.block_seconds)
    sides: tuple[list[float], list[float]] = ([], [])
    results: list[Any] = [None, None]
    start = clock()
    while len(sides[0]) < plan.max_pairs and (
        len(sides[0]) < plan.min_pairs or clock() - start < plan.budget_seconds
    ):
        order = (0, 1) if len(sides[0]) % 2 == 0 else (1, 0)
        for side in order:
            seconds, results[side] = _block((num, den)[side], calls[side], timer)
            sides[side].append(seconds)
    return Pairs(tuple(sides[0]), tuple(sides[1]), calls, (results[0], results[1]))


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


@dataclass(frozen=True)
class PairedRatio:
    """The statistics of per-pair ratios: quartiles, spread and the median's uncertainty."""

    median: float
    q1: float
    q3: float
    pairs: int
    minimum: float | None
    """The fastest num over the fastest den (the ratio of minima)."""
    visit_medians: tuple[float, ...] = ()
    """The median ratio of each visit, when the pairs were pooled from more than one."""

    @classmethod
    def of(cls, num: Sequence[float], den: Sequence[float]) -> PairedRatio:
        """From per-pair seconds of each side (equal lengths, at least one pair)."""
        if len(num) != len(den) or not num:
            raise ValueError(f"`num` and `den` need the same number (≥ 1) of pairs; got "
                             f"{len(num)} and {len(den)}")
        q1, median, q3 = _quartiles([a / b for a, b in zip(num, den, strict=True)])
        return cls(median, q1, q3, len(num), min(num) / min(den) if min(den) else None)

    @classmethod
    def from_bench(cls, bench: Bench) -> PairedRatio:
        extra = info(bench)
        return cls.of(extra["num_seconds"], extra["den_seconds"])

    @classmethod
    def pooled(cls, benches: Sequence[Bench]) -> PairedRatio:
        """From the pairs of every visit of one figure (one benchmark per visit, at least one)."""
        if not benches:
            raise ValueError("`benches` needs at least one visit of the figure; got none")
        num = [t for bench in benches for t in info(bench)["num_seconds"]]
        den = [t for bench in benches for t in info(bench)["den_seconds"]]
        ratio = cls.of(num, den)
        if len(benches) == 1:
            return ratio
        medians = tuple(cls.from_bench(bench).median for bench in benches)
        return dataclasses.replace(ratio, visit_medians=medians)

    @property
    def spread(self) -> float:
        """IQR of the per-pair ratios over their median."""
        return (self.q3 - self.q1) / self.median if self.median else math.inf

    @property
    def pairs_uncertainty(self) -> float:
        """The standard error of the median, relative to it, that the pairs' spread implies."""
        return _MEDIAN_ERROR * self.spread / math.sqrt(self.pairs)

    @property
    def visits_uncertainty(self) -> float:
        """The standard error of the mean of the visits' medians, relative to the median (0
        with one visit)."""
        if len(self.visit_medians) < 2 or not self.median:
            return 0.0
        error = statistics.stdev(self.visit_medians) / math.sqrt(len(self.visit_medians))
        return error / self.median

    @property
    def uncertainty(self) -> float:
        """The larger of the two standard errors: the pairs' and the visits'."""
        return max(self.pairs_uncertainty, self.visits_uncertainty)


def paired_trust(benches: Sequence[Bench], conditions: Conditions) -> Trust:
    """Problems: too few pairs, a median uncertain beyond 4%, a spread beyond 50%; notes: load.

    ``benches`` are the visits of one figure (`PairedRatio.pooled`).
    """
    ratio = PairedRatio.pooled(benches)
    problems, notes = [], []
    if ratio.pairs < MIN_PAIRS:
        problems.append(f"{ratio.pairs} pair{'s' * (ratio.pairs != 1)}: spread unknown")
    elif ratio.spread > SPREAD_CEILING:
        problems.append(f"pairs' spread {ratio.spread:.0%}")
    elif ratio.pairs_uncertainty > UNCERTAINTY_LIMIT:
        problems.append(f"uncertainty ±{ratio.pairs_uncertainty:.1%} (spread "
                        f"{ratio.spread:.0%} over {ratio.pairs} pairs)")
    elif ratio.visits_uncertainty > UNCERTAINTY_LIMIT:
        low, high = min(ratio.visit_medians), max(ratio.visit_medians)
        problems.append(f"uncertainty ±{ratio.visits_uncertainty:.1%} (its "
                        f"{len(ratio.visit_medians)} visits gave {sig3(low)} to {sig3(high)})")
    loads = [info(bench).get("others_cpu") for bench in benches]
    others = max((load for load in loads if load is not None), default=None)
    if others is not None and others > conditions.load_limit:
        notes.append(f"others used {others:.2f} of {conditions.cores} cores")
    return Trust(tuple(problems), tuple(notes))
