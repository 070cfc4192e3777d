"""Pytree flattening, paths, structure comparison and leaf validation."""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import pytest

from gradcheck import tree as _tree


class Layer(NamedTuple):
    W: np.ndarray
    b: np.ndarray


def _net() -> list[Layer]:
    return [Layer(np.zeros((4, 3)), np.zeros(4)), Layer(np.zeros((2, 4)), np.zeros(2))]


def test_paths_of_a_list_of_namedtuples() -> None:
    _, paths, _ = _tree.flatten(_net())
    assert paths == ("[0].W", "[0].b", "[1].W", "[1].b")


def test_paths_of_dicts_nested_and_bare_arrays() -> None:
    _, paths, _ = _tree.flatten({"w": np.ones(2), "layers": (np.ones(1), [np.ones(3)])})
    assert paths == ("['w']", "['layers'][0]", "['layers'][1][0]")
    _, bare, _ = _tree.flatten(np.ones(3))
    assert bare == ("",)


@pytest.mark.parametrize(
    "tree",
    [
        _net(),
        {"a": np.ones(2), "b": {"c": np.zeros(1)}},
        OrderedDict([("z", np.ones(1)), ("a", np.ones(2))]),
        (np.ones(2), [np.ones(1), np.ones(3)]),
        np.ones((2, 2)),
    ],
)
def test_unflatten_rebuilds_the_same_types(tree: object) -> None:
    leaves, _, treedef = _tree.flatten(tree)
    rebuilt = _tree.unflatten(treedef, leaves)
    assert type(rebuilt) is type(tree)
    again, _, treedef_again = _tree.flatten(rebuilt)
    assert treedef_again == treedef
    assert all(a is b for a, b in zip(leaves, again, strict=True))


def test_dict_order_of_the_gradient_does_not_matter() -> None:
    _, _, treedef = _tree.flatten({"a": np.ones(1), "b": np.ones(2)})
    leaves = _tree.flatten_like({"b": np.zeros(2), "a": np.zeros(1)}, treedef, "grad", "x")
    assert [leaf.shape for leaf in leaves] == [(1,), (2,)]


@pytest.mark.parametrize(
    ("grad", "message"),
    [
        ([_net()[0]], r"`grad` is a list of 1 items; `x` is a list of 2 items"),
        (
            [_net()[0], (np.zeros((2, 4)), np.zeros(2))],
            r"`grad\[1\]` is a tuple of 2 items; `x\[1\]` is a Layer with fields \['W', 'b'\]",
        ),
        (np.zeros(3), r"`grad` is an array of shape \(3,\); `x` is a list of 2 items"),
        ([_net()[0], {"W": 1}], r"`grad\[1\]` is a dict with keys \[\"'W'\"\]"),
    ],
)
def test_structure_mismatch_names_the_first_difference(grad: object, message: str) -> None:
    _, _, treedef = _tree.flatten(_net())
    with pytest.raises(TypeError, match=message):
        _tree.flatten_like(grad, treedef, "grad", "x")


def test_shape_mismatch_names_the_leaf_and_both_shapes() -> None:
    x = [Layer(np.zeros((2, 2)), np.zeros(2)), Layer(np.zeros((4, 3)), np.zeros(4))]
    grad = [Layer(np.zeros((2, 2)), np.zeros(2)), Layer(np.zeros((3, 4)), np.zeros(4))]
    leaves, paths, _ = _tree.flatten(x)
    grad_leaves, _, _ = _tree.flatten(grad)
    with pytest.raises(ValueError, match=r"^`grad\[1\]\.W` has shape \(3, 4\); `x\[1\]\.W` has"):
        _tree.check_shapes(grad_leaves, leaves, paths, "grad", "x")


@pytest.mark.parametrize(
    ("leaf", "message"),
    [
        (np.arange(3), r"`x\['w'\]` has dtype int64; the leaves of `x` must be float32 or"),
        (np.array([True]), r"has dtype bool"),
        (np.ones(2, complex), r"has dtype complex128"),
        (np.array([1.0], dtype=object), r"has dtype object"),
        (np.ones(2, np.float16), r"has dtype float16"),
        (None, r"`x\['w'\]` is a NoneType"),
        (1.5, r"`x\['w'\]` is a float; .* \(a list of numbers is read as a pytree"),
    ],
)
def test_bad_leaves_of_x_are_type_errors_naming_the_path(leaf: object, message: str) -> None:
    raw, paths, _ = _tree.flatten({"w": leaf})
    with pytest.raises(TypeError, match=message):
        _tree.float_leaves(raw, paths, "x", strict=True)


def test_a_python_list_of_numbers_as_x_is_explained() -> None:
    raw, paths, _ = _tree.flatten([1.0, 2.0])
    with pytest.raises(TypeError, match=r"`x\[0\]` is a float.*wrap it in np.asarray"):
        _tree.float_leaves(raw, paths, "x", strict=True)


def test_gradient_leaves_may_be_any_float_dtype_but_not_int() -> None:
    leaves = _tree.float_leaves([np.ones(2, np.float16), np.float64(2.0)], ["[0]", "[1]"], "g",
                                strict=False)
    assert leaves[1].shape == ()
    with pytest.raises(TypeError, match=r"`g\[0\]` has dtype int64"):
        _tree.float_leaves([np.ones(2, np.int64)], ["[0]"], "g", strict=False)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x_names_path_and_index(bad: float) -> None:
    w = np.zeros((2, 3))
    w[1, 2] = bad
    leaves, paths, _ = _tree.flatten([Layer(np.zeros(1), np.zeros(1)), Layer(w, np.zeros(2))])
    with pytest.raises(ValueError, match=rf"^`x\[1\]\.W` has {bad} at index \(1, 2\); `x` must"):
        _tree.check_finite(leaves, paths, "x", "finite")


def test_layout_locates_and_names_coordinates() -> None:
    leaves, paths, _ = _tree.flatten(_net())
    layout = _tree.Layout.of(leaves, paths, "x")
    assert layout.size == 12 + 4 + 8 + 2
    assert layout.locate(13) == (1, (1,))
    assert layout.describe(0) == "x[0].W[0, 0]"
    assert layout.describe(16 + 5) == "x[1].W[1, 1]"
    parts = layout.split(np.arange(layout.size))
    assert [p.shape for p in parts] == [(4, 3), (4,), (2, 4), (2,)]
    assert parts[2][1, 1] == 21


def test_layout_skips_empty_leaves_and_names_bare_and_0d_arrays() -> None:
    leaves = [np.zeros(0), np.array(1.0, np.float32), np.zeros(2)]
    layout = _tree.Layout.of(leaves, ["[0]", "[1]", "[2]"], "x")
    assert layout.describe(0) == "x[1]"
    assert layout.describe(1) == "x[2][0]"
    assert layout.eps().tolist() == [np.finfo(np.float32).eps] + [np.finfo(float).eps] * 2
    bare = _tree.Layout.of([np.zeros((2, 2))], [""], "x")
    assert bare.describe(3) == "x[1, 1]"
