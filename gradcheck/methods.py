"""The numerical methods: forward, central, complex-step and Richardson estimators.

Each method is one :class:`Method` entry at the end of this module (its
estimator, derivative-only form, calls per coordinate, relative step and premise check),
registered in ``METHODS``. Each estimator works on a set of coordinates
through an evaluator (see :mod:`gradcheck.evaluators`) and returns an :class:`Estimate`:
the derivative, an estimate of its absolute error, the steps, and what the checker needs
to judge it. The error estimates use, per coordinate k: the step ``h``, the largest
``F = max |f|`` over the values used, ``u = max(ε F, σ_f) + s`` the uncertainty of one
value of f (``ε`` the epsilon of the coordinate's and f's dtype, ``σ_f`` the noise of f
measured near x by :func:`probe_noise` when the checker asks for it, ``s``
the known nondeterminism of f), and ``m = max(1, |x_k|)``. Where a derivative of f is not
measured, the scaling model ``|f^(j)| ≈ F / m**j`` stands in for it.

==========  ==================================  ==========================================
method      estimate                            error estimate
==========  ==================================  ==========================================
forward     ``(f(x+h e_k) - f(x)) / h``         ``2 u / h + h F / (2 m²)``
central     ``(f(x+h e_k) - f(x-h e_k)) / 2h``  ``u / h + h² / 6 · max(F / m³, |f''| / m)``
complex     ``Im f(x + i h e_k) / h``           ``(ε + s / F) |n| + h² F / (6 m³) + ulp₀ / h``
richardson  central at h, h/2, h/4, twice       ``Σ_j |w_j| u / h_j`` + tableau difference
            extrapolated (Neville in h²)
==========  ==================================  ==========================================

``f''`` for central differences is the free second difference ``(f₊ - 2 f₀ + f₋) / h²``
when ``f(x)`` is known. The complex step has no subtraction, so its rounding is relative to
its value; ``ulp₀ = ε tiny`` is the spacing of subnormal numbers, the resolution of ``Im f``
when it underflows. Where the imaginary part inherits cancellation inside f (a residual
computed as the small difference of large values multiplies it), :func:`complex_noise`
measures the noise of the complex-step values themselves. Richardson's truncation estimate is
``max(|T₂ - T₁'|, |T₁ - T₁'| / 15)``, the error of the better first-level extrapolation
``T₁'``, a safe bound for the second-level value ``T₂``; ``w_j`` are the extrapolation
weights (1, -20, 64) / 45 that turn rounding of the three central differences into
rounding of ``T₂``.

Smoothness is judged by convergence order. For a smooth f the central values ``D_j`` at
``h / 2^j`` approach the derivative at order 2 and the one-sided disagreement
``S_j = (f₊ - 2 f₀ + f₋) / h_j`` vanishes at order 1, so ``D₂ - D₁`` keeps a quarter of
``D₁ - D₀`` and each ``S_j`` half of the one before. At a kink of f′ (f C¹, f″ jumping: central
differences off by O(h)) the central differences keep half; at a kink of f the disagreement
keeps all of it; and each one-sided quotient converges at order 1 (its changes halve) only
where f is smooth on its side. Richardson flags ``nonsmooth`` where one of these changes keeps
more than ORDER_SLACK times what a smooth f keeps, beyond ORDER_NOISE times its rounding bound
(differences below the noise are no evidence). Its ``low``/``high`` bound the one-sided
derivatives: the one-sided quotients at ``h/4`` widened by their last change, or unbounded
where a side does not settle (a kink within the step but not at x, or several). Central
differences, with one level only, flag a second difference KINK_FACTOR times above the
scaling model.

The complex step's premise
--------------------------
The complex step checks its own premise: f analytic in x, its complex values accurate.

``Im f(x + i h e_k) / h`` is ∂f/∂x_k only where f is holomorphic in x and computes its
imaginary part accurately. ``abs`` (``x·|x|``), ``var``/``std`` (through ``conj``),
``maximum``/``where``/comparisons, ``np.real`` and special functions with an inaccurate
complex part (scipy's ``jn``) break that silently: the complex step then returns a wrong
derivative with a sharp tolerance. So before any element is judged, the complex-step
gradient ``n`` is compared with real differences along DIRECTIONS seeded random directions
``w = h ⊙ v`` (v of ±1 entries, h the default central steps): ``Δ(s) = (f(x + s w) -
f(x - s w)) / 2s - n · w`` at s = 1 and 1/2, extrapolated to ``Δ = (4 Δ(1/2) - Δ(1)) / 3``
(the real side's truncation removed to fourth order). For an analytic f, ``Δ`` is within
``SAFETY · (|Δ(1/2) - Δ(1)| + 3 u + Σ_k e_k |w_k| + 10 ε Σ_k |n_k w_k|)``: the truncation
left, the rounding of the real values (u, see :class:`Noise`), and the
complex step's own error. Beyond it, a TypeError names the likely causes and points to the
real methods. 4 calls of f per direction.

Where f is 0 by cancellation through ``var`` (a sum of layer-norm rows), the complex values
are 0 as well and the real differences are rounding: the comparison cannot tell. Nor can any
other test of f's values: ``var`` through ``conj`` is real on the complex points, and its
derivative multiplies the centred rows' sum, 0, so f computed at ``x + i h v`` is 0 for every
h and v, as the analytic continuation of f ≡ 0 is (a second imaginary step h/3, or a
direction with coefficients ``e^{iθ}``, sees the same 0). So the check states how small an
error per element it would have seen (``bound / |w_k|``, see
:func:`check_complex_resolution`). A complex-step mismatch below that is *unresolved* (the
premise is unverified at that level), not a mismatch; and an element whose analytic and
complex values both lie below it (f's rounding, both) is judged by the real confirmation, as
a central difference is, its own noise measured (see :func:`gradcheck.verdict.judge`): a
correct gradient of an f ≡ 0 passes at the real differences' resolution, 1e-9 to 1e-8 there.

Example
-------
>>> import numpy as np
>>> from gradcheck import check_gradient
>>> x = np.array([0.5, -1.5, 2.0])
>>> check_gradient(lambda v: np.sum(v * np.abs(v)), x, 2 * np.abs(x), method="complex")
Traceback (most recent call last):
...
TypeError: `method="complex"` cannot check this f: ...

Steps and the problem
---------------------
Step sizes, and the checked problem (f, x as leaves, args, noise) they are chosen for.

Step sizes for each method and dtype, and the user's ``step=`` checked.

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

The problem
-----------
The checked inputs shared by the estimators and the checker: f, x as leaves, args, noise.

The noise of f is measured, not only assumed: :func:`probe_noise` evaluates f at
``c + j δ v`` (``j = ±1, ±2``) along ``PROBE_DIRECTIONS`` seeded random directions ``v`` of
±1 entries, with ``δ_k`` the power of two at or above ``PROBE_STEP · ε_k · max(1, |x_k|)``,
so that every probe point is exact in x's dtypes; ``c = x`` for the first direction and
``c = x ± reach · v`` for the others, as far from x as the check will go (the noise of a cost
near zero by cancellation grows with its residuals away from x): 4 + 5 + 5 = 14 calls.
The fourth difference ``Δ⁴ = f₋₂ - 4 f₋₁ + 6 f₀ - 4 f₁ + f₂`` removes the smooth part of f
up to ``δ⁴ f⁗`` (about ``1e-51 F`` in float64: nothing), so what is left is rounding noise;
for independent errors of standard deviation σ its standard deviation is ``√70 σ``. The
noise level of one value of f is then ``σ_f = PROBE_SAFETY · max |Δ⁴| / √70``:
PROBE_SAFETY = 3 covers the chance that the few differences all land small (three
differences, each within a third of its standard deviation, happen about once in fifty
checks for Gaussian noise, and rounding noise has lighter tails).
It is what ``ε |f|`` misses where f is the small difference of large intermediate values (a
cost near zero computed as the residual of large predictions and targets).

Example
-------
>>> import numpy as np
>>> pb = prepare(np.sum, {"a": np.ones(2), "b": np.zeros((1, 2), np.float32)}, (), "central")
>>> pb.layout.size, pb.layout.describe(3)
(4, "x['b'][0, 1]")
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from gradcheck import evaluators as _evaluate
from gradcheck import tree as _tree

__all__ = [
    "METHODS",
    "Estimate",
    "Method",
    "check_method",
    "complex_noise",
    "confirmation_steps",
    "default_steps",
    "derivative",
    "estimate",
    "gradient_leaves",
    "imaginary_steps",
    "register",
    "relative_step",
    "resolve_steps",
    "richardson",
    "shifted_steps",
]

_EPS64 = float(np.finfo(np.float64).eps)
Float64Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


# --- The registry of methods, and the step rules ----------------------------------------------

@dataclass(frozen=True)
class Method:
    """One way of estimating a derivative: all that the checker needs to know of it.

    The entries are made in :mod:`gradcheck.methods`, beside their estimators; the registry
    lives here because the step rules and the evaluators' progress totals, which sit below the
    estimators in the import order, read it too.
    """

    name: str
    calls: int
    """Evaluations of f per coordinate of its estimate."""
    relative_step: Callable[[float], float]
    """The relative step for machine epsilon ``eps`` (see the module notes)."""
    estimate: Callable[..., Any]
    """``(ev, pb, noise, h, index, f0) -> Estimate``: the derivative and its error model."""
    derivative: Callable[..., Any]
    """``(ev, pb, h, index) -> (len(index),)``: the same derivative without the error model."""
    premise: Callable[..., Any] | None = None
    """``(pb, g, f0, est, noise) -> (calls, resolution)``: a check that f suits the method."""


METHODS: dict[str, Method] = {}
"""The registry, by name, in the order error messages list them."""


def register(method: Method) -> Method:
    """Add ``method`` to :data:`METHODS` (a new method is one call of this)."""
    METHODS[method.name] = method
    relative_step.cache_clear()
    return method


def check_method(method: object) -> str:
    """The method name, or ValueError listing the valid ones."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"`method` is {method!r}; it must be one of {', '.join(METHODS)}")
    return method


@functools.lru_cache(maxsize=64)
def relative_step(method: str, eps: float) -> float:
    """The relative step of ``method`` for machine epsilon ``eps`` (see the module notes)."""
    return METHODS[method].relative_step(eps)


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


# --- The checked problem, and f's noise measured near x -----------------------------------------

_EPS32 = float(np.finfo(np.float32).eps)
_TINY16, _TINY32, _TINY64 = (float(np.finfo(t).tiny) for t in (np.float16, np.float32, np.float64))

#: Random ±1 directions along which f is probed for its noise (4 calls each).
PROBE_DIRECTIONS = 3
#: Calls of f the probe makes: 4 around x, 5 around each displaced centre.
PROBE_CALLS = 4 + 5 * (PROBE_DIRECTIONS - 1)
#: The probe's spacing in units of ``ε_k · max(1, |x_k|)``, rounded up to a power of two.
PROBE_STEP = 1e3
#: ``σ_f = PROBE_SAFETY · max |Δ⁴ f| / √70`` (see the module notes).
PROBE_SAFETY = 3.0
#: Seed of the probe's directions: a check is reproducible.
PROBE_SEED = 20240611
#: Exceptions from f away from x that mean "outside f's domain" (taken as a NaN value).
DOMAIN_ERRORS = (ValueError, ArithmeticError, RuntimeWarning)


@dataclass(frozen=True)
class Problem:
    """``f``, its extra ``args``, and ``x`` as validated float leaves with their layout."""

    f: Callable[..., Any]
    args: tuple[Any, ...]
    method: str
    leaves: tuple[_tree.FloatArray, ...]
    treedef: _tree.TreeDef
    layout: _tree.Layout
    x_flat: Float64Array
    """All coordinates of ``x`` as one float64 vector, shape (P,)."""
    make_evaluator: _evaluate.EvaluatorFactory = _evaluate.SerialEvaluator

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
    probed: float | Float64Array = 0.0
    """``σ_f``, the rounding noise of f measured near x by :func:`probe_noise` (0: not probed);
    per coordinate, shape (P,), once elements' own evaluations have been measured and one
    exceeded it (see :func:`gradcheck.verdict.judge`): one element's noise, a kink it
    straddles say, is never lent to the others."""

    def rounding(self, f_max: Float64Array, index: IntArray) -> Float64Array:
        """The absolute uncertainty of one value of f, ``max(ε_k F, σ_f, ulp₀) + spread``."""
        probed = self.probed if np.ndim(self.probed) == 0 else np.asarray(self.probed)[index]
        level = np.maximum(self.eps[index] * f_max, probed)
        return np.maximum(level, self.resolution(index)) + self.spread

    def resolution(self, index: IntArray) -> Float64Array:
        """``ulp₀ = ε_k · tiny_k``, the spacing of subnormal numbers: no value is finer."""
        eps = self.eps[index]
        tiny = np.where(eps > _EPS32, _TINY16, np.where(eps > _EPS64, _TINY32, _TINY64))
        return eps * tiny


def compact(a: Float64Array) -> Float64Array:
    """``a`` (P,) as a read-only view of its one value where all its values are equal (a
    per-coordinate epsilon of one dtype: no memory of the size of P), else ``a`` itself."""
    if a.size > 1 and a.strides != (0,) and bool(np.all(a == a[0])):
        one: Float64Array = np.broadcast_to(a[0], a.shape)
        return one
    return a


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
    name = check_method(method)
    raw, paths, treedef = _tree.flatten(x, "x")
    if not raw:
        raise ValueError(f"`x` is {_short(x)}; it must hold at least one array")
    leaves = _tree.float_leaves(raw, paths, "x", strict=True)
    x_flat = _flat(leaves)
    if not np.isfinite(x_flat).all():
        _tree.check_finite(leaves, paths, "x", "finite")
    layout = _tree.Layout.of(leaves, paths, "x")
    return Problem(f, args, name, tuple(leaves), treedef, layout, x_flat, make_evaluator)


def _flat(leaves: list[_tree.FloatArray]) -> Float64Array:
    """x as one float64 (P,) vector: for a lone contiguous float64 leaf a read-only view of
    it, not a copy (the partial checks hold a few copies of a huge x at most), else new."""
    if len(leaves) == 1 and leaves[0].dtype == np.float64 and leaves[0].flags.c_contiguous:
        view: Float64Array = leaves[0].reshape(-1).view()
        view.flags.writeable = False
        return view
    return _tree.concat(leaves)


def _short(value: object) -> str:
    """A short description of a bad argument for messages."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def noise_for(pb: Problem, result_eps: float, spread: float, probed: float = 0.0) -> Noise:
    """The noise model of ``pb`` given the precision of f's values, its spread and ``σ_f``."""
    return Noise(np.maximum(pb.layout.eps(), result_eps), float(spread), float(probed))


def probe_noise(
    pb: Problem, g: Callable[..., Any], f0: float, eps: Float64Array, reach: Float64Array
) -> tuple[float, int]:
    """``(σ_f, calls of g)``: f's rounding noise measured near x (see the module notes).

    ``g`` is f as the checker evaluates it, ``f0 = g(x)``, ``eps`` the per-coordinate
    epsilon and ``reach`` (P,) the farthest the check moves each coordinate. The first
    direction is probed around x (4 calls), the others around ``x ± reach · v`` (5 calls
    each), where the noise of a cost near zero by cancellation has grown with the residuals.
    A site where g is not finite is left out.
    """
    worst, calls = 0.0, 0
    rng = np.random.default_rng(PROBE_SEED)  # the shifts of probe_shifts, one at a time
    for d in range(PROBE_DIRECTIONS):
        shift = _probe_shift(pb, eps, rng)
        base = rounded(pb, pb.x_flat + (-1.0) ** d * min(d, 1) * reach * np.sign(shift))
        shift = np.where(_exact(pb, base, shift), shift, 0.0)
        center = f0 if d == 0 else value_at(pb, g, base - pb.x_flat)
        values = [value_at(pb, g, base + j * shift - pb.x_flat) for j in (-2, -1, 1, 2)]
        calls += 4 if d == 0 else 5
        d4 = fourth_difference(values, center)
        if np.isfinite(d4):
            worst = max(worst, abs(d4))
    return PROBE_SAFETY * worst / math.sqrt(70.0), calls


def probe_shifts(pb: Problem, eps: Float64Array) -> list[Float64Array]:
    """The probe's ``δ v`` around x, one (P,) array per direction (j δ v exact, j = ±1, ±2).

    Coordinates whose probe points would not be exact in x's dtype stay at x.
    """
    rng = np.random.default_rng(PROBE_SEED)
    return [_probe_shift(pb, eps, rng) for _ in range(PROBE_DIRECTIONS)]


def _probe_shift(pb: Problem, eps: Float64Array, rng: np.random.Generator) -> Float64Array:
    """The next direction's ``δ v`` of :func:`probe_shifts`, drawn from ``rng``."""
    delta = 2.0 ** np.ceil(np.log2(PROBE_STEP * eps * np.maximum(1.0, np.abs(pb.x_flat))))
    shift = delta * rng.choice([-1.0, 1.0], size=pb.layout.size)
    del delta
    out: Float64Array = np.where(_exact(pb, pb.x_flat, shift), shift, 0.0)
    return out


def evaluator_at(pb: Problem, g: Callable[..., Any], shift: Float64Array) -> _evaluate.Evaluator:
    """An evaluator of ``g`` at ``x + shift`` (a new one: its calls are counted apart)."""
    return pb.make_evaluator(g, _leaves(pb, pb.x_flat + shift), pb.treedef, pb.args)


def value_at(pb: Problem, g: Callable[..., Any], shift: Float64Array) -> float:
    """``g(x + shift)``, NaN where g raises one of DOMAIN_ERRORS there."""
    try:
        return evaluator_at(pb, g, shift).at_x()
    except DOMAIN_ERRORS:
        return math.nan


def fourth_difference(values: list[Any], center: Any) -> Any:
    """``v₋₂ - 4 v₋₁ + 6 v₀ - 4 v₁ + v₂`` from ``values = [v₋₂, v₋₁, v₁, v₂]``."""
    return values[0] - 4.0 * values[1] + 6.0 * center - 4.0 * values[2] + values[3]


def _leaves(pb: Problem, flat: Float64Array) -> list[npt.NDArray[Any]]:
    """The (P,) point ``flat`` as leaves shaped like x's, each in its leaf's dtype."""
    return [part.astype(leaf.dtype) for leaf, part in zip(pb.leaves, pb.split(flat), strict=True)]


def rounded(pb: Problem, flat: Float64Array) -> Float64Array:
    """``flat`` rounded to x's dtypes, as float64, shape (P,): ``flat`` itself where every
    leaf is float64 (nothing to round, and no copy of the size of x)."""
    if all(leaf.dtype == np.float64 for leaf in pb.leaves):
        return flat
    return _tree.concat(_leaves(pb, flat))


def _exact(pb: Problem, base: Float64Array, shift: Float64Array) -> npt.NDArray[np.bool_]:
    """Where ``base + j shift`` is exact in x's dtypes for j = ±1, ±2, shape (P,)."""
    ok = np.ones(pb.layout.size, bool)
    for j in (-2.0, -1.0, 1.0, 2.0):
        ok &= rounded(pb, base + j * shift) - base == j * shift
    return ok


def scale(pb: Problem, index: IntArray) -> Float64Array:
    """``max(1, |x_k|)``, the length scale of each coordinate in the scaling model."""
    return np.maximum(1.0, np.abs(pb.x_flat[index]))


def all_coordinates(pb: Problem) -> IntArray:
    """Every coordinate index 0..P-1."""
    return np.arange(pb.layout.size, dtype=np.intp)


def gradient_leaves(
    pb: Problem, grad: Any, pair: Any
) -> tuple[list[_tree.FloatArray], float]:
    """The analytic gradient's leaves, validated like x's (no copy), and their largest ε.

    ``pair`` is the (value, gradient) wrapper of f when ``grad`` is None, after its call at x.
    """
    if pair is not None:
        tree, name = pair.gradient, "f(x)[1]"
    elif callable(grad):
        tree, name = grad(pb.fresh_x(), *pb.args), "grad"
    else:
        tree, name = grad, "grad"
    raw = _tree.flatten_like(tree, pb.treedef, name, "x")
    leaves = _tree.float_leaves(raw, pb.layout.paths, name, strict=False)
    _tree.check_shapes(leaves, pb.leaves, pb.layout.paths, name, "x")
    return leaves, max(float(np.finfo(leaf.dtype).eps) for leaf in leaves)


# --- The estimators ----------------------------------------------------------------------------

Complex128Array = npt.NDArray[np.complex128]
BoolArray = npt.NDArray[np.bool_]

#: A one-sided disagreement ``|f₊ - 2 f₀ + f₋| / h`` this many times larger than the scaling
#: model's ``h F / m²`` (plus its rounding) makes central differences ask for a closer look.
KINK_FACTOR = 100.0
#: Convergence-order test of the Richardson levels (see :func:`_keeps_too_much`): a change
#: may keep up to this multiple of the fraction a smooth f keeps (a quarter of the previous
#: difference of central values: a kink of f′ keeps half, a kink of f all of it or more).
ORDER_SLACK = 1.2
#: Multiplies the rounding bounds of the differences in the convergence-order test.
ORDER_NOISE = 2.0
#: A one-sided gap this many times larger at a smaller step reveals rounding noise in f
#: (see :func:`_noise_shown_by`): smooth f shrinks it, a kink keeps it.
NOISE_GROWTH = 1.5


#: A step that leaves f's domain is divided by this, ...
DOMAIN_SHRINK = 4.0
#: ... up to this many times (4⁶ = 4096) before f is reported not finite near x.
DOMAIN_TRIES = 6

#: Multiplies steps of shape (P,) into the (2, P) steps of both sides.
_BOTH_SIGNS = np.array([[1.0], [-1.0]])
#: Coordinates estimated at once. Every estimate is elementwise, so blocks give the same
#: values as one pass, while the per-element intermediates of the step levels (a few dozen
#: arrays for Richardson) exist for one block only: about 4 MiB, not hundreds of bytes per
#: coordinate of x. Each block is one request to the evaluator per level and side.
BLOCK = 1 << 12


class Estimate(NamedTuple):
    """A numerical derivative at each of n coordinates; every array has shape (n,)."""

    value: Float64Array
    """The estimate of ∂f/∂x_k."""
    error: Float64Array
    """Estimated absolute error of ``value`` (rounding + truncation), before any safety factor."""
    step: Float64Array
    """The representable step (the base step for Richardson)."""
    f_max: Float64Array
    """``max |f|`` over the evaluations used for the coordinate."""
    nonsmooth: BoolArray
    """Evidence that f is not smooth within the step (central: anomalous second difference;
    Richardson: levels that do not converge at the orders of a smooth f)."""
    suspect: BoolArray
    """Worth a second look even where the analytic value passes: ``nonsmooth``, or for
    Richardson a truncation estimate above KINK_FACTOR times its rounding bound."""
    low: Float64Array
    """Smaller one-sided difference quotient at the smallest step (NaN without f(x))."""
    high: Float64Array
    """Larger one-sided difference quotient at the smallest step (NaN without f(x))."""
    quotient_noise: Float64Array
    """Rounding bound ``2 u / h`` of a one-sided quotient at the smallest step."""
    curvature: Float64Array
    """Measured ``|f''|``, the second difference at the smallest step (NaN where not known)."""
    n_evaluations: int
    """Calls of f this estimate made."""
    fine_truncation: Float64Array | None = None
    """Richardson: the measured truncation ``|D(h/2) - D(h/4)| / 3`` of central differences
    at its finest level h/4 (``c h²`` halves to a quarter); None for the other estimates."""


class OutsideDomain(ValueError):
    """f is not finite (or raises) on a side of the coordinates ``index`` even at the largest
    shrink of their steps: f is not defined on a neighbourhood of x along them. The message
    names the first such point, and f's own error where it raised (the ``__cause__``)."""

    def __init__(self, message: str, index: IntArray) -> None:
        super().__init__(message)
        self.index = index


def _finite(
    values: npt.NDArray[Any], index: IntArray, pb: Problem, shift: Float64Array,
    seen: list[Exception] | None = None,
) -> None:
    """OutsideDomain naming the first coordinate whose shifted value of f is not finite.

    Where f raised (``seen``), its first exception is the cause, and named in the message.
    """
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    j = int(np.flatnonzero(bad)[0])
    where = f"at x moved by {shift[j]:.3g} along `{pb.layout.describe(int(index[j]))}`"
    what = f"`f` returned {values[j]} {where}"
    if seen:
        what = f"`f` raised {type(seen[0]).__name__}: {seen[0]} ({where})"
    raise OutsideDomain(
        f"{what}; f must be finite near x (pass a smaller `step` if x is close to where f is "
        "undefined)", np.unique(index[bad]),
    ) from (seen[0] if seen else None)


def _values(
    ev: _evaluate.Evaluator, index: IntArray, shifts: Float64Array, seen: list[Exception]
) -> Float64Array:
    """``f`` at x moved by ``shifts`` along ``index``; NaN where f raises a domain error.

    One request first; where f raises (``math.log`` of a negative number, numpy warnings
    turned into errors), the exception is appended to ``seen`` and the points are evaluated
    one at a time to find which.
    """
    try:
        return ev.along(index, shifts)
    except DOMAIN_ERRORS as exc:
        seen.append(exc)
        out = np.empty(len(index))
        for j in range(len(index)):
            try:
                out[j] = ev.along(index[j : j + 1], shifts[j : j + 1])[0]
            except DOMAIN_ERRORS:
                out[j] = np.nan
            except Exception:  # one point at a time fails otherwise: f's first error stands
                raise exc from None
        return out


def _pair_in_domain(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray
) -> tuple[Float64Array, Level]:
    """The nominal steps used and the level ``(h₊, h₋, f₊, f₋)`` of central differences.

    Where f is not finite (or raises) on a side, that coordinate's step is shrunk by
    DOMAIN_SHRINK, up to DOMAIN_TRIES times, before anything is reported: f is smooth on a
    neighbourhood of x, only the step left it. Still not finite: ValueError naming it.
    """
    h = np.array(h[index], dtype=float)
    seen: list[Exception] = []
    hp, hm, fp, fm = _sides(ev, pb, h, index, seen)
    for _ in range(DOMAIN_TRIES):
        bad = np.flatnonzero(~(np.isfinite(fp) & np.isfinite(fm)))
        if bad.size == 0:
            break
        h[bad] /= DOMAIN_SHRINK
        hp[bad], hm[bad], fp[bad], fm[bad] = _sides(ev, pb, h[bad], index[bad], seen)
    both, shifts = np.concatenate([index, index]), np.concatenate([hp, hm])
    _finite(np.concatenate([fp, fm]), both, pb, shifts, seen)
    return h, (hp, hm, fp, fm)


def _sides(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray,
    seen: list[Exception],
) -> Level:
    """Representable shifts ``h₊ > 0 > h₋`` for nominal steps ``h`` (n,) and f there."""
    hp, hm = _shifts(pb, _BOTH_SIGNS * h, index)
    # One request for both sides: a batched or parallel evaluator fills fewer, larger blocks.
    values = _values(ev, np.concatenate([index, index]), np.concatenate([hp, hm]), seen)
    return hp, hm, values[: len(index)], values[len(index) :]


def _pair(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray
) -> Level:
    """Representable shifts ``h₊ > 0 > h₋`` and ``f(x + h₊ e_k)``, ``f(x + h₋ e_k)``;
    ``h`` has shape (P,), steps shrunk where they leave f's domain (see _pair_in_domain)."""
    return _pair_in_domain(ev, pb, h, index)[1]


def _nan(n: int) -> Float64Array:
    """(n,) NaN: a read-only view of one value, no memory of the size of n."""
    return np.broadcast_to(np.float64(np.nan), (n,))


def _none(n: int) -> BoolArray:
    """(n,) False: a read-only view of one value, no memory of the size of n."""
    return np.broadcast_to(np.False_, (n,))


def _forward_points(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray
) -> tuple[Float64Array, Float64Array]:
    """The representable shifts ``h₊`` and ``f(x + h₊ e_k)``.

    Where f is not finite (or raises) at ``x + h e_k``, the step is shrunk by DOMAIN_SHRINK,
    then, still outside f's domain, taken on the other side (a backward difference).
    """
    step = np.array(h[index], dtype=float)
    seen: list[Exception] = []
    hp, fp = _forward_at(ev, pb, step, index, seen)
    for attempt in range(DOMAIN_TRIES + 1):
        bad = np.flatnonzero(~np.isfinite(fp))
        if bad.size == 0:
            break
        step[bad] = -h[index[bad]] if attempt == DOMAIN_TRIES else step[bad] / DOMAIN_SHRINK
        hp[bad], fp[bad] = _forward_at(ev, pb, step[bad], index[bad], seen)
    _finite(fp, index, pb, hp, seen)
    return hp, fp


def _forward_at(
    ev: _evaluate.Evaluator, pb: Problem, step: Float64Array, index: IntArray,
    seen: list[Exception],
) -> tuple[Float64Array, Float64Array]:
    """Representable shifts for the signed steps ``step`` (n,) and f there."""
    hp = _shifts(pb, step, index)
    return hp, _values(ev, index, hp, seen)


def _shifts(pb: Problem, h: Float64Array, index: IntArray) -> Float64Array:
    """:func:`gradcheck.shifted_steps` of the steps ``h`` (..., n) at ``index`` alone.

    Only the n coordinates are touched, not P; where a shift rounds to 0, shifted_steps
    itself raises its ValueError naming the coordinate.
    """
    out = np.empty(h.shape)
    for dtype, a, b in pb.layout.runs():
        inside = (index >= a) & (index < b)
        if inside.any():
            xs = pb.x_flat[index[inside]].astype(dtype)
            out[..., inside] = (xs + h[..., inside].astype(dtype)) - xs
    if (out != 0).all():
        return out
    full = np.zeros((*h.shape[:-1], pb.layout.size))
    full[..., index] = h
    return shifted_steps(pb.x_flat, pb.layout, full, only=index)[..., index]


def _imaginary_points(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray
) -> tuple[Float64Array, Complex128Array]:
    """The imaginary steps ``h`` in the leaves' dtypes and ``f(x + i h e_k)``."""
    hi = _imaginary_steps(pb, h, index)
    values = ev.along_imaginary(index, hi)
    _finite(values, index, pb, hi)
    return hi, values


def _imaginary_steps(pb: Problem, h: Float64Array, index: IntArray) -> Float64Array:
    """:func:`gradcheck.imaginary_steps` at ``index`` alone (its ValueError where one
    rounds to 0)."""
    out = np.array(h[index], dtype=float)
    for dtype, a, b in pb.layout.runs():
        inside = (index >= a) & (index < b)
        out[inside] = out[inside].astype(dtype)
    if out.all():
        return out
    return imaginary_steps(pb.layout, h)[index]


def _in_blocks(one: Callable[[IntArray], Estimate], index: IntArray) -> Estimate:
    """``one`` over consecutive blocks of BLOCK coordinates of ``index``, joined: the arrays
    of one call over ``index`` (every estimate is elementwise), with the intermediates of
    one block alive at a time."""
    if len(index) <= BLOCK:
        return one(index)
    first = one(index[:BLOCK])
    fields: dict[str, Any] = {}
    constants: dict[str, Any] = {}
    for name, part in first._asdict().items():
        if isinstance(part, np.ndarray) and part.strides == (0,):  # a constant (_nan, _none)
            constants[name] = np.broadcast_to(part[0], index.shape)
        elif isinstance(part, np.ndarray):  # central's suspect is its nonsmooth: shared
            same = [k for k in fields if getattr(first, k) is part]
            fields[name] = fields[same[0]] if same else np.empty(len(index), part.dtype)
    calls = first.n_evaluations
    for lo in range(0, len(index), BLOCK):
        part_ = first if lo == 0 else one(index[lo : lo + BLOCK])
        calls += 0 if lo == 0 else part_.n_evaluations
        for name, out in fields.items():
            out[lo : lo + BLOCK] = getattr(part_, name)
    return first._replace(**fields, **constants, n_evaluations=calls)


def forward(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray,
    f0: float,
) -> Estimate:
    """Forward differences at ``index`` (n calls of f; ``f0 = f(x)`` is given)."""
    return _in_blocks(lambda part: _forward(ev, pb, noise, h, part, f0), index)


def _forward(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray,
    f0: float,
) -> Estimate:
    """:func:`forward` at one block of coordinates."""
    hp, fp = _forward_points(ev, pb, h, index)
    f_max = np.maximum(abs(f0), np.abs(fp))
    m = scale(pb, index)
    rounding = noise.rounding(f_max, index)
    size = np.abs(hp)  # a step taken on the other side of f's domain edge is negative
    error = 2.0 * rounding / size + size * f_max / (2.0 * m**2)
    n = len(index)
    none = _none(n)
    return Estimate(
        value=(fp - f0) / hp, error=error, step=size, f_max=f_max, nonsmooth=none, suspect=none,
        low=_nan(n), high=_nan(n), quotient_noise=2.0 * rounding / size, curvature=_nan(n),
        n_evaluations=n,
    )


def central(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray,
    f0: float | None,
) -> Estimate:
    """Central differences at ``index`` (2n calls of f; ``f0`` sharpens the error model)."""
    return _in_blocks(lambda part: _central(ev, pb, noise, h, part, f0), index)


def _central(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray,
    f0: float | None,
) -> Estimate:
    """:func:`central` at one block of coordinates."""
    hp, hm, fp, fm = _pair(ev, pb, h, index)
    half = (hp - hm) / 2.0
    f_max = np.maximum(np.abs(fp), np.abs(fm))
    if f0 is not None:
        f_max = np.maximum(f_max, abs(f0))
    m = scale(pb, index)
    rounding = noise.rounding(f_max, index)
    third = f_max / m**3
    n = len(index)
    nonsmooth, low, high, curvature = np.zeros(n, bool), _nan(n), _nan(n), _nan(n)
    if f0 is not None:
        fwd, bwd = (fp - f0) / hp, (f0 - fm) / -hm
        curvature = np.abs(fwd - bwd) / half
        disagreement = np.abs(fwd - bwd)
        third = np.maximum(third, disagreement / half / m)
        nonsmooth = disagreement > KINK_FACTOR * (half * f_max / m**2 + 4.0 * rounding / half)
        low, high = np.minimum(fwd, bwd), np.maximum(fwd, bwd)
    error = rounding / half + half**2 / 6.0 * third
    return Estimate(
        value=(fp - fm) / (hp - hm), error=error, step=hp, f_max=f_max, nonsmooth=nonsmooth,
        suspect=nonsmooth, low=low, high=high, quotient_noise=2.0 * rounding / half,
        curvature=curvature, n_evaluations=2 * n,
    )


def complex_step(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray
) -> Estimate:
    """Complex-step derivatives at ``index`` (n calls of f with complex x)."""
    return _in_blocks(lambda part: _complex_step(ev, pb, noise, h, part), index)


def _complex_step(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray
) -> Estimate:
    """:func:`complex_step` at one block of coordinates."""
    hi, values = _imaginary_points(ev, pb, h, index)
    value = values.imag / hi
    f_max = np.abs(values.real)
    relative = noise.eps[index] + noise.spread / np.maximum(f_max, max(noise.spread, 1e-300))
    m = scale(pb, index)
    error = (relative * np.abs(value) + hi**2 * f_max / (6.0 * m**3)
             + noise.resolution(index) / hi)
    n = len(index)
    none = _none(n)
    return Estimate(
        value=value, error=error, step=hi, f_max=f_max, nonsmooth=none, suspect=none,
        low=_nan(n), high=_nan(n), quotient_noise=error, curvature=_nan(n), n_evaluations=n,
    )


def complex_noise(
    pb: Problem, g: _evaluate.ScalarFunction, noise: Noise, h: Float64Array, index: IntArray,
    value: Float64Array,
) -> tuple[Float64Array, int]:
    """``(σ_n, calls of g)``: the noise of the complex-step values ``value`` at ``index``.

    Like :func:`gradcheck.probe_noise` for f: the complex-step derivatives at the
    probe points ``x + j δ v`` (``j = ±1, ±2``), ``σ_n = PROBE_SAFETY · max |Δ⁴| / √70``
    over the probe's directions; 4 calls of g per direction and coordinate.
    """
    hi = imaginary_steps(pb.layout, h)[index]
    worst = np.zeros(len(index))
    shifts = probe_shifts(pb, noise.eps)
    for shift in shifts:
        values = [evaluator_at(pb, g, j * shift).along_imaginary(index, hi).imag / hi
                  for j in (-2, -1, 1, 2)]
        d4 = np.abs(fourth_difference(values, value))
        worst = np.where(np.isfinite(d4), np.maximum(worst, d4), worst)
    sigma = PROBE_SAFETY * worst / np.sqrt(70.0)
    return sigma, 4 * len(shifts) * len(index)


def _lagrange_at_zero(u: list[Float64Array]) -> list[Float64Array]:
    """Weights w_j with ``p(0) = Σ w_j p(u_j)`` for the quadratic p through the three nodes."""
    return [
        np.prod([u[i] / (u[i] - u[j]) for i in range(3) if i != j], axis=0) for j in range(3)
    ]


def richardson(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray,
    f0: float | None,
) -> Estimate:
    """Central differences at h, h/2, h/4 extrapolated twice to h → 0 (6n calls of f)."""
    finer = np.empty(pb.layout.size)
    return _in_blocks(lambda part: _richardson(ev, pb, noise, h, part, f0, finer), index)


def _richardson(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray,
    f0: float | None, finer: Float64Array,
) -> Estimate:
    """:func:`richardson` at one block of coordinates (``finer``: scratch, see _levels)."""
    levels = _levels(ev, pb, h, index, finer)
    diffs, halves, t10, t11, t2 = _extrapolated(levels)
    u = [half**2 for half in halves]
    f_max = np.max([np.maximum(np.abs(fp), np.abs(fm)) for _, _, fp, fm in levels], axis=0)
    if f0 is not None:
        f_max = np.maximum(f_max, abs(f0))
    rounding = noise.rounding(f_max, index)
    if f0 is not None:
        fwd = [(fp - f0) / hp for hp, _, fp, _ in levels]
        bwd = [(f0 - fm) / -hm for _, hm, _, fm in levels]
        gaps = [a - b for a, b in zip(fwd, bwd, strict=True)]
        rounding = np.maximum(rounding, _noise_shown_by(gaps, halves))
    weights = _lagrange_at_zero(u)
    noisy = sum(np.abs(w) * rounding / half for w, half in zip(weights, halves, strict=True))
    truncation = np.maximum(np.abs(t2 - t11), np.abs(t10 - t11) / 15.0)
    n = len(index)
    d_noise = [rounding / half for half in halves]
    nonsmooth = _keeps_too_much(diffs[0] - diffs[1], diffs[1] - diffs[2],
                                d_noise[0] + d_noise[1], d_noise[1] + d_noise[2], 0.25)
    low, high, curvature = _nan(n), _nan(n), _nan(n)
    if f0 is not None:
        q_noise = [2.0 * d for d in d_noise]
        for j in (0, 1):
            nonsmooth |= _keeps_too_much(gaps[j], gaps[j + 1], 2.0 * q_noise[j],
                                         2.0 * q_noise[j + 1], 0.5)
        # the second differences gap / h converge at order 2 too: a kink crossed by the
        # coarser levels only can make the central values and gaps shrink as a smooth f's do
        curv = [gap / half for gap, half in zip(gaps, halves, strict=True)]
        c_noise = [2.0 * q / half for q, half in zip(q_noise, halves, strict=True)]
        nonsmooth |= _keeps_too_much(curv[1] - curv[0], curv[2] - curv[1],
                                     c_noise[0] + c_noise[1], c_noise[1] + c_noise[2], 0.25)
        low, high = _one_sided_range(fwd, bwd, q_noise)
        nonsmooth |= np.isinf(low)
        curvature = np.abs(fwd[2] - bwd[2]) / halves[2]
    suspect = nonsmooth | (truncation > KINK_FACTOR * noisy)
    return Estimate(
        value=t2, error=noisy + truncation, step=levels[0][0], f_max=f_max, nonsmooth=nonsmooth,
        suspect=suspect, low=low, high=high, quotient_noise=2.0 * d_noise[2],
        curvature=curvature, n_evaluations=6 * n,
        fine_truncation=np.abs(diffs[1] - diffs[2]) / 3.0,
    )


Level = tuple[Float64Array, Float64Array, Float64Array, Float64Array]
"""``(h₊, h₋, f₊, f₋)`` of one level of central differences (see :func:`_pair`)."""


def _levels(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray,
    finer: Float64Array,
) -> list[Level]:
    """Richardson's three levels of central differences, at h, h/2 and h/4.

    A base step that leaves f's domain is shrunk first (see :func:`_pair_in_domain`), and
    the finer levels halve the step used. ``finer`` (P,) is scratch for their steps, written
    at ``index`` only: one array for every block, not one per block and level.
    """
    base, first = _pair_in_domain(ev, pb, h, index)
    levels = [first]
    for j in (1, 2):
        finer[index] = base / 2.0**j
        levels.append(_pair(ev, pb, finer, index))
    return levels


def _extrapolated(levels: list[Level]) -> tuple[
    list[Float64Array], list[Float64Array], Float64Array, Float64Array, Float64Array
]:
    """``(D_j, h_j, T₁, T₁', T₂)``: the central values and half-widths of the three levels,
    their first extrapolations (h, h/2 and h/2, h/4) and the second, Neville in h²."""
    diffs = [(fp - fm) / (hp - hm) for hp, hm, fp, fm in levels]
    halves = [(hp - hm) / 2.0 for hp, hm, _, _ in levels]
    u = [half**2 for half in halves]
    t10 = (u[0] * diffs[1] - u[1] * diffs[0]) / (u[0] - u[1])
    t11 = (u[1] * diffs[2] - u[2] * diffs[1]) / (u[1] - u[2])
    t2 = (u[0] * t11 - u[2] * t10) / (u[0] - u[2])
    return diffs, halves, t10, t11, t2


def _noise_shown_by(gaps: list[Float64Array], halves: list[Float64Array]) -> Float64Array:
    """The uncertainty of one value of f that one-sided gaps growing as h shrinks reveal.

    The gap ``(f₊ - f₀)/h - (f₀ - f₋)/h`` is ``h f″`` (shrinks with h) where f is smooth, the
    jump of f′ (stays) at a kink, and rounding ``≤ 4u/h`` (grows as h shrinks) where the values
    of f are noisier than the probe found. Where a smaller step shows a gap at least 1.5 times
    the first one, that growth is noise: ``u ≥ |gap| h / 4``; elsewhere this gives 0.
    """
    later = np.maximum(np.abs(gaps[1]), np.abs(gaps[2]))
    grows = later >= NOISE_GROWTH * np.abs(gaps[0])
    shown = np.maximum(np.abs(gaps[1]) * halves[1], np.abs(gaps[2]) * halves[2]) / 4.0
    return np.where(grows, shown, 0.0)


def _keeps_too_much(
    before: Float64Array, after: Float64Array, noise_before: Float64Array,
    noise_after: Float64Array, smooth: float,
) -> BoolArray:
    """Where ``after`` keeps more than ``ORDER_SLACK · smooth`` of ``before``, beyond noise.

    ``smooth`` is the fraction a smooth f keeps per halving of h: a quarter for the
    differences of central values (order 2), a half for the one-sided disagreement and for
    the differences of one-sided quotients (order 1).
    """
    kept = np.abs(after) - ORDER_NOISE * noise_after
    return kept > ORDER_SLACK * smooth * (np.abs(before) + ORDER_NOISE * noise_before)


def _one_sided_range(
    fwd: list[Float64Array], bwd: list[Float64Array], noise: list[Float64Array]
) -> tuple[Float64Array, Float64Array]:
    """Where the one-sided derivatives lie, as far as the three levels show.

    Each side converges at order 1 where f is smooth on it: its limit lies within its last
    change of its value at the smallest step. A side whose quotients do not settle so (a
    second kink within the step) bounds nothing: the range is then (-inf, inf).
    """
    width = np.zeros_like(fwd[0])
    settled = np.ones(fwd[0].shape, bool)
    for q in (fwd, bwd):
        width = np.maximum(width, np.abs(q[2] - q[1]))
        settled &= ~_keeps_too_much(q[1] - q[0], q[2] - q[1], noise[0] + noise[1],
                                    noise[1] + noise[2], 0.5)
    # each side is the central value plus or minus half the gap: where the central values
    # converge at order 2 and the gap at order 1, both sides settle, even where a side's own
    # h and h² terms nearly cancel and its changes do not halve (f‴ h comparable to f″)
    central = [(a + b) / 2.0 for a, b in zip(fwd, bwd, strict=True)]
    gap = [a - b for a, b in zip(fwd, bwd, strict=True)]
    pair = ~_keeps_too_much(central[1] - central[0], central[2] - central[1],
                            noise[0] + noise[1], noise[1] + noise[2], 0.25)
    pair &= ~_keeps_too_much(gap[1] - gap[0], gap[2] - gap[1], 2.0 * (noise[0] + noise[1]),
                             2.0 * (noise[1] + noise[2]), 0.5)
    settled |= pair
    low = np.where(settled, np.minimum(fwd[2], bwd[2]) - width, -np.inf)
    high = np.where(settled, np.maximum(fwd[2], bwd[2]) + width, np.inf)
    return low, high


def estimate(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray,
    f0: float | None,
) -> Estimate:
    """The estimate of ``pb.method`` at ``index``; forward differences need ``f0``."""
    estimate_: Estimate = METHODS[pb.method].estimate(ev, pb, noise, h, index, f0)
    return estimate_


def derivative(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray
) -> Float64Array:
    """The derivative of ``pb.method`` at ``index`` alone, without the error model.

    The values of :func:`estimate` (same points, same formulas, blocks of BLOCK
    coordinates) at less cost: what :func:`numerical_gradient` returns. Forward differences
    evaluate f(x) first.
    """
    out: Float64Array = METHODS[pb.method].derivative(ev, pb, h, index)
    return out


def _by_blocks(
    index: IntArray, block: Callable[[IntArray], Float64Array]
) -> Float64Array:
    """``block`` at each block of BLOCK coordinates of ``index``, concatenated."""
    out = np.empty(len(index))
    for lo in range(0, len(index), BLOCK):
        out[lo : lo + BLOCK] = block(index[lo : lo + BLOCK])
    return out


def _forward_estimate(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray,
    f0: float | None,
) -> Estimate:
    """:func:`forward`, evaluating f(x) first (and counting it) where ``f0`` is not known."""
    if f0 is not None:
        return forward(ev, pb, noise, h, index, f0)
    f0 = value_at_x(ev)
    estimate_ = forward(ev, pb, noise, h, index, f0)
    return estimate_._replace(n_evaluations=estimate_.n_evaluations + 1)


def _forward_derivative(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray
) -> Float64Array:
    """Forward differences alone, f(x) evaluated first."""
    f0 = value_at_x(ev)

    def block(part: IntArray) -> Float64Array:
        hp, fp = _forward_points(ev, pb, h, part)
        return (fp - f0) / hp

    return _by_blocks(index, block)


def _central_derivative(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray
) -> Float64Array:
    """Central differences alone."""

    def block(part: IntArray) -> Float64Array:
        hp, hm, fp, fm = _pair(ev, pb, h, part)
        return (fp - fm) / (hp - hm)

    return _by_blocks(index, block)


def _complex_derivative(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray
) -> Float64Array:
    """The complex step alone."""

    def block(part: IntArray) -> Float64Array:
        hi, values = _imaginary_points(ev, pb, h, part)
        out: Float64Array = values.imag / hi
        return out

    return _by_blocks(index, block)


def _richardson_derivative(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray
) -> Float64Array:
    """Richardson's extrapolation alone (``finer``: scratch for its finer steps, see _levels)."""
    finer = np.empty(pb.layout.size)
    return _by_blocks(index, lambda part: _extrapolated(_levels(ev, pb, h, part, finer))[-1])


def value_at_x(ev: _evaluate.Evaluator) -> float:
    """``f(x)``, or ValueError when it is not finite."""
    value = ev.at_x()
    if not np.isfinite(value):
        raise ValueError(f"`f` returned {value} at x; f must return a finite value at x")
    return value


#: Random directions along which the complex step is compared with real differences.
DIRECTIONS = 2
#: Seed of the directions: a check is reproducible.
SEED = 20261203
#: Multiplies the error bound of the comparison.
SAFETY = 10.0

CAUSES = (
    "f is not analytic in x or its complex values are inaccurate; likely causes: abs, "
    "var/std (they go through conj), maximum/minimum/where or comparisons, np.real, or a "
    "special function whose complex part is inaccurate (scipy.special); use "
    'method="central" or method="richardson"'
)


def check_complex(
    pb: Problem, g: Callable[..., Any], f0: float, est: Estimate, noise: Noise
) -> int:
    """Raise TypeError unless the complex-step gradient ``est`` agrees with real differences.

    ``g`` is f as the checker evaluates it, ``f0 = g(x)``; returns the calls of g made.
    A direction where f is not finite is skipped.
    """
    return check_complex_resolution(pb, g, f0, est, noise)[0]


def check_complex_resolution(
    pb: Problem, g: Callable[..., Any], f0: float, est: Estimate, noise: Noise
) -> tuple[int, Float64Array]:
    """:func:`check_complex`, with the smallest error per element it would have seen.

    Returns ``(calls, resolution)``, resolution of shape (P,): an error ``δ_k`` in element k
    alone moves the comparison along w by ``δ_k w_k``, so the premise is verified only down to
    ``min over directions of bound / |w_k|``. Below it a complex-step value is not vouched for
    by real differences (0 where no direction was finite: nothing to go by).
    """
    h = default_steps("central", pb.leaves, eps_floor=float(noise.eps.max()))
    rng = np.random.default_rng(SEED)
    calls = 0
    resolution = np.full(pb.layout.size, np.inf)
    for _ in range(DIRECTIONS):
        w = rng.choice([-1.0, 1.0], size=pb.layout.size)
        w *= h
        found = _compare(pb, g, f0, est, noise, w)
        calls += 4
        if found is None:
            continue
        real, complex_, bound = found
        if abs(real - complex_) > bound:
            raise TypeError(
                f'`method="complex"` cannot check this f: along a random direction its '
                f"complex-step derivative is {complex_:.9g} but real differences give "
                f"{real:.9g} (difference {abs(real - complex_):.2g}, allowed {bound:.2g}); "
                + CAUSES
            )
        np.abs(w, out=w)
        with np.errstate(divide="ignore"):
            np.divide(bound, w, out=w)
        np.minimum(resolution, w, out=resolution)
        del w  # (P,) arrays held one at a time: the premise is the complex step's peak
    resolution[~np.isfinite(resolution)] = 0.0
    return calls, resolution


def _compare(
    pb: Problem, g: Callable[..., Any], f0: float, est: Estimate, noise: Noise,
    w: Float64Array,
) -> tuple[float, float, float] | None:
    """``(real, complex, bound)`` along ``w``; None where f is not finite there."""
    gaps, values, reals = [], [abs(f0)], []
    for s in (1.0, 0.5):
        fp = value_at(pb, g, _move(pb, s, w))
        fm = value_at(pb, g, _move(pb, -s, w))
        if not (np.isfinite(fp) and np.isfinite(fm)):
            return None
        values += [abs(fp), abs(fm)]
        real = (fp - fm) / (2.0 * s)
        reals.append(real)
        both = _move(pb, s, w)
        both -= _move(pb, -s, w)
        gaps.append(real - float(est.value @ both) / (2.0 * s))
        del both
    gap = (4.0 * gaps[1] - gaps[0]) / 3.0
    u = float(noise.eps.max()) * max(values) + float(np.max(noise.probed)) + noise.spread
    own = float(est.error @ np.abs(w)) + 10.0 * float(noise.eps.max()) * float(
        np.abs(est.value) @ np.abs(w))
    bound = SAFETY * (abs(gaps[1] - gaps[0]) + 3.0 * u + own)
    real = (4.0 * reals[1] - reals[0]) / 3.0
    return real, real - gap, bound


def _move(pb: Problem, s: float, w: Float64Array) -> Float64Array:
    """``rounded(x + s w) - x``: the move along ``w`` that x's dtypes can make, made in place
    in one new (P,) array."""
    move = s * w
    move += pb.x_flat
    move = rounded(pb, move)
    move -= pb.x_flat
    return move


# The registry (see Method, and the module notes that derive the relative steps):
# a new method is one entry here.
_ENTRIES = (
    Method(
        "forward", calls=1, relative_step=lambda eps: float(eps**0.5),
        estimate=_forward_estimate, derivative=_forward_derivative,
    ),
    Method(
        "central", calls=2, relative_step=lambda eps: float(eps ** (1.0 / 3.0)),
        estimate=central, derivative=_central_derivative,
    ),
    Method(
        # h² ≪ ε makes any step exact; float32's keeps h far above its smallest normal number
        "complex", calls=1, relative_step=lambda eps: 1e-20 if eps <= _EPS64 else 1e-10,
        estimate=lambda ev, pb, noise, h, index, f0: complex_step(ev, pb, noise, h, index),
        derivative=_complex_derivative, premise=check_complex_resolution,
    ),
    Method(
        "richardson", calls=6, relative_step=lambda eps: float(eps ** (1.0 / 7.0)),
        estimate=richardson, derivative=_richardson_derivative,
    ),
)
for _method in _ENTRIES:
    register(_method)
