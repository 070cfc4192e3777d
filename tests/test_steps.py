"""Default steps per method and dtype, representable steps, and the user's step= checked."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck import methods
from gradcheck import tree as _tree

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)


def _prepared(x: object) -> tuple[list[np.ndarray], _tree.Layout, _tree.TreeDef]:
    raw, paths, treedef = _tree.flatten(x)
    leaves = _tree.float_leaves(raw, paths, "x", strict=True)
    return leaves, _tree.Layout.of(leaves, paths, "x"), treedef


@pytest.mark.parametrize(
    ("method", "eps", "expected"),
    [
        ("forward", EPS64, EPS64**0.5),
        ("central", EPS64, EPS64 ** (1 / 3)),
        ("richardson", EPS64, EPS64 ** (1 / 7)),
        ("complex", EPS64, 1e-20),
        ("forward", EPS32, EPS32**0.5),
        ("central", EPS32, EPS32 ** (1 / 3)),
        ("richardson", EPS32, EPS32 ** (1 / 7)),
        ("complex", EPS32, 1e-10),
    ],
)
def test_relative_steps(method: str, eps: float, expected: float) -> None:
    assert methods.relative_step(method, eps) == pytest.approx(expected, rel=1e-12)


def test_richardson_base_step_is_larger_than_central() -> None:
    assert 5e-3 < methods.relative_step("richardson", EPS64) < 7e-3
    richardson, central = (methods.relative_step(m, EPS64) for m in ("richardson", "central"))
    assert richardson > 100 * central


def test_default_steps_scale_with_max_1_abs_x_and_the_dtype() -> None:
    x = [np.array([0.0, -0.5, 4.0]), np.array([100.0], np.float32)]
    h = methods.default_steps("central", x, eps_floor=0.0)
    rel64, rel32 = EPS64 ** (1 / 3), EPS32 ** (1 / 3)
    np.testing.assert_allclose(h, [rel64, rel64, 4 * rel64, 100 * rel32])


def test_the_precision_of_f_coarsens_the_step_of_float64_leaves() -> None:
    h = methods.default_steps("central", [np.zeros(2)], eps_floor=EPS32)
    np.testing.assert_allclose(h, EPS32 ** (1 / 3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shifted_steps_are_exactly_representable(dtype: type) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1e3, 1e3, 50).astype(dtype)
    leaves, layout, _ = _prepared(x)
    h = methods.default_steps("central", leaves, eps_floor=0.0)
    for sign in (1.0, -1.0):
        shift = methods.shifted_steps(_tree.concat(leaves), layout, sign * h)
        moved = (x + shift.astype(dtype)).astype(dtype)
        np.testing.assert_array_equal(moved.astype(np.float64) - x.astype(np.float64), shift)
        assert np.all(np.sign(shift) == sign)
        np.testing.assert_allclose(np.abs(shift), h, rtol=1e-2 if dtype == np.float32 else 1e-6)


def test_a_step_below_the_resolution_of_x_is_refused() -> None:
    leaves, layout, _ = _prepared(np.array([1.0, 1e20]))
    with pytest.raises(ValueError, match=r"below the resolution of `x\[1\]` \(value .*1e\+20"):
        methods.shifted_steps(_tree.concat(leaves), layout, np.array([1e-3, 1e-3]))


def test_shifted_steps_of_mixed_dtypes_and_both_signs_at_once() -> None:
    x = [np.array([1.0, 3.0], np.float32), np.array([[1.0, 3.0]]), np.array([1.0], np.float32)]
    leaves, layout, _ = _prepared(x)
    h = np.full(5, 1e-3)
    both = methods.shifted_steps(_tree.concat(leaves), layout, np.stack([h, -h]))
    assert both.shape == (2, 5)
    for row, sign in zip(both, (1.0, -1.0), strict=True):
        for leaf, a, b in zip(leaves, layout.offsets[:-1], layout.offsets[1:], strict=True):
            flat = leaf.reshape(-1)
            want = (flat + leaf.dtype.type(sign * 1e-3)) - flat
            np.testing.assert_array_equal(row[a:b], want.astype(np.float64))
    assert both[0, 0] != both[0, 2]  # float32 and float64 round the same step differently


def test_imaginary_steps_round_to_the_leaf_dtype() -> None:
    _leaves, layout, _ = _prepared([np.zeros(1, np.float32), np.zeros(1)])
    h = methods.imaginary_steps(layout, np.array([1e-10 / 3, 1e-20 / 3]))
    assert h[0] == float(np.float32(1e-10 / 3))
    assert h[1] == 1e-20 / 3
    with pytest.raises(ValueError, match=r"underflows to 0 in the dtype of `x\[0\]\[0\]`"):
        methods.imaginary_steps(layout, np.array([1e-50, 1e-20]))


def test_user_scalar_and_pytree_steps() -> None:
    x = {"a": np.zeros(2), "b": np.ones((1, 2))}
    leaves, layout, treedef = _prepared(x)
    h = methods.resolve_steps("central", leaves, layout, treedef, 1e-4, eps_floor=0.0)
    np.testing.assert_array_equal(h, np.full(4, 1e-4))
    tree = {"b": np.array([[1e-3, 2e-3]]), "a": np.array([1e-4, 2e-4])}
    h = methods.resolve_steps("central", leaves, layout, treedef, tree, eps_floor=0.0)
    np.testing.assert_array_equal(h, [1e-4, 2e-4, 1e-3, 2e-3])
    default = methods.resolve_steps("forward", leaves, layout, treedef, None, eps_floor=0.0)
    np.testing.assert_array_equal(default, methods.default_steps("forward", leaves, eps_floor=0.0))


@pytest.mark.parametrize(
    ("step", "error", "message"),
    [
        (0.0, ValueError, r"^`step` is 0.0; it must be a positive finite number or a pytree"),
        (-1e-3, ValueError, r"^`step` is -0.001; it must be a positive finite"),
        (float("nan"), ValueError, r"^`step` is nan; it must be a positive finite"),
        (float("inf"), ValueError, r"^`step` is inf"),
        (True, TypeError, r"^`step` is True; it must be None, a positive finite number"),
        ("1e-3", TypeError, r"^`step` is '1e-3'"),
        (1j, TypeError, r"^`step` is 1j"),
        (np.ones(3), TypeError, r"^`step` is an array of shape \(3,\); `x` is a dict"),
        ({"a": np.ones(2), "b": np.ones(2)}, ValueError,
         r"^`step\['b'\]` has shape \(2,\); `x\['b'\]` has shape \(1, 2\)"),
        ({"a": np.array([1e-3, -1e-3]), "b": np.ones((1, 2))}, ValueError,
         r"^`step\['a'\]` has -0.001 at index \(1,\); `step` must be positive and finite"),
        ({"a": np.array([1e-3, np.nan]), "b": np.ones((1, 2))}, ValueError,
         r"^`step\['a'\]` has nan at index \(1,\)"),
        ({"a": np.array([1, 2]), "b": np.ones((1, 2))}, TypeError,
         r"^`step\['a'\]` has dtype int64"),
    ],
)
def test_invalid_steps(step: object, error: type[Exception], message: str) -> None:
    leaves, layout, treedef = _prepared({"a": np.zeros(2), "b": np.ones((1, 2))})
    with pytest.raises(error, match=message):
        methods.resolve_steps("central", leaves, layout, treedef, step, eps_floor=0.0)


@pytest.mark.parametrize("method", ["Central", "backward", None, 3])
def test_unknown_methods(method: object) -> None:
    with pytest.raises(ValueError, match=r"^`method` is .*; it must be one of forward, central"):
        methods.check_method(method)
