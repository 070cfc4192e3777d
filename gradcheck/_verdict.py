"""Judging an analytic gradient against a numerical estimate, element by element.

The tolerance of element k is built from the estimator's own error estimate (see
:mod:`gradcheck.numerical`) and the rounding of the analytic value::

    tol_k = SAFETY · (error_k + ANALYTIC · ε_a,k · (max(|a_k|, |n_k|) + F_k / m_k))

with ``ε_a,k`` the epsilon of the analytic gradient's dtype (or of x and f when coarser),
``F_k`` the largest |f| among the values used and ``m_k = max(1, |x_k|)``. The last term is
the analytic gradient's own rounding: about one ε per operation of its computation, relative
to the element and, for an element computed as the small sum of large cancelling terms or
through a saturated ``1 - σ(z)``, relative to the scale of f's derivatives (``F / m`` in the
scaling model) even where the element itself is tiny.

SAFETY = 10 and ANALYTIC = 10 were set on random sigmoid networks (squared error and
cross-entropy, weight decay 0..3, parameter scales 0.01..5): on correct gradients no element
used more than about 1/7 of its tolerance in the better of the two stages below (complex
step: 1/19 of its first-stage tolerance), while bugs moving the gradient by 1e-5 relative
(1e-8 for the complex step) were caught.

An element outside its tolerance is re-estimated (it alone) with a second, independent
estimate: Richardson extrapolation of central differences at h, h/2, h/4 (base step: the
Richardson default, or an eighth of the first estimate's base step when the method is itself
Richardson), which costs 6 calls of f per element. It is a mismatch only if the confirmation
agrees: the analytic value is also outside the confirmation's tolerance. For the complex step,
whose estimate is far finer than any real-difference confirmation, the confirmation clears an
element only by also showing that the complex-step value was off. Elements whose one-sided
differences disagree without shrinking with h (a kink within the step) and whose analytic value
lies between the one-sided difference quotients are *not verifiable at this step*. Elements
with signs of non-smoothness in the first estimate are looked at the same way even when they
pass.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from gradcheck import _evaluate, _problem, numerical
from gradcheck._problem import Noise, Problem
from gradcheck.report import MISMATCH, PASS, UNVERIFIABLE

Float64Array = npt.NDArray[np.float64]

#: Multiplies every error estimate: how far past its own error estimate an estimator may land.
SAFETY = 10.0
#: Rounding of the analytic gradient, in units of ε · max(|a|, |n|, F / m): ~ its depth in ops.
ANALYTIC = 10.0


class Verdict(NamedTuple):
    """Per-element outcome, every array of shape (P,)."""

    numeric: Float64Array
    """The estimate judged against (the confirmation's where it cleared an element)."""
    tolerance: Float64Array
    status: npt.NDArray[np.int8]
    n_evaluations: int
    """Calls of f made by the confirmation."""


def model_tolerance(
    est: numerical.Estimate, analytic: Float64Array, eps_a: Float64Array, m: Float64Array
) -> Float64Array:
    """``SAFETY · (error + ANALYTIC · ε_a · (max(|a|, |n|) + F / m))`` per element."""
    size = np.maximum(np.abs(analytic), np.abs(est.value))
    size = np.where(np.isfinite(size), size, 0.0)
    return SAFETY * (est.error + ANALYTIC * eps_a * (size + est.f_max / m))


def explicit(
    est: numerical.Estimate, analytic: Float64Array, rtol: float, atol: float
) -> Verdict:
    """Pass iff ``|a - n| <= atol + rtol |n|``; no confirmation, no kink classification."""
    tolerance = atol + rtol * np.abs(est.value)
    status = np.where(np.abs(analytic - est.value) <= tolerance, PASS, MISMATCH)
    return Verdict(est.value.copy(), tolerance, status.astype(np.int8), 0)


def judge(
    ev: _evaluate.Evaluator,
    pb: Problem,
    noise: Noise,
    est: numerical.Estimate,
    analytic: Float64Array,
    eps_a: Float64Array,
    *,
    f0: float,
    confirm_step: Float64Array,
) -> Verdict:
    """The error-model verdict with confirmation of failing and suspicious elements."""
    m = _problem.scale(pb, _problem.all_coordinates(pb))
    numeric = est.value.copy()
    tolerance = model_tolerance(est, analytic, eps_a, m)
    fail = ~(np.abs(analytic - numeric) <= tolerance)
    status = np.where(fail, MISMATCH, PASS).astype(np.int8)
    look = np.flatnonzero(fail | est.nonsmooth)
    if look.size == 0:
        return Verdict(numeric, tolerance, status, 0)
    second = numerical.richardson(ev, pb, noise, confirm_step, look, f0)
    a = analytic[look]
    tol2 = model_tolerance(second, a, eps_a[look], m[look])
    cleared = np.abs(a - second.value) <= tol2
    if pb.method == "complex":
        cleared &= np.abs(numeric[look] - second.value) > tol2
    kink = second.nonsmooth & (a >= second.low - tol2) & (a <= second.high + tol2)
    failed = fail[look]
    status[look] = np.where(kink, UNVERIFIABLE, np.where(failed & ~cleared, MISMATCH, PASS))
    swap = failed & cleared & ~kink
    numeric[look[swap]] = second.value[swap]
    tolerance[look[swap]] = tol2[swap]
    return Verdict(numeric, tolerance, status, second.n_evaluations)
