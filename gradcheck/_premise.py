"""The complex step checks its own premise: f analytic in x, its complex values accurate.

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
left, the rounding of the real values (u, see :class:`gradcheck._problem.Noise`), and the
complex step's own error. Beyond it, a TypeError names the likely causes and points to the
real methods. 4 calls of f per direction.

Where f is 0 by cancellation through ``var`` (a sum of layer-norm rows), the complex values
are 0 as well and the real differences are rounding: the comparison cannot tell. So the check
also states how small an error per element it would have seen (``bound / |w_k|``, see
:func:`check_complex_resolution`); a complex-step mismatch below that is *unresolved* (the
premise is unverified at that level), not a mismatch (see :func:`gradcheck._verdict.judge`).

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
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import _problem, numerical, steps
from gradcheck._problem import Noise, Problem

Float64Array = npt.NDArray[np.float64]

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
    pb: Problem, g: Callable[..., Any], f0: float, est: numerical.Estimate, noise: Noise
) -> int:
    """Raise TypeError unless the complex-step gradient ``est`` agrees with real differences.

    ``g`` is f as the checker evaluates it, ``f0 = g(x)``; returns the calls of g made.
    A direction where f is not finite is skipped.
    """
    return check_complex_resolution(pb, g, f0, est, noise)[0]


def check_complex_resolution(
    pb: Problem, g: Callable[..., Any], f0: float, est: numerical.Estimate, noise: Noise
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
    pb: Problem, g: Callable[..., Any], f0: float, est: numerical.Estimate, noise: Noise,
    w: Float64Array,
) -> tuple[float, float, float] | None:
    """``(real, complex, bound)`` along ``w``; None where f is not finite there."""
    gaps, values, reals = [], [abs(f0)], []
    for s in (1.0, 0.5):
        plus = _problem.rounded(pb, pb.x_flat + s * w) - pb.x_flat
        minus = _problem.rounded(pb, pb.x_flat - s * w) - pb.x_flat
        fp, fm = _problem.value_at(pb, g, plus), _problem.value_at(pb, g, minus)
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
