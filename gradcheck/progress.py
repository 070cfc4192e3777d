"""Progress of a long check: the ``progress(done, total)`` callback, and a text bar for it.

:func:`gradcheck.check_gradient` and :func:`gradcheck.numerical_gradient` take
``progress=True`` for a :class:`TextProgress` bar on stderr, or any callable
``progress(done, total)`` (:data:`Progress`), told ``done`` evaluations of f out of ``total``
as blocks of them complete. The bar is drawn only on a terminal and only once the work has
taken more than ``delay`` seconds (1 s), like tqdm's bars: a quick check, a log file or a CI
job sees nothing.

The counting behind the callback: :class:`Tracker` keeps ``done`` (evaluations of f completed)
and ``total`` (the plan) and tells the callback after every completed block; :class:`Tracked`
wraps any evaluator so that its requests reach the tracker, also for evaluators that do not
report their own blocks.

Example
-------
>>> import io
>>> class Terminal(io.StringIO):
...     def isatty(self): return True
>>> now = [0.0]
>>> bar = TextProgress("checking", stream=Terminal(), clock=lambda: now[0])
>>> bar(0, 400); now[0] = 2.0; bar(100, 400); now[0] = 8.0; bar(400, 400)
>>> print(bar.stream.getvalue().replace("\\r", "\\n").strip())
checking:  25%|#####               | 100/400 [00:02<00:06, 50 evaluations/s]
checking: 100%|####################| 400/400 [00:08<00:00, 50 evaluations/s]
>>> seen = []
>>> tracker = Tracker(lambda done, total: seen.append((done, total)), planned=4, growth=6)
>>> tracker.expect(4); tracker.advance(3); tracker.advance(1)
>>> tracker.expect(2); tracker.advance(2); tracker.finish()
>>> seen
[(3, 4), (4, 4), (6, 16), (6, 6)]
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from typing import TextIO, TypeVar

import numpy as np

from gradcheck import evaluators

__all__ = ["DELAY", "Progress", "TextProgress"]

Progress = Callable[[int, int], None]
"""``progress(done, total)``: evaluations of f completed, and planned."""

DELAY = 1.0
"""Seconds of work before a bar is first drawn (the default ``delay``)."""

_BLOCKS = " ▏▎▍▌▋▊▉█"
"""Eighths of a cell, for terminals that take UTF-8."""


def _clock_text(seconds: float) -> str:
    """``mm:ss``, or ``h:mm:ss`` from an hour on."""
    whole = int(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _rate_text(rate: float) -> str:
    """``6670`` from 100 on, three significant digits below (``7.5``, ``0.00268``)."""
    return f"{rate:.0f}" if rate >= 100 else f"{rate:.3g}"


class TextProgress:
    """A ``progress(done, total)`` callback drawing a tqdm-style bar on a terminal.

    ``label: 45%|#########           | 450/1000 [00:02<00:03, 210 evaluations/s]``, redrawn
    over itself with a carriage return at most once per ``interval`` seconds; the last update
    (``done == total``) always, then a newline. Nothing is written when ``enabled`` is false,
    when ``stream`` (default ``sys.stderr``) is not a terminal, or before ``delay`` seconds
    have passed since the first call: a check that takes less shows no bar at all.

    Parameters
    ----------
    label : str
        Written before the bar.
    unit : str, optional
        The unit of the rate (default ``"evaluations"``, of f).
    stream : text stream, optional
        Default ``sys.stderr``, looked up when the bar is made.
    enabled : bool, optional
        False: never write anything.
    interval : float, optional
        The least time between two redraws, in seconds (default 0.1).
    delay : float, optional
        The time before the first draw, in seconds (default :data:`DELAY`, 1 s).
    clock : callable, optional
        Seconds from an arbitrary origin (default ``time.monotonic``).
    """

    def __init__(
        self,
        label: str,
        *,
        unit: str = "evaluations",
        stream: TextIO | None = None,
        enabled: bool = True,
        interval: float = 0.1,
        delay: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.unit = unit
        self.stream = sys.stderr if stream is None else stream
        self._active = enabled and self.stream.isatty()
        self._interval = interval
        self._delay = DELAY if delay is None else delay
        self._clock = clock
        self._start: float | None = None
        self._last = -float("inf")
        self._width = 0
        encoding = (getattr(self.stream, "encoding", None) or "").lower().replace("-", "")
        self._blocks = _BLOCKS if encoding == "utf8" else " #"

    def __call__(self, done: int, total: int) -> None:
        if not self._active:
            return
        now = self._clock()
        if self._start is None:
            self._start = now
        final = done >= total
        shown = self._width > 0
        if now - self._start < self._delay and not shown:
            return  # quick work shows nothing, not even its last update
        if not final and now - self._last < self._interval:
            return
        self._last = now
        line = self.line(done, total, now - self._start)
        self.stream.write("\r" + line.ljust(self._width) + ("\n" if final else ""))
        self.stream.flush()
        self._width = 0 if final else len(line)

    def line(self, done: int, total: int, elapsed: float) -> str:
        """The text of the bar for ``done`` of ``total`` after ``elapsed`` seconds."""
        fraction = min(1.0, done / total) if total > 0 else 1.0
        cells = 20
        steps = len(self._blocks) - 1
        filled = int(fraction * cells * steps)
        full, part = divmod(filled, steps)
        bar = self._blocks[-1] * full + (self._blocks[part] if full < cells else "")
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (total - done) / rate if rate > 0 else 0.0
        unit = f" {self.unit}/s" if self.unit else "/s"
        return (
            f"{self.label}: {int(100 * fraction):3d}%|{bar.ljust(cells)}| {done}/{total} "
            f"[{_clock_text(elapsed)}<{_clock_text(left)}, {_rate_text(rate)}{unit}]"
        )


_T = TypeVar("_T")


class Tracker:
    """``done`` and ``total`` evaluations of ``f``, told to ``progress`` as blocks complete.

    ``total`` starts as the plan. A request that would take ``done`` past ``total`` is the
    start of work beyond the plan (the confirmation of failing elements): ``total`` then grows
    by ``growth`` evaluations per point of that request, and never falls below ``done``.
    """

    def __init__(self, progress: Progress, *, planned: int = 0, growth: int = 1) -> None:
        self._progress = progress
        self._growth = growth
        self.done = 0
        self.total = planned
        self._told = (-1, -1)

    def expect(self, n: int) -> None:
        """A request for ``n`` evaluations is about to start."""
        if self.done + n > self.total:
            self.total = self.done + self._growth * n

    def advance(self, n: int) -> None:
        """``n`` more evaluations have completed."""
        self.done += n
        self.total = max(self.total, self.done)
        self._tell()

    def finish(self) -> None:
        """The work is over: ``total`` becomes ``done``, and the callback hears it once more."""
        self.total = self.done
        if self._told != (self.done, self.total):
            self._tell()

    def _tell(self) -> None:
        """Call the callback with the current counts."""
        self._told = (self.done, self.total)
        self._progress(self.done, self.total)


SPLIT_PIECES = 40
"""A request to an evaluator that does not report its own blocks is cut into about this many
pieces, so that the display moves during one long request."""
SPLIT_MIN = 2048
"""...but never into pieces of fewer evaluations than this (each piece has a fixed cost)."""


class Tracked:
    """An evaluator whose requests are announced to a :class:`Tracker` and settled after.

    Evaluations the inner evaluator did not report itself (one that takes no ``report``, such
    as a function's own ``gradcheck_evaluator``) are reported when its request returns; with
    ``split`` such requests are cut into pieces (see :data:`SPLIT_PIECES`), so that progress
    moves during them.
    """

    def __init__(
        self, inner: evaluators.Evaluator, tracker: Tracker, *, split: bool = False
    ) -> None:
        self._inner = inner
        self._tracker = tracker
        self._split = split

    @property
    def n_evaluations(self) -> int:
        """How many times ``f`` has been evaluated."""
        return self._inner.n_evaluations

    @property
    def result_eps(self) -> float:
        """Machine epsilon of the least precise value ``f`` returned so far (0 before any)."""
        return self._inner.result_eps

    def at_x(self) -> float:
        """``f(x)``."""
        return self._run(1, self._inner.at_x)

    def along(
        self, index: evaluators.IntArray, shift: evaluators.Float64Array
    ) -> evaluators.Float64Array:
        """``f(x + shift[j] e_index[j])`` for each j, shape (len(index),)."""
        pieces = [
            self._run(len(i), functools.partial(self._inner.along, i, h))
            for i, h in self._pieces(index, shift)
        ]
        return np.concatenate(pieces) if pieces else np.empty(0)

    def along_imaginary(
        self, index: evaluators.IntArray, shift: evaluators.Float64Array
    ) -> evaluators.Complex128Array:
        """``f(x + i shift[j] e_index[j])`` for each j, shape (len(index),)."""
        pieces = [
            self._run(len(i), functools.partial(self._inner.along_imaginary, i, h))
            for i, h in self._pieces(index, shift)
        ]
        return np.concatenate(pieces) if pieces else np.empty(0, dtype=np.complex128)

    def _pieces(
        self, index: evaluators.IntArray, shift: evaluators.Float64Array
    ) -> list[tuple[evaluators.IntArray, evaluators.Float64Array]]:
        """The request whole, or cut into pieces when ``split``."""
        n = len(index)
        size = max(SPLIT_MIN, -(-n // SPLIT_PIECES)) if self._split else max(n, 1)
        return [(index[k : k + size], shift[k : k + size]) for k in range(0, max(n, 1), size)]

    def _run(self, n: int, request: Callable[[], _T]) -> _T:
        """Announce ``n`` evaluations, run the request, report what it did not."""
        tracker = self._tracker
        tracker.expect(n)
        count, done = self._inner.n_evaluations, tracker.done
        out = request()
        missing = (self._inner.n_evaluations - count) - (tracker.done - done)
        if missing > 0:
            tracker.advance(missing)
        return out
