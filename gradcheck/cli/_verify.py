"""The work of ``gradcheck verify``: random MLP cases checked, then the bug catalogue planted.

A face module (it imports `backprop_ref`; the core never imports it). Cases are drawn from a
seeded numpy Generator, so a run is reproducible from its seed. For each case and method, the
gradients of `MLP.cost_and_gradient` and `MLP.cost_and_gradient_loop` must pass
`check_gradient` with its default tolerances, and every bug of `backprop_ref.bugs.BUGS` whose
effect is above the numerical noise must fail it.

A bug is *not applicable* to a case and method when it changes the gradient by less than
`MIN_EFFECT` (relative, ‖g_bug − g‖/‖g‖), or when no verifiable element moves by more than
`NOISE_MARGIN` times the tolerance the checker gave the correct gradient there: a change below
the method's own noise cannot be seen by any honest checker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np

from backprop_ref import MLP, Layer, diagnosis_hints
from backprop_ref.bugs import BUGS, plant
from gradcheck.check import check_gradient
from gradcheck.cli._cases import (
    ACTIVATIONS,
    DECAY_CONVENTIONS,
    LOSS_OUTPUTS,
    METHODS,
    SCALES,
    TARGET_RANGES,
)
from gradcheck.cli._memo import Memoized
from gradcheck.report import PASS, GradientCheckResult

__all__ = ["METHODS", "MIN_EFFECT", "NOISE_MARGIN", "Case", "PhaseProgress", "Summary",
           "bug_statuses", "random_case", "verify"]

MIN_EFFECT: dict[str, float] = {"forward": 1e-5, "central": 1e-5, "richardson": 1e-5,
                                "complex": 1e-8}
"""The smallest relative effect of a bug that counts, per method."""
NOISE_MARGIN = 2.0
"""A bug must move some verifiable element by this many tolerances to count."""

PhaseProgress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``, called as the run advances (the command line draws it)."""


class Case(NamedTuple):
    """One drawn case: the network, its parameters and the data."""

    mlp: MLP
    params: list[Layer]
    X: Any
    Y: Any


def _targets(rng: np.random.Generator, m: int, n: int, loss: str, output: str) -> Any:
    """Targets valid for the loss and output: in range, rows of softmax targets summing to 1."""
    if output == "softmax":
        if rng.random() < 0.5:
            return np.eye(n)[rng.integers(0, n, m)]
        weights = rng.uniform(0.0625, 1.0, (m, n))
        return weights / weights.sum(axis=1, keepdims=True)
    low, high = TARGET_RANGES.get(output, (0.0, 1.0)) if loss == "squared" else (0.0, 1.0)
    return rng.uniform(low, high, (m, n))


def random_case(rng: np.random.Generator) -> Case:
    """A case drawn like `gradcheck.strategies.checkable_cases`, from ``rng``.

    Written apart from the strategy, on the same tables (`gradcheck.cli._cases`): the command line
    runs without Hypothesis (an optional extra), and a run's cases are those of its seed; drawn
    through Hypothesis they would be other cases, and verify's output for a seed would change.
    """
    sizes = [int(s) for s in rng.integers(1, 7, int(rng.integers(2, 5)))]
    loss, output = LOSS_OUTPUTS[int(rng.integers(len(LOSS_OUTPUTS)))]
    decay = float(rng.choice([0.0, 10 ** rng.uniform(-8, -4), 10 ** rng.uniform(-4, 1)]))
    mlp = MLP(sizes, activation=str(rng.choice(ACTIVATIONS)), output_activation=output,
              loss=loss, weight_decay=decay, decay_convention=str(rng.choice(DECAY_CONVENTIONS)))
    scale = float(rng.choice(SCALES))
    params = [Layer(scale * rng.uniform(-1, 1, W.shape), scale * rng.uniform(-1, 1, b.shape))
              for W, b in mlp.init_params(rng)]
    m = int(rng.integers(1, 9))
    return Case(mlp, params, rng.uniform(-3, 3, (m, sizes[0])), _targets(rng, m, sizes[-1],
                                                                          loss, output))


def bug_statuses(
    case: Case, method: str, correct: GradientCheckResult, *, cost: Memoized | None = None
) -> list[tuple[str, str]]:
    """(bug name, "caught" / "missed" / "not applicable") for each bug of the catalogue.

    ``correct`` is the check of the correct gradient with ``method``: its tolerances are the
    noise against which a bug's change is measured. ``cost`` is the case's cost function
    (default: a new one), so that the checks of one case share the values of J.
    """
    cost = _cost(case) if cost is None else cost
    tolerance = np.concatenate([t.ravel() for t in correct.tolerance])
    verifiable = np.concatenate([s.ravel() for s in correct.status]) == PASS
    truth = np.concatenate([a.ravel() for a in correct.analytic])
    out = []
    for planted in plant(case.mlp, case.params, case.X, case.Y):
        broken = np.concatenate([a.ravel() for layer in planted.grads for a in layer])
        moved = np.abs(broken - truth)[verifiable] / np.maximum(tolerance[verifiable], 1e-300)
        if planted.effect < MIN_EFFECT[method] or not np.any(moved >= NOISE_MARGIN):
            out.append((planted.bug.name, "not applicable"))
            continue
        result = check_gradient(cost, case.params, planted.grads, method=method,
                                hints=_hints(case))
        out.append((planted.bug.name, "missed" if result.passed else "caught"))
    return out


def _cost(case: Case) -> Memoized:
    """θ ↦ J(θ) on the case's data, each point computed once for all the checks of the case.

    X and Y are validated once, when the objective is made; the table of `Memoized` serves
    the points that the bug checks share with the check of the correct gradient.
    """
    objective = case.mlp.objective(case.X, case.Y)
    return Memoized(lambda params: objective(params))


def _hints(case: Case) -> dict[str, Any]:
    """The case's network words for the diagnosis: weights, biases, layers, λ, m, the loss."""
    return diagnosis_hints(case.mlp, case.X.shape[0])


@dataclass
class MethodSummary:
    """The checks of correct gradients with one method."""

    checks: int = 0
    failures: int = 0
    worst_rel_error: float = 0.0
    """The largest per-element relative error (small elements included)."""
    worst_rel_difference: float = 0.0
    """The largest ‖n − a‖ / ‖n + a‖ of one check."""
    worst_tolerance_used: float = 0.0
    """The largest |a − n| / tolerance of an element: below 1 passes; the margin left."""
    unverifiable: int = 0


@dataclass
class Summary:
    """The outcome of `verify`; `passed` when no correct gradient failed and no bug was missed."""

    seed: int
    cases: int
    methods: tuple[str, ...]
    per_method: dict[str, MethodSummary]
    failures: list[tuple[str, str]] = field(default_factory=list)
    """(what failed, the checker's report) for the first failures."""
    n_failures: int = 0
    bugs_applicable: int = 0
    bugs_caught: int = 0
    bugs_not_applicable: int = 0
    missed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """No correct gradient flagged, every applicable bug caught."""
        return self.n_failures == 0 and self.bugs_caught == self.bugs_applicable

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "passed": self.passed, "seed": self.seed, "cases": self.cases,
            "methods": list(self.methods),
            "per_method": {k: vars(v) for k, v in self.per_method.items()},
            "n_failures": self.n_failures,
            "failures": [{"what": w, "report": r} for w, r in self.failures],
            "bugs": {"planted": len(BUGS), "applicable": self.bugs_applicable,
                     "caught": self.bugs_caught, "not_applicable": self.bugs_not_applicable,
                     "missed": self.missed},
            "seconds": self.seconds,
        }


def _describe(i: int, case: Case) -> str:
    """How a case is named in the summary."""
    return f"case {i} ({case.mlp!r}, m={case.X.shape[0]})"


def _check_case(
    i: int, case: Case, method: str, summary: Summary, max_reported: int, cost: Memoized
) -> None:
    """Check both gradients of one case with one method, then plant the bugs."""
    stats = summary.per_method[method]
    correct = None
    for which, compute in (("vectorized", case.mlp.cost_and_gradient),
                           ("loop", case.mlp.cost_and_gradient_loop)):
        _, grads = compute(case.params, case.X, case.Y)
        result = check_gradient(cost, case.params, grads, method=method,
                                hints=_hints(case))
        correct = correct or result
        stats.checks += 1
        stats.worst_rel_error = max(stats.worst_rel_error, result.max_rel_error)
        stats.worst_rel_difference = max(stats.worst_rel_difference, result.relative_difference)
        if result.worst is not None and result.worst.tolerance > 0:
            used = result.worst.abs_error / result.worst.tolerance
            stats.worst_tolerance_used = max(stats.worst_tolerance_used, used)
        stats.unverifiable += result.n_unverifiable
        if not result.passed:
            stats.failures += 1
            summary.n_failures += 1
            if len(summary.failures) < max_reported:
                summary.failures.append((f"{_describe(i, case)}, {which}, {method}", str(result)))
    if correct is None or not correct.passed:
        return  # no noise baseline to plant bugs against
    for name, status in bug_statuses(case, method, correct, cost=cost):
        summary.bugs_not_applicable += status == "not applicable"
        summary.bugs_applicable += status != "not applicable"
        summary.bugs_caught += status == "caught"
        if status == "missed":
            summary.missed.append(f"{name} in {_describe(i, case)}, {method}")


def verify(
    n_cases: int, *, seed: int, methods: Sequence[str] = METHODS,
    progress: PhaseProgress | None = None, max_reported: int = 3, jobs: int = 1,
) -> Summary:
    """Draw ``n_cases`` cases from ``seed`` and check them with every method (see module).

    ``jobs`` processes check the cases (1: this process). The cases are drawn here, before
    any is checked, and each case's checks depend on that case alone, so the summary is the
    same for any ``jobs`` but for ``seconds``.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    cases = [random_case(rng) for _ in range(n_cases)]
    methods = tuple(methods)
    summary = Summary(seed, n_cases, methods, {m: MethodSummary() for m in methods})
    total, done = n_cases * len(methods), 0
    if progress is not None:
        progress("checking", done, total)
    for part in _case_summaries(cases, methods, max_reported, jobs):
        _merge(summary, part, max_reported)
        done += len(methods)
        if progress is not None:
            progress("checking", done, total)
    summary.seconds = time.perf_counter() - start
    return summary


def _case_summaries(
    cases: Sequence[Case], methods: tuple[str, ...], max_reported: int, jobs: int
) -> Iterator[Summary]:
    """The summary of each case alone, in the order of ``cases``, from ``jobs`` processes."""
    indices = range(len(cases))
    if jobs == 1 or len(cases) == 1:
        yield from map(_one_case, indices, cases, repeat(methods), repeat(max_reported))
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(cases))) as pool:
        yield from pool.map(_one_case, indices, cases, repeat(methods), repeat(max_reported))


def _one_case(i: int, case: Case, methods: tuple[str, ...], max_reported: int) -> Summary:
    """Case ``i`` checked with every method: a summary of that case alone."""
    part = Summary(0, 1, methods, {m: MethodSummary() for m in methods})
    cost = _cost(case)
    for method in methods:
        _check_case(i, case, method, part, max_reported, cost)
    return part


def _merge(summary: Summary, part: Summary, max_reported: int) -> None:
    """Add the summary of one case to ``summary``, as if its checks had been made there."""
    for method, stats in part.per_method.items():
        into = summary.per_method[method]
        into.checks += stats.checks
        into.failures += stats.failures
        into.unverifiable += stats.unverifiable
        into.worst_rel_error = max(into.worst_rel_error, stats.worst_rel_error)
        into.worst_rel_difference = max(into.worst_rel_difference, stats.worst_rel_difference)
        into.worst_tolerance_used = max(into.worst_tolerance_used, stats.worst_tolerance_used)
    summary.failures += part.failures[: max(0, max_reported - len(summary.failures))]
    summary.n_failures += part.n_failures
    summary.bugs_applicable += part.bugs_applicable
    summary.bugs_caught += part.bugs_caught
    summary.bugs_not_applicable += part.bugs_not_applicable
    summary.missed += part.missed
