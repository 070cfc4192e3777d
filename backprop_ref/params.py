"""Unrolling: all the parameters of a network as one vector, and back.

The order is W(1), b(1), W(2), b(2), ..., each array in C (row-major) order, so that θ has
Σ_l s_{l+1}(s_l + 1) entries. A gradient in the form of the parameters unrolls the same way.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import numpy.typing as npt

from backprop_ref._types import FloatArray, Layer
from backprop_ref._validate import check_float_array, check_layers
from backprop_ref.network import MLP, ParamsLike

__all__ = ["flatten", "unflatten"]


def flatten(params: ParamsLike) -> FloatArray:
    """Unroll a list of (W, b) layers into one 1-D vector θ.

        Parameters
        ----------
        params : list of Layer
            W(l) of shape (s_{l+1}, s_l) and b(l) of shape (s_{l+1},), float32 or float64 (one
            dtype for all). Their shapes are not checked against a network here.

        Returns
        -------
        array of shape (n,)
            W(1), b(1), W(2), b(2), ... each in C order, n the total size; a new array of the
            parameters' dtype.

        Raises
        ------
        TypeError
            ``params`` not a list of (W, b) pairs of float arrays sharing one dtype.
        ValueError
            ``params`` empty.

        Examples
        --------
        >>> from itertools import pairwise

    import numpy as np
        >>> W, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([5.0, 6.0])  # W: (2, 2), b: (2,)
        >>> flatten([(W, b)])
        array([1., 2., 3., 4., 5., 6.])
    """
    layers = check_layers(params)
    return np.concatenate([array.ravel() for layer in layers for array in layer])


def unflatten(theta: npt.ArrayLike, mlp: MLP) -> list[Layer]:
    """Roll a vector θ back into the (W, b) layers of ``mlp``; the inverse of `flatten`.

        Parameters
        ----------
        theta : array of shape (n,)
            float32 or float64, n = Σ_l s_{l+1}(s_l + 1) for ``mlp.layer_sizes``.
        mlp : MLP
            The network whose shapes to use.

        Returns
        -------
        list of Layer
            W(l) of shape (s_{l+1}, s_l) and b(l) of shape (s_{l+1},), copies in the dtype of θ.

        Raises
        ------
        TypeError
            ``theta`` not a float array, ``mlp`` not an MLP.
        ValueError
            ``theta`` not 1-D, or not of length n.

        Examples
        --------
        >>> from itertools import pairwise

    import numpy as np
        >>> mlp = MLP([2, 3, 1])
        >>> theta = np.arange(13.0)  # (13,) = 3·2 + 3 + 1·3 + 1
        >>> params = unflatten(theta, mlp)
        >>> params[1]
        Layer(W=array([[ 9., 10., 11.]]), b=array([12.]))
        >>> bool(np.array_equal(flatten(params), theta))
        True
    """
    if not isinstance(mlp, MLP):
        raise TypeError(f"`mlp` must be an MLP, got {type(mlp).__name__}")
    vector = check_float_array("theta", theta)
    pairs = list(pairwise(mlp.layer_sizes))
    n = sum(n_out * (n_in + 1) for n_in, n_out in pairs)
    if vector.shape != (n,):
        raise ValueError(
            f"`theta` has shape {vector.shape}; expected ({n},): the {n} parameters of "
            f"layer_sizes {mlp.layer_sizes}"
        )
    layers = []
    start = 0
    for n_in, n_out in pairs:
        W = vector[start : start + n_out * n_in].reshape(n_out, n_in).copy()
        start += n_out * n_in
        b = vector[start : start + n_out].copy()
        start += n_out
        layers.append(Layer(W, b))
    return layers
