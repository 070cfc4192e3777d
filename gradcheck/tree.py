"""Pytrees of float arrays: flatten with readable paths, rebuild, compare, validate.

A pytree is a numpy array (a leaf) or a dict, list, tuple or NamedTuple of pytrees, nested to
any depth. Leaves are visited depth first, dict entries in insertion order. A leaf's *path* is
written relative to the root: ``"[1].W"`` is field ``W`` of the NamedTuple at index 1 of a list,
``"['w']"`` is the entry ``'w'`` of a dict, and a bare array has the empty path ``""``. Messages
put the argument's name in front, so a leaf reads ``x[1].W`` and a bare array reads ``x``.

Example
-------
>>> import numpy as np
>>> leaves, paths, treedef = flatten({"w": np.zeros(2), "b": [np.ones(1)]}, "x")
>>> paths
("['w']", "['b'][0]")
>>> unflatten(treedef, [leaf + 1 for leaf in leaves])
{'w': array([1., 1.]), 'b': [array([2.])]}

The output side: :class:`OutputLayout` is the structure of a vector-valued f's output, with its
later values read as flat vectors.

>>> outputs = OutputLayout({"h": np.zeros(2), "s": 1.0}, "f(x)")
>>> outputs.layout.paths, outputs.read({"h": np.ones(2), "s": 3.0}, imaginary=False)
(("['h']", "['s']"), array([1., 1., 3.]))
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating[Any]]
Kind = Literal["leaf", "dict", "list", "tuple", "namedtuple"]
_X_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class TreeDef:
    """The shape of a pytree without its leaves, enough to rebuild it."""

    kind: Kind
    node_type: type | None = None
    keys: tuple[Any, ...] = ()
    children: tuple[TreeDef, ...] = ()


_LEAF = TreeDef("leaf")


def _is_namedtuple(obj: object) -> bool:
    """True for instances of classes made by ``typing.NamedTuple`` or ``collections.namedtuple``."""
    return isinstance(obj, tuple) and hasattr(type(obj), "_fields")


def _kind_of(obj: object) -> Kind:
    """The node kind of one pytree node."""
    if isinstance(obj, np.ndarray):
        return "leaf"
    if isinstance(obj, dict):
        return "dict"
    if isinstance(obj, list):
        return "list"
    if _is_namedtuple(obj):
        return "namedtuple"
    if isinstance(obj, tuple):
        return "tuple"
    return "leaf"


def _suffix(kind: Kind, key: Any) -> str:
    """The path piece that leads from a node of ``kind`` to its child ``key``."""
    if kind == "dict":
        return f"[{key!r}]"
    if kind == "namedtuple":
        return f".{key}"
    return f"[{key}]"


def _child(obj: Any, kind: Kind, key: Any) -> Any:
    """The child ``key`` of a container node."""
    return getattr(obj, key) if kind == "namedtuple" else obj[key]


def _keys(obj: Any, kind: Kind) -> tuple[Any, ...]:
    """Dict keys, NamedTuple fields or sequence indices of a container node."""
    if kind == "dict":
        return tuple(obj.keys())
    if kind == "namedtuple":
        return tuple(type(obj)._fields)
    return tuple(range(len(obj)))


def flatten(tree: Any, name: str = "x") -> tuple[list[Any], tuple[str, ...], TreeDef]:
    """Leaves (unvalidated), their paths and the tree definition of ``tree``."""
    leaves: list[Any] = []
    paths: list[str] = []

    def walk(node: Any, path: str) -> TreeDef:
        kind = _kind_of(node)
        if kind == "leaf":
            leaves.append(node)
            paths.append(path)
            return _LEAF
        keys = _keys(node, kind)
        defs = tuple(walk(_child(node, kind, k), path + _suffix(kind, k)) for k in keys)
        return TreeDef(kind, type(node), keys, defs)

    treedef = walk(tree, "")
    return leaves, tuple(paths), treedef


def unflatten(treedef: TreeDef, leaves: Sequence[Any]) -> Any:
    """Rebuild a pytree of ``treedef``'s structure from ``leaves`` in flatten order."""
    # A module-level builder: a recursive closure would be a reference cycle holding the
    # leaves until the garbage collector runs, a copy of x per call in the partial checks.
    return _build(treedef, iter(leaves))


def _build(node: TreeDef, feed: Iterator[Any]) -> Any:
    """The subtree of ``node``, its leaves taken from ``feed``."""
    if node.kind == "leaf":
        return next(feed)
    kids = [_build(child, feed) for child in node.children]
    if node.kind == "dict":
        cls = OrderedDict if node.node_type is OrderedDict else dict
        return cls(zip(node.keys, kids, strict=True))
    if node.kind == "list":
        return kids
    if node.kind == "namedtuple" and node.node_type is not None:
        return node.node_type(*kids)
    return tuple(kids)


def _a(noun: str) -> str:
    """``noun`` with its indefinite article: "a float", "an int"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _describe_node(obj: Any) -> str:
    """A short phrase for a node, used when two trees disagree."""
    kind = _kind_of(obj)
    if kind == "leaf":
        return f"an array of shape {np.shape(obj)}" if hasattr(obj, "shape") else (
            _a(type(obj).__name__)
        )
    if kind == "dict":
        return f"a dict with keys {sorted(map(repr, obj.keys()))}"
    if kind == "namedtuple":
        return f"{_a(type(obj).__name__)} with fields {list(type(obj)._fields)}"
    return f"a {kind} of {len(obj)} items"


def _node_matches(obj: Any, node: TreeDef) -> bool:
    """Whether ``obj`` is a node of the same kind and keys as ``node`` (leaves match any leaf)."""
    kind = _kind_of(obj)
    if kind != node.kind:
        return False
    if kind == "dict":
        return set(_keys(obj, kind)) == set(node.keys)
    if kind == "namedtuple" and type(obj) is not node.node_type:
        return False
    return kind == "leaf" or _keys(obj, kind) == node.keys


def flatten_like(tree: Any, treedef: TreeDef, name: str, ref_name: str) -> list[Any]:
    """Leaves of ``tree`` in the order of ``treedef`` (the structure of ``ref_name``).

    Raises TypeError naming the first node where ``tree`` differs, e.g.
    ``"`grad[1]` is a list of 3 items; `x[1]` is a Layer with fields ['W', 'b']"``.
    """
    leaves: list[Any] = []

    def walk(obj: Any, node: TreeDef, path: str) -> None:
        if not _node_matches(obj, node):
            raise TypeError(
                f"`{name}{path}` is {_describe_node(obj)}; `{ref_name}{path}` is "
                f"{_describe_treedef(node)}; `{name}` must have the structure of `{ref_name}`"
            )
        if node.kind == "leaf":
            leaves.append(obj)
        for key, child in zip(node.keys, node.children, strict=True):
            walk(_child(obj, node.kind, key), child, path + _suffix(node.kind, key))

    walk(tree, treedef, "")
    return leaves


def _describe_treedef(node: TreeDef) -> str:
    """A short phrase for a tree definition node."""
    if node.kind == "leaf":
        return "an array"
    if node.kind == "dict":
        return f"a dict with keys {sorted(map(repr, node.keys))}"
    if node.kind == "namedtuple" and node.node_type is not None:
        return f"a {node.node_type.__name__} with fields {list(node.keys)}"
    return f"a {node.kind} of {len(node.keys)} items"


def float_leaves(
    leaves: Sequence[Any],
    paths: Sequence[str],
    name: str,
    *,
    strict: bool,
) -> list[FloatArray]:
    """Leaves checked to be float arrays, or TypeError naming the first bad leaf.

    With ``strict`` only float32/float64 ndarrays pass (the rule for ``x``); otherwise any real
    floating array or scalar passes and is returned as an array (the rule for gradients, steps).
    """
    out: list[FloatArray] = []
    for leaf, path in zip(leaves, paths, strict=True):
        ok_type = isinstance(leaf, np.ndarray) or (
            not strict and isinstance(leaf, (float, np.floating)) and not isinstance(leaf, bool)
        )
        if not ok_type:
            hint = " (a list of numbers is read as a pytree: wrap it in np.asarray)" if (
                isinstance(leaf, (int, float, complex)) and path
            ) else ""
            raise TypeError(
                f"`{name}{path}` is {_a(type(leaf).__name__)}; the leaves of `{name}` must be "
                f"float32 or float64 numpy arrays{hint}"
            )
        array = np.asarray(leaf)
        good = array.dtype in _X_DTYPES if strict else array.dtype.kind == "f"
        if not good:
            raise TypeError(
                f"`{name}{path}` has dtype {array.dtype}; the leaves of `{name}` must be "
                f"float32 or float64 arrays (cast with .astype(np.float64))"
            )
        out.append(array)
    return out


def check_shapes(
    leaves: Sequence[FloatArray],
    ref_leaves: Sequence[FloatArray],
    paths: Sequence[str],
    name: str,
    ref_name: str,
) -> None:
    """ValueError naming the first leaf whose shape differs from the reference leaf's."""
    for leaf, ref, path in zip(leaves, ref_leaves, paths, strict=True):
        if leaf.shape != ref.shape:
            raise ValueError(
                f"`{name}{path}` has shape {leaf.shape}; `{ref_name}{path}` has shape {ref.shape}"
            )


def check_finite(leaves: Sequence[FloatArray], paths: Sequence[str], name: str, rule: str) -> None:
    """ValueError naming the first leaf and index holding NaN or inf."""
    for leaf, path in zip(leaves, paths, strict=True):
        bad = ~np.isfinite(leaf)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"`{name}{path}` has {leaf[index]} at index {index}; `{name}` must be {rule}"
            )


@dataclass(frozen=True)
class Layout:
    """Where each leaf sits in the flat vector of coordinates.

    Coordinates are the elements of all leaves, each leaf in C order, leaves concatenated in
    flatten order; coordinate ``k`` lies in leaf ``i`` when ``offsets[i] <= k < offsets[i+1]``.
    """

    name: str
    paths: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[np.dtype[Any], ...]
    offsets: tuple[int, ...]

    @classmethod
    def of(cls, leaves: Sequence[FloatArray], paths: Sequence[str], name: str) -> Layout:
        """The layout of validated leaves."""
        return cls(
            name,
            tuple(paths),
            tuple(leaf.shape for leaf in leaves),
            tuple(leaf.dtype for leaf in leaves),
            tuple(accumulate((int(leaf.size) for leaf in leaves), initial=0)),
        )

    @property
    def size(self) -> int:
        """The number of coordinates P."""
        return self.offsets[-1]

    def split(self, flat: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
        """Per-leaf arrays (shaped like the leaves) of a flat (P,) array."""
        return [
            flat[a:b].reshape(shape)
            for a, b, shape in zip(self.offsets[:-1], self.offsets[1:], self.shapes, strict=True)
        ]

    def locate(self, k: int) -> tuple[int, tuple[int, ...]]:
        """The leaf number and the index within that leaf of coordinate ``k``."""
        leaf = int(np.searchsorted(self.offsets[1:], k, side="right"))
        local = np.unravel_index(k - self.offsets[leaf], self.shapes[leaf])
        return leaf, tuple(int(i) for i in local)

    def describe(self, k: int) -> str:
        """The readable name of coordinate ``k``, e.g. ``x[1].W[2, 3]``."""
        leaf, index = self.locate(k)
        return element_name(self.name + self.paths[leaf], index)

    def runs(self) -> list[tuple[np.dtype[Any], int, int]]:
        """``(dtype, start, stop)`` of each run of consecutive coordinates of one dtype."""
        runs: list[tuple[np.dtype[Any], int, int]] = []
        for dtype, a, b in zip(self.dtypes, self.offsets[:-1], self.offsets[1:], strict=True):
            if runs and runs[-1][0] == dtype:
                runs[-1] = (dtype, runs[-1][1], b)
            else:
                runs.append((dtype, a, b))
        return runs

    def eps(self) -> npt.NDArray[np.float64]:
        """Machine epsilon of each coordinate's dtype, shape (P,)."""
        eps = np.empty(self.size)
        for dtype, a, b in self.runs():
            eps[a:b] = float(np.finfo(dtype).eps)
        return eps


def element_name(leaf_name: str, index: tuple[int, ...]) -> str:
    """``x[1].W`` and (2, 3) as ``x[1].W[2, 3]``; a 0-d leaf keeps its bare name."""
    return f"{leaf_name}[{', '.join(map(str, index))}]" if index else leaf_name


def concat(leaves: Sequence[FloatArray]) -> npt.NDArray[np.float64]:
    """All leaves in C order, concatenated, as one float64 vector of shape (P,)."""
    if not leaves:
        return np.zeros(0)
    return np.concatenate([np.asarray(leaf, dtype=np.float64).reshape(-1) for leaf in leaves])


# How values are described in messages, and f's output structure.

COMPLEX_STEP_HELP = (
    "the complex step evaluates f at x + ih·e_k, so f must accept complex input and be "
    "analytic in x: no abs, np.real, comparisons, max/min or float() casts of values that "
    "depend on x; use method='central' or method='richardson' for such an f"
)


def describe_value(value: object) -> str:
    """How a returned value is described in messages."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"{type(value).__name__} {value!r}"


class OutputLayout:
    """The structure of ``f(x)``: its tree definition and the layout of its leaves."""

    def __init__(self, out: object, name: str) -> None:
        raw, paths, self.treedef = flatten(_scalar_as_array(out), name)
        if not raw:
            raise TypeError(f"`{name}` holds no array; f must return an array or pytree of arrays")
        leaves = [_as_float(leaf, name + path) for leaf, path in zip(raw, paths, strict=True)]
        self.layout = Layout.of(leaves, paths, name)
        self.name = name
        self.eps = max(float(np.finfo(leaf.dtype).eps) for leaf in leaves)
        self._plain = self.treedef.kind == "leaf" and type(out) is np.ndarray

    def read(self, out: object, *, imaginary: bool) -> npt.NDArray[Any]:
        """A later value of f as a flat vector, or TypeError/ValueError saying how it differs."""
        if self._plain and type(out) is np.ndarray and out.shape == self.layout.shapes[0] \
                and out.dtype.kind == "f":  # the common f: one float array, read at once
            return np.array(out.reshape(-1), np.complex128 if imaginary else np.float64)
        leaves = flatten_like(_scalar_as_array(out), self.treedef, self.name,
                                    self.name + " at x")
        arrays = [np.asarray(leaf) for leaf in leaves]
        for array, path, shape in zip(arrays, self.layout.paths, self.layout.shapes, strict=True):
            kind = array.dtype.kind
            if kind not in ("fc" if imaginary else "f"):
                hint = "; " + COMPLEX_STEP_HELP if imaginary and kind == "f" else ""
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
            f"`{name}` is {describe_value(leaf)}; f must return float arrays "
            "(or a pytree of them)"
        )
    return array
