"""The checked inputs shared by the estimators and the checker: f, x as leaves, args, noise.

Example
-------
>>> import numpy as np
>>> pb = prepare(np.sum, {"a": np.ones(2), "b": np.zeros((1, 2), np.float32)}, (), "central")
>>> pb.layout.size, pb.layout.describe(3)
(4, "x['b'][0, 1]")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import _evaluate, _tree, steps

Float64Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Problem:
    """``f``, its extra ``args``, and ``x`` as validated float leaves with their layout."""

    f: Callable[..., Any]
    args: tuple[Any, ...]
    method: str
    leaves: tuple[_tree.FloatArray, ...]
    treedef: _tree.TreeDef
    layout: _tree.Layout
    make_evaluator: _evaluate.EvaluatorFactory = _evaluate.SerialEvaluator

    @cached_property
    def x_flat(self) -> Float64Array:
        """All coordinates of ``x`` as one float64 vector, shape (P,)."""
        return _tree.concat(self.leaves)

    def evaluator(self, f: Callable[..., Any] | None = None) -> _evaluate.Evaluator:
        """A new evaluator of ``f`` (or of the given scalar function) at ``x``."""
        return self.make_evaluator(self.f if f is None else f, self.leaves, self.treedef, self.args)

    def fresh_x(self) -> Any:
        """A fresh copy of ``x`` (its pytree rebuilt), safe to hand to user code."""
        return _tree.unflatten(self.treedef, [leaf.copy() for leaf in self.leaves])

    def split(self, flat: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
        """A flat (P,) array as per-leaf arrays shaped like the leaves of ``x``."""
        return self.layout.split(flat)


@dataclass(frozen=True)
class Noise:
    """What limits the accuracy of values of ``f``: per-coordinate ε and the known spread.

    ``eps[k]`` is the larger machine epsilon of coordinate k's dtype and of the values f
    returns; ``spread`` is an absolute bound on the differences between two calls of f at the
    same point (0 for a deterministic f).
    """

    eps: Float64Array
    spread: float

    def rounding(self, f_max: Float64Array, index: IntArray) -> Float64Array:
        """The absolute uncertainty of one value of f, ``ε_k F + spread``, per coordinate."""
        return self.eps[index] * f_max + self.spread


def prepare(
    f: object,
    x: object,
    args: object,
    method: object,
    make_evaluator: _evaluate.EvaluatorFactory = _evaluate.SerialEvaluator,
) -> Problem:
    """Validate the arguments shared by every public function and flatten ``x``."""
    if not callable(f):
        raise TypeError(f"`f` is {_short(f)}; it must be a callable f(x, *args) -> float")
    if not isinstance(args, tuple):
        raise TypeError(
            f"`args` is {_short(args)}; it must be a tuple of extra positional arguments for f"
        )
    name = steps.check_method(method)
    raw, paths, treedef = _tree.flatten(x, "x")
    if not raw:
        raise ValueError(f"`x` is {_short(x)}; it must hold at least one array")
    leaves = _tree.float_leaves(raw, paths, "x", strict=True)
    _tree.check_finite(leaves, paths, "x", "finite")
    layout = _tree.Layout.of(leaves, paths, "x")
    return Problem(f, args, name, tuple(leaves), treedef, layout, make_evaluator)


def _short(value: object) -> str:
    """A short description of a bad argument for messages."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def noise_for(pb: Problem, result_eps: float, spread: float) -> Noise:
    """The noise model of ``pb`` given the precision of f's values and its known spread."""
    return Noise(np.maximum(pb.layout.eps(), result_eps), float(spread))


def scale(pb: Problem, index: IntArray) -> Float64Array:
    """``max(1, |x_k|)``, the length scale of each coordinate in the scaling model."""
    return np.maximum(1.0, np.abs(pb.x_flat[index]))


def all_coordinates(pb: Problem) -> IntArray:
    """Every coordinate index 0..P-1."""
    return np.arange(pb.layout.size, dtype=np.intp)

