"""How the structured evaluator values a batch of moves of one parameter array.

The network at x is kept as a `State` (arrays as units × examples). A block of moves of one
layer's parameters is valued by the Taylor series of `backprop_ref.fast._series` where its guard
allows, else by the exact forward pass from the changed column upward (see
`backprop_ref.fast.objective`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from backprop_ref import holomorphic
from backprop_ref._types import FloatArray, Layer
from backprop_ref.fast import _series
from backprop_ref.fast._batch_costs import BatchCost, batch_cost
from backprop_ref.losses import NetworkFunctions, decay_term, holomorphic_decay_term

__all__ = ["State", "costs", "state"]

_SERIES_BYTES = 1 << 26
"""Largest precomputed tensor of a hidden series (K_MAX · s_{l+1} · s_{l+3} · m values)."""

_Series = _series.HiddenSeries | _series.OutputSeries | None


class State(NamedTuple):
    """The network at x, in one dtype: what every move reuses. Arrays are units × examples."""

    functions: NetworkFunctions
    batch_cost: BatchCost
    needs_output: bool
    analytic: bool
    layers: list[Layer]
    inputs_t: list[FloatArray]
    """A(l)ᵀ per layer's input, (s_l, m): rows are the columns a weight move scales."""
    outputs_t: list[FloatArray]
    """f(Z(l+1))ᵀ per hidden layer, (s_{l+1}, m)."""
    z_t: list[FloatArray]
    """Z(l+1)ᵀ per layer, (s_{l+1}, m)."""
    targets: FloatArray
    """Yᵀ (s_L, m)."""
    total: Any
    """Σ loss at x, in the layers' dtype."""
    series: list[_Series]
    """The Taylor series that serves the moves of each layer's parameters, if any."""
    reach: list[FloatArray]
    """max_s |V[s, i]| per row i of each layer: the size of Δ is max|c| times this."""
    decay: float
    base_decay: Any


def _finish(st: State, z: Any) -> Any:
    """Σ loss per move (n,) from the moved Z(L) (n, s_L, m); z is overwritten."""
    if st.functions.output.name == "softmax":
        z, y = z.swapaxes(1, 2), st.targets.T
    else:
        y = st.targets
    a = st.functions.output.function(z, out=z) if st.needs_output else z
    return st.batch_cost(z, a, y)


def _upward(st: State, k: int, z: Any) -> Any:
    """Σ loss per move from the moved Z(k+2) (n, s_{k+2}, m), through the layers above."""
    for W, b in st.layers[k + 1 :]:
        a = st.functions.hidden.function(z, out=z)
        z = W @ a
        z += b[:, None]
    return _finish(st, z)


def _plan(
    functions: NetworkFunctions, layers: list[Layer], a_t: list[FloatArray], z_out: Any,
    y: FloatArray, total: float, eps: float,
) -> list[_Series]:
    """The series for each layer's moves (real parts of the arrays at x)."""
    L, m = len(layers), y.shape[0]
    plan: list[_Series] = []
    for k in range(L):
        if k == L - 1 or k == L - 2:
            V = np.eye(y.shape[1], dtype=y.dtype) if k == L - 1 else layers[L - 1].W.real
            a = functions.output.function(z_out.real.T.copy())
            plan.append(_series.output_series(functions.loss.name, functions.output.name, a,
                                              y, V, total, eps))
            continue
        W, W_next = layers[k + 1].W.real, layers[k + 2].W.real
        size = _series.K_MAX * W.shape[1] * W_next.shape[0] * m * W.itemsize
        smooth = functions.hidden.name in _series.SMOOTH
        plan.append(_series.hidden_series(functions.hidden.name, a_t[k + 2].real.T, W, W_next,
                                          eps) if size <= _SERIES_BYTES and smooth else None)
    feeds, loss = (plan[L - 3] if L >= 3 else None), plan[L - 1]
    if isinstance(feeds, _series.HiddenSeries) and isinstance(loss, _series.OutputSeries):
        plan[L - 3] = feeds._replace(composed=_series.compose(feeds, loss))
    return plan


def state(
    functions: NetworkFunctions, layers: list[Layer], X: FloatArray, Y: FloatArray,
    decay: float, *, analytic: bool, series: bool = True,
) -> State:
    """Run the forward pass once at x (analytic forms for complex layers) and keep it;
    ``series=False`` sends every move down the exact path."""
    if analytic:
        functions = holomorphic.holomorphic_functions(functions)
    inputs_t, z_t, a = [], [], X
    for k, (W, b) in enumerate(layers):
        inputs_t.append(np.ascontiguousarray(a.T))
        z = a @ W.T
        z += b
        z_t.append(np.ascontiguousarray(z.T))
        a = (functions.output if k == len(layers) - 1 else functions.hidden).function(z)
    cost, needs_output = batch_cost(functions, analytic)
    dterm = (holomorphic_decay_term if analytic else decay_term)(layers, decay)
    st = State(functions, cost, needs_output, analytic, layers, inputs_t, inputs_t[1:], z_t,
                np.ascontiguousarray(Y.T), None, [], [], decay, dterm)
    total = _finish(st, z_t[-1][None].copy())[0]
    eps = float(np.finfo(z_t[-1].real.dtype).eps)
    plan = _plan(functions, layers, inputs_t, z_t[-1], Y, float(np.real(total)), eps)
    plan = plan if series else [None] * len(layers)
    reach = [np.abs(W.real).max(axis=0) for W, _ in layers[1:]]
    reach.append(np.ones(layers[-1].W.shape[0], dtype=X.dtype))
    return st._replace(total=total, series=plan, reach=reach)


def _exact_costs(st: State, k: int, rows: npt.NDArray[np.intp], change: Any) -> Any:
    """Σ loss per move by the exact forward pass (change: Z(L) column, or ΔA(k+2) column)."""
    n = len(rows)
    if k == len(st.layers) - 1:  # an output unit moved: copy Z(L), change one row
        z = np.repeat(st.z_t[k][None], n, axis=0)  # (n, s_L, m)
        z[np.arange(n), rows] += change
        return _finish(st, z)
    # the rank-one update ΔA(k+2)[:, i] ⊗ W(k+2)[:, i] of Z(k+3), then upward
    z = st.layers[k + 1].W.T[rows][:, :, None] * change[:, None, :]  # (n, s_{k+3}, m)
    z += st.z_t[k + 1]
    return _upward(st, k + 1, z)


def _hidden_costs(
    st: State, k: int, series: _series.HiddenSeries, rows: npt.NDArray[np.intp], change: Any,
    chosen: npt.NDArray[np.intp], K: int, out: Any,
) -> None:
    """out[chosen]: the hidden series of order K, composed with the loss's where it may be."""
    composed = series.composed
    if composed is not None:
        powers = np.abs(change[chosen]).max(axis=1)[None, :] ** np.arange(1, K + 1)[:, None]
        size = np.einsum("pt,pt->t", powers, composed.peaks[:K, rows[chosen]])
        limits = composed.complex_limits if st.analytic else composed.limits
        order = _series.orders(size, limits)
        quadratic = (order > 0) & (order <= 2)
        if quadratic.any():
            part = chosen[quadratic]
            out[part] = st.total + _series.composed_change(composed, rows[part], change[part], K)
            chosen = chosen[~quadratic]
    if chosen.size:
        dz = _series.hidden_change(series, rows[chosen], change[chosen], K)
        dz += st.z_t[k + 2]
        out[chosen] = _upward(st, k + 2, dz)


def _data_costs(
    st: State, k: int, rows: npt.NDArray[np.intp], column: Any, chunk: int
) -> Any:
    """Σ loss per move (n,), where move t sets column ``rows[t]`` of Z(k+2) to ``column[t]``.

    Moves whose change is small enough for the layer's series (see `_series`) take it; the
    others take the exact path, ``chunk`` moves at a time.
    """
    if k == len(st.layers) - 1:
        change = column - st.z_t[k][rows]
    else:
        change = st.functions.hidden.function(column, out=column)
        change -= st.outputs_t[k][rows]  # ΔA(k+2)[:, rows] (n, m)
    out = np.empty(len(rows), dtype=change.dtype)
    exact = np.arange(len(rows))
    series = st.series[k]
    if series is not None:
        size = np.abs(change).max(axis=1) * st.reach[k][rows]
        order = _series.orders(size, series.complex_limits if st.analytic else series.limits)
        chosen, exact = np.flatnonzero(order), np.flatnonzero(order == 0)
        if chosen.size:
            K = int(order.max())
            if isinstance(series, _series.OutputSeries):
                moved = st.total + _series.output_change(series, rows[chosen], change[chosen], K)
                out[chosen] = moved
            else:
                _hidden_costs(st, k, series, rows, change, chosen, K, out)
    for lo in range(0, len(exact), chunk):
        part = exact[lo : lo + chunk]
        out[part] = _exact_costs(st, k, rows[part], change[part])
    return out


def costs(
    st: State, leaf: int, local: npt.NDArray[np.intp], delta: Any, chunk: int
) -> Any:
    """J per move of element ``local[t]`` of leaf ``leaf`` (W(1), b(1), W(2), ...) by delta[t]."""
    k = leaf // 2
    W = st.layers[k].W
    m = st.targets.shape[1]
    if leaf % 2 == 0:  # W(k+1)[i, j] += δ: Z(k+2)[:, i] += δ A(k+1)[:, j]
        rows, cols = np.divmod(local, W.shape[1])
        column = st.inputs_t[k][cols] * delta[:, None]
        w = W[rows, cols]
        extra = st.decay * (w * delta + 0.5 * delta * delta)  # (c/2)((w + δ)² − w²)
    else:  # b(k+1)[i] += δ: Z(k+2)[:, i] += δ
        rows = local
        column = np.repeat(delta[:, None], m, axis=1)
        extra = np.zeros_like(delta)
    column += st.z_t[k][rows]
    return _data_costs(st, k, rows, column, chunk) / m + (st.base_decay + extra)
