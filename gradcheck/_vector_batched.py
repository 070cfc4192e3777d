"""A vectorized vector-valued ``f``: many points in one call, outputs with a leading batch axis.

``f`` receives x with a leading batch axis of n rows on every leaf (row j is the point x moved
by ``shift[j]`` along coordinate ``index[j]``; fresh arrays, never the caller's) and returns
f(x)'s structure with the same leading axis on every leaf. Rows are grouped into blocks of at
most ``max_batch_bytes`` of input (:func:`gradcheck._batched.rows_per_block`).

Example
-------
>>> import numpy as np
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

from gradcheck import _batched, _evaluate, tree
from gradcheck.tree import OutputLayout

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
    f: _evaluate.ScalarFunction, leaves: Sequence[tree.FloatArray], treedef: tree.TreeDef,
    args: tuple[Any, ...],
) -> tuple[OutputLayout, Float64Array, Float64Array]:
    """f's output structure and its two values at x, from one call on a batch of 2 rows."""
    zero = np.zeros(2, np.intp)
    out = f(tree.unflatten(treedef, _batch(leaves, zero, np.zeros(2), False)), *args)
    raw, _, out_def = tree.flatten(out, "f(x)")
    if any(np.ndim(leaf) == 0 or np.shape(leaf)[0] != 2 for leaf in raw):
        raise ValueError("a vectorized f must return every leaf with a leading batch axis; "
                         f"for a batch of 2 points it returned {_evaluate.describe_value(out)}")
    outputs = OutputLayout(
        tree.unflatten(out_def, [np.asarray(leaf)[0] for leaf in raw]), "f(x)")
    values = _read(out, outputs, 2, False)
    return outputs, values[0], values[1]


def evaluate(
    f: _evaluate.ScalarFunction, leaves: Sequence[tree.FloatArray], treedef: tree.TreeDef,
    args: tuple[Any, ...], outputs: OutputLayout, index: npt.NDArray[np.intp],
    shift: Float64Array, imaginary: bool, max_batch_bytes: int,
) -> npt.NDArray[Any]:
    """f at the moved points, (n, outputs), in blocks of at most ``max_batch_bytes``."""
    rows = _batched.rows_per_block(leaves, max_batch_bytes, complex_input=imaginary)
    parts = []
    for start in range(0, len(index), rows):
        part = slice(start, start + rows)
        batch = _batch(leaves, index[part], shift[part], imaginary)
        with _evaluate.ComplexInputGuard(imaginary):
            out = f(tree.unflatten(treedef, batch), *args)
        parts.append(_read(out, outputs, len(index[part]), imaginary))
    return np.concatenate(parts) if parts else np.zeros((0, outputs.layout.size))
