"""Parallel evaluation: chunks of perturbed points sent as tasks to an executor.

Any object with the ``submit(fn, *args) -> future`` method of
:class:`concurrent.futures.Executor`, whose futures have ``result()``, will do: a
``ThreadPoolExecutor``, a ``ProcessPoolExecutor``, or a ``dask.distributed.Client`` as it is
(the core never imports Dask). :class:`ParallelEvaluator` splits each request of
:class:`gradcheck.evaluators.Evaluator` into at most :data:`TASKS_PER_REQUEST` chunks of
consecutive points, no more chunks than blocks of a batched ``f``. A task carries the unperturbed
leaves, ``f``, ``args`` and its chunk of (index, shift) pairs, builds its own evaluator (serial
or batched) on its own working copies, and returns the values in order; the results are gathered
in submission order, so ``f`` is evaluated at the same points with the same arithmetic as on the
serial path and the gradient is bit-identical. ``f(x)`` itself is evaluated in the calling
thread.

Example
-------
>>> from concurrent.futures import ThreadPoolExecutor
>>> import numpy as np
>>> leaves, _, treedef = tree.flatten(np.array([1.0, 2.0, 3.0]))
>>> with ThreadPoolExecutor(2) as pool:
...     ev = ParallelEvaluator(lambda v: float(v @ v), leaves, treedef, (), executor=pool)
...     ev.along(np.array([0, 1, 2]), np.array([1.0, 1.0, 1.0]))
array([17., 19., 21.])
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from gradcheck import evaluators, tree
from gradcheck.evaluators import batched as _batched

__all__ = [
    "TASKS_PER_REQUEST",
    "InnerFactory",
    "ParallelEvaluator",
    "SupportsSubmit",
    "check_executor",
    "check_picklable",
]

TASKS_PER_REQUEST = 32
"""The most tasks one request (up to P points) is split into; more tasks balance the load
better, fewer send ``x``, ``f`` and ``args`` fewer times."""


class SupportsSubmit(Protocol):
    """What an executor must offer: ``submit(fn, *args)`` returning a future with ``result()``."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Schedule ``fn(*args)``; return a future."""


class InnerFactory(Protocol):
    """Builds the evaluator a task (or the calling thread) uses: serial or batched."""

    def __call__(
        self,
        f: evaluators.ScalarFunction,
        leaves: Sequence[tree.FloatArray],
        treedef: tree.TreeDef,
        args: tuple[Any, ...],
        *,
        report: evaluators.Report | None = None,
    ) -> evaluators.Evaluator: ...


def check_executor(executor: object) -> None:
    """TypeError naming ``executor`` unless it has a callable ``submit``."""
    if not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"`executor` is {type(executor).__name__} {executor!r:.60}; it must be a "
            "concurrent.futures.Executor (ThreadPoolExecutor, ProcessPoolExecutor) or an "
            "object with the same submit(fn, *args) -> future API, such as a "
            "dask.distributed.Client"
        )


def check_picklable(executor: object, f: object, args: tuple[Any, ...]) -> None:
    """TypeError naming ``f`` (or ``args``) when a process pool could not send it to a task.

    A ``ProcessPoolExecutor`` pickles what its tasks receive, with the standard pickle, which
    refuses lambdas, closures and local functions; its own error would come from deep inside
    the pool. (Dask pickles with cloudpickle, which takes them; threads pickle nothing.)
    """
    if not isinstance(executor, ProcessPoolExecutor):
        return
    for name, value in (("f", f), ("args", args)):
        try:
            pickle.dumps(value)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            raise TypeError(
                f"`{name}` cannot be sent to the processes of a ProcessPoolExecutor, which "
                f"pickles it ({error}); pass a module-level function or a picklable callable "
                "object (not a lambda, closure or local function), or use a "
                "ThreadPoolExecutor or a dask.distributed.Client"
            ) from error


def _evaluate_chunk(
    make: InnerFactory,
    f: evaluators.ScalarFunction,
    leaves: Sequence[tree.FloatArray],
    treedef: tree.TreeDef,
    args: tuple[Any, ...],
    index: evaluators.IntArray,
    shift: evaluators.Float64Array,
    imaginary: bool,
) -> tuple[npt.NDArray[Any], int, float]:
    """One task: the values of ``f`` at a chunk of points, its count of evaluations, its ε."""
    ev = make(f, leaves, treedef, args)
    values = ev.along_imaginary(index, shift) if imaginary else ev.along(index, shift)
    return values, ev.n_evaluations, ev.result_eps


class ParallelEvaluator(evaluators.BlockEvaluator):
    """Evaluates the points of each request in parallel tasks on ``executor`` (see module).

    Every task receives the unperturbed leaves (pickled once per task by a process pool or
    Dask) and copies them into its own working buffers. If a task raises, the tasks not yet
    gathered are cancelled and the exception propagates with its type.
    """

    def __init__(
        self,
        f: evaluators.ScalarFunction,
        leaves: Sequence[tree.FloatArray],
        treedef: tree.TreeDef,
        args: tuple[Any, ...],
        *,
        executor: Any,
        make: InnerFactory = evaluators.SerialEvaluator,
        report: evaluators.Report | None = None,
    ) -> None:
        check_executor(executor)
        check_picklable(executor, f, args)
        self._f = f
        self._args = args
        self._treedef = treedef
        self._leaves = tuple(
            evaluators.read_only(np.array(leaf, order="C", copy=True)) for leaf in leaves
        )
        self._executor = executor
        self._make = make
        self._local = make(f, self._leaves, treedef, args, report=report)
        self._tally = evaluators.Tally(report)

    @property
    def n_evaluations(self) -> int:
        """How many points ``f`` has been evaluated at, in this thread and in tasks."""
        return self._local.n_evaluations + self._tally.count

    @property
    def result_eps(self) -> float:
        """Machine epsilon of the least precise value ``f`` returned so far (0 before any)."""
        return max(self._local.result_eps, self._tally.eps)

    def at_x(self) -> float:
        """``f(x)``, evaluated in the calling thread."""
        return self._local.at_x()

    def _values(
        self, index: evaluators.IntArray, shift: evaluators.Float64Array, *, imaginary: bool
    ) -> npt.NDArray[Any]:
        """Submit the chunks of a request, then collect their values in order."""
        dtype = np.complex128 if imaginary else np.float64
        # No more tasks than blocks of a batched f: smaller tasks only add calls of f.
        rows = (self._local.block_rows(imaginary)
                if isinstance(self._local, _batched.BatchedEvaluator) else 1)
        n_tasks = min(-(-len(index) // rows), TASKS_PER_REQUEST)
        if n_tasks == 0:
            return np.zeros(0, dtype)
        chunks = zip(np.array_split(np.asarray(index, dtype=np.intp), n_tasks),
                     np.array_split(np.asarray(shift, dtype=np.float64), n_tasks), strict=True)
        futures = [
            self._executor.submit(
                _evaluate_chunk, self._make, self._f, self._leaves, self._treedef, self._args,
                part_index, part_shift, imaginary,
            )
            for part_index, part_shift in chunks
        ]
        parts = []
        try:
            for future in futures:
                values, count, eps = future.result()
                parts.append(values)
                self._tally.started(count)
                self._tally.finished(count, eps)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return np.concatenate(parts).astype(dtype)
