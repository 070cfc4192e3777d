"""check_hessian: second derivatives of a scalar f, as the Jacobian of its gradient.

Example
-------
>>> import numpy as np
>>> f = lambda x: float(np.sum(x**3))
>>> x = np.array([0.5, -1.0])
>>> check_hessian(f, x, np.diag(6 * x), grad=lambda x: 3 * x**2).passed
True
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import numpy as np

from gradcheck import _rows, check, evaluators, jacobian, methods, tree
from gradcheck.check import (
    CheckOptions,
    asserting,
    check_callable,
    direction_matrix,
    directions,
)
from gradcheck.derivative_report import DerivativeCheckResult, DerivativeMismatch

__all__ = ["assert_hessian", "check_hessian"]


#: Without ``grad``, the outer difference's relative step is ``ε^(1/4)`` (ε of x and f): it
#: balances a second difference's rounding ``ε F / h²`` against its truncation ``h² F⁗``. The
#: inner gradient is by Richardson extrapolation (its own step ``ε^(1/7)``): its truncation
#: (order h⁶) stays far below the outer difference's resolution, where central differences
#: leave a bias ``h² ∂³f / 6`` whose derivative (4th derivatives of f) no noise probe sees.
OUTER_POWER = 0.25
#: The rounding of one value of f, in units of ``ε |f(x)|`` (a few operations' worth).
F_ROUNDING_ULPS = 4.0


class _Nested(NamedTuple):
    """The steps of the nested differences without ``grad`` and the inner gradient's error."""

    inner: Any
    """The inner gradient's steps, a pytree like x, fixed at x."""
    outer: Any
    """The outer difference's steps, a pytree like x."""
    outer_relative: float
    """The outer relative step (the step in s of a Hessian-vector product)."""
    error: _rows.InnerError


class _NumericalGradient:
    """The gradient of f by Richardson extrapolation at fixed steps, a function of x."""

    def __init__(self, f: Any, step: Any, size: int) -> None:
        self._f = f
        self._step = step
        self.calls_per_gradient = 6 * size

    def __call__(self, x: Any, *args: Any) -> Any:
        return check.numerical_gradient(self._f, x, args=args, method="richardson",
                                        step=self._step)


def _nested(pb: Any, f_size: float, f_eps: float, method: str) -> _Nested:
    """The steps of the nested differences and the inner gradient's error bound."""
    eps = max(f_eps, float(pb.layout.eps().max()))
    scale = np.maximum(1.0, np.abs(pb.x_flat))
    relative = methods.relative_step("richardson", eps)
    h = methods.shifted_steps(pb.x_flat, pb.layout, relative * scale)
    rounding = F_ROUNDING_ULPS * eps * max(f_size, 1e-300)
    error = _rows.InnerError(bound=_rows.OUTER_GAIN["richardson"] * rounding / h, method=method)

    def as_tree(flat: Any) -> Any:
        return tree.unflatten(pb.treedef, [a.astype(np.float64) for a in pb.layout.split(flat)])

    outer = eps**OUTER_POWER
    return _Nested(inner=as_tree(h), outer=as_tree(outer * scale), outer_relative=outer,
                   error=error)


def _scalar_f(f: Any, x: Any, options: CheckOptions) -> tuple[float, float]:
    """f(x) and the epsilon of its precision; TypeError unless it is a real scalar."""
    pb = _rows.Start.validate(f, x, options)
    value = f(pb.fresh_x(), *pb.args)
    try:
        number, eps = evaluators.scalar_value(value, complex_input=False)
    except TypeError as exc:
        raise TypeError(f"check_hessian needs a scalar f: {exc}") from None
    return abs(number), eps


def check_hessian(
    f: Any,
    x: Any,
    hessian: Any,
    *,
    grad: Any = None,
    hvp: bool = False,
    tangents: list[Any] | None = None,
    n_tangents: int = 2,
    seed: int | None = 0,
    args: tuple[Any, ...] = (),
    method: str = "central",
    step: Any = None,
    rtol: float | None = None,
    atol: float | None = None,
    nondet_tol: float | None = None,
    executor: Any = None,
    vectorized: bool = False,
    max_batch_bytes: int | None = None,
) -> DerivativeCheckResult:
    """Compare an analytic Hessian (or Hessian-vector product) of a scalar f with a numerical one.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returns a real scalar.
    x : ndarray or pytree of ndarrays
        The point. Never changed.
    hessian : callable or pytree of ndarrays
        ``hessian(x, *args)`` or its value: x's structure with x's structure at every leaf,
        the block of leaves ``i``, ``j`` shaped ``i.shape + j.shape`` (``jax.hessian``'s
        layout). With ``hvp=True``, a Hessian-vector product ``hessian(x, v, *args)`` shaped
        like x.
    grad : callable, optional
        ``grad(x, *args)``, the gradient of f: the Hessian is checked as its Jacobian. Default:
        the gradient of f by central differences (see Notes).
    hvp : bool, optional
        ``hessian`` is a Hessian-vector product (default False).
    tangents, n_tangents, seed
        The vectors ``v`` of a Hessian-vector product, as in :func:`gradcheck.check_jvp`.
    args, method, step, rtol, atol, nondet_tol, executor, vectorized, max_batch_bytes
        As in :func:`gradcheck.check_jacobian`, applied to the gradient.

    Returns
    -------
    DerivativeCheckResult
        Rows are the gradient's elements (``∇f(x)['W'][0, 1] wrt x['b'][2]``); its
        ``notes`` give the symmetry found.

    Raises
    ------
    TypeError
        f not returning a real scalar at x, ``grad`` not callable, and the errors of
        :func:`gradcheck.check_jacobian` (:func:`gradcheck.check_jvp` with ``hvp=True``).
    ValueError
        As :func:`gradcheck.check_jacobian` (:func:`gradcheck.check_jvp`).

    Notes
    -----
    The Hessian is the Jacobian of the gradient, checked by :func:`gradcheck.check_jacobian`'s
    verdict; its symmetry is checked too: an element whose transposed element differs by more
    than both tolerances is a mismatch. A Hessian-vector product ``H v`` is the JVP of the
    gradient along v, and pairs of tangents must agree on ``u · H v = v · H u``. Cost: with
    ``grad``, ``2P + 16`` calls of grad (2 per tangent + 16 with ``hvp=True``) and one of f.
    Without it, each of those calls is a gradient of f by Richardson extrapolation (6P calls
    of f, steps ``ε^(1/7) max(1, |x_k|)`` fixed at x), differenced with steps
    ``ε^(1/4) max(1, |x_k|)`` unless ``step`` is given; ``n_evaluations`` counts the calls of
    f. That gradient's rounding (``6.6 · 4 ε |f(x)| / h_k``) is added to each tolerance, and a
    note says the error size the check then resolves (about 3e-9 on the example below). Use
    it for small x only.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: float(np.sum(np.sin(x)) * x[0])
    >>> def hess(x):
    ...     h = np.diag(-np.sin(x) * x[0])
    ...     h[0, :] += np.cos(x)
    ...     h[:, 0] += np.cos(x)
    ...     return h
    >>> x = np.array([0.4, 1.3])
    >>> check_hessian(f, x, hess).passed, check_hessian(f, x, hess(x).T * 1.01).passed
    (True, False)
    """
    if method == "complex" and grad is None:
        raise ValueError("`method` is 'complex' but `grad` is None; the complex step needs a "
                         "gradient that accepts complex x: pass `grad`, or use 'central'")
    if vectorized and grad is None:
        raise ValueError("`vectorized` is True but `grad` is None; the central-difference "
                         "gradient of f takes one point: pass a vectorized `grad`")
    options = CheckOptions(args=args, method=method, step=step, rtol=rtol, atol=atol,
                           nondet_tol=nondet_tol, executor=executor, vectorized=vectorized,
                           max_batch_bytes=max_batch_bytes)
    if not isinstance(hvp, bool):
        raise TypeError(f"`hvp` is {hvp!r}; it must be True or False")
    if grad is not None and not callable(grad):
        raise TypeError(f"`grad` is {type(grad).__name__}; it must be None or a callable "
                        "grad(x, *args) returning the gradient of f, shaped like x")
    pb = _rows.Start.validate(f, x, options)  # everything checked before f is first called
    if hvp:
        check_callable("hessian", hessian, "hessian(x, v, *args) returning H v (hvp=True)")
        chosen, drawn = directions(tangents, n_tangents, seed, pb.layout, pb.treedef,
                                   ("tangents", "n_tangents", "x"))
        direction_matrix(chosen, "tangents", "x", pb.layout, pb.treedef)  # before f is called
    options.validate(pb)
    f_size, f_eps = _scalar_f(f, x, options)
    if grad is not None:
        if not hvp:
            return jacobian._jacobian(grad, x, hessian, options, kind="hessian", prefix="∇f(x)")
        return jacobian._jvp(grad, x, hessian, chosen, drawn, options, kind="hessian",
                        prefix="∇f(x)")
    nested = _nested(pb, f_size, f_eps, method)
    g = _NumericalGradient(f, nested.inner, pb.layout.size)
    if not hvp:
        outer = options if step is not None else dataclasses.replace(options, step=nested.outer)
        result = jacobian._jacobian(g, x, hessian, outer, kind="hessian", prefix="∇f(x)",
                                    inner=nested.error)
    else:
        outer = options if step is not None else dataclasses.replace(
            options, step=nested.outer_relative)
        result = jacobian._jvp(g, x, hessian, chosen, drawn, outer, kind="hessian", prefix="∇f(x)",
                          inner=nested.error)
    # n_evaluations counts calls of f: a whole gradient per call of g, and the one at x
    calls = result.n_evaluations * g.calls_per_gradient + 1
    return dataclasses.replace(result, n_evaluations=calls)


assert_hessian = asserting(
    check_hessian, DerivativeMismatch,
    """Raise :class:`gradcheck.DerivativeMismatch` unless :func:`check_hessian` passes.

    Examples
    --------
    >>> import numpy as np
    >>> assert_hessian(lambda x: float(x @ x), np.array([1.0, 2.0]), 2 * np.eye(2))
    """,
)
