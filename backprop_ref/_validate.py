"""Checks at the public boundary: each returns the value in its working form or raises.

Messages name the argument in backticks, give its value (or shape, or dtype) and the rule.
`fast_checked` passes the common valid case of `MLP`'s methods in a few microseconds; anything
else goes through the full checks, which raise the documented errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from numbers import Integral, Real
from typing import Any

import numpy as np

from backprop_ref._types import FloatArray, Layer

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
COMPLEX_DTYPES = (np.dtype(np.complex64), np.dtype(np.complex128))

LayerShapes = tuple[tuple[tuple[int, int], tuple[int]], ...]
"""The (W shape, b shape) of each layer, as `layer_shapes` gives them."""

_CONCAT_LIMIT = 1 << 14
"""Arrays of at most this many elements in all are tested for finiteness as one copy."""

_SEQUENCES = (list, tuple, Layer)
_NDARRAY = np.ndarray  # one lookup, not two, on the fast path


def _type_name(value: object) -> str:
    return type(value).__name__


def check_choice(name: str, value: object, allowed: Sequence[str]) -> str:
    """``value`` if it is one of the strings ``allowed``."""
    listed = ", ".join(repr(choice) for choice in allowed)
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be a str, one of {listed}; got {_type_name(value)}")
    if value not in allowed:
        raise ValueError(f"`{name}` is {value!r}; expected one of {listed}")
    return value


def check_int(name: str, value: object, *, minimum: int) -> int:
    """``value`` as an int if it is an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"`{name}` must be an int, got {value!r} ({_type_name(value)})")
    if value < minimum:
        raise ValueError(f"`{name}` is {value}; it must be >= {minimum}")
    return int(value)


def check_real(name: str, value: object, *, positive: bool) -> float:
    """``value`` as a float if it is a finite real number, > 0 (``positive``) or >= 0."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"`{name}` must be a real number, got {value!r} ({_type_name(value)})")
    number = float(value)
    bound = "> 0" if positive else ">= 0"
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise ValueError(f"`{name}` is {number!r}; it must be finite and {bound}")
    return number


def check_layer_sizes(value: object) -> tuple[int, ...]:
    """``value`` as a tuple of at least two ints, each at least 1."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(
            "`layer_sizes` must be a sequence of ints (input layer first), "
            f"got {value!r} ({_type_name(value)})"
        )
    if len(value) < 2:
        raise ValueError(
            f"`layer_sizes` is {tuple(value)!r}; a network needs at least 2 layers (input, output)"
        )
    return tuple(check_int(f"layer_sizes[{i}]", size, minimum=1) for i, size in enumerate(value))


def check_float_array(name: str, value: object, *, complex_ok: bool = False) -> FloatArray:
    """``value`` as an ndarray (no copy when it is one) if its dtype is float32 or float64.

    With ``complex_ok``, complex64 and complex128 are accepted too.
    """
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"`{name}` must be an array of floats: {error}") from error
    if complex_ok and array.dtype in COMPLEX_DTYPES:
        return array
    if array.dtype not in FLOAT_DTYPES:
        hint = (
            " (complex parameters are accepted by `MLP.cost` only, for complex-step "
            "differentiation)"
            if array.dtype in COMPLEX_DTYPES
            else ""
        )
        raise TypeError(f"`{name}` has dtype {array.dtype}; expected float32 or float64{hint}")
    return array


def check_finite(name: str, array: FloatArray) -> None:
    """Raise if ``array`` holds NaN or inf."""
    bad = array.size - int(np.count_nonzero(np.isfinite(array)))
    if bad:
        raise ValueError(f"`{name}` contains {bad} NaN or inf value(s); it must be finite")


def check_layers(params: object, *, complex_ok: bool = False) -> list[Layer]:
    """``params`` as a list of Layer of float arrays sharing one dtype; shapes are not checked.

    With ``complex_ok``, complex arrays (complex64 or complex128, one dtype for all) too.
    """
    if isinstance(params, (str, bytes, np.ndarray)) or not isinstance(params, Sequence):
        raise TypeError(f"`params` must be a list of (W, b) layers, got {_type_name(params)}")
    if not params:
        raise ValueError("`params` is empty; a network has at least one (W, b) layer")
    layers = []
    for i, layer in enumerate(params):
        if isinstance(layer, (str, bytes)) or not isinstance(layer, Sequence) or len(layer) != 2:
            raise TypeError(f"`params[{i}]` must be a (W, b) pair, got {_type_name(layer)}")
        W = check_float_array(f"params[{i}].W", layer[0], complex_ok=complex_ok)
        b = check_float_array(f"params[{i}].b", layer[1], complex_ok=complex_ok)
        layers.append(Layer(W, b))
    dtype = layers[0].W.dtype
    for i, layer in enumerate(layers):
        for field, array in zip(Layer._fields, layer, strict=True):
            if array.dtype != dtype:
                raise TypeError(
                    f"`params[{i}].{field}` has dtype {array.dtype}; `params[0].W` has {dtype} "
                    "and all parameters must share one dtype"
                )
    return layers


def check_params(
    params: object, layer_sizes: tuple[int, ...], *, complex_ok: bool = False
) -> list[Layer]:
    """``params`` as a list of finite Layer whose shapes fit ``layer_sizes`` (see check_layers)."""
    layers = check_layers(params, complex_ok=complex_ok)
    if len(layers) != len(layer_sizes) - 1:
        raise ValueError(
            f"`params` has {len(layers)} layer(s); expected {len(layer_sizes) - 1} "
            f"for layer_sizes {layer_sizes}"
        )
    for i, layer in enumerate(layers):
        expected = ((layer_sizes[i + 1], layer_sizes[i]), (layer_sizes[i + 1],))
        for field, array, shape in zip(Layer._fields, layer, expected, strict=True):
            if array.shape != shape:
                raise ValueError(
                    f"`params[{i}].{field}` has shape {array.shape}; expected {shape} "
                    f"for layer_sizes {layer_sizes}"
                )
            check_finite(f"params[{i}].{field}", array)
    return layers


def check_inputs(X: object, n_inputs: int, dtype: np.dtype[Any]) -> FloatArray:
    """``X`` as a finite (m, n_inputs) array of ``dtype``, m >= 1."""
    array = check_float_array("X", X)
    if array.ndim != 2 or array.shape[1] != n_inputs or array.shape[0] < 1:
        raise ValueError(
            f"`X` has shape {array.shape}; expected (m, {n_inputs}) with m >= 1: "
            f"one example a row, {n_inputs} input unit(s)"
        )
    check_finite("X", array)
    return array.astype(dtype, copy=False)


def check_targets(
    Y: object, shape: tuple[int, int], dtype: np.dtype[Any], *, unit: bool
) -> FloatArray:
    """``Y`` as a finite array of ``shape`` and ``dtype``, its values in [0, 1] if ``unit``."""
    array = check_float_array("Y", Y)
    if array.shape != shape:
        raise ValueError(
            f"`Y` has shape {array.shape}; expected {shape}: one row per row of `X`, "
            f"{shape[1]} output unit(s)"
        )
    check_finite("Y", array)
    if unit and (array.min() < 0 or array.max() > 1):
        raise ValueError(
            f"`Y` has values in [{array.min()}, {array.max()}]; cross-entropy targets "
            "must lie in [0, 1]"
        )
    return array.astype(dtype, copy=False)


def layer_shapes(layer_sizes: tuple[int, ...]) -> LayerShapes:
    """((s_{l+1}, s_l), (s_{l+1},)) per layer l, what `check_params` expects of W(l) and b(l)."""
    return tuple(((n_out, n_in), (n_out,)) for n_in, n_out in pairwise(layer_sizes))


def _all_finite(arrays: list[FloatArray], size: int) -> bool:
    """True if Σa² over the 1-D arrays (``size`` elements in all) is finite, so every element is.

    False may also be an overflow of Σa², which np.vdot (unlike ndarray.dot) does not warn of.
    One vdot over one concatenated copy when they are small (numpy's calls, not the passes, are
    the cost there), else one vdot per array.
    """
    if size <= _CONCAT_LIMIT:
        flat = np.concatenate(arrays)
        return math.isfinite(np.vdot(flat, flat))
    return all(math.isfinite(np.vdot(array, array)) for array in arrays)


def fast_checked(
    params: object, X: object, Y: object, shapes: LayerShapes, *, unit: bool
) -> tuple[list[Layer], FloatArray, FloatArray] | None:
    """What `check_params`, `check_inputs` and `check_targets` return, for the common case.

    That case: a list of (W, b) ndarrays of ``shapes`` and one float dtype, X and Y float
    ndarrays of the right shapes, all finite (and Y in [0, 1] if ``unit``). None for anything
    else, valid or not: the full checks then decide, and name what is wrong. One function, as
    few Python steps as it can: at small m, each step here is a percent of the whole call.
    """
    if type(X) is not _NDARRAY or type(Y) is not _NDARRAY or X.ndim != 2:
        return None
    x_dtype, y_dtype, (m, n_inputs) = X.dtype, Y.dtype, X.shape
    if x_dtype not in FLOAT_DTYPES or y_dtype not in FLOAT_DTYPES:  # `is`, then ==
        return None
    if m < 1 or n_inputs != shapes[0][0][1] or Y.shape != (m, shapes[-1][1][0]):
        return None
    if type(params) not in _SEQUENCES or len(params) != len(shapes):  # type: ignore[arg-type]
        return None
    layers, flat, size, dtype = [], [X.ravel(), Y.ravel()], X.size + Y.size, None
    # The lengths are equal: zip's strict check would only cost time.
    for layer, (w_shape, b_shape) in zip(params, shapes):  # type: ignore[call-overload]  # noqa: B905
        if type(layer) is not Layer:  # a Layer has two fields; a list or tuple may not
            if type(layer) not in _SEQUENCES or len(layer) != 2:
                return None
            layer = Layer(*layer)
        W, b = layer
        if type(W) is not _NDARRAY or type(b) is not _NDARRAY or W.shape != w_shape:
            return None
        if dtype is None:
            dtype = W.dtype
        if b.shape != b_shape or W.dtype != dtype or b.dtype != dtype:
            return None
        layers.append(layer)
        flat += (W.ravel(), b)  # b is 1-D: concatenate takes it as it is
        size += W.size + b.size
    if dtype not in FLOAT_DTYPES or not _all_finite(flat, size):
        return None
    if unit and (Y.min() < 0 or Y.max() > 1):
        return None
    inputs = X if x_dtype == dtype else X.astype(dtype)
    return layers, inputs, Y if y_dtype == dtype else Y.astype(dtype)


def check_rng(rng: object) -> np.random.Generator:
    """A Generator from ``rng``: None (fresh entropy), an int seed >= 0, or a Generator."""
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if isinstance(rng, bool) or not isinstance(rng, Integral):
        raise TypeError(
            f"`rng` must be None, an int seed or a numpy.random.Generator, got {_type_name(rng)}"
        )
    return np.random.default_rng(check_int("rng", rng, minimum=0))
