"""gradcheck.strategies for any function: pytrees, tangents, cotangents; check_vjp in @given."""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import gradcheck
from gradcheck.strategies import _trees as _tree_strategies
from gradcheck.strategies import cotangents, pytrees, shaped_arrays, tangents

SHAPES = {"W": (3, 4), "b": (3,), "v": (4,)}


@given(pytrees(SHAPES, scales=(0.5, 4.0)))
def test_pytrees_have_the_structure_shapes_and_one_scale(x: dict[str, np.ndarray]) -> None:
    assert list(x) == ["W", "b", "v"]
    assert {k: v.shape for k, v in x.items()} == SHAPES
    top = max(float(np.abs(v).max()) for v in x.values())
    assert top <= 4.0 and all(v.dtype == np.float64 for v in x.values())


@given(pytrees([(2,), ((), (1, 2))]))
def test_lists_and_tuples_nest(x: list[Any]) -> None:
    assert isinstance(x, list) and isinstance(x[1], tuple)
    assert x[0].shape == (2,) and x[1][0].shape == () and x[1][1].shape == (1, 2)


@given(st.data())
def test_tangents_and_cotangents_follow_their_value(data: st.DataObject) -> None:
    x = data.draw(pytrees(SHAPES))
    t = data.draw(tangents(x))
    assert {k: v.shape for k, v in t.items()} == SHAPES
    assert any(np.any(v) for v in t.values())
    ct = data.draw(cotangents((np.zeros(2), np.zeros(()))))
    assert isinstance(ct, tuple) and ct[0].shape == (2,) and ct[1].shape == ()
    assert any(np.any(v) for v in ct)


def my_layer(p: dict[str, np.ndarray]) -> np.ndarray:
    """A user's own layer: tanh(W v + b)."""
    return np.tanh(p["W"] @ p["v"] + p["b"])


def my_layer_vjp(p: dict[str, np.ndarray], ct: np.ndarray) -> dict[str, np.ndarray]:
    """Its backward pass."""
    delta = ct * (1 - np.tanh(p["W"] @ p["v"] + p["b"]) ** 2)
    return {"W": np.outer(delta, p["v"]), "b": delta, "v": p["W"].T @ delta}


@settings(deadline=None, max_examples=20)  # a check calls the layer 2P + 16 times
@given(st.data())
def test_check_vjp_of_a_users_layer_under_given(data: st.DataObject) -> None:
    x = data.draw(pytrees(SHAPES, scales=(0.1, 1.0)), label="x")
    ct = data.draw(cotangents(my_layer(x)), label="ct")
    note(f"x scale {max(float(np.abs(v).max()) for v in x.values()):.3g}")
    gradcheck.assert_vjp(my_layer, x, my_layer_vjp, cotangents=[ct])


@settings(deadline=None, max_examples=10)
@given(pytrees(SHAPES, scales=(0.3, 1.0)))
def test_a_wrong_vjp_fails_under_given(x: dict[str, np.ndarray]) -> None:
    def wrong(p: dict[str, np.ndarray], ct: np.ndarray) -> dict[str, np.ndarray]:
        out = my_layer_vjp(p, ct)
        return {**out, "b": 1.01 * out["b"]}

    with pytest.raises(gradcheck.GradientMismatch, match=r"wrt x\['b'\]"):
        gradcheck.assert_vjp(my_layer, x, wrong)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: pytrees({"a": [3]}), TypeError, r"`shapes\['a'\]\[0\]` is 3; it must be a shape"),
        (lambda: pytrees((2,), scales=()), ValueError, r"`scales` is \(\); it must be a non-empty"),
        (lambda: pytrees((2,), scales=(0.0,)), ValueError, r"`scales\[0\]` is 0.0; it must be"),
        (lambda: shaped_arrays([2]), TypeError, r"`shape` is \[2\]; it must be a tuple of ints"),
        (lambda: tangents({"a": 1.0}), TypeError, r"`x\['a'\]`"),
    ],
)
def test_bad_arguments_are_rejected_eagerly(make: Any, error: type[Exception],
                                            message: str) -> None:
    with pytest.raises(error, match=message):
        make()


def test_docstring_examples_run() -> None:
    failed, attempted = doctest.testmod(_tree_strategies, report=True)
    assert failed == 0 and attempted >= 4
