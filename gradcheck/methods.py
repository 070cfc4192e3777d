"""The numerical methods: forward, central, complex-step and Richardson estimators.

Each method is one :class:`gradcheck.steps.Method` entry at the end of this module (its
estimator, derivative-only form, calls per coordinate, relative step and premise check),
registered in ``gradcheck.steps.METHODS``. Each estimator works on a set of coordinates
through an evaluator (see :mod:`gradcheck.evaluators`) and returns an :class:`Estimate`:
the derivative, an estimate of its absolute error, the steps, and what the checker needs
to judge it. The error estimates use, per coordinate k: the step ``h``, the largest
``F = max |f|`` over the values used, ``u = max(ε F, σ_f) + s`` the uncertainty of one
value of f (``ε`` the epsilon of the coordinate's and f's dtype, ``σ_f`` the noise of f
measured near x by :func:`gradcheck.steps.probe_noise` when the checker asks for it, ``s``
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
left, the rounding of the real values (u, see :class:`gradcheck.steps.Noise`), and the
complex step's own error. Beyond it, a TypeError names the likely causes and points to the
real methods. 4 calls of f per direction.

Where f is 0 by cancellation through ``var`` (a sum of layer-norm rows), the complex values
are 0 as well and the real differences are rounding: the comparison cannot tell. So the check
also states how small an error per element it would have seen (``bound / |w_k|``, see
:func:`check_complex_resolution`); a complex-step mismatch below that is *unresolved* (the
premise is unverified at that level), not a mismatch (see :func:`gradcheck.verdict.judge`).

Example
-------
>>> import numpy as np
>>> from gradcheck import check_gradient
>>> x = np.array([0.5, -1.5, 2.0])
>>> check_gradient(lambda v: np.sum(v * np.abs(v)), x, 2 * np.abs(x), method="complex")
Traceback (most recent call last):
...
TypeError: `method="complex"` cannot check this f: ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from gradcheck import evaluators as _evaluate
from gradcheck import steps
from gradcheck import tree as _tree
from gradcheck.evaluators import factory as _evaluation
from gradcheck.evaluators import parallel as _parallel
from gradcheck.steps import Noise, Problem

__all__ = [
    "Estimate",
    "complex_noise",
    "derivative",
    "estimate",
    "gradient_with",
    "numerical_gradient",
    "richardson",
]

Float64Array = npt.NDArray[np.float64]
Complex128Array = npt.NDArray[np.complex128]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

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


#: Exceptions from f at a shifted point that mean "outside f's domain" (the value is NaN).
DOMAIN_ERRORS = steps.DOMAIN_ERRORS
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
    """:func:`gradcheck.steps.shifted_steps` of the steps ``h`` (..., n) at ``index`` alone.

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
    return steps.shifted_steps(pb.x_flat, pb.layout, full, only=index)[..., index]


def _imaginary_points(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray
) -> tuple[Float64Array, Complex128Array]:
    """The imaginary steps ``h`` in the leaves' dtypes and ``f(x + i h e_k)``."""
    hi = _imaginary_steps(pb, h, index)
    values = ev.along_imaginary(index, hi)
    _finite(values, index, pb, hi)
    return hi, values


def _imaginary_steps(pb: Problem, h: Float64Array, index: IntArray) -> Float64Array:
    """:func:`gradcheck.steps.imaginary_steps` at ``index`` alone (its ValueError where one
    rounds to 0)."""
    out = np.array(h[index], dtype=float)
    for dtype, a, b in pb.layout.runs():
        inside = (index >= a) & (index < b)
        out[inside] = out[inside].astype(dtype)
    if out.all():
        return out
    return steps.imaginary_steps(pb.layout, h)[index]


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
    m = steps.scale(pb, index)
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
    m = steps.scale(pb, index)
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
    m = steps.scale(pb, index)
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

    Like :func:`gradcheck.steps.probe_noise` for f: the complex-step derivatives at the
    probe points ``x + j δ v`` (``j = ±1, ±2``), ``σ_n = PROBE_SAFETY · max |Δ⁴| / √70``
    over the probe's directions; 4 calls of g per direction and coordinate.
    """
    hi = steps.imaginary_steps(pb.layout, h)[index]
    worst = np.zeros(len(index))
    shifts = steps.probe_shifts(pb, noise.eps)
    for shift in shifts:
        values = [steps.evaluator_at(pb, g, j * shift).along_imaginary(index, hi).imag / hi
                  for j in (-2, -1, 1, 2)]
        d4 = np.abs(steps.fourth_difference(values, value))
        worst = np.where(np.isfinite(d4), np.maximum(worst, d4), worst)
    sigma = steps.PROBE_SAFETY * worst / np.sqrt(70.0)
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
    estimate_: Estimate = steps.METHODS[pb.method].estimate(ev, pb, noise, h, index, f0)
    return estimate_


def derivative(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray
) -> Float64Array:
    """The derivative of ``pb.method`` at ``index`` alone, without the error model.

    The values of :func:`estimate` (same points, same formulas, blocks of BLOCK
    coordinates) at less cost: what :func:`numerical_gradient` returns. Forward differences
    evaluate f(x) first.
    """
    out: Float64Array = steps.METHODS[pb.method].derivative(ev, pb, h, index)
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


def numerical_gradient(
    f: _evaluate.ScalarFunction,
    x: Any,
    *,
    args: tuple[Any, ...] = (),
    method: str = "central",
    step: Any = None,
    vectorized: bool = False,
    executor: _parallel.SupportsSubmit | None = None,
    max_batch_bytes: int | None = None,
    progress: Callable[[int, int], None] | bool | None = None,
) -> Any:
    """Estimate the gradient of a scalar function by finite differences or the complex step.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returns a real scalar (Python or numpy float, or a 0-d array).
    x : ndarray or pytree of ndarrays
        The point: one float32/float64 array of any shape, or a dict, list, tuple or
        NamedTuple of them, nested to any depth. Must be finite. Never changed.
    args : tuple, optional
        Extra positional arguments passed to ``f``.
    method : {"central", "forward", "complex", "richardson"}, optional
        The estimator (see Notes).
    step : float or pytree of arrays, optional
        Absolute step: one positive number for every coordinate, or positive arrays with the
        structure and shapes of ``x``. ``None`` chooses the method's default,
        ``relative_step · max(1, |x_k|)`` (see :mod:`gradcheck.steps`).
    vectorized : bool, optional
        f accepts a batch of points: every leaf of x with a leading batch axis of length B,
        returning an array of shape (B,), one value per row (see Notes). Default False.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Evaluate chunks of points as parallel tasks on it (see Notes). Default: this thread.
    max_batch_bytes : int, optional
        With ``vectorized=True``, the most bytes of input in one batch handed to f; default
        256 KiB, cache-sized (complex input counts twice).
    progress : bool or callable, optional
        True: a progress bar on stderr for a check that takes more than a second, on a
        terminal only (:class:`gradcheck.progress.TextProgress`). A callable:
        ``progress(done, total)``, called as blocks of evaluations of f complete.

    Returns
    -------
    gradient : ndarray or pytree of ndarrays
        ∂f/∂x with the structure, shapes and dtypes of ``x``.

    Raises
    ------
    TypeError
        ``f`` not callable, ``args`` not a tuple, a leaf of ``x`` not a float32/float64
        array, ``f`` not returning a real scalar (with ``vectorized=True``: an array of shape
        (B,)), ``f`` not accepting complex input for ``method="complex"``, ``vectorized`` not
        a bool, ``executor`` without ``submit``, or ``progress`` not callable.
    ValueError
        Unknown ``method``, bad ``step``, NaN or inf in ``x``, ``f`` not finite at or near x,
        or ``max_batch_bytes`` not positive (or given without ``vectorized=True``).

    Notes
    -----
    With P coordinates, h the step and ε the machine epsilon:

    * forward: ``(f(x + h e_k) - f(x)) / h``; error O(h) + O(ε/h); P + 1 calls of f.
    * central: ``(f(x + h e_k) - f(x - h e_k)) / 2h``; error O(h²) + O(ε/h); 2P calls.
    * complex: ``Im f(x + i h e_k) / h``; no subtractive cancellation, so the error is
      O(h²) + O(ε) with ``h = 1e-20``; P calls. Valid only when f accepts complex input and is
      analytic in x: ``abs``, ``np.real``, comparisons, ``max``/``min`` and ``float()`` casts
      break it (a TypeError says so when they are detected).
    * richardson: central differences at h, h/2 and h/4 extrapolated twice; error O(h⁶) +
      O(ε/h); 6P calls.

    Steps are recomputed as the representable ``(x_k + h) - x_k`` in the leaf's dtype.

    The evaluation options change how f is called, not the steps, the formulas or the result:

    * ``vectorized=True``: f is called once per block of B points, as ``f(xb, *args)`` where
      ``xb`` has the structure of x and each leaf of shape ``s`` arrives with shape ``(B, *s)``,
      row j holding x with one element moved; f returns an array of shape (B,) (real, or complex
      for ``method="complex"``). B is the number of rows that fit in ``max_batch_bytes`` (at
      least 1), so memory is bounded by about ``max_batch_bytes`` plus what f allocates per
      block; the default keeps a block and f's temporaries in the CPU cache, raise it for an f
      with a high cost per call. f(x) is evaluated as a batch of one row. f may write into its
      argument (the next block is filled afresh) but must not keep it from one call to the next.
      Values agree with the serial path up to the rounding of f's own batched arithmetic.
      Batching saves the cost of a call of f per point, not f's arithmetic: it pays most for
      small P and cheap f.
    * ``executor``: any object with ``submit(fn, *args) -> future`` and ``future.result()``: a
      ``ThreadPoolExecutor``, a ``ProcessPoolExecutor`` or a ``dask.distributed.Client``. Each
      request of the estimator (up to P points: x moved by +h along every coordinate, say) is
      split into at most 32 tasks of consecutive points (with ``vectorized=True``, no more
      tasks than blocks); a task receives x, f and args and evaluates its points on its own copies,
      serially or, with ``vectorized=True``, in blocks. Values are gathered in order, so the
      result is bit-identical to the serial path. For a process pool or a Dask cluster, f, args
      and the leaves are pickled once per task: f must be picklable (a module-level function or
      a picklable callable object, not a lambda or closure) and importable on the workers.
      Threads help when f releases the GIL (large numpy operations). f(x) is evaluated in the
      calling thread. An exception raised in a task propagates with its type; tasks not yet
      gathered are cancelled. A function's own ``gradcheck_evaluator`` is not used when
      ``vectorized`` or ``executor`` is given.
    * ``progress(done, total)``: ``done`` and ``total`` count evaluations of f (points). It
      is called after each block completes (each call of f on the serial path, each batch,
      each task) and a last time with ``done == total``. ``total`` is the plan, P + 1, 2P, P
      or 6P (forward, central, complex, richardson). Exceptions from it propagate.

    ``n_evaluations`` (in a check's result) counts points in every case, not calls of f.

    Examples
    --------
    >>> import numpy as np
    >>> g = numerical_gradient(lambda p: float(np.sum(p["w"] ** 3)), {"w": np.array([1.0, 2.0])})
    >>> np.round(g["w"], 6)
    array([ 3., 12.])
    >>> batch = lambda p: np.sum(p["w"] ** 3, axis=1)  # p["w"] arrives with shape (B, 2)
    >>> g = numerical_gradient(batch, {"w": np.array([1.0, 2.0])}, vectorized=True)
    >>> np.round(g["w"], 6)
    array([ 3., 12.])
    """
    plan = _evaluation.Plan(
        f,
        _evaluation.options(vectorized=vectorized, executor=executor,
                            max_batch_bytes=max_batch_bytes, progress=progress),
        method,
        calls_at_x=1 if method == "forward" else 0,
    )
    gradient = gradient_with(plan.factory, f, x, args=args, method=method, step=step)
    plan.finish()
    return gradient


def gradient_with(
    make_evaluator: _evaluate.EvaluatorFactory,
    f: _evaluate.ScalarFunction,
    x: Any,
    *,
    args: tuple[Any, ...] = (),
    method: str = "central",
    step: Any = None,
) -> Any:
    """:func:`numerical_gradient` evaluating f through evaluators made by ``make_evaluator``."""
    pb = steps.prepare(f, x, args, method, make_evaluator)
    ev = pb.evaluator()
    h = steps.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, step, eps_floor=0.0)
    parts = pb.split(derivative(ev, pb, h, steps.all_coordinates(pb)))
    return _tree.unflatten(
        pb.treedef, [part.astype(leaf.dtype) for part, leaf in zip(parts, pb.leaves, strict=True)]
    )


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
    h = steps.default_steps("central", pb.leaves, eps_floor=float(noise.eps.max()))
    rng = np.random.default_rng(SEED)
    calls = 0
    resolution = np.full(pb.layout.size, np.inf)
    for _ in range(DIRECTIONS):
        w = h * rng.choice([-1.0, 1.0], size=pb.layout.size)
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
        with np.errstate(divide="ignore"):
            resolution = np.minimum(resolution, bound / np.abs(w))
    return calls, np.where(np.isfinite(resolution), resolution, 0.0)


def _compare(
    pb: Problem, g: Callable[..., Any], f0: float, est: Estimate, noise: Noise,
    w: Float64Array,
) -> tuple[float, float, float] | None:
    """``(real, complex, bound)`` along ``w``; None where f is not finite there."""
    gaps, values, reals = [], [abs(f0)], []
    for s in (1.0, 0.5):
        plus = steps.rounded(pb, pb.x_flat + s * w) - pb.x_flat
        minus = steps.rounded(pb, pb.x_flat - s * w) - pb.x_flat
        fp, fm = steps.value_at(pb, g, plus), steps.value_at(pb, g, minus)
        if not (np.isfinite(fp) and np.isfinite(fm)):
            return None
        values += [abs(fp), abs(fm)]
        real = (fp - fm) / (2.0 * s)
        reals.append(real)
        gaps.append(real - float(est.value @ (plus - minus)) / (2.0 * s))
    gap = (4.0 * gaps[1] - gaps[0]) / 3.0
    u = float(noise.eps.max()) * max(values) + float(np.max(noise.probed)) + noise.spread
    own = float(est.error @ np.abs(w)) + 10.0 * float(noise.eps.max()) * float(
        np.abs(est.value) @ np.abs(w))
    bound = SAFETY * (abs(gaps[1] - gaps[0]) + 3.0 * u + own)
    real = (4.0 * reals[1] - reals[0]) / 3.0
    return real, real - gap, bound


_EPS64 = float(np.finfo(np.float64).eps)

# The registry (see gradcheck.steps.Method, whose module notes derive the relative steps):
# a new method is one entry here.
_ENTRIES = (
    steps.Method(
        "forward", calls=1, relative_step=lambda eps: float(eps**0.5),
        estimate=_forward_estimate, derivative=_forward_derivative,
    ),
    steps.Method(
        "central", calls=2, relative_step=lambda eps: float(eps ** (1.0 / 3.0)),
        estimate=central, derivative=_central_derivative,
    ),
    steps.Method(
        # h² ≪ ε makes any step exact; float32's keeps h far above its smallest normal number
        "complex", calls=1, relative_step=lambda eps: 1e-20 if eps <= _EPS64 else 1e-10,
        estimate=lambda ev, pb, noise, h, index, f0: complex_step(ev, pb, noise, h, index),
        derivative=_complex_derivative, premise=check_complex_resolution,
    ),
    steps.Method(
        "richardson", calls=6, relative_step=lambda eps: float(eps ** (1.0 / 7.0)),
        estimate=richardson, derivative=_richardson_derivative,
    ),
)
for _method in _ENTRIES:
    steps.register(_method)
