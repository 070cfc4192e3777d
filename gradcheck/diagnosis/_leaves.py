"""The leaves of a diagnosis: arguments checked and gathered per leaf, and the residual test.

A leaf's kind (weight, bias, other) and layer come from the caller's `Hints` only, never from
its name or shape. `_within` is the one residual rule every finding obeys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gradcheck.diagnosis._hints import Hints

Array: TypeAlias = NDArray[np.float64]
EvidenceValue: TypeAlias = "float | int | str"
_Fit: TypeAlias = "tuple[float, float]"  # worst residual, worst residual / tolerance

SLACK = 2.0
"""Allowed residual, in tolerances, after an explanation is removed (see `diagnose`, Notes)."""


class _Leaf(NamedTuple):
    path: str
    a: Array  # analytic
    n: Array  # numeric
    tol: Array  # per-element absolute tolerance, broadcast to the leaf's shape
    x: Array  # the parameter; zeros when `params` is not given (no multiple then fits)
    kind: str  # "weight", "bias" (the caller's roles) or "other"
    layer: str | None  # the caller's name of its layer
    failing: NDArray[np.bool_]  # |a − n| > tol (or NaN)
    clear: NDArray[np.bool_]  # |a − n| > SLACK·tol: more than a near miss
    fit_weight: Array  # 1/tol² up to one common scale: the least-squares weights


def name_of(path: str) -> str:
    """A leaf as reports print it: ``x[0].W``, ``x['a']``, ``x`` for a bare array."""
    return "x" + path


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


def _check_paths(paths: Sequence[str]) -> None:
    """Check that `paths` is a sequence of str."""
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Sequence):
        raise TypeError(f"`paths` must be a sequence of str; got {type(paths).__name__}")
    if not all(isinstance(path, str) for path in paths):
        raise TypeError("`paths` must hold only str")


def _leaves(
    paths: Sequence[str],
    analytic: Sequence[ArrayLike],
    numeric: Sequence[ArrayLike],
    tolerance: Sequence[ArrayLike],
    params: Sequence[ArrayLike] | None,
    hints: Hints,
) -> tuple[_Leaf, ...]:
    """Validate the arrays (`paths` checked) and gather them per leaf, with the hints."""
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
        weight = (top / np.maximum(tol, 1e-12 * top)) ** 2 if top > 0 else np.ones_like(a)
        leaves.append(
            _Leaf(
                path,
                a,
                n,
                tol,
                np.zeros_like(a) if x_s is None else x_s[i],
                hints.roles.get(name_of(path), "other"),
                hints.layers.get(name_of(path)),
                ~(np.abs(a - n) <= tol),
                ~(np.abs(a - n) <= SLACK * tol),
                weight,
            )
        )
    return tuple(leaves)


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
