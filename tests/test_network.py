"""MLP: the cost against the formula, the gradient against differences and against the loop."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backprop_ref import MLP, Layer

HIDDEN = ("identity", "relu", "sigmoid", "tanh")
OUTPUTS = (*HIDDEN, "softmax")
CONFIGS = [
    pytest.param(
        {"activation": h, "output_activation": o, "loss": loss, "decay_convention": c},
        id=f"{h}-{o}-{loss}-{c}",
    )
    for h, o, loss, c in itertools.product(
        HIDDEN, OUTPUTS, ("squared", "cross_entropy"), ("ufldl", "coursera")
    )
    if loss == "squared" or o in ("sigmoid", "softmax")
]
"""Every valid (activation, output_activation, loss, decay_convention), as MLP keywords."""

Params = list[Layer]


# --- local strategies ------------------------------------------------------------------------


@st.composite
def networks(draw: st.DrawFn) -> MLP:
    """An MLP of 2 to 4 layers of 1 to 6 units, any valid activations, loss, λ and convention."""
    output = draw(st.sampled_from(OUTPUTS))
    losses = ("squared", "cross_entropy") if output in ("sigmoid", "softmax") else ("squared",)
    return MLP(
        draw(st.lists(st.integers(1, 6), min_size=2, max_size=4)),
        activation=draw(st.sampled_from(HIDDEN)),
        output_activation=output,
        loss=draw(st.sampled_from(losses)),
        weight_decay=draw(st.floats(0.0, 3.0)),
        decay_convention=draw(st.sampled_from(("ufldl", "coursera"))),
    )


@st.composite
def problems(draw: st.DrawFn) -> tuple[MLP, Params, np.ndarray, np.ndarray]:
    """A network, its params at one of several scales, X of m = 1..8 rows and Y in [0, 1]."""
    mlp = draw(networks())
    scale = draw(st.sampled_from((0.01, 0.3, 1.0, 3.0)))
    unit = st.floats(-1.0, 1.0)
    params = [
        Layer(
            scale * draw(arrays(np.float64, (n_out, n_in), elements=unit)),
            scale * draw(arrays(np.float64, (n_out,), elements=unit)),
        )
        for n_in, n_out in itertools.pairwise(mlp.layer_sizes)
    ]
    m = draw(st.integers(1, 8))
    X = draw(arrays(np.float64, (m, mlp.layer_sizes[0]), elements=st.floats(-2.0, 2.0)))
    Y = draw(arrays(np.float64, (m, mlp.layer_sizes[-1]), elements=st.floats(0.0, 1.0)))
    note(f"{mlp!r}, scale={scale}, m={m}")
    return mlp, params, X, Y


# --- helpers ---------------------------------------------------------------------------------


def random_problem(
    mlp: MLP, *, m: int = 5, scale: float = 0.7, seed: int = 0
) -> tuple[Params, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = mlp.init_params(rng, scale=scale)
    X = rng.normal(size=(m, mlp.layer_sizes[0]))
    Y = rng.uniform(size=(m, mlp.layer_sizes[-1]))
    return params, X, Y


def flat(params: Sequence[Layer]) -> np.ndarray:
    return np.concatenate([array.ravel() for layer in params for array in layer])


def numerical_gradient(cost: Callable[[Params], float], params: Params, h: float = 1e-6) -> Params:
    """Central differences, one parameter at a time, on copies."""
    grads = []
    for k, layer in enumerate(params):
        grad_layer = []
        for field, array in zip(Layer._fields, layer, strict=True):
            grad = np.zeros_like(array)
            for index in np.ndindex(array.shape):
                values = []
                for step in (h, -h):
                    shifted = [Layer(W.copy(), b.copy()) for W, b in params]
                    getattr(shifted[k], field)[index] += step
                    values.append(cost(shifted))
                grad[index] = (values[0] - values[1]) / (2 * h)
            grad_layer.append(grad)
        grads.append(Layer(*grad_layer))
    return grads


def reference_cost(mlp: MLP, params: Params, X: np.ndarray, Y: np.ndarray) -> float:
    """J written out from the sources, one example and one unit at a time, naive exponentials."""
    f = {
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh,
        "relu": lambda z: np.maximum(z, 0.0),
        "identity": lambda z: z,
        "softmax": lambda z: np.exp(z) / np.sum(np.exp(z)),
    }
    m = X.shape[0]
    total = 0.0
    for x, y in zip(X, Y, strict=True):
        a = x
        for k, (W, b) in enumerate(params):
            last = k == len(params) - 1
            a = f[mlp.output_activation if last else mlp.activation](W @ a + b)
        for h_k, y_k in zip(a, y, strict=True):
            if mlp.loss == "squared":
                total += 0.5 * (h_k - y_k) ** 2
            elif mlp.output_activation == "sigmoid":
                total -= y_k * np.log(h_k) + (1 - y_k) * np.log(1 - h_k)
            else:
                total -= y_k * np.log(h_k)
    weights = sum(float(np.sum(W**2)) for W, _ in params)
    per_m = 1 / m if mlp.decay_convention == "coursera" else 1.0
    return total / m + mlp.weight_decay * per_m / 2 * weights


# --- the gradient --------------------------------------------------------------------------------


@given(problems())
def test_vectorized_and_loop_agree(problem: tuple[MLP, Params, np.ndarray, np.ndarray]) -> None:
    mlp, params, X, Y = problem
    cost, grads = mlp.cost_and_gradient(params, X, Y)
    loop_cost, loop_grads = mlp.cost_and_gradient_loop(params, X, Y)
    assert cost == pytest.approx(loop_cost, rel=1e-12, abs=1e-300)
    # Both sum m per-example terms in different orders: rounding is relative to the terms' size,
    # so the largest per-example gradient sets the floor of the comparison (with 1e-300 as an
    # absolute floor, for results that underflow).
    terms = [
        flat(mlp.cost_and_gradient_loop(params, X[i : i + 1], Y[i : i + 1])[1])
        for i in range(len(X))
    ]
    floor = float(np.max(np.abs(terms))) + 1e-288
    vectorized, loop = flat(grads), flat(loop_grads)
    note(f"largest difference {np.max(np.abs(vectorized - loop))}, floor {floor}")
    assert np.all(np.abs(vectorized - loop) <= 1e-12 * (np.abs(loop) + floor))
    for grad, loop_grad in zip(grads, loop_grads, strict=True):
        assert grad.W.shape == loop_grad.W.shape and grad.b.shape == loop_grad.b.shape


@pytest.mark.parametrize("config", CONFIGS)
def test_gradient_matches_central_differences(config: dict[str, str]) -> None:
    mlp = MLP([3, 4, 2, 3], weight_decay=0.8, **config)
    params, X, Y = random_problem(mlp)
    cost, grads = mlp.cost_and_gradient(params, X, Y)
    numerical = flat(numerical_gradient(lambda p: mlp.cost(p, X, Y), params))
    analytic = flat(grads)
    # Central differences with h = 1e-6: O(h²) truncation, O(ε|J|/h) ≈ 1e-10 |J| rounding.
    tolerance = 1e-6 * np.abs(numerical) + 1e-8 * max(1.0, abs(cost))
    assert np.all(np.abs(analytic - numerical) <= tolerance)


@pytest.mark.parametrize("config", CONFIGS)
def test_cost_matches_the_formula(config: dict[str, str]) -> None:
    mlp = MLP([2, 3, 4], weight_decay=1.7, **config)
    params, X, Y = random_problem(mlp, m=6, seed=1)
    expected = reference_cost(mlp, params, X, Y)
    assert mlp.cost(params, X, Y) == pytest.approx(expected, rel=1e-12)
    assert mlp.cost_and_gradient(params, X, Y)[0] == pytest.approx(expected, rel=1e-12)
    assert mlp.cost_and_gradient_loop(params, X, Y)[0] == pytest.approx(expected, rel=1e-12)


def test_known_values_of_a_one_unit_network() -> None:
    # h = σ(0) = 1/2 everywhere; σ′(0) = 1/4; weights (1, 2) and bias 0 give z = 0 at x = (2, −1).
    params = [Layer(np.array([[1.0, 2.0]]), np.array([0.0]))]
    X, Y = np.array([[2.0, -1.0], [2.0, -1.0]]), np.array([[1.0], [0.0]])
    mlp = MLP([2, 1], weight_decay=0.5)
    cost, grads = mlp.cost_and_gradient(params, X, Y)
    assert cost == pytest.approx(0.125 + 0.25 * 5)  # ½(½)² averaged, + (λ/2)(1² + 2²)
    np.testing.assert_allclose(grads[0].b, [0.0], atol=1e-17)  # δ = ±1/8 cancel
    np.testing.assert_allclose(grads[0].W, 0.5 * params[0].W)  # only λW remains
    coursera = MLP([2, 1], weight_decay=0.5, decay_convention="coursera")
    assert coursera.cost(params, X, Y) == pytest.approx(0.125 + 0.25 * 5 / 2)


# --- weight decay ----------------------------------------------------------------------------


@pytest.mark.parametrize("convention", ["ufldl", "coursera"])
def test_decay_reaches_weights_and_never_biases(convention: str) -> None:
    plain = MLP([3, 4, 2], loss="cross_entropy")
    decayed = dataclasses.replace(plain, weight_decay=2.5, decay_convention=convention)
    params, X, Y = random_problem(plain)
    c = 2.5 / len(X) if convention == "coursera" else 2.5
    cost0, grads0 = plain.cost_and_gradient(params, X, Y)
    cost1, grads1 = decayed.cost_and_gradient(params, X, Y)
    assert cost1 - cost0 == pytest.approx(c / 2 * sum(np.sum(W**2) for W, _ in params))
    for (W, _), g0, g1 in zip(params, grads0, grads1, strict=True):
        np.testing.assert_allclose(g1.W - g0.W, c * W, rtol=1e-12)
        np.testing.assert_array_equal(g1.b, g0.b)
    moved = [Layer(W, b + 3.0) for W, b in params]
    assert decayed.cost(moved, X, Y) - plain.cost(moved, X, Y) == pytest.approx(cost1 - cost0)


# --- initialisation --------------------------------------------------------------------------


def test_init_params_shapes_dtype_and_symmetry_breaking() -> None:
    params = MLP([4, 5, 3]).init_params(rng=7)
    assert [(W.shape, b.shape) for W, b in params] == [((5, 4), (5,)), ((3, 5), (3,))]
    assert all(isinstance(layer, Layer) for layer in params)
    assert all(array.dtype == np.float64 for layer in params for array in layer)
    theta = flat(params)
    assert np.unique(theta).size == theta.size  # no two equal: hidden units start different
    assert np.all(np.abs(theta) < 0.01 * 6)


def test_init_params_is_reproducible_from_a_seed_and_differs_between_seeds() -> None:
    mlp = MLP([3, 4, 2])
    np.testing.assert_array_equal(flat(mlp.init_params(rng=3)), flat(mlp.init_params(rng=3)))
    assert not np.array_equal(flat(mlp.init_params(rng=3)), flat(mlp.init_params(rng=4)))
    generator = np.random.default_rng(3)
    np.testing.assert_array_equal(flat(mlp.init_params(generator)), flat(mlp.init_params(rng=3)))
    assert not np.array_equal(flat(mlp.init_params(generator)), flat(mlp.init_params(rng=3)))
    assert not np.array_equal(flat(mlp.init_params()), flat(mlp.init_params()))


def test_init_params_draws_normal_with_the_given_scale() -> None:
    theta = flat(MLP([200, 100]).init_params(rng=0, scale=0.5))  # 20,100 draws
    assert abs(theta.mean()) < 0.5 * 4 / np.sqrt(theta.size)
    assert theta.std() == pytest.approx(0.5, rel=0.03)


# --- predict, dtype, stability ---------------------------------------------------------------


def test_predict_is_the_forward_pass() -> None:
    mlp = MLP([3, 4, 2], activation="tanh", output_activation="softmax")
    params, X, _ = random_problem(mlp)
    (W1, b1), (W2, b2) = params
    z = np.tanh(X @ W1.T + b1) @ W2.T + b2
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(mlp.predict(params, X), expected, rtol=1e-14)


@pytest.mark.parametrize("method", ["cost_and_gradient", "cost_and_gradient_loop"])
def test_float32_in_float32_out(method: str) -> None:
    mlp = MLP([3, 4, 2], loss="cross_entropy", weight_decay=0.1)
    params, X, Y = random_problem(mlp)
    params32 = [Layer(W.astype(np.float32), b.astype(np.float32)) for W, b in params]
    cost32, grads32 = getattr(mlp, method)(params32, X, Y.astype(np.float32))
    cost64, grads64 = getattr(mlp, method)(params, X, Y)
    assert type(cost32) is float and type(cost64) is float
    assert all(array.dtype == np.float32 for layer in grads32 for array in layer)
    assert mlp.predict(params32, X).dtype == np.float32
    assert cost32 == pytest.approx(cost64, rel=1e-6)
    np.testing.assert_allclose(flat(grads32), flat(grads64), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pre_activations_of_a_thousand_stay_finite(
    config: dict[str, str], dtype: type[np.floating]
) -> None:
    # Every pre-activation is ±1e3 (warnings are errors in this suite: no overflow either).
    mlp = MLP([2, 2, 2], weight_decay=1.0, **config)
    W1 = np.array([[500.0, 500.0], [-500.0, -500.0]], dtype=dtype)  # z(2) = ±(1e3, −1e3)
    s = {"sigmoid": 1e3, "tanh": 500.0, "relu": 1.0, "identity": 0.5}[mlp.activation]
    W2 = np.array([[s, -s], [-s, s]], dtype=dtype)  # |z(3)| from 500 to 1e3
    params = [Layer(W1, np.zeros(2, dtype)), Layer(W2, np.zeros(2, dtype))]
    X = np.array([[1.0, 1.0], [-1.0, -1.0]])
    Y = np.array([[0.0, 1.0], [1.0, 0.0]])
    for method in (mlp.cost_and_gradient, mlp.cost_and_gradient_loop):
        cost, grads = method(params, X, Y)
        assert np.isfinite(cost)
        assert np.all(np.isfinite(flat(grads)))


# --- the caller's arrays, the object ---------------------------------------------------------


def test_methods_leave_the_caller_arrays_unchanged() -> None:
    mlp = MLP([3, 4, 2], activation="relu", output_activation="identity", weight_decay=1.0)
    params, X, Y = random_problem(mlp)
    arrays = [*params[0], *params[1], X, Y]
    before = [array.copy() for array in arrays]
    for method in (mlp.cost_and_gradient, mlp.cost_and_gradient_loop):
        _, grads = method(params, X, Y)
        grads[0].W[...] = np.nan  # writing to a result never reaches the inputs
    h = mlp.predict(params, X)
    h[...] = np.nan
    mlp.cost(params, X, Y)
    for original, now in zip(before, arrays, strict=True):
        np.testing.assert_array_equal(original, now)


def test_attributes_repr_and_immutability() -> None:
    mlp = MLP([2, 3, 1], activation="tanh", loss="cross_entropy", weight_decay=1)
    assert mlp.layer_sizes == (2, 3, 1)
    assert (mlp.activation, mlp.output_activation, mlp.loss) == ("tanh", "sigmoid", "cross_entropy")
    assert mlp.weight_decay == 1.0 and type(mlp.weight_decay) is float
    assert mlp.decay_convention == "ufldl"
    assert repr(mlp) == (
        "MLP(layer_sizes=(2, 3, 1), activation='tanh', output_activation='sigmoid', "
        "loss='cross_entropy', weight_decay=1.0, decay_convention='ufldl')"
    )
    assert mlp == MLP((2, 3, 1), activation="tanh", loss="cross_entropy", weight_decay=1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mlp.loss = "squared"  # type: ignore[misc]
