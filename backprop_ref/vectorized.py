"""Backpropagation on all m examples at once, one matrix product per layer and direction.

Rows are examples: A(l) and Z(l) are (m, s_l), Δ(l) is (m, s_l). In the code list index k stands
for layer k + 1, so ``layers[k]`` is (W(k+1), b(k+1)) and ``activations[k]`` is A(k+1). `MLP`
validates the arguments and calls these; the tutorial's per-example twin is `backprop_ref.loop`.
Elementwise work is done in place on arrays made here, never on the caller's.

Speed: the matrix products are BLAS calls writing into views of one allocation per call (the
hidden A(l), two buffers for the Δ(l), and one for the gradients), so that fresh memory is not
paid for page by page. For the registered hidden activations on real dtypes, private in-place
kernels replace the generic functions: the sigmoid folds the bias and the negation into one
pass, and the derivatives run block by block with a small scratch array instead of a full
temporary. They compute exactly the values of `backprop_ref.activations` (the same operations
in the same order, so the same rounding). Other dtypes (complex, for the complex step) and
stand-in activations go through the generic `Activation` functions.

At small m (up to ``_SMALL_M`` rows) the arrays are a few hundred bytes and numpy's calls, not
the passes, are the cost: `cost_and_gradient` then makes fresh arrays with the same kernels and
the same products, in as few calls as it can (the same values, to the last bit). Its forward
pass runs under one ``errstate(over="ignore")`` instead of one per sigmoid layer, so there a
pre-activation beyond the float range becomes ±inf without the warning the workspace path gives
(σ(±inf) is then the limit, as for the e^(−z) that the errstate is there for).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from itertools import accumulate, pairwise
from typing import Any

import numpy as np

from backprop_ref._types import FloatArray, Layer
from backprop_ref.activations import ACTIVATIONS, Activation
from backprop_ref.losses import NetworkFunctions, decay_term, squared_error

__all__ = ["backward", "cost", "cost_and_gradient", "forward"]

_BLOCK_BYTES = 1 << 17
"""Elementwise passes with a scratch array run on row blocks of this size (well inside L2)."""

_SMALL_M = 16
"""Batches of at most this many rows take the few-calls path of `cost_and_gradient`."""

_HUGE_PAGE = 1 << 21
"""The size of a transparent huge page on x86-64 and arm64 Linux."""


def _row_blocks(array: FloatArray) -> Iterator[slice]:
    """Slices of whole rows of ``array``, each about ``_BLOCK_BYTES`` long."""
    m = array.shape[0]
    step = max(1, _BLOCK_BYTES // max(1, array[:1].nbytes))
    for start in range(0, m, step):
        yield slice(start, start + step)


def _sigmoid_forward(z: FloatArray, b: FloatArray) -> None:
    """z ← σ(z + b) in place: −(z + b), e^·, 1 + ·, 1/· (the passes of `sigmoid`)."""
    np.subtract(-b, z, out=z)  # −b − z = −(z + b) exactly, in one pass
    with np.errstate(over="ignore"):  # e^(−z) = inf for z < −709 gives σ = 0, the limit
        np.exp(z, out=z)
    z += 1.0
    np.reciprocal(z, out=z)


def _tanh_forward(z: FloatArray, b: FloatArray) -> None:
    """z ← tanh(z + b) in place."""
    z += b
    np.tanh(z, out=z)


def _relu_forward(z: FloatArray, b: FloatArray) -> None:
    """z ← max(z + b, 0) in place."""
    z += b
    np.maximum(z, 0.0, out=z)


def _identity_forward(z: FloatArray, b: FloatArray) -> None:
    """z ← z + b in place."""
    z += b


def _sigmoid_backward(a: FloatArray, g: FloatArray) -> None:
    """g ← g ⊙ a(1 − a) in place, block by block with a block-sized scratch (as `sigmoid`)."""
    if g.nbytes <= _BLOCK_BYTES:  # one block: the same passes on a whole-array scratch
        t = np.subtract(1.0, a)
        t *= a
        g *= t
        return
    scratch = np.empty_like(g[: next(_row_blocks(g)).stop])
    for rows in _row_blocks(g):
        block, t = g[rows], scratch[: g[rows].shape[0]]
        np.subtract(1.0, a[rows], out=t)
        t *= a[rows]
        block *= t


def _tanh_backward(a: FloatArray, g: FloatArray) -> None:
    """g ← g ⊙ (1 − a²) in place, block by block with a block-sized scratch."""
    if g.nbytes <= _BLOCK_BYTES:  # one block: the same passes on a whole-array scratch
        t = np.square(a)
        np.subtract(1.0, t, out=t)
        g *= t
        return
    scratch = np.empty_like(g[: next(_row_blocks(g)).stop])
    for rows in _row_blocks(g):
        block, t = g[rows], scratch[: g[rows].shape[0]]
        np.square(a[rows], out=t)
        np.subtract(1.0, t, out=t)
        block *= t


def _relu_backward(a: FloatArray, g: FloatArray) -> None:
    """g ← g ⊙ [a > 0] in place."""
    np.multiply(g, a > 0, out=g)


def _identity_backward(a: FloatArray, g: FloatArray) -> None:
    """g ← g: the derivative is 1."""


_SIGMOID = ACTIVATIONS["sigmoid"].function
_SIGMOID_BACKWARD = ACTIVATIONS["sigmoid"].backward
_new_tuple = tuple.__new__
_Kernel = Callable[[FloatArray, FloatArray], None]
_FORWARD: dict[str, _Kernel] = {
    "identity": _identity_forward,
    "relu": _relu_forward,
    "sigmoid": _sigmoid_forward,
    "tanh": _tanh_forward,
}
_BACKWARD: dict[str, _Kernel] = {
    "identity": _identity_backward,
    "relu": _relu_backward,
    "sigmoid": _sigmoid_backward,
    "tanh": _tanh_backward,
}


def _fast(hidden: Activation, part: str, array: FloatArray) -> bool:
    """Whether a kernel stands in for ``hidden``'s ``part`` ("function" or "backward").

    Only for a real dtype and the very function registered in `ACTIVATIONS` (not a stand-in of
    the same name, such as the planted bugs of `backprop_ref.bugs`).
    """
    registered = ACTIVATIONS.get(hidden.name)
    return (
        registered is not None
        and hidden.name in _FORWARD
        and getattr(hidden, part) is getattr(registered, part)
        and array.dtype.kind == "f"
    )


def _has_kernels(hidden: Activation) -> bool:
    """Whether kernels stand in for both parts of ``hidden`` (as `_fast`, the dtype aside)."""
    name = hidden.name
    if name not in _FORWARD:
        return False
    registered = ACTIVATIONS[name]
    return hidden is registered or (  # the record itself, as `MLP` holds it: the quick test
        hidden.function is registered.function and hidden.backward is registered.backward
    )


def _block(shapes: list[tuple[int, ...]], dtype: np.dtype[Any]) -> list[FloatArray]:
    """Empty arrays of these shapes; of 2 MiB and more in all, carved from a single allocation.

    Fresh memory is paid for page by page when first written, and for arrays of a few MiB that
    costs as much as the sigmoid. One block aligned to 2 MiB and of at least 4 MiB, which numpy
    marks for transparent huge pages, is paid for a few times instead.
    """
    sizes = [math.prod(shape) for shape in shapes]
    nbytes = sum(sizes) * np.dtype(dtype).itemsize
    if nbytes < _HUGE_PAGE:  # small arrays: one allocation each is cheaper than the carving
        return [np.empty(shape, dtype) for shape in shapes]
    raw = np.empty(max(nbytes, 2 * _HUGE_PAGE) + _HUGE_PAGE, np.uint8)
    start = -raw.ctypes.data % _HUGE_PAGE
    raw = raw[start : start + nbytes]
    flat = raw.view(dtype)
    bounds = pairwise(accumulate(sizes, initial=0))
    return [flat[i:j].reshape(shape) for (i, j), shape in zip(bounds, shapes, strict=True)]


def _workspace(m: int, widths: list[int], dtype: np.dtype[Any]) -> list[FloatArray]:
    """Empty (m, s) arrays, one per width s, from one block."""
    return _block([(m, s) for s in widths], dtype)


def _empty_gradients(layers: list[Layer], dtype: np.dtype[Any]) -> list[Layer]:
    """Empty (W, b) arrays of the shapes of ``layers``, from one block."""
    arrays = _block([array.shape for layer in layers for array in layer], dtype)
    return [Layer(W, b) for W, b in zip(arrays[::2], arrays[1::2], strict=True)]


def _result_dtype(layers: list[Layer], X: FloatArray) -> np.dtype[Any]:
    """The dtype of A(l) W(l)ᵀ + b(l) for these arrays."""
    return np.result_type(X, *(array for layer in layers for array in layer))


def forward(
    functions: NetworkFunctions,
    layers: list[Layer],
    X: FloatArray,
    buffers: list[FloatArray] | None = None,
) -> tuple[list[FloatArray], FloatArray]:
    """A(1) = X, ..., A(L) by Z(l+1) = A(l) W(l)ᵀ + b(l), A(l+1) = f(Z(l+1)); and Z(L).

    ``buffers``, if given, are the (m, s_l) arrays for A(2), ..., A(L−1), overwritten.
    """
    if buffers is None:
        widths = [W.shape[0] for W, _ in layers[:-1]]
        buffers = _workspace(X.shape[0], widths, _result_dtype(layers, X))
    activations = [X]
    hidden = functions.hidden
    for (W, b), z in zip(layers[:-1], buffers, strict=True):
        np.matmul(activations[-1], W.T, out=z)  # (m, s_{l+1})
        if _fast(hidden, "function", z):
            _FORWARD[hidden.name](z, b)
        else:
            z += b
            z = hidden.function(z, out=z)
        activations.append(z)
    W, b = layers[-1]
    z_out = activations[-1] @ W.T
    z_out += b
    activations.append(functions.output.function(z_out))  # a new array: Z(L) is kept
    return activations, z_out


def backward(
    functions: NetworkFunctions,
    layers: list[Layer],
    activations: list[FloatArray],
    delta: FloatArray,
    *,
    decay: float,
    spare: list[FloatArray] | None = None,
) -> list[Layer]:
    """∇W(l) = Δ(l+1)ᵀ A(l) + cW(l), ∇b(l) = Σ_i Δ(l+1)_i, from Δ(L) = δ(L)/m down.

    Δ(l) = (Δ(l+1) W(l)) ⊙ f′(Z(l)) for l = L−1..2; none for the input layer. c = ``decay``.
    ``spare``, if given, is two arrays of at least m × max(s_2..s_{L−1}) elements for the Δ(l).
    """
    hidden = functions.hidden
    if spare is None:
        widest = max((a.shape[1] for a in activations[1:-1]), default=0)
        spare = _workspace(delta.shape[0], [widest, widest], delta.dtype)
    grads = _empty_gradients(layers, delta.dtype)
    for k in range(len(layers) - 1, -1, -1):
        W, a = layers[k].W, activations[k]
        grad_W, grad_b = grads[k]
        if delta.shape[0] == 1:  # an outer product, where BLAS is slow (inner dimension 1)
            np.multiply(delta.T, a, out=grad_W)  # (s_{k+2}, 1) ⊙ (1, s_{k+1}), broadcast
        else:
            np.matmul(delta.T, a, out=grad_W)  # (s_{k+2}, s_{k+1})
        if decay:
            grad_W += decay * W
        np.add.reduce(delta, axis=0, out=grad_b)
        if k > 0:
            spare.reverse()  # Δ(l+1) lives in one spare buffer, Δ(l) goes to the other
            new_delta = spare[0].reshape(-1)[: a.size].reshape(a.shape)
            np.matmul(delta, W, out=new_delta)  # (m, s_{k+1})
            if _fast(hidden, "backward", new_delta):
                _BACKWARD[hidden.name](a, new_delta)
            else:
                new_delta = hidden.backward(a, new_delta)
            delta = new_delta
    return grads


def _decay_cost(layers: list[Layer], decay: float) -> Any:
    """D = (c/2) Σ‖W‖², without a pass over the weights when c = 0."""
    return decay_term(layers, decay) if decay else 0.0


def cost(
    functions: NetworkFunctions, layers: list[Layer], X: FloatArray, Y: FloatArray, *, decay: float
) -> float:
    """J = (1/m) Σ_i loss(h(x_i), y_i) + D for validated X (m, s_1) and Y (m, s_L)."""
    activations, z_out = forward(functions, layers, X)
    data_cost = functions.loss.cost(z_out, activations[-1], Y) / X.shape[0]
    return float(data_cost + _decay_cost(layers, decay))


@np.errstate(over="ignore")  # e^(−z) = inf for z < −709 gives σ = 0, the limit
def _small_forward(
    functions: NetworkFunctions, layers: list[Layer], X: FloatArray
) -> tuple[list[FloatArray], FloatArray, FloatArray]:
    """A(1), ..., A(L−1), Z(L) and A(L) as fresh arrays, under one errstate (see above).

    The errstate decorates the function: cheaper per call than a ``with`` block.
    """
    name, activations = functions.hidden.name, [X]
    for W, b in layers[:-1]:
        z = activations[-1] @ W.T  # (m, s_{l+1})
        if name == "sigmoid":  # `_sigmoid_forward`'s passes, without its errstate
            np.subtract(-b, z, out=z)
            np.exp(z, out=z)
            z += 1.0
            np.reciprocal(z, out=z)
        else:
            _FORWARD[name](z, b)
        activations.append(z)
    W, b = layers[-1]
    z_out = activations[-1] @ W.T
    z_out += b
    if functions.output.function is _SIGMOID:  # `sigmoid`'s passes, without its errstate
        a_out = np.negative(z_out)
        np.exp(a_out, out=a_out)
        a_out += 1.0
        np.reciprocal(a_out, out=a_out)
    else:
        a_out = functions.output.function(z_out)
    return activations, z_out, a_out


def _small_output_delta(
    functions: NetworkFunctions, z_out: FloatArray, a_out: FloatArray, Y: FloatArray, m: int
) -> tuple[Any, FloatArray]:
    """The data cost Σ loss / m and Δ(L) = δ(L) / m, as fresh arrays."""
    output = functions.output
    if functions.loss.cost is squared_error:  # a − y once, for the cost and for δ(L)
        error: FloatArray = a_out - Y
        data_cost = 0.5 * np.vdot(error, error) / m
        if output.backward is _SIGMOID_BACKWARD:  # its passes, without two Python frames
            t: FloatArray = np.subtract(1.0, a_out)
            t *= a_out
            error *= t
            delta = error
        else:
            delta = output.backward(a_out, error)
    else:
        data_cost = functions.loss.cost(z_out, a_out, Y) / m
        delta = functions.loss.delta(z_out, a_out, Y)
    delta /= m
    return data_cost, delta


def _small_cost_and_gradient(
    functions: NetworkFunctions, layers: list[Layer], X: FloatArray, Y: FloatArray, decay: float
) -> tuple[float, list[Layer]]:
    """`cost_and_gradient` for a real X of few rows and a hidden activation with kernels."""
    activations, z_out, a_out = _small_forward(functions, layers, X)
    name, m = functions.hidden.name, X.shape[0]
    hidden_backward = _BACKWARD[name]
    data_cost, delta = _small_output_delta(functions, z_out, a_out, Y, m)
    grads = []
    for k in range(len(layers) - 1, -1, -1):
        W, a = layers[k].W, activations[k]
        if m == 1:  # an outer product, and Δ's one row: BLAS is slow at inner size 1
            # The row is a view of a Δ that nothing writes to again (the next Δ is a new array).
            grad_W, grad_b = np.multiply(delta.T, a), delta[0]
        else:
            grad_W, grad_b = delta.T @ a, np.add.reduce(delta, axis=0)
        if decay:
            grad_W += decay * W
        grads.append(_new_tuple(Layer, (grad_W, grad_b)))  # Layer(...) without its Python frame
        if k > 0:
            delta = delta @ W
            if name == "sigmoid":  # `_sigmoid_backward`'s passes, without its frame
                t = np.subtract(1.0, a)
                t *= a
                delta *= t
            else:
                hidden_backward(a, delta)
    grads.reverse()
    return float(data_cost + _decay_cost(layers, decay)), grads


def cost_and_gradient(
    functions: NetworkFunctions, layers: list[Layer], X: FloatArray, Y: FloatArray, *, decay: float
) -> tuple[float, list[Layer]]:
    """J and its gradient for validated X (m, s_1) and Y (m, s_L); ``decay`` is c = λ or λ/m."""
    m = X.shape[0]
    if (
        m <= _SMALL_M
        and X.dtype.kind == "f"
        and layers[0].W.dtype.kind == "f"
        and _has_kernels(functions.hidden)
    ):
        return _small_cost_and_gradient(functions, layers, X, Y, decay)
    widths = [W.shape[0] for W, _ in layers[:-1]]  # s_2, ..., s_{L−1}
    widest = max(widths, default=0)
    *buffers, spare_0, spare_1 = _workspace(m, [*widths, widest, widest], _result_dtype(layers, X))
    activations, z_out = forward(functions, layers, X, buffers)
    data_cost = functions.loss.cost(z_out, activations[-1], Y) / m
    delta = functions.loss.delta(z_out, activations[-1], Y)  # δ(L), (m, s_L)
    delta /= m
    grads = backward(functions, layers, activations, delta, decay=decay, spare=[spare_0, spare_1])
    return float(data_cost + _decay_cost(layers, decay)), grads
