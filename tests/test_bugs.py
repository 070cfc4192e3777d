"""backprop_ref.bugs: the catalogue of broken gradients, each doing what its name says."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from backprop_ref import MLP, Layer, bugs
from backprop_ref.bugs import BUGS, plant, relative_effect

BY_NAME = {bug.name: bug for bug in BUGS}


def problem(**keywords: object) -> tuple[MLP, list[Layer], np.ndarray, np.ndarray]:
    mlp = MLP([3, 3, 2], **keywords)  # type: ignore[arg-type]
    rng = np.random.default_rng(1)
    params = mlp.init_params(rng, scale=1.0)
    return mlp, params, rng.normal(size=(4, 3)), rng.uniform(size=(4, 2))


def test_the_catalogue_has_the_classic_bugs() -> None:
    assert len(BUGS) >= 12 and len(BY_NAME) == len(BUGS)
    assert {
        "no-decay", "double-decay", "decay-on-bias", "other-decay-convention", "no-1/m",
        "hidden-no-derivative", "output-no-derivative", "sign-flip", "factor-2", "transposed",
        "zeroed-leaf", "one-wrong-element", "wrong-activation-derivative",
    } <= set(BY_NAME)
    assert all(bug.description and "\n" not in bug.description for bug in BUGS)


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_every_bug_changes_the_gradient_and_nothing_else(loss: str) -> None:
    mlp, params, X, Y = problem(loss=loss, weight_decay=0.1)
    saved = [Layer(W.copy(), b.copy()) for W, b in params]
    _, correct = mlp.cost_and_gradient(params, X, Y)
    for planted in plant(mlp, params, X, Y):
        assert [(g.W.shape, g.b.shape) for g in planted.grads] == [
            (p.W.shape, p.b.shape) for p in params
        ]
        assert planted.effect > 1e-3, planted.bug.name
        assert planted.effect == relative_effect(planted.grads, correct)
    for p, s in zip(params, saved, strict=True):
        np.testing.assert_array_equal(p.W, s.W)
        np.testing.assert_array_equal(p.b, s.b)


def test_decay_bugs_are_the_gradients_of_other_networks() -> None:
    mlp, params, X, Y = problem(weight_decay=0.5, decay_convention="ufldl")
    no_decay = MLP([3, 3, 2]).cost_and_gradient(params, X, Y)[1]
    other = MLP([3, 3, 2], weight_decay=0.5, decay_convention="coursera")
    for name, want in (("no-decay", no_decay),
                       ("other-decay-convention", other.cost_and_gradient(params, X, Y)[1])):
        for g, w in zip(BY_NAME[name].gradient(mlp, params, X, Y), want, strict=True):
            np.testing.assert_allclose(g.W, w.W, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(g.b, w.b, rtol=1e-12, atol=1e-15)


def test_bugs_without_effect_are_measured_as_zero() -> None:
    mlp, params, X, Y = problem(activation="identity", weight_decay=0.0)
    effects = {p.bug.name: p.effect for p in plant(mlp, params, X[:1], Y[:1])}
    for name in ("no-decay", "double-decay", "decay-on-bias", "other-decay-convention",
                 "no-1/m", "hidden-no-derivative", "derivative-at-a"):
        assert effects[name] == 0.0, name


def test_transposed_is_the_transpose_for_a_square_weight() -> None:
    mlp, params, X, Y = problem()
    _, correct = mlp.cost_and_gradient(params, X, Y)
    broken = BY_NAME["transposed"].gradient(mlp, params, X, Y)
    np.testing.assert_array_equal(broken[0].W, correct[0].W.T)  # W(1) is (3, 3)


def test_relative_effect_of_a_zero_gradient() -> None:
    zero = [Layer(np.zeros((1, 1)), np.zeros(1))]
    assert relative_effect(zero, zero) == 0.0
    assert relative_effect([Layer(np.ones((1, 1)), np.zeros(1))], zero) == np.inf


def test_bugs_docstring_examples_run() -> None:
    failed, _ = doctest.testmod(bugs, optionflags=doctest.ELLIPSIS)
    assert failed == 0
