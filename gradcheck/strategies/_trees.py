"""Hypothesis strategies for any function's inputs: arrays, pytrees, tangents and cotangents.

Re-exported by :mod:`gradcheck.strategies` (import them from there). They are not tied to
(W, b) lists: a *shape tree* is a shape (a tuple of ints) or a dict, list or tuple of shape
trees, and the strategies draw float64 arrays with that structure, at one scale drawn from
``scales`` per example, so that a property is tried on small and on large inputs alike.

Examples
--------
>>> from hypothesis import find
>>> x = find(pytrees({"W": (2, 3), "b": (2,)}), lambda x: True)
>>> {k: v.shape for k, v in x.items()}
{'W': (2, 3), 'b': (2,)}
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gradcheck import tree as _tree

__all__ = ["SHAPE_SCALES", "cotangents", "pytrees", "shaped_arrays", "tangents"]

SHAPE_SCALES: tuple[float, ...] = (0.01, 0.3, 1.0, 3.0)
"""Default scales of drawn arrays: elements uniform in [−scale, scale]."""

_UNIT = st.floats(-1.0, 1.0, allow_subnormal=False)


def _is_shape(node: object) -> bool:
    """A tuple of non-negative ints (``()`` included) is a shape, not a tuple of trees."""
    return isinstance(node, tuple) and all(
        isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0 for n in node
    )


def _check_shapes(shapes: object, path: str = "") -> None:
    """TypeError naming the first node of ``shapes`` that is neither a shape nor a container."""
    if _is_shape(shapes):
        return
    if isinstance(shapes, dict):
        for key, value in shapes.items():
            _check_shapes(value, f"{path}[{key!r}]")
    elif isinstance(shapes, (list, tuple)) and shapes:
        for i, value in enumerate(shapes):
            _check_shapes(value, f"{path}[{i}]")
    else:
        raise TypeError(f"`shapes{path}` is {shapes!r}; it must be a shape (a tuple of ints "
                        ">= 0) or a non-empty dict, list or tuple of shapes")


def _scales(scales: object) -> list[float]:
    """The scales as finite positive floats, or TypeError/ValueError naming ``scales``."""
    if not isinstance(scales, (tuple, list)) or not scales:
        raise ValueError(f"`scales` is {scales!r}; it must be a non-empty tuple of numbers > 0")
    out = []
    for i, s in enumerate(scales):
        if isinstance(s, bool) or not isinstance(s, (int, float)):
            raise TypeError(f"`scales[{i}]` is {s!r}; it must be a real number")
        if not (np.isfinite(s) and s > 0):
            raise ValueError(f"`scales[{i}]` is {s!r}; it must be finite and > 0")
        out.append(float(s))
    return out


def _build(draw: st.DrawFn, shapes: Any, scale: float) -> Any:
    """Arrays in the structure of ``shapes``, elements in [−scale, scale]."""
    if _is_shape(shapes):
        return scale * draw(arrays(np.float64, shapes, elements=_UNIT))
    if isinstance(shapes, dict):
        return {k: _build(draw, v, scale) for k, v in shapes.items()}
    built = [_build(draw, v, scale) for v in shapes]
    return built if isinstance(shapes, list) else tuple(built)


def shaped_arrays(
    shape: tuple[int, ...], *, scales: tuple[float, ...] = SHAPE_SCALES
) -> st.SearchStrategy[Any]:
    """Float64 arrays of ``shape``, elements uniform in [−scale, scale], scale from ``scales``.

    Raises
    ------
    TypeError, ValueError
        ``shape`` not a tuple of ints >= 0; ``scales`` empty or not finite > 0.

    Examples
    --------
    >>> from hypothesis import find
    >>> find(shaped_arrays((2, 2), scales=(3.0,)), lambda a: abs(a).max() > 1.0).shape
    (2, 2)
    """
    if not _is_shape(shape):
        raise TypeError(f"`shape` is {shape!r}; it must be a tuple of ints >= 0")
    return pytrees(shape, scales=scales)


def pytrees(shapes: Any, *, scales: tuple[float, ...] = SHAPE_SCALES) -> st.SearchStrategy[Any]:
    """Pytrees of float64 arrays with the structure and shapes of ``shapes``, at one scale.

    Parameters
    ----------
    shapes : shape tree
        A shape (tuple of ints), or a dict, list or tuple of shape trees, nested.
    scales : tuple of float
        One is drawn per example; every element is uniform in [−scale, scale].

    Raises
    ------
    TypeError, ValueError
        A node of ``shapes`` that is neither; ``scales`` empty or not finite > 0.

    Examples
    --------
    >>> from hypothesis import find
    >>> x = find(pytrees([(3,), {"g": ()}]), lambda x: True)
    >>> x[0].shape, x[1]["g"].shape
    ((3,), ())
    """
    _check_shapes(shapes)
    picks = _scales(scales)

    @st.composite
    def draw_tree(draw: st.DrawFn) -> Any:
        return _build(draw, shapes, draw(st.sampled_from(picks)))

    return draw_tree()


def _like(value: object, name: str) -> Any:
    """The shape tree of a pytree of arrays (TypeError naming ``name`` for anything else)."""
    leaves, paths, treedef = _tree.flatten(value, name)
    for leaf, path in zip(leaves, paths, strict=True):
        if not isinstance(leaf, np.ndarray):
            raise TypeError(f"`{name}{path}` is {type(leaf).__name__}; it must be an array")
    return _tree.unflatten(treedef, [leaf.shape for leaf in leaves])


def _nonzero(shapes: Any) -> st.SearchStrategy[Any]:
    """Unit-scale pytrees of ``shapes`` with a nonzero element: a direction."""
    def any_nonzero(tree: Any) -> bool:
        return any(np.any(leaf) for leaf in _tree.flatten(tree)[0])

    return pytrees(shapes, scales=(1.0,)).map(
        lambda tree: tree if any_nonzero(tree) else _tree.unflatten(
            _tree.flatten(tree)[2], [np.ones_like(leaf) for leaf in _tree.flatten(tree)[0]]))


def tangents(x: object) -> st.SearchStrategy[Any]:
    """Tangents for ``gradcheck.check_jvp``: nonzero pytrees with the structure of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import find
    >>> t = find(tangents({"w": np.zeros(3)}), lambda t: True)
    >>> t["w"].shape, bool(np.any(t["w"]))
    ((3,), True)
    """
    return _nonzero(_shape_tree(_like(x, "x")))


def cotangents(fx: object) -> st.SearchStrategy[Any]:
    """Cotangents for ``gradcheck.check_vjp``: nonzero pytrees with the structure of ``fx``.

    ``fx`` is a value of f (``f(x)``), whose structure and shapes the cotangents take.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import find
    >>> find(cotangents(np.zeros((2, 2))), lambda ct: True).shape
    (2, 2)
    """
    return _nonzero(_shape_tree(_like(fx, "fx")))


def _shape_tree(tree: Any) -> Any:
    """A pytree whose leaves are shapes, as a shape tree (NamedTuples become tuples)."""
    if _is_shape(tree):
        return tree
    if isinstance(tree, dict):
        return {k: _shape_tree(v) for k, v in tree.items()}
    items = [_shape_tree(v) for v in tree]
    return items if isinstance(tree, list) else tuple(items)
