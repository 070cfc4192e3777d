"""The shortcuts of `MLP.cost_and_gradient` at small m, against the full paths they stand in for.

`backprop_ref._validate.fast_checked` must accept only what the full checks accept, and return
what they return; anything else it declines, and the full checks then raise (the bad-input
table of test_validate.py pins their messages). The few-calls path of
`backprop_ref.vectorized.cost_and_gradient` (m <= 16) must give the workspace path's values to
the last bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from backprop_ref import MLP, Layer, vectorized
from backprop_ref._validate import check_inputs, check_params, check_targets, fast_checked

NET = MLP([2, 3, 1])
CE = MLP([2, 3, 1], loss="cross_entropy")
RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 2))
Y = RNG.random((4, 1))


def params(dtype: str = "float64") -> list[Layer]:
    return [Layer(W.astype(dtype), b.astype(dtype)) for W, b in NET.init_params(rng=0, scale=0.5)]


def fast(mlp: MLP, p: Any, x: Any, y: Any) -> Any:
    return fast_checked(p, x, y, mlp._shapes, unit=mlp.loss == "cross_entropy")


VALID: dict[str, Callable[[], tuple[MLP, Any, Any, Any]]] = {
    "Layers": lambda: (NET, params(), X, Y),
    "tuples": lambda: (NET, [tuple(layer) for layer in params()], X, Y),
    "a tuple of lists": lambda: (NET, tuple([W, b] for W, b in params()), X, Y),
    "float32 params, float64 data": lambda: (NET, params("float32"), X, Y),
    "float64 params, float32 data": lambda: (NET, params(), X.astype("f4"), Y.astype("f4")),
    "cross-entropy": lambda: (CE, params(), X, Y),
    "one example": lambda: (NET, params(), X[:1], Y[:1]),
}


@pytest.mark.parametrize("make", VALID.values(), ids=VALID.keys())
def test_fast_checks_return_what_the_full_checks_return(make: Callable[..., Any]) -> None:
    mlp, p, x, y = make()
    result = fast(mlp, p, x, y)
    assert result is not None, "the common valid case must take the fast path"
    layers = check_params(p, mlp.layer_sizes)
    dtype = layers[0].W.dtype
    expected = (
        layers,
        check_inputs(x, 2, dtype),
        check_targets(y, (len(x), 1), dtype, unit=mlp.loss == "cross_entropy"),
    )
    got_layers, got_x, got_y = result
    assert all(type(layer) is Layer for layer in got_layers)
    for got, want in zip(
        [*(a for layer in got_layers for a in layer), got_x, got_y],
        [*(a for layer in expected[0] for a in layer), expected[1], expected[2]],
        strict=True,
    ):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def _set(index: int, field: int, value: Any) -> list[Any]:
    p: list[Any] = [list(layer) for layer in params()]
    p[index][field] = value
    return p


def _poisoned(index: int, field: int, value: float) -> list[Any]:
    array = params()[index][field].copy()
    array.flat[-1] = value
    return _set(index, field, array)


def _float32_layer() -> list[Any]:
    """Each layer of one dtype, but not the same one: W(2) and b(2) float32."""
    return [params()[0], tuple(array.astype("f4") for array in params()[1])]


def _bad_x(value: float) -> Any:
    x = X.copy()
    x[2, 1] = value
    return x


INVALID: dict[str, tuple[MLP, Any, Any, Any, type[Exception], str]] = {
    "NaN in W(2)": (NET, _poisoned(1, 0, np.nan), X, Y, ValueError, r"`params\[1\].W` contains"),
    "inf in b(1)": (NET, _poisoned(0, 1, np.inf), X, Y, ValueError, r"`params\[0\].b` contains"),
    "-inf in X": (NET, params(), _bad_x(-np.inf), Y, ValueError, "`X` contains 1 NaN or inf"),
    "NaN in Y": (NET, params(), X, np.where(Y > 0.5, np.nan, Y), ValueError, "`Y` contains"),
    "big-endian W": (NET, _set(0, 0, params()[0].W.astype(">f8")), X, Y, TypeError, "dtype >f8"),
    "float16 b": (NET, _set(1, 1, params()[1].b.astype("f2")), X, Y, TypeError, "dtype float16"),
    "int X": (NET, params(), X.astype(int), Y, TypeError, "`X` has dtype int"),
    "mixed dtypes": (NET, _set(1, 0, params()[1].W.astype("f4")), X, Y, TypeError, "one dtype"),
    "a float32 layer": (NET, _float32_layer(), X, Y, TypeError, r"`params\[1\].W` has dtype f"),
    "complex W": (NET, _set(0, 0, params()[0].W + 0j), X, Y, TypeError, "complex"),
    "W transposed": (NET, _set(0, 0, params()[0].W.T), X, Y, ValueError, r"shape \(2, 3\)"),
    "one layer": (NET, params()[:1], X, Y, ValueError, "has 1 layer"),
    "X one-D": (NET, params(), X[0], Y, ValueError, r"`X` has shape \(2,\)"),
    "no example": (NET, params(), X[:0], Y[:0], ValueError, r"`X` has shape \(0, 2\)"),
    "Y one row short": (NET, params(), X, Y[:3], ValueError, r"`Y` has shape \(3, 1\)"),
    "targets above 1": (CE, params(), X, Y + 1, ValueError, "must lie in"),
    "a layer of three": (NET, [(*params()[0], 0), params()[1]], X, Y, TypeError, "pair"),
    "a dict": (NET, dict(enumerate(params())), X, Y, TypeError, "list of"),
}


@pytest.mark.parametrize(
    ("mlp", "p", "x", "y", "error", "match"), INVALID.values(), ids=INVALID.keys()
)
def test_fast_checks_decline_what_the_full_checks_reject(
    mlp: MLP, p: Any, x: Any, y: Any, error: type[Exception], match: str
) -> None:
    assert fast(mlp, p, x, y) is None
    with pytest.raises(error, match=match):
        mlp.cost_and_gradient(p, x, y)


def test_fast_checks_decline_valid_input_they_cannot_vouch_for() -> None:
    """Lists for arrays, and values whose Σa² overflows: the full checks accept them."""
    huge = X * 1e200  # finite, but Σx² is inf
    nested = [(W.tolist(), b.tolist()) for W, b in params()]
    for p, x in ((params(), huge), (nested, X)):
        assert fast(NET, p, x, Y) is None
        cost, grads = NET.cost_and_gradient(p, x, Y)
        assert np.isfinite(cost) and all(np.isfinite(g.W).all() for g in grads)


NETWORKS = [
    MLP([2, 3, 4, 2], activation=hidden, output_activation=output, loss=loss, weight_decay=0.3)
    for hidden in ("sigmoid", "tanh", "relu", "identity")
    for output, loss in (
        ("sigmoid", "squared"),
        ("softmax", "cross_entropy"),
        ("sigmoid", "cross_entropy"),
        ("tanh", "squared"),
    )
]


@pytest.mark.parametrize("m", [1, 5, 16])
@pytest.mark.parametrize(
    "mlp", NETWORKS, ids=lambda n: f"{n.activation}-{n.output_activation}-{n.loss}"
)
def test_small_batches_give_the_workspace_path_values_bit_for_bit(
    mlp: MLP, m: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(m)
    p = mlp.init_params(rng=rng, scale=1.0)
    x, y = rng.standard_normal((m, 2)), rng.random((m, 2))
    taken = []
    small = vectorized._small_cost_and_gradient
    monkeypatch.setattr(
        vectorized, "_small_cost_and_gradient", lambda *args: taken.append(1) or small(*args)
    )
    cost, grads = mlp.cost_and_gradient(p, x, y)
    assert taken, "m <= 16 must take the few-calls path"
    monkeypatch.setattr(vectorized, "_SMALL_M", 0)
    ref_cost, ref_grads = mlp.cost_and_gradient(p, x, y)
    assert len(taken) == 1
    assert cost == ref_cost
    for got, want in zip(grads, ref_grads, strict=True):
        for g, w in zip(got, want, strict=True):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_array_equal(g, w)
