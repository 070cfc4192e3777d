"""Run gradcheck over the scalar corpus with correct and planted-bug gradients, and count.

For each case and method the correct gradient (autograd's) is checked, then each planted bug:
the whole gradient times ``1 + r`` and its largest element times ``1 + r`` for r in
:data:`RATES`, one element sign-flipped, one zeroed, and a square leaf transposed. A bug's
*size* is the largest change it makes to an element over f's scale ``S = max(‖g‖∞,
|f(x)| / max(1, ‖x‖∞))`` (the second term matters where f is saturated: tanh at 100, softmax
of logits 1000 apart, whose gradients are below 1e-40). No bug is planted in an f that is 0
by cancellation (its gradient is rounding), nor at a kink. Figures per method (see
:meth:`Tally.summary`):

* ``false_alarms``: a correct gradient with a mismatch, or an error raised (a TypeError from
  the complex step on a non-analytic f is a refusal, counted apart);
* ``unresolved_correct``: a correct gradient the check could not resolve (no pass, no
  mismatch);
* ``unverifiable_smooth``: a correct gradient of a smooth f with "not verifiable" elements;
  ``kink_misreported``: a kinked f whose not-verifiable elements are not its kinks;
* ``silent_passes``: a bug of size at least 1e-4 (sign flip, zero, transpose: 1e-6) that
  passes; ``caught``/``planted`` per bug kind and size: a bug is caught when the check does
  not pass.

Run ``python -m tests.corpus.harness [--methods central,richardson] [--out figures.json]``
for the full figures (about a minute per method on one core).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import gradcheck
from tests.corpus.scalar import Case, cases

RATES = (1e-2, 1e-4, 1e-6, 1e-8)
METHODS = ("forward", "central", "richardson", "complex")
#: Bugs at least this large (relative to the gradient's max-norm) must never pass.
SILENT = 1e-4
#: Sign flips, zeroed elements and transposes at least this large must never pass.
SILENT_ELEMENT = 1e-6
#: Catch rates are also given over the bugs at least this large (relative to f's scale).
SIZE_FLOORS = (1e-10, 1e-8, 1e-6, 1e-4)


def _leaves(tree: Any) -> list[np.ndarray]:
    """The leaves of an array or a dict of arrays, in the dict's order."""
    return list(tree.values()) if isinstance(tree, dict) else [tree]


def _rebuild(tree: Any, leaves: list[np.ndarray]) -> Any:
    return dict(zip(tree, leaves, strict=True)) if isinstance(tree, dict) else leaves[0]


@dataclass(frozen=True)
class Bug:
    """A planted bug: its kind, its r (NaN for the structural ones) and its size."""

    kind: str
    rate: float
    size: float
    gradient: Any

    @property
    def must_catch(self) -> bool:
        """A bug that no method may let pass (see the module notes)."""
        floor = SILENT if self.kind in ("scale", "element") else SILENT_ELEMENT
        return self.size >= floor


def f_scale(case: Case, gradient: Any) -> float:
    """``S = max(‖g‖∞, |f(x)| / max(1, ‖x‖∞))``, what a bug's size is relative to."""
    flat = np.concatenate([np.ravel(a) for a in _leaves(gradient)])
    x_max = max(float(np.max(np.abs(a))) for a in _leaves(case.x))
    return max(float(np.max(np.abs(flat))), abs(float(case.f(case.x))) / max(1.0, x_max))


def bugs(gradient: Any, scale: float) -> Iterator[Bug]:
    """The planted bugs of one correct gradient (those that change it), sized over ``scale``."""
    leaves = [np.asarray(a, float) for a in _leaves(gradient)]
    flat = np.concatenate([a.ravel() for a in leaves])
    top = float(np.max(np.abs(flat)))
    if top == 0.0 or scale == 0.0:
        return
    biggest = int(np.argmax(np.abs(flat)))
    sizable = np.flatnonzero(np.abs(flat) >= 1e-6 * top)
    middle = int(sizable[np.argsort(np.abs(flat[sizable]))[len(sizable) // 2]])

    def with_flat(values: np.ndarray) -> Any:
        cuts = np.cumsum([a.size for a in leaves])[:-1]
        parts = [p.reshape(a.shape) for p, a in zip(np.split(values, cuts), leaves, strict=True)]
        return _rebuild(gradient, parts)

    for r in RATES:
        yield Bug("scale", r, r * top / scale, with_flat(flat * (1.0 + r)))
        one = flat.copy()
        one[biggest] *= 1.0 + r
        yield Bug("element", r, r * top / scale, with_flat(one))
    flipped, zeroed = flat.copy(), flat.copy()
    flipped[middle], zeroed[middle] = -flat[middle], 0.0
    yield Bug("sign", math.nan, 2.0 * abs(flat[middle]) / scale, with_flat(flipped))
    yield Bug("zero", math.nan, abs(flat[middle]) / scale, with_flat(zeroed))
    for i, leaf in enumerate(leaves):
        if leaf.ndim == 2 and leaf.shape[0] == leaf.shape[1]:
            size = float(np.max(np.abs(leaf - leaf.T))) / scale
            if size > 0:
                swapped = [a if j != i else a.T.copy() for j, a in enumerate(leaves)]
                yield Bug("transpose", math.nan, size, _rebuild(gradient, swapped))
            break


@dataclass
class Outcome:
    """One check: ``passed``, ``refused`` (TypeError), ``error`` (other exception), counts."""

    passed: bool = False
    refused: bool = False
    error: str = ""
    n_mismatches: int = 0
    n_unresolved: int = 0
    unverifiable: tuple[int, ...] = ()


def run(case: Case, gradient: Any, method: str) -> Outcome:
    """Check ``gradient`` of ``case`` with ``method``; exceptions become outcomes."""
    try:
        result = gradcheck.check_gradient(case.f, case.x, gradient, method=method)
    except TypeError as exc:
        return Outcome(refused=True, error=str(exc)[:200])
    except (ValueError, ArithmeticError) as exc:
        return Outcome(error=f"{type(exc).__name__}: {str(exc)[:200]}")
    status = np.concatenate([np.ravel(s) for s in result.status])
    unverifiable = tuple(int(k) for k in np.flatnonzero(status == gradcheck.report.UNVERIFIABLE))
    return Outcome(result.passed, False, "", result.n_mismatches,
                   int(getattr(result, "n_unresolved", 0)), unverifiable)


@dataclass
class Tally:
    """The figures of one method (see the module notes)."""

    checks: int = 0
    false_alarms: list[str] = field(default_factory=list)
    refused_correct: list[str] = field(default_factory=list)
    unresolved_correct: list[str] = field(default_factory=list)
    unverifiable_smooth: list[str] = field(default_factory=list)
    kink_misreported: list[str] = field(default_factory=list)
    silent_passes: list[str] = field(default_factory=list)
    caught: dict[str, int] = field(default_factory=dict)
    planted: dict[str, int] = field(default_factory=dict)
    by_size: dict[float, list[int]] = field(
        default_factory=lambda: {floor: [0, 0] for floor in SIZE_FLOORS})
    """For each floor, [caught, planted] over the bugs at least that large."""
    seconds: float = 0.0

    def correct(self, case: Case, out: Outcome) -> None:
        """Count the check of a correct gradient."""
        if out.refused:
            (self.false_alarms if case.analytic else self.refused_correct).append(case.name)
        elif out.error or out.n_mismatches:
            self.false_alarms.append(f"{case.name} {out.error}".strip())
        elif out.n_unresolved:
            self.unresolved_correct.append(case.name)
        if case.kinks and set(out.unverifiable) - set(case.kinks):
            self.kink_misreported.append(case.name)
        elif not case.kinks and out.unverifiable:
            self.unverifiable_smooth.append(case.name)

    def bug(self, case: Case, bug: Bug, out: Outcome) -> None:
        """Count the check of a planted bug."""
        key = bug.kind if math.isnan(bug.rate) else f"{bug.kind} {bug.rate:g}"
        self.planted[key] = self.planted.get(key, 0) + 1
        self.caught[key] = self.caught.get(key, 0) + (not out.passed)
        for floor, counts in self.by_size.items():
            if bug.size >= floor:
                counts[0] += not out.passed
                counts[1] += 1
        if out.passed and bug.must_catch:
            self.silent_passes.append(f"{case.name} {key} (size {bug.size:.1e})")

    def summary(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict (lists of names kept, counts added)."""
        out: dict[str, Any] = {"checks": self.checks, "seconds": round(self.seconds, 1)}
        for name in ("false_alarms", "refused_correct", "unresolved_correct",
                     "unverifiable_smooth", "kink_misreported", "silent_passes"):
            items = getattr(self, name)
            out[name] = len(items)
            out[name + "_cases"] = items
        out["caught"] = {k: f"{self.caught[k]}/{self.planted[k]}" for k in sorted(self.planted)}
        out["caught_at_least"] = {f"{k:g}": f"{c}/{n}" for k, (c, n) in self.by_size.items()}
        return out


def tally(corpus: Iterable[Case], method: str,
          on_case: Callable[[Case], None] | None = None) -> Tally:
    """Every check of ``corpus`` with ``method``, counted."""
    t = Tally()
    start = time.perf_counter()
    for case in corpus:
        gradient = case.gradient()
        t.correct(case, run(case, gradient, method))
        t.checks += 1
        skip = case.exact_zero or case.kinks  # a kinked element's verdict is "not verifiable"
        planted = () if skip else bugs(gradient, f_scale(case, gradient))
        for bug in planted:
            t.bug(case, bug, run(case, bug.gradient, method))
            t.checks += 1
        if on_case is not None:
            on_case(case)
    t.seconds = time.perf_counter() - start
    return t


def main(argv: list[str] | None = None) -> int:
    """Write the figures of every method as JSON (stdout, or ``--out``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    corpus = cases()
    figures = {"cases": len(corpus)}
    for method in args.methods.split(","):
        figures[method] = tally(corpus, method).summary()
    text = json.dumps(figures, indent=1)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
