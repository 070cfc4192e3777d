"""backprop_ref.layers: every step checked alone, and a bug of the catalogue caught in its step."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import gradcheck
from backprop_ref import MLP, bugs, layers

CONFIGS = [
    dict(activation="sigmoid", output_activation="sigmoid", loss="squared"),
    dict(activation="tanh", output_activation="sigmoid", loss="cross_entropy"),
    dict(activation="tanh", output_activation="softmax", loss="cross_entropy"),
]


def _problem(config: dict[str, str]) -> tuple[MLP, list, np.ndarray, np.ndarray]:
    mlp = MLP([3, 4, 3, 2], **config)
    params = mlp.init_params(rng=1, scale=1.0)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((5, 3))
    Y = np.eye(2)[[0, 1, 1, 0, 1]]
    return mlp, params, X, Y


def _failing_steps(mlp: MLP, params: list, X: np.ndarray, Y: np.ndarray,
                   bug: str | None) -> dict[str, str]:
    """Step name -> report, for every step (and the loss) whose check fails."""
    failed = {}
    for step in layers.steps(mlp, params, X, bug=bug):
        result = gradcheck.check_vjp(step.forward, step.point, step.backward)
        if not result.passed:
            failed[step.name] = str(result)
    z = layers.forward_all(mlp, params, X)
    loss = gradcheck.check_jacobian(lambda z_: layers.data_cost(mlp, z_, Y), z,
                                    lambda z_: layers.output_delta(mlp, z_, Y, bug=bug))
    if not loss.passed:
        failed["loss"] = str(loss)
    return failed


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(c.values()))
def test_every_step_passes_vjp_and_jacobian_checks(config: dict[str, str]) -> None:
    mlp, params, X, Y = _problem(config)
    assert _failing_steps(mlp, params, X, Y, None) == {}
    step = layers.steps(mlp, params, X)[0]
    a = step.forward(step.point)
    eye = np.eye(a.size).reshape(a.shape + a.shape)  # the Jacobian from the VJP of each e_i

    def jacobian(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [step.backward(p, e) for e in eye.reshape(a.size, *a.shape)]
        return {k: np.array([r[k] for r in rows]).reshape(a.shape + p[k].shape) for k in p}

    assert gradcheck.check_jacobian(step.forward, step.point, jacobian).passed


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(c.values()))
def test_the_chain_of_steps_is_the_networks_backprop(config: dict[str, str]) -> None:
    mlp, params, X, Y = _problem(config)
    chain = layers.steps(mlp, params, X)
    G = layers.output_delta(mlp, layers.forward_all(mlp, params, X), Y)
    grads = []
    for step in reversed(chain):
        keys = list(step.point)
        out = step.backward(step.point, G)
        grads.append((out[keys[0]], out[keys[1]]))
        G = out[keys[2]]
    _, reference = mlp.cost_and_gradient(params, X, Y)
    for (dW, db), ref in zip(reversed(grads), reference, strict=True):
        np.testing.assert_allclose(dW, ref.W, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(db, ref.b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("bug", "where"),
    [
        ("hidden-no-derivative", {"layer 1 (sigmoid)", "layer 2 (sigmoid)"}),
        ("wrong-activation-derivative", {"layer 1 (sigmoid)", "layer 2 (sigmoid)"}),
        ("derivative-at-a", {"layer 1 (sigmoid)", "layer 2 (sigmoid)"}),
        ("output-no-derivative", {"loss"}),
    ],
)
def test_a_catalogue_bug_is_caught_in_the_step_it_lives_in(bug: str, where: set[str]) -> None:
    assert bug in {b.name for b in bugs.BUGS}
    mlp, params, X, Y = _problem(CONFIGS[0])
    failed = _failing_steps(mlp, params, X, Y, bug)
    assert set(failed) == where
    for name, text in failed.items():
        layer = name.split()[1] if name != "loss" else None
        assert text.startswith("FAILED")
        if layer is not None:  # the report names the step's own inputs, e.g. x['W(1)']
            assert f"x['A({layer})']" in text or f"x['W({layer})']" in text


def test_bad_bug_name_is_rejected() -> None:
    mlp, params, X, _ = _problem(CONFIGS[0])
    with pytest.raises(ValueError, match=r"`bug` is 'no-decay'; it must be None or one of"):
        layers.steps(mlp, params, X, bug="no-decay")


def test_docstring_examples_run() -> None:
    failed, attempted = doctest.testmod(layers, report=True)
    assert failed == 0 and attempted > 0
