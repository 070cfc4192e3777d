"""A step-free gradient test: the Taylor remainder must fall as h², not as h.

Along a direction v, ``r(h) = |f(x + hv) - f(x) - h vᵀg|`` is ``O(h²)`` when g is the
gradient (the first Taylor term cancels) and ``≈ h |vᵀe|`` when g is off by e. Over a ladder of
h the slope of log r against log h is then about 2 or about 1; no single step has to be right.

Example
-------
>>> import numpy as np
>>> f = lambda w: float(np.sum(np.exp(w)))
>>> x = np.array([0.1, -0.4, 0.3])
>>> taylor_test(f, x, np.exp).passed, taylor_test(f, x, lambda w: 1.01 * np.exp(w)).passed
(True, False)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from gradcheck import _moved, _sampling, check
from gradcheck import evaluators as _evaluate
from gradcheck import steps as _problem

__all__ = ["SLOPE_THRESHOLD", "TaylorResult", "taylor_test"]

Float64Array = npt.NDArray[np.float64]

#: A fitted slope at least this is "about 2": the gradient passes along that direction.
SLOPE_THRESHOLD = 1.8
#: Remainders below this many ε·max|f| are rounding noise, not Taylor remainder.
NOISE_FACTOR = 100.0
#: The slope is fitted to the smallest steps above the noise, at most this many of them.
N_FIT = 6


class TaylorResult(NamedTuple):
    """The outcome of :func:`taylor_test`."""

    passed: bool
    slopes: Float64Array
    """Fitted slope of log r against log h per direction, shape (n,); NaN where fewer than 3
    remainders rose above the noise (r is rounding only: such a direction passes)."""
    steps: Float64Array
    """The ladder of h, shape (K,), decreasing."""
    remainders: Float64Array
    """r(h) per direction and step, shape (n, K)."""
    fitted: npt.NDArray[np.bool_]
    """The points the slope was fitted to, shape (n, K)."""
    noise_floor: float
    """``NOISE_FACTOR · ε · max |f|``: remainders below it are rounding."""
    n_evaluations: int

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        lines = [
            f"Taylor test {verdict}: r(h) = |f(x+hv) - f(x) - h vᵀg| over {len(self.steps)} "
            f"steps h = {self.steps[0]:.3g} .. {self.steps[-1]:.3g}, {len(self.slopes)} "
            f"directions; slope >= {SLOPE_THRESHOLD} passes (2: g correct, 1: g wrong)"
        ]
        for j, slope in enumerate(self.slopes):
            if np.isnan(slope):
                text = (f"r below the rounding floor {self.noise_floor:.2e} at every step: "
                        "f is linear along v to rounding and g matches it: pass")
            else:
                used = self.steps[self.fitted[j]]
                mark = "ok" if slope >= SLOPE_THRESHOLD else "MISMATCH (r falls like h^slope)"
                text = (f"slope {slope:.2f} fitted on h = {used[0]:.2e} .. {used[-1]:.2e}  "
                        f"{mark}")
            lines.append(f"  v{j}: {text}")
        return "\n".join(lines)


def _ladder(steps: object, scale: float) -> Float64Array:
    """The default ladder 0.1·scale·2^-k down to 1e-6·scale, or ``steps`` checked."""
    if steps is None:
        k = np.arange(int(np.floor(np.log2(1e5))) + 1, dtype=np.float64)
        default: Float64Array = 0.1 * scale * np.exp2(-k)
        return default
    ladder = np.asarray(steps, dtype=np.float64) if not isinstance(steps, str) else None
    if (ladder is None or ladder.ndim != 1 or ladder.size < 3
            or not np.all(np.isfinite(ladder)) or not np.all(ladder > 0)):
        raise ValueError(f"`steps` is {steps!r}; it must be at least 3 positive finite numbers")
    ordered: Float64Array = np.sort(ladder)[::-1].copy()
    return ordered


def _slope(ladder: Float64Array, r: Float64Array, floor: float) -> tuple[float, Any]:
    """The slope fitted to the N_FIT smallest steps with r above ``floor``, and their mask."""
    above = np.flatnonzero(r > floor)
    mask = np.zeros(len(ladder), bool)
    if above.size < 3:
        return float("nan"), mask
    mask[above[-N_FIT:]] = True
    slope = np.polyfit(np.log(ladder[mask]), np.log(r[mask]), 1)[0]
    return float(slope), mask


def taylor_test(
    f: _evaluate.ScalarFunction,
    x: Any,
    grad: Any = None,
    *,
    args: tuple[Any, ...] = (),
    n_directions: int = 3,
    rng: int | np.random.Generator | None = None,
    steps: Any = None,
) -> TaylorResult:
    """Check a gradient by the order of the Taylor remainder, with no step to choose.

    Parameters
    ----------
    f, x, grad, args
        As :func:`gradcheck.check_gradient`.
    n_directions : int
        Random unit directions v (Gaussian, normalised), >= 1.
    rng : None, int or numpy.random.Generator
        The source of the directions; None is seed 0 (reproducible).
    steps : sequence of float, optional
        The ladder of h (>= 3 positive numbers); by default 0.1·s·2^-k for k = 0..16
        (down to about 1e-6·s), s = max(1, max_k |x_k|).

    Returns
    -------
    TaylorResult
        ``passed``, the fitted slopes, the ladder, the remainders and the points fitted.

    Raises
    ------
    TypeError, ValueError
        As :func:`gradcheck.check_gradient`; a bad ``n_directions``, ``rng`` or ``steps``.

    Notes
    -----
    f(x + hv) = f(x) + h vᵀ∇f + h²/2 vᵀHv + O(h³), so with an analytic gradient a = ∇f + e,
    ``r(h) = |h²/2 vᵀHv - h vᵀe + O(h³)|``: slope 2 in log-log when e = 0, slope 1 for h
    below ``2|vᵀe| / |vᵀHv|`` otherwise. The point really evaluated is x + hv rounded to the
    leaves' dtype; the linear term uses that displacement d (``aᵀd``), so the rounding of x
    itself is not mistaken for an error. Remainders below ``100 ε max|f|`` are rounding and
    are dropped; the slope is a least-squares fit of log r on log h over the (at most 6)
    smallest steps left. Decision: every direction's slope >= 1.8 passes (about 2), a slope
    below fails (about 1: the gradient is wrong along v). When fewer than 3 remainders rise
    above the floor (f linear along v, or quadratic with vᵀHv ≈ 0, and g exact to rounding),
    the remainder is pure rounding and the direction passes; the report says so. An error
    with |vᵀe| below the floor at every step cannot be seen. Cost: 1 + n·K calls of f.
    Memory beyond x and the gradient: one point at a time and the flat float64 x, a view of x
    when x is one contiguous float64 array, else a copy: one or two copies of a float64 x
    (see :mod:`gradcheck._moved`).

    Examples
    --------
    >>> import numpy as np
    >>> result = taylor_test(lambda w: float(w @ w), np.array([1.0, 2.0]), lambda w: 2 * w)
    >>> result.passed, bool(np.all(np.abs(result.slopes - 2.0) < 0.05))
    (True, True)
    """
    pb = _problem.prepare(f, x, args, "central")
    n = _sampling.count("n_directions", n_directions)
    pair = check._PairValue(pb.f) if grad is None else None
    call = _moved.Mover(pb, pair or pb.f)
    f0 = call.at_x()
    call.analytic, _ = _moved.gradient_leaves(pb, grad, pair)
    ladder = _ladder(steps, _sampling.max_abs(pb.x_flat))
    gen = _sampling.generator(rng)
    remainders = np.empty((n, len(ladder)))
    f_max = abs(f0)
    for j in range(n):
        v = _moved.Direction(gen, "gaussian", pb.layout.size)
        for i, h in enumerate(ladder):
            value, a_d, _ = call(v.point(pb, float(h)))
            f_max = max(f_max, abs(value.real))
            remainders[j, i] = abs(value.real - f0 - a_d)
    eps = max(float(np.max(pb.layout.eps())), call.eps)
    floor = NOISE_FACTOR * eps * f_max
    fits = [_slope(ladder, r, floor) for r in remainders]
    slopes = np.array([s for s, _ in fits])
    passed = bool(np.all(np.isnan(slopes) | (slopes >= SLOPE_THRESHOLD)))
    fitted = np.array([mask for _, mask in fits])
    return TaylorResult(passed, slopes, ladder, remainders, fitted, floor, call.count)
