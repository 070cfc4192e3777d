"""check_jacobian: the derivatives of a vector-valued function, element by element.

Example
-------
>>> import numpy as np
>>> f = lambda x: {"h": np.tanh(x["W"] @ x["v"])}
>>> x = {"W": np.array([[0.5, -1.0], [0.2, 0.3]]), "v": np.array([1.0, 2.0])}
>>> def jac(x):
...     d = 1 - np.tanh(x["W"] @ x["v"]) ** 2   # (2,)
...     return {"h": {"W": np.einsum("i,ik,l->ikl", d, np.eye(2), x["v"]),
...                   "v": d[:, None] * x["W"]}}
>>> check_jacobian(f, x, jac).passed
True
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import _first_pass, _jacobian_diagnosis, _rows, steps, tree
from gradcheck._rows import Options
from gradcheck.derivative_report import DerivativeCheckResult, DerivativeMismatch
from gradcheck.evaluators import vector as _vector

__all__ = ["assert_jacobian", "check_jacobian"]

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
) -> _first_pass.Analytic:
    """The rows of ``matrix`` and the epsilon of each element (its block's dtype)."""
    eps = np.stack([np.concatenate([np.full(b.shape[1], float(np.finfo(b.dtype).eps))
                                    for b in row]) for row in blocks])
    leaf = np.repeat(np.arange(len(blocks)), [row[0].shape[0] for row in blocks])
    return lambda part: (matrix[part], eps[leaf[part]])


def _jacobian(f: Any, x: Any, jacobian: Any, options: Options, *, kind: str = "jacobian",
              prefix: str = "f(x)", inner: _rows.InnerError | None = None,
              ) -> DerivativeCheckResult:
    """:func:`check_jacobian` with its options gathered; a Hessian's is also symmetric."""
    start = _rows.Start(f, x, options)
    value = jacobian(start.pb.fresh_x(), *start.pb.args) if callable(jacobian) else jacobian
    blocks = analytic_blocks(value, start, kind, prefix)
    rows, cols, analytic = start.output_axis(prefix), start.input_axis(), _matrix(blocks)
    if start.nondeterministic():
        return start.unchecked(kind, rows, cols, analytic)
    components = [_vector.Component(start.source, index=i) for i in range(len(analytic))]
    numeric, tolerance, status = start.compare(
        list(zip(components, _row_trees(blocks, start), strict=True)),
        _rows_analytic(blocks, analytic),
    )
    notes: tuple[str, ...] = ()
    if inner is not None:
        pb = start.pb
        outer = steps.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, options.step,
                                    eps_floor=0.0)
        tolerance, status, notes = inner.widen(outer, analytic, numeric, tolerance, status)
    findings = _jacobian_diagnosis.diagnose_matrix(
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
    options = Options(args=args, method=method, step=step, rtol=rtol, atol=atol,
                      nondet_tol=nondet_tol, executor=executor, vectorized=vectorized,
                      max_batch_bytes=max_batch_bytes)
    return _jacobian(f, x, jacobian, options)


def assert_jacobian(f: Any, x: Any, jacobian: Any, **options: Any) -> None:
    """Raise :class:`gradcheck.DerivativeMismatch` unless :func:`check_jacobian` passes.

    Takes the arguments of :func:`check_jacobian`; the message is the report and the
    exception's ``result`` the :class:`DerivativeCheckResult`.

    Examples
    --------
    >>> import numpy as np
    >>> assert_jacobian(np.exp, np.array([0.5, 1.0]), lambda x: np.diag(np.exp(x)))
    """
    __tracebackhide__ = True  # pytest: the report follows the caller's lines, not these
    result = check_jacobian(f, x, jacobian, **options)
    if not result.passed:
        raise DerivativeMismatch(result)
