"""Elements whose steps cannot be kept inside f's domain: not verifiable, with the reason.

A step that meets NaN, inf or an exception from f is shrunk first (DOMAIN_SHRINK at a time,
DOMAIN_TRIES times: 4096 in all, see :mod:`gradcheck.numerical`). Where f is still not finite
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

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import evaluators as _evaluate
from gradcheck import numerical
from gradcheck._problem import Noise, Problem
from gradcheck.diagnosis import Finding

Float64Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def estimate(
    ev: _evaluate.Evaluator, pb: Problem, noise: Noise, h: Float64Array, f0: float,
) -> tuple[numerical.Estimate, BoolArray, str]:
    """The estimate at every coordinate, NaN where f is not finite at the largest shrink.

    Returns ``(estimate, outside, why)``: ``outside`` (P,) marks those coordinates and
    ``why`` names the first point where f failed ("" where none did).
    """
    def method(index: npt.NDArray[np.intp]) -> numerical.Estimate:
        return numerical.estimate(ev, pb, noise, h, index, f0)

    if pb.method == "complex":
        return method(np.arange(pb.layout.size)), np.zeros(pb.layout.size, bool), ""
    return within(method, np.arange(pb.layout.size))


def within(
    estimator: Callable[[npt.NDArray[np.intp]], numerical.Estimate],
    index: npt.NDArray[np.intp],
) -> tuple[numerical.Estimate, BoolArray, str]:
    """``estimator`` at the coordinates ``index`` (n,), left out where it leaves f's domain.

    Returns ``(estimate, outside, why)``, the estimate's arrays of shape (n,), NaN where
    ``outside`` (n,), and ``why`` naming the first point where f failed.
    """
    outside = np.zeros(index.size, bool)
    why = ""
    while True:
        try:
            est = estimator(index[~outside])
        except numerical.OutsideDomain as exc:
            fresh = np.isin(index, exc.index) & ~outside
            if not fresh.any():
                raise
            outside |= fresh
            why = why or str(exc).split("; f must be finite")[0]
            continue
        return _spread(est, np.flatnonzero(~outside), index.size), outside, why


def _spread(est: numerical.Estimate, index: npt.NDArray[np.intp], size: int) -> numerical.Estimate:
    """``est`` of the coordinates ``index`` as (size,) arrays: NaN (False) elsewhere."""
    if index.size == size:
        return est

    def full(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        out = np.zeros(size, bool) if a.dtype == bool else np.full(size, np.nan)
        out[index] = a
        return out

    fields: dict[str, Any] = {name: full(value) for name, value in est._asdict().items()
              if isinstance(value, np.ndarray)}
    return est._replace(**fields)


def finding(pb: Problem, outside: BoolArray, why: str) -> tuple[Finding, ...]:
    """The diagnosis line that says which elements left f's domain, where and why."""
    if not outside.any():
        return ()
    names = [pb.layout.describe(int(k)) for k in np.flatnonzero(outside)]
    listed = ", ".join(f"`{n}`" for n in names[:5]) + (
        f" and {len(names) - 5} more" if len(names) > 5 else "")
    message = (
        f"{listed} not verifiable: f is not finite on a side of x even at the step shrunk "
        f"{int(numerical.DOMAIN_SHRINK ** numerical.DOMAIN_TRIES)} times ({why}); f is not "
        "defined on a neighbourhood of x there, so no two-sided difference exists"
    )
    leaves = tuple(dict.fromkeys(
        pb.layout.paths[int(np.searchsorted(pb.layout.offsets, k, side="right")) - 1]
        for k in np.flatnonzero(outside)))
    return (Finding("outside-domain", message, leaves, {"elements": len(names)}),)
