"""The command line: ``gradcheck verify`` checks backprop_ref's gradients and plants bugs;
``gradcheck check-mlp`` checks one network of any size in full, with a progress display.

``gradcheck verify`` draws random MLP cases from a seeded Generator, checks the vectorized
and per-example gradients of `backprop_ref` with each method, then plants every bug of
`backprop_ref.bugs` and counts the ones caught. Exit status: 0 when everything passed, 1 when a
correct gradient failed or an applicable bug was missed, 2 for a usage error.

Examples
--------
>>> main(["verify", "--cases", "1", "--methods", "complex", "--quiet", "--json"]) in (0, 1)
... # doctest: +ELLIPSIS
{...}
True
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import gradcheck
from gradcheck.cli._cases import METHODS
from gradcheck.progress import TextProgress

# The commands import backprop_ref: they are imported when they run, so that
# `gradcheck.strategies` can import the case tables of `_cases` without them.
if TYPE_CHECKING:
    from gradcheck.cli._verify import Summary

__all__ = ["DEFAULT_CASES", "main"]

DEFAULT_CASES = 24
"""Cases of a default run: about 8 s on one core, 6 s on two (``time``, an idle 2-core VM)."""
N_REPORTED = 3
"""Failing checks printed with the checker's report."""


def _methods(text: str) -> tuple[str, ...]:
    """``--methods``: a comma-separated list of known methods, no repeats."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in METHODS]
    if not names or unknown or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give distinct methods from {', '.join(METHODS)}, comma-separated"
        )
    return names


def _count(minimum: int) -> Callable[[str], int]:
    """An argparse type: an int >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(
        prog="gradcheck", description="Gradient checking that never cries wolf."
    )
    parser.add_argument("--version", action="version", version=gradcheck.__version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "verify", help="check backprop_ref's gradients on random cases, then plant known bugs"
    )
    run.add_argument("--cases", type=_count(1), default=DEFAULT_CASES, metavar="N",
                     help=f"random cases to draw (default {DEFAULT_CASES})")
    run.add_argument("--seed", type=_count(0), default=0, metavar="S",
                     help="seed of the numpy Generator the cases come from (default 0)")
    run.add_argument("--methods", type=_methods, default=METHODS, metavar="M[,M...]",
                     help=f"methods to check with (default {','.join(METHODS)})")
    run.add_argument("--jobs", type=_count(1), default=None, metavar="J",
                     help="processes that check the cases (default: one per usable core); "
                          "the summary is the same for any J")
    run.add_argument("--json", action="store_true", help="print the summary as JSON, only")
    run.add_argument("--quiet", action="store_true", help="no progress on stderr")
    _check_mlp_parser(commands)
    return parser


def _sizes(text: str) -> tuple[int, ...]:
    """``--layers``: comma-separated layer sizes, at least two, each >= 1."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give two or more sizes >= 1, e.g. 64,128,10")
    return sizes


def _check_mlp_parser(commands: Any) -> None:
    """The ``check-mlp`` subcommand's arguments."""
    from gradcheck.cli._check_mlp import BUG_NAMES
    run = commands.add_parser(
        "check-mlp", help="check the gradient of one random backprop_ref network, in full"
    )
    run.add_argument("--layers", type=_sizes, default=(64, 128, 128, 10), metavar="S1,S2,...",
                     help="layer sizes, input first (default 64,128,128,10)")
    run.add_argument("--batch", type=_count(1), default=64, metavar="M",
                     help="examples in the batch (default 64)")
    run.add_argument("--method", choices=METHODS, default="central")
    run.add_argument("--activation", choices=("sigmoid", "tanh", "relu", "identity"),
                     default="sigmoid")
    run.add_argument("--loss", choices=("squared", "cross_entropy"), default="squared")
    run.add_argument("--weight-decay", type=float, default=1e-4, metavar="λ")
    run.add_argument("--seed", type=_count(0), default=0, metavar="S")
    run.add_argument("--plant", choices=BUG_NAMES, default=None, metavar="BUG",
                     help=f"plant a bug of backprop_ref.bugs first: {', '.join(BUG_NAMES)}")
    run.add_argument("--json", action="store_true", help="print the result as JSON, only")
    run.add_argument("--quiet", action="store_true", help="no progress on stderr")


class _Progress:
    """Progress on a stream: one updating line per phase on a TTY, else one line per phase."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._phase = ""
        self._line = TextProgress("", stream=stream, enabled=False)

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self._tty:
            if phase != self._phase:
                self._line = TextProgress(phase, unit="case-method pairs", stream=self._stream)
            self._line(done, total)
        elif phase != self._phase:
            self._stream.write(f"{phase}: {total} case-method pairs...\n")
        elif done == total:
            self._stream.write(f"{phase}: done\n")
        self._phase = phase
        self._stream.flush()


def _text(summary: Summary) -> str:
    """The readable summary."""
    lines = [
        f"gradcheck verify: {summary.cases} random cases (seed {summary.seed}), "
        f"methods {', '.join(summary.methods)}",
        "  method       checks  failed  worst rel error  worst ‖n−a‖/‖n+a‖  worst |a−n|/tol"
        "  not verifiable",
    ]
    for name, stats in summary.per_method.items():
        lines.append(
            f"  {name:<11}  {stats.checks:>6}  {stats.failures:>6}  "
            f"{stats.worst_rel_error:>15.2e}  {stats.worst_rel_difference:>17.2e}  "
            f"{stats.worst_tolerance_used:>15.3f}  {stats.unverifiable:>14}"
        )
    planted = summary.bugs_applicable + summary.bugs_not_applicable
    lines.append(
        f"bugs: {summary.bugs_caught} of {summary.bugs_applicable} applicable caught "
        f"({planted} planted; {summary.bugs_not_applicable} not applicable: no effect, or "
        "below the method's noise)"
    )
    lines += [f"  MISSED: {text}" for text in summary.missed]
    for what, report in summary.failures:
        lines += [f"FAILED: {what}", *("  " + line for line in report.splitlines())]
    if summary.n_failures > len(summary.failures):
        lines.append(f"... and {summary.n_failures - len(summary.failures)} more failures")
    verdict = "PASSED" if summary.passed else "FAILED"
    lines.append(f"{verdict} in {summary.seconds:.1f} s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 0 if exit_.code in (0, None) else 2
    if args.command is None:
        parser.print_usage(sys.stderr)
        sys.stderr.write("gradcheck: error: a command is required: verify or check-mlp\n")
        return 2
    if args.command == "check-mlp":
        return _run_check_mlp(args)
    from gradcheck.cli._verify import verify

    progress = None if args.quiet else _Progress(sys.stderr)
    jobs = _usable_cores() if args.jobs is None else args.jobs
    summary = verify(args.cases, seed=args.seed, methods=args.methods, progress=progress,
                     max_reported=N_REPORTED, jobs=jobs)
    if args.json:
        sys.stdout.write(json.dumps(summary.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(_text(summary) + "\n")
    return 0 if summary.passed else 1


def _usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _run_check_mlp(args: argparse.Namespace) -> int:
    """``gradcheck check-mlp``: print the report (or its JSON); 0 when it passed."""
    from gradcheck.cli._check_mlp import check_mlp

    try:
        check = check_mlp(
            args.layers, batch=args.batch, method=args.method, seed=args.seed,
            activation=args.activation, loss=args.loss, weight_decay=args.weight_decay,
            bug=args.plant,
            progress=None if args.quiet else TextProgress("checking", stream=sys.stderr),
        )
    except ValueError as error:
        sys.stderr.write(f"gradcheck check-mlp: error: {error}\n")
        return 2
    result = check.result
    if args.json:
        out = {"mlp": repr(check.mlp), "n_examples": check.n_examples, "bug": check.bug,
               "result": result.to_dict()}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        size = sum(leaf.size for leaf in result.leaves)
        planted = f", bug planted: {check.bug}" if check.bug else ""
        sys.stdout.write(f"gradcheck check-mlp: {check.mlp!r}, m={check.n_examples}, "
                         f"P={size}{planted}\n{result}\n")
    return 0 if result.passed else 1
