"""check_jvp: Jacobian-vector products, each the derivative of f along one tangent.

Example
-------
>>> import numpy as np
>>> check_jvp(np.tanh, np.array([0.5, -1.0]), lambda x, t: (1 - np.tanh(x) ** 2) * t).passed
True
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import _jacobian_diagnosis, _rows, steps, tree
from gradcheck import _moved as _sampling
from gradcheck._rows import Options
from gradcheck.derivative_report import Axis, DerivativeCheckResult, DerivativeMismatch
from gradcheck.evaluators import vector as _vector

__all__ = ["assert_jvp", "check_jvp"]

Float64Array = npt.NDArray[np.float64]


class _Along:
    """``s ↦ f(x + Σ_j (s_j / h_j) m_j)``: f moved by the exact moves ``m_j`` per base step h_j.

    The checker's steps in ``s`` are ``2^k h_j`` (the base step, its confirmation levels), so
    ``s_j / h_j`` is a power of two and the move ``2^k m_j`` is exact; :func:`exact_moves` makes
    ``x + 2^k m_j`` representable as well, so no rounding of order ``ε |x|`` enters the point.
    """

    def __init__(self, f: Any, pb_x: Any, n: int) -> None:
        self._f = f
        self._x = pb_x.x_flat
        self._layout = pb_x.layout
        self._treedef = pb_x.treedef
        self._moves = np.zeros((n, pb_x.layout.size))  # until set: f at x (s = 0) only
        self._base = np.ones(n)

    def set_moves(self, moves: Float64Array, base: Float64Array) -> None:
        """Move x by ``moves[j]`` (rows) when ``s_j`` is the base step ``base[j]``."""
        self._moves, self._base = moves, base

    def __call__(self, s: Any, *args: Any) -> Any:
        flat = self._x + (np.asarray(s) / self._base) @ self._moves  # (P,) or (batch, P)
        batch = flat.shape[:-1]
        complex_input = np.iscomplexobj(flat)
        layout = self._layout
        leaves = [
            flat[..., a:b].reshape(batch + shape).astype(
                np.result_type(dtype, np.complex64) if complex_input else dtype)
            for a, b, shape, dtype in zip(layout.offsets[:-1], layout.offsets[1:],
                                          layout.shapes, layout.dtypes, strict=True)
        ]
        return self._f(tree.unflatten(self._treedef, leaves), *args)


#: Moves are exact for steps down to ``2^-EXACT_LEVELS`` base steps: the checker's finest is 1/4.
EXACT_LEVELS = 2


def exact_moves(pb_x: Any, wanted: Float64Array) -> Float64Array:
    """``wanted`` (n, P) rounded so that ``x + 2^k m`` is exact for ``k >= -EXACT_LEVELS``.

    Each coordinate's move is rounded to a multiple of ``2^(EXACT_LEVELS+1)`` spacings of
    ``x_k`` in its dtype: the sum stays on x_k's grid (or the coarser one above it, which the
    extra factor 2 covers) while the move is below ``|x_k|``; a larger move is rounded only
    relative to itself, at the dtype's ε.
    """
    grid = np.empty(pb_x.layout.size)
    for dtype, a, b in pb_x.layout.runs():
        grid[a:b] = np.spacing(np.abs(pb_x.x_flat[a:b]).astype(dtype)).astype(np.float64)
    grid *= 2.0 ** (EXACT_LEVELS + 1)
    moves: Float64Array = np.round(wanted / grid) * grid
    return moves


def directions(
    given: Any, n: Any, seed: Any, pb: Any, name: str, count_name: str
) -> tuple[list[Any], bool]:
    """The tangents (pytrees like x): the given ones, checked, or ``n`` drawn; drawn or not."""
    if given is None:
        count = _sampling.count(count_name, n)
        rng = np.random.default_rng(_rows.check_seed(seed))
        return [tree.unflatten(pb.treedef, _rows.standard_normal_tree(rng, pb.layout.shapes))
                for _ in range(count)], True
    if not isinstance(given, (list, tuple)) or not given:
        raise TypeError(f"`{name}` is {type(given).__name__}; it must be a non-empty list of "
                        "pytrees, each with the structure and shapes of `x`")
    return list(given), False


def tangent_matrix(tangents: list[Any], pb: Any) -> Float64Array:
    """The tangents as rows of a (n, P) float64 matrix, validated (finite, not zero)."""
    out = []
    for j, t in enumerate(tangents):
        leaves = _rows.float_tree(t, pb.treedef, f"tangents[{j}]", "x", pb.layout.shapes,
                                  pb.layout.paths)
        flat = tree.concat(leaves)
        if not np.isfinite(flat).all() or not flat.any():
            raise ValueError(f"`tangents[{j}]` must be finite and not all zero")
        out.append(flat)
    return np.array(out)


def _jvp_columns(jvp: Any, tangents: list[Any], start: _rows.Start, pb_x: Any) -> Float64Array:
    """The analytic JVPs as columns of an (outputs, tangents) matrix."""
    outs = start.outputs.layout
    columns = []
    for t in tangents:
        t_copy = tree.unflatten(pb_x.treedef, [np.array(a, copy=True)
                                                for a in tree.flatten(t)[0]])
        value = jvp(pb_x.fresh_x(), t_copy, *pb_x.args)
        leaves = _rows.float_tree(value, start.outputs.treedef, "jvp(x, t)", "f(x)",
                                  outs.shapes, outs.paths)
        columns.append(tree.concat(leaves))
    matrix: Float64Array = np.array(columns).T
    return matrix


def _base_steps(start: _rows.Start, dtype: Any) -> Float64Array:
    """The checker's base step in each ``s_j`` (the user's ``step`` or the method's default)."""
    pb = start.pb
    h = steps.resolve_steps(pb.method, pb.leaves, pb.layout, pb.treedef, start.options.step,
                            eps_floor=start.outputs.eps)
    based: Float64Array = h.astype(dtype).astype(np.float64)
    return based


def _jvp(f: Any, x: Any, jvp: Any, tangents: list[Any], drawn: bool, options: Options, *,
         kind: str = "jvp", prefix: str = "f(x)", inner: _rows.InnerError | None = None,
         ) -> DerivativeCheckResult:
    """:func:`check_jvp` once its tangents are known."""
    pb_x = _rows.Start.validate(f, x, options)
    t = tangent_matrix(tangents, pb_x)
    # s moves x by s·c·t: c scales t so that the steps in s move x as far as the
    # coordinate steps of the method would, whatever the size of t
    c = 1.0 / np.max(np.abs(t) / np.maximum(1.0, np.abs(pb_x.x_flat)), axis=1)
    dtype = np.float32 if np.float32 in pb_x.layout.dtypes else np.float64
    along = _Along(f, pb_x, len(t))
    start = _rows.Start(along, np.zeros(len(t), dtype), options)
    base = _base_steps(start, dtype)
    moves = exact_moves(pb_x, (base * c)[:, None] * t)
    along.set_moves(moves, base)
    start.options = replace(options, step=base.astype(dtype))
    # the tangents actually moved along (rounded by the exact moves, relatively ~1e-8)
    exact = [tree.unflatten(pb_x.treedef, [a.astype(d) for a, d in zip(
                 pb_x.layout.split(m / (b * cj)), pb_x.layout.dtypes, strict=True)])
             for m, b, cj in zip(moves, base, c, strict=True)]
    analytic = _jvp_columns(jvp, exact, start, pb_x) * c
    rows, cols = start.output_axis(prefix), Axis(tuple(f"t[{j}]" for j in range(len(t))),
                                                 ((),) * len(t))
    if start.nondeterministic():
        return start.unchecked(kind, rows, cols, analytic / c)
    components = [_vector.Component(start.source, index=i) for i in range(len(analytic))]
    numeric, tolerance, status = start.compare(list(zip(components, analytic, strict=True)))
    analytic, numeric, tolerance = analytic / c, numeric / c, tolerance / c
    notes: tuple[str, ...] = ()
    if inner is not None:  # column j moved x by base_j · c_j · t_j per unit of s
        tolerance, status, notes = inner.widen(base * c, analytic, numeric, tolerance, status)
    findings = _jacobian_diagnosis.diagnose_matrix(
        rows, cols, analytic, numeric, tolerance, status, joiner=" along "
    )
    extra: dict[str, Any] = {"diagnosis": findings, "notes": notes}
    if drawn:
        slip = _rows.slip_fields(kind.upper() if kind == "jvp" else "Hessian-vector product",
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
    options = Options(args=args, method=method, step=step, rtol=rtol, atol=atol,
                      nondet_tol=nondet_tol, executor=executor, vectorized=vectorized,
                      max_batch_bytes=max_batch_bytes)
    _rows.check_callable("jvp", jvp, "jvp(x, t, *args) returning the tangent of f(x) along t")
    chosen, drawn = directions(tangents, n_tangents, seed, _rows.Start.validate(f, x, options),
                               "tangents", "n_tangents")
    return _jvp(f, x, jvp, chosen, drawn, options)


def assert_jvp(f: Any, x: Any, jvp: Any, **options: Any) -> None:
    """Raise :class:`gradcheck.DerivativeMismatch` unless :func:`check_jvp` passes.

    Examples
    --------
    >>> import numpy as np
    >>> assert_jvp(np.exp, np.array([0.5, 1.0]), lambda x, t: np.exp(x) * t)
    """
    __tracebackhide__ = True  # pytest: the report follows the caller's lines, not these
    result = check_jvp(f, x, jvp, **options)
    if not result.passed:
        raise DerivativeMismatch(result)
