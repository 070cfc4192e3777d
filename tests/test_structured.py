"""The structure-aware Objective: the same finite differences as the plain cost, to rounding."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

import gradcheck
from backprop_ref import MLP, Layer, Objective, unflatten
from backprop_ref.bugs import plant

COMBOS = [
    (hidden, output, loss)
    for hidden, output, loss in itertools.product(
        ["sigmoid", "tanh", "relu", "identity"],
        ["sigmoid", "softmax", "identity", "tanh", "relu"],
        ["squared", "cross_entropy"],
    )
    if loss == "squared" or output in ("sigmoid", "softmax")
]


def _problem(
    hidden: str = "sigmoid", output: str = "sigmoid", loss: str = "squared",
    dtype: Any = np.float64, convention: str = "ufldl",
) -> tuple[MLP, list[Layer], Any, Any]:
    mlp = MLP([3, 5, 4, 3], activation=hidden, output_activation=output, loss=loss,
              weight_decay=0.3, decay_convention=convention)
    params = [Layer(W.astype(dtype), b.astype(dtype))
              for W, b in mlp.init_params(rng=1, scale=0.7)]
    rng = np.random.default_rng(2)
    return mlp, params, rng.random((6, 3)), rng.random((6, 3))


def _flat(tree: list[Layer]) -> Any:
    return np.concatenate([a.ravel() for layer in tree for a in layer]).astype(np.float64)


@pytest.mark.parametrize(("hidden", "output", "loss"), COMBOS)
@pytest.mark.parametrize("method", ["central", "forward", "richardson", "complex"])
def test_same_numerical_gradient_as_the_plain_cost(
    hidden: str, output: str, loss: str, method: str
) -> None:
    mlp, params, X, Y = _problem(hidden, output, loss)
    fast = _flat(gradcheck.numerical_gradient(mlp.objective(X, Y), params, method=method))
    plain = _flat(gradcheck.numerical_gradient(lambda p: mlp.cost(p, X, Y), params,
                                               method=method))
    scale = np.max(np.abs(plain))
    # Forward differences divide rounding by h = √ε: both agree to their own noise, 2εF/h.
    rtol = 1e-6 if method == "forward" else 1e-8
    np.testing.assert_allclose(fast, plain, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("convention", ["ufldl", "coursera"])
@pytest.mark.parametrize("method", ["central", "complex"])
def test_float32_agrees_to_float32_rounding(convention: str, method: str) -> None:
    mlp, params, X, Y = _problem(dtype=np.float32, convention=convention)
    fast = _flat(gradcheck.numerical_gradient(mlp.objective(X, Y), params, method=method))
    plain = _flat(gradcheck.numerical_gradient(lambda p: mlp.cost(p, X, Y), params,
                                               method=method))
    np.testing.assert_allclose(fast, plain, rtol=0, atol=1e-3 * np.max(np.abs(plain)))


def test_value_at_x_is_the_cost_and_arrays_are_left_alone() -> None:
    mlp, params, X, Y = _problem(loss="cross_entropy", output="softmax")
    before = [a.copy() for layer in params for a in layer]
    objective = mlp.objective(X, Y)
    assert objective(params) == mlp.cost(params, X, Y)
    ev = objective.gradcheck_evaluator([a for layer in params for a in layer], None, ())
    assert ev.result_eps == 0.0
    assert ev.at_x() == mlp.cost(params, X, Y)
    ev.along(np.arange(5), np.full(5, 1e-3))
    assert (ev.n_evaluations, ev.result_eps) == (6, np.finfo(np.float64).eps)
    for a, b in zip(before, [a for layer in params for a in layer], strict=True):
        np.testing.assert_array_equal(a, b)


def test_every_move_matches_the_cost_at_the_moved_point() -> None:
    mlp, params, X, Y = _problem(hidden="tanh", output="softmax", loss="cross_entropy")
    leaves = [a for layer in params for a in layer]
    size = sum(a.size for a in leaves)
    index = np.arange(size)
    shift = np.where(index % 2 == 0, 0.25, -0.5)
    for block_bytes in (1, 1 << 22):  # one move a block, and every move of a leaf at once
        ev = mlp.objective(X, Y, block_bytes=block_bytes).gradcheck_evaluator(leaves, None, ())
        moved = ev.along(index, shift)
        for k in index:
            theta = np.concatenate([a.ravel() for a in leaves])
            theta[k] += shift[k]
            expected = mlp.cost(_unflat(theta, mlp), X, Y)
            assert moved[k] == pytest.approx(expected, rel=1e-13, abs=1e-15)


def _unflat(theta: Any, mlp: MLP) -> list[Layer]:
    return unflatten(theta, mlp)


def test_complex_moves_match_the_complex_cost() -> None:
    mlp, params, X, Y = _problem(hidden="relu", output="sigmoid", loss="cross_entropy")
    leaves = [a for layer in params for a in layer]
    ev = mlp.objective(X, Y).gradcheck_evaluator(leaves, None, ())
    values = ev.along_imaginary(np.array([0, 16, 40, 43]), np.full(4, 1e-3))
    assert values.dtype == np.complex128
    for value, k in zip(values, [0, 16, 40, 43], strict=True):
        moved = [a.astype(complex) for a in leaves]
        leaf = np.searchsorted(np.cumsum([a.size for a in leaves]), k, side="right")
        moved[leaf].reshape(-1)[k - sum(a.size for a in leaves[:leaf])] += 1e-3j
        expected = mlp.cost(list(zip(moved[::2], moved[1::2], strict=True)), X, Y)
        assert value == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh"])
def test_verdicts_agree_on_correct_gradients_and_planted_bugs(hidden: str) -> None:
    mlp, params, X, Y = _problem(hidden=hidden, loss="cross_entropy")
    objective = mlp.objective(X, Y)
    assert gradcheck.check_gradient(objective, params, objective.gradient).passed
    for planted in plant(mlp, params, X, Y):
        fast = gradcheck.check_gradient(objective, params, planted.grads)
        plain = gradcheck.check_gradient(lambda p: mlp.cost(p, X, Y), params, planted.grads)
        assert fast.passed == plain.passed == (planted.effect == 0.0), planted.bug.name


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda o, p: o.gradcheck_evaluator(p, None, (1,)), TypeError, "`args` has 1 item"),
        (lambda o, p: o.gradcheck_evaluator(p[:2], None, ()), ValueError, "`x` has 2 array"),
        (lambda o, p: o.gradcheck_evaluator([p[1], p[0], *p[2:]], None, ()), ValueError,
         r"`params\[0\].W` has shape"),
        (lambda o, p: MLP([3, 2]).objective(np.ones((2, 4)), np.ones((2, 2))), ValueError,
         "`X` has shape"),
        (lambda o, p: MLP([3, 2], loss="cross_entropy").objective(np.ones((2, 3)),
                                                                  np.full((2, 2), 2.0)),
         ValueError, "cross-entropy targets"),
        (lambda o, p: MLP([3, 2]).objective(np.ones((2, 3)), np.ones((2, 2)), block_bytes=0),
         ValueError, "block_bytes"),
    ],
)
def test_bad_input_names_the_argument(make: Any, error: type[Exception], match: str) -> None:
    mlp, params, X, Y = _problem()
    with pytest.raises(error, match=match):
        make(mlp.objective(X, Y), [a for layer in params for a in layer])


def test_objective_repr_and_type() -> None:
    mlp, _, X, Y = _problem()
    objective = mlp.objective(X, Y)
    assert isinstance(objective, Objective)
    assert repr(objective).startswith("Objective(MLP(layer_sizes=(3, 5, 4, 3)")
