"""Which passing elements the check could not resolve, and why.

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
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gradcheck.report import MISMATCH, PASS, UNRESOLVED

Float64Array = npt.NDArray[np.float64]

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
    size = np.maximum(np.abs(analytic), np.abs(numeric))
    size = np.where(np.isfinite(size), size, 0.0)
    gradient = float(size.max(initial=0.0))
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
    keys = ["settle"] if np.any(status == UNRESOLVED) else []
    out = status.copy()
    if open_.any():
        out[open_] = UNRESOLVED
        if spread > 0.0:
            keys.append("spread")
        elif np.any(open_ & blind):
            keys.append("sharp" if method == "complex" else "flat")
        elif method == "complex":
            keys.append("complex")
        elif method == "forward" and float32:
            keys.append("forward32")
        else:
            keys.append("step")
    return out, "; ".join(_WHY[key] for key in keys)


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
