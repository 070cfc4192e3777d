"""A deterministic function whose values are remembered across checks at the same points.

``gradcheck verify`` checks the correct gradient of a case and then every planted bug with the
same ``f``, ``x`` and method: the numerical side of those checks (the estimate, the noise
probe, the confirmation of suspicious elements) evaluates ``f`` at the same points each time,
and only the analytic side differs. :class:`Memoized` wraps such an ``f`` and offers the
checker an evaluator (through ``gradcheck_evaluator``, see
:func:`gradcheck.evaluators.factory_for`) that computes each point once: a point is the bytes
of the evaluator's x, the coordinate moved and the shift, real or imaginary. A point missing
from the table is computed by a :class:`gradcheck.evaluators.SerialEvaluator`, so ``f`` sees
exactly what it would see without the table, and the values (hence every verdict) are the
same, bit for bit, for an ``f`` that returns the same value at the same point.

Example
-------
>>> import numpy as np
>>> calls = []
>>> memo = Memoized(lambda w: calls.append(1) or float(np.sum(w**2)))
>>> from gradcheck.check import check_gradient
>>> x = np.array([1.0, 2.0])
>>> check_gradient(memo, x, 2 * x).passed, check_gradient(memo, x, 2 * x).passed
(True, True)
>>> len(calls) == memo.n_computed < 2 * memo.n_served
True
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcheck import evaluators, tree

__all__ = ["Memoized"]

_EPS64 = float(np.finfo(np.float64).eps)

_Point = tuple[int, float, bool]
"""(coordinate, shift, imaginary); (-1, 0.0, False) is x itself."""


class Memoized:
    """``f`` with a table of its values per point (see the module); calling it calls ``f``.

    ``f`` must be deterministic and return Python floats (complex for complex input), as
    `backprop_ref.MLP.cost` does; its values are then exactly those of calling it each time.
    """

    def __init__(self, f: evaluators.ScalarFunction) -> None:
        self._f = f
        self._tables: dict[tuple[str, ...] | bytes, dict[_Point, complex]] = {}
        self.n_computed = 0
        """Calls of ``f`` made through the evaluators."""
        self.n_served = 0
        """Values handed to the checker (computed or remembered)."""

    def __call__(self, x: Any, *args: Any) -> Any:
        return self._f(x, *args)

    def gradcheck_evaluator(
        self, leaves: Sequence[tree.FloatArray], treedef: tree.TreeDef, args: tuple[Any, ...]
    ) -> _MemoEvaluator:
        """An evaluator at ``leaves`` that answers remembered points from the table."""
        key = b"".join(
            np.asarray(leaf).dtype.str.encode() + np.ascontiguousarray(leaf).tobytes()
            for leaf in leaves
        )
        table = self._tables.setdefault(key, {})
        return _MemoEvaluator(self, table, leaves, treedef, args)


class _MemoEvaluator:
    """The evaluator contract of ``gradcheck.evaluators``, with a table in front of ``f``."""

    def __init__(
        self, memo: Memoized, table: dict[_Point, complex],
        leaves: Sequence[tree.FloatArray], treedef: tree.TreeDef, args: tuple[Any, ...],
    ) -> None:
        self._memo = memo
        self._table = table
        self._make = functools.partial(evaluators.SerialEvaluator, memo, leaves, treedef, args)
        self._made: evaluators.SerialEvaluator | None = None
        self._count = 0

    @property
    def _inner(self) -> evaluators.SerialEvaluator:
        """The serial evaluator of the points not in the table, made when first needed."""
        if self._made is None:
            self._made = self._make()
        return self._made

    @property
    def n_evaluations(self) -> int:
        """Values of ``f`` returned, remembered or not (what a serial evaluator counts)."""
        return self._count

    @property
    def result_eps(self) -> float:
        """float64's epsilon once a value was returned (``f`` returns Python numbers)."""
        return _EPS64 if self._count else 0.0

    def at_x(self) -> float:
        """``f(x)``."""
        self._count += 1
        self._memo.n_served += 1
        value = self._table.get((-1, 0.0, False))
        if value is None:
            self._memo.n_computed += 1
            value = self._table[(-1, 0.0, False)] = self._inner.at_x()
        return float(value.real)

    def along(self, index: evaluators.IntArray, shift: evaluators.Float64Array) -> Any:
        """``f(x + shift[j] e_index[j])`` for each j, float64 of shape (len(index),)."""
        return self._values(index, shift, imaginary=False).real.copy()

    def along_imaginary(self, index: evaluators.IntArray, shift: evaluators.Float64Array) -> Any:
        """``f(x + i shift[j] e_index[j])`` for each j, complex128 of shape (len(index),)."""
        return self._values(index, shift, imaginary=True)

    def _values(
        self, index: evaluators.IntArray, shift: evaluators.Float64Array, *, imaginary: bool
    ) -> Any:
        """The values at the points, the missing ones computed in one request."""
        points = [(int(k), float(h), imaginary) for k, h in zip(index, shift, strict=True)]
        out = np.array([self._table.get(p, np.nan) for p in points], dtype=np.complex128)
        missing = [j for j, p in enumerate(points) if p not in self._table]
        if missing:
            request = (self._inner.along_imaginary if imaginary else self._inner.along)
            fresh = request(np.asarray(index)[missing], np.asarray(shift)[missing])
            out[missing] = fresh
            for j, value in zip(missing, fresh.tolist(), strict=True):
                self._table[points[j]] = value
            self._memo.n_computed += len(missing)
        self._count += len(points)
        self._memo.n_served += len(points)
        return out
