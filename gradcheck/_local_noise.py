"""The rounding noise of f at an element's own evaluations, measured by repeating them.

The noise probe (:func:`gradcheck._problem.probe_noise`) measures f's noise along a few
directions; where f is the small difference of large values (a layer norm of a row with a
small spread or a constant row, an f that is 0 by cancellation) the rounding of f depends on
the very point it is evaluated at, and the probe's points can keep f's arithmetic exact where
the checker's steps do not. So an element that fails is first repeated: its central
difference ``D(b, h) = (f(b + h e_k) - f(b - h e_k)) / 2h`` is evaluated at the bases ``b = x``
and ``b = x ± r``, r a tiny, non-dyadic, seeded offset (``|r_i| ≤ JITTER · ε_i · max(1,
|x_i|)``), and again at ``b = x + s`` (s another such offset) and ``x + s ± r`` with the
steps ``h ± δ``, δ of the same order: f's rounding can depend on the bits of the step itself
(on a layer norm's constant rows it did, and neither r nor the confirmation, whose levels are
h times powers of two, moved it). In ``D(b + r, h ± δ) + D(b - r, h ∓ δ) - 2 D(b, h)`` the
smooth part of f cancels to ``O((|r|² + δ²) f‴)``, nothing at this scale, while the rounding
of f's arithmetic at those points (a mean that rounds the other way, a cancellation whose
residue moves) changes entirely: for independent rounding of standard deviation σ per value
of f, the combination has standard deviation ``√3 σ / h``, so ``σ_k = PROBE_SAFETY · h ·
|combination| / √3`` is the uncertainty of one value of f that the element's own evaluations
show, the larger of the two combinations (one draw each, and a draw can land near 0). 12
calls of f per element.

Forward differences need more. Their step is the smallest (2^-26 · max(1, |x_k|)), and
where f's rounding lives in an intermediate far coarser than ε |f| (a sigmoid output at
z = 13.5: J = (1 - σ)² / 2 ≈ 9e-13 is rounded in 1 + e^(-z), at 2e-22, not 2e-28), offsets
of 1e3 ulps move that intermediate by far less than its own ulp: every repeat rounds alike,
σ comes out 0, and forward quotients 4e-5 off (central ones at half-widths within 10% of h:
up to 3e-3) were confirmed by Richardson's levels at h, 2h, 4h, on the same binary lattice. So
around each base the forward repeats also take ``D(b + s ρ, h + s β) + D(b - s ρ, h - s β)
- 2 D(b, h)`` for s = 1, 2, with ρ_k, β_k seeded, non-dyadic, ``SPREAD / 2 ≤ |ρ_k|, |β_k| /
h_k ≤ SPREAD``: a fraction of the step, they move f's intermediates by a fraction of what
the step moves them (the last bias there: 5 to 18 ulps of 1 + e^(-z), the step 92). f's
smooth part leaves ``s² (ρ² + β² / 3) f‴ ≤ 0.053 h² |f‴|`` there, which adds at most
``2 · 3 / √3 · 0.053 h² |f‴| ≈ 0.18 h² |f‴|`` to the element's error, next to the
``h |f″| / 2`` of forward truncation already in it: ``0.37 h |f‴ / f″|`` of it, below 1e-6
at the default step wherever f″ varies on a scale above 0.006 · max(1, |x_k|). Central and
Richardson differences do not take these repeats: their truncation, ``h² f‴ / 6`` and far
less, is no larger than that leak, and near a pole (digamma at 0.002) the leak widened a
wrong gradient's tolerance past it. 28 calls of f per element with forward differences.

Example
-------
>>> import numpy as np
>>> from gradcheck import steps as _problem
>>> f = lambda x: float(np.sum((x - x.mean()) / np.sqrt(x.var() + 1e-5)))  # 0 by cancellation
>>> pb = _problem.prepare(f, np.full(4, 1.5), (), "central")
>>> sigma, calls = measure(pb, f, np.full(4, 9.08e-6), np.arange(4))
>>> bool(sigma.max() > 1e-15), calls
(True, 48)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import steps
from gradcheck import steps as _problem
from gradcheck.steps import Problem

Float64Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: The bases' offsets, in units of ``ε_i · max(1, |x_i|)``.
JITTER = 1e3
#: The forward repeats move the centre of element k's difference by up to ``s · SPREAD · h_k``
#: and its half-width by up to ``s · SPREAD · h_k`` (s = 1, 2; non-dyadic, seeded): a fraction
#: of the step, so they move f's intermediates by a fraction of what the step itself moves
#: them, units in their last place wherever the difference quotient means anything.
SPREAD = 0.1
#: The repeats' steps around x + s are also moved by ± STEP_NUDGE · ε_k · max(1, |x_k|)
#: (non-dyadic, some 700 units in the last place of x_k): rounding that depends on the bits
#: of the step itself (a constant row's mean, where x + h e_k moves one value of four)
#: changes with them, while the smooth part of f moves by ``δ² f‴ / 3``, nothing at this scale.
STEP_NUDGE = 0.7 * JITTER
#: Seed of the offsets: a check is reproducible.
SEED = 20261202
#: Measured noise counts where it exceeds the error model's own uncertainty u this many times.
BEYOND = 10.0
#: How much rounding each method's estimate gathers from its values, in units of ``u / h``
#: (h its base step; Richardson: the weights (1, -20, 64) / 45 at h, h/2, h/4).
GAIN = {"forward": 2.0, "central": 1.0, "richardson": 6.6}


def measure(
    pb: Problem, g: Callable[..., Any], h: Float64Array, index: IntArray
) -> tuple[Float64Array, int]:
    """``(σ, calls)``: per element of ``index`` (n,), the noise of one value of f near it.

    ``h`` holds the elements' steps, shape (n,). A base where f is not finite is left out.
    """
    scale = JITTER * pb.layout.eps() * np.maximum(1.0, np.abs(pb.x_flat))
    rng = np.random.default_rng(SEED)
    offset = scale * rng.uniform(-1.0, 1.0, pb.layout.size)
    centre = scale * rng.uniform(-1.0, 1.0, pb.layout.size)
    nudge = STEP_NUDGE * pb.layout.eps()[index] * np.maximum(1.0, np.abs(pb.x_flat[index]))
    sigma = np.zeros(len(index))
    calls = 12 * len(index)
    # around x with the step's bits kept, then around x + s with them moved
    for base, delta in ((0.0 * centre, 0.0 * nudge), (centre, nudge)):
        ev = _problem.evaluator_at(pb, g, base)
        mid = _difference(pb, ev, base, index, 0.0 * h, h)
        if pb.method == "forward":
            rho, beta = (SPREAD * h * _signed(rng, len(index)) for _ in range(2))
            sigma = np.maximum(sigma, _spread(pb, ev, base, index, h, mid, rho, beta))
            calls += 8 * len(index)
        ev_p, ev_m = (_problem.evaluator_at(pb, g, base + t * offset) for t in (1.0, -1.0))
        plus = _difference(pb, ev_p, base + offset, index, 0.0 * h, h + delta)
        minus = _difference(pb, ev_m, base - offset, index, 0.0 * h, h - delta)
        # D(b + r) + D(b - r) - 2 D(b): the smooth part cancels to O((|r|² + δ²) f‴), rounding
        # stays; its standard deviation is √6 that of one difference, √2 σ / (2 h)
        combined = _finite(np.abs(plus + minus - 2.0 * mid))
        sigma = np.maximum(sigma, _problem.PROBE_SAFETY * h * combined / np.sqrt(3.0))
    return sigma, calls


def _spread(
    pb: Problem, ev: Any, base: Float64Array, index: IntArray, h: Float64Array,
    mid: Float64Array, rho: Float64Array, beta: Float64Array,
) -> Float64Array:
    """σ from the repeats at centres ``s ρ`` and half-widths ``h + s β``, s = ±1, ±2, around
    ``x + base``, each pair against ``mid``, the difference at ``x + base`` (forward only)."""
    d = {s: _difference(pb, ev, base, index, s * rho, h + s * beta)
         for s in (1.0, -1.0, 2.0, -2.0)}
    # C(s) = D(+s) + D(-s) - 2 D(0): the smooth part of f leaves (s² ρ² + s² β² / 3) f‴,
    # rounding stays (see the module notes); either scale is one draw
    near, far = (_finite(np.abs(d[s] + d[-s] - 2.0 * mid)) for s in (1.0, 2.0))
    sigma: Float64Array = _problem.PROBE_SAFETY * h * np.maximum(near, far) / np.sqrt(3.0)
    return sigma


def _finite(values: Float64Array) -> Float64Array:
    """``values`` with every NaN or inf set to 0 (a base where f is not finite is left out)."""
    out: Float64Array = np.where(np.isfinite(values), values, 0.0)
    return out


def _signed(rng: np.random.Generator, n: int) -> Float64Array:
    """n seeded non-dyadic factors, ``0.5 ≤ |t| ≤ 1``, of random sign."""
    out: Float64Array = rng.uniform(0.5, 1.0, n) * rng.choice([-1.0, 1.0], n)
    return out


def _difference(
    pb: Problem, ev: Any, base: Float64Array, index: IntArray, centre: Float64Array,
    h: Float64Array,
) -> Float64Array:
    """Central differences at ``index`` centred ``centre`` from ``x + base``, half-widths ``h``."""
    full = np.zeros((2, pb.layout.size))
    full[:, index] = centre + np.array([[1.0], [-1.0]]) * h
    hp, hm = steps.shifted_steps(pb.x_flat + base, pb.layout, full, only=index)[:, index]
    values = _values(ev, np.concatenate([index, index]), np.concatenate([hp, hm]))
    result: Float64Array = (values[: len(index)] - values[len(index) :]) / (hp - hm)
    return result


def _values(ev: Any, index: IntArray, shifts: Float64Array) -> Float64Array:
    """``ev.along``, NaN where f raises a domain error at the repeats' points."""
    try:
        values: Float64Array = ev.along(index, shifts)
    except _problem.DOMAIN_ERRORS:
        return np.full(len(index), np.nan)
    return values


def pooled(
    pb: Problem, look: IntArray, sigma: Float64Array, h: Float64Array
) -> Float64Array:
    """Each element's measured noise raised to the largest of its group's (elements ``look``
    of one leaf whose steps ``h`` lie within the same power of two).

    One value per element is one draw of f's noise near x, and a draw can land near 0 (a
    constant row of a layer norm: two of twelve came out 1e-16 and 0 among 4.7e-13), so the
    elements share the largest, as the probe takes the largest of its differences. Only within
    a group: another leaf's precision (float32: its repeats' offsets are large enough to let
    f's curvature in, 4e-10 next to 2e-15) or a step of another scale would lend an element
    noise that is not its own, and hide a bug.
    """
    leaf = np.searchsorted(np.asarray(pb.layout.offsets), look, side="right") - 1
    octave = np.floor(np.log2(np.maximum(h, 1e-300)))
    groups = np.stack([leaf, octave])
    out: Float64Array = sigma.copy()
    for group in np.unique(groups, axis=1).T:
        same = np.all(groups == group[:, None], axis=0)
        out[same] = sigma[same].max()
    return out
