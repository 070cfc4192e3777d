"""Batched evaluation: many perturbed points in one call of a vectorized ``f``.

With ``vectorized=True`` the caller promises that ``f`` accepts a *batch* of points: ``x`` with
a leading batch axis of length B on every leaf (a leaf of shape ``s`` arrives with shape
``(B, *s)``, in the structure of ``x``), and returns one value per row, an array of shape
``(B,)``. :class:`BatchedEvaluator` builds the B rows of a block from the unperturbed ``x``,
one element moved in each row, calls ``f`` once for the block, and checks the shape and dtype
of what comes back. Rows are evaluated in the order asked, with the same shifted values as
:class:`gradcheck.evaluators.SerialEvaluator`, so the estimators see the same numbers (up to
the rounding of a batched f that sums in another order).

Example
-------
>>> import numpy as np
>>> leaves, _, treedef = tree.flatten({"w": np.array([1.0, 2.0])})
>>> ev = BatchedEvaluator(lambda p: np.sum(p["w"] ** 2, axis=1), leaves, treedef, ())
>>> ev.along(np.array([0, 1]), np.array([1.0, -1.0]))
array([8., 2.])
>>> ev.n_evaluations, ev.n_calls
(2, 1)

A vectorized *vector-valued* ``f`` (:func:`evaluate`, :func:`first_values`): many points in
one call, outputs with a leading batch axis.
``f`` receives x with a leading batch axis of n rows on every leaf (row j is the point x moved
by ``shift[j]`` along coordinate ``index[j]``; fresh arrays, never the caller's) and returns
f(x)'s structure with the same leading axis on every leaf. Rows are grouped into blocks of at
most ``max_batch_bytes`` of input (`rows_per_block`).

>>> leaves, _, treedef = tree.flatten(np.array([1.0, 2.0]))
>>> outputs, first, _ = first_values(lambda x: x**2, leaves, treedef, ())
>>> evaluate(lambda x: x**2, leaves, treedef, (), outputs, np.array([0, 1]),
...          np.array([1.0, -1.0]), False, 1024)
array([[4., 4.],
       [1., 1.]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import evaluators, tree
from gradcheck.tree import OutputLayout

DEFAULT_MAX_BATCH_BYTES = 256 * 2**10
"""The default bound on the bytes of one batch handed to ``f``: 256 KiB. Blocks that, with
f's temporaries, stay in the CPU's L2 cache: on numpy functions of P = 300 to 1000
parameters, 256 KiB blocks ran 2 to 6 times faster than 64 MiB blocks, which spill to main
memory. Raise it for an f with a high cost per call (a GPU kernel launch, say)."""

_EPS64 = float(np.finfo(np.float64).eps)


def rows_per_block(leaves: Sequence[tree.FloatArray], max_batch_bytes: int, *,
                   complex_input: bool) -> int:
    """How many rows (points) fit in ``max_batch_bytes``; at least 1."""
    widen = 2 if complex_input else 1
    row = sum(int(leaf.size) * leaf.dtype.itemsize * widen for leaf in leaves)
    return max(1, max_batch_bytes // max(row, 1))


def _working_dtype(leaf: tree.FloatArray, complex_input: bool) -> np.dtype[Any]:
    """The dtype rows of ``leaf`` are built in: the leaf's, or its complex counterpart."""
    if not complex_input:
        return leaf.dtype
    return np.dtype(np.complex64 if leaf.dtype == np.float32 else np.complex128)


def _points(n: int) -> str:
    """``n`` points, in words."""
    return f"{n} point" if n == 1 else f"{n} points"


def _add_note(exc: BaseException, note: str) -> None:
    """Attach ``note`` to ``exc`` where Python supports notes (3.11+)."""
    add = getattr(exc, "add_note", None)
    if add is not None:
        add(note)


class _BlockBuilder:
    """Builds the rows of a block: x repeated, one element moved per row, per leaf C-ordered.

    Leaves of one working dtype (the leaf's, or its complex counterpart) are consecutive
    pieces of one buffer: leaf i fills ``buffer[n·offset_i : n·(offset_i + size_i)]`` as an
    (n, size_i) array, so a block of float64 leaves is one buffer and its moved elements one
    scattered add. The buffers are reused from block to block and refilled whole each time,
    so whatever ``f`` wrote into a block is gone from the next.
    """

    def __init__(self, leaves: Sequence[tree.FloatArray], complex_input: bool) -> None:
        numbers: dict[np.dtype[Any], int] = {}
        widths: list[int] = []
        self._pieces = []
        for leaf in leaves:
            number = numbers.setdefault(_working_dtype(leaf, complex_input), len(numbers))
            if number == len(widths):
                widths.append(0)
            self._pieces.append((number, widths[number], leaf.reshape(1, -1), leaf.shape))
            widths[number] += int(leaf.size)
        self._buffers = list(zip(numbers, widths, strict=True))
        sizes = np.array([int(leaf.size) for leaf in leaves], dtype=np.intp)
        self._ends = np.cumsum(sizes)
        self._starts = self._ends - sizes
        self._sizes = sizes
        self._offsets = np.array([piece[1] for piece in self._pieces], dtype=np.intp)
        self._numbers = np.array([piece[0] for piece in self._pieces], dtype=np.intp)
        self._memory: list[npt.NDArray[Any]] = []
        self._capacity = 0

    def build(self, index: evaluators.IntArray, delta: npt.NDArray[Any] | None
              ) -> list[npt.NDArray[Any]]:
        """The leaves of the block of rows ``x + delta[j] e_index[j]`` (x itself: None)."""
        n = len(index)
        if n > self._capacity:
            # One allocation per dtype, reused by later blocks: fresh pages for every block
            # cost page faults that, measured, took longer than filling the rows.
            self._memory = [np.empty(n * width, dtype=dtype) for dtype, width in self._buffers]
            self._capacity = n
        buffers = [memory[: n * width] for memory, (_, width) in
                   zip(self._memory, self._buffers, strict=True)]
        batch = []
        for number, offset, flat, shape in self._pieces:
            rows = buffers[number][n * offset : n * (offset + flat.shape[1])].reshape(n, -1)
            rows[:] = flat
            batch.append(rows.reshape((n, *shape)))
        if delta is not None:
            # Row j's copy of element e of leaf i sits at n·offset_i + j·size_i + e.
            leaf = np.searchsorted(self._ends, index, side="right")
            position = (n * self._offsets[leaf] + np.arange(n) * self._sizes[leaf]
                        + (index - self._starts[leaf]))
            if len(buffers) == 1:
                buffers[0][position] += delta
            else:
                owner = self._numbers[leaf]
                for k, buffer in enumerate(buffers):
                    buffer[position[owner == k]] += delta[owner == k]
        return batch


class BatchedEvaluator(evaluators.Counted, evaluators.BlockEvaluator):
    """Evaluates blocks of points with one call of a vectorized ``f`` per block.

    Every block is rebuilt in the evaluator's own buffers: per leaf, a C-ordered ``(B,
    leaf.size)`` array filled with the leaf and one element of one row moved, so ``f`` never
    sees the caller's arrays and may even write into its argument (the next block is filled
    afresh; ``f`` must not keep its argument from one call to the next). A block holds at most
    ``max_batch_bytes`` of input (complex input counts twice), and at least one row.
    ``n_evaluations`` counts points, ``n_calls`` calls.
    """

    def __init__(
        self,
        f: evaluators.ScalarFunction,
        leaves: Sequence[tree.FloatArray],
        treedef: tree.TreeDef,
        args: tuple[Any, ...],
        *,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        report: evaluators.Report | None = None,
    ) -> None:
        self._f = f
        self._args = args
        self._treedef = treedef
        self._leaves = [np.array(leaf, order="C", copy=True) for leaf in leaves]
        self._max_batch_bytes = max_batch_bytes
        self._builders: dict[bool, _BlockBuilder] = {}
        self._tally = evaluators.Tally(report)
        self._calls = 0

    @property
    def n_calls(self) -> int:
        """How many times ``f`` has been called."""
        return self._calls

    def block_rows(self, imaginary: bool) -> int:
        """How many points one call of ``f`` takes (real or imaginary shifts)."""
        return rows_per_block(self._leaves, self._max_batch_bytes, complex_input=imaginary)

    def at_x(self) -> float:
        """``f(x)``, as a batch of one row."""
        none = np.zeros(1, dtype=np.intp)
        return float(self._block(none, np.zeros(1), complex_input=False, moved=False)[0].real)

    def _values(
        self, index: evaluators.IntArray, shift: evaluators.Float64Array, *, imaginary: bool
    ) -> npt.NDArray[Any]:
        """The values at all points, one call of ``f`` per block of rows."""
        index, shift = np.asarray(index, dtype=np.intp), np.asarray(shift, dtype=np.float64)
        rows = self.block_rows(imaginary)
        if 0 < len(index) <= rows:
            return self._block(index, shift, complex_input=imaginary)
        out = np.empty(len(index), dtype=np.complex128 if imaginary else np.float64)
        for start in range(0, len(index), rows):
            part = slice(start, start + rows)
            out[part] = self._block(index[part], shift[part], complex_input=imaginary)
        return out

    def _block(
        self, index: evaluators.IntArray, shift: evaluators.Float64Array, *,
        complex_input: bool, moved: bool = True,
    ) -> npt.NDArray[Any]:
        """One call of ``f`` on the rows ``x + shift[j] e_index[j]`` (or ``x`` itself)."""
        n = len(index)
        builder = self._builders.get(complex_input)
        if builder is None:
            builder = self._builders[complex_input] = _BlockBuilder(self._leaves, complex_input)
        batch = builder.build(index, (1j * shift if complex_input else shift) if moved else None)
        self._tally.started(n)
        self._calls += 1
        try:
            with evaluators.ComplexInputGuard(complex_input):
                raw = self._f(tree.unflatten(self._treedef, batch), *self._args)
        except Exception as exc:
            _add_note(exc, f"(raised by f called with a batch of {_points(n)}: vectorized=True "
                      f"gives every leaf of x a leading batch axis of length {n})")
            raise
        values, eps = self._checked(raw, n, complex_input=complex_input)
        self._tally.finished(n, eps)
        return values

    def _checked(
        self, raw: object, n: int, *, complex_input: bool
    ) -> tuple[npt.NDArray[Any], float]:
        """The values ``f`` returned for a block of ``n`` rows and their epsilon, or TypeError."""
        kinds = "fciu" if complex_input else "fiu"
        if not (isinstance(raw, np.ndarray) and raw.shape == (n,) and raw.dtype.kind in kinds):
            raise TypeError(
                f"`f` returned {evaluators.describe_value(raw)} for a batch of {_points(n)}; with "
                f"vectorized=True, f must return a real array of shape ({n},), one value per "
                f"row, when every leaf of x has a leading batch axis of length {n}"
            )
        if complex_input and raw.dtype.kind != "c":
            raise TypeError(
                f"`f` returned {evaluators.describe_value(raw)} for complex x; "
                + evaluators.COMPLEX_STEP_HELP
            )
        eps = float(np.finfo(raw.dtype).eps) if raw.dtype.kind in "fc" else _EPS64
        return raw.astype(np.complex128 if complex_input else np.float64), eps


Float64Array = npt.NDArray[np.float64]


def _batch(leaves: Sequence[tree.FloatArray], index: npt.NDArray[np.intp],
           shift: Float64Array, imaginary: bool) -> list[npt.NDArray[Any]]:
    """The rows x + shift[j] e_index[j] (times i if ``imaginary``), one array per leaf."""
    ends = np.cumsum([leaf.size for leaf in leaves])
    out = []
    for leaf_no, leaf in enumerate(leaves):
        dtype = (np.result_type(leaf.dtype, np.complex64) if imaginary else leaf.dtype)
        rows = np.repeat(np.asarray(leaf, dtype)[None], len(index), axis=0)
        flat = rows.reshape(len(index), -1)
        start = ends[leaf_no] - leaf.size
        mine = np.flatnonzero((index >= start) & (index < ends[leaf_no]))
        delta = shift[mine] * (1j if imaginary else 1.0)
        flat[mine, index[mine] - start] += delta.astype(dtype)
        out.append(rows)
    return out


def _read(out: object, outputs: OutputLayout, n: int, imaginary: bool) -> Any:
    """A batch of values of f as (n, outputs), or TypeError/ValueError saying how it differs."""
    leaves = tree.flatten_like(out, outputs.treedef, "f(x)", "f(x) at x")
    parts = []
    for leaf, path, shape in zip(leaves, outputs.layout.paths, outputs.layout.shapes,
                                 strict=True):
        array = np.asarray(leaf)
        if array.shape != (n, *shape):
            raise ValueError(f"`f(x){path}` has shape {array.shape} for a batch of {n} points; "
                             f"a vectorized f must return shape {(n, *shape)}")
        if array.dtype.kind not in ("fc" if imaginary else "f"):
            raise TypeError(f"`f(x){path}` has dtype {array.dtype}; f must return float arrays")
        parts.append(array.reshape(n, -1))
    return np.concatenate(parts, axis=1).astype(np.complex128 if imaginary else np.float64)


def first_values(
    f: evaluators.ScalarFunction, leaves: Sequence[tree.FloatArray], treedef: tree.TreeDef,
    args: tuple[Any, ...],
) -> tuple[OutputLayout, Float64Array, Float64Array]:
    """f's output structure and its two values at x, from one call on a batch of 2 rows."""
    zero = np.zeros(2, np.intp)
    out = f(tree.unflatten(treedef, _batch(leaves, zero, np.zeros(2), False)), *args)
    raw, _, out_def = tree.flatten(out, "f(x)")
    if any(np.ndim(leaf) == 0 or np.shape(leaf)[0] != 2 for leaf in raw):
        raise ValueError("a vectorized f must return every leaf with a leading batch axis; "
                         f"for a batch of 2 points it returned {evaluators.describe_value(out)}")
    outputs = OutputLayout(
        tree.unflatten(out_def, [np.asarray(leaf)[0] for leaf in raw]), "f(x)")
    values = _read(out, outputs, 2, False)
    return outputs, values[0], values[1]


def evaluate(
    f: evaluators.ScalarFunction, leaves: Sequence[tree.FloatArray], treedef: tree.TreeDef,
    args: tuple[Any, ...], outputs: OutputLayout, index: npt.NDArray[np.intp],
    shift: Float64Array, imaginary: bool, max_batch_bytes: int,
) -> npt.NDArray[Any]:
    """f at the moved points, (n, outputs), in blocks of at most ``max_batch_bytes``."""
    rows = rows_per_block(leaves, max_batch_bytes, complex_input=imaginary)
    parts = []
    for start in range(0, len(index), rows):
        part = slice(start, start + rows)
        batch = _batch(leaves, index[part], shift[part], imaginary)
        with evaluators.ComplexInputGuard(imaginary):
            out = f(tree.unflatten(treedef, batch), *args)
        parts.append(_read(out, outputs, len(index[part]), imaginary))
    return np.concatenate(parts) if parts else np.zeros((0, outputs.layout.size))
