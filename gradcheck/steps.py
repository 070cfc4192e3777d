"""Step sizes for each method and dtype, and the user's ``step=`` checked.

Every default step is a relative step times ``max(1, |x_k|)``, so that it is an absolute step
for coordinates near zero and a relative one for large coordinates. The relative steps come
from balancing the method's truncation error against rounding, with ``ε`` the machine epsilon
of the coordinate (the lower precision of the leaf's dtype and of the values ``f`` returns) and
with derivatives of order k assumed to scale like ``F / max(1, |x|)**k`` (F the size of f):

==========  ===================  =========================================================
method      relative step        reasoning
==========  ===================  =========================================================
forward     ``ε**(1/2)``         truncation ``h |f''| / 2`` against rounding ``2 ε F / h``
central     ``ε**(1/3)``         truncation ``h² |f'''| / 6`` against rounding ``ε F / h``
richardson  ``ε**(1/7)``         see below
complex     1e-20 (float64),     no subtraction, so no rounding term: any ``h`` with
            1e-10 (float32)      ``h² ≪ ε`` is exact; float32 keeps ``h`` far above its
                                 smallest normal number (1.2e-38) so that ``h`` times small
                                 intermediate derivatives does not underflow
==========  ===================  =========================================================

Richardson extrapolates central differences at ``h, h/2, h/4`` twice, which cancels the
``h²`` and ``h⁴`` terms and leaves ``O(h⁶)``. The extrapolation weights ``(1, -20, 64) / 45`` on
``D(h), D(h/2), D(h/4)`` amplify rounding to about ``6.6 ε F / h``. Minimising
``C h⁶ + 6.6 ε F / h`` under the scaling model gives ``h ∝ ε**(1/7)`` (5.8e-3 for float64):
a larger base step than central differences, which the extrapolation can afford.

Real steps are then replaced by the exactly representable ``(x_k + h) - x_k`` in the leaf's
dtype, so that the step the formula divides by is the step ``f`` really saw.

Example
-------
>>> import numpy as np
>>> relative_step("central", float(np.finfo(np.float64).eps))
6.055454452393343e-06
>>> default_steps("forward", [np.array([0.5, 100.0])], eps_floor=0.0)
array([1.49011612e-08, 1.49011612e-06])
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from gradcheck import tree as _tree

__all__ = [
    "METHODS",
    "check_method",
    "confirmation_steps",
    "default_steps",
    "imaginary_steps",
    "relative_step",
    "resolve_steps",
    "shifted_steps",
]

METHODS = ("forward", "central", "complex", "richardson")
_EPS64 = float(np.finfo(np.float64).eps)
Float64Array = npt.NDArray[np.float64]


def check_method(method: object) -> str:
    """The method name, or ValueError listing the valid ones."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"`method` is {method!r}; it must be one of {', '.join(METHODS)}")
    return method


@functools.lru_cache(maxsize=64)
def relative_step(method: str, eps: float) -> float:
    """The relative step of ``method`` for machine epsilon ``eps`` (see the module notes)."""
    if method == "forward":
        return float(eps**0.5)
    if method == "central":
        return float(eps ** (1.0 / 3.0))
    if method == "richardson":
        return float(eps ** (1.0 / 7.0))
    return 1e-20 if eps <= _EPS64 else 1e-10


def _leaf_eps(leaves: Sequence[_tree.FloatArray], eps_floor: float) -> list[float]:
    """Per leaf, the larger of the dtype's epsilon and ``eps_floor`` (the precision of f)."""
    return [max(float(np.finfo(leaf.dtype).eps), eps_floor) for leaf in leaves]


def default_steps(
    method: str, leaves: Sequence[_tree.FloatArray], *, eps_floor: float
) -> Float64Array:
    """Default nominal steps ``relative_step · max(1, |x_k|)``, shape (P,), in C order."""
    relative = [relative_step(method, eps) for eps in _leaf_eps(leaves, eps_floor)]
    if len(set(relative)) > 1:
        scale: float | Float64Array = np.repeat(relative, [leaf.size for leaf in leaves])
    else:
        scale = relative[0] if relative else 0.0
    return scale * np.maximum(1.0, np.abs(_tree.concat(leaves)))


def confirmation_steps(
    method: str, h: Float64Array, leaves: Sequence[_tree.FloatArray], *, eps_floor: float
) -> Float64Array:
    """Base steps H of the Richardson confirmation, never much beyond the method's step ``h``.

    The confirmation uses central differences at ``H, H/2, H/4``. Forward and central
    differences: ``H = 4 h``, so that its finest level is the method's own step. Richardson,
    whose own base step is large (ε^(1/7)), and the complex step, whose ``h`` is no length
    scale for real differences: ``H`` is four times the default central step, capped at the
    method's ``h`` (a user's small Richardson step stays the farthest the check goes).
    """
    if method in ("forward", "central"):
        return 4.0 * h
    central = 4.0 * default_steps("central", leaves, eps_floor=eps_floor)
    return central if method == "complex" else np.minimum(central, h)


def _positive_scalar(step: object) -> float | None:
    """``step`` as a float when it is a real number (not a bool), else None."""
    if isinstance(step, bool) or not isinstance(step, numbers.Real):
        return None
    return float(step)


def resolve_steps(
    method: str,
    leaves: Sequence[_tree.FloatArray],
    layout: _tree.Layout,
    treedef: _tree.TreeDef,
    step: object,
    *,
    eps_floor: float,
) -> Float64Array:
    """Nominal positive steps, shape (P,): the default (``step=None``) or the user's.

    ``step`` may be a positive finite number (one step for every coordinate) or a pytree of
    positive finite float arrays with the structure and shapes of ``x``.
    """
    if step is None:
        return default_steps(method, leaves, eps_floor=eps_floor)
    scalar = _positive_scalar(step)
    if scalar is not None:
        if not (np.isfinite(scalar) and scalar > 0):
            raise ValueError(
                f"`step` is {step!r}; it must be a positive finite number or a pytree of "
                "positive finite arrays shaped like `x`"
            )
        return np.full(layout.size, scalar)
    if isinstance(step, (str, bytes, bool, complex, np.complexfloating)):
        raise TypeError(
            f"`step` is {step!r}; it must be None, a positive finite number or a pytree of "
            "positive finite arrays shaped like `x`"
        )
    raw = _tree.flatten_like(step, treedef, "step", "x")
    arrays = _tree.float_leaves(raw, layout.paths, "step", strict=False)
    _tree.check_shapes(arrays, leaves, layout.paths, "step", "x")
    _tree.check_finite(arrays, layout.paths, "step", "positive and finite")
    for array, path in zip(arrays, layout.paths, strict=True):
        if (array <= 0).any():
            index = tuple(int(i) for i in np.argwhere(array <= 0)[0])
            raise ValueError(
                f"`step{path}` has {array[index]} at index {index}; `step` must be positive "
                "and finite"
            )
    return _tree.concat(arrays)


def shifted_steps(
    x: Float64Array, layout: _tree.Layout, h: Float64Array, *,
    only: npt.NDArray[np.intp] | None = None,
) -> Float64Array:
    """The representable signed shifts ``(x_k + h_k) - x_k`` in each coordinate's dtype.

    ``x`` holds the coordinates as float64, shape (P,). ``h`` has shape (..., P): several
    sets of steps (both signs, say) are shifted at once, and the result has the shape of
    ``h``. Raises ValueError when a shift rounds to zero (the step is below the resolution of
    x_k), among the coordinates ``only`` when it is given (the others' steps may be 0).
    """
    out = np.empty(h.shape)
    for dtype, a, b in layout.runs():
        xs = x[a:b].astype(dtype)
        out[..., a:b] = (xs + h[..., a:b].astype(dtype)) - xs
    checked = np.ones(out.shape, bool) if only is None else np.zeros(out.shape, bool)
    if only is not None:
        checked[..., only] = True
    if (out != 0)[checked].all():
        return out
    where = np.argwhere((out == 0) & checked)[0]
    k = int(where[-1])
    dtype = layout.dtypes[layout.locate(k)[0]]
    raise ValueError(
        f"`step` {abs(h[tuple(where)])!r} is below the resolution of `{layout.describe(k)}` "
        f"(value {dtype.type(x[k])!r}): (x + step) - x is 0 in {dtype}; use a larger step"
    )


def imaginary_steps(layout: _tree.Layout, h: Float64Array) -> Float64Array:
    """Complex-step ``h`` rounded to each leaf's dtype, shape (P,); ValueError if one is 0."""
    out = np.empty(layout.size)
    for dtype, a, b in layout.runs():
        out[a:b] = h[a:b].astype(dtype)
    if out.all():
        return out
    k = int(np.flatnonzero(out == 0)[0])
    raise ValueError(
        f"`step` {h[k]!r} underflows to 0 in the dtype of `{layout.describe(k)}`; "
        "use a larger step"
    )
