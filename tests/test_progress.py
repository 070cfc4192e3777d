"""progress=: counts of evaluations as blocks complete; the text bar (progress=True, the CLI)."""

from __future__ import annotations

import doctest
import io
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from backprop_ref import MLP
from gradcheck import check_gradient, cli, numerical_gradient, progress
from gradcheck import evaluators as _evaluate
from gradcheck import progress as _progress
from gradcheck import tree as _tree
from gradcheck.methods import PROBE_CALLS
from gradcheck.progress import TextProgress

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


class _Utf8Terminal(_Terminal):
    encoding = "UTF-8"  # type: ignore[assignment]


def test_text_progress_draws_a_throttled_bar_on_a_terminal() -> None:
    stream = _Terminal()
    now = [0.0]
    show = TextProgress("checking", stream=stream, interval=0.3, delay=0.0,
                        clock=lambda: now[0])
    for done in range(1, 5):
        now[0] += 0.2
        show(done, 4)
    assert stream.getvalue() == (
        "\rchecking:  25%|#####               | 1/4 [00:00<00:00, 0 evaluations/s]"
        "\rchecking:  75%|###############     | 3/4 [00:00<00:00, 7.5 evaluations/s]"
        "\rchecking: 100%|####################| 4/4 [00:00<00:00, 6.67 evaluations/s]\n"
    )


def test_text_progress_shows_nothing_for_work_shorter_than_its_delay() -> None:
    stream = _Terminal()
    now = [0.0]
    show = TextProgress("checking", stream=stream, interval=0.0, clock=lambda: now[0])
    for done in range(5):
        now[0] = 0.2 * done  # 0.8 s in all: under the default delay of 1 s
        show(done, 4)
    assert stream.getvalue() == ""
    now[0] = 1.5
    show(5, 10)  # past the delay: the bar appears, and then ends with a newline
    show(10, 10)
    assert stream.getvalue().endswith("| 10/10 [00:01<00:00, 6.67 evaluations/s]\n")


def test_text_progress_bar_in_eighths_on_a_utf8_terminal() -> None:
    show = TextProgress("p", unit="", stream=_Utf8Terminal(), delay=0.0)
    line = "p:  31%|██████▎             | 10/32 [1:02:05<2:16:35, 0.00268/s]"
    assert show.line(10, 32, 3725.0) == line
    assert show.line(0, 0, 0.0) == "p: 100%|████████████████████| 0/0 [00:00<00:00, 0/s]"
    assert show.line(7001, 10000, 2.0).endswith("| 7001/10000 [00:02<00:00, 3500/s]")


def test_text_progress_pads_over_a_longer_line() -> None:
    stream = _Terminal()
    show = TextProgress("p", unit="", stream=stream, interval=0.0, delay=0.0, clock=lambda: 5.0)
    show(10, 100)
    show(9, 100)  # a shorter line is padded with blanks over the longer one
    first, second = stream.getvalue().split("\r")[1:]
    assert len(second) == len(first) and second.endswith(" ")


@pytest.mark.parametrize("terminal", [False, True])
def test_text_progress_is_silent_off_a_terminal_or_when_disabled(terminal: bool) -> None:
    stream = _Terminal() if terminal else io.StringIO()
    show = TextProgress("checking", stream=stream, enabled=not terminal, delay=0.0)
    show(1, 2)
    show(2, 2)
    assert stream.getvalue() == ""


def test_progress_true_draws_on_a_terminal_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(progress, "DELAY", 0.0)
    result = check_gradient(_cube, np.ones(3), lambda x: 3 * x**2, progress=True)
    assert result.passed
    lines = stream.getvalue().split("\r")
    assert lines[-1].startswith("gradcheck: 100%|") and lines[-1].endswith("\n")
    assert f"| {result.n_evaluations}/{result.n_evaluations} [" in lines[-1]


@pytest.mark.parametrize("value", [True, False, None])
def test_progress_true_is_quiet_off_a_terminal(
    value: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    gradient = numerical_gradient(_cube, np.ones(3), progress=value)  # type: ignore[arg-type]
    np.testing.assert_allclose(gradient, 3.0, rtol=1e-9)
    assert capsys.readouterr().err == ""


def test_cli_progress_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    stream = _Terminal()
    bar = cli._Progress(stream)
    bar("checking", 0, 2)
    bar("checking", 2, 2)
    assert stream.getvalue().startswith("\rchecking:   0%|")
    assert stream.getvalue().endswith("case-method pairs/s]\n")
    assert "| 2/2 [00:" in stream.getvalue()


def test_doctests() -> None:
    assert doctest.testmod(_progress).failed == 0
    assert doctest.testmod(progress).failed == 0


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
