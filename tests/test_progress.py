"""progress=: counts of evaluations as blocks complete; the terminal display of the CLI."""

from __future__ import annotations

import doctest
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from backprop_ref import MLP
from gradcheck import _evaluate, _progress, _tree, check_gradient, cli, numerical_gradient
from gradcheck._problem import PROBE_CALLS

METHODS = ("forward", "central", "complex", "richardson")
CALLS = {"forward": 1, "central": 2, "complex": 1, "richardson": 6}


class _Log:
    """A progress callback that keeps what it is told."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.seen.append((done, total))

    def check(self) -> None:
        """done only grows, never passes total, and ends equal to it."""
        done = [d for d, _ in self.seen]
        assert done == sorted(done) and all(d <= t for d, t in self.seen)
        assert self.seen[-1][0] == self.seen[-1][1]


def _cube(v: Any) -> Any:
    return np.sum(v**3)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("vectorized", [False, True])
def test_numerical_gradient_reports_its_plan(method: str, vectorized: bool) -> None:
    x = np.linspace(-1.0, 1.0, 7)
    log = _Log()
    f = (lambda v: np.sum(v**3, axis=1)) if vectorized else _cube
    numerical_gradient(f, x, method=method, vectorized=vectorized, progress=log)
    log.check()
    total = 7 * CALLS[method] + (method == "forward")
    assert {t for _, t in log.seen} == {total}
    if not vectorized:
        assert [d for d, _ in log.seen] == list(range(1, total + 1))  # one per call of f


def test_check_gradient_grows_total_when_the_confirmation_starts() -> None:
    x = np.linspace(0.1, 1.0, 5)
    log = _Log()
    wrong = 3 * x**2
    wrong[[1, 3]] *= 1.01
    result = check_gradient(_cube, x, wrong, progress=log)
    log.check()
    assert not result.passed and log.seen[-1] == (result.n_evaluations, result.n_evaluations)
    totals = sorted({t for _, t in log.seen})
    planned = 2 + PROBE_CALLS + 2 * 5  # at x twice, f's noise probe, then central differences
    assert totals[0] == planned and totals[-1] == result.n_evaluations > planned


def test_a_nondeterministic_f_ends_with_done_equal_to_total() -> None:
    calls = iter(range(1000))
    log = _Log()
    result = check_gradient(lambda v: float(np.sum(v) + next(calls)), np.ones(4), np.ones(4),
                            progress=log)
    assert result.nondeterministic
    planned = 2 + PROBE_CALLS + 2 * 4
    assert log.seen == [(1, planned), (2, planned), (2, 2)]


def test_an_own_evaluator_that_does_not_report_is_counted_per_request() -> None:
    class Cost:
        def __call__(self, v: Any) -> Any:
            return _cube(v)

        def gradcheck_evaluator(
            self, leaves: Sequence[Any], treedef: _tree.TreeDef, args: tuple[Any, ...]
        ) -> _evaluate.Evaluator:
            return _evaluate.SerialEvaluator(self, leaves, treedef, args)

    log = _Log()
    result = check_gradient(Cost(), np.ones(3), 3 * np.ones(3), progress=log)
    assert result.passed
    planned = 2 + PROBE_CALLS + 2 * 3
    assert [total for _, total in log.seen] == [planned] * len(log.seen)
    assert log.seen[-1] == (planned, planned) == (result.n_evaluations, result.n_evaluations)


def test_a_raising_progress_stops_the_check() -> None:
    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    x = np.ones(3)
    with pytest.raises(KeyboardInterrupt):
        numerical_gradient(_cube, x, progress=stop)
    np.testing.assert_array_equal(x, np.ones(3))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_text_progress_draws_one_throttled_line_on_a_terminal() -> None:
    stream = _Terminal()
    now = [0.0]
    show = _progress.TextProgress("checking", stream=stream, interval=0.3, clock=lambda: now[0])
    for done in range(1, 5):
        now[0] += 0.2
        show(done, 4)
    assert stream.getvalue() == (
        "\rchecking: 1/4 evaluations (25%)"
        "\rchecking: 3/4 evaluations (75%)"
        "\rchecking: 4/4 evaluations (100%)\n"
    )


def test_text_progress_pads_over_a_longer_line() -> None:
    stream = _Terminal()
    show = _progress.TextProgress("p", unit="", stream=stream, interval=0.0)
    show(10, 100)
    show(9, 100)  # a shorter line is padded with blanks over the longer one
    assert stream.getvalue().split("\r")[1:] == ["p: 10/100 (10%)", "p: 9/100 (9%)  "]


@pytest.mark.parametrize("terminal", [False, True])
def test_text_progress_is_silent_off_a_terminal_or_when_disabled(terminal: bool) -> None:
    stream = _Terminal() if terminal else io.StringIO()
    show = _progress.TextProgress("checking", stream=stream, enabled=not terminal)
    show(1, 2)
    show(2, 2)
    assert stream.getvalue() == ""


def test_cli_progress_on_a_terminal() -> None:
    stream = _Terminal()
    progress = cli._Progress(stream)
    progress("checking", 0, 2)
    progress("checking", 2, 2)
    assert stream.getvalue() == (
        "\rchecking: 0/2 case-method pairs (0%)\rchecking: 2/2 case-method pairs (100%)\n"
    )


def test_doctests() -> None:
    assert doctest.testmod(_progress).failed == 0


def test_progress_moves_during_a_structure_aware_check() -> None:
    # A function's own evaluator does not report its blocks: its requests are cut into pieces
    # so that a display still moves during one long request.
    mlp = MLP([20, 60, 40, 5])
    rng = np.random.default_rng(0)
    params = mlp.init_params(rng=rng, scale=0.5)
    X, Y = rng.normal(size=(6, 20)), rng.uniform(size=(6, 5))
    seen: list[tuple[int, int]] = []
    result = check_gradient(
        mlp.objective(X, Y), params, mlp.cost_and_gradient(params, X, Y)[1],
        progress=lambda done, total: seen.append((done, total)),
    )
    assert result.passed
    dones = [done for done, _ in seen]
    assert dones == sorted(dones) and len(set(dones)) >= 4  # 2P = 7810 calls: 4 pieces or more
    assert seen[-1] == (result.n_evaluations, result.n_evaluations)
