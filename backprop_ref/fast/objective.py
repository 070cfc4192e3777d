"""The cost of an MLP on fixed data as a function object with a structure-aware evaluator.

A finite-difference check moves one parameter at a time. Moving W(l)[i, j] by h changes only
column i of Z(l+1), by h·A(l)[:, j] (a bias b(l)[i]: by h); in a hidden layer that column goes
through f to a change ΔA(l+1)[:, i], which reaches Z(l+2) as the rank-one update
ΔA(l+1)[:, i] ⊗ W(l+1)[:, i]; everything below layer l+1 is unchanged. `StructuredEvaluator`
keeps the unperturbed A(l) and Z(l) and evaluates all the moves of one parameter array at once,
as a batch of (m, s) arrays pushed from Z(l+2) to the cost, in blocks of at most
``block_bytes``. The weight decay of a moved weight is D + c(w h + h²/2), exact from D.

Exact path, per move: the forward pass above layer l+1, m Σ_{k > l+1} s_k s_{k+1}, instead of
the whole forward pass. Where the change is tiny (central and complex steps) the smooth
activations (sigmoid, tanh, identity) and losses are replaced by truncated Taylor series,
exact to a hundredth of the rounding of the exact path under a guard on the size of each move
(`backprop_ref.fast._series`): the activation of layer l+2 becomes K precomputed (m, s_{l+3})
matrices per unit, the output activation and elementwise loss a polynomial of degree ≤ 2K in
the moved column per example, so a move below the output costs O(K m) after a one-off
precomputation. Moves the guard refuses (Richardson's big base steps, relu, softmax) take the
exact path.

The evaluator follows the contract of ``gradcheck.evaluators.Evaluator`` (gradcheck is not
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

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from backprop_ref import vectorized
from backprop_ref._types import FloatArray, Layer, ParamsLike
from backprop_ref._validate import check_inputs, check_int, check_params, check_targets
from backprop_ref.fast._moves import State, costs, state
from backprop_ref.fast._network import Network
from backprop_ref.fast._series import HiddenSeries

__all__ = ["BLOCK_BYTES", "Objective", "StructuredEvaluator"]

BLOCK_BYTES = 1 << 22
"""Default bound on one batch of moved activations (4 MiB, about the L2 cache of a core)."""

_EPS64 = float(np.finfo(np.float64).eps)

class StructuredEvaluator:
    """f(x + δ e_k) of an `Objective`, computed from the unperturbed network (see module).

    Follows the evaluator contract of ``gradcheck.evaluators``: ``at_x()``, ``along(index,
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
        self._real: State | None = None
        self._complex: State | None = None
        self._count = 0
        self._series = True  # False: the exact path for every move (for tests)

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

    def _state(self, layers: list[Layer], *, analytic: bool) -> State:
        """The unperturbed network in the dtype of ``layers``."""
        ob = self._objective
        X, Y = ob.X.astype(self._dtype), ob.Y.astype(self._dtype)
        return state(ob.mlp._functions, layers, X, Y, ob.decay, analytic=analytic,
                      series=self._series)

    def _along(self, st: State, index: Any, delta: Any, out_dtype: Any) -> Any:
        """Values at every move, leaf by leaf and block by block."""
        index = np.asarray(index, dtype=np.intp)
        out = np.empty(len(index), dtype=out_dtype)
        leaf_of = np.searchsorted(self._ends, index, side="right")
        starts = np.concatenate([[0], self._ends])
        m = st.targets.shape[1]
        budget = max(1, self._objective.block_bytes // (m * delta.itemsize))
        for leaf in np.unique(leaf_of):
            chosen = np.flatnonzero(leaf_of == leaf)
            k = int(leaf) // 2
            exact = max(W.shape[0] for W, _ in st.layers[k:])  # rows of the widest batch array
            series = st.series[k]
            if isinstance(series, HiddenSeries):
                width = max([W.shape[0] for W, _ in st.layers[k + 2 :]] + [1])
            else:
                width = exact if series is None else 1
            size, chunk = max(1, budget // width), max(1, budget // exact)
            for lo in range(0, len(chosen), size):
                part = chosen[lo : lo + size]
                out[part] = costs(st, int(leaf), index[part] - starts[leaf], delta[part], chunk)
        self._count += len(index)
        return out


class Objective:
    """J(params) = `MLP.cost`(params, X, Y) for fixed X and Y, with a structure-aware evaluator.

    Made by `MLP.objective`; calling it is `MLP.cost`. ``gradcheck.check_gradient`` and
    ``gradcheck.numerical_gradient`` recognise its ``gradcheck_evaluator`` method and compute
    the same finite differences (same steps, same formulas) as for ``lambda p: mlp.cost(p, X,
    Y)``, to rounding, far faster (see `backprop_ref.fast.objective`).

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
        self, mlp: Network, X: npt.ArrayLike, Y: npt.ArrayLike, *, block_bytes: int = BLOCK_BYTES
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
        """J(params): `MLP.cost`(params, X, Y) (complex params give a complex value).

        Only ``params`` is validated: X and Y were, once, when the objective was made.
        """
        layers, X, Y = self.mlp._on_data(params, self.X, self.Y, complex_ok=True)
        return self.mlp._cost(layers, X, Y, self.decay)

    def gradient(self, params: ParamsLike) -> list[Layer]:
        """∂J/∂params by vectorized backpropagation (`MLP.cost_and_gradient`)."""
        layers, X, Y = self.mlp._on_data(params, self.X, self.Y)
        functions = self.mlp._functions
        return vectorized.cost_and_gradient(functions, layers, X, Y, decay=self.decay)[1]

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
