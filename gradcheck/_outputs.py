"""The structure of a vector-valued f's output, and its values read as flat vectors.

Example
-------
>>> import numpy as np
>>> outputs = OutputLayout({"h": np.zeros(2), "s": 1.0}, "f(x)")
>>> outputs.layout.paths, outputs.read({"h": np.ones(2), "s": 3.0}, imaginary=False)
(("['h']", "['s']"), array([1., 1., 3.]))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import _evaluate, _tree

__all__ = ["OutputLayout"]


class OutputLayout:
    """The structure of ``f(x)``: its tree definition and the layout of its leaves."""

    def __init__(self, out: object, name: str) -> None:
        raw, paths, self.treedef = _tree.flatten(_scalar_as_array(out), name)
        if not raw:
            raise TypeError(f"`{name}` holds no array; f must return an array or pytree of arrays")
        leaves = [_as_float(leaf, name + path) for leaf, path in zip(raw, paths, strict=True)]
        self.layout = _tree.Layout.of(leaves, paths, name)
        self.name = name
        self.eps = max(float(np.finfo(leaf.dtype).eps) for leaf in leaves)
        self._plain = self.treedef.kind == "leaf" and type(out) is np.ndarray

    def read(self, out: object, *, imaginary: bool) -> npt.NDArray[Any]:
        """A later value of f as a flat vector, or TypeError/ValueError saying how it differs."""
        if self._plain and type(out) is np.ndarray and out.shape == self.layout.shapes[0] \
                and out.dtype.kind == "f":  # the common f: one float array, read at once
            return np.array(out.reshape(-1), np.complex128 if imaginary else np.float64)
        leaves = _tree.flatten_like(_scalar_as_array(out), self.treedef, self.name,
                                    self.name + " at x")
        arrays = [np.asarray(leaf) for leaf in leaves]
        for array, path, shape in zip(arrays, self.layout.paths, self.layout.shapes, strict=True):
            kind = array.dtype.kind
            if kind not in ("fc" if imaginary else "f"):
                hint = "; " + _evaluate.COMPLEX_STEP_HELP if imaginary and kind == "f" else ""
                raise TypeError(
                    f"`{self.name}{path}` has dtype {array.dtype}; f must return float arrays"
                    + hint
                )
            if array.shape != shape:
                raise ValueError(
                    f"`{self.name}{path}` has shape {array.shape} at a shifted point; at x it "
                    f"has shape {shape}"
                )
        dtype = np.complex128 if imaginary else np.float64
        return np.concatenate([a.reshape(-1) for a in arrays]).astype(dtype, copy=False)


def _scalar_as_array(out: object) -> object:
    """A bare float value of f as a 0-d array (a leaf); anything else unchanged."""
    if isinstance(out, (float, complex, np.floating, np.complexfloating)):
        return np.asarray(out)
    return out


def _as_float(leaf: object, name: str) -> npt.NDArray[np.floating[Any]]:
    """A returned leaf as a float array, or TypeError naming it."""
    array = np.asarray(leaf)
    if array.dtype.kind != "f" or isinstance(leaf, (bool, np.bool_)):
        raise TypeError(
            f"`{name}` is {_evaluate.describe_value(leaf)}; f must return float arrays "
            "(or a pytree of them)"
        )
    return array
