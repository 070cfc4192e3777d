"""The leaves of a diagnosis: arguments checked and gathered per leaf, and the residual test.

A leaf's kind (weight, bias, other) comes from its path's last name, else from its ``ndim``; its
layer from the path's first ``[i]``. `_within` is the one residual rule every finding obeys.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array: TypeAlias = NDArray[np.float64]
EvidenceValue: TypeAlias = "float | int | str"
_Fit: TypeAlias = "tuple[float, float]"  # worst residual, worst residual / tolerance

SLACK = 2.0
"""Allowed residual, in tolerances, after an explanation is removed (see `diagnose`, Notes)."""

_LAST_NAME = re.compile(r"(?:\.(\w+)|\[\s*(['\"])(.*?)\2\s*\])$")
_WEIGHT_NAME = re.compile(r"(?:w|weights?|kernel)\d*", re.IGNORECASE)
_BIAS_NAME = re.compile(r"(?:b|bias|biases)\d*", re.IGNORECASE)
_LAYER = re.compile(r"\[(\d+)\]")


class _Leaf(NamedTuple):
    path: str
    a: Array  # analytic
    n: Array  # numeric
    tol: Array  # per-element absolute tolerance, broadcast to the leaf's shape
    x: Array  # the parameter; zeros when `params` is not given (no multiple then fits)
    kind: str  # "weight", "bias" or "other"
    layer: int | None
    failing: NDArray[np.bool_]  # |a − n| > tol (or NaN)
    clear: NDArray[np.bool_]  # |a − n| > SLACK·tol: more than a near miss
    fit_weight: Array  # 1/tol² up to one common scale: the least-squares weights


def _leaf_kind(path: str, ndim: int) -> str:
    """Kind from the path's last name (W/w/weight(s)/kernel, b/bias(es)), else 2-D/1-D."""
    match = _LAST_NAME.search(path)
    name = "" if match is None else (match.group(1) or match.group(3))
    if _WEIGHT_NAME.fullmatch(name):
        return "weight"
    if _BIAS_NAME.fullmatch(name):
        return "bias"
    return {2: "weight", 1: "bias"}.get(ndim, "other")


def _arrays(name: str, values: Sequence[ArrayLike], count: int) -> list[Array]:
    """The leaves of one argument as float64 arrays, after checking their number and dtype."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        kind = type(values).__name__
        raise TypeError(f"`{name}` must be a sequence of arrays, one per leaf; got {kind}")
    if len(values) != count:
        raise ValueError(f"`{name}` has {len(values)} leaves; `paths` has {count}")
    arrays = []
    for i, value in enumerate(values):
        array = np.asarray(value)
        if array.dtype.kind not in "fiu":
            raise TypeError(f"`{name}[{i}]` must be a real array; got dtype {array.dtype}")
        arrays.append(np.asarray(array, dtype=np.float64))  # read only: never written to
    return arrays


def _check_leaf(i: int, path: str, a: Array, n: Array, t: Array, x: Array | None) -> Array:
    """Check one leaf's shapes and values; return its tolerance broadcast to the leaf."""
    where = f"(leaf {path!r})"
    for name, other in (("numeric", n), ("params", x)):
        if other is not None and other.shape != a.shape:
            raise ValueError(
                f"`{name}[{i}]` {where} has shape {other.shape}; `analytic[{i}]` has {a.shape}"
            )
    try:
        tol = np.broadcast_to(t, a.shape)
    except ValueError:
        raise ValueError(
            f"`tolerance[{i}]` {where} has shape {t.shape}, which does not broadcast to {a.shape}"
        ) from None
    if not np.all(np.isfinite(tol) & (tol >= 0)):
        raise ValueError(f"`tolerance[{i}]` {where} must be finite and >= 0")
    for name, values in (("numeric", n), ("params", x)):
        if values is not None and not np.all(np.isfinite(values)):
            raise ValueError(f"`{name}[{i}]` {where} holds NaN or inf")
    return tol


def _leaves(
    paths: Sequence[str],
    analytic: Sequence[ArrayLike],
    numeric: Sequence[ArrayLike],
    tolerance: Sequence[ArrayLike],
    params: Sequence[ArrayLike] | None,
) -> tuple[_Leaf, ...]:
    """Validate the arguments and gather them per leaf."""
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Sequence):
        raise TypeError(f"`paths` must be a sequence of str; got {type(paths).__name__}")
    if not all(isinstance(path, str) for path in paths):
        raise TypeError("`paths` must hold only str")
    count = len(paths)
    a_s, n_s = _arrays("analytic", analytic, count), _arrays("numeric", numeric, count)
    t_s = _arrays("tolerance", tolerance, count)
    x_s = None if params is None else _arrays("params", params, count)
    tols = [
        _check_leaf(i, path, a, n, t, None if x_s is None else x_s[i])
        for i, (path, a, n, t) in enumerate(zip(paths, a_s, n_s, t_s, strict=True))
    ]
    top = max((float(tol.max(initial=0.0)) for tol in tols), default=0.0)
    leaves = []
    for i, (path, a, n, tol) in enumerate(zip(paths, a_s, n_s, tols, strict=True)):
        layer = _LAYER.search(path)
        weight = (top / np.maximum(tol, 1e-12 * top)) ** 2 if top > 0 else np.ones_like(a)
        leaves.append(
            _Leaf(
                path,
                a,
                n,
                tol,
                np.zeros_like(a) if x_s is None else x_s[i],
                _leaf_kind(path, a.ndim),
                None if layer is None else int(layer.group(1)),
                ~(np.abs(a - n) <= tol),
                ~(np.abs(a - n) <= SLACK * tol),
                weight,
            )
        )
    return tuple(leaves)


def _constants(weight_decay: float | None, n_examples: int | None) -> None:
    """Check `weight_decay` (λ ≥ 0) and `n_examples` (m ≥ 1) when given."""
    if weight_decay is not None:
        if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float, np.number)):
            raise TypeError(f"`weight_decay` must be a real number; got {weight_decay!r}")
        if not (np.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"`weight_decay` must be finite and >= 0; got {weight_decay!r}")
    if n_examples is not None:
        if isinstance(n_examples, bool) or not isinstance(n_examples, (int, np.integer)):
            raise TypeError(f"`n_examples` must be an int; got {n_examples!r}")
        if n_examples < 1:
            raise ValueError(f"`n_examples` must be >= 1; got {n_examples!r}")


def _within(dev: Array, tol: Array) -> _Fit | None:
    """(worst residual, worst residual/tol) when every residual is ≤ SLACK·tol, else None."""
    if not np.all(dev <= SLACK * tol):
        return None
    ratio = np.divide(dev, tol, out=np.zeros_like(dev), where=tol > 0)
    return float(dev.max(initial=0.0)), float(ratio.max(initial=0.0))


def _take(leaf: _Leaf, index: NDArray[np.intp]) -> _Leaf:
    """The elements `index` of `leaf`, flattened: a probe for a cheap necessary test."""
    return leaf._replace(
        a=leaf.a.ravel()[index], n=leaf.n.ravel()[index], tol=leaf.tol.ravel()[index],
        x=leaf.x.ravel()[index], failing=leaf.failing.ravel()[index],
        clear=leaf.clear.ravel()[index], fit_weight=leaf.fit_weight.ravel()[index],
    )  # fmt: skip
