"""Numerical gradients: forward, central, complex-step and Richardson estimators.

Each estimator works on a set of coordinates through an evaluator (see
:mod:`gradcheck._evaluate`) and returns an :class:`Estimate`: the derivative, an estimate of
its absolute error, the steps, and what the checker needs to judge it. The error estimates
use, per coordinate k: the step ``h``, the largest ``F = max |f|`` over the values used,
``u = ε F + s`` the uncertainty of one value of f (``ε`` the epsilon of the coordinate's and
f's dtype, ``s`` the known nondeterminism of f), and ``m = max(1, |x_k|)``. Where a derivative
of f is not measured, the scaling model ``|f^(j)| ≈ F / m**j`` stands in for it.

==========  ==================================  ==========================================
method      estimate                            error estimate
==========  ==================================  ==========================================
forward     ``(f(x+h e_k) - f(x)) / h``         ``2 u / h + h F / (2 m²)``
central     ``(f(x+h e_k) - f(x-h e_k)) / 2h``  ``u / h + h² / 6 · max(F / m³, |f''| / m)``
complex     ``Im f(x + i h e_k) / h``           ``(ε + s / F) |n| + h² F / (6 m³)``
richardson  central at h, h/2, h/4, twice       ``Σ_j |w_j| u / h_j`` + tableau difference
            extrapolated (Neville in h²)
==========  ==================================  ==========================================

``f''`` for central differences is the free second difference ``(f₊ - 2 f₀ + f₋) / h²``
when ``f(x)`` is known. Richardson's truncation estimate is
``max(|T₂ - T₁'|, |T₁ - T₁'| / 15)``, the error of the better first-level extrapolation
``T₁'``, a safe bound for the second-level value ``T₂``; ``w_j`` are the extrapolation
weights (1, -20, 64) / 45 that turn rounding of the three central differences into
rounding of ``T₂``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from gradcheck import _evaluate, _problem, _tree, steps
from gradcheck._problem import Noise, Problem

__all__ = ["Estimate", "estimate", "gradient_with", "numerical_gradient", "richardson"]

Float64Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

#: A one-sided disagreement ``|f₊ - 2 f₀ + f₋| / h`` this many times larger than the scaling
#: model's ``h F / m²`` (plus its rounding) makes central differences ask for a closer look.
KINK_FACTOR = 100.0
#: Across the Richardson levels h and h/4, a smooth f shrinks the one-sided disagreement 4
#: times; a kink leaves it unchanged. More than this fraction left means "does not scale".
KINK_RATIO = 0.5


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
    Richardson: one-sided disagreement that does not shrink with h)."""
    low: Float64Array
    """Smallest one-sided difference quotient seen (NaN where f(x) was not given)."""
    high: Float64Array
    """Largest one-sided difference quotient seen (NaN where f(x) was not given)."""
    n_evaluations: int
    """Calls of f this estimate made."""


def _finite(values: npt.NDArray[Any], index: IntArray, pb: Problem, shift: Float64Array) -> None:
    """ValueError naming the first coordinate whose shifted value of f is not finite."""
    bad = ~np.isfinite(values)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`f` returned {values[j]} at x moved by {shift[j]:.3g} along "
            f"`{pb.layout.describe(int(index[j]))}`; f must be finite near x (pass a smaller "
            "`step` if x is close to where f is undefined)"
        )


def _pair(
    ev: _evaluate.Evaluator, pb: Problem, h: Float64Array, index: IntArray
) -> tuple[Float64Array, Float64Array, Float64Array, Float64Array]:
    """Representable shifts ``h₊ > 0 > h₋`` and ``f(x + h₊ e_k)``, ``f(x + h₋ e_k)``."""
    hp = steps.shifted_steps(pb.leaves, pb.layout, h)[index]
    hm = steps.shifted_steps(pb.leaves, pb.layout, -h)[index]
    fp = ev.along(index, hp)
    _finite(fp, index, pb, hp)
    fm = ev.along(index, hm)
    _finite(fm, index, pb, hm)
    return hp, hm, fp, fm


def _nan(n: int) -> Float64Array:
    """A (n,) array of NaN."""
    return np.full(n, np.nan)


def forward(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray,
    f0: float,
) -> Estimate:
    """Forward differences at ``index`` (n calls of f; ``f0 = f(x)`` is given)."""
    hp = steps.shifted_steps(pb.leaves, pb.layout, h)[index]
    fp = ev.along(index, hp)
    _finite(fp, index, pb, hp)
    f_max = np.maximum(abs(f0), np.abs(fp))
    m = _problem.scale(pb, index)
    error = 2.0 * noise.rounding(f_max, index) / hp + hp * f_max / (2.0 * m**2)
    n = len(index)
    return Estimate((fp - f0) / hp, error, hp, f_max, np.zeros(n, bool), _nan(n), _nan(n), n)


def central(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray,
    f0: float | None,
) -> Estimate:
    """Central differences at ``index`` (2n calls of f; ``f0`` sharpens the error model)."""
    hp, hm, fp, fm = _pair(ev, pb, h, index)
    half = (hp - hm) / 2.0
    f_max = np.maximum(np.abs(fp), np.abs(fm))
    if f0 is not None:
        f_max = np.maximum(f_max, abs(f0))
    m = _problem.scale(pb, index)
    rounding = noise.rounding(f_max, index)
    third = f_max / m**3
    n = len(index)
    nonsmooth, low, high = np.zeros(n, bool), _nan(n), _nan(n)
    if f0 is not None:
        fwd, bwd = (fp - f0) / hp, (f0 - fm) / -hm
        disagreement = np.abs(fwd - bwd)
        third = np.maximum(third, disagreement / half / m)
        nonsmooth = disagreement > KINK_FACTOR * (half * f_max / m**2 + 4.0 * rounding / half)
        low, high = np.minimum(fwd, bwd), np.maximum(fwd, bwd)
    error = rounding / half + half**2 / 6.0 * third
    return Estimate((fp - fm) / (hp - hm), error, hp, f_max, nonsmooth, low, high, 2 * n)


def complex_step(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray
) -> Estimate:
    """Complex-step derivatives at ``index`` (n calls of f with complex x)."""
    hi = steps.imaginary_steps(pb.layout, h)[index]
    values = ev.along_imaginary(index, hi)
    _finite(values, index, pb, hi)
    value = values.imag / hi
    f_max = np.abs(values.real)
    relative = noise.eps[index] + noise.spread / np.maximum(f_max, max(noise.spread, 1e-300))
    m = _problem.scale(pb, index)
    error = relative * np.abs(value) + hi**2 * f_max / (6.0 * m**3)
    n = len(index)
    return Estimate(value, error, hi, f_max, np.zeros(n, bool), _nan(n), _nan(n), n)


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
    levels = [_pair(ev, pb, h / 2.0**j, index) for j in range(3)]
    diffs = [(fp - fm) / (hp - hm) for hp, hm, fp, fm in levels]
    halves = [(hp - hm) / 2.0 for hp, hm, _, _ in levels]
    u = [half**2 for half in halves]
    t10 = (u[0] * diffs[1] - u[1] * diffs[0]) / (u[0] - u[1])
    t11 = (u[1] * diffs[2] - u[2] * diffs[1]) / (u[1] - u[2])
    t2 = (u[0] * t11 - u[2] * t10) / (u[0] - u[2])
    f_max = np.max([np.maximum(np.abs(fp), np.abs(fm)) for _, _, fp, fm in levels], axis=0)
    if f0 is not None:
        f_max = np.maximum(f_max, abs(f0))
    rounding = noise.rounding(f_max, index)
    weights = _lagrange_at_zero(u)
    error = sum(np.abs(w) * rounding / half for w, half in zip(weights, halves, strict=True))
    error = error + np.maximum(np.abs(t2 - t11), np.abs(t10 - t11) / 15.0)
    n = len(index)
    nonsmooth, low, high = np.zeros(n, bool), _nan(n), _nan(n)
    if f0 is not None:
        fwd = [(fp - f0) / hp for hp, _, fp, _ in levels]
        bwd = [(f0 - fm) / -hm for _, hm, _, fm in levels]
        gaps = [np.abs(a - b) for a, b in zip(fwd, bwd, strict=True)]
        noisy = [4.0 * rounding / half for half in halves]
        nonsmooth = gaps[2] - noisy[2] > KINK_RATIO * (gaps[0] + noisy[0])
        low, high = np.min(fwd + bwd, axis=0), np.max(fwd + bwd, axis=0)
    return Estimate(t2, error, levels[0][0], f_max, nonsmooth, low, high, 6 * n)


def estimate(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, index: IntArray,
    f0: float | None,
) -> Estimate:
    """The estimate of ``pb.method`` at ``index``; forward differences need ``f0``."""
    if pb.method == "forward":
        if f0 is None:
            f0 = value_at_x(ev)
            estimate_ = forward(ev, pb, noise, h, index, f0)
            return estimate_._replace(n_evaluations=estimate_.n_evaluations + 1)
        return forward(ev, pb, noise, h, index, f0)
    if pb.method == "central":
        return central(ev, pb, noise, h, index, f0)
    if pb.method == "complex":
        return complex_step(ev, pb, noise, h, index)
    return richardson(ev, pb, noise, h, index, f0)


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

    Returns
    -------
    gradient : ndarray or pytree of ndarrays
        ∂f/∂x with the structure, shapes and dtypes of ``x``.

    Raises
    ------
    TypeError
        ``f`` not callable, ``args`` not a tuple, a leaf of ``x`` not a float32/float64
        array, ``f`` not returning a real scalar, or ``f`` not accepting complex input for
        ``method="complex"``.
    ValueError
        Unknown ``method``, bad ``step``, NaN or inf in ``x``, or ``f`` not finite at or near x.

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

    Examples
    --------
    >>> import numpy as np
    >>> g = numerical_gradient(lambda p: float(np.sum(p["w"] ** 3)), {"w": np.array([1.0, 2.0])})
    >>> np.round(g["w"], 6)
    array([ 3., 12.])
    """
    return gradient_with(_evaluate.factory_for(f), f, x, args=args, method=method, step=step)


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
    pb = _problem.prepare(f, x, args, method, make_evaluator)
    ev = pb.evaluator()
    noise = _problem.noise_for(pb, 0.0, 0.0)
    h = steps.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, step, eps_floor=0.0)
    est = estimate(ev, pb, noise, h, _problem.all_coordinates(pb), None)
    parts = pb.split(est.value)
    return _tree.unflatten(
        pb.treedef, [part.astype(leaf.dtype) for part, leaf in zip(parts, pb.leaves, strict=True)]
    )
