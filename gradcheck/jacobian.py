"""The checks of a vector-valued f: check_jacobian, check_vjp, check_jvp and their assert_ forms.

Each compares a derivative matrix, one row per scalar function checked, on the rows engine
(:mod:`gradcheck._rows`): a Jacobian element by element, a vector-Jacobian product as the
gradient of ``⟨ct, f(x)⟩``, a Jacobian-vector product as the derivative of f along a tangent.
:mod:`gradcheck.hessian` checks second derivatives through the same functions.

Examples
--------
>>> import numpy as np
>>> f = lambda x: {"h": np.tanh(x["W"] @ x["v"])}
>>> x = {"W": np.array([[0.5, -1.0], [0.2, 0.3]]), "v": np.array([1.0, 2.0])}
>>> def jac(x):
...     d = 1 - np.tanh(x["W"] @ x["v"]) ** 2   # (2,)
...     return {"h": {"W": np.einsum("i,ik,l->ikl", d, np.eye(2), x["v"]),
...                   "v": d[:, None] * x["W"]}}
>>> check_jacobian(f, x, jac).passed
True
>>> A = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
>>> check_vjp(lambda x: np.tanh(A @ x), np.array([0.1, 0.2, 0.3]),
...           lambda x, ct: A.T @ (ct * (1 - np.tanh(A @ x) ** 2))).passed
True
>>> check_jvp(np.tanh, np.array([0.5, -1.0]), lambda x, t: (1 - np.tanh(x) ** 2) * t).passed
True
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import _rows, methods, report, tree
from gradcheck.check import (
    CheckOptions,
    asserting,
    check_callable,
    check_directions,
    direction_matrix,
    directions,
    float_tree,
)
from gradcheck.derivative_report import (
    Axis,
    DerivativeCheckResult,
    DerivativeMismatch,
    slip_fields,
)
from gradcheck.diagnosis import SLACK, Finding, matrix_finding
from gradcheck.evaluators import vector

__all__ = ["assert_jacobian", "assert_jvp", "assert_vjp", "check_jacobian", "check_jvp",
           "check_vjp"]

Float64Array = npt.NDArray[np.float64]


def _compose(outer: tree.TreeDef, inner: tree.TreeDef) -> tree.TreeDef:
    """The tree of a Jacobian: ``inner`` (x's structure) at every leaf of ``outer`` (f(x)'s)."""
    if outer.kind == "leaf":
        return inner
    return dataclasses.replace(outer, children=tuple(_compose(c, inner) for c in outer.children))


def analytic_blocks(
    value: object, start: _rows.Start, name: str, prefix: str = "f(x)"
) -> list[list[npt.NDArray[np.floating[Any]]]]:
    """The blocks of a Jacobian value, ``[output leaf][input leaf]`` as (n_out_leaf, n_in_leaf).

    TypeError naming ``name`` when its structure is not f(x)'s with x's at every leaf;
    ValueError naming the output leaf, the input leaf and the shape a block must have.
    """
    outs, ins = start.outputs.layout, start.pb.layout
    treedef = _compose(start.outputs.treedef, start.pb.treedef)
    raw = tree.flatten_like(value, treedef, name, f"∂{prefix}/∂x")
    paths = [po + pi for po in outs.paths for pi in ins.paths]
    leaves = tree.float_leaves(raw, paths, name, strict=False)
    blocks: list[list[npt.NDArray[np.floating[Any]]]] = []
    for o, (po, so) in enumerate(zip(outs.paths, outs.shapes, strict=True)):
        row = []
        for i, (pi, si) in enumerate(zip(ins.paths, ins.shapes, strict=True)):
            leaf = leaves[o * len(ins.paths) + i]
            if leaf.shape != so + si:
                raise ValueError(
                    f"`{name}{po}{pi}` has shape {leaf.shape}; the block of `{prefix}{po}` wrt "
                    f"`x{pi}` must have shape {so + si} ({prefix}{po}.shape + x{pi}.shape)"
                )
            row.append(leaf.reshape(int(np.prod(so)), int(np.prod(si))))
        blocks.append(row)
    return blocks


def _row_trees(blocks: list[list[npt.NDArray[Any]]], start: _rows.Start) -> list[Any]:
    """The analytic gradient of each output element, a pytree like x."""
    shapes, treedef = start.pb.layout.shapes, start.pb.treedef
    return [
        tree.unflatten(treedef, [b[r].reshape(s) for b, s in zip(row, shapes, strict=True)])
        for row in blocks
        for r in range(row[0].shape[0])
    ]


def _matrix(blocks: list[list[npt.NDArray[Any]]]) -> Float64Array:
    """The blocks as one (outputs, P) float64 matrix."""
    return np.vstack([np.hstack(row).astype(np.float64) for row in blocks])


def _rows_analytic(
    blocks: list[list[npt.NDArray[Any]]], matrix: Float64Array
) -> _rows.Analytic:
    """The rows of ``matrix`` and the epsilon of each element (its block's dtype)."""
    eps = np.stack([np.concatenate([np.full(b.shape[1], float(np.finfo(b.dtype).eps))
                                    for b in row]) for row in blocks])
    leaf = np.repeat(np.arange(len(blocks)), [row[0].shape[0] for row in blocks])
    return lambda part: (matrix[part], eps[leaf[part]])


def _jacobian(f: Any, x: Any, jacobian: Any, options: CheckOptions, *, kind: str = "jacobian",
              prefix: str = "f(x)", inner: _rows.InnerError | None = None,
              ) -> DerivativeCheckResult:
    """:func:`check_jacobian` with its options gathered; a Hessian's is also symmetric."""
    start = _rows.Start(f, x, options)
    value = jacobian(start.pb.fresh_x(), *start.pb.args) if callable(jacobian) else jacobian
    blocks = analytic_blocks(value, start, kind, prefix)
    rows, cols, analytic = start.output_axis(prefix), start.input_axis(), _matrix(blocks)
    if start.nondeterministic():
        return start.unchecked(kind, rows, cols, analytic)
    components = [vector.Component(start.source, index=i) for i in range(len(analytic))]
    numeric, tolerance, status = start.compare(
        list(zip(components, _row_trees(blocks, start), strict=True)),
        _rows_analytic(blocks, analytic),
    )
    notes: tuple[str, ...] = ()
    if inner is not None:
        pb = start.pb
        outer = methods.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, options.step,
                                    eps_floor=0.0)
        tolerance, status, notes = inner.widen(outer, analytic, numeric, tolerance, status)
    findings = _rows.diagnose_matrix(
        rows, cols, analytic, numeric, tolerance, status
    )
    if kind == "hessian":
        status, more, symmetric = _rows.symmetry(rows, cols, analytic, numeric, tolerance,
                                                 status)
        findings, notes = findings + more, notes + symmetric
    return start.result(kind, rows, cols, analytic, numeric, tolerance, status,
                        diagnosis=findings, notes=notes)


def check_jacobian(
    f: Any,
    x: Any,
    jacobian: Any,
    *,
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
    """Compare an analytic Jacobian of a vector-valued f with a numerical one, element by element.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returns a float array or a pytree (dict, list, tuple, NamedTuple) of
        float arrays, with the same structure and shapes at every x.
    x : ndarray or pytree of ndarrays
        The point (float32/float64, finite). Never changed, whatever f does or raises.
    jacobian : callable or pytree of ndarrays
        ``jacobian(x, *args)`` or its value. It has f(x)'s structure with x's structure at
        every leaf; the block of output leaf ``o`` and input leaf ``i`` has shape
        ``o.shape + i.shape`` (the layout of ``jax.jacobian`` and
        ``torch.autograd.functional.jacobian``): for an array f and array x, one array of
        shape ``f(x).shape + x.shape``. A NaN in it is a mismatching element.
    args, method, step, rtol, atol, nondet_tol
        As in :func:`gradcheck.check_gradient`, applied to every output element.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Evaluate the shifted points in parallel tasks on it (f must pickle for processes).
    vectorized : bool, optional
        f takes a batch of points (a leading batch axis on every leaf of x) and returns
        f(x)'s structure with that leading axis on every leaf. Default False.
    max_batch_bytes : int, optional
        With ``vectorized=True``, the most bytes of input per batch; default 256 KiB.

    Returns
    -------
    DerivativeCheckResult
        ``passed``, the errors, one summary per block and the worst elements, named
        ``f(x)['h'][2] wrt x['W'][0, 3]``; ``diagnosis`` names a constant factor, a sign, a
        transposed Jacobian, a zero block, one wrong row or one wrong column.

    Raises
    ------
    TypeError
        Bad ``f``, ``x``, ``args``, options; f returning something other than float arrays
        of fixed structure; ``jacobian`` of another structure or with non-float leaves.
    ValueError
        Unknown method, NaN/inf in ``x`` or in f's values, a block of ``jacobian`` of the
        wrong shape (naming the output leaf, the input leaf and the expected shape).

    Notes
    -----
    Each output element ``f_i`` is checked as :func:`gradcheck.check_gradient` checks a
    scalar f (same tolerance model, noise probe and confirmation), but the values of f at
    each point are computed once and shared by all outputs. Cost with central differences:
    2 calls at x, 14 for the noise probe, 2P for the estimate, and 6 per coordinate with a
    failing or suspicious element (once for all outputs): ``2P + 16`` for a correct Jacobian
    of a smooth f, whatever the number of outputs. Each output's own ``max |f_i|`` sets its
    rounding level, so a small output next to a large one keeps a sharp tolerance. With central
    differences and the error model, the outputs whose elements all pass that verdict's first
    step (none suspect or coarse) are judged together, as arrays, and the others one by one:
    the numbers are the same as checking each output alone.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.3, -0.7, 1.1])
    >>> result = check_jacobian(np.sin, x, lambda x: np.diag(np.cos(x)))
    >>> result.passed, result.n_evaluations
    (True, 22)
    >>> check_jacobian(np.sin, x, np.diag(np.cos(x)).T * 1.001).worst.name
    'f(x)[0] wrt x[0]'
    """
    options = CheckOptions(args=args, method=method, step=step, rtol=rtol, atol=atol,
                           nondet_tol=nondet_tol, executor=executor, vectorized=vectorized,
                           max_batch_bytes=max_batch_bytes)
    return _jacobian(f, x, jacobian, options)


def _vjp_values(vjp: Any, weights: Float64Array, start: _rows.Start) -> list[Any]:
    """``vjp(x, ct)`` for each cotangent, checked to be like x."""
    pb, outs = start.pb, start.outputs
    out = []
    for w in weights:
        ct = tree.unflatten(outs.treedef, outs.layout.split(w.copy()))
        value = vjp(pb.fresh_x(), ct, *pb.args)
        leaves = float_tree(value, pb.treedef, "vjp(x, ct)", "x", pb.layout.shapes,
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
    within = np.abs(analytic - forward) <= SLACK * tolerance + jvps.tolerance.T
    if not within.all():
        return ()
    return (matrix_finding(
        "transposed", "the VJP returns J·ct (the JVP along the cotangent) where Jᵀ·ct belongs: "
        "the Jacobian is transposed", "all"),)


def _vjp(f: Any, x: Any, vjp: Any, cotangents: Any, n: Any, seed: Any,
         options: CheckOptions) -> DerivativeCheckResult:
    """:func:`check_vjp` with its options gathered."""
    check_callable("vjp", vjp, "vjp(x, ct, *args) returning the gradient of ⟨ct, f(x)⟩")
    # checked before f is first called; their shapes need f(x)
    check_directions(cotangents, n, seed, "cotangents", "n_cotangents", "f(x)")
    start = _rows.Start(f, x, options)
    outs = start.outputs
    cts, drawn = directions(cotangents, n, seed, outs.layout, outs.treedef,
                            ("cotangents", "n_cotangents", "f(x)"))
    weights = direction_matrix(cts, "cotangents", "f(x)", outs.layout, outs.treedef)
    trees = _vjp_values(vjp, weights, start)
    analytic = np.array([tree.concat(tree.flatten(t)[0]) for t in trees])
    rows = Axis(tuple(f"⟨ct[{j}], f(x)⟩" for j in range(len(weights))), ((),) * len(weights))
    cols = start.input_axis()
    if start.nondeterministic():
        return start.unchecked("vjp", rows, cols, analytic)
    components = [vector.Component(start.source, weights=w) for w in weights]
    numeric, tolerance, status = start.compare(list(zip(components, trees, strict=True)))
    findings = _rows.diagnose_matrix(rows, cols, analytic, numeric, tolerance, status)
    if np.any(status == report.MISMATCH) and not findings:
        findings = _transposed(f, x, start, weights, analytic, tolerance)
    extra: dict[str, Any] = {"diagnosis": findings}
    if drawn:
        extra.update(slip_fields("VJP", "cotangents", len(weights)))
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
    options = CheckOptions(args=args, method=method, step=step, rtol=rtol, atol=atol,
                           nondet_tol=nondet_tol, executor=executor, vectorized=vectorized,
                           max_batch_bytes=max_batch_bytes)
    return _vjp(f, x, vjp, cotangents, n_cotangents, seed, options)


def _jvp_columns(jvp: Any, tangents: list[Any], start: _rows.Start, pb_x: Any) -> Float64Array:
    """The analytic JVPs as columns of an (outputs, tangents) matrix."""
    outs = start.outputs.layout
    columns = []
    for t in tangents:
        t_copy = tree.unflatten(pb_x.treedef, [np.array(a, copy=True)
                                                for a in tree.flatten(t)[0]])
        value = jvp(pb_x.fresh_x(), t_copy, *pb_x.args)
        leaves = float_tree(value, start.outputs.treedef, "jvp(x, t)", "f(x)",
                            outs.shapes, outs.paths)
        columns.append(tree.concat(leaves))
    matrix: Float64Array = np.array(columns).T
    return matrix


def _base_steps(start: _rows.Start, dtype: Any) -> Float64Array:
    """The checker's base step in each ``s_j`` (the user's ``step`` or the method's default)."""
    pb = start.pb
    h = methods.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, start.options.step,
                            eps_floor=start.outputs.eps)
    based: Float64Array = h.astype(dtype).astype(np.float64)
    return based


def _jvp(f: Any, x: Any, jvp: Any, tangents: list[Any], drawn: bool, options: CheckOptions, *,
         kind: str = "jvp", prefix: str = "f(x)", inner: _rows.InnerError | None = None,
         ) -> DerivativeCheckResult:
    """:func:`check_jvp` once its tangents are known."""
    pb_x = _rows.Start.validate(f, x, options)
    t = direction_matrix(tangents, "tangents", "x", pb_x.layout, pb_x.treedef)
    # s moves x by s·c·t: c scales t so that the steps in s move x as far as the
    # coordinate steps of the method would, whatever the size of t
    c = 1.0 / np.max(np.abs(t) / np.maximum(1.0, np.abs(pb_x.x_flat)), axis=1)
    dtype = np.float32 if np.float32 in pb_x.layout.dtypes else np.float64
    along = _rows.Along(f, pb_x, len(t))
    start = _rows.Start(along, np.zeros(len(t), dtype), options)
    base = _base_steps(start, dtype)
    moves = _rows.exact_moves(pb_x, (base * c)[:, None] * t)
    along.set_moves(moves, base)
    start.options = dataclasses.replace(options, step=base.astype(dtype))
    # the tangents actually moved along (rounded by the exact moves, relatively ~1e-8)
    exact = [tree.unflatten(pb_x.treedef, [a.astype(d) for a, d in zip(
                 pb_x.layout.split(m / (b * cj)), pb_x.layout.dtypes, strict=True)])
             for m, b, cj in zip(moves, base, c, strict=True)]
    analytic = _jvp_columns(jvp, exact, start, pb_x) * c
    rows, cols = start.output_axis(prefix), Axis(tuple(f"t[{j}]" for j in range(len(t))),
                                                 ((),) * len(t))
    if start.nondeterministic():
        return start.unchecked(kind, rows, cols, analytic / c)
    components = [vector.Component(start.source, index=i) for i in range(len(analytic))]
    numeric, tolerance, status = start.compare(list(zip(components, analytic, strict=True)))
    analytic, numeric, tolerance = analytic / c, numeric / c, tolerance / c
    notes: tuple[str, ...] = ()
    if inner is not None:  # column j moved x by base_j · c_j · t_j per unit of s
        tolerance, status, notes = inner.widen(base * c, analytic, numeric, tolerance, status)
    findings = _rows.diagnose_matrix(
        rows, cols, analytic, numeric, tolerance, status, joiner=" along "
    )
    extra: dict[str, Any] = {"diagnosis": findings, "notes": notes}
    if drawn:
        slip = slip_fields(kind.upper() if kind == "jvp" else "Hessian-vector product",
                           "tangents", len(t))
        extra.update(slip, notes=slip["notes"] + notes)
    if kind == "hessian":
        moved = moves / (base * c)[:, None]  # the tangents as rounded, which analytic is of
        status, more, notes = _rows.product_symmetry(moved, analytic, tolerance, status)
        extra["diagnosis"] += more
        extra["notes"] = extra.get("notes", ()) + notes
    return start.result(kind, rows, cols, analytic, numeric, tolerance, status, **extra)


def check_jvp(
    f: Any,
    x: Any,
    jvp: Any,
    *,
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
    """Compare a Jacobian-vector product ``jvp(x, t) = J t`` with directional derivatives of f.

    Parameters
    ----------
    f : callable
        ``f(x, *args)`` returns a float array or pytree of float arrays (see
        :func:`check_jacobian`).
    x : ndarray or pytree of ndarrays
        The point. Never changed.
    jvp : callable
        ``jvp(x, t, *args)`` returns the tangent of f(x) along ``t``: f(x)'s structure and shapes.
    tangents : list of pytrees, optional
        The tangents ``t``, each with x's structure and shapes, finite and not zero. Default:
        ``n_tangents`` drawn from a standard normal by ``numpy.random.default_rng(seed)``.
    n_tangents : int, optional
        How many tangents to draw when none are given (default 2).
    seed : int or None, optional
        The seed of the drawn tangents (default 0: a check is reproducible).
    args, method, step, rtol, atol, nondet_tol, executor, vectorized, max_batch_bytes
        As in :func:`check_jacobian`; ``step`` is the step in ``s`` (below).

    Returns
    -------
    DerivativeCheckResult
        One row per output element of f, one column per tangent (``f(x)['h'][2] along t[0]``);
        with drawn tangents, ``slip_probability`` bounds the chance that a wrong JVP passed.

    Raises
    ------
    TypeError
        ``jvp`` returning another structure than f(x) (naming ``jvp(x, t)``), tangents not
        like x, and the errors of :func:`check_jacobian`.
    ValueError
        A tangent zero or not finite, a returned leaf of the wrong shape, and the errors of
        :func:`check_jacobian`.

    Notes
    -----
    The tangent ``t_j`` is the (outputs × 1) Jacobian of ``s ↦ f(x + s c_j t_j)`` at ``s = 0``,
    checked by :func:`check_jacobian`'s verdict; ``c_j = 1 / max_k(|t_jk| / max(1, |x_k|))``
    makes the method's steps in ``s`` move x as far as its steps along coordinates would, and
    the values reported are divided by ``c_j`` again. The moves are made exact: each
    coordinate of ``s c_j t_j`` at the base step is rounded to a multiple of 8 spacings of
    ``x_k``, so that ``x + 2^k s c_j t_j`` (the checker's steps) is computed without rounding
    even far from 0, and ``jvp`` is called with the tangent so rounded (relatively by at most
    3e-10 in float64, 5e-5 in float32, measured over 20 random points and tangents). Cost
    with central differences: 2 calls per tangent, plus 16 (two at x, the noise probe).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.3, -0.7, 1.1])
    >>> check_jvp(np.sin, x, lambda x, t: np.cos(x) * t).n_evaluations
    20
    >>> check_jvp(np.sin, x, lambda x, t: np.sin(x) * t).passed
    False
    """
    options = CheckOptions(args=args, method=method, step=step, rtol=rtol, atol=atol,
                           nondet_tol=nondet_tol, executor=executor, vectorized=vectorized,
                           max_batch_bytes=max_batch_bytes)
    check_callable("jvp", jvp, "jvp(x, t, *args) returning the tangent of f(x) along t")
    pb = _rows.Start.validate(f, x, options)
    chosen, drawn = directions(tangents, n_tangents, seed, pb.layout, pb.treedef,
                               ("tangents", "n_tangents", "x"))
    return _jvp(f, x, jvp, chosen, drawn, options)


assert_jacobian = asserting(
    check_jacobian, DerivativeMismatch,
    """Raise :class:`gradcheck.DerivativeMismatch` unless :func:`check_jacobian` passes.

    Takes the arguments of :func:`check_jacobian`; the message is the report and the
    exception's ``result`` the :class:`DerivativeCheckResult`.

    Examples
    --------
    >>> import numpy as np
    >>> assert_jacobian(np.exp, np.array([0.5, 1.0]), lambda x: np.diag(np.exp(x)))
    """,
)

assert_vjp = asserting(
    check_vjp, DerivativeMismatch,
    """Raise :class:`gradcheck.DerivativeMismatch` unless :func:`check_vjp` passes.

    Examples
    --------
    >>> import numpy as np
    >>> assert_vjp(np.exp, np.array([0.5, 1.0]), lambda x, ct: np.exp(x) * ct)
    """,
)

assert_jvp = asserting(
    check_jvp, DerivativeMismatch,
    """Raise :class:`gradcheck.DerivativeMismatch` unless :func:`check_jvp` passes.

    Examples
    --------
    >>> import numpy as np
    >>> assert_jvp(np.exp, np.array([0.5, 1.0]), lambda x, t: np.exp(x) * t)
    """,
)
