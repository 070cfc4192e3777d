"""The gradient check: its options, how f is evaluated, and the engine every check runs.

:func:`check_gradient` and :func:`assert_gradient` compare an analytic gradient with a
numerical one; :func:`numerical_gradient` gives the numerical one alone. Every check of the
package (these, the derivative checks of :mod:`gradcheck.jacobian` and
:mod:`gradcheck.hessian`, the partial checks of :mod:`gradcheck.partial`) takes its keyword
options as one :class:`CheckOptions`, validated here before f is first called, and
:func:`asserting` makes the ``assert_`` form of a check. A :class:`Plan` chooses the
evaluator of one call (serial, batched, parallel, with progress), and :func:`run_check` is
the engine: the problem and its steps (:mod:`gradcheck.methods`), f's noise, the estimate,
the verdict (:mod:`gradcheck.verdict`) and the report (:mod:`gradcheck.report`).

Example
-------
>>> import numpy as np
>>> options = CheckOptions(rtol=1e-6)
>>> explicit_tolerance(options.rtol, options.atol), options.allowed_spread()
((1e-06, 0.0), 0.0)
>>> number("rtol", -1.0)
Traceback (most recent call last):
...
ValueError: `rtol` is -1.0; it must be a finite number >= 0
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, Protocol

import numpy as np
import numpy.typing as npt

from gradcheck import diagnosis, methods, progress, report
from gradcheck import evaluators as _evaluate
from gradcheck import tree as _tree
from gradcheck import verdict as _verdict
from gradcheck.diagnosis._parts import resolve_hints
from gradcheck.evaluators import batched, parallel
from gradcheck.methods import Problem
from gradcheck.progress import Progress, TextProgress

__all__ = [
    "CheckOptions",
    "EvaluationOptions",
    "Plan",
    "assert_gradient",
    "asserting",
    "check_callable",
    "check_directions",
    "check_gradient",
    "check_seed",
    "direction_matrix",
    "directions",
    "evaluation_options",
    "explicit_tolerance",
    "float_tree",
    "gradient_with",
    "number",
    "numerical_gradient",
    "run_check",
]

# --- The options of every check, and their validation ------------------------------------------

P = ParamSpec("P")


def number(name: str, value: object) -> float:
    """``value`` as a finite float >= 0, or TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` is {value!r}; it must be a finite number >= 0")
    as_float = float(value)
    if not (math.isfinite(as_float) and as_float >= 0):
        raise ValueError(f"`{name}` is {value!r}; it must be a finite number >= 0")
    return as_float


def explicit_tolerance(rtol: object, atol: object) -> tuple[float, float] | None:
    """(rtol, atol) when either is given (the other then 0), else None."""
    if rtol is None and atol is None:
        return None
    return (
        0.0 if rtol is None else number("rtol", rtol),
        0.0 if atol is None else number("atol", atol),
    )


def check_seed(seed: object) -> int | None:
    """``seed`` as None or an int >= 0, or TypeError/ValueError naming it."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"`seed` is {seed!r}; it must be None or an int >= 0")
    if seed < 0:
        raise ValueError(f"`seed` is {seed!r}; it must be None or an int >= 0")
    return int(seed)


def check_callable(name: str, value: object, signature: str) -> None:
    """TypeError naming ``name`` unless ``value`` is callable (``signature``: how it is called)."""
    if not callable(value):
        raise TypeError(f"`{name}` is {type(value).__name__}; it must be a callable "
                        f"{signature}")


def float_tree(value: object, treedef: _tree.TreeDef, name: str, ref: str,
               shapes: Sequence[tuple[int, ...]], paths: Sequence[str]) -> list[Any]:
    """The leaves of ``value``, checked to be float arrays with the structure and shapes of ref.

    TypeError naming ``name`` for another structure or a non-float leaf; ValueError naming
    the leaf and the expected shape.
    """
    raw = _tree.flatten_like(value, treedef, name, ref)
    leaves = _tree.float_leaves(raw, paths, name, strict=False)
    for leaf, path, shape in zip(leaves, paths, shapes, strict=True):
        if leaf.shape != shape:
            raise ValueError(f"`{name}{path}` has shape {leaf.shape}; `{ref}{path}` has shape "
                             f"{shape}, and `{name}{path}` must have it too")
    return leaves


@dataclass(frozen=True, kw_only=True)
class CheckOptions:
    """The keyword options of the checks, as given (unvalidated until a check reads them).

    The derivative checks leave ``weight_decay``, ``n_examples``, ``hints`` and ``progress``
    unset; :func:`gradcheck.check.run_check` reads the first nine fields only.
    """

    args: Any = ()
    method: Any = "central"
    step: Any = None
    rtol: Any = None
    atol: Any = None
    nondet_tol: Any = None
    weight_decay: Any = None
    n_examples: Any = None
    hints: Any = None
    vectorized: Any = False
    executor: Any = None
    max_batch_bytes: Any = None
    progress: Any = None

    def allowed_spread(self) -> float:
        """``nondet_tol`` as a number (0 when not given)."""
        return 0.0 if self.nondet_tol is None else number("nondet_tol", self.nondet_tol)

    def evaluation(self) -> EvaluationOptions:
        """The evaluation options, validated."""
        return evaluation_options(vectorized=self.vectorized, executor=self.executor,
                               max_batch_bytes=self.max_batch_bytes, progress=self.progress)

    def validate(self, pb: methods.Problem) -> None:
        """The numeric options checked against the problem ``pb``, before f is first called."""
        explicit_tolerance(self.rtol, self.atol)
        self.allowed_spread()
        self.evaluation()
        if self.step is not None:
            methods.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, self.step,
                                eps_floor=0.0)


class _Result(Protocol):
    @property
    def passed(self) -> bool: ...


def asserting(
    check: Callable[P, _Result], mismatch: Callable[[Any], Exception], doc: str
) -> Callable[P, None]:
    """The ``assert_`` form of ``check``: its parameters, raising ``mismatch(result)`` on failure.

    The function is named after the check (``check_x`` → ``assert_x``), lives in its module
    and shows its signature, so ``help``, tracebacks and doctest see it as written there.
    """

    def assert_(*args: P.args, **kwargs: P.kwargs) -> None:
        __tracebackhide__ = True  # pytest: the report follows the caller's lines, not these
        result = check(*args, **kwargs)
        if not result.passed:
            raise mismatch(result)

    name = "assert_" + check.__name__.removeprefix("check_")
    assert_.__name__ = assert_.__qualname__ = name
    # tracebacks name the frame by its code: assert_jacobian, not assert_
    assert_.__code__ = assert_.__code__.replace(co_name=name)
    assert_.__module__, assert_.__doc__ = check.__module__, doc
    assert_.__signature__ = inspect.signature(  # type: ignore[attr-defined]
        check).replace(return_annotation="None")
    return assert_


def check_directions(given: object, n: object, seed: object, name: str, count_name: str,
                     ref: str) -> None:
    """Before f is first called: ``given`` a non-empty list, or ``n`` and ``seed`` valid."""
    if given is None:
        count(count_name, n)
        check_seed(seed)
    elif not isinstance(given, (list, tuple)) or not given:
        raise TypeError(f"`{name}` is {type(given).__name__}; it must be a non-empty list of "
                        f"pytrees, each with the structure and shapes of `{ref}`")


def directions(given: Any, n: Any, seed: Any, layout: _tree.Layout, treedef: _tree.TreeDef,
               names: tuple[str, str, str]) -> tuple[list[Any], bool]:
    """The directions (pytrees like ``ref``): the given ones, or ``n`` drawn; drawn or not.

    ``names`` is (the directions' argument, its count's, ``ref``): ``("tangents",
    "n_tangents", "x")``. Drawn ones are standard normal, from ``default_rng(seed)``.
    """
    name, count_name, ref = names
    check_directions(given, n, seed, name, count_name, ref)
    if given is not None:
        return list(given), False
    size = count(count_name, n)
    rng = np.random.default_rng(check_seed(seed))
    return [_tree.unflatten(treedef, [rng.standard_normal(shape) for shape in layout.shapes])
            for _ in range(size)], True


def direction_matrix(given: Sequence[Any], name: str, ref: str, layout: _tree.Layout,
                     treedef: _tree.TreeDef) -> npt.NDArray[np.float64]:
    """The directions as rows of an (n, size) float64 matrix, each like ``ref``, finite, not 0."""
    rows = []
    for j, direction in enumerate(given):
        leaves = float_tree(direction, treedef, f"{name}[{j}]", ref, layout.shapes,
                            layout.paths)
        flat = _tree.concat(leaves)
        if not np.isfinite(flat).all() or not flat.any():
            # a zero direction makes both sides zero: any product linear in it would pass
            raise ValueError(f"`{name}[{j}]` must be finite and not all zero")
        rows.append(flat)
    return np.array(rows)


def generator(rng: object) -> np.random.Generator:
    """A Generator from ``rng``: None (seed 0: reproducible by default), a seed or one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0:
        raise TypeError(f"`rng` is {rng!r}; it must be None, an int seed >= 0 or a Generator")
    return np.random.default_rng(int(rng))


def count(name: str, value: object) -> int:
    """``value`` as an int >= 1, or TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` is {value!r}; it must be an int >= 1")
    if value < 1:
        raise ValueError(f"`{name}` is {value!r}; it must be an int >= 1")
    return int(value)


# --- How f is evaluated: the evaluation options and the evaluators they choose ----------------
#
# ``vectorized``, ``executor``, ``max_batch_bytes`` and ``progress`` decide how f is evaluated,
# never what is computed: `evaluation_options` validates them, and a `Plan` turns them into the
# evaluator factory of one call of check_gradient or numerical_gradient:
#
#   vectorized, executor   evaluator            f is called
#   False, None            f's own or serial    once per point, in this thread
#   True, None             batched              once per block of points, in this thread
#   False, an executor     parallel (serial)    once per point, in tasks
#   True, an executor      parallel (batched)   once per block of points, in tasks
#
# With ``progress`` the evaluator is wrapped in gradcheck.progress.Tracked.

CONFIRMATION_CALLS = 6
"""Evaluations of f per element the checker looks at again (Richardson; gradcheck.verdict)."""


@dataclass(frozen=True)
class EvaluationOptions:
    """Validated evaluation options (see :func:`evaluation_options`)."""

    vectorized: bool = False
    executor: Any = None
    max_batch_bytes: int = batched.DEFAULT_MAX_BATCH_BYTES
    progress: Progress | None = None


def evaluation_options(
    *,
    vectorized: object = False,
    executor: object = None,
    max_batch_bytes: object = None,
    progress: object = None,
) -> EvaluationOptions:
    """The evaluation options, or TypeError/ValueError naming the bad one."""
    if not isinstance(vectorized, (bool, np.bool_)):
        raise TypeError(f"`vectorized` is {vectorized!r}; it must be True or False")
    if executor is not None:
        parallel.check_executor(executor)
    return EvaluationOptions(
        vectorized=bool(vectorized), executor=executor,
        max_batch_bytes=_batch_bytes(max_batch_bytes, bool(vectorized)),
        progress=_progress_callback(progress),
    )


def _progress_callback(progress: object) -> Progress | None:
    """``progress`` as a callback: True is a text bar on stderr, False and None are none."""
    if progress is None or progress is False:
        return None
    if progress is True:
        return TextProgress("gradcheck")
    if not callable(progress):
        raise TypeError(
            f"`progress` is {progress!r}; it must be True (a bar on stderr), False, None or a "
            "callable progress(done, total)"
        )
    callback: Progress = progress
    return callback


def _batch_bytes(value: object, vectorized: bool) -> int:
    """``max_batch_bytes`` as a positive int (the default for None)."""
    if value is None:
        return batched.DEFAULT_MAX_BATCH_BYTES
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`max_batch_bytes` is {value!r}; it must be a positive integer")
    if value <= 0:
        raise ValueError(f"`max_batch_bytes` is {value!r}; it must be a positive integer")
    if not vectorized:
        raise ValueError(
            f"`max_batch_bytes` is {value!r} but `vectorized` is False; it bounds the batches "
            "handed to a vectorized f, so pass vectorized=True or leave it out"
        )
    return int(value)


_REPORTING = (_evaluate.SerialEvaluator, batched.BatchedEvaluator, parallel.ParallelEvaluator)
"""The evaluators that report their own blocks of evaluations to the progress tracker."""


class Plan:
    """The evaluators of one public call of the checker: their factory and their progress.

    ``calls_at_x`` is the number of evaluations at x the caller makes besides the method's
    estimate (2 for check_gradient, 1 for forward differences in numerical_gradient).

    Example
    -------
    >>> seen = []
    >>> plan = Plan(np.sum, evaluation_options(progress=lambda d, t: seen.append((d, t))),
    ...             "central", 0)
    >>> ev = plan.factory(np.sum, [np.ones(3)], _tree.flatten(np.ones(3))[2], ())
    >>> _ = ev.along(np.arange(3), np.full(3, 0.5)); plan.finish()
    >>> seen
    [(1, 6), (2, 6), (3, 6), (3, 3)]
    """

    def __init__(self, f: _evaluate.ScalarFunction, opts: EvaluationOptions, method: object,
                 calls_at_x: int) -> None:
        self._f = f
        self._opts = opts
        self._method = method
        self._calls_at_x = calls_at_x
        self._tracker: progress.Tracker | None = None
        if opts.progress is not None:
            # The confirmation's first request carries both sides of its finest level, 2 of
            # its 6 calls per element: the rest is twice that request again.
            self._tracker = progress.Tracker(opts.progress, growth=CONFIRMATION_CALLS // 2)

    def factory(
        self,
        g: _evaluate.ScalarFunction,
        leaves: Sequence[_tree.FloatArray],
        treedef: _tree.TreeDef,
        args: tuple[Any, ...],
    ) -> _evaluate.Evaluator:
        """The evaluator of ``g`` (f, or f wrapped by the checker) at the given x."""
        tracker = self._tracker
        if tracker is None:
            return self._evaluator(g, leaves, treedef, args, None)
        if tracker.total == 0:
            per = methods.METHODS[methods.check_method(self._method)].calls
            tracker.total = self._calls_at_x + per * sum(int(leaf.size) for leaf in leaves)
        inner = self._evaluator(g, leaves, treedef, args, tracker.advance)
        own = not isinstance(inner, _REPORTING)
        return progress.Tracked(inner, tracker, split=own)

    def finish(self) -> None:
        """Tell ``progress`` the final count, with ``done == total``."""
        if self._tracker is not None:
            self._tracker.finish()

    def _evaluator(
        self,
        g: _evaluate.ScalarFunction,
        leaves: Sequence[_tree.FloatArray],
        treedef: _tree.TreeDef,
        args: tuple[Any, ...],
        report: _evaluate.Report | None,
    ) -> _evaluate.Evaluator:
        """The evaluator the options choose (see the module's table)."""
        opts = self._opts
        make: parallel.InnerFactory = _evaluate.SerialEvaluator
        if opts.vectorized:
            make = functools.partial(
                batched.BatchedEvaluator, max_batch_bytes=opts.max_batch_bytes
            )
        if opts.executor is not None:
            return parallel.ParallelEvaluator(
                g, leaves, treedef, args, executor=opts.executor, make=make, report=report
            )
        if opts.vectorized:
            return make(g, leaves, treedef, args, report=report)
        own = _evaluate.factory_for(self._f)
        if own is _evaluate.SerialEvaluator:
            return _evaluate.SerialEvaluator(g, leaves, treedef, args, report=report)
        return own(g, leaves, treedef, args)


# --- The gradient check ------------------------------------------------------------------------

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
    leaves, _ = methods.gradient_leaves(pb, grad, pair)
    eps = np.repeat(
        [float(np.finfo(leaf.dtype).eps) for leaf in leaves], np.diff(pb.layout.offsets)
    )
    return _tree.concat(leaves), methods.compact(eps)


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
    executor: parallel.SupportsSubmit | None = None,
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
    :func:`gradcheck.verdict.measure_own_noise`), then is re-estimated alone by Richardson
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
    probe = methods.PROBE_CALLS if rtol is None and atol is None else 0
    plan = Plan(f, evaluation, method, calls_at_x=2 + probe)
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
    pb = methods.prepare(f, x, options.args, options.method, make_evaluator)
    hints = _hints(options, pb)  # checked before f is first called
    explicit = explicit_tolerance(options.rtol, options.atol)
    nondet_tol = options.nondet_tol
    allowed = 0.0 if nondet_tol is None else number("nondet_tol", nondet_tol)
    step = options.step
    if step is not None:
        methods.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, step, eps_floor=0.0)
    pair = _PairValue(pb.f) if grad is None else None
    ev = pb.evaluator(pair)
    function: _evaluate.ScalarFunction = pb.f if pair is None else pair
    f0, again = methods.value_at_x(ev), methods.value_at_x(ev)
    analytic, eps_a = _analytic(pb, grad, pair)
    if abs(f0 - again) > allowed:
        return _nondeterministic(pb, analytic, abs(f0 - again), allowed, ev, start)
    noise = methods.noise_for(pb, ev.result_eps, allowed)
    noise = dataclasses.replace(noise, eps=methods.compact(noise.eps))  # one dtype: no (P,)
    h = methods.resolve_steps(
        pb.method, pb.leaves, pb.layout, pb.treedef, step, eps_floor=ev.result_eps
    )

    def confirmation() -> Float64Array:
        # the confirmation's steps, made again where it starts: not held before
        nominal = methods.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, step,
                                      eps_floor=ev.result_eps)
        return methods.confirmation_steps(pb.method, nominal, pb.leaves, eps_floor=ev.result_eps)

    probe_calls, premise = 0, None
    if explicit is None:  # f's noise, measured out to the farthest point the check uses
        reach = np.maximum(confirmation(), 0.0 if pb.method == "complex" else h)
        sigma, probe_calls = methods.probe_noise(pb, function, f0, noise.eps, reach)
        noise = dataclasses.replace(noise, probed=float(sigma))  # its ε computed once
        del reach  # (P,) arrays the verdict does not read: freed before its peak
    est, outside, why = _verdict.domain_estimate(ev, pb, noise, h, f0)
    del h  # the estimate keeps the representable steps
    check_premise = methods.METHODS[pb.method].premise
    if check_premise is not None and explicit is None and pb.layout.size:
        # a method refuses an f it cannot check (the complex step: see gradcheck.methods)
        calls_, premise = check_premise(pb, function, f0, est, noise)
        probe_calls += calls_
    if explicit is not None:
        verdict = _verdict.explicit(est, analytic, *explicit)
        rule = f"rtol={explicit[0]:g}, atol={explicit[1]:g}"
    else:
        eps_a = methods.compact(np.maximum(eps_a, noise.eps))
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


def _hints(options: CheckOptions, pb: Problem) -> diagnosis.Hints | None:
    """The caller's hints for the diagnosis, checked; None when none were given."""
    if options.hints is None and options.weight_decay is None and options.n_examples is None:
        return None  # nothing to check: a passing check never enters the diagnosis
    return resolve_hints(options.hints, pb.layout.paths, weight_decay=options.weight_decay,
                         n_examples=options.n_examples)


def _diagnosis(
    pb: Problem, analytic: Float64Array, verdict: _verdict.Verdict, hints: diagnosis.Hints | None
) -> tuple[diagnosis.Finding, ...]:
    """The findings that explain the mismatches, when there are any (see gradcheck.diagnosis)."""
    if not np.any(verdict.status == report.MISMATCH):
        return ()
    split = pb.layout.split
    # an element outside f's domain has no estimate (NaN): it explains no mismatch
    numeric = np.where(np.isnan(verdict.numeric), analytic, verdict.numeric)
    return diagnosis.diagnose(
        pb.layout.paths, split(analytic), split(numeric), split(verdict.tolerance),
        pb.leaves, hints=diagnosis.Hints() if hints is None else hints,
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


# --- The numerical gradient alone --------------------------------------------------------------

def numerical_gradient(
    f: _evaluate.ScalarFunction,
    x: Any,
    *,
    args: tuple[Any, ...] = (),
    method: str = "central",
    step: Any = None,
    vectorized: bool = False,
    executor: parallel.SupportsSubmit | None = None,
    max_batch_bytes: int | None = None,
    progress: Callable[[int, int], None] | bool | None = None,
) -> Any:
    """Estimate the gradient of a scalar function by finite differences or the complex step.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returns a real scalar (Python or numpy float, or a 0-d array).
    x : ndarray or pytree of ndarrays
        The point: one float32/float64 array of any shape, or a dict, list, tuple or
        NamedTuple of them, nested to any depth. Must be finite. Never changed.
    args : tuple, optional
        Extra positional arguments passed to ``f``.
    method : {"central", "forward", "complex", "richardson"}, optional
        The estimator (see Notes).
    step : float or pytree of arrays, optional
        Absolute step: one positive number for every coordinate, or positive arrays with the
        structure and shapes of ``x``. ``None`` chooses the method's default,
        ``relative_step · max(1, |x_k|)`` (see :func:`gradcheck.methods.default_steps`).
    vectorized : bool, optional
        f accepts a batch of points: every leaf of x with a leading batch axis of length B,
        returning an array of shape (B,), one value per row (see Notes). Default False.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Evaluate chunks of points as parallel tasks on it (see Notes). Default: this thread.
    max_batch_bytes : int, optional
        With ``vectorized=True``, the most bytes of input in one batch handed to f; default
        256 KiB, cache-sized (complex input counts twice).
    progress : bool or callable, optional
        True: a progress bar on stderr for a check that takes more than a second, on a
        terminal only (:class:`gradcheck.progress.TextProgress`). A callable:
        ``progress(done, total)``, called as blocks of evaluations of f complete.

    Returns
    -------
    gradient : ndarray or pytree of ndarrays
        ∂f/∂x with the structure, shapes and dtypes of ``x``.

    Raises
    ------
    TypeError
        ``f`` not callable, ``args`` not a tuple, a leaf of ``x`` not a float32/float64
        array, ``f`` not returning a real scalar (with ``vectorized=True``: an array of shape
        (B,)), ``f`` not accepting complex input for ``method="complex"``, ``vectorized`` not
        a bool, ``executor`` without ``submit``, or ``progress`` not callable.
    ValueError
        Unknown ``method``, bad ``step``, NaN or inf in ``x``, ``f`` not finite at or near x,
        or ``max_batch_bytes`` not positive (or given without ``vectorized=True``).

    Notes
    -----
    With P coordinates, h the step and ε the machine epsilon:

    * forward: ``(f(x + h e_k) - f(x)) / h``; error O(h) + O(ε/h); P + 1 calls of f.
    * central: ``(f(x + h e_k) - f(x - h e_k)) / 2h``; error O(h²) + O(ε/h); 2P calls.
    * complex: ``Im f(x + i h e_k) / h``; no subtractive cancellation, so the error is
      O(h²) + O(ε) with ``h = 1e-20``; P calls. Valid only when f accepts complex input and is
      analytic in x: ``abs``, ``np.real``, comparisons, ``max``/``min`` and ``float()`` casts
      break it (a TypeError says so when they are detected).
    * richardson: central differences at h, h/2 and h/4 extrapolated twice; error O(h⁶) +
      O(ε/h); 6P calls.

    Steps are recomputed as the representable ``(x_k + h) - x_k`` in the leaf's dtype.

    The evaluation options change how f is called, not the steps, the formulas or the result:

    * ``vectorized=True``: f is called once per block of B points, as ``f(xb, *args)`` where
      ``xb`` has the structure of x and each leaf of shape ``s`` arrives with shape ``(B, *s)``,
      row j holding x with one element moved; f returns an array of shape (B,) (real, or complex
      for ``method="complex"``). B is the number of rows that fit in ``max_batch_bytes`` (at
      least 1), so memory is bounded by about ``max_batch_bytes`` plus what f allocates per
      block; the default keeps a block and f's temporaries in the CPU cache, raise it for an f
      with a high cost per call. f(x) is evaluated as a batch of one row. f may write into its
      argument (the next block is filled afresh) but must not keep it from one call to the next.
      Values agree with the serial path up to the rounding of f's own batched arithmetic.
      Batching saves the cost of a call of f per point, not f's arithmetic: it pays most for
      small P and cheap f.
    * ``executor``: any object with ``submit(fn, *args) -> future`` and ``future.result()``: a
      ``ThreadPoolExecutor``, a ``ProcessPoolExecutor`` or a ``dask.distributed.Client``. Each
      request of the estimator (up to P points: x moved by +h along every coordinate, say) is
      split into at most 32 tasks of consecutive points (with ``vectorized=True``, no more
      tasks than blocks); a task receives x, f and args and evaluates its points on its own copies,
      serially or, with ``vectorized=True``, in blocks. Values are gathered in order, so the
      result is bit-identical to the serial path. For a process pool or a Dask cluster, f, args
      and the leaves are pickled once per task: f must be picklable (a module-level function or
      a picklable callable object, not a lambda or closure) and importable on the workers.
      Threads help when f releases the GIL (large numpy operations). f(x) is evaluated in the
      calling thread. An exception raised in a task propagates with its type; tasks not yet
      gathered are cancelled. A function's own ``gradcheck_evaluator`` is not used when
      ``vectorized`` or ``executor`` is given.
    * ``progress(done, total)``: ``done`` and ``total`` count evaluations of f (points). It
      is called after each block completes (each call of f on the serial path, each batch,
      each task) and a last time with ``done == total``. ``total`` is the plan, P + 1, 2P, P
      or 6P (forward, central, complex, richardson). Exceptions from it propagate.

    ``n_evaluations`` (in a check's result) counts points in every case, not calls of f.

    Examples
    --------
    >>> import numpy as np
    >>> g = numerical_gradient(lambda p: float(np.sum(p["w"] ** 3)), {"w": np.array([1.0, 2.0])})
    >>> np.round(g["w"], 6)
    array([ 3., 12.])
    >>> batch = lambda p: np.sum(p["w"] ** 3, axis=1)  # p["w"] arrives with shape (B, 2)
    >>> g = numerical_gradient(batch, {"w": np.array([1.0, 2.0])}, vectorized=True)
    >>> np.round(g["w"], 6)
    array([ 3., 12.])
    """
    plan = Plan(
        f,
        evaluation_options(vectorized=vectorized, executor=executor,
                           max_batch_bytes=max_batch_bytes, progress=progress),
        method,
        calls_at_x=1 if method == "forward" else 0,
    )
    gradient = gradient_with(plan.factory, f, x, args=args, method=method, step=step)
    plan.finish()
    return gradient


def gradient_with(
    make_evaluator: _evaluate.EvaluatorFactory,
    f: _evaluate.ScalarFunction,
    x: Any,
    *,
    args: tuple[Any, ...] = (),
    method: str = "central",
    step: Any = None,
) -> Any:
    """:func:`numerical_gradient` evaluating f through evaluators made by ``make_evaluator``."""
    pb = methods.prepare(f, x, args, method, make_evaluator)
    ev = pb.evaluator()
    h = methods.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, step, eps_floor=0.0)
    parts = pb.split(methods.derivative(ev, pb, h, methods.all_coordinates(pb)))
    return _tree.unflatten(
        pb.treedef, [part.astype(leaf.dtype) for part, leaf in zip(parts, pb.leaves, strict=True)]
    )
