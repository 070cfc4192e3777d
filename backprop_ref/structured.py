"""The cost of an MLP on fixed data as a function object with a structure-aware evaluator.

A finite-difference check moves one parameter at a time. Moving W(l)[i, j] by h changes only
column i of Z(l+1), by h·A(l)[:, j] (a bias b(l)[i]: by h); in a hidden layer that column goes
through f to a change ΔA(l+1)[:, i], which reaches Z(l+2) as the rank-one update
ΔA(l+1)[:, i] ⊗ W(l+1)[:, i]; everything below layer l+1 is unchanged. `StructuredEvaluator`
keeps the unperturbed A(l) and Z(l) and evaluates all the moves of one parameter array at once,
as a batch of (m, s) arrays pushed from Z(l+2) to the cost, in blocks of at most
``block_bytes``. The weight decay of a moved weight is D + c(w h + h²/2), exact from D.

Cost, with n_l moves of layer l's parameters: a move of the output layer's costs about m·s_L
(its cost and output activation), a move one layer below m·s_{L−1}·s_L more, and in general the
forward pass above layer l+1, m Σ_{k > l+1} s_k s_{k+1}, instead of the whole forward pass.

The evaluator follows the contract of ``gradcheck._evaluate.Evaluator`` (gradcheck is not
imported): the values are those of `MLP.cost` at the moved points, to rounding; ``at_x`` is
`MLP.cost` itself. The complex step is batched the same way, with the analytic (holomorphic)
forms of the activations and losses of `backprop_ref.holomorphic`.

Examples
--------
>>> import numpy as np
>>> from backprop_ref import MLP
>>> mlp = MLP([3, 4, 2], weight_decay=0.1)
>>> params = mlp.init_params(rng=0, scale=0.5)
>>> X, Y = np.random.default_rng(1).random((5, 3)), np.ones((5, 2))
>>> objective = mlp.objective(X, Y)
>>> objective(params) == mlp.cost(params, X, Y)
True
>>> leaves = [a for layer in params for a in layer]
>>> ev = objective.gradcheck_evaluator(leaves, None, ())
>>> moved = ev.along(np.array([0, 21]), np.array([1e-3, -1e-3]))  # W(1)[0, 0], b(2)[1]
>>> params[0].W[0, 0] += 1e-3
>>> bool(np.isclose(moved[0], mlp.cost(params, X, Y), rtol=1e-14))
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from backprop_ref import holomorphic
from backprop_ref._types import FloatArray, Layer
from backprop_ref._validate import check_inputs, check_int, check_params, check_targets
from backprop_ref.activations import holomorphic_log_softmax, log_softmax
from backprop_ref.losses import (
    NetworkFunctions,
    _holomorphic_softplus,
    decay_term,
    holomorphic_decay_term,
)

if TYPE_CHECKING:
    from backprop_ref.network import MLP, ParamsLike

__all__ = ["BLOCK_BYTES", "Objective", "StructuredEvaluator"]

BLOCK_BYTES = 1 << 22
"""Default bound on one batch of moved activations (4 MiB, about the L2 cache of a core)."""

_BatchCost = Callable[[FloatArray, FloatArray, FloatArray], Any]
_EPS64 = float(np.finfo(np.float64).eps)


def _squared(z: FloatArray, a: FloatArray, y: FloatArray) -> Any:
    """Σ ½ (a − y)² per batch item, (n, m, s) → (n,); (a − y)² as a product, analytic."""
    error = a - y
    return 0.5 * np.einsum("bij,bij->b", error, error)


def _sigmoid_cross_entropy(z: FloatArray, a: FloatArray, y: FloatArray) -> Any:
    """Σ log(1 + e^(−|z|)) + |z| (1 − y if z ≥ 0 else y) per batch item (as losses does)."""
    abs_z = np.abs(z)
    terms = np.log1p(np.exp(-abs_z))
    terms += abs_z * np.where(z >= 0, 1.0 - y, y)
    return terms.sum(axis=(1, 2))


def _holomorphic_sigmoid_cross_entropy(
    z: FloatArray, a: FloatArray, y: FloatArray
) -> Any:
    """Σ y softplus(−z) + (1 − y) softplus(z) per batch item, analytic in z."""
    terms = y * _holomorphic_softplus(-z) + (1.0 - y) * _holomorphic_softplus(z)
    return terms.sum(axis=(1, 2))


def _softmax_cross_entropy(z: FloatArray, a: FloatArray, y: FloatArray) -> Any:
    """Σ −y_k log softmax(z)_k per batch item."""
    return -np.einsum("ij,bij->b", y, log_softmax(z))


def _holomorphic_softmax_cross_entropy(
    z: FloatArray, a: FloatArray, y: FloatArray
) -> Any:
    """Σ −y_k log softmax(z)_k per batch item, analytic in z."""
    return -np.einsum("ij,bij->b", y, holomorphic_log_softmax(z))


def _batch_cost(functions: NetworkFunctions, analytic: bool) -> tuple[_BatchCost, bool]:
    """The per-batch-item data cost of the network's loss, and whether it needs a = f(z)."""
    if functions.loss.name == "squared":
        return _squared, True
    if functions.output.name == "softmax":
        return (_holomorphic_softmax_cross_entropy if analytic else _softmax_cross_entropy), False
    return (_holomorphic_sigmoid_cross_entropy if analytic else _sigmoid_cross_entropy), False


class _State(NamedTuple):
    """The network at x, in one dtype: what every move reuses."""

    functions: NetworkFunctions
    batch_cost: _BatchCost
    needs_output: bool
    layers: list[Layer]
    inputs_t: list[FloatArray]
    """A(l)ᵀ per layer's input, (s_l, m): rows are the columns a weight move scales."""
    outputs_t: list[FloatArray]
    """f(Z(l+1))ᵀ per hidden layer, (s_{l+1}, m)."""
    z_t: list[FloatArray]
    """Z(l+1)ᵀ per layer, (s_{l+1}, m)."""
    targets: FloatArray
    decay: float
    base_decay: Any


def _state(
    functions: NetworkFunctions, layers: list[Layer], X: FloatArray, Y: FloatArray,
    decay: float, *, analytic: bool,
) -> _State:
    """Run the forward pass once at x (analytic forms for complex layers) and keep it."""
    if analytic:
        functions = holomorphic.holomorphic_functions(functions)
    inputs_t, z_t, a = [], [], X
    for k, (W, b) in enumerate(layers):
        inputs_t.append(np.ascontiguousarray(a.T))
        z = a @ W.T
        z += b
        z_t.append(np.ascontiguousarray(z.T))
        a = (functions.output if k == len(layers) - 1 else functions.hidden).function(z)
    cost, needs_output = _batch_cost(functions, analytic)
    dterm = (holomorphic_decay_term if analytic else decay_term)(layers, decay)
    return _State(functions, cost, needs_output, layers, inputs_t, inputs_t[1:], z_t, Y,
                  decay, dterm)


def _data_costs(st: _State, k: int, rows: npt.NDArray[np.intp], column: Any) -> Any:
    """Σ loss per move (n,), where move t sets column ``rows[t]`` of Z(k+2) to ``column[t]``."""
    n, m = column.shape
    if k == len(st.layers) - 1:  # an output unit moved: copy Z(L), replace one column
        z = np.repeat(st.z_t[k].T[None], n, axis=0)  # (n, m, s_L)
        z[np.arange(n)[:, None], np.arange(m), rows[:, None]] = column
    else:  # the rank-one update ΔA(k+2)[:, i] ⊗ W(k+2)[:, i] of Z(k+3), then upward
        change = st.functions.hidden.function(column, out=column)
        change -= st.outputs_t[k][rows]  # (n, m)
        z = change[:, :, None] * st.layers[k + 1].W.T[rows][:, None, :]  # (n, m, s_{k+3})
        z += st.z_t[k + 1].T
        for W, b in st.layers[k + 2 :]:
            a = st.functions.hidden.function(z, out=z)
            z = a @ W.T
            z += b
    a = st.functions.output.function(z.copy()) if st.needs_output else z
    return st.batch_cost(z, a, st.targets)


def _costs(st: _State, leaf: int, local: npt.NDArray[np.intp], delta: Any) -> Any:
    """J per move of element ``local[t]`` of leaf ``leaf`` (W(1), b(1), W(2), ...) by delta[t]."""
    k = leaf // 2
    W = st.layers[k].W
    m = st.targets.shape[0]
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
    return _data_costs(st, k, rows, column) / m + (st.base_decay + extra)


class StructuredEvaluator:
    """f(x + δ e_k) of an `Objective`, computed from the unperturbed network (see module).

    Follows the evaluator contract of ``gradcheck._evaluate``: ``at_x()``, ``along(index,
    shift)``, ``along_imaginary(index, shift)``, ``n_evaluations``, ``result_eps``. The
    coordinates k = 0..P−1 run over W(1), b(1), W(2), b(2), ..., each in C order (the flatten
    order of a list of Layer or of (W, b) pairs). The leaves are copied: the caller's arrays
    are never read again nor changed.
    """

    def __init__(self, objective: Objective, leaves: Sequence[npt.ArrayLike]) -> None:
        mlp = objective.mlp
        n = 2 * (len(mlp.layer_sizes) - 1)
        if len(leaves) != n:
            raise ValueError(
                f"`x` has {len(leaves)} array(s); an Objective of layer_sizes "
                f"{mlp.layer_sizes} takes {n}: W(1), b(1), W(2), b(2), ... in this order"
            )
        pairs = [Layer(np.array(leaves[i], copy=True), np.array(leaves[i + 1], copy=True))
                 for i in range(0, n, 2)]
        self._objective = objective
        self._layers = check_params(pairs, mlp.layer_sizes)
        self._dtype = self._layers[0].W.dtype
        sizes = [a.size for layer in self._layers for a in layer]
        self._ends = np.cumsum(sizes)
        self._real: _State | None = None
        self._complex: _State | None = None
        self._count = 0

    @property
    def n_evaluations(self) -> int:
        """How many values of f have been computed (one per point, batched or not)."""
        return self._count

    @property
    def result_eps(self) -> float:
        """The epsilon of the values returned: float64's, as `MLP.cost` returns a float."""
        return _EPS64 if self._count else 0.0

    def at_x(self) -> float:
        """f(x): `MLP.cost` itself."""
        self._count += 1
        value: float = self._objective(self._layers)
        return value

    def along(self, index: npt.NDArray[np.intp], shift: npt.NDArray[np.float64]) -> Any:
        """f(x + shift[j] e_index[j]) for each j, float64 of shape (len(index),)."""
        if self._real is None:
            self._real = self._state(self._layers, analytic=False)
        return self._along(self._real, index, np.asarray(shift).astype(self._dtype), np.float64)

    def along_imaginary(self, index: npt.NDArray[np.intp], shift: npt.NDArray[np.float64]) -> Any:
        """f(x + i shift[j] e_index[j]) for each j, complex128 of shape (len(index),)."""
        ctype = np.result_type(self._dtype, np.complex64)
        if self._complex is None:
            layers = [Layer(W.astype(ctype), b.astype(ctype)) for W, b in self._layers]
            self._complex = self._state(layers, analytic=True)
        delta = 1j * np.asarray(shift).astype(self._dtype).astype(ctype)
        return self._along(self._complex, index, delta, np.complex128)

    def _state(self, layers: list[Layer], *, analytic: bool) -> _State:
        """The unperturbed network in the dtype of ``layers``."""
        ob = self._objective
        X, Y = ob.X.astype(self._dtype), ob.Y.astype(self._dtype)
        return _state(ob.mlp._functions, layers, X, Y, ob.decay, analytic=analytic)

    def _along(self, st: _State, index: Any, delta: Any, out_dtype: Any) -> Any:
        """Values at every move, leaf by leaf and block by block."""
        index = np.asarray(index, dtype=np.intp)
        out = np.empty(len(index), dtype=out_dtype)
        leaf_of = np.searchsorted(self._ends, index, side="right")
        starts = np.concatenate([[0], self._ends])
        m = st.targets.shape[0]
        jobs = []
        for leaf in np.unique(leaf_of):
            chosen = np.flatnonzero(leaf_of == leaf)
            width = max(W.shape[0] for W, _ in st.layers[leaf // 2 :])
            size = max(1, self._objective.block_bytes // (m * width * delta.itemsize))
            jobs += [(int(leaf), chosen[lo : lo + size]) for lo in range(0, len(chosen), size)]

        def run(job: tuple[int, npt.NDArray[np.intp]]) -> None:
            leaf, part = job
            out[part] = _costs(st, leaf, index[part] - starts[leaf], delta[part])
        for job in jobs:
            run(job)
        self._count += len(index)
        return out


class Objective:
    """J(params) = `MLP.cost`(params, X, Y) for fixed X and Y, with a structure-aware evaluator.

    Made by `MLP.objective`; calling it is `MLP.cost`. ``gradcheck.check_gradient`` and
    ``gradcheck.numerical_gradient`` recognise its ``gradcheck_evaluator`` method and compute
    the same finite differences (same steps, same formulas) as for ``lambda p: mlp.cost(p, X,
    Y)``, to rounding, far faster (see `backprop_ref.structured`).

    Parameters
    ----------
    mlp : MLP
    X : array of shape (m, s_1)
    Y : array of shape (m, s_L)
        Validated once, here, as `MLP.cost` does; kept as float64 copies.
    block_bytes : int
        Bound on the size of one batch of moved activations, in bytes (>= 1).

    Examples
    --------
    >>> import numpy as np
    >>> import gradcheck
    >>> from backprop_ref import MLP
    >>> mlp = MLP([4, 8, 3], activation="tanh", output_activation="softmax",
    ...           loss="cross_entropy", weight_decay=1e-3)
    >>> params = mlp.init_params(rng=0, scale=0.5)
    >>> X, Y = np.random.default_rng(1).random((6, 4)), np.eye(3)[[0, 1, 2, 0, 1, 2]]
    >>> objective = mlp.objective(X, Y)
    >>> gradcheck.check_gradient(objective, params, objective.gradient).passed
    True
    """

    def __init__(
        self, mlp: MLP, X: npt.ArrayLike, Y: npt.ArrayLike, *, block_bytes: int = BLOCK_BYTES
    ) -> None:
        inputs = check_inputs(X, mlp.layer_sizes[0], np.dtype(np.float64))
        m = inputs.shape[0]
        shape = (m, mlp.layer_sizes[-1])
        targets = check_targets(Y, shape, np.dtype(np.float64), unit=mlp.loss == "cross_entropy")
        self.mlp = mlp
        self.X: FloatArray = inputs.copy()
        self.Y: FloatArray = targets.copy()
        self.block_bytes = check_int("block_bytes", block_bytes, minimum=1)
        coursera = mlp.decay_convention == "coursera"
        self.decay = mlp.weight_decay / m if coursera else mlp.weight_decay
        """c in D = (c/2) Σ‖W‖²: λ, or λ/m for the "coursera" convention."""

    def __repr__(self) -> str:
        return f"Objective({self.mlp!r}, m={self.X.shape[0]})"

    def __call__(self, params: ParamsLike) -> Any:
        """J(params): `MLP.cost`(params, X, Y) (complex params give a complex value)."""
        return self.mlp.cost(params, self.X, self.Y)

    def gradient(self, params: ParamsLike) -> list[Layer]:
        """∂J/∂params by vectorized backpropagation (`MLP.cost_and_gradient`)."""
        return self.mlp.cost_and_gradient(params, self.X, self.Y)[1]

    def gradcheck_evaluator(
        self, leaves: Sequence[npt.ArrayLike], treedef: object, args: tuple[Any, ...]
    ) -> StructuredEvaluator:
        """The evaluator gradcheck uses in place of calling this object once per point.

        ``leaves`` are W(1), b(1), W(2), ... (``treedef`` is not needed); ``args`` must be
        empty: the objective takes no extra arguments. Raises TypeError or ValueError as
        `MLP.cost` does for bad parameters.
        """
        if args:
            raise TypeError(
                f"`args` has {len(args)} item(s); an Objective takes params only (X and Y "
                "are fixed when it is made)"
            )
        return StructuredEvaluator(self, leaves)
