"""check_gradient and assert_gradient: compare an analytic gradient with a numerical one."""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import diagnosis, methods, report, steps
from gradcheck import evaluators as _evaluate
from gradcheck import tree as _tree
from gradcheck import verdict as _verdict
from gradcheck.diagnosis._parts import resolve_hints
from gradcheck.evaluators import factory as _evaluation
from gradcheck.evaluators import parallel as _parallel
from gradcheck.options import CheckOptions, asserting, explicit_tolerance, number
from gradcheck.steps import Problem

__all__ = ["CheckOptions", "assert_gradient", "check_gradient", "run_check"]

Float64Array = npt.NDArray[np.float64]


class _PairValue:
    """``f`` returning ``(value, gradient)`` seen as a scalar function of x.

    Keeps a deep copy of the gradient returned by the first call (the call at x).
    """

    def __init__(self, f: _evaluate.ScalarFunction) -> None:
        self._f = f
        self.gradient: Any = None
        self.seen = False

    def __call__(self, x: Any, *args: Any) -> Any:
        out = self._f(x, *args)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(
                f"`f` returned {_evaluate.describe_value(out)}; with grad=None, f must return "
                "(value, gradient); pass `grad` (a callable or the gradient) when f returns "
                "only the value"
            )
        if not self.seen:
            self.gradient, self.seen = copy.deepcopy(out[1]), True
        return out[0]


def _analytic(pb: Problem, grad: object, pair: _PairValue | None) -> tuple[Float64Array, Any]:
    """The analytic gradient as a flat (P,) float64 array, and its per-coordinate epsilon."""
    leaves, _ = steps.gradient_leaves(pb, grad, pair)
    eps = np.repeat(
        [float(np.finfo(leaf.dtype).eps) for leaf in leaves], np.diff(pb.layout.offsets)
    )
    return _tree.concat(leaves), steps.compact(eps)


def _result(
    pb: Problem, analytic: Float64Array, verdict: _verdict.Verdict, **extra: Any
) -> report.GradientCheckResult:
    """The GradientCheckResult of a finished comparison."""
    return report.build_result(
        paths=pb.layout.paths,
        shapes=pb.layout.shapes,
        analytic=analytic,
        numeric=verdict.numeric,
        tolerance=verdict.tolerance,
        status=verdict.status,
        method=pb.method,
        **extra,
    )


def check_gradient(
    f: _evaluate.ScalarFunction,
    x: Any,
    grad: Any = None,
    *,
    args: tuple[Any, ...] = (),
    method: str = "central",
    step: Any = None,
    rtol: float | None = None,
    atol: float | None = None,
    nondet_tol: float | None = None,
    weight_decay: float | None = None,
    n_examples: int | None = None,
    hints: diagnosis.Hints | Mapping[str, Any] | None = None,
    vectorized: bool = False,
    executor: _parallel.SupportsSubmit | None = None,
    max_batch_bytes: int | None = None,
    progress: Callable[[int, int], None] | bool | None = None,
) -> report.GradientCheckResult:
    """Compare an analytic gradient with a numerical estimate, element by element.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returns a real scalar; with ``grad=None`` it returns
        ``(value, gradient)``, the gradient with the structure of ``x``.
    x : ndarray or pytree of ndarrays
        The point: a float32/float64 array, or a dict, list, tuple or NamedTuple of them,
        nested. Must be finite. Never changed, whatever f does or raises.
    grad : None, callable or pytree of ndarrays, optional
        The analytic gradient: ``None`` (f returns it), a callable ``grad(x, *args)``, or
        the gradient itself; float arrays with the structure and shapes of ``x``. A NaN in it
        is a mismatching element, not an error.
    args : tuple, optional
        Extra positional arguments for ``f`` (and ``grad``).
    method : {"central", "forward", "complex", "richardson"}, optional
        The numerical estimator (see :func:`gradcheck.numerical_gradient`).
    step : float or pytree of arrays, optional
        Absolute step(s); ``None`` chooses the method's default.
    rtol, atol : float, optional
        Replace the error-model tolerance: element k passes iff
        ``|a_k - n_k| <= atol + rtol |n_k|`` (a missing one counts as 0).
    nondet_tol : float, optional
        The spread tolerated between two calls of f at the same x (default 0). It also
        enters the error model as an uncertainty of every value of f.
    weight_decay, n_examples : float and int, optional
        λ and m of the cost, when it has an L2 weight decay: used only to name the decay
        findings of the diagnosis (``c = -λ`` is "decay missing", ``c = λ/m - λ`` "the other
        convention"); without them a multiple of the parameters is reported with its fitted c.
    hints : gradcheck.Hints or mapping of its fields, optional
        The caller's words for the leaves of x, used only by the diagnosis: which are weights
        and biases, their layers, the loss, λ and m (see :class:`gradcheck.Hints`; e.g.
        ``backprop_ref.diagnosis_hints(mlp, m)``). Without them findings name leaves and fitted
        numbers only, never a weight, bias or layer guessed from a name or a shape.
    vectorized : bool, optional
        f accepts a batch of points (a leading batch axis on every leaf of x) and returns an
        array of one value per row; needs ``grad`` given (not None). Default False.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Evaluate chunks of points as parallel tasks on it. Default: this thread.
    max_batch_bytes : int, optional
        With ``vectorized=True``, the most bytes of input per batch; default 256 KiB.
    progress : bool or callable, optional
        True: a progress bar on stderr for a check that takes more than a second, on a
        terminal only (:class:`gradcheck.progress.TextProgress`). A callable:
        ``progress(done, total)``, called as blocks of evaluations of f complete.

    Returns
    -------
    GradientCheckResult
        ``passed``, the errors, per-parameter summary and per-element arrays; see
        :class:`gradcheck.GradientCheckResult`.

    Raises
    ------
    TypeError
        Bad types of ``f``, ``x``, ``grad``, ``args``, ``rtol``/``atol``/``nondet_tol``,
        ``weight_decay``/``n_examples``/``hints`` (all checked before f is first called), ``f``
        not returning a real scalar (or a pair with ``grad=None``), or not accepting complex
        input for ``method="complex"``.
    ValueError
        Unknown method, bad step, NaN/inf in ``x``, a gradient shaped unlike ``x``, negative
        tolerances, λ < 0, m < 1, ``hints`` naming a leaf x does not have, ``f`` not finite
        at or near x, ``vectorized=True`` with ``grad=None``, or a bad ``max_batch_bytes``.
        The evaluation options raise the errors listed in :func:`gradcheck.numerical_gradient`.

    Notes
    -----
    Element k passes when ``|a_k - n_k| <= tol_k`` with, by default,
    ``tol_k = 10 (e_k + 10 ε_a (max(|a_k|, |n_k|) + F_k / m_k))``: ``e_k`` the estimator's own
    error estimate (rounding ``~ u / h`` plus truncation from the method's order, see
    :mod:`gradcheck.methods`), ``ε_a`` the epsilon of the analytic gradient (or of x and
    f when coarser), ``F_k`` the largest ``|f|`` seen and ``m_k = max(1, |x_k|)``. The
    uncertainty of one value of f is ``u = max(ε F, σ_f)``, with ``σ_f`` f's rounding noise
    measured from fourth differences of f at ``c ± δ v``, ``c ± 2 δ v`` (``δ ≈ 1e3 ε
    max(1, |x|)``, v seeded random ±1 directions) around ``c = x`` and around two points as
    far from x as the check goes (14 calls): it sees the cancellation inside f that
    ``ε |f|`` misses (a cost near zero). An element that fails, or looks non-smooth, first
    has the noise of its own evaluations measured (its difference repeated at x ± r, r tiny,
    and at x + s ± r with the step moved by a few hundred ulps: 12 calls, see
    :func:`gradcheck.steps.measure_own_noise`), then is re-estimated alone by Richardson
    extrapolation at the scale of the method's own step (6 more calls of f per element);
    where its one-sided gaps grow as its step shrinks (f noisier there than the probe found),
    that noise is taken from them. It passes if the analytic value agrees with that
    confirmation and either the first estimate, its truncation measured (forward
    differences: f″ from the confirmation), accepts it too, or the confirmation shows the
    first estimate was off; an element the confirmation cannot settle is unresolved (see
    :mod:`gradcheck.verdict`). A passing element whose tolerance exceeds its own magnitude
    and the gradient's is *unresolved* too: the check does not pass, and the report says why
    and which method would resolve it; a pass states its ``resolution``, the largest
    tolerance, the smallest error it would have caught anywhere. A step that meets NaN,
    inf or a domain error from f is shrunk before anything is reported; where f still fails
    at the largest shrink, that element is not verifiable and the diagnosis names the point
    and f's error (see :mod:`gradcheck.verdict`).
    Elements where f is not smooth within the step (the confirmation's central differences
    do not converge at order 2, or its one-sided differences at order 1, e.g. at a kink of
    f or of f′) are reported as not verifiable and do not fail the check, unless the
    analytic value lies outside the one-sided derivatives by more than their spread. f is
    first called twice at x; if the two values differ by more than ``nondet_tol`` the result
    fails as *nondeterministic* and no gradient is compared. With ``rtol``/``atol`` there is no
    noise probe, no confirmation and no kink classification.
    When elements mismatch, ``result.diagnosis`` names the mistakes that explain them down to
    the numerical noise (a constant factor, a missing weight decay, a transposed leaf, ...;
    see :func:`gradcheck.diagnosis.diagnose`), and nothing when no pattern does.
    Cost: 2 calls, 14 for the noise probe, the method's cost (forward P, central 2P,
    complex P, richardson 6P), and 18 per failing or suspicious element (complex step: 6
    for the confirmation and 12 more per failing element, which measure the noise of its
    values the same way).

    ``vectorized``, ``executor``, ``max_batch_bytes`` and ``progress`` work as in
    :func:`gradcheck.numerical_gradient` (see its Notes: what a vectorized f must accept and
    return, memory, pickling f for process pools and Dask) and never change the verdict: the
    numbers compared are those of the serial path (bit-identical with an executor alone).
    ``progress`` counts the plan above as ``total``, 2 + the method's cost; when failing or
    suspicious elements are confirmed, ``total`` grows by their 6 evaluations each as the
    confirmation starts. A result that stops early (nondeterministic f) ends with
    ``done == total`` all the same.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda p: float(np.sum(np.sin(p["w"])))
    >>> x = {"w": np.array([0.1, 0.2, 0.3])}
    >>> check_gradient(f, x, lambda p: {"w": np.cos(p["w"])}).passed
    True
    >>> result = check_gradient(f, x, {"w": np.cos(x["w"]) * np.array([1.0, 1.0001, 1.0])})
    >>> result.passed, result.worst.name
    (False, "x['w'][1]")
    """
    options = CheckOptions(args=args, method=method, step=step, rtol=rtol, atol=atol,
                           nondet_tol=nondet_tol, weight_decay=weight_decay,
                           n_examples=n_examples, hints=hints, vectorized=vectorized,
                           executor=executor, max_batch_bytes=max_batch_bytes,
                           progress=progress)
    evaluation = options.evaluation()
    if evaluation.vectorized and grad is None:
        raise ValueError(
            "`grad` is None (f returns (value, gradient)) but `vectorized` is True; a "
            "vectorized f returns one value per row, so pass the gradient or a callable `grad`"
        )
    probe = steps.PROBE_CALLS if rtol is None and atol is None else 0
    plan = _evaluation.Plan(f, evaluation, method, calls_at_x=2 + probe)
    try:
        return run_check(f, x, grad, options, plan.factory)
    finally:  # an error of f ends the bar too, so that the traceback starts on a new line
        plan.finish()


assert_gradient = asserting(
    check_gradient, report.GradientMismatch,
    """Raise :class:`GradientMismatch` unless :func:`check_gradient` passes.

    Takes the arguments of :func:`check_gradient`; the exception's message is the report and
    its ``result`` attribute the :class:`GradientCheckResult`.

    Examples
    --------
    >>> import numpy as np
    >>> assert_gradient(lambda w: float(w @ w), np.array([1.0, -2.0]), lambda w: 2 * w)
    """,
)


def run_check(
    f: _evaluate.ScalarFunction,
    x: Any,
    grad: Any,
    options: CheckOptions,
    make_evaluator: _evaluate.EvaluatorFactory,
) -> report.GradientCheckResult:
    """:func:`check_gradient` evaluating f through evaluators made by ``make_evaluator``."""
    start = time.perf_counter()
    pb = steps.prepare(f, x, options.args, options.method, make_evaluator)
    hints = resolve_hints(options.hints, pb.layout.paths, weight_decay=options.weight_decay,
                          n_examples=options.n_examples)  # checked before f is first called
    explicit = explicit_tolerance(options.rtol, options.atol)
    nondet_tol = options.nondet_tol
    allowed = 0.0 if nondet_tol is None else number("nondet_tol", nondet_tol)
    step = options.step
    if step is not None:
        steps.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, step, eps_floor=0.0)
    pair = _PairValue(pb.f) if grad is None else None
    ev = pb.evaluator(pair)
    function: _evaluate.ScalarFunction = pb.f if pair is None else pair
    f0, again = methods.value_at_x(ev), methods.value_at_x(ev)
    analytic, eps_a = _analytic(pb, grad, pair)
    if abs(f0 - again) > allowed:
        return _nondeterministic(pb, analytic, abs(f0 - again), allowed, ev, start)
    noise = steps.noise_for(pb, ev.result_eps, allowed)
    noise = dataclasses.replace(noise, eps=steps.compact(noise.eps))  # one dtype: no (P,)
    h = steps.resolve_steps(
        pb.method, pb.leaves, pb.layout, pb.treedef, step, eps_floor=ev.result_eps
    )

    def confirmation() -> Float64Array:
        # the confirmation's steps, made again where it starts: not held before
        nominal = steps.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, step,
                                      eps_floor=ev.result_eps)
        return steps.confirmation_steps(pb.method, nominal, pb.leaves, eps_floor=ev.result_eps)

    probe_calls, premise = 0, None
    if explicit is None:  # f's noise, measured out to the farthest point the check uses
        reach = np.maximum(confirmation(), 0.0 if pb.method == "complex" else h)
        sigma, probe_calls = steps.probe_noise(pb, function, f0, noise.eps, reach)
        noise = dataclasses.replace(noise, probed=float(sigma))  # its ε computed once
        del reach  # (P,) arrays the verdict does not read: freed before its peak
    est, outside, why = _verdict.domain_estimate(ev, pb, noise, h, f0)
    del h  # the estimate keeps the representable steps
    check_premise = steps.METHODS[pb.method].premise
    if check_premise is not None and explicit is None and pb.layout.size:
        # a method refuses an f it cannot check (the complex step: see gradcheck.methods)
        calls_, premise = check_premise(pb, function, f0, est, noise)
        probe_calls += calls_
    if explicit is not None:
        verdict = _verdict.explicit(est, analytic, *explicit)
        rule = f"rtol={explicit[0]:g}, atol={explicit[1]:g}"
    else:
        eps_a = steps.compact(np.maximum(eps_a, noise.eps))
        verdict = _verdict.judge(ev, pb, noise, est, analytic, eps_a, f0=f0,
                                 confirm_step=confirmation, function=function,
                                 premise=premise,
                                 outside=outside, domain_why=why)
        outside, why = verdict.outside or (outside, why)
        rule = "error model"
    del est, eps_a, noise, premise  # (P,) arrays the result does not keep: freed
    findings = _diagnosis(pb, analytic, verdict, hints) + _verdict.domain_finding(pb, outside, why)
    seconds = time.perf_counter() - start
    calls = ev.n_evaluations + probe_calls + verdict.n_evaluations
    return _result(
        pb, analytic, verdict, n_evaluations=calls, seconds=seconds,
        tolerance_rule=rule, nondet_tol=allowed, diagnosis=findings,
        unresolved_reason=verdict.reason,
    )


def _diagnosis(
    pb: Problem, analytic: Float64Array, verdict: _verdict.Verdict, hints: diagnosis.Hints
) -> tuple[diagnosis.Finding, ...]:
    """The findings that explain the mismatches, when there are any (see gradcheck.diagnosis)."""
    if not np.any(verdict.status == report.MISMATCH):
        return ()
    split = pb.layout.split
    # an element outside f's domain has no estimate (NaN): it explains no mismatch
    numeric = np.where(np.isnan(verdict.numeric), analytic, verdict.numeric)
    return diagnosis.diagnose(
        pb.layout.paths, split(analytic), split(numeric), split(verdict.tolerance),
        pb.leaves, hints=hints,
    )


def _nondeterministic(
    pb: Problem, analytic: Float64Array, spread: float, allowed: float,
    ev: _evaluate.Evaluator, start: float,
) -> report.GradientCheckResult:
    """The failed result of an f that gave two values at the same x: nothing compared."""
    nan = np.full(pb.layout.size, np.nan)
    status = np.full(pb.layout.size, report.UNCHECKED, dtype=np.int8)
    verdict = _verdict.Verdict(nan, nan, status, 0)
    return _result(
        pb, analytic, verdict, n_evaluations=ev.n_evaluations,
        seconds=time.perf_counter() - start, nondeterministic=True, nondeterminism=spread,
        nondet_tol=allowed,
    )

