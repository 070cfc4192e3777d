"""The types shared by the modules of backprop_ref: float arrays, the (W, b) of a layer, params."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating[Any]]
"""A float32 or float64 array (the two dtypes the network computes in)."""


class Layer(NamedTuple):
    """The parameters that connect layer l to layer l + 1.

    ``W`` has shape (s_{l+1}, s_l): ``W[i, j]`` connects unit j of layer l to unit i of layer
    l + 1. ``b`` has shape (s_{l+1},). Gradients come in the same form.
    """

    W: FloatArray
    b: FloatArray


ParamsLike = Sequence[tuple[npt.ArrayLike, npt.ArrayLike]]
"""What the methods accept as ``params``: a list of Layer, or of (W, b) pairs."""
