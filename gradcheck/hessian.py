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

from typing import Any

from gradcheck import _evaluate, _rows, jacobian, jvp, numerical
from gradcheck._rows import Options
from gradcheck.derivative_report import DerivativeCheckResult, DerivativeMismatch

__all__ = ["assert_hessian", "check_hessian"]


class _NumericalGradient:
    """The gradient of f by central differences, a vector-valued function of x."""

    def __init__(self, f: Any) -> None:
        self._f = f

    def __call__(self, x: Any, *args: Any) -> Any:
        return numerical.numerical_gradient(self._f, x, args=args, method="central")


def _scalar_f(f: Any, x: Any, options: Options) -> None:
    """TypeError unless f(x) is a real scalar (after the shared checks of f, x and args)."""
    pb = _rows.Start.validate(f, x, options)
    value = f(pb.fresh_x(), *pb.args)
    try:
        _evaluate.scalar_value(value, complex_input=False)
    except TypeError as exc:
        raise TypeError(f"check_hessian needs a scalar f: {exc}") from None


def _gradient(f: Any, grad: Any) -> Any:
    """The function whose Jacobian is the Hessian: ``grad``, or f's numerical gradient."""
    if grad is None:
        return _NumericalGradient(f)
    if not callable(grad):
        raise TypeError(f"`grad` is {type(grad).__name__}; it must be None or a callable "
                        "grad(x, *args) returning the gradient of f, shaped like x")
    return grad


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
    ``grad``, ``2P + 16`` calls of grad (2 per tangent + 16 with ``hvp=True``) and one of f;
    without it, each of those calls is a central-difference gradient of f (2P calls of f): use
    it for small x only. That gradient's rounding, about ``ε^(2/3) |f|``, is measured by the
    noise probe like any noise of f, so its tolerance is that much looser.

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
    options = Options(args=args, method=method, step=step, rtol=rtol, atol=atol,
                      nondet_tol=nondet_tol, executor=executor, vectorized=vectorized,
                      max_batch_bytes=max_batch_bytes)
    if not isinstance(hvp, bool):
        raise TypeError(f"`hvp` is {hvp!r}; it must be True or False")
    g = _gradient(f, grad)
    pb = _rows.Start.validate(f, x, options)  # everything checked before f is first called
    if hvp:
        _rows.check_callable("hessian", hessian, "hessian(x, v, *args) returning H v (hvp=True)")
        chosen, drawn = jvp.directions(tangents, n_tangents, seed, pb, "tangents", "n_tangents")
    else:
        options.validate(pb)
    _scalar_f(f, x, options)
    if not hvp:
        return jacobian._jacobian(g, x, hessian, options, kind="hessian", prefix="∇f(x)")
    return jvp._jvp(g, x, hessian, chosen, drawn, options, kind="hessian", prefix="∇f(x)")


def assert_hessian(f: Any, x: Any, hessian: Any, **options: Any) -> None:
    """Raise :class:`gradcheck.DerivativeMismatch` unless :func:`check_hessian` passes.

    Examples
    --------
    >>> import numpy as np
    >>> assert_hessian(lambda x: float(x @ x), np.array([1.0, 2.0]), 2 * np.eye(2))
    """
    __tracebackhide__ = True  # pytest: the report follows the caller's lines, not these
    result = check_hessian(f, x, hessian, **options)
    if not result.passed:
        raise DerivativeMismatch(result)
