"""The command line: ``gradcheck verify`` checks backprop_ref's gradients and plants bugs.

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
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

import gradcheck
from gradcheck._verify import METHODS, Summary, verify

__all__ = ["DEFAULT_CASES", "main"]

DEFAULT_CASES = 24
"""Cases of a default run: about 10 s on one core."""
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
    run.add_argument("--json", action="store_true", help="print the summary as JSON, only")
    run.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


class _Progress:
    """Progress on a stream: one updating line on a TTY, else one line per phase."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._phase = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self._tty:
            end = "\n" if done == total else ""
            self._stream.write(f"\r{phase}: {done}/{total} case-method pairs{end}")
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
        "  method       checks  failed  worst rel error  worst ‖n−a‖/‖n+a‖  not verifiable",
    ]
    for name, stats in summary.per_method.items():
        lines.append(
            f"  {name:<11}  {stats.checks:>6}  {stats.failures:>6}  "
            f"{stats.worst_rel_error:>15.2e}  {stats.worst_rel_difference:>17.2e}  "
            f"{stats.unverifiable:>14}"
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
        sys.stderr.write("gradcheck: error: a command is required (verify)\n")
        return 2
    progress = None if args.quiet else _Progress(sys.stderr)
    summary = verify(args.cases, seed=args.seed, methods=args.methods, progress=progress,
                     max_reported=N_REPORTED)
    if args.json:
        sys.stdout.write(json.dumps(summary.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(_text(summary) + "\n")
    return 0 if summary.passed else 1
