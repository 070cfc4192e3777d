"""The multilayer perceptron: forward pass, cost, and backpropagation written twice.

Notation of the sources, with one example a row: layers 1..L of sizes s_1..s_L; in the code,
``params[k]`` is (W(k+1), b(k+1)) and list index k stands for layer k + 1. The vectorized methods
carry arrays of m rows; the per-example loop carries 1-D vectors, as the tutorial does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from backprop_ref import fast, holomorphic, loop, vectorized
from backprop_ref._types import FloatArray, Layer, ParamsLike
from backprop_ref._validate import (
    LayerShapes,
    check_choice,
    check_inputs,
    check_layer_sizes,
    check_params,
    check_real,
    check_rng,
    check_targets,
    fast_checked,
    layer_shapes,
)
from backprop_ref.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from backprop_ref.losses import LOSSES, NetworkFunctions, make_loss

__all__ = ["MLP", "ParamsLike"]

DECAY_CONVENTIONS: tuple[str, ...] = ("coursera", "ufldl")


@dataclass(frozen=True, init=False)
class MLP:
    """A fully connected network with the cost and gradient of the source documents.

    Parameters
    ----------
    layer_sizes : sequence of int
        s_1, ..., s_L: the units of each layer, input layer first; at least 2 layers of 1 unit.
    activation : str
        f of the hidden layers: ``"sigmoid"``, ``"tanh"``, ``"relu"`` or ``"identity"``.
    output_activation : str
        f of the output layer: one of those, or ``"softmax"``.
    loss : str
        ``"squared"``: ½‖h(x) − y‖² per example. ``"cross_entropy"``: needs a ``"sigmoid"``
        output (K independent classes) or a ``"softmax"`` output (one class per example).
    weight_decay : float
        λ >= 0.
    decay_convention : str
        ``"ufldl"``: D = (λ/2) Σ_l ‖W(l)‖² (the tutorial page); ``"coursera"``:
        D = (λ/(2m)) Σ_l ‖W(l)‖² (the course notes). Biases are never decayed.

    Attributes
    ----------
    layer_sizes : tuple of int
    activation, output_activation, loss, decay_convention : str
    weight_decay : float

    Raises
    ------
    TypeError
        A layer size that is not an int, a name that is not a str, λ that is not a real number.
    ValueError
        Fewer than 2 layers, a size below 1, an unknown name, ``"softmax"`` as the hidden
        activation, cross-entropy without a sigmoid or softmax output, λ < 0 or not finite.

    Notes
    -----
    J = (1/m) Σ_i loss(h(x_i), y_i) + D, where the loss is ½‖h − y‖², or
    −Σ_k [y log h + (1 − y) log(1 − h)] for sigmoid outputs, or −Σ_k y_k log h_k for softmax.
    Cross-entropy targets must lie in [0, 1]; with softmax a row of targets need not sum to 1,
    and the gradient is exact for the cost as written (δ(L) = h Σ_k y_k − y, which is h − y for
    a distribution). Squared error with a softmax output goes through the softmax Jacobian.
    The methods compute in the dtype of ``params`` (float32 or float64, one for all arrays),
    converting ``X`` and ``Y`` to it; the gradients have that dtype and the cost is a float.

    Examples
    --------
    >>> MLP([2, 3, 1], loss="cross_entropy", weight_decay=1e-3)  # doctest: +NORMALIZE_WHITESPACE
    MLP(layer_sizes=(2, 3, 1), activation='sigmoid', output_activation='sigmoid',
        loss='cross_entropy', weight_decay=0.001, decay_convention='ufldl')
    """

    layer_sizes: tuple[int, ...]
    activation: str
    output_activation: str
    loss: str
    weight_decay: float
    decay_convention: str
    _functions: NetworkFunctions = field(init=False, repr=False, compare=False)
    _shapes: LayerShapes = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        layer_sizes: Sequence[int],
        *,
        activation: str = "sigmoid",
        output_activation: str = "sigmoid",
        loss: str = "squared",
        weight_decay: float = 0.0,
        decay_convention: str = "ufldl",
    ) -> None:
        if isinstance(activation, str) and activation == "softmax":
            raise ValueError(
                "`activation` is 'softmax', which couples the units of a layer and is allowed "
                "only as `output_activation`"
            )
        hidden = ACTIVATIONS[check_choice("activation", activation, HIDDEN_ACTIVATIONS)]
        output = ACTIVATIONS[
            check_choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
        ]
        fields = {
            "layer_sizes": check_layer_sizes(layer_sizes),
            "activation": activation,
            "output_activation": output_activation,
            "loss": check_choice("loss", loss, LOSSES),
            "weight_decay": check_real("weight_decay", weight_decay, positive=False),
            "decay_convention": check_choice(
                "decay_convention", decay_convention, DECAY_CONVENTIONS
            ),
            "_functions": NetworkFunctions(hidden, output, make_loss(loss, output)),
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_shapes", layer_shapes(self.layer_sizes))

    def init_params(
        self, rng: int | np.random.Generator | None = None, scale: float = 0.01
    ) -> list[Layer]:
        """Draw every weight and bias from Normal(0, scale²), which breaks the symmetry.

        Parameters
        ----------
        rng : None, int or numpy.random.Generator
            The source of randomness: a seed (>= 0) gives the same parameters every time, a
            Generator is drawn from (and advanced), None uses fresh entropy.
        scale : float
            The standard deviation ε > 0 (the tutorial suggests 0.01).

        Returns
        -------
        list of Layer
            ``Layer(W, b)`` per layer l = 1..L−1, W of shape (s_{l+1}, s_l) and b of shape
            (s_{l+1},), float64, drawn in the order W(1), b(1), W(2), b(2), ...

        Raises
        ------
        TypeError
            ``rng`` of another type, ``scale`` not a real number.
        ValueError
            A negative seed; ``scale`` not finite or not > 0.

        Examples
        --------
        >>> params = MLP([2, 3, 1]).init_params(rng=0)
        >>> [(W.shape, b.shape) for W, b in params]
        [((3, 2), (3,)), ((1, 3), (1,))]
        """
        generator = check_rng(rng)
        std = check_real("scale", scale, positive=True)
        return [
            Layer(generator.normal(0.0, std, (n_out, n_in)), generator.normal(0.0, std, n_out))
            for n_in, n_out in pairwise(self.layer_sizes)
        ]

    def predict(self, params: ParamsLike, X: npt.ArrayLike) -> FloatArray:
        """The network's output h(X) = A(L), by Z(l+1) = A(l) W(l)ᵀ + b(l), A(l+1) = f(Z(l+1)).

        Parameters
        ----------
        params : list of Layer
            W(l) of shape (s_{l+1}, s_l) and b(l) of shape (s_{l+1},), as from `init_params`.
        X : array of shape (m, s_1)
            One example a row.

        Returns
        -------
        array of shape (m, s_L)
            In the dtype of ``params``.

        Raises
        ------
        TypeError, ValueError
            As `cost_and_gradient`, for ``params`` and ``X``.

        Examples
        --------
        >>> import numpy as np
        >>> mlp = MLP([2, 3, 2], output_activation="softmax")
        >>> h = mlp.predict(mlp.init_params(rng=0), np.zeros((4, 2)))  # X: (4, 2)
        >>> h.shape, bool(np.allclose(h.sum(axis=1), 1.0))
        ((4, 2), True)
        """
        layers = check_params(params, self.layer_sizes)
        inputs = check_inputs(X, self.layer_sizes[0], layers[0].W.dtype)
        activations, _ = vectorized.forward(self._functions, layers, inputs)
        return activations[-1]

    def cost(self, params: ParamsLike, X: npt.ArrayLike, Y: npt.ArrayLike) -> Any:
        """The cost J(W, b) = (1/m) Σ_i loss(h(x_i), y_i) + D, without its gradient.

        Parameters
        ----------
        params : list of Layer
            W(l) of shape (s_{l+1}, s_l) and b(l) of shape (s_{l+1},); float32 or float64, or
            complex64 or complex128 (one dtype for all).
        X : array of shape (m, s_1)
            One example a row, m >= 1; real.
        Y : array of shape (m, s_L)
            The targets, in [0, 1] for cross-entropy; real.

        Returns
        -------
        float, or complex for complex ``params``

        Raises
        ------
        TypeError, ValueError
            As `cost_and_gradient`; complex parameters are accepted here (finite, like real
            ones), complex X or Y are not.

        Notes
        -----
        Complex parameters: for complex-step differentiation (Im J(θ + ih e_k) / h = ∂J/∂θ_k),
        the cost is then computed by analytic operations only (see `backprop_ref.holomorphic`:
        relu as z · [Re z > 0], branches and shifts chosen by Re z, ΣW² as W·W, never |W|²).
        The gradient methods accept real parameters only.

        Examples
        --------
        >>> import numpy as np
        >>> mlp = MLP([2, 1])
        >>> params = [([[0.0, 0.0]], [0.0])]  # W(1): (1, 2), b(1): (1,); h = σ(0) = 0.5
        >>> mlp.cost(params, np.ones((3, 2)), np.ones((3, 1)))  # X: (3, 2), Y: (3, 1)
        0.125
        >>> h = 1e-20  # the complex step: ∂J/∂b = Im J(b + ih) / h
        >>> complex_params = [(np.zeros((1, 2), complex), np.array([1j * h]))]
        >>> round(mlp.cost(complex_params, np.ones((3, 2)), np.ones((3, 1))).imag / h, 15)
        -0.125
        """
        layers, inputs, targets, decay = self._check(params, X, Y, complex_ok=True)
        return self._cost(layers, inputs, targets, decay)

    def _cost(self, layers: list[Layer], X: FloatArray, Y: FloatArray, decay: float) -> Any:
        """J for validated arguments (real or complex ``layers``)."""
        if np.iscomplexobj(layers[0].W):
            return holomorphic.cost(self._functions, layers, X, Y, decay=decay)
        return vectorized.cost(self._functions, layers, X, Y, decay=decay)

    def cost_and_gradient(
        self, params: ParamsLike, X: npt.ArrayLike, Y: npt.ArrayLike
    ) -> tuple[float, list[Layer]]:
        """J and its gradient by vectorized backpropagation: all m examples at once.

        Parameters
        ----------
        params : list of Layer
            W(l) of shape (s_{l+1}, s_l) and b(l) of shape (s_{l+1},).
        X : array of shape (m, s_1)
        Y : array of shape (m, s_L)

        Returns
        -------
        cost : float
        grads : list of Layer
            ∂J/∂W(l) of shape (s_{l+1}, s_l) and ∂J/∂b(l) of shape (s_{l+1},).

        Raises
        ------
        TypeError
            ``params`` not a list of (W, b) pairs; an array whose dtype is not float32 or
            float64 (integers included); parameters of mixed dtypes.
        ValueError
            A wrong number of layers or a wrong shape (named, as ``params[1].W``); NaN or inf
            in any array; X not (m, s_1) with m >= 1; Y not (m, s_L); cross-entropy targets
            outside [0, 1].

        Notes
        -----
        Δ(L) = ∂J_data/∂Z(L) / m, one row per example; Δ(l) = (Δ(l+1) W(l)) ⊙ f′(Z(l)) down to
        l = 2 (none for the input layer); ∇W(l) = Δ(l+1)ᵀ A(l) + cW(l) with c = λ or λ/m, and
        ∇b(l) = Σ_i Δ(l+1)_i. One matrix product per layer forward and two backward.

        Examples
        --------
        >>> import numpy as np
        >>> mlp = MLP([2, 3, 1], weight_decay=1e-4)
        >>> params = mlp.init_params(rng=0)
        >>> X, Y = np.eye(2), np.ones((2, 1))  # X: (2, 2), Y: (2, 1)
        >>> cost, grads = mlp.cost_and_gradient(params, X, Y)
        >>> [(g.W.shape, g.b.shape) for g in grads]
        [((3, 2), (3,)), ((1, 3), (1,))]
        >>> loop_cost, loop_grads = mlp.cost_and_gradient_loop(params, X, Y)
        >>> bool(np.isclose(cost, loop_cost, rtol=1e-12))
        True
        """
        layers, inputs, targets, decay = self._check(params, X, Y)
        return vectorized.cost_and_gradient(self._functions, layers, inputs, targets, decay=decay)

    def cost_and_gradient_loop(
        self, params: ParamsLike, X: npt.ArrayLike, Y: npt.ArrayLike
    ) -> tuple[float, list[Layer]]:
        """J and its gradient by the tutorial's per-example algorithm, step by step.

        The same parameters, returns and cost as `cost_and_gradient`, which agrees with it to
        rounding; this one is slower and written to be read beside the tutorial. It raises
        TypeError and ValueError for the same bad input.

        Notes
        -----
        1. ΔW(l) := 0, Δb(l) := 0 for every l.
        2. For i = 1..m: forward pass on x_i; δ(L) = ∂J(x_i, y_i)/∂z(L); for l = L−1..2,
           δ(l) = (W(l)ᵀ δ(l+1)) ⊙ f′(z(l)); then ΔW(l) += δ(l+1) a(l)ᵀ and Δb(l) += δ(l+1).
        3. ∇W(l) J = ΔW(l)/m + cW(l) with c = λ or λ/m; ∇b(l) J = Δb(l)/m.

        Examples
        --------
        >>> import numpy as np
        >>> mlp = MLP([2, 1])
        >>> params = [([[0.0, 0.0]], [0.0])]  # W(1): (1, 2), b(1): (1,)
        >>> cost, grads = mlp.cost_and_gradient_loop(params, np.ones((3, 2)), np.ones((3, 1)))
        >>> cost, grads[0].b  # δ = −(1 − 0.5) σ′(0) = −0.125 for every example
        (0.125, array([-0.125]))
        """
        layers, inputs, targets, decay = self._check(params, X, Y)
        return loop.cost_and_gradient_loop(self._functions, layers, inputs, targets, decay=decay)

    def objective(
        self, X: npt.ArrayLike, Y: npt.ArrayLike, *, block_bytes: int = fast.BLOCK_BYTES
    ) -> fast.Objective:
        """The cost on fixed data as a function of ``params`` alone, fast to check numerically.

        Parameters
        ----------
        X : array of shape (m, s_1)
        Y : array of shape (m, s_L)
            Validated once, here, as `cost` validates them.
        block_bytes : int
            Bound on the batch arrays of the structure-aware evaluator, in bytes.

        Returns
        -------
        Objective
            ``objective(params)`` is ``self.cost(params, X, Y)``; ``objective.gradient(params)``
            is the backpropagated gradient. ``gradcheck.check_gradient(objective, params,
            grad)`` moves one parameter at a time reusing the unperturbed activations below
            it (see `backprop_ref.fast`): the same finite differences, to rounding, at a
            fraction of the cost.

        Raises
        ------
        TypeError, ValueError
            As `cost`, for ``X`` and ``Y``; ``block_bytes`` not an int >= 1.

        Examples
        --------
        >>> import numpy as np
        >>> mlp = MLP([2, 3, 1])
        >>> params = mlp.init_params(rng=0)
        >>> X, Y = np.eye(2), np.ones((2, 1))  # X: (2, 2), Y: (2, 1)
        >>> mlp.objective(X, Y)(params) == mlp.cost(params, X, Y)
        True
        """
        return fast.Objective(self, X, Y, block_bytes=block_bytes)

    def _on_data(
        self, params: ParamsLike, X: FloatArray, Y: FloatArray, *, complex_ok: bool = False
    ) -> tuple[list[Layer], FloatArray, FloatArray]:
        """The validated params, and X and Y (validated float64 arrays) in their dtype.

        For `Objective`, which validates its data once: only ``params`` is checked here, by
        `fast_checked` in the common case (real params of the network's shapes, all finite: one
        pass over them and the data, on every call of the objective) and otherwise by
        `check_params`, which names what is wrong.
        """
        checked = fast_checked(params, X, Y, self._shapes, unit=False)  # Y checked before
        if checked is not None:
            return checked
        layers = check_params(params, self.layer_sizes, complex_ok=complex_ok)
        dtype = np.finfo(layers[0].W.dtype).dtype  # float64 for complex128
        return layers, X.astype(dtype, copy=False), Y.astype(dtype, copy=False)

    def _check(
        self, params: ParamsLike, X: npt.ArrayLike, Y: npt.ArrayLike, *, complex_ok: bool = False
    ) -> tuple[list[Layer], FloatArray, FloatArray, float]:
        """The validated params, X and Y in their (real) dtype, and c in D = (c/2) Σ‖W‖²."""
        unit = self.loss == "cross_entropy"
        checked = fast_checked(params, X, Y, self._shapes, unit=unit)
        if checked is None:  # not the common case: the full checks, which name what is wrong
            layers = check_params(params, self.layer_sizes, complex_ok=complex_ok)
            dtype = np.finfo(layers[0].W.dtype).dtype  # float64 for complex128
            inputs = check_inputs(X, self.layer_sizes[0], dtype)
            targets = check_targets(Y, (len(inputs), self.layer_sizes[-1]), dtype, unit=unit)
        else:
            layers, inputs, targets = checked
        m = inputs.shape[0]
        decay = self.weight_decay / m if self.decay_convention == "coursera" else self.weight_decay
        return layers, inputs, targets, decay
