"""MLP.cost with complex parameters: the complex step of the cost is the backprop gradient."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from backprop_ref import MLP, Layer
from backprop_ref.activations import HOLOMORPHIC_ACTIVATIONS
from backprop_ref.activations import relu as real_relu

HIDDEN = ("identity", "relu", "sigmoid", "tanh")
OUTPUT_LOSS = [(o, "squared") for o in (*HIDDEN, "softmax")] + [
    ("sigmoid", "cross_entropy"),
    ("softmax", "cross_entropy"),
]
H = 1e-20


def complex_step_gradient(mlp: MLP, params: list[Layer], X: np.ndarray, Y: np.ndarray) -> list:
    """Im J(θ + ih e_k) / h for every parameter, from MLP.cost on complex copies."""
    grads = []
    for k, layer in enumerate(params):
        parts = []
        for field in Layer._fields:
            grad = np.empty_like(getattr(layer, field))
            for index in np.ndindex(grad.shape):
                moved = [Layer(W.astype(complex), b.astype(complex)) for W, b in params]
                getattr(moved[k], field)[index] += 1j * H
                grad[index] = mlp.cost(moved, X, Y).imag / H
            parts.append(grad)
        grads.append(Layer(*parts))
    return grads


@pytest.mark.parametrize(
    ("hidden", "output", "loss", "convention"),
    [
        (h, o, loss, c)
        for h, (o, loss), c in itertools.product(HIDDEN, OUTPUT_LOSS, ("ufldl", "coursera"))
    ],
)
def test_complex_step_of_cost_is_the_backprop_gradient(
    hidden: str, output: str, loss: str, convention: str
) -> None:
    mlp = MLP(
        [3, 4, 2], activation=hidden, output_activation=output, loss=loss,
        weight_decay=0.3, decay_convention=convention,
    )
    rng = np.random.default_rng(7)
    params = mlp.init_params(rng, scale=1.0)
    X, Y = rng.normal(size=(5, 3)), rng.uniform(size=(5, 2))
    cost, grads = mlp.cost_and_gradient(params, X, Y)
    complex_cost = mlp.cost([Layer(W.astype(complex), b.astype(complex)) for W, b in params], X, Y)
    assert isinstance(complex_cost, complex)
    assert complex_cost.real == pytest.approx(cost, rel=1e-14)
    assert complex_cost.imag == 0.0
    for got, want in zip(complex_step_gradient(mlp, params, X, Y), grads, strict=True):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-13 * np.abs(w).max())


@given(
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([0.1, 1.0, 4.0]),
    m=st.integers(1, 6),
    output_loss=st.sampled_from(OUTPUT_LOSS),
    hidden=st.sampled_from(HIDDEN),
)
def test_complex_cost_agrees_with_real_cost(
    seed: int, scale: float, m: int, output_loss: tuple[str, str], hidden: str
) -> None:
    output, loss = output_loss
    mlp = MLP([2, 3, 3], activation=hidden, output_activation=output, loss=loss, weight_decay=0.1)
    rng = np.random.default_rng(seed)
    params = mlp.init_params(rng, scale=scale)
    X, Y = 3 * rng.normal(size=(m, 2)), rng.uniform(size=(m, 3))
    note(f"{mlp!r}")
    complex_params = [Layer(W.astype(np.complex64), b.astype(np.complex64)) for W, b in params]
    single = mlp.cost([Layer(W.astype(np.float32), b.astype(np.float32)) for W, b in params], X, Y)
    assert mlp.cost(complex_params, X, Y).real == pytest.approx(single, rel=1e-5, abs=1e-6)
    complex_params = [Layer(W.astype(complex), b.astype(complex)) for W, b in params]
    assert mlp.cost(complex_params, X, Y).real == pytest.approx(
        mlp.cost(params, X, Y), rel=1e-13, abs=1e-15
    )


def test_holomorphic_activations_are_the_real_ones_on_real_input() -> None:
    z = np.linspace(-5.0, 5.0, 11).reshape(1, -1)
    np.testing.assert_array_equal(HOLOMORPHIC_ACTIVATIONS["relu"](z), real_relu(z))
    np.testing.assert_allclose(HOLOMORPHIC_ACTIVATIONS["softmax"](z).sum(), 1.0, rtol=1e-15)


MLP_SQ = MLP([2, 1])
X2, Y1 = np.ones((3, 2)), np.ones((3, 1))
COMPLEX = [Layer(np.zeros((1, 2), complex), np.zeros(1, complex))]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: MLP_SQ.cost_and_gradient(COMPLEX, X2, Y1), TypeError, r"accepted by `MLP.cost`"),
        (lambda: MLP_SQ.cost_and_gradient_loop(COMPLEX, X2, Y1), TypeError, "complex128"),
        (lambda: MLP_SQ.cost(COMPLEX, X2 + 0j, Y1), TypeError, r"`X` has dtype complex128"),
        (lambda: MLP_SQ.cost(COMPLEX, X2, Y1 + 0j), TypeError, r"`Y` has dtype complex128"),
        (
            lambda: MLP_SQ.cost([Layer(COMPLEX[0].W, np.zeros(1))], X2, Y1),
            TypeError,
            r"`params\[0\].b` has dtype float64",
        ),
        (
            lambda: MLP_SQ.cost([Layer(COMPLEX[0].W, np.array([1j * np.inf]))], X2, Y1),
            ValueError,
            r"`params\[0\].b` contains 1 NaN or inf",
        ),
    ],
    ids=["gradient", "loop", "complex-X", "complex-Y", "mixed-dtypes", "not-finite"],
)
def test_complex_parameters_are_for_cost_only(call: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]
