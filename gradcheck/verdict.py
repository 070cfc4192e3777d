"""The verdict: the first pass, the confirmation, resolution and f's domain.

Judging an analytic gradient against a numerical estimate, element by element.

The tolerance of element k is built from the estimator's own error estimate (see
:mod:`gradcheck.methods`) and the rounding of the analytic value::

    tol_k = SAFETY · (error_k + ANALYTIC · ε_a,k · (max(|a_k|, |n_k|) + F_k / m_k))

with ``ε_a,k`` the epsilon of the analytic gradient's dtype (or of x and f when coarser),
``F_k`` the largest |f| among the values used and ``m_k = max(1, |x_k|)``. The last term is
the analytic gradient's own rounding: about one ε per operation of its computation, relative
to the element and, for an element computed as the small sum of large cancelling terms or
through a saturated ``1 - σ(z)``, relative to the scale of f's derivatives (``F / m`` in the
scaling model) even where the element itself is tiny.

SAFETY = 10 and ANALYTIC = 10 were set on random sigmoid networks (squared error and
cross-entropy, weight decay 0..3, parameter scales 0.01..5), with bugs moving the gradient by
1e-5 relative (1e-8 for the complex step) caught. Re-measured with the model below on 300
random networks of the acceptance harness (scales 0.01..8): on correct gradients the largest
share of its tolerance that a passing element used was 0.45 (forward), 0.94 (central), 0.77
(Richardson) and 0.83 (complex step), each in a saturated network (weights up to 16, where the
scaling model's length scale ``max(1, |x_k|)`` overstates a weight's: its input sets it). An
element beyond its tolerance goes to the confirmation below; no correct gradient of the 570
harness networks failed.

The uncertainty ``u`` of one value of f in every error estimate is
``max(ε F, σ_f, ulp₀)`` (plus a declared spread), where ``σ_f`` is f's rounding noise measured
by :func:`gradcheck.methods.probe_noise` (14 calls of f, around x and around points as far
from x as the check goes, where the noise of a cost near zero has grown with its residuals):
``ε |f|`` alone misses noise where f is the small difference of large intermediate values.

A complex-step value that fails first has its own noise measured the same way (the
complex-step derivatives at three probe directions around x, 12 calls of f per element, see
:func:`gradcheck.methods.complex_noise`) and is judged again with it: where f is the result
of cancellation its imaginary part inherits noise that the complex step's ``ε |n|`` misses,
while a plain f keeps its ``ε``-sharp tolerance.

An element outside its tolerance, and an element whose estimate looks suspicious (see
``Estimate.suspect``), is re-estimated alone by a *confirmation*: Richardson extrapolation of
central differences at H, H/2, H/4 at the scale of the method's own step (H = 4h for forward
and central differences, so that its finest level is h; four times the default central step
for the complex step and for Richardson, whose own base step is large), 6 calls of f per
element. It never reaches much
farther from x than the method did, so it cannot cross a kink the method did not see. With
``n`` the first estimate, ``n_c`` the confirmation, ``e_c = SAFETY · error_c`` its own error
bound and ``tol_c`` its tolerance:

* f not smooth at the confirmation's scale (its levels fail the convergence-order test of
  :mod:`gradcheck.methods`): the element is *not verifiable at this step*, unless the analytic
  value lies outside the range ``[low, high]`` of the one-sided derivatives by more than the
  range's own width plus the noise (the first tolerance plus ``SAFETY`` times the quotients'
  rounding and the analytic rounding): then it is a mismatch. The width is there because
  several kinks within the step (relu units of several examples at or near 0) leave x on a
  piece whose slope the one-sided quotients do not bound: each kink adds its jump to the
  range, and a piece between them can lie outside by about that much.
* a failed element passes where the analytic value agrees with the confirmation
  (``|a - n_c| <= tol_c``) and either the first estimate, its truncation now measured, accepts
  it too (forward differences: ``tol₁ + SAFETY · h |f″| / 2`` with f″ the confirmation's
  second difference at h, in place of the scaling model's ``F / m²``, which a cost near zero
  breaks; central differences: ``tol₁ + SAFETY · |D(2h) - D(h)| / 3``, their truncation
  ``c h²`` measured by the confirmation's levels, in place of ``F / m³``, which an f varying
  on a scale below ``max(1, |x_k|)`` breaks), or the confirmation shows that the first
  estimate was off (``|n - n_c| > e_c``).
  Otherwise (the confirmation agrees with n, or with neither) the mismatch stands. Where the
  confirmation is too loose to tell a from n (``e_c >= |a - n|``), f being smooth there, the
  element passes at the confirmation's tolerance if a agrees with it and is *unresolved*
  otherwise; never "not verifiable", which is kept for an f that is not smooth. Two first
  estimates keep their mismatches then: the complex step, which has no subtraction and is
  far sharper than any confirmation, and Richardson's where it is not suspect (its three
  levels converged at a smooth f's orders, so its error is measured; the confirmation's
  smaller step only adds rounding); where a loose confirmation agrees with a against such
  an estimate, neither is trusted: unresolved. A complex-step element whose analytic and
  complex values both lie within the premise check's resolution (f 0 by cancellation
  through ``var``: both are rounding, see :mod:`gradcheck.methods`) is suspect and does not
  stand: the confirmation decides it, with its own noise measured first.
* a suspicious element that passed, or one whose tolerance is coarse (above COARSE times
  the element and the gradient: Richardson's large step near a pole, say), stays a pass,
  unless the confirmation is sharper (``tol_c`` below the first tolerance) and the analytic
  value disagrees with it; a sharper confirmation that agrees lends its tolerance.

Where the confirmation decided, its value and tolerance are reported. Before the
confirmation, every element it will look at has the noise of its own evaluations measured
(:func:`gradcheck.measure_own_noise`): where that noise is well beyond the model's
(REPEAT_BEYOND times u), it joins the element's error and f's noise for the confirmation.
Last, a passing
element whose tolerance exceeds its own magnitude and the gradient's is marked unresolved
(Resolution, below), and so is a complex-step mismatch smaller than the premise
check could see (f 0 by cancellation through ``var``: see :mod:`gradcheck.methods`).

Resolution
----------
Which passing elements the check could not resolve, and why.

An element passes when ``|a - n| <= tol``. Where ``tol`` exceeds the element's own magnitude
``max(|a|, |n|)`` and the gradient's (its max-norm, analytic or numerical), an error as large
as the element itself would have passed: the element is *unresolved*, not passed. Where f's
derivatives have a scale of their own, ``max(F, σ_f / ε) / m`` (``F`` the largest |f| seen,
``σ_f`` f's measured rounding noise, which reveals the size of the values f cancels,
``m = max(1, |x_k|)``), a tolerance below that scale still resolves the element: an f that
is 0 by cancellation has a gradient near 0 (rounding, analytic and numerical) that a tolerance
of 1e-10 does settle. A declared nondeterminism (``nondet_tol``) has no such excuse: a
tolerance it widened past the gradient is unresolved.

Nor has a *flat* f: where f's values did not move at all over the step (the estimate and,
where known, both one-sided quotients exactly 0) and the analytic element is not 0, f is
saturated at float resolution (tanh at 100, softmax of logits 1000 apart: gradients of 1e-32
to 1e-193), and its scale says nothing about an element that small; the literal rule holds
and the element is unresolved, so a sign flip there cannot pass. What tells the two apart
is the values of f: an f that is 0 by cancellation moves by its rounding from point to
point (its estimates are noise, not 0), an f that is 0 by structure has an analytic element
of exactly 0 too (it passes). The complex step, whose estimate of a saturated gradient is
accurate and nonzero, keeps f's scale in its tolerance (the analytic gradient's own rounding,
``1 - tanh²`` giving 0 say): there a sign flip of an element far below ``ε F / m`` still
passes.

Example
-------
>>> import numpy as np
>>> status = np.zeros(2, np.int8)
>>> out, why = mark(status, np.array([4.0, 1.0]), np.array([4.1, 1.0]), np.array([0.5, 13.0]),
...                 floor=np.zeros(2), method="central", spread=1e-5)
>>> out.tolist(), why.startswith("`nondet_tol`")
([0, 4], True)

f's domain
----------
Elements whose steps cannot be kept inside f's domain: not verifiable, with the reason.

A step that meets NaN, inf or an exception from f is shrunk first (DOMAIN_SHRINK at a time,
DOMAIN_TRIES times: 4096 in all, see :mod:`gradcheck.methods`). Where f is still not finite
on a side (``sqrt`` at exactly 0, an f that raises for x < 0 at x = 0), f is not defined on a
neighbourhood of x along that coordinate, and no two-sided difference exists: the element is
*not verifiable*, the others are estimated and judged as usual, and the report names the
point where f failed and why. The complex step is left out: its points are not moved along
the real axis, and an f that fails there is refused by it.

Example
-------
>>> import numpy as np
>>> from gradcheck import check_gradient, report
>>> f = lambda x: float(np.sum(np.sqrt(x)))
>>> with np.errstate(invalid="ignore"):
...     result = check_gradient(f, np.array([0.0, 4.0]), np.array([0.0, 0.25]))
>>> result.status[0].tolist() == [report.UNVERIFIABLE, report.PASS], result.diagnosis[0].name
(True, 'outside-domain')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from gradcheck import evaluators as _evaluate
from gradcheck import methods
from gradcheck.diagnosis import Finding
from gradcheck.methods import DOMAIN_ERRORS, PROBE_SAFETY, Noise, Problem, shifted_steps
from gradcheck.report import MISMATCH, PASS, UNRESOLVED, UNVERIFIABLE

Float64Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

#: Multiplies every error estimate: how far past its own error estimate an estimator may land.
SAFETY = 10.0
#: Rounding of the analytic gradient, in units of ε · max(|a|, |n|, F / m): ~ its depth in ops.
ANALYTIC = 10.0
#: A tolerance above this fraction of the element and of the gradient's max-norm is coarse:
#: the element is confirmed at a smaller step (Richardson's large step near a pole, say).
COARSE = 1e-6


class Verdict(NamedTuple):
    """Per-element outcome, every array of shape (P,)."""

    numeric: Float64Array
    """The estimate judged against (the confirmation's where it cleared an element)."""
    tolerance: Float64Array
    status: npt.NDArray[np.int8]
    n_evaluations: int
    """Calls of f made outside the evaluator (the complex step's noise probe)."""
    reason: str = ""
    """Why elements are unresolved, and what would resolve them ("" when none is)."""
    outside: tuple[npt.NDArray[np.bool_], str] | None = None
    """The elements (P,) whose steps could not be kept in f's domain, and where f failed
    (see :mod:`gradcheck.verdict`); None where not looked for."""


def model_tolerance(
    est: methods.Estimate, analytic: Float64Array, eps_a: Float64Array, m: Float64Array
) -> Float64Array:
    """``SAFETY · (error + ANALYTIC · ε_a · (max(|a|, |n|) + F / m))`` per element."""
    return SAFETY * (est.error + _analytic_rounding(est, analytic, eps_a, m))


def _analytic_rounding(
    est: methods.Estimate, analytic: Float64Array, eps_a: Float64Array, m: Float64Array
) -> Float64Array:
    """``ANALYTIC · ε_a · (max(|a|, |n|) + F / m)``: the analytic gradient's own rounding."""
    size = np.maximum(np.abs(analytic), np.abs(est.value))
    size = np.where(np.isfinite(size), size, 0.0)
    return ANALYTIC * eps_a * (size + est.f_max / m)


def explicit(
    est: methods.Estimate, analytic: Float64Array, rtol: float, atol: float
) -> Verdict:
    """Pass iff ``|a - n| <= atol + rtol |n|``; no confirmation, no kink classification.

    An estimate that is NaN (steps outside f's domain, see :mod:`gradcheck.verdict`) is not
    verifiable."""
    tolerance = atol + rtol * np.abs(est.value)
    status = np.where(np.abs(analytic - est.value) <= tolerance, PASS, MISMATCH)
    status = np.where(np.isnan(est.value), UNVERIFIABLE, status)
    return Verdict(est.value.copy(), tolerance, status.astype(np.int8), 0)


def judge(
    ev: _evaluate.Evaluator,
    pb: Problem,
    noise: Noise,
    est: methods.Estimate,
    analytic: Float64Array,
    eps_a: Float64Array,
    *,
    f0: float,
    confirm_step: Float64Array | Callable[[], Float64Array],
    function: _evaluate.ScalarFunction,
    premise: Float64Array | None = None,
    outside: npt.NDArray[np.bool_] | None = None,
    domain_why: str = "",
) -> Verdict:
    """The error-model verdict with confirmation of failing and suspicious elements.

    ``function`` is f as ``ev`` evaluates it, for the complex step's noise probe.
    ``confirm_step`` (P,), the confirmation's base steps, may be given as a function that
    makes them, called when the confirmation starts (they are not held before).
    ``premise`` (complex step only, shape (P,)) is the smallest error per element that the
    premise check would have seen (:func:`gradcheck.methods.check_complex_resolution`): a
    mismatch below it is unresolved, the complex step's value not vouched for there.
    ``outside`` (P,) marks the elements whose steps could not be kept in f's domain (their
    estimate is NaN, see :mod:`gradcheck.verdict`): not verifiable, and looked at no further;
    ``domain_why`` names where f failed.
    """
    if outside is None:
        outside = np.zeros(analytic.shape, bool)
    est, noise, tolerance, look, calls = _first_pass(
        pb, noise, est, analytic, eps_a, outside, function)
    if premise is not None:  # the complex step: its elements at 0 that its premise can't vouch
        est, noise, more = _unvouched_zeros(
            pb, noise, est, analytic, premise, look, confirm_step, function)
        calls += more
    zero = est.value == 0.0  # the first estimate's, for _flat
    # the first estimate's values become the numeric ones, the confirmation's swapped in
    # place (no second (P,) copy); the complex step's sharp tolerance reads them again
    numeric = est.value.copy() if pb.method == "complex" else _own(est.value, est)
    status = np.where(look.fail, MISMATCH, PASS).astype(np.int8)
    status[outside] = UNVERIFIABLE
    tolerance[outside] = 0.0  # no estimate (NaN), nothing tolerated: the diagnosis needs a number
    outside, why, still = _confirm_all(
        ev, pb, noise, est, analytic, eps_a, f0, confirm_step,
        look.fail | est.suspect | look.coarse, (numeric, tolerance, status),
        outside, domain_why)
    status, reason = _resolve(pb, noise, est, analytic, eps_a, (zero, still),
                              (numeric, tolerance, status), premise)
    return Verdict(numeric, tolerance, status, calls, reason, (outside, why))


def _scale(pb: Problem) -> Float64Array:
    """``m = max(1, |x_k|)`` of every coordinate, shape (P,)."""
    m: Float64Array = np.maximum(1.0, np.abs(pb.x_flat))
    return m


class _Look(NamedTuple):
    """Which elements the first pass sends to the confirmation, besides the suspect ones."""

    fail: BoolArray
    """Outside the model tolerance."""
    coarse: BoolArray
    """Inside a tolerance too coarse to resolve them (see :func:`_coarse`)."""


def _first_pass(
    pb: Problem, noise: Noise, est: methods.Estimate, analytic: Float64Array,
    eps_a: Float64Array, outside: BoolArray, function: _evaluate.ScalarFunction,
) -> tuple[methods.Estimate, Noise, Float64Array, _Look, int]:
    """The model tolerance, taken again where f's own noise is measured.

    The complex step measures the noise of its failing values; the other methods that of the
    own evaluations of every element the confirmation will look at. Returns the estimate and
    noise with it, the tolerance, the elements to look at, and the calls of f made.
    """
    # m = max(1, |x_k|) is made where it is needed: not held through the noise measurement
    tolerance = model_tolerance(est, analytic, eps_a, _scale(pb))
    fail = ~(np.abs(analytic - est.value) <= tolerance) & ~outside
    calls = 0
    if pb.method == "complex" and fail.any():
        est, tolerance, calls = _complex_noise(pb, noise, est, analytic, eps_a, _scale(pb), fail,
                                               function)
        fail = ~(np.abs(analytic - est.value) <= tolerance)
    coarse = _coarse(analytic, est.value, tolerance) & ~outside
    if pb.method != "complex" and (fail | est.suspect | coarse).any():
        # all three go to the confirmation: their own noise first (the tolerance is taken
        # again with it, so the first one is not held while the noise is measured)
        del tolerance
        est, noise, calls = _own_noise(pb, noise, est, fail | est.suspect | coarse, function)
        tolerance = model_tolerance(est, analytic, eps_a, _scale(pb))
        fail = ~(np.abs(analytic - est.value) <= tolerance) & ~outside
    return est, noise, tolerance, _Look(fail, coarse), calls


def _confirm_all(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, est: methods.Estimate,
    analytic: Float64Array, eps_a: Float64Array, f0: float,
    confirm_step: Float64Array | Callable[[], Float64Array], look: BoolArray,
    out: tuple[Float64Array, Float64Array, npt.NDArray[np.int8]], outside: BoolArray,
    why: str,
) -> tuple[BoolArray, str, BoolArray]:
    """:func:`_confirm` of the elements where ``look`` (P,), by blocks of BLOCK elements
    (they bound its memory); ``out`` (numeric, tolerance, status) is updated in place.
    Returns ``outside`` with the elements whose confirmation left f's domain, why f failed,
    and where f's values did not move over the confirmation."""
    still = np.zeros(analytic.shape, bool)
    if not look.any():
        return outside, why, still
    outside = outside.copy()
    base = confirm_step() if callable(confirm_step) else confirm_step
    for block in _looked(look):
        gone, confirm_why, still[block] = _confirm(
            ev, pb, noise, est, analytic, eps_a, f0, base, block, out)
        outside[block[gone]] = True
        why = why or confirm_why
    return outside, why, still


def _looked(look: BoolArray) -> Iterator[npt.NDArray[np.intp]]:
    """``np.flatnonzero(look)`` in consecutive blocks of BLOCK, found BLOCK coordinates at a
    time (no index array of every element looked at)."""
    pending = np.zeros(0, np.intp)
    for lo in range(0, look.size, methods.BLOCK):
        pending = np.concatenate([pending, np.flatnonzero(look[lo : lo + methods.BLOCK]) + lo])
        while pending.size >= methods.BLOCK:
            yield pending[: methods.BLOCK]
            pending = pending[methods.BLOCK :]
    if pending.size:
        yield pending


def _resolve(
    pb: Problem, noise: Noise, est: methods.Estimate, analytic: Float64Array,
    eps_a: Float64Array, moved: tuple[BoolArray, BoolArray],
    out: tuple[Float64Array, Float64Array, npt.NDArray[np.int8]],
    premise: Float64Array | None,
) -> tuple[npt.NDArray[np.int8], str]:
    """The status with passes the check could not resolve marked unresolved (see
    :func:`mark` and :func:`unvouched`), and why: :func:`mark`'s rule, taken by blocks of
    BLOCK coordinates (the floors and flags of one block exist at a time). ``moved`` is
    (where the first estimate is 0, where the confirmation's values did not move)."""
    numeric, tolerance, status = out
    zero, still = moved
    size = len(status)
    gradient = max((float(_element_size(analytic[lo : lo + methods.BLOCK],
                                         numeric[lo : lo + methods.BLOCK]).max(initial=0.0))
                    for lo in range(0, size, methods.BLOCK)), default=0.0)
    unmoved = bool(np.all(noise.probed == 0.0))
    marked, opened, blind_opened = status.copy(), False, False
    for lo in range(0, size, methods.BLOCK):
        part = np.arange(lo, min(lo + methods.BLOCK, size))
        rows: dict[str, Any] = {k: v[lo : lo + methods.BLOCK] for k, v in est._asdict().items()
                                if isinstance(v, np.ndarray)}
        part_est = est._replace(**rows)
        floor, sharp = _floor(pb, noise, part_est, analytic[part], eps_a[part], part)
        open_, blind = _opened(
            status[part], analytic[part], numeric[part], tolerance[part], floor=floor,
            spread=noise.spread, flat=_flat(pb, part_est, zero[part], unmoved, still[part]),
            sharp=sharp,
            gradient=gradient)
        marked[part[open_]] = UNRESOLVED
        opened, blind_opened = opened or bool(open_.any()), blind_opened or bool(
            np.any(open_ & blind))
    reason = _why(status, opened, blind_opened, method=pb.method, spread=noise.spread,
                  float32=bool(np.any(noise.eps > 1e-10)))
    if premise is not None:
        return unvouched(marked, analytic, numeric, premise, reason)
    return marked, reason


def _floor(
    pb: Problem, noise: Noise, est: methods.Estimate, analytic: Float64Array,
    eps_a: Float64Array, part: npt.NDArray[np.intp],
) -> tuple[Float64Array, Float64Array | None]:
    """:func:`mark`'s ``floor`` and ``sharp`` for the coordinates ``part`` (``est``, ``analytic``
    and ``eps_a`` of those only)."""
    m = methods.scale(pb, part)
    # f's derivative scale; for an f that is constant, at least what the spacing of subnormal
    # numbers lets any estimate resolve (Richardson's weights amplify it 6.6 times)
    resolution = noise.resolution(part) / est.step
    probed = noise.probed if np.ndim(noise.probed) == 0 else np.asarray(noise.probed)[part]
    floor = np.maximum(np.maximum(est.f_max, probed / noise.eps[part]) / m,
                       10.0 * SAFETY * resolution)
    sharp = _sharp(est, analytic, eps_a, m, resolution) if pb.method == "complex" else None
    return floor, sharp


def _confirm(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, est: methods.Estimate,
    analytic: Float64Array, eps_a: Float64Array, f0: float,
    confirm_step: Float64Array, look: npt.NDArray[np.intp],
    out: tuple[Float64Array, Float64Array, npt.NDArray[np.int8]],
) -> tuple[npt.NDArray[np.bool_], str, npt.NDArray[np.bool_]]:
    """Re-estimate the elements ``look`` by the confirmation; update ``out`` in place.

    ``out`` is (numeric, tolerance, status), each of shape (P,). Returns where (of ``look``)
    the confirmation's steps left f's domain, and why (see :mod:`gradcheck.verdict`), and
    where f's values did not move at all over its levels (its value and both one-sided
    quotients exactly 0).
    """
    numeric, tolerance, status = out
    conf, gone, why = within(
        lambda index: methods.richardson(ev, pb, noise, confirm_step, index, f0), look)
    a, n, t1 = analytic[look], numeric[look], tolerance[look]
    rounding_a = _analytic_rounding(conf, a, eps_a[look], methods.scale(pb, look))
    tol_c = SAFETY * conf.error + SAFETY * rounding_a
    cmp = _compare(pb, est, conf, look, a, n, t1, tol_c)
    failed = status[look] == MISMATCH
    status[look] = np.where(conf.nonsmooth, _kinked(conf, a, t1, rounding_a),
                            _smooth(failed, cmp))
    swap = ~conf.nonsmooth & np.where(
        failed, cmp.first_off | cmp.first_agrees | (~cmp.stands & cmp.agrees), cmp.sharper)
    # the confirmation's step (4h for forward and central differences) could not be kept
    # in f's domain: nothing settles these elements
    status[look[gone]] = UNVERIFIABLE
    swap &= ~gone
    numeric[look[swap]] = conf.value[swap]
    tolerance[look[swap]] = tol_c[swap]
    still = (conf.value == 0.0) & (conf.low == 0.0) & (conf.high == 0.0)
    return gone, why, still


class _Comparison(NamedTuple):
    """The analytic value ``a``, the first estimate ``n`` and the confirmation ``n_c``
    compared, per element looked at."""

    agrees: BoolArray
    """``|a - n_c| <= tol_c``."""
    first_agrees: BoolArray
    """``|a - n|`` within the first tolerance, its truncation now measured."""
    first_off: BoolArray
    """The confirmation shows the first estimate was off: ``|n - n_c| > e_c``."""
    loose: BoolArray
    """The confirmation cannot tell a from n: ``e_c >= |a - n|``."""
    stands: BoolArray
    """The first estimate keeps its verdict where the confirmation is undecided."""
    sharper: BoolArray
    """The confirmation's tolerance is below the first one."""


def _compare(
    pb: Problem, est: methods.Estimate, conf: methods.Estimate, look: npt.NDArray[np.intp],
    a: Float64Array, n: Float64Array, t1: Float64Array, tol_c: Float64Array,
) -> _Comparison:
    """``a``, ``n`` and the confirmation ``conf`` compared (see :class:`_Comparison`)."""
    bound = SAFETY * conf.error
    t1_data = t1  # forward: its truncation h |f''| / 2 measured, not assumed ~ h F / (2 m²)
    if pb.method == "forward":
        t1_data = t1 + SAFETY * est.step[look] * conf.curvature / 2.0
    elif pb.method == "central" and conf.fine_truncation is not None:
        # the confirmation's finest level is central's own step: its levels measure the
        # truncation c h² that the scaling model, with length scale max(1, |x_k|), can miss
        # (a layer norm at 100 + N(0, 1) varies on the scale of the spread, 1)
        t1_data = t1 + SAFETY * conf.fine_truncation
    loose = bound >= np.abs(a - n)
    # undecided: the complex step's verdict stands, sharper than any real difference, except
    # where its premise cannot vouch for it (suspect, see _unvouched_zeros); and so does
    # Richardson's where its own levels converged as a smooth f's (not suspect): its error
    # estimate is then measured, not assumed, and the confirmation's smaller step only adds
    # rounding
    sharp = (pb.method == "complex") | (pb.method == "richardson")
    stands = ~loose | (sharp & ~est.suspect[look])
    return _Comparison(
        agrees=np.abs(a - conf.value) <= tol_c, first_agrees=np.abs(a - n) <= t1_data,
        first_off=np.abs(n - conf.value) > bound, loose=loose, stands=stands,
        sharper=tol_c < t1,
    )


def _smooth(failed: BoolArray, cmp: _Comparison) -> npt.NDArray[np.int_]:
    """The status where f is smooth at the confirmation's scale (it converged).

    A standing first estimate keeps its mismatch unless the analytic value agrees with both,
    or the confirmation shows the first estimate was off; where it could not tell (loose) but
    agrees with the analytic value against the first estimate, neither is trusted:
    unresolved. Where the first estimate does not stand, an analytic value that agrees with
    the confirmation passes at the confirmation's tolerance (the resolution rule then judges
    that tolerance), one that does not is unresolved; never "not verifiable" on a smooth f.
    A first pass stands unless a sharper confirmation disagrees.
    """
    passed_first = cmp.agrees & cmp.first_agrees
    cleared = cmp.agrees & cmp.first_off & ~cmp.loose
    standing = np.where(passed_first | cleared, PASS,
                        np.where(cmp.loose & cmp.agrees & cmp.first_off, UNRESOLVED, MISMATCH))
    undecided = np.where(cmp.agrees, PASS, UNRESOLVED)
    return np.where(failed, np.where(cmp.stands, standing, undecided),
                    np.where(cmp.sharper & ~cmp.agrees, MISMATCH, PASS))


def _kinked(
    conf: methods.Estimate, a: Float64Array, t1: Float64Array, rounding_a: Float64Array
) -> npt.NDArray[np.int_]:
    """The status where f is not smooth at the confirmation's scale: not verifiable, unless
    the analytic value lies outside the one-sided range by more than the range's width.

    A cluster of kinks within the step can put x on a piece whose slope lies outside the
    one-sided range by about the range's width: only farther out is a mismatch.
    """
    allow = t1 + SAFETY * (conf.quotient_noise + rounding_a) + (conf.high - conf.low)
    outside = (a < conf.low - allow) | (a > conf.high + allow)
    return np.where(outside, MISMATCH, UNVERIFIABLE)


def _coarse(
    analytic: Float64Array, numeric: Float64Array, tolerance: Float64Array
) -> npt.NDArray[np.bool_]:
    """Where the tolerance exceeds COARSE times the element and the gradient (its max-norm):
    worth a confirmation at the confirmation's smaller step, which may resolve it."""
    size = np.maximum(np.abs(analytic), np.abs(numeric))
    size = np.where(np.isfinite(size), size, 0.0)
    return tolerance > COARSE * np.maximum(size, float(size.max(initial=0.0)))


def _own_noise(
    pb: Problem, noise: Noise, est: methods.Estimate, fail: npt.NDArray[np.bool_],
    function: _evaluate.ScalarFunction,
) -> tuple[methods.Estimate, Noise, int]:
    """The estimate with the noise of the failing elements' own evaluations in its error.

    See :func:`gradcheck.measure_own_noise`: ``σ_k`` adds ``REPEAT_GAIN · σ_k / h_k`` to
    the error, and ``σ_k / ε`` (the size of the values f cancels) to the scale F of the
    analytic rounding;
    ``σ_k`` joins f's noise for element k's own confirmation (never for the others').
    """
    look = np.flatnonzero(fail)
    # Richardson's finest level, h/4, is where rounding weighs most (the steps themselves,
    # not a copy, where every element is looked at)
    finest = est.step if look.size == est.step.size else est.step[look]
    if pb.method == "richardson":
        finest = finest / 4.0
    sigma, calls = measure_own_noise(pb, function, finest, look, block=methods.BLOCK)
    sigma = pooled_own_noise(pb, look, sigma, finest, block=methods.BLOCK)
    del finest
    # the estimate's error and F are raised in place (copied where shared): the caller's
    # estimate is not read again, and a second (P,) copy of each would be the peak
    error, f_max = (_own(a, est) for a in (est.error, est.f_max))
    probed: float | Float64Array = noise.probed
    for lo in range(0, look.size, methods.BLOCK):
        k, part = look[lo : lo + methods.BLOCK], slice(lo, lo + methods.BLOCK)
        # only noise well beyond the model's counts: rounding the model already bounds (f's
        # values in float32, say) would come back inflated by the measurement's own safety
        # factor
        model = noise.rounding(f_max[k], k)
        sigma[part] = np.where(sigma[part] > REPEAT_BEYOND * model, sigma[part], 0.0)
        error[k] += REPEAT_GAIN[pb.method] * sigma[part] / est.step[k]
        f_max[k] = np.maximum(f_max[k], sigma[part] / noise.eps[k])
        probed = _raised(probed, k, sigma[part], pb.layout.size)
    noise = dataclasses.replace(noise, probed=probed)
    return est._replace(error=error, f_max=f_max), noise, calls


def _own(a: Float64Array, est: methods.Estimate) -> Float64Array:
    """``a``, a field of ``est``, itself where it may be written in place, else a copy."""
    others = [v for v in est if isinstance(v, np.ndarray) and v is not a]
    if a.flags.writeable and a.flags.owndata and not any(
            np.may_share_memory(a, v) for v in others):
        return a
    copy: Float64Array = a.copy()
    return copy


def _raised(probed: float | Float64Array, k: npt.NDArray[np.intp], sigma: Float64Array,
            size: int) -> float | Float64Array:
    """``σ_f`` per coordinate with the elements ``k`` raised to their own noise ``sigma``:
    still the one value while no element's exceeds it (no (P,) array of one value)."""
    if np.ndim(probed) == 0:
        if not np.any(sigma > probed):
            return probed
        probed = np.full(size, float(probed))
    out = np.asarray(probed)
    out[k] = np.maximum(out[k], sigma)
    return out


def _sharp(
    est: methods.Estimate, analytic: Float64Array, eps_a: Float64Array, m: Float64Array,
    resolution: Float64Array,
) -> Float64Array:
    """The complex step's tolerance without f's scale ``F``: its error less the scaling
    model's truncation ``h² F / (6 m³)`` (the step is so small that the true truncation is
    far below ε |n|), and the analytic rounding relative to the element only, times the
    condition ``m = max(1, |x_k|)`` of functions like exp; at least ``resolution``, the
    spacing of subnormal numbers over the step (an imaginary part of 1e-313 keeps 10 digits)
    (see :func:`gradcheck.verdict.mark`)."""
    size = np.maximum(np.abs(analytic), np.abs(est.value))
    size = np.where(np.isfinite(size), size, 0.0)
    own = np.maximum(est.error - est.step**2 * est.f_max / (6.0 * m**3), resolution)
    sharp: Float64Array = SAFETY * (own + ANALYTIC * eps_a * size * m)
    # a suspect element's value is not vouched for (see _unvouched_zeros): it resolves nothing
    return np.where(est.suspect, np.inf, sharp)


def _flat(
    pb: Problem, est: methods.Estimate, zero: npt.NDArray[np.bool_], unmoved: bool,
    still: npt.NDArray[np.bool_],
) -> npt.NDArray[np.bool_]:
    """Where f's values did not move at all over the step: the first estimate is exactly 0
    (``zero``),
    and so are both one-sided quotients (central, Richardson); forward differences see one
    side only, so there the noise probe must also have found f's values all equal
    (``unmoved``: every ``σ_f`` 0), or the
    confirmation's levels (``still``) none moving (an f 0 by cancellation can be exactly 0
    at x and at x + h, not at the probe's points nor at the confirmation's). For the complex
    step only where the confirmation's levels did not move and it decided (the elements its
    premise could not vouch for: suspect, see :func:`_unvouched_zeros`)."""
    if pb.method == "complex":  # only where the confirmation decided (see _unvouched_zeros)
        return still & est.suspect
    flat: npt.NDArray[np.bool_] = zero.copy()
    if pb.method == "forward":
        flat &= still | unmoved
    else:
        flat &= (est.low == 0.0) & (est.high == 0.0)
    return flat


def _unvouched_zeros(
    pb: Problem, noise: Noise, est: methods.Estimate, analytic: Float64Array,
    premise: Float64Array, look: _Look,
    confirm_step: Float64Array | Callable[[], Float64Array],
    function: _evaluate.ScalarFunction,
) -> tuple[methods.Estimate, Noise, int]:
    """The complex-step estimate with its failing elements that the premise cannot tell from
    0 made suspect, and the noise of the confirmation's own evaluations measured for them and
    for the coarse ones at 0.

    Where the analytic and the complex-step values both lie within ``premise`` (the premise
    check's resolution, see :func:`gradcheck.methods.check_complex_resolution`) the real
    differences vouch for neither: f may be 0 there by cancellation through ``var``, whose
    complex values are rounding, as the analytic ones are. Such a failing element is judged by
    the confirmation as a central difference is (its estimate does not stand, see
    ``_compare``); a coarse one that passed keeps its pass unless the confirmation disagrees.
    Either way the confirmation needs the noise of its own evaluations, measured at its finest
    step (``confirm_step / 4``), or f's rounding looks like a kink. Returns the estimate, the
    noise and the calls of f.
    """
    size = np.maximum(np.abs(analytic), np.abs(est.value))
    near_zero = size <= premise
    doubt = look.fail & near_zero
    index = np.flatnonzero((doubt | look.coarse) & near_zero)
    if not index.size:
        return est, noise, 0
    base = confirm_step() if callable(confirm_step) else confirm_step
    finest = base[index] / 4.0
    del base
    sigma, calls = measure_own_noise(pb, function, finest, index, block=methods.BLOCK)
    sigma = pooled_own_noise(pb, index, sigma, finest, block=methods.BLOCK)
    model = noise.rounding(est.f_max[index], index)  # as _own_noise: only noise beyond it
    sigma = np.where(sigma > REPEAT_BEYOND * model, sigma, 0.0)
    probed = _raised(noise.probed, index, sigma, pb.layout.size)
    est = est._replace(suspect=est.suspect | doubt)
    return est, dataclasses.replace(noise, probed=probed), calls


def _complex_noise(
    pb: Problem, noise: Noise, est: methods.Estimate, analytic: Float64Array,
    eps_a: Float64Array, m: Float64Array, fail: npt.NDArray[np.bool_],
    function: _evaluate.ScalarFunction,
) -> tuple[methods.Estimate, Float64Array, int]:
    """The complex-step estimate with the measured noise of its failing values in its error."""
    look = np.flatnonzero(fail)
    sigma, calls = methods.complex_noise(pb, function, noise, est.step, look, est.value[look])
    error = est.error.copy()
    error[look] = np.maximum(error[look], sigma)
    est = est._replace(error=error)
    return est, model_tolerance(est, analytic, eps_a, m), calls


_WHY = {
    "spread": "`nondet_tol` widened the tolerance past the gradient; a deterministic f (or a "
              "smaller `nondet_tol`) would resolve it",
    "complex": "the complex step's values are noisy here (f cancels large values, or its "
               "complex part is inaccurate); method=\"richardson\" or \"central\" would resolve it",
    "forward32": "forward differences in float32 resolve little; method=\"central\" or float64 "
                 "x would resolve it",
    "settle": "the confirmation by Richardson extrapolation could not tell the analytic value "
              "from the first estimate; method=\"richardson\" (or \"complex\" where f is "
              "analytic) would resolve it",
    "premise": "the complex step's premise (f analytic, its complex part accurate) could not "
               "be verified at this level (f cancels to about 0, through var, say); "
               "method=\"richardson\" or \"central\" would resolve it",
    "flat": "f's values do not move over the step (f saturated: tanh far out, softmax of "
            "logits far apart), so a gradient this small is below what they resolve; a less "
            "saturated point, or f computed in a form that keeps its slope (log-space), would "
            "resolve it",
    "sharp": "the complex step resolves this element, far below f's scale, and disagrees with "
             "the analytic value: there an analytic gradient that rounds at f's scale (1 - "
             "tanh² giving 0) and a wrong one look alike; the analytic gradient computed in a "
             "form that keeps its size (log-space, 1/cosh²) would resolve it",
    "step": "f changes faster than the step resolves (the step may straddle a singularity or "
            "the edge of f's domain); a smaller `step`, or method=\"complex\" where f is "
            "analytic, would resolve it",
}


def mark(
    status: npt.NDArray[np.int8], analytic: Float64Array, numeric: Float64Array,
    tolerance: Float64Array, *, floor: Float64Array, method: str, spread: float,
    float32: bool = False, flat: npt.NDArray[np.bool_] | None = None,
    sharp: Float64Array | None = None,
) -> tuple[npt.NDArray[np.int8], str]:
    """``status`` with unresolved passes marked UNRESOLVED, and the reason ("" if none).

    ``floor`` is the scale of f's derivatives per element (see the module notes; ignored
    when ``spread`` > 0, where ``flat``: f's values did not move at all over the step, and
    where ``|a - n|`` exceeds ``sharp``, the tolerance of an estimate that is accurate to its
    own size: the complex step's, whose value of a saturated gradient is not rounding).
    """
    gradient = float(_element_size(analytic, numeric).max(initial=0.0))
    open_, blind = _opened(status, analytic, numeric, tolerance, floor=floor, spread=spread,
                           flat=flat, sharp=sharp, gradient=gradient)
    out = status.copy()
    out[open_] = UNRESOLVED
    return out, _why(status, bool(open_.any()), bool(np.any(open_ & blind)), method=method,
                     spread=spread, float32=float32)


def _element_size(analytic: Float64Array, numeric: Float64Array) -> Float64Array:
    """``max(|a|, |n|)`` per element, 0 where not finite."""
    size = np.maximum(np.abs(analytic), np.abs(numeric))
    out: Float64Array = np.where(np.isfinite(size), size, 0.0)
    return out


def _opened(
    status: npt.NDArray[np.int8], analytic: Float64Array, numeric: Float64Array,
    tolerance: Float64Array, *, floor: Float64Array, spread: float,
    flat: npt.NDArray[np.bool_] | None, sharp: Float64Array | None, gradient: float,
) -> tuple[BoolArray, BoolArray]:
    """:func:`mark`'s passes to mark unresolved, and where f's scale excused nothing (blind);
    ``gradient`` is the max-norm of the whole gradient's element sizes."""
    size = _element_size(analytic, numeric)
    # f's values did not move over the step while the analytic element is not 0: f is flat
    # at float resolution there (saturated), not 0 by structure or cancellation (whose values
    # move by their rounding), so f's scale excuses nothing
    blind = np.zeros(status.shape, bool) if flat is None else flat
    blind = blind & (analytic != 0.0) & np.isfinite(analytic)
    if sharp is not None:
        # the estimate resolves the element on its own and disagrees: whether the analytic
        # value is a rounding of f's scale (1 - tanh² giving 0) or a bug, f's scale cannot say
        blind = blind | (np.abs(analytic - numeric) > sharp)
    if spread == 0.0:
        size = np.where(blind, size, np.maximum(size, floor))
    open_ = (status == PASS) & (tolerance > np.maximum(size, gradient))
    return open_, blind


def _why(
    status: npt.NDArray[np.int8], opened: bool, blind: bool, *, method: str, spread: float,
    float32: bool,
) -> str:
    """:func:`mark`'s reason: ``status`` before marking, whether any pass was marked, and
    whether any marked one was blind."""
    keys = ["settle"] if np.any(status == UNRESOLVED) else []
    if opened:
        if spread > 0.0:
            keys.append("spread")
        elif blind:
            keys.append("sharp" if method == "complex" else "flat")
        elif method == "complex":
            keys.append("complex")
        elif method == "forward" and float32:
            keys.append("forward32")
        else:
            keys.append("step")
    return "; ".join(_WHY[key] for key in keys)


def unvouched(
    status: npt.NDArray[np.int8], analytic: Float64Array, numeric: Float64Array,
    premise: Float64Array, reason: str,
) -> tuple[npt.NDArray[np.int8], str]:
    """Complex-step mismatches below the premise check's resolution ``premise`` made
    UNRESOLVED, with the reason added to ``reason``: real differences could not vouch for the
    complex value there, so the mismatch may be the complex step's, not the gradient's."""
    below = (status == MISMATCH) & (np.abs(analytic - numeric) <= premise)
    if not below.any():
        return status, reason
    out = status.copy()
    out[below] = UNRESOLVED
    return out, "; ".join(part for part in (reason, _WHY["premise"]) if part)


def domain_estimate(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, f0: float,
) -> tuple[methods.Estimate, BoolArray, str]:
    """The estimate at every coordinate, NaN where f is not finite at the largest shrink.

    Returns ``(estimate, outside, why)``: ``outside`` (P,) marks those coordinates and
    ``why`` names the first point where f failed ("" where none did).
    """
    def method(index: npt.NDArray[np.intp]) -> methods.Estimate:
        return _lean(lambda part: methods.estimate(ev, pb, noise, h, part, f0), index)

    if pb.method == "complex":
        return method(np.arange(pb.layout.size)), np.zeros(pb.layout.size, bool), ""
    return within(method, np.arange(pb.layout.size))


def _lean(
    one: Callable[[npt.NDArray[np.intp]], methods.Estimate], index: npt.NDArray[np.intp]
) -> methods.Estimate:
    """``one`` over consecutive blocks of BLOCK coordinates of ``index`` (the blocks of
    :func:`gradcheck.methods.estimate`), joined into the fields the verdict reads of the first
    estimate: value, error, step, f_max and suspect; ``low`` and ``high`` only where both are
    0 (0 there, NaN elsewhere: :func:`_flat`); the others (n,) constants. No (P,) array is
    held that the verdict does not read."""
    n = len(index)
    value, error, step, f_max = (np.empty(n) for _ in range(4))
    suspect, zero = np.empty(n, bool), _constant(np.nan, n)
    calls = 0
    for lo in range(0, max(n, 1), methods.BLOCK):
        part = slice(lo, lo + methods.BLOCK)
        est = one(index[part])
        calls += est.n_evaluations
        value[part], error[part], step[part], f_max[part] = (
            est.value, est.error, est.step, est.f_max)
        suspect[part] = est.suspect
        both = (est.low == 0.0) & (est.high == 0.0)
        if both.any():
            zero = np.full(n, np.nan) if zero.strides == (0,) else zero
            zero[part] = np.where(both, 0.0, np.nan)
    nan = _constant(np.nan, n)
    return methods.Estimate(
        value=value, error=error, step=step, f_max=f_max, nonsmooth=_constant(False, n),
        suspect=suspect, low=zero, high=zero, quotient_noise=nan, curvature=nan,
        n_evaluations=calls)


def _constant(value: Any, n: int) -> Any:
    """(n,) of one value: a read-only view of it, no memory of the size of n."""
    return np.broadcast_to(np.asarray(value, dtype=bool if isinstance(value, bool) else float),
                           (n,))


def within(
    estimator: Callable[[npt.NDArray[np.intp]], methods.Estimate],
    index: npt.NDArray[np.intp],
) -> tuple[methods.Estimate, BoolArray, str]:
    """``estimator`` at the coordinates ``index`` (n,), left out where it leaves f's domain.

    Returns ``(estimate, outside, why)``, the estimate's arrays of shape (n,), NaN where
    ``outside`` (n,), and ``why`` naming the first point where f failed.
    """
    outside = np.zeros(index.size, bool)
    why = ""
    while True:
        try:
            est = estimator(index[~outside])
        except methods.OutsideDomain as exc:
            fresh = np.isin(index, exc.index) & ~outside
            if not fresh.any():
                raise
            outside |= fresh
            why = why or str(exc).split("; f must be finite")[0]
            continue
        return _spread(est, np.flatnonzero(~outside), index.size), outside, why


def _spread(est: methods.Estimate, index: npt.NDArray[np.intp], size: int) -> methods.Estimate:
    """``est`` of the coordinates ``index`` as (size,) arrays: NaN (False) elsewhere."""
    if index.size == size:
        return est

    def full(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        if a.strides == (0,) and a.size:  # a constant stays one
            constant: npt.NDArray[np.generic] = _constant(a[0].item(), size)
            return constant
        out = np.zeros(size, bool) if a.dtype == bool else np.full(size, np.nan)
        out[index] = a
        return out

    fields: dict[str, Any] = {name: full(value) for name, value in est._asdict().items()
              if isinstance(value, np.ndarray)}
    return est._replace(**fields)


def domain_finding(pb: Problem, outside: BoolArray, why: str) -> tuple[Finding, ...]:
    """The diagnosis line that says which elements left f's domain, where and why."""
    if not outside.any():
        return ()
    names = [pb.layout.describe(int(k)) for k in np.flatnonzero(outside)]
    listed = ", ".join(f"`{n}`" for n in names[:5]) + (
        f" and {len(names) - 5} more" if len(names) > 5 else "")
    message = (
        f"{listed} not verifiable: f is not finite on a side of x even at the step shrunk "
        f"{int(methods.DOMAIN_SHRINK ** methods.DOMAIN_TRIES)} times ({why}); f is not "
        "defined on a neighbourhood of x there, so no two-sided difference exists"
    )
    leaves = tuple(dict.fromkeys(
        pb.layout.paths[int(np.searchsorted(pb.layout.offsets, k, side="right")) - 1]
        for k in np.flatnonzero(outside)))
    return (Finding("outside-domain", message, leaves, {"elements": len(names)}),)

# --- The rounding noise of f at an element's own evaluations: the repeats -------------------
# The rounding noise of f at an element's own evaluations: the repeats of the verdict.
#
# Entered only when the verdict looks at an element again (:func:`gradcheck.verdict.judge`):
# a passing check of a smooth f never comes here.
#
# The noise probe (:func:`gradcheck.methods.probe_noise`) measures f's noise along a few
# directions; where f is the small difference of large values (a layer norm of a row with a
# small spread or a constant row, an f that is 0 by cancellation) the rounding of f depends on
# the very point it is evaluated at, and the probe's points can keep f's arithmetic exact where
# the checker's steps do not. So an element that fails is first repeated: its central
# difference ``D(b, h) = (f(b + h e_k) - f(b - h e_k)) / 2h`` is evaluated at the bases ``b = x``
# and ``b = x ± r``, r a tiny, non-dyadic, seeded offset (``|r_i| ≤ REPEAT_JITTER · ε_i · max(1,
# |x_i|)``), and again at ``b = x + s`` (s another such offset) and ``x + s ± r`` with the
# steps ``h ± δ``, δ of the same order: f's rounding can depend on the bits of the step itself
# (on a layer norm's constant rows it did, and neither r nor the confirmation, whose levels are
# h times powers of two, moved it). In ``D(b + r, h ± δ) + D(b - r, h ∓ δ) - 2 D(b, h)`` the
# smooth part of f cancels to ``O((|r|² + δ²) f‴)``, nothing at this scale, while the rounding
# of f's arithmetic at those points (a mean that rounds the other way, a cancellation whose
# residue moves) changes entirely: for independent rounding of standard deviation σ per value
# of f, the combination has standard deviation ``√3 σ / h``, so ``σ_k = PROBE_SAFETY · h ·
# |combination| / √3`` is the uncertainty of one value of f that the element's own evaluations
# show, the larger of the two combinations (one draw each, and a draw can land near 0). 12
# calls of f per element.
#
# Forward differences need more. Their step is the smallest (2^-26 · max(1, |x_k|)), and
# where f's rounding lives in an intermediate far coarser than ε |f| (a sigmoid output at
# z = 13.5: J = (1 - σ)² / 2 ≈ 9e-13 is rounded in 1 + e^(-z), at 2e-22, not 2e-28), offsets
# of 1e3 ulps move that intermediate by far less than its own ulp: every repeat rounds alike,
# σ comes out 0, and forward quotients 4e-5 off (central ones at half-widths within 10% of h:
# up to 3e-3) were confirmed by Richardson's levels at h, 2h, 4h, on the same binary lattice. So
# around each base the forward repeats also take ``D(b + s ρ, h + s β) + D(b - s ρ, h - s β)
# - 2 D(b, h)`` for s = 1, 2, with ρ_k, β_k seeded, non-dyadic, ``REPEAT_SPREAD / 2 ≤ |ρ_k|, |β_k| /
# h_k ≤ REPEAT_SPREAD``: a fraction of the step, they move f's intermediates by a fraction of what
# the step moves them (the last bias there: 5 to 18 ulps of 1 + e^(-z), the step 92). f's
# smooth part leaves ``s² (ρ² + β² / 3) f‴ ≤ 0.053 h² |f‴|`` there, which adds at most
# ``2 · 3 / √3 · 0.053 h² |f‴| ≈ 0.18 h² |f‴|`` to the element's error, next to the
# ``h |f″| / 2`` of forward truncation already in it: ``0.37 h |f‴ / f″|`` of it, below 1e-6
# at the default step wherever f″ varies on a scale above 0.006 · max(1, |x_k|). Central and
# Richardson differences do not take these repeats: their truncation, ``h² f‴ / 6`` and far
# less, is no larger than that leak, and near a pole (digamma at 0.002) the leak widened a
# wrong gradient's tolerance past it. 28 calls of f per element with forward differences.

#: The bases' offsets, in units of ``ε_i · max(1, |x_i|)``.
REPEAT_JITTER = 1e3
#: The forward repeats move the centre of element k's difference by up to
#: ``s · REPEAT_SPREAD · h_k`` and its half-width by up to ``s · REPEAT_SPREAD · h_k``
#: (s = 1, 2; non-dyadic, seeded): a fraction
#: of the step, so they move f's intermediates by a fraction of what the step itself moves
#: them, units in their last place wherever the difference quotient means anything.
REPEAT_SPREAD = 0.1
#: The repeats' steps around x + s are also moved by ± REPEAT_STEP_NUDGE · ε_k · max(1, |x_k|)
#: (non-dyadic, some 700 units in the last place of x_k): rounding that depends on the bits
#: of the step itself (a constant row's mean, where x + h e_k moves one value of four)
#: changes with them, while the smooth part of f moves by ``δ² f‴ / 3``, nothing at this scale.
REPEAT_STEP_NUDGE = 0.7 * REPEAT_JITTER
#: Seed of the offsets: a check is reproducible.
REPEAT_SEED = 20261202
#: Measured noise counts where it exceeds the error model's own uncertainty u this many times.
REPEAT_BEYOND = 10.0
#: How much rounding each method's estimate gathers from its values, in units of ``u / h``
#: (h its base step; Richardson: the weights (1, -20, 64) / 45 at h, h/2, h/4).
REPEAT_GAIN = {"forward": 2.0, "central": 1.0, "richardson": 6.6}


def measure_own_noise(
    pb: Problem, g: Callable[..., Any], h: Float64Array, index: IntArray, *,
    block: int = 1 << 12,
) -> tuple[Float64Array, int]:
    """``(σ, calls)``: per element of ``index`` (n,), the noise of one value of f near it.

    ``h`` holds the elements' steps, shape (n,); ``index`` holds distinct coordinates. A base
    where f is not finite is left out. The elements are measured ``block`` at a time and the
    seeded offsets drawn chunk by chunk: one point of x's size exists at a time, besides three
    values per element, and σ does not depend on ``block``.

    Example
    -------
    >>> import numpy as np
    >>> f = lambda x: float(np.sum((x - x.mean()) / np.sqrt(x.var() + 1e-5)))  # 0 by cancellation
    >>> pb = methods.prepare(f, np.full(4, 1.5), (), "central")
    >>> sigma, calls = measure_own_noise(pb, f, np.full(4, 9.08e-6), np.arange(4))
    >>> bool(sigma.max() > 1e-15), calls
    (True, 48)
    """
    failed: frozenset[tuple[bool, float, str]] = frozenset()
    while True:  # a request where f raised is NaN for every element, as one request was
        try:
            sigma = _Repeats(pb, g, h, index, max(1, int(block)), failed).sigma()
        except _RepeatFailed as exc:
            failed |= {exc.key}
            continue
        return sigma, (12 + (16 if pb.method == "forward" else 0)) * len(index)


class _RepeatFailed(Exception):
    """f raised a domain error in one block of the request ``key``."""

    def __init__(self, key: tuple[bool, float, str]) -> None:
        super().__init__(key)
        self.key = key


class _Repeats:
    """The repeats of :func:`measure_own_noise`, base by base, each block of elements in turn.

    Draws of the seeded stream, in order: the offsets r (P), the centres s (P), then for
    forward differences ρ and β around x, then around x + s (n each, see
    :func:`_repeat_signed_streams`). The requests in ``failed`` are NaN, as f's domain error
    made them."""

    def __init__(
        self, pb: Problem, g: Callable[..., Any], h: Float64Array, index: IntArray,
        block: int, failed: frozenset[tuple[bool, float, str]],
    ) -> None:
        self.pb, self.g, self.h, self.index, self.block = pb, g, h, index, block
        self.failed = failed
        self.n = len(index)

    def sigma(self) -> Float64Array:
        """σ per element, the larger over both bases (see :func:`measure_own_noise`)."""
        n = self.n
        sigma, mid, plus = np.zeros(n), np.empty(n), np.empty(n)
        streams = _repeat_signed_streams(self.pb.layout.size, n)
        for moved in (False, True):
            ev, point = self._evaluator(moved, 0.0)
            for lo, i, h in self._blocks():
                mid[lo : lo + len(i)] = self._difference(ev, point, (moved, 0.0, "mid"),
                                                         i, 0.0 * h, h)
            if self.pb.method == "forward":
                draws = streams[2:] if moved else streams[:2]
                for lo, i, h in self._blocks():
                    part = slice(lo, lo + len(i))
                    rho, beta = (REPEAT_SPREAD * h * (u.uniform(0.5, 1.0, len(i))
                                                      * sign.choice([-1.0, 1.0], len(i)))
                                 for u, sign in draws)
                    sigma[part] = np.maximum(sigma[part], self._spread(
                        ev, point, moved, i, h, mid[part], rho, beta))
            del ev, point
            for t in (1.0, -1.0):
                ev, point = self._evaluator(moved, t)
                for lo, i, h in self._blocks():
                    part = slice(lo, lo + len(i))
                    delta = self._nudge(i) if moved else 0.0 * self._nudge(i)
                    d = self._difference(ev, point, (moved, t, "side"), i, 0.0 * h,
                                         h + delta if t > 0 else h - delta)
                    if t > 0:
                        plus[part] = d
                        continue
                    combined = _repeat_finite(np.abs(plus[part] + d - 2.0 * mid[part]))
                    sigma[part] = np.maximum(sigma[part],
                                             PROBE_SAFETY * h * combined / np.sqrt(3.0))
                del ev, point
        return sigma

    def _blocks(self) -> Any:
        """``(start, index, h)`` of each block of elements."""
        for lo in range(0, self.n, self.block):
            yield lo, self.index[lo : lo + self.block], self.h[lo : lo + self.block]

    def _nudge(self, i: IntArray) -> Float64Array:
        """The repeats' step nudge ``REPEAT_STEP_NUDGE · ε_k · max(1, |x_k|)`` at ``i``."""
        out: Float64Array = (
            REPEAT_STEP_NUDGE * _eps_at(self.pb, i) * np.maximum(1.0, np.abs(self.pb.x_flat[i])))
        return out

    def _evaluator(self, moved: bool, t: float) -> tuple[Any, Float64Array]:
        """An evaluator of g at the base ``x + s + t r`` (s as 0 · s around x), and that point,
        shape (P,), made chunk by chunk from the seeded draws."""
        pb, size = self.pb, self.pb.layout.size
        offsets, centres = _repeat_stream(0), _repeat_stream(size)
        point = np.empty(size)
        for lo in range(0, size, self.block):
            part = slice(lo, min(lo + self.block, size))
            scale = REPEAT_JITTER * _eps_at(pb, np.arange(part.start, part.stop)) * np.maximum(
                1.0, np.abs(pb.x_flat[part]))
            offset = scale * offsets.uniform(-1.0, 1.0, part.stop - part.start)
            centre = scale * centres.uniform(-1.0, 1.0, part.stop - part.start)
            base = centre if moved else 0.0 * centre
            point[part] = pb.x_flat[part] + (base + t * offset if t else base)
        leaves = [part.astype(leaf.dtype, copy=False)
                  for leaf, part in zip(pb.leaves, pb.split(point), strict=True)]
        return pb.make_evaluator(self.g, leaves, pb.treedef, pb.args), point

    def _spread(
        self, ev: Any, point: Float64Array, moved: bool, i: IntArray, h: Float64Array,
        mid: Float64Array, rho: Float64Array, beta: Float64Array,
    ) -> Float64Array:
        """σ from the repeats at centres ``s ρ`` and half-widths ``h + s β``, s = ±1, ±2,
        around the base ``point``, each pair against ``mid``, the difference there, for one
        block of elements (forward only)."""
        d = {s: self._difference(ev, point, (moved, s, "spread"), i, s * rho, h + s * beta)
             for s in (1.0, -1.0, 2.0, -2.0)}
        near, far = (_repeat_finite(np.abs(d[s] + d[-s] - 2.0 * mid)) for s in (1.0, 2.0))
        sigma: Float64Array = PROBE_SAFETY * h * np.maximum(near, far) / np.sqrt(3.0)
        return sigma

    def _difference(
        self, ev: Any, point: Float64Array, key: tuple[bool, float, str], i: IntArray,
        centre: Float64Array, h: Float64Array,
    ) -> Float64Array:
        """Central differences at ``i`` centred ``centre`` from the base ``point``, half-widths
        ``h``: one block of the request ``key`` (f raising there raises _RepeatFailed)."""
        if key in self.failed:
            return np.full(len(i), np.nan)
        hp, hm = _repeat_shifts(self.pb, point, i, centre + np.array([[1.0], [-1.0]]) * h)
        try:
            values = ev.along(np.concatenate([i, i]), np.concatenate([hp, hm]))
        except DOMAIN_ERRORS:
            raise _RepeatFailed(key) from None
        result: Float64Array = (values[: len(i)] - values[len(i) :]) / (hp - hm)
        return result


def _repeat_finite(values: Float64Array) -> Float64Array:
    """``values`` with every NaN or inf set to 0 (a base where f is not finite is left out)."""
    out: Float64Array = np.where(np.isfinite(values), values, 0.0)
    return out


def _eps_at(pb: Problem, i: IntArray) -> Float64Array:
    """Machine epsilon of the dtype of each coordinate ``i`` (``pb.layout.eps()[i]``)."""
    out = np.empty(len(i))
    for dtype, a, b in pb.layout.runs():
        out[(i >= a) & (i < b)] = float(np.finfo(dtype).eps)
    return out


def _repeat_stream(first: int) -> np.random.Generator:
    """The repeats' seeded generator after ``first`` draws of 64 bits."""
    bits = np.random.PCG64(REPEAT_SEED)
    bits.advance(first)
    return np.random.Generator(bits)


def _repeat_signed_streams(
    size: int, n: int
) -> list[tuple[np.random.Generator, np.random.Generator]]:
    """The generators of the forward repeats' factors ``ρ, β``: per base and factor, those of
    ``rng.uniform(0.5, 1.0, n)`` and of ``rng.choice([-1.0, 1.0], n)`` (n seeded non-dyadic
    factors, ``0.5 ≤ |t| ≤ 1``, of random sign, their product), as the repeats' one generator
    made them after the offsets and centres (2 ``size`` draws of 64 bits), each drawn from
    block by block. A uniform takes one draw; a sign takes 32 bits, the low half of a draw
    then its high half, and a high half left over waits for the next sign."""
    pos, pending, out = 2 * size, None, []
    for _ in range(4):
        factor = _repeat_stream(pos)
        pos += n
        sign = _repeat_stream(pos)
        if pending is not None:  # the high half of draw ``pending`` is the first sign
            state = sign.bit_generator.state
            high = int(_repeat_stream(pending).bit_generator.random_raw()) >> 32
            sign.bit_generator.state = {**state, "has_uint32": 1, "uinteger": high}
        halves = n - int(pending is not None)
        pending = pos + halves // 2 if halves % 2 else None
        pos += (halves + 1) // 2
        out.append((factor, sign))
    return out


def _repeat_shifts(
    pb: Problem, point: Float64Array, i: IntArray, h: Float64Array
) -> Float64Array:
    """:func:`shifted_steps` of the steps ``h`` (2, n) at the coordinates ``i`` alone of the
    base ``point`` (P,), with its ValueError where a shift rounds to 0."""
    out = np.empty(h.shape)
    for dtype, a, b in pb.layout.runs():
        inside = (i >= a) & (i < b)
        if inside.any():
            xs = point[i[inside]].astype(dtype)
            out[:, inside] = (xs + h[:, inside].astype(dtype)) - xs
    if (out != 0).all():
        return out
    full = np.zeros((2, pb.layout.size))
    full[:, i] = h
    return shifted_steps(point, pb.layout, full, only=i)[:, i]


def pooled_own_noise(
    pb: Problem, look: IntArray, sigma: Float64Array, h: Float64Array, *,
    block: int = 1 << 12,
) -> Float64Array:
    """Each element's measured noise raised to the largest of its group's (elements ``look``
    of one leaf whose steps ``h`` lie within the same power of two): ``sigma``, raised in
    place (``block`` elements at a time).

    One value per element is one draw of f's noise near x, and a draw can land near 0 (a
    constant row of a layer norm: two of twelve came out 1e-16 and 0 among 4.7e-13), so the
    elements share the largest, as the probe takes the largest of its differences. Only within
    a group: another leaf's precision (float32: its repeats' offsets are large enough to let
    f's curvature in, 4e-10 next to 2e-15) or a step of another scale would lend an element
    noise that is not its own, and hide a bug.
    """
    block = max(1, int(block))
    largest: dict[tuple[float, float], float] = {}
    for lo in range(0, len(look), block):
        groups, which = _noise_groups(pb, look[lo : lo + block], h[lo : lo + block])
        top = np.full(len(groups), -np.inf)
        np.maximum.at(top, which, sigma[lo : lo + block])
        for group, value in zip(groups, top.tolist(), strict=True):
            largest[group] = max(largest.get(group, -np.inf), value)
    for lo in range(0, len(look), block):
        groups, which = _noise_groups(pb, look[lo : lo + block], h[lo : lo + block])
        sigma[lo : lo + block] = np.array([largest[group] for group in groups])[which]
    return sigma


def _noise_groups(
    pb: Problem, look: IntArray, h: Float64Array
) -> tuple[list[tuple[float, float]], IntArray]:
    """The groups (leaf, octave of the step) of the elements ``look``, and each one's."""
    leaf = np.searchsorted(np.asarray(pb.layout.offsets), look, side="right") - 1
    octave = np.floor(np.log2(np.maximum(h, 1e-300)))
    if np.isfinite(octave).all():  # one integer key per group: a far quicker unique
        keys, which = np.unique(leaf * 4096 + (octave + 2048.0).astype(np.int64),
                                return_inverse=True)
        return [(float(k // 4096), float(k % 4096 - 2048)) for k in keys.tolist()], which
    groups, which = np.unique(np.stack([leaf, octave]), axis=1, return_inverse=True)
    return [(float(a), float(b)) for a, b in groups.T], which.reshape(-1)
