"""The keyword options of every check, in one frozen dataclass, and their validation.

:func:`gradcheck.check_gradient` and the derivative checks (:func:`gradcheck.check_jacobian`,
:func:`gradcheck.check_vjp`, :func:`gradcheck.check_jvp`, :func:`gradcheck.check_hessian`)
take the same keyword options; each builds one :class:`CheckOptions` by keyword and the
numbers in it are checked here (the evaluation options by
:func:`gradcheck.evaluators.factory.options`, called from here). :func:`asserting` makes the
``assert_`` form of a check, taking the check's own parameters.

Example
-------
>>> options = CheckOptions(rtol=1e-6)
>>> explicit_tolerance(options.rtol, options.atol), options.allowed_spread()
((1e-06, 0.0), 0.0)
>>> number("rtol", -1.0)
Traceback (most recent call last):
...
ValueError: `rtol` is -1.0; it must be a finite number >= 0
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, Protocol

import numpy as np
import numpy.typing as npt

from gradcheck import steps, tree
from gradcheck.evaluators import factory

__all__ = ["CheckOptions", "asserting", "check_callable", "check_directions", "check_seed",
           "direction_matrix", "directions", "explicit_tolerance", "float_tree", "number"]

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


def float_tree(value: object, treedef: tree.TreeDef, name: str, ref: str,
               shapes: Sequence[tuple[int, ...]], paths: Sequence[str]) -> list[Any]:
    """The leaves of ``value``, checked to be float arrays with the structure and shapes of ref.

    TypeError naming ``name`` for another structure or a non-float leaf; ValueError naming
    the leaf and the expected shape.
    """
    raw = tree.flatten_like(value, treedef, name, ref)
    leaves = tree.float_leaves(raw, paths, name, strict=False)
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

    def evaluation(self) -> factory.Options:
        """The evaluation options, validated."""
        return factory.options(vectorized=self.vectorized, executor=self.executor,
                               max_batch_bytes=self.max_batch_bytes, progress=self.progress)

    def validate(self, pb: steps.Problem) -> None:
        """The numeric options checked against the problem ``pb``, before f is first called."""
        explicit_tolerance(self.rtol, self.atol)
        self.allowed_spread()
        self.evaluation()
        if self.step is not None:
            steps.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, self.step,
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


def directions(given: Any, n: Any, seed: Any, layout: tree.Layout, treedef: tree.TreeDef,
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
    return [tree.unflatten(treedef, [rng.standard_normal(shape) for shape in layout.shapes])
            for _ in range(size)], True


def direction_matrix(given: Sequence[Any], name: str, ref: str, layout: tree.Layout,
                     treedef: tree.TreeDef) -> npt.NDArray[np.float64]:
    """The directions as rows of an (n, size) float64 matrix, each like ``ref``, finite, not 0."""
    rows = []
    for j, direction in enumerate(given):
        leaves = float_tree(direction, treedef, f"{name}[{j}]", ref, layout.shapes,
                            layout.paths)
        flat = tree.concat(leaves)
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
