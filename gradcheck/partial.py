"""The partial checks for huge P: random directions, random coordinates, the Taylor remainder.

A full check costs 2P calls of f. :func:`check_directional` compares vᵀg with a finite
difference of f along a few random unit directions v (2 calls of f each, plus one at x), and
states the probability that a wrong gradient goes unnoticed; :func:`check_sampled` runs the
full element-wise check (:func:`gradcheck.check_gradient`) on k coordinates drawn at random;
:func:`taylor_test` fits the order of the Taylor remainder along random directions, with no
step to choose. The points near x that they evaluate f at, the random draws and the gradient's
leaves come from the section "f at x moved along one direction" below.

Example
-------
>>> import numpy as np
>>> f = lambda w: float(np.sum(np.sin(w)))
>>> x = np.linspace(0.0, 1.0, 1000)
>>> check_directional(f, x, np.cos, rng=0).passed, check_sampled(f, x, np.cos, k=5).passed
(True, True)
>>> check_directional(f, x, lambda w: np.cos(w) * 1.001, rng=0).passed
False
>>> f = lambda w: float(np.sum(np.exp(w)))
>>> x = np.array([0.1, -0.4, 0.3])
>>> taylor_test(f, x, np.exp).passed, taylor_test(f, x, lambda w: 1.01 * np.exp(w)).passed
(True, False)
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from gradcheck import check, methods, report
from gradcheck import evaluators as _evaluate
from gradcheck import tree as _tree
from gradcheck import verdict as _verdict
from gradcheck.diagnosis import Hints, diagnose_named
from gradcheck.methods import gradient_leaves

__all__ = [
    "SLOPE_THRESHOLD",
    "DirectionalResult",
    "SampledResult",
    "TaylorResult",
    "check_directional",
    "check_sampled",
    "taylor_test",
]

Float64Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
DISTRIBUTIONS = ("gaussian", "rademacher")
_METHODS = ("central", "forward", "complex")


# --- Directional: vᵀg against a finite difference of f along random unit directions -----------


class DirectionalResult(NamedTuple):
    """The outcome of :func:`check_directional`; every array has shape (n_directions,)."""

    passed: bool
    method: str
    distribution: str
    analytic: Float64Array
    """``aᵀd / |step|``: the analytic gradient along the displacement f really saw."""
    numeric: Float64Array
    """The finite-difference directional derivative."""
    tolerance: Float64Array
    """The error-model bound on ``|analytic - numeric|`` per direction."""
    step: Float64Array
    size: int
    """P, the number of coordinates of x."""
    n_evaluations: int

    def __bool__(self) -> bool:
        return self.passed

    def miss_probability(self, error_norm: float) -> float:
        """P(every direction passes) for a gradient error of 2-norm ``error_norm`` (see Notes
        of :func:`check_directional`): ``Π_j erf(τ_j √P / (√2 ‖e‖))``."""
        if error_norm <= 0:
            return 1.0
        factor = math.sqrt(self.size / 2.0) / error_norm
        return float(np.prod([math.erf(t * factor) for t in self.tolerance]))

    def detectable_error(self, miss: float = 0.01) -> float:
        """The error norm ‖e‖ missed with probability at most ``miss``, from the bound
        ``Π_j 2τ_j √P / (√(2π) ‖e‖) = miss``."""
        n = len(self.tolerance)
        geometric = float(np.exp(np.mean(np.log(np.maximum(self.tolerance, 1e-300)))))
        bound: float = math.sqrt(2.0 * self.size / math.pi) * geometric / miss ** (1.0 / n)
        return bound

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        lines = [
            f"directional gradient check {verdict}: {len(self.step)} random {self.distribution} "
            f"unit directions of P = {self.size} ({self.method} differences, "
            f"{self.n_evaluations} calls of f)"
        ]
        for j, (a, n, t) in enumerate(zip(self.analytic, self.numeric, self.tolerance,
                                          strict=True)):
            mark = "ok" if abs(a - n) <= t else "MISMATCH"
            lines.append(f"  v{j}: vᵀg {a:.6e}  numeric {n:.6e}  |diff| {abs(a - n):.2e}  "
                         f"tol {t:.2e}  {mark}")
        lines.append(f"  a gradient error of norm >= {self.detectable_error():.3g} is missed "
                     "with probability < 1%")
        return "\n".join(lines)


def _check_distribution(distribution: object) -> str:
    """``distribution`` if it is one of :data:`DISTRIBUTIONS`."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"`distribution` is {distribution!r}; it must be one of "
                         f"{', '.join(DISTRIBUTIONS)}")
    return str(distribution)


def check_directional(
    f: _evaluate.ScalarFunction,
    x: Any,
    grad: Any = None,
    *,
    args: tuple[Any, ...] = (),
    n_directions: int = 4,
    rng: int | np.random.Generator | None = None,
    method: str = "central",
    distribution: str = "gaussian",
    step: float | None = None,
) -> DirectionalResult:
    """Compare vᵀg with a finite difference of f along random unit directions v.

    Parameters
    ----------
    f, x, grad, args
        As :func:`gradcheck.check_gradient`.
    n_directions : int
        How many directions (>= 1).
    rng : None, int or numpy.random.Generator
        The source of the directions; None is seed 0 (reproducible).
    method : {"central", "forward", "complex"}
        The difference along v: ``(f(x+hv) - f(x-hv)) / 2h`` (2 calls), ``(f(x+hv) - f(x)) / h``
        (1 call) or ``Im f(x+ihv) / h`` (1 call, f analytic).
    distribution : {"gaussian", "rademacher"}
        v = z/‖z‖ for z standard normal, or v_k = ±1/√P.
    step : float, optional
        h > 0; by default the method's relative step (see :mod:`gradcheck.methods`) times
        ``max(1, max_k |x_k|)``.

    Returns
    -------
    DirectionalResult
        ``passed``, per direction vᵀg, the numerical value and the tolerance, and
        ``miss_probability(‖e‖)``.

    Raises
    ------
    TypeError, ValueError
        As :func:`gradcheck.check_gradient`; a bad ``n_directions``, ``rng``,
        ``distribution``, ``step``, or ``method="richardson"``.

    Notes
    -----
    The analytic side is ``aᵀd / h`` with d the displacement f really saw (x + hv rounded to
    each leaf's dtype, minus x), so rounding of the point does not count as an error. The
    tolerance τ is the central-difference error model of :mod:`gradcheck.methods` along v:
    ``SAFETY (ε F / h + h² / 6 max(F / m³, |f''_v| / m) + ANALYTIC ε_a (Σ|a_k v_k| + F / m))``
    (forward: ``2 ε F / h + h F / (2 m²)``; complex: ``ε |n| + h² F / (6 m³)``), with F the
    largest |f| seen and m = max(1, max |x_k|). Cost: 1 + 2n calls of f (central).
    Memory beyond x and the gradient: one point at a time and the flat float64 x, a view of x
    when x is one contiguous float64 array: one copy of such an x (two for the complex step,
    whose point is complex), one more for a pytree (see the section "f at x moved along one
    direction" below).

    *Probability of missing a bug.* Let e = a - ∇f be the error of the gradient. Along v the
    check sees vᵀe and misses it when |vᵀe| <= τ. For z ~ N(0, I_P), zᵀe ~ N(0, ‖e‖²) and
    ‖z‖ ≈ √P, so vᵀe = zᵀe / ‖z‖ ~ N(0, ‖e‖² / P) and, with Φ the normal CDF,
    ``P(|vᵀe| <= τ) = 2Φ(τ√P / ‖e‖) - 1 = erf(τ√P / (√2 ‖e‖)) <= 2τ√P / (√(2π) ‖e‖)``.
    The directions are independent, so all n miss with probability
    ``Π_j erf(τ_j √P / (√2 ‖e‖))`` (``result.miss_probability``), below
    ``Π_j 2τ_j √P / (√(2π) ‖e‖)``. For Rademacher directions vᵀe has the same mean and
    variance and is near normal when e is spread over many coordinates; an error in a single
    coordinate k is seen exactly as |e_k| / √P, caught for sure when above τ.

    Examples
    --------
    >>> import numpy as np
    >>> x = {"w": np.array([1.0, 2.0, 3.0])}
    >>> result = check_directional(lambda p: float(np.sum(p["w"] ** 3)), x,
    ...                            lambda p: {"w": 3 * p["w"] ** 2}, n_directions=2)
    >>> result.passed, result.size, result.n_evaluations
    (True, 3, 5)
    """
    if method not in _METHODS:
        raise ValueError(f"`method` is {method!r}; check_directional takes one of "
                         f"{', '.join(_METHODS)}")
    pb = methods.prepare(f, x, args, method)
    n = check.count("n_directions", n_directions)
    if step is not None and not (isinstance(step, (int, float)) and 0 < step < math.inf):
        raise ValueError(f"`step` is {step!r}; it must be a positive finite number or None")
    distribution = _check_distribution(distribution)
    pair = check._PairValue(pb.f) if grad is None else None
    call = Mover(pb, pair or pb.f)
    f0 = call.at_x()
    call.analytic, eps_a = gradient_leaves(pb, grad, pair)
    gen, m = check.generator(rng), max_abs(pb.x_flat)
    eps = max(float(np.max(pb.layout.eps())), call.eps)
    h = methods.relative_step(method, eps) * m if step is None else float(step)
    rows = [_along(call, method, gen, distribution, h, f0, eps, m) for _ in range(n)]
    numeric, along_a, error, f_max, size = (np.array(c) for c in zip(*rows, strict=True))
    tol = _verdict.SAFETY * (error + _verdict.ANALYTIC * eps_a * (size + f_max / m))
    passed = bool(np.all(np.abs(along_a - numeric) <= tol))
    return DirectionalResult(passed, method, distribution, along_a, numeric, tol,
                             np.full(n, h), pb.layout.size, call.count)


def _along(
    call: Mover, method: str, gen: np.random.Generator, distribution: str, h: float,
    f0: float, eps: float, m: float,
) -> tuple[float, float, float, float, float]:
    """(numeric, aᵀd/h, error estimate, F, |a|ᵀ|v|) along a new random direction v."""
    v = Direction(gen, distribution, call.pb.layout.size)
    if method == "complex":
        value, a_d, abs_a_d = call(v.imaginary_point(call.pb, h))
        numeric, f_max = value.imag / h, abs(value.real)
        error = eps * abs(numeric) + h**2 * f_max / (6 * m**3)
        return numeric, a_d / h, error, f_max, abs_a_d / h
    fp, a_dp, abs_a_d = call(v.point(call.pb, h))
    if method == "forward":
        f_max = max(abs(f0), abs(fp.real))
        error = 2 * eps * f_max / h + h * f_max / (2 * m**2)
        return (fp.real - f0) / h, a_dp / h, error, f_max, abs_a_d / h
    fm, a_dm, _ = call(v.point(call.pb, -h))
    f_max = max(abs(f0), abs(fp.real), abs(fm.real))
    second = abs(fp.real - 2 * f0 + fm.real) / h**2
    error = eps * f_max / h + h**2 / 6 * max(f_max / m**3, second / m)
    return (fp.real - fm.real) / (2 * h), (a_dp - a_dm) / (2 * h), error, f_max, abs_a_d / h


# --- Sampled: the full element-wise check on k random coordinates ------------------------------


class SampledResult(NamedTuple):
    """The outcome of :func:`check_sampled`: a full check of k coordinates out of P."""

    result: report.GradientCheckResult
    """The check of the sampled coordinates, in the caller's names: one leaf per leaf of x
    that holds sampled coordinates, with its path and shape, ``size`` the number sampled and
    elements at their index in x; the per-element arrays are 1-D, in ``coordinates`` order."""
    coordinates: IntArray
    """The flat indices checked (leaves in flatten order, each in C order), sorted."""
    names: tuple[str, ...]
    """The element names of the coordinates checked, as in a full report."""
    size: int
    """P."""

    @property
    def passed(self) -> bool:
        """Whether every sampled coordinate passed."""
        return self.result.passed

    def __bool__(self) -> bool:
        return self.result.passed

    def _named(self, code: int) -> tuple[str, ...]:
        """The names of the sampled coordinates whose status is ``code``."""
        status = np.concatenate([s.reshape(-1) for s in self.result.status])
        return tuple(self.names[i] for i in np.flatnonzero(status == code))

    @property
    def mismatches(self) -> tuple[str, ...]:
        """The names of the sampled coordinates that mismatch."""
        return self._named(report.MISMATCH)

    @property
    def unresolved(self) -> tuple[str, ...]:
        """The names of the sampled coordinates the check could not resolve (see why in
        ``result.unresolved_reason``)."""
        return self._named(report.UNRESOLVED)

    @property
    def unverifiable(self) -> tuple[str, ...]:
        """The names of the sampled coordinates not verifiable at this step (f not smooth)."""
        return self._named(report.UNVERIFIABLE)

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        shown = ", ".join(self.names[:8]) + (", ..." if len(self.names) > 8 else "")
        lines = [f"sampled gradient check {verdict}: {len(self.names)} of {self.size} "
                 f"coordinates chosen at random ({shown})"]
        for label, names in (("mismatching", self.mismatches), ("unresolved", self.unresolved),
                             ("not verifiable at this step", self.unverifiable)):
            if names:
                lines.append(f"{label}: " + ", ".join(names))
        return "\n".join([*lines, str(self.result)])


def _sampled_gradient(leaf: _tree.FloatArray, local: IntArray) -> Float64Array:
    """The sampled elements of one gradient leaf: float32 if the leaf is, else float64."""
    dtype = np.float32 if np.finfo(leaf.dtype).eps > 1e-10 else np.float64
    return np.asarray(leaf).reshape(-1)[local].astype(dtype)


def check_sampled(
    f: _evaluate.ScalarFunction,
    x: Any,
    grad: Any = None,
    *,
    k: int = 100,
    args: tuple[Any, ...] = (),
    rng: int | np.random.Generator | None = None,
    method: str = "central",
    step: float | None = None,
) -> SampledResult:
    """The element-wise check of :func:`gradcheck.check_gradient` on k random coordinates.

    Parameters
    ----------
    f, x, grad, args, method
        As :func:`gradcheck.check_gradient`.
    k : int
        How many coordinates (>= 1; all P when k >= P), drawn without replacement.
    rng : None, int or numpy.random.Generator
        The source of the sample; None is seed 0 (reproducible).
    step : float, optional
        One absolute step for every coordinate; None chooses the method's default, the same
        per-coordinate step as the full check.

    Returns
    -------
    SampledResult
        The check of the sample, which coordinates (``names``) and k of P.

    Raises
    ------
    TypeError, ValueError
        As :func:`gradcheck.check_gradient`; a bad ``k`` or ``rng``.

    Notes
    -----
    f is checked as a function of the sampled coordinates only, the others held at x, so each
    sampled element gets exactly the step, estimate, tolerance and confirmation it gets in a
    full check. Cost: 2 + 2k calls of f (central), each on a fresh copy of x. A bug that
    corrupts a fraction q of the coordinates is missed with probability about (1 - q)^k.
    Memory beyond x and the gradient: the copy f is called on and the flat float64 x (a view of
    x when x is one contiguous float64 array, else a copy): one or two copies of a float64 x.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(1.0, 101.0)
    >>> sampled = check_sampled(lambda w: float(w @ w), x, 2 * x, k=3, rng=1)
    >>> sampled.passed, len(sampled.coordinates), sampled.size
    (True, 3, 100)
    """
    pb = methods.prepare(f, x, args, method)
    count = min(check.count("k", k), pb.layout.size)
    chosen = np.sort(check.generator(rng).choice(pb.layout.size, size=count, replace=False))
    pair = check._PairValue(pb.f) if grad is None else None
    if pair is not None:
        pair(pb.fresh_x(), *pb.args)
    analytic, _ = gradient_leaves(pb, grad, pair)
    leaf_of = np.searchsorted(pb.layout.offsets[1:], chosen, side="right")
    used = [int(i) for i in np.unique(leaf_of)]
    local = {i: chosen[leaf_of == i] - pb.layout.offsets[i] for i in used}
    sub_x = [pb.leaves[i].reshape(-1)[local[i]] for i in used]
    sub_grad = [_sampled_gradient(analytic[i], local[i]) for i in used]
    scalar = pair if pair is not None else pb.f

    def restricted(sub: list[Any], *extra: Any) -> Any:
        leaves = [leaf.copy() for leaf in pb.leaves]
        for i, values in zip(used, sub, strict=True):
            leaves[i].reshape(-1)[local[i]] = values
        return raised_by_f.call(scalar, _tree.unflatten(pb.treedef, leaves), *extra)

    raised_by_f = _RaisedByF()
    with _callers_errors(pb.layout, used, local, raised_by_f):
        result = check.check_gradient(restricted, sub_x, sub_grad, args=pb.args, method=method,
                                      step=step)
    result = _in_callers_names(result, pb.layout, used, local, sub_x)
    names = tuple(pb.layout.describe(int(c)) for c in chosen)
    return SampledResult(result, chosen, names, pb.layout.size)


# The sampled check in the caller's names: ``x['W'][3, 7]``, not ``x[0][31]``. `check_sampled`
# checks f as a function of a list of 1-D arrays, one per leaf of x that holds sampled
# coordinates; `_in_callers_names` turns that check's result into the caller's leaves and
# indices, `_callers_errors` does the same for the messages of the errors it raises.


def _in_callers_names(
    result: report.GradientCheckResult,
    layout: _tree.Layout,
    used: Sequence[int],
    local: Mapping[int, npt.NDArray[np.intp]],
    params: Sequence[npt.NDArray[np.floating]],
) -> report.GradientCheckResult:
    """``result`` of the sampled leaves ``used`` (``local[i]``: flat indices into leaf i of x,
    ``params``: their values) with the caller's paths, leaf shapes and element indices.

    Per-leaf ``size`` counts the sampled elements; the per-element arrays stay 1-D, in the
    order of ``local[i]``.
    """
    paths = tuple(layout.paths[i] for i in used)
    leaf_of = {path: j for j, path in enumerate(result.paths)}

    def index(j: int, position: int) -> tuple[int, ...]:
        flat = int(local[used[j]][position])
        return tuple(int(k) for k in np.unravel_index(flat, layout.shapes[used[j]]))

    def element(e: report.ElementError) -> report.ElementError:
        j = leaf_of[e.path]
        return dataclasses.replace(e, path=paths[j], index=index(j, e.index[0]))

    leaves = tuple(
        leaf._replace(
            path=paths[j], shape=layout.shapes[used[j]],
            worst_index=None if leaf.worst_index is None else index(j, leaf.worst_index[0]),
        )
        for j, leaf in enumerate(result.leaves)
    )  # fmt: skip
    findings = result.diagnosis and diagnose_named(
        paths, result.analytic, result.numeric, result.tolerance, params, Hints(),
        lambda j, at: _tree.element_name("x" + paths[j], index(j, at[0])),
    )  # fmt: skip
    return dataclasses.replace(
        result, paths=paths, leaves=leaves, diagnosis=findings,
        worst=None if result.worst is None else element(result.worst),
        mismatches=tuple(element(e) for e in result.mismatches),
        unverifiable=tuple(element(e) for e in result.unverifiable),
    )  # fmt: skip


_INTERNAL = re.compile(r"x\[(\d+)\]\[(\d+)\]")
"""An element of the sampled check as its messages write it: ``x[leaf][position]``."""


class _RaisedByF:
    """The errors that the caller's f raised, so that their messages are never rewritten."""

    def __init__(self) -> None:
        self._seen: list[BaseException] = []

    def call(self, f: Callable[..., Any], *args: Any) -> Any:
        """``f(*args)``, remembering an error it raises."""
        try:
            return f(*args)
        except BaseException as error:
            self._seen.append(error)
            raise

    def caused(self, error: BaseException | None) -> bool:
        """Whether ``error`` is (or was raised while handling) an error of f."""
        while error is not None:
            if any(error is seen for seen in self._seen):
                return True
            error = error.__cause__ or error.__context__
        return False


@contextlib.contextmanager
def _callers_errors(
    layout: _tree.Layout, used: Sequence[int], local: Mapping[int, npt.NDArray[np.intp]],
    raised_by_f: _RaisedByF | None = None,
) -> Iterator[None]:
    """Re-raise a TypeError/ValueError of the sampled check with its elements in x's names.

    Errors of the caller's f (those ``raised_by_f`` saw) keep their own messages.
    """
    try:
        yield
    except (TypeError, ValueError) as error:
        if raised_by_f is not None and raised_by_f.caused(error):
            raise

        def name(match: re.Match[str]) -> str:
            j, position = int(match.group(1)), int(match.group(2))
            if j >= len(used) or position >= len(local[used[j]]):
                return match.group(0)
            return layout.describe(layout.offsets[used[j]] + int(local[used[j]][position]))

        text = _INTERNAL.sub(name, str(error))
        if type(error) not in (TypeError, ValueError) or text == str(error):
            raise
        raise type(error)(text) from error


# --- Taylor: the remainder must fall as h², not as h (no step to choose) ---------------------
#
# Along v, ``r(h) = |f(x + hv) - f(x) - h vᵀg|`` is ``O(h²)`` when g is the gradient (the first
# Taylor term cancels) and ``≈ h |vᵀe|`` when g is off by e. Over a ladder of h the slope of
# log r against log h is then about 2 or about 1; no single step has to be right.

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
    (see the section "f at x moved along one direction" below).

    Examples
    --------
    >>> import numpy as np
    >>> result = taylor_test(lambda w: float(w @ w), np.array([1.0, 2.0]), lambda w: 2 * w)
    >>> result.passed, bool(np.all(np.abs(result.slopes - 2.0) < 0.05))
    (True, True)
    """
    pb = methods.prepare(f, x, args, "central")
    n = check.count("n_directions", n_directions)
    pair = check._PairValue(pb.f) if grad is None else None
    call = Mover(pb, pair or pb.f)
    f0 = call.at_x()
    call.analytic, _ = gradient_leaves(pb, grad, pair)
    ladder = _ladder(steps, max_abs(pb.x_flat))
    gen = check.generator(rng)
    remainders = np.empty((n, len(ladder)))
    f_max = abs(f0)
    for j in range(n):
        v = Direction(gen, "gaussian", pb.layout.size)
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


# ----------------------------------------------------------------------------------------------
# f at x moved along one direction, in a few copies of x.
#
# What the partial checks stand on: f at x moved along one direction, in memory bounded by a few
# copies of x; the gradient's leaves; the random draws and counts of the randomized checks.
#
# The partial checks (:func:`gradcheck.check_directional`, :func:`gradcheck.taylor_test`) are
# meant for huge P, so they evaluate ``f(x + h v)`` holding, beyond x and the gradient, one
# point at a time and the flat float64 x that every check makes (a read-only view of x when x is
# one contiguous float64 array, else a copy): one copy of such an x (two for the complex step,
# whose point is complex), one more for a pytree. The random unit direction v is never
# stored (:class:`Direction` draws it again, chunk by chunk, for each point), and the products
# over P (``aᵀd``, ``|a|ᵀ|d|``, ``‖z‖``) are taken over chunks of :data:`CHUNK` coordinates, so
# no other array of P elements is made. :func:`gradient_leaves` serves the full check too, and
# :func:`count` the directions of :func:`gradcheck.check_jvp` and :func:`gradcheck.check_vjp`.

CHUNK = 1 << 13
"""Coordinates per chunk of a product over P (64 KiB of float64)."""

_SIGNS = np.array([-1.0, 1.0])


class Direction:
    """A random unit direction v = z/‖z‖, never stored: drawn again for each point made.

    z is Gaussian or ±1. Making the direction draws z once from ``gen`` (chunk by chunk, for
    ‖z‖), which advances ``gen`` as one draw of P numbers does; each point draws z again,
    with the same numbers, from a copy of ``gen``'s state taken before.
    """

    def __init__(self, gen: np.random.Generator, distribution: str, size: int) -> None:
        self._bits = type(gen.bit_generator)
        self._state = gen.bit_generator.state
        self._distribution = distribution
        self._size = size
        squares = sum(float(z @ z) for _, z in self._chunks(gen))
        self.norm = math.sqrt(squares)

    def _chunks(self, gen: np.random.Generator) -> Iterator[tuple[slice, Float64Array]]:
        """(slice, z on it) over the P coordinates, drawn from ``gen``."""
        for lo in range(0, self._size, CHUNK):
            n = min(CHUNK, self._size - lo)
            z = (gen.standard_normal(n) if self._distribution == "gaussian"
                 else gen.choice(_SIGNS, size=n))
            yield slice(lo, lo + n), z

    def _again(self) -> Iterator[tuple[slice, Float64Array]]:
        """The chunks of v = z/‖z‖, drawn again."""
        bits = self._bits()
        bits.state = self._state
        for part, z in self._chunks(np.random.Generator(bits)):
            z /= self.norm
            yield part, z

    def point(self, pb: methods.Problem, h: float) -> Float64Array:
        """``x + h v`` as a new flat float64 (P,) array."""
        point = np.empty(self._size)
        for part, v in self._again():
            v *= h
            np.add(pb.x_flat[part], v, out=point[part])
        return point

    def imaginary_point(self, pb: methods.Problem, h: float) -> npt.NDArray[np.complex128]:
        """``x + i h v`` as a new flat complex128 (P,) array."""
        point = np.empty(self._size, dtype=np.complex128)
        point.real = pb.x_flat
        for part, v in self._again():
            v *= h
            point.imag[part] = v
        return point


def _products(a: Any, point: Any, x: Any) -> tuple[float, float]:
    """``(aᵀd, |a|ᵀ|d|)`` with d = Im point (complex) or point − x, chunk by chunk (1-D)."""
    a_d = abs_a_d = 0.0
    for lo in range(0, a.shape[0], CHUNK):
        part = slice(lo, lo + CHUNK)
        d = point[part].imag if np.iscomplexobj(point) else point[part] - x[part]
        d = d.astype(np.float64)
        a_d += float(a[part] @ d)
        abs_a_d += float(np.abs(np.nan_to_num(a[part])) @ np.abs(d))
    return a_d, abs_a_d


class Mover:
    """f at points near x, on fresh arrays; values validated, f's precision recorded.

    ``analytic`` are the gradient's leaves (see :func:`gradient_leaves`); each call returns
    f at the point rounded to the leaves' dtypes, with ``aᵀd`` and ``|a|ᵀ|d|`` for the
    displacement d that f really saw (the imaginary part for a complex point), computed before
    f is called, whatever f then does with its argument.

    Example
    -------
    >>> import numpy as np
    >>> pb = methods.prepare(lambda w: float(w @ w), np.array([3.0, 4.0]), (), "central")
    >>> v = Direction(np.random.default_rng(2), "rademacher", 2)  # (1, -1)/√2
    >>> v.point(pb, np.sqrt(2))
    array([4., 3.])
    >>> mover = Mover(pb, pb.f)
    >>> mover.analytic = gradient_leaves(pb, np.array([6.0, 8.0]), None)[0]
    >>> mover(v.point(pb, np.sqrt(2)))  # f(x + √2 v) = 16 + 9, aᵀd = 6 - 8, |a|ᵀ|d| = 6 + 8
    (25.0, -2.0, 14.0)
    """

    def __init__(self, pb: methods.Problem, f: Any) -> None:
        self.pb, self.f = pb, f
        self.analytic: list[_tree.FloatArray] = []
        """Set once f(x) has been called (f may return the gradient with its value)."""
        self.count, self.eps = 0, 0.0

    def at_x(self) -> float:
        """``f(x)``, on a fresh copy of x."""
        return self._value(self.pb.fresh_x(), complex_input=False).real

    def __call__(self, point: Any) -> tuple[complex, float, float]:
        """f at the flat point (real, or complex for the complex step), aᵀd and |a|ᵀ|d|."""
        imaginary = np.iscomplexobj(point)
        leaves, a_d, abs_a_d = [], 0.0, 0.0
        for leaf, part, a in zip(self.pb.leaves, self.pb.split(point), self.analytic,
                                 strict=True):
            ctype = np.result_type(leaf.dtype, np.complex64) if imaginary else leaf.dtype
            moved = part.astype(ctype, copy=False)
            ad, abs_ad = _products(a.reshape(-1), moved.reshape(-1), leaf.reshape(-1))
            a_d, abs_a_d = a_d + ad, abs_a_d + abs_ad
            leaves.append(moved)
        value = self._value(_tree.unflatten(self.pb.treedef, leaves), complex_input=imaginary)
        return value, a_d, abs_a_d

    def _value(self, x: Any, *, complex_input: bool) -> complex:
        """f(x), validated: a finite scalar."""
        self.count += 1
        raw = self.f(x, *self.pb.args)
        value, eps = _evaluate.scalar_value(raw, complex_input=complex_input)
        if not np.isfinite(value):
            raise ValueError(f"`f` returned {value} near x; f must be finite near x")
        self.eps = max(self.eps, eps)
        return value


def max_abs(x: npt.NDArray[np.float64]) -> float:
    """``max(1, max_k |x_k|)``, without a temporary of P elements."""
    return max(1.0, float(np.max(x)), -float(np.min(x)))
