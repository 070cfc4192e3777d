"""The evaluation layer: ``f`` at ``x`` and at ``x`` moved along single coordinates.

Every estimator in :mod:`gradcheck.methods` talks to ``f`` only through an :class:`Evaluator`,
so a batched, parallel or structure-aware evaluator can replace :class:`SerialEvaluator`
without touching the estimators. Coordinates are numbered ``k = 0 .. P-1`` over all leaves of
``x``, each leaf in C order, leaves in flatten order (see :class:`gradcheck.tree.Layout`).

:class:`Evaluator` is the public seam: a function that knows a faster way to evaluate itself
(its unperturbed activations, say) plugs in through a method ``gradcheck_evaluator(leaves,
treedef, args)`` returning an object with this contract (see :func:`factory_for`), as
``backprop_ref.fast.Objective`` does. The contract of an evaluator:

* ``at_x()`` returns ``f(x)`` as a float;
* ``along(index, shift)`` returns ``f(x + shift[j] e_index[j])`` for each j, in order, as a
  float64 array; ``shift`` holds representable real shifts;
* ``along_imaginary(index, shift)`` returns ``f(x + i shift[j] e_index[j])`` as a complex128
  array, ``x`` held in the complex dtype matching each leaf (complex128 or complex64);
* ``n_evaluations`` counts the calls of ``f``; ``result_eps`` is the machine epsilon of the
  least precise value ``f`` has returned so far;
* ``f`` never receives the caller's arrays, and the caller's arrays are never changed, whatever
  ``f`` does or raises; values returned by ``f`` are validated with :func:`scalar_value`;
* it is built as ``make(f, leaves, treedef, args)`` (an :data:`EvaluatorFactory`), ``f`` called
  as ``f(x, *args)`` with ``x`` rebuilt from ``treedef``.

The evaluators of this package also take a keyword ``report``: a callable ``report(n)`` told
after each completed block of ``n`` evaluations (the progress hook, see
:mod:`gradcheck.progress`); they keep their counts in one :class:`Tally`.
:mod:`gradcheck.evaluators.batched` evaluates blocks of points in one call of a vectorized
``f``; :mod:`gradcheck.evaluators.parallel` sends them to an executor.

Example
-------
>>> import numpy as np
>>> x = [np.array([1.0, 2.0]), np.array(3.0)]
>>> leaves, _, treedef = tree.flatten(x)
>>> ev = SerialEvaluator(lambda p: float(np.sum(p[0]) * p[1]), leaves, treedef, ())
>>> ev.at_x()
9.0
>>> ev.along(np.array([0, 2]), np.array([0.5, -1.0]))
array([10.5,  6. ])
>>> ev.n_evaluations, x[0]
(3, array([1., 2.]))
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from gradcheck import tree
from gradcheck.tree import COMPLEX_STEP_HELP, describe_value

__all__ = [
    "COMPLEX_STEP_HELP",
    "BlockEvaluator",
    "ComplexInputGuard",
    "Counted",
    "Evaluator",
    "EvaluatorFactory",
    "Report",
    "SerialEvaluator",
    "Tally",
    "describe_value",
    "factory_for",
    "read_only",
    "scalar_value",
]

ScalarFunction = Callable[..., Any]
IntArray = npt.NDArray[np.intp]
Float64Array = npt.NDArray[np.float64]
Complex128Array = npt.NDArray[np.complex128]

_ComplexWarning: type[Warning] = getattr(
    getattr(np, "exceptions", np), "ComplexWarning", RuntimeWarning
)
_EPS64 = float(np.finfo(np.float64).eps)
class Evaluator(Protocol):
    """Evaluates ``f`` at ``x`` and at ``x`` moved along single coordinates (see module)."""

    @property
    def n_evaluations(self) -> int:
        """How many times ``f`` has been called."""

    @property
    def result_eps(self) -> float:
        """Machine epsilon of the least precise value ``f`` returned so far (0 before any)."""

    def at_x(self) -> float:
        """``f(x)``."""

    def along(self, index: IntArray, shift: Float64Array) -> Float64Array:
        """``f(x + shift[j] e_index[j])`` for each j, shape (len(index),)."""

    def along_imaginary(self, index: IntArray, shift: Float64Array) -> Complex128Array:
        """``f(x + i shift[j] e_index[j])`` for each j, shape (len(index),)."""


class BlockEvaluator(abc.ABC):
    """Base of evaluators that answer real and imaginary requests with one method."""

    def along(self, index: IntArray, shift: Float64Array) -> Float64Array:
        """``f(x + shift[j] e_index[j])`` for each j, shape (len(index),)."""
        values: Float64Array = self._values(index, shift, imaginary=False)
        return values

    def along_imaginary(self, index: IntArray, shift: Float64Array) -> Complex128Array:
        """``f(x + i shift[j] e_index[j])`` for each j, shape (len(index),)."""
        values: Complex128Array = self._values(index, shift, imaginary=True)
        return values

    @abc.abstractmethod
    def _values(
        self, index: IntArray, shift: Float64Array, *, imaginary: bool
    ) -> npt.NDArray[Any]:
        """The values of f at the points: float64, or complex128 when ``imaginary``."""


EvaluatorFactory = Callable[
    [ScalarFunction, Sequence[tree.FloatArray], tree.TreeDef, tuple[Any, ...]], Evaluator
]
"""Builds an evaluator from ``f``, the leaves of ``x``, its tree definition and ``args``;
:class:`SerialEvaluator` is one."""

Report = Callable[[int], None]
"""``report(n)``: n more evaluations of ``f`` have completed."""


def factory_for(f: ScalarFunction) -> EvaluatorFactory:
    """The evaluator factory for ``f``: its own ``gradcheck_evaluator`` if it has one.

    A function object may offer a faster evaluator of itself (a neural network that reuses
    its unperturbed activations, say) as a method ``gradcheck_evaluator(leaves, treedef, args)``
    returning an :class:`Evaluator`; the checker then uses it in place of
    :class:`SerialEvaluator`, with the same steps and formulas.
    """
    own = getattr(f, "gradcheck_evaluator", None)
    if own is None:
        return SerialEvaluator

    def make(
        g: ScalarFunction,
        leaves: Sequence[tree.FloatArray],
        treedef: tree.TreeDef,
        args: tuple[Any, ...],
    ) -> Evaluator:
        if g is not f:  # f wrapped, e.g. to split (value, gradient): no shortcut applies
            return SerialEvaluator(g, leaves, treedef, args)
        evaluator: Evaluator = own(leaves, treedef, args)
        return evaluator

    return make


def scalar_value(value: object, *, complex_input: bool) -> tuple[complex, float]:
    """A value returned by ``f`` as a Python number and the epsilon of its precision.

    Accepts Python and numpy real scalars and 0-d arrays (complex ones for complex input);
    anything else is a TypeError naming ``f`` and what it returned.
    """
    raw = value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`f` must return a real scalar; it returned {describe_value(raw)}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        if complex_input:
            raise TypeError(
                f"`f` returned a real number ({describe_value(raw)}) for complex x; "
                + COMPLEX_STEP_HELP
            )
        eps = float(np.finfo(value.dtype).eps) if isinstance(value, np.floating) else _EPS64
        return float(value), eps
    if isinstance(value, (complex, np.complexfloating)) and complex_input:
        eps = float(np.finfo(value.dtype).eps) if isinstance(value, np.generic) else _EPS64
        return complex(value), eps
    hint = (
        " (a function returning (value, gradient) needs grad=None)"
        if isinstance(raw, (tuple, list))
        else ""
    )
    raise TypeError(
        "`f` must return a real scalar (a Python or numpy float, or a 0-d array); it returned "
        f"{describe_value(raw)}{hint}"
    )


def read_only(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A read-only view of ``array``."""
    view: npt.NDArray[Any] = array.view()
    view.flags.writeable = False
    return view


class ComplexInputGuard:
    """For complex x: ComplexWarning and TypeError from ``f`` as a TypeError explaining why.

    For real x it does nothing (and costs next to nothing: it is entered once per call of f).
    """

    def __init__(self, complex_input: bool) -> None:
        self._warnings = warnings.catch_warnings() if complex_input else None

    def __enter__(self) -> None:
        if self._warnings is not None:
            self._warnings.__enter__()
            warnings.simplefilter("error", _ComplexWarning)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._warnings is None:
            return
        self._warnings.__exit__(kind, exc, tb)
        if isinstance(exc, (TypeError, _ComplexWarning)):
            raise TypeError(
                f"`f` raised {type(exc).__name__} ({exc}) when called with complex x; "
                + COMPLEX_STEP_HELP
            ) from exc


def _is_read_only_error(exc: ValueError) -> bool:
    """Whether numpy raised ``exc`` because something wrote into a read-only array."""
    return "read-only" in str(exc)


class Tally:
    """The counting and precision bookkeeping of an evaluator, written once for all of them.

    ``count``: evaluations of ``f`` started; ``eps``: machine epsilon of the least precise value
    ``f`` returned (0 before any). ``report`` (the progress hook) is told of each completed block.

    Example
    -------
    >>> told = []
    >>> tally = Tally(told.append)
    >>> tally.started(3); tally.finished(3, 2.0**-23)
    >>> tally.count, tally.eps, told
    (3, 1.1920928955078125e-07, [3])
    """

    __slots__ = ("_report", "count", "eps")

    def __init__(self, report: Report | None = None) -> None:
        self.count = 0
        self.eps = 0.0
        self._report = report

    def started(self, n: int) -> None:
        """``n`` evaluations of ``f`` begin (counted even if ``f`` then raises)."""
        self.count += n

    def finished(self, n: int, eps: float) -> None:
        """``n`` evaluations returned values of machine epsilon ``eps`` at the least."""
        self.eps = max(self.eps, eps)
        if self._report is not None:
            self._report(n)


class Counted:
    """``n_evaluations`` and ``result_eps`` of an evaluator that keeps a :class:`Tally`."""

    _tally: Tally

    @property
    def n_evaluations(self) -> int:
        """How many points ``f`` has been evaluated at."""
        return self._tally.count

    @property
    def result_eps(self) -> float:
        """Machine epsilon of the least precise value ``f`` returned so far (0 before any)."""
        return self._tally.eps


class SerialEvaluator(Counted):
    """Calls ``f`` once per point, on working copies of ``x``.

    Each leaf is copied once into a C-ordered working buffer (and, for the complex step, once
    more into a complex buffer of the matching precision). A shifted point is made by changing
    one buffer element in place, calling ``f``, and restoring the element, so a point costs one
    call of ``f`` and no copy of ``x``. ``f`` receives read-only views of the buffers, the same
    views at every call, in freshly built containers. If ``f`` writes into its argument, numpy
    raises a read-only ValueError; from that call on ``f`` receives fresh writable copies of
    every leaf at every call, which costs one copy of ``x`` (P elements) per evaluation, and the
    interrupted call is repeated. ``report``, when given, is told of every call of ``f`` once it
    has returned.
    """

    def __init__(
        self,
        f: ScalarFunction,
        leaves: Sequence[tree.FloatArray],
        treedef: tree.TreeDef,
        args: tuple[Any, ...],
        *,
        report: Report | None = None,
    ) -> None:
        self._f = f
        self._tally = Tally(report)
        self._args = args
        self._treedef = treedef
        sizes = [leaf.size for leaf in leaves]
        self._ends = np.array(sizes, dtype=np.intp).cumsum()  # a list through np.cumsum is slower
        self._real = [np.array(leaf, order="C", copy=True) for leaf in leaves]
        self._complex: list[npt.NDArray[Any]] = []
        # Read-only views of the buffers, made once: they follow the buffers' in-place moves.
        self._real_views = [read_only(b) for b in self._real]
        self._complex_views: list[npt.NDArray[Any]] = []
        self._copying = False

    def at_x(self) -> float:
        """``f(x)``."""
        return self._call(self._real, complex_input=False).real

    def along(self, index: IntArray, shift: Float64Array) -> Float64Array:
        """``f(x + shift[j] e_index[j])`` for each j, shape (len(index),)."""
        out = np.empty(len(index))
        for j, (leaf, local) in enumerate(self._locate(index)):
            out[j] = self._shifted(self._real, leaf, local, float(shift[j]), False).real
        return out

    def along_imaginary(self, index: IntArray, shift: Float64Array) -> Complex128Array:
        """``f(x + i shift[j] e_index[j])`` for each j, shape (len(index),)."""
        if not self._complex:
            self._complex = [
                b.astype(np.complex64 if b.dtype == np.float32 else np.complex128)
                for b in self._real
            ]
            self._complex_views = [read_only(b) for b in self._complex]
        out = np.empty(len(index), dtype=np.complex128)
        for j, (leaf, local) in enumerate(self._locate(index)):
            out[j] = self._shifted(self._complex, leaf, local, 1j * float(shift[j]), True)
        return out

    def _locate(self, index: IntArray) -> list[tuple[int, int]]:
        """(leaf number, flat index within the leaf) of each coordinate."""
        leaf = np.searchsorted(self._ends, index, side="right")
        starts = np.concatenate([[0], self._ends])[leaf]
        return [(int(a), int(b)) for a, b in zip(leaf, np.asarray(index) - starts, strict=True)]

    def _shifted(
        self,
        buffers: list[npt.NDArray[Any]],
        leaf: int,
        local: int,
        delta: complex,
        complex_input: bool,
    ) -> complex:
        """``f`` with one buffer element moved by ``delta``; the element is always restored."""
        flat = buffers[leaf].reshape(-1)
        old = flat[local]
        flat[local] = old + delta
        try:
            return self._call(buffers, complex_input=complex_input)
        finally:
            flat[local] = old

    def _call(self, buffers: list[npt.NDArray[Any]], *, complex_input: bool) -> complex:
        """One call of ``f`` on the buffers, guarded as the class docstring describes."""
        if self._copying:
            leaves = [b.copy() for b in buffers]
        else:
            leaves = self._complex_views if complex_input else self._real_views
        self._tally.started(1)
        try:
            if complex_input:
                with ComplexInputGuard(complex_input):
                    raw = self._f(tree.unflatten(self._treedef, leaves), *self._args)
            else:
                raw = self._f(tree.unflatten(self._treedef, leaves), *self._args)
        except ValueError as exc:
            if self._copying or not _is_read_only_error(exc):
                raise
            self._copying = True
            return self._call(buffers, complex_input=complex_input)
        value: complex
        if not complex_input and type(raw) in (float, np.float64):  # the common returns
            value, eps = float(raw), _EPS64
        else:
            value, eps = scalar_value(raw, complex_input=complex_input)
        self._tally.finished(1, eps)
        return value
