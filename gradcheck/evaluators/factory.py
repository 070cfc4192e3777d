"""The evaluation options of the public functions, and the evaluator factory they choose.

``vectorized``, ``executor``, ``max_batch_bytes`` and ``progress`` decide how ``f`` is
evaluated, never what is computed: :func:`options` validates them, and a :class:`Plan` turns
them into the :data:`gradcheck.evaluators.EvaluatorFactory` of one call of
:func:`gradcheck.numerical_gradient` or :func:`gradcheck.check_gradient`:

=====================  ===================  =============================================
vectorized, executor   evaluator            f is called
=====================  ===================  =============================================
False, None            f's own or serial    once per point, in this thread
True, None             batched              once per block of points, in this thread
False, an executor     parallel (serial)    once per point, in tasks
True, an executor      parallel (batched)   once per block of points, in tasks
=====================  ===================  =============================================

With ``progress`` the evaluator is wrapped in :class:`gradcheck.progress.Tracked`.

Example
-------
>>> import numpy as np
>>> seen = []
>>> plan = Plan(np.sum, options(progress=lambda d, t: seen.append((d, t))), "central", 0)
>>> ev = plan.factory(np.sum, [np.ones(3)], tree.flatten(np.ones(3))[2], ())
>>> _ = ev.along(np.arange(3), np.full(3, 0.5)); plan.finish()
>>> seen
[(1, 6), (2, 6), (3, 6), (3, 3)]
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck import evaluators as _evaluate
from gradcheck import progress as _progress
from gradcheck import steps, tree
from gradcheck.evaluators import batched as _batched
from gradcheck.evaluators import parallel as _parallel
from gradcheck.progress import Progress, TextProgress

__all__ = ["CONFIRMATION_CALLS", "Options", "Plan", "options"]

CONFIRMATION_CALLS = 6
"""Evaluations of f per element the checker looks at again (Richardson; gradcheck.verdict)."""


@dataclass(frozen=True)
class Options:
    """Validated evaluation options (see :func:`options`)."""

    vectorized: bool = False
    executor: Any = None
    max_batch_bytes: int = _batched.DEFAULT_MAX_BATCH_BYTES
    progress: Progress | None = None


def options(
    *,
    vectorized: object = False,
    executor: object = None,
    max_batch_bytes: object = None,
    progress: object = None,
) -> Options:
    """The evaluation options, or TypeError/ValueError naming the bad one."""
    if not isinstance(vectorized, (bool, np.bool_)):
        raise TypeError(f"`vectorized` is {vectorized!r}; it must be True or False")
    if executor is not None:
        _parallel.check_executor(executor)
    return Options(
        bool(vectorized), executor, _batch_bytes(max_batch_bytes, bool(vectorized)),
        _progress_callback(progress),
    )


def _progress_callback(progress: object) -> Progress | None:
    """``progress`` as a callback: True is a text bar on stderr, False and None are none."""
    if progress is None or progress is False:
        return None
    if progress is True:
        return TextProgress("gradcheck")
    if not callable(progress):
        raise TypeError(
            f"`progress` is {progress!r}; it must be True (a bar on stderr), False, None or a "
            "callable progress(done, total)"
        )
    callback: Progress = progress
    return callback


def _batch_bytes(value: object, vectorized: bool) -> int:
    """``max_batch_bytes`` as a positive int (the default for None)."""
    if value is None:
        return _batched.DEFAULT_MAX_BATCH_BYTES
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`max_batch_bytes` is {value!r}; it must be a positive integer")
    if value <= 0:
        raise ValueError(f"`max_batch_bytes` is {value!r}; it must be a positive integer")
    if not vectorized:
        raise ValueError(
            f"`max_batch_bytes` is {value!r} but `vectorized` is False; it bounds the batches "
            "handed to a vectorized f, so pass vectorized=True or leave it out"
        )
    return int(value)


_REPORTING = (_evaluate.SerialEvaluator, _batched.BatchedEvaluator, _parallel.ParallelEvaluator)
"""The evaluators that report their own blocks of evaluations to the progress tracker."""


class Plan:
    """The evaluators of one public call of the checker: their factory and their progress.

    ``calls_at_x`` is the number of evaluations at x the caller makes besides the method's
    estimate (2 for check_gradient, 1 for forward differences in numerical_gradient).
    """

    def __init__(self, f: _evaluate.ScalarFunction, opts: Options, method: object,
                 calls_at_x: int) -> None:
        self._f = f
        self._opts = opts
        self._method = method
        self._calls_at_x = calls_at_x
        self._tracker: _progress.Tracker | None = None
        if opts.progress is not None:
            # The confirmation's first request carries both sides of its finest level, 2 of
            # its 6 calls per element: the rest is twice that request again.
            self._tracker = _progress.Tracker(opts.progress, growth=CONFIRMATION_CALLS // 2)

    def factory(
        self,
        g: _evaluate.ScalarFunction,
        leaves: Sequence[tree.FloatArray],
        treedef: tree.TreeDef,
        args: tuple[Any, ...],
    ) -> _evaluate.Evaluator:
        """The evaluator of ``g`` (f, or f wrapped by the checker) at the given x."""
        tracker = self._tracker
        if tracker is None:
            return self._evaluator(g, leaves, treedef, args, None)
        if tracker.total == 0:
            per = steps.METHODS[steps.check_method(self._method)].calls
            tracker.total = self._calls_at_x + per * sum(int(leaf.size) for leaf in leaves)
        inner = self._evaluator(g, leaves, treedef, args, tracker.advance)
        own = not isinstance(inner, _REPORTING)
        return _progress.Tracked(inner, tracker, split=own)

    def finish(self) -> None:
        """Tell ``progress`` the final count, with ``done == total``."""
        if self._tracker is not None:
            self._tracker.finish()

    def _evaluator(
        self,
        g: _evaluate.ScalarFunction,
        leaves: Sequence[tree.FloatArray],
        treedef: tree.TreeDef,
        args: tuple[Any, ...],
        report: _evaluate.Report | None,
    ) -> _evaluate.Evaluator:
        """The evaluator the options choose (see the module's table)."""
        opts = self._opts
        make: _parallel.InnerFactory = _evaluate.SerialEvaluator
        if opts.vectorized:
            make = functools.partial(
                _batched.BatchedEvaluator, max_batch_bytes=opts.max_batch_bytes
            )
        if opts.executor is not None:
            return _parallel.ParallelEvaluator(
                g, leaves, treedef, args, executor=opts.executor, make=make, report=report
            )
        if opts.vectorized:
            return make(g, leaves, treedef, args, report=report)
        own = _evaluate.factory_for(self._f)
        if own is _evaluate.SerialEvaluator:
            return _evaluate.SerialEvaluator(g, leaves, treedef, args, report=report)
        return own(g, leaves, treedef, args)
