"""Progress: counting evaluations of ``f`` for a ``progress(done, total)`` callback.

:class:`Tracker` keeps ``done`` (evaluations of ``f`` completed) and ``total`` (the plan) and
tells the callback after every completed block; :class:`Tracked` wraps any evaluator so that
its requests reach the tracker, also for evaluators that do not report their own blocks. The
callbacks themselves, and the text bar of ``progress=True``, are in :mod:`gradcheck.progress`.

Example
-------
>>> seen = []
>>> tracker = Tracker(lambda done, total: seen.append((done, total)), planned=4, growth=6)
>>> tracker.expect(4); tracker.advance(3); tracker.advance(1)
>>> tracker.expect(2); tracker.advance(2); tracker.finish()
>>> seen
[(3, 4), (4, 4), (6, 16), (6, 6)]
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from gradcheck import _evaluate
from gradcheck.progress import Progress

__all__ = ["Tracked", "Tracker"]

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
        self, inner: _evaluate.Evaluator, tracker: Tracker, *, split: bool = False
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
        self, index: _evaluate.IntArray, shift: _evaluate.Float64Array
    ) -> _evaluate.Float64Array:
        """``f(x + shift[j] e_index[j])`` for each j, shape (len(index),)."""
        pieces = [
            self._run(len(i), functools.partial(self._inner.along, i, h))
            for i, h in self._pieces(index, shift)
        ]
        return np.concatenate(pieces) if pieces else np.empty(0)

    def along_imaginary(
        self, index: _evaluate.IntArray, shift: _evaluate.Float64Array
    ) -> _evaluate.Complex128Array:
        """``f(x + i shift[j] e_index[j])`` for each j, shape (len(index),)."""
        pieces = [
            self._run(len(i), functools.partial(self._inner.along_imaginary, i, h))
            for i, h in self._pieces(index, shift)
        ]
        return np.concatenate(pieces) if pieces else np.empty(0, dtype=np.complex128)

    def _pieces(
        self, index: _evaluate.IntArray, shift: _evaluate.Float64Array
    ) -> list[tuple[_evaluate.IntArray, _evaluate.Float64Array]]:
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
