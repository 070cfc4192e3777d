"""The one options module: the public signatures as they were, validation in one place.

The signatures below were read with ``inspect.signature`` from the tree before the options
moved into one module (now in :mod:`gradcheck.check`); an ``assert_`` form now shows its
check's parameters.
"""

from __future__ import annotations

import inspect
import traceback
from typing import Any

import numpy as np
import pytest

import gradcheck
from gradcheck import check as options
from gradcheck import methods

_EVALUATION = [("executor", None), ("vectorized", False), ("max_batch_bytes", None)]
_TOLERANCES = [("args", ()), ("method", "central"), ("step", None), ("rtol", None),
               ("atol", None), ("nondet_tol", None)]
_DIRECTIONS = [("seed", 0), *_TOLERANCES, *_EVALUATION]
REQUIRED = inspect.Parameter.empty

SIGNATURES: dict[str, tuple[list[str], list[tuple[str, Any]]]] = {
    "check_gradient": (["f", "x"], [
        ("grad", None), *_TOLERANCES, ("weight_decay", None), ("n_examples", None),
        ("hints", None), ("vectorized", False), ("executor", None), ("max_batch_bytes", None),
        ("progress", None)]),
    "check_jacobian": (["f", "x", "jacobian"], [*_TOLERANCES, *_EVALUATION]),
    "check_vjp": (["f", "x", "vjp"], [("cotangents", None), ("n_cotangents", 3),
                                      *_DIRECTIONS]),
    "check_jvp": (["f", "x", "jvp"], [("tangents", None), ("n_tangents", 2), *_DIRECTIONS]),
    "check_hessian": (["f", "x", "hessian"], [
        ("grad", None), ("hvp", False), ("tangents", None), ("n_tangents", 2),
        *_DIRECTIONS]),
}


def _shape(name: str) -> list[tuple[str, str, Any]]:
    """(name, kind, default) of every parameter of ``gradcheck.<name>``."""
    params = inspect.signature(getattr(gradcheck, name)).parameters.values()
    return [(p.name, p.kind.name, p.default) for p in params]


def _expected(name: str) -> list[tuple[str, str, Any]]:
    required, optional = SIGNATURES[name]
    out = [(n, "POSITIONAL_OR_KEYWORD", REQUIRED) for n in required]
    if name == "check_gradient":  # grad is positional there, and optional
        out.append(("grad", "POSITIONAL_OR_KEYWORD", None))
        optional = optional[1:]
    return out + [(n, "KEYWORD_ONLY", d) for n, d in optional]


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_every_public_check_keeps_its_signature(name: str) -> None:
    assert _shape(name) == _expected(name)


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_every_assert_form_takes_its_checks_parameters(name: str) -> None:
    assertion = getattr(gradcheck, name.replace("check_", "assert_"))
    assert _shape(assertion.__name__) == _expected(name)
    assert assertion.__module__ == getattr(gradcheck, name).__module__
    assert inspect.signature(assertion).return_annotation == "None"


def test_an_assert_form_forwards_every_option_and_raises_the_result() -> None:
    x = np.array([0.3, -0.4])
    # rtol=0.5 lets a gradient 10% off pass: the option reached the check
    gradcheck.assert_gradient(lambda w: float(np.sum(np.sin(w))), x, 1.1 * np.cos(x), rtol=0.5)
    with pytest.raises(gradcheck.DerivativeMismatch) as info:
        gradcheck.assert_jvp(np.sin, x, lambda x, t: 1.1 * np.cos(x) * t, n_tangents=3, seed=4)
    assert info.value.result.cols.names == ("t[0]", "t[1]", "t[2]")
    with pytest.raises(TypeError, match="unexpected keyword argument 'tangent'"):
        gradcheck.assert_jvp(np.sin, x, lambda x, t: t, tangent=[x])


def test_an_assert_form_is_named_in_tracebacks() -> None:
    x = np.array([0.3, -0.4])
    with pytest.raises(gradcheck.GradientMismatch) as info:
        gradcheck.assert_gradient(lambda w: float(w @ w), x, 3 * x)
    names = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "assert_gradient" in names and "assert_" not in names


def test_options_are_built_by_keyword_and_frozen() -> None:
    with pytest.raises(TypeError):
        options.CheckOptions((), "central")  # type: ignore[misc]
    opts = options.CheckOptions(rtol=1e-3)
    with pytest.raises(AttributeError):
        opts.rtol = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(("rtol", "atol", "expected"), [
    (None, None, None), (1e-3, None, (1e-3, 0.0)), (None, 2, (0.0, 2.0)), (0, 0, (0.0, 0.0)),
])
def test_explicit_tolerance_fills_the_missing_one_with_zero(
    rtol: Any, atol: Any, expected: Any
) -> None:
    assert options.explicit_tolerance(rtol, atol) == expected


@pytest.mark.parametrize(("value", "error", "message"), [
    (True, TypeError, r"^`rtol` is True; it must be a finite number >= 0$"),
    ("1", TypeError, r"^`rtol` is '1'; it must be a finite number >= 0$"),
    (-1e-9, ValueError, r"^`rtol` is -1e-09; it must be a finite number >= 0$"),
    (float("nan"), ValueError, r"^`rtol` is nan; it must be a finite number >= 0$"),
])
def test_every_check_rejects_a_bad_number_with_one_message(
    value: Any, error: type[Exception], message: str
) -> None:
    x = np.array([0.3, -0.4])
    for call in (lambda: gradcheck.check_gradient(lambda w: float(w @ w), x, 2 * x, rtol=value),
                 lambda: gradcheck.check_jacobian(np.sin, x, np.diag(np.cos(x)), rtol=value),
                 lambda: gradcheck.check_jvp(np.sin, x, lambda x, t: t, rtol=value)):
        with pytest.raises(error, match=message):
            call()


def test_directions_drawn_are_standard_normal_trees_and_validated() -> None:
    pb = methods.prepare(lambda x: 0.0, {"a": np.zeros(2), "b": np.zeros((1, 3))}, (),
                          "central")
    names = ("tangents", "n_tangents", "x")
    drawn, was_drawn = options.directions(None, 2, 5, pb.layout, pb.treedef, names)
    assert was_drawn and len(drawn) == 2 and drawn[0]["b"].shape == (1, 3)
    np.testing.assert_array_equal(drawn[0]["a"], np.random.default_rng(5).standard_normal(2))
    assert options.direction_matrix(drawn, "tangents", "x", pb.layout, pb.treedef).shape == (2, 5)
    zero = {"a": np.zeros(2), "b": np.zeros((1, 3))}
    with pytest.raises(ValueError, match=r"^`tangents\[1\]` must be finite and not all zero$"):
        options.direction_matrix([drawn[0], zero], "tangents", "x", pb.layout, pb.treedef)
    with pytest.raises(TypeError, match=r"^`tangents` is dict; it must be a non-empty list"):
        options.directions({}, 2, 0, pb.layout, pb.treedef, names)
    given, was_drawn = options.directions((zero,), 2, 0, pb.layout, pb.treedef, names)
    assert given == [zero] and not was_drawn
