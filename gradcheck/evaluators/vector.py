"""A vector-valued f's cache: one call of f per point, shared by every output's check.

The derivative checks see a vector-valued ``f`` as one scalar function per output, each point
evaluated once: they run the scalar checker (:func:`gradcheck.check.run_check`) once per output
element (or per cotangent) on a :class:`Component` of ``f``. Every evaluator the checker asks
for is a view of a :class:`VectorSource`, which calls ``f`` once per distinct point and keeps
the whole output vector: all components share the calls, so a full central-difference Jacobian
costs ``2P`` calls of ``f`` plus those at x and of the noise probe, not ``2P`` per output. The
points requested are the same for every component (the steps depend on x and on the precision
of f's outputs only), so a repeated request is answered from a cache keyed by its bytes,
without Python work per point.

Example
-------
>>> import numpy as np
>>> pb = methods.prepare(lambda x: x**2, np.array([1.0, 2.0]), (), "central")
>>> source = VectorSource(pb)
>>> ev = source.factory(Component(source, 1), pb.leaves, pb.treedef, ())
>>> ev.at_x(), ev.along(np.array([1, 1]), np.array([0.5, 1.0]))
(4.0, array([6.25, 9.  ]))
>>> source.n_evaluations  # two calls at x (the determinism test), then one per new point
4
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from gradcheck import evaluators as _evaluate
from gradcheck import methods, tree
from gradcheck.evaluators import batched as _batched
from gradcheck.evaluators import parallel as _parallel
from gradcheck.tree import OutputLayout

__all__ = ["Component", "VectorSource"]

Float64Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: Tasks one request is split into on an executor.
TASKS_PER_REQUEST = 16


class _Recorder:
    """``f`` as the scalar 0 for a :class:`SerialEvaluator`, keeping each value of f."""

    def __init__(self, f: _evaluate.ScalarFunction, outputs: OutputLayout | None) -> None:
        self._f = f
        self.outputs = outputs
        self.imaginary = False
        self.values: list[npt.NDArray[Any]] = []

    def __call__(self, x: Any, *args: Any) -> complex | float:
        out = self._f(x, *args)
        if self.outputs is None:
            self.outputs = OutputLayout(out, "f(x)")
        self.values.append(self.outputs.read(out, imaginary=self.imaginary))
        return 0j if self.imaginary else 0.0


def _evaluate_points(
    f: _evaluate.ScalarFunction, leaves: Sequence[tree.FloatArray], treedef: tree.TreeDef,
    args: tuple[Any, ...], outputs: OutputLayout, index: IntArray, shift: Float64Array,
    imaginary: bool,
) -> npt.NDArray[Any]:
    """The values of f at ``x + shift[j] e_index[j]`` (times i if ``imaginary``), (n, outputs)."""
    recorder = _Recorder(f, outputs)
    recorder.imaginary = imaginary
    ev = _evaluate.SerialEvaluator(recorder, leaves, treedef, args)
    if imaginary:
        ev.along_imaginary(index, shift)
    else:
        ev.along(index, shift)
    return np.array(recorder.values).reshape(len(index), outputs.layout.size)


Points = Callable[..., npt.NDArray[Any]]
"""``points(f, leaves, treedef, args, outputs, index, shift, imaginary)``: (n, outputs)."""


class _Base:
    """The values of f at one base point and at points moved from it along coordinates."""

    def __init__(self, source: VectorSource, leaves: Sequence[tree.FloatArray]) -> None:
        self._source = source
        self.leaves = tuple(leaves)
        self._value: Float64Array | None = None
        self._requests: dict[tuple[bytes, bytes, bool], npt.NDArray[Any]] = {}
        self._points: dict[tuple[int, float, bool], npt.NDArray[Any]] = {}

    def at_x(self) -> Float64Array:
        """f at the base point, flat, shape (outputs,)."""
        if self._value is None:
            self._value = self._source.call(self.leaves)
        return self._value

    def along(self, index: IntArray, shift: Float64Array, imaginary: bool) -> npt.NDArray[Any]:
        """f at the moved points, shape (len(index), outputs); each point evaluated once."""
        index, shift = np.asarray(index, np.intp), np.asarray(shift, np.float64)
        key = (index.tobytes(), shift.tobytes(), imaginary)
        found = self._requests.get(key)
        if found is not None:
            return found
        keys = [(int(k), float(s), imaginary) for k, s in zip(index, shift, strict=True)]
        new = sorted({k for k in keys if k not in self._points})
        if new:
            values = self._source.evaluate(
                self.leaves, np.array([k[0] for k in new], np.intp),
                np.array([k[1] for k in new]), imaginary,
            )
            self._points.update(zip(new, values, strict=True))
        dtype = np.complex128 if imaginary else np.float64
        width = self._source.outputs.layout.size
        rows = np.array([self._points[k] for k in keys], dtype).reshape(len(keys), width)
        self._requests[key] = rows
        return rows


class VectorSource:
    """Calls a vector-valued ``f`` once per distinct point, for every :class:`Component`.

    ``f`` is called twice at x first (the checks compare the two values: ``spread``); it
    receives the same protection as in :class:`gradcheck.evaluators.SerialEvaluator` (read-only
    views, the caller's arrays never changed). With an ``executor``, each request of new points
    is split into tasks that evaluate their points serially.
    """

    def __init__(self, pb: methods.Problem, executor: Any = None,
                 max_batch_bytes: int | None = None) -> None:
        if executor is not None:
            _parallel.check_executor(executor)
        self._pb = pb
        self._executor = executor
        self._count = 2
        self._bases: dict[bytes, _Base] = {}
        self._points: Points = _evaluate_points
        if max_batch_bytes is None:
            recorder = _Recorder(pb.f, None)
            ev = _evaluate.SerialEvaluator(recorder, pb.leaves, pb.treedef, pb.args)
            ev.at_x()
            ev.at_x()
            self.outputs = cast(OutputLayout, recorder.outputs)  # set by the first call
            first, second = recorder.values
        else:
            self.outputs, first, second = _batched.first_values(
                pb.f, pb.leaves, pb.treedef, pb.args)
            self._points = functools.partial(_batched.evaluate,
                                             max_batch_bytes=max_batch_bytes)
        _finite(first, self.outputs, "at x")
        self.spread = float(np.max(np.abs(first - second), initial=0.0))
        self._base(pb.leaves)._value = first

    @property
    def n_evaluations(self) -> int:
        """Calls of f so far."""
        return self._count

    @property
    def at_x(self) -> Float64Array:
        """f(x), flat, shape (outputs,)."""
        return self._base(self._pb.leaves).at_x()

    def _base(self, leaves: Sequence[tree.FloatArray]) -> _Base:
        """The cache of values around the point ``leaves``."""
        key = b"".join(np.ascontiguousarray(leaf).tobytes() for leaf in leaves)
        base = self._bases.get(key)
        if base is None:
            base = self._bases[key] = _Base(self, leaves)
        return base

    @property
    def problem(self) -> methods.Problem:
        """The checked f, x and args."""
        return self._pb

    def value_at(self, leaves: Sequence[tree.FloatArray]) -> Float64Array:
        """f at the point ``leaves``, flat (outputs,); evaluated once, then cached."""
        return self._base(leaves).at_x()

    def along(self, index: IntArray, shift: Float64Array) -> Float64Array:
        """f at x moved by ``shift`` along ``index``, (len(index), outputs); cached per point."""
        values: Float64Array = self._base(self._pb.leaves).along(index, shift, False)
        return values

    def call(self, leaves: Sequence[tree.FloatArray]) -> Float64Array:
        """f at the point ``leaves``, flat."""
        if self._points is not _evaluate_points:  # a vectorized f: a batch of one row
            row: Float64Array = self.evaluate(leaves, np.zeros(1, np.intp), np.zeros(1), False)[0]
            return row
        recorder = _Recorder(self._pb.f, self.outputs)
        _evaluate.SerialEvaluator(recorder, leaves, self._pb.treedef, self._pb.args).at_x()
        self._count += 1
        value: Float64Array = recorder.values[0]
        _finite(value, self.outputs, "near x")
        return value

    def evaluate(
        self, leaves: Sequence[tree.FloatArray], index: IntArray, shift: Float64Array,
        imaginary: bool,
    ) -> npt.NDArray[Any]:
        """f at the moved points, (n, outputs), in tasks when there is an executor."""
        if len(index) == 0:
            return np.zeros((0, self.outputs.layout.size))
        pb, pb_f = self._pb, self._pb.f
        if self._executor is None:
            values = self._points(pb_f, leaves, pb.treedef, pb.args, self.outputs,
                                  index, shift, imaginary)
        else:
            chunks = np.array_split(np.arange(len(index)), min(len(index), TASKS_PER_REQUEST))
            futures = [
                self._executor.submit(self._points, pb_f, leaves, pb.treedef, pb.args,
                                      self.outputs, index[c], shift[c], imaginary)
                for c in chunks
            ]
            values = np.concatenate([future.result() for future in futures])
        self._count += len(index)
        _finite(values, self.outputs, "near x")
        return values

    def factory(
        self, g: _evaluate.ScalarFunction, leaves: Sequence[tree.FloatArray],
        treedef: tree.TreeDef, args: tuple[Any, ...],
    ) -> _evaluate.Evaluator:
        """The evaluator of the component ``g`` at the point ``leaves`` (an EvaluatorFactory)."""
        if not isinstance(g, Component):
            raise TypeError(f"`g` is {g!r}; a VectorSource evaluates its Components only")
        return _View(self._base(leaves), g, self)


def _finite(values: npt.NDArray[Any], outputs: OutputLayout, where: str) -> None:
    """ValueError naming the first output element that is not finite."""
    flat = np.asarray(values).reshape(-1, outputs.layout.size)
    finite = np.isfinite(flat)
    if finite.all():
        return
    bad = np.argwhere(~finite)
    if len(bad):
        name = outputs.layout.describe(int(bad[0][1]))
        raise ValueError(
            f"`{name}` is {flat[tuple(bad[0])]} {where}; f must be finite at and near x "
            "(pass a smaller `step` if x is close to where f is undefined)"
        )


class Component:
    """One scalar function of a vector-valued f: its output ``index``, or ``weights @ f(x)``."""

    def __init__(
        self, source: VectorSource, index: int | None = None,
        weights: Float64Array | None = None,
    ) -> None:
        self.source = source
        self.index = index
        self.weights = weights

    def pick(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """The component of values of f (last axis: the outputs)."""
        if self.weights is not None:
            picked: npt.NDArray[Any] = values @ self.weights
            return picked
        return values[..., self.index]

    def __call__(self, x: Any, *args: Any) -> float:
        leaves = tree.flatten(x)[0]
        return float(self.pick(self.source.call(leaves)))


class _View:
    """The :class:`gradcheck.evaluators.Evaluator` of one component around one base point."""

    def __init__(self, base: _Base, component: Component, source: VectorSource) -> None:
        self._base = base
        self._component = component
        self._source = source

    @property
    def n_evaluations(self) -> int:
        """Calls of f so far, by every component (the source counts them)."""
        return self._source.n_evaluations

    @property
    def result_eps(self) -> float:
        """Machine epsilon of the least precise output of f."""
        return self._source.outputs.eps

    def at_x(self) -> float:
        """The component at the base point."""
        return float(self._component.pick(self._base.at_x()))

    def along(self, index: IntArray, shift: Float64Array) -> Float64Array:
        """The component at the moved points."""
        values: Float64Array = self._component.pick(self._base.along(index, shift, False))
        return np.ascontiguousarray(values, dtype=np.float64)

    def along_imaginary(self, index: IntArray, shift: Float64Array) -> npt.NDArray[np.complex128]:
        """The component at the points moved along the imaginary axis."""
        values = self._component.pick(self._base.along(index, shift, True))
        return np.ascontiguousarray(values, dtype=np.complex128)
