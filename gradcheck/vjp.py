"""check_vjp: a vector-Jacobian product checked as the gradient of ``⟨ct, f(x)⟩``.

Example
-------
>>> import numpy as np
>>> A = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
>>> check_vjp(lambda x: np.tanh(A @ x), np.array([0.1, 0.2, 0.3]),
...           lambda x, ct: A.T @ (ct * (1 - np.tanh(A @ x) ** 2))).passed
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import _jacobian_diagnosis, _rows, report, tree
from gradcheck import _moved as _sampling
from gradcheck._rows import Options
from gradcheck.derivative_report import Axis, DerivativeCheckResult, DerivativeMismatch
from gradcheck.diagnosis import Finding
from gradcheck.evaluators import vector as _vector
from gradcheck.jvp import check_jvp, directions

__all__ = ["assert_vjp", "check_vjp"]

Float64Array = npt.NDArray[np.float64]


def _cotangents(given: Any, n: Any, seed: Any, start: _rows.Start) -> tuple[list[Any], bool]:
    """The cotangents, pytrees like f(x): the given ones, checked, or ``n`` drawn."""
    outs = start.outputs
    if given is None:
        count = _sampling.count("n_cotangents", n)
        rng = np.random.default_rng(_rows.check_seed(seed))
        return [tree.unflatten(outs.treedef, _rows.standard_normal_tree(rng, outs.layout.shapes))
                for _ in range(count)], True
    chosen, _ = directions(given, n, seed, start.pb, "cotangents", "n_cotangents")
    return chosen, False


def _weights(cts: list[Any], start: _rows.Start) -> Float64Array:
    """The cotangents as rows of an (n, outputs) matrix, validated."""
    outs = start.outputs
    rows = []
    for j, ct in enumerate(cts):
        leaves = _rows.float_tree(ct, outs.treedef, f"cotangents[{j}]", "f(x)",
                                  outs.layout.shapes, outs.layout.paths)
        flat = tree.concat(leaves)
        if not np.isfinite(flat).all() or not flat.any():
            # a zero cotangent makes both sides zero: any vjp linear in ct would pass
            raise ValueError(f"`cotangents[{j}]` must be finite and not all zero")
        rows.append(flat)
    return np.array(rows)


def _analytic(vjp: Any, weights: Float64Array, start: _rows.Start) -> list[Any]:
    """``vjp(x, ct)`` for each cotangent, checked to be like x."""
    pb, outs = start.pb, start.outputs
    out = []
    for w in weights:
        ct = tree.unflatten(outs.treedef, outs.layout.split(w.copy()))
        value = vjp(pb.fresh_x(), ct, *pb.args)
        leaves = _rows.float_tree(value, pb.treedef, "vjp(x, ct)", "x", pb.layout.shapes,
                                  pb.layout.paths)
        out.append(tree.unflatten(pb.treedef, leaves))
    return out


def _transposed(
    f: Any, x: Any, start: _rows.Start, weights: Float64Array, analytic: Float64Array,
    tolerance: Float64Array,
) -> tuple[Finding, ...]:
    """A finding when a square f's VJP returned ``J ct`` in place of ``Jᵀ ct``.

    ``J ct`` is the JVP along ct, measured by central differences (2 calls per cotangent).
    """
    if weights.shape[1] != start.pb.layout.size:
        return ()
    tangents = [tree.unflatten(start.pb.treedef, start.pb.layout.split(w.copy()))
                for w in weights if w.any()]
    if len(tangents) != len(weights):
        return ()
    outs = start.outputs
    zeros = tree.unflatten(outs.treedef, outs.layout.split(np.zeros(outs.layout.size)))
    o = start.options
    jvps = check_jvp(f, x, lambda _x, _t, *_a: zeros, tangents=tangents, args=o.args,
                     executor=o.executor, vectorized=o.vectorized,
                     max_batch_bytes=o.max_batch_bytes)
    forward = jvps.numeric.T  # (cotangents, P): row j is J ct_j
    within = np.abs(analytic - forward) <= _jacobian_diagnosis.SLACK * tolerance + jvps.tolerance.T
    if not within.all():
        return ()
    return (_jacobian_diagnosis._finding(
        "transposed", "the VJP returns J·ct (the JVP along the cotangent) where Jᵀ·ct belongs: "
        "the Jacobian is transposed", "all"),)


def _vjp(f: Any, x: Any, vjp: Any, cotangents: Any, n: Any, seed: Any,
         options: Options) -> DerivativeCheckResult:
    """:func:`check_vjp` with its options gathered."""
    _rows.check_callable("vjp", vjp, "vjp(x, ct, *args) returning the gradient of ⟨ct, f(x)⟩")
    if cotangents is None:  # checked before f is first called; their shapes need f(x)
        _sampling.count("n_cotangents", n)
        _rows.check_seed(seed)
    elif not isinstance(cotangents, (list, tuple)) or not cotangents:
        raise TypeError(f"`cotangents` is {type(cotangents).__name__}; it must be a non-empty "
                        "list of pytrees, each with the structure and shapes of `f(x)`")
    start = _rows.Start(f, x, options)
    cts, drawn = _cotangents(cotangents, n, seed, start)
    weights = _weights(cts, start)
    trees = _analytic(vjp, weights, start)
    analytic = np.array([tree.concat(tree.flatten(t)[0]) for t in trees])
    rows = Axis(tuple(f"⟨ct[{j}], f(x)⟩" for j in range(len(weights))), ((),) * len(weights))
    cols = start.input_axis()
    if start.nondeterministic():
        return start.unchecked("vjp", rows, cols, analytic)
    components = [_vector.Component(start.source, weights=w) for w in weights]
    numeric, tolerance, status = start.compare(list(zip(components, trees, strict=True)))
    findings = _jacobian_diagnosis.diagnose_matrix(rows, cols, analytic, numeric, tolerance,
                                                   status)
    if np.any(status == report.MISMATCH) and not findings:
        findings = _transposed(f, x, start, weights, analytic, tolerance)
    extra: dict[str, Any] = {"diagnosis": findings}
    if drawn:
        extra.update(_rows.slip_fields("VJP", "cotangents", len(weights)))
    return start.result("vjp", rows, cols, analytic, numeric, tolerance, status, **extra)


def check_vjp(
    f: Any,
    x: Any,
    vjp: Any,
    *,
    cotangents: list[Any] | None = None,
    n_cotangents: int = 3,
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
    """Compare a vector-Jacobian product ``vjp(x, ct) = Jᵀ ct`` with a numerical gradient.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returns a float array or pytree of float arrays (see
        :func:`gradcheck.check_jacobian`).
    x : ndarray or pytree of ndarrays
        The point. Never changed.
    vjp : callable
        ``vjp(x, ct, *args)`` returns the cotangent of x: x's structure and shapes.
    cotangents : list of pytrees, optional
        The cotangents ``ct``, each with f(x)'s structure and shapes. Default: ``n_cotangents``
        drawn from a standard normal by ``numpy.random.default_rng(seed)``.
    n_cotangents : int, optional
        How many cotangents to draw when none are given (default 3).
    seed : int or None, optional
        The seed of the drawn cotangents (default 0: a check is reproducible).
    args, method, step, rtol, atol, nondet_tol, executor, vectorized, max_batch_bytes
        As in :func:`gradcheck.check_jacobian`.

    Returns
    -------
    DerivativeCheckResult
        One row per cotangent (``⟨ct[0], f(x)⟩ wrt x['W'][0, 3]``), one column per coordinate
        of x; with drawn cotangents, ``slip_probability`` bounds the chance that a wrong VJP
        passed. ``diagnosis`` names a constant factor, a sign, a wrong column, and a VJP that
        returns ``J ct`` (a transposed Jacobian) for a square f.

    Raises
    ------
    TypeError
        ``vjp`` returning another structure than x (naming ``vjp(x, ct)``), cotangents not
        like f(x), and the errors of :func:`gradcheck.check_jacobian`.
    ValueError
        A returned leaf or cotangent leaf of the wrong shape, a cotangent not finite, and the
        errors of :func:`gradcheck.check_jacobian`.

    Notes
    -----
    ``vjp(x, ct)`` is the gradient of the scalar ``⟨ct, f(x)⟩``, checked by the verdict of
    :func:`gradcheck.check_gradient`. The values of f at each point are shared by all
    cotangents: the cost is that of one gradient check, ``2P + 16`` calls with central
    differences, for any number of cotangents. A wrong VJP ``V ≠ Jᵀ`` is missed by a
    standard normal cotangent only where ``(V - Jᵀ) ct`` happens to fall within the
    tolerance: for an error row of norm ``r`` tolerances that has probability
    ``erf(1 / (r √2))`` per cotangent (0.08 for r = 10), independently for each.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: x[:2] * x[1:]
    >>> vjp = lambda x, ct: np.array([ct[0] * x[1], ct[0] * x[0] + ct[1] * x[2], ct[1] * x[1]])
    >>> result = check_vjp(f, np.array([1.0, 2.0, 3.0]), vjp)
    >>> result.passed, result.n_evaluations, round(result.slip_probability, 6)
    (True, 22, 0.000505)
    """
    options = Options(args=args, method=method, step=step, rtol=rtol, atol=atol,
                      nondet_tol=nondet_tol, executor=executor, vectorized=vectorized,
                      max_batch_bytes=max_batch_bytes)
    return _vjp(f, x, vjp, cotangents, n_cotangents, seed, options)


def assert_vjp(f: Any, x: Any, vjp: Any, **options: Any) -> None:
    """Raise :class:`gradcheck.DerivativeMismatch` unless :func:`check_vjp` passes.

    Examples
    --------
    >>> import numpy as np
    >>> assert_vjp(np.exp, np.array([0.5, 1.0]), lambda x, ct: np.exp(x) * ct)
    """
    __tracebackhide__ = True  # pytest: the report follows the caller's lines, not these
    result = check_vjp(f, x, vjp, **options)
    if not result.passed:
        raise DerivativeMismatch(result)
