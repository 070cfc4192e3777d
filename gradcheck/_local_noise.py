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
#: The repeats' steps are also moved by ± STEP_NUDGE · ε_k · max(1, |x_k|) (non-dyadic, some
#: 700 units in the last place of x_k): rounding that depends on the bits of the step itself
#: (a constant row's mean, where x + h e_k moves one value of four) changes with them, while
#: the smooth part of f moves by ``δ² f‴ / 3``, nothing at this scale.
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
    # around x with the step's bits kept, then around x + s with them moved
    for base, delta in ((0.0 * centre, 0.0 * nudge), (centre, nudge)):
        mid = _difference(pb, g, base, h, index)
        plus = _difference(pb, g, base + offset, h + delta, index)
        minus = _difference(pb, g, base - offset, h - delta, index)
        # D(b + r) + D(b - r) - 2 D(b): the smooth part cancels to O((|r|² + δ²) f‴), rounding
        # stays; its standard deviation is √6 that of one difference, √2 σ / (2 h)
        combined = np.abs(plus + minus - 2.0 * mid)
        combined = np.where(np.isfinite(combined), combined, 0.0)
        sigma = np.maximum(sigma, _problem.PROBE_SAFETY * h * combined / np.sqrt(3.0))
    return sigma, 12 * len(index)


def _difference(
    pb: Problem, g: Callable[..., Any], offset: Float64Array, h: Float64Array, index: IntArray
) -> Float64Array:
    """Central differences at ``index`` with steps ``h``, around the base ``x + offset``."""
    base = _problem.evaluator_at(pb, g, offset)
    full = np.zeros((2, pb.layout.size))
    full[:, index] = np.array([[1.0], [-1.0]]) * h
    hp, hm = steps.shifted_steps(pb.x_flat + offset, pb.layout, full, only=index)[:, index]
    values = _values(base, np.concatenate([index, index]), np.concatenate([hp, hm]))
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
