"""Every public entry point of backprop_ref against bad input: one table, messages pinned.

The table also holds the arguments of ``gradcheck.check_gradient`` that name the caller's
network (``weight_decay``, ``n_examples``, ``hints``): each is checked before f is first called.
It ends with the failures of gradcheck that a new user met first: each must be a clear
error that names what is wrong, never a warning, a raw pickling error or bad grammar.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pytest

import gradcheck
from backprop_ref import MLP, Layer, diagnosis_hints, flatten, train, unflatten
from gradcheck import cli

NET = MLP([2, 3, 1])  # params: W (3, 2), b (3,), W (1, 3), b (1,)
CE = MLP([2, 3, 1], loss="cross_entropy")
X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0]])  # (4, 2)
Y = np.array([[1.0], [1.0], [0.0], [0.0]])  # (4, 1)


def good() -> list[Layer]:
    return NET.init_params(rng=0)


def with_array(layer: int, field: str, value: Any) -> list[Any]:
    params: list[Any] = good()
    params[layer] = params[layer]._replace(**{field: value})
    return params


def case(call: Callable[[], object], error: type[BaseException], match: str, id: str) -> Any:
    return pytest.param(call, error, match, id=id)


def never_called(params: list[Layer]) -> float:
    raise AssertionError("f was called before the arguments were checked")


def checked(**options: Any) -> Callable[[], object]:
    """check_gradient of NET's parameters with ``options``: f must never be reached."""
    return lambda: gradcheck.check_gradient(never_called, good(), good(), **options)


def command_line(argv: list[str]) -> None:
    """``gradcheck ARGV``; a usage error (exit status 2) raised as SystemExit(its stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = cli.main(argv)
    if status == 2:
        raise SystemExit(err.getvalue())


def in_process_pool(f: Callable[..., Any]) -> None:
    """A check of ``f`` on a process pool (which must pickle ``f``)."""
    with ProcessPoolExecutor(1) as pool:
        gradcheck.check_gradient(f, np.ones(2), lambda w: 2 * w, executor=pool)


def infinite_analytic() -> None:
    """A gradient with an infinite element, asserted (under the suite's warnings as errors)."""
    gradcheck.assert_gradient(lambda w: float(w @ w), np.array([1.0, 2.0]), np.array([np.inf, 4.0]))


TABLE = [
    # MLP(layer_sizes, ...)
    case(lambda: MLP(5), TypeError, r"`layer_sizes` must be a sequence of ints", "sizes int"),
    case(lambda: MLP("23"), TypeError, r"`layer_sizes` must be a sequence", "sizes str"),
    case(
        lambda: MLP([3]),
        ValueError,
        r"`layer_sizes` is \(3,\); a network needs at least 2",
        "one layer",
    ),
    case(
        lambda: MLP([]),
        ValueError,
        r"`layer_sizes` is \(\); a network needs at least 2",
        "no layer",
    ),
    case(lambda: MLP([2, 0]), ValueError, r"`layer_sizes\[1\]` is 0; it must be >= 1", "size 0"),
    case(
        lambda: MLP([-2, 1]), ValueError, r"`layer_sizes\[0\]` is -2; it must be >= 1", "size < 0"
    ),
    case(
        lambda: MLP([2, 2.0]),
        TypeError,
        r"`layer_sizes\[1\]` must be an int, got 2.0 \(float\)",
        "size float",
    ),
    case(
        lambda: MLP([True, 2]),
        TypeError,
        r"`layer_sizes\[0\]` must be an int, got True \(bool\)",
        "size bool",
    ),
    case(
        lambda: MLP([2, 1], activation="softplus"),
        ValueError,
        r"`activation` is 'softplus'; expected one of 'identity', 'relu', 'sigmoid', 'tanh'$",
        "unknown activation",
    ),
    case(
        lambda: MLP([2, 1], activation=None),
        TypeError,
        r"`activation` must be a str, one of",
        "activation None",
    ),
    case(
        lambda: MLP([2, 1], activation="softmax"),
        ValueError,
        r"`activation` is 'softmax', .* allowed only as `output_activation`",
        "softmax hidden",
    ),
    case(
        lambda: MLP([2, 1], output_activation="logistic"),
        ValueError,
        r"`output_activation` is 'logistic'; expected one of .*'sigmoid', 'softmax', 'tanh'",
        "unknown output",
    ),
    case(
        lambda: MLP([2, 1], loss="mse"),
        ValueError,
        r"`loss` is 'mse'; expected one of 'cross_entropy', 'squared'",
        "unknown loss",
    ),
    case(
        lambda: MLP([2, 1], decay_convention="l2"),
        ValueError,
        r"`decay_convention` is 'l2'; expected one of 'coursera', 'ufldl'",
        "unknown convention",
    ),
    case(
        lambda: MLP([2, 1], loss="cross_entropy", output_activation="tanh"),
        ValueError,
        r"`output_activation` is 'tanh', but loss='cross_entropy' needs .*'sigmoid'.*'softmax'",
        "cross-entropy tanh",
    ),
    case(
        lambda: MLP([2, 1], loss="cross_entropy", output_activation="identity"),
        ValueError,
        r"`output_activation` is 'identity', but loss='cross_entropy'",
        "cross-entropy identity",
    ),
    case(
        lambda: MLP([2, 1], weight_decay=-0.1),
        ValueError,
        r"`weight_decay` is -0.1; it must be finite and >= 0",
        "decay < 0",
    ),
    case(
        lambda: MLP([2, 1], weight_decay=float("nan")),
        ValueError,
        r"`weight_decay` is nan; it must be finite",
        "decay nan",
    ),
    case(
        lambda: MLP([2, 1], weight_decay=float("inf")),
        ValueError,
        r"`weight_decay` is inf; it must be finite",
        "decay inf",
    ),
    case(
        lambda: MLP([2, 1], weight_decay="0.1"),
        TypeError,
        r"`weight_decay` must be a real number, got '0.1' \(str\)",
        "decay str",
    ),
    case(
        lambda: MLP([2, 1], weight_decay=True),
        TypeError,
        r"`weight_decay` must be a real number, got True",
        "decay bool",
    ),
    case(
        lambda: MLP([2, 1], weight_decay=1j),
        TypeError,
        r"`weight_decay` must be a real number, got 1j",
        "decay complex",
    ),
    # MLP.init_params(rng, scale)
    case(lambda: NET.init_params(rng=-1), ValueError, r"`rng` is -1; it must be >= 0", "seed < 0"),
    case(
        lambda: NET.init_params(rng=1.5),
        TypeError,
        r"`rng` must be None, an int seed or a numpy.random.Generator, got float",
        "seed float",
    ),
    case(
        lambda: NET.init_params(rng=np.random.RandomState(0)),
        TypeError,
        r"`rng` must be .* got RandomState",
        "RandomState",
    ),
    case(
        lambda: NET.init_params(scale=0.0),
        ValueError,
        r"`scale` is 0.0; it must be finite and > 0",
        "scale 0",
    ),
    case(
        lambda: NET.init_params(scale=-1.0),
        ValueError,
        r"`scale` is -1.0; it must be finite and > 0",
        "scale < 0",
    ),
    case(
        lambda: NET.init_params(scale=float("inf")),
        ValueError,
        r"`scale` is inf; it must be finite",
        "scale inf",
    ),
    # params (through cost_and_gradient, its loop twin, cost and predict)
    case(
        lambda: NET.cost_and_gradient(np.zeros(13), X, Y),
        TypeError,
        r"`params` must be a list of \(W, b\) layers, got ndarray",
        "params array",
    ),
    case(lambda: NET.cost_and_gradient([], X, Y), ValueError, r"`params` is empty", "params empty"),
    case(
        lambda: NET.cost_and_gradient(good()[:1], X, Y),
        ValueError,
        r"`params` has 1 layer\(s\); expected 2 for layer_sizes \(2, 3, 1\)",
        "too few layers",
    ),
    case(
        lambda: NET.cost_and_gradient([*good(), good()[1]], X, Y),
        ValueError,
        r"`params` has 3 layer\(s\); expected 2",
        "too many layers",
    ),
    case(
        lambda: NET.cost_and_gradient([good()[0], (np.zeros((1, 3)),)], X, Y),
        TypeError,
        r"`params\[1\]` must be a \(W, b\) pair, got tuple",
        "not a pair",
    ),
    case(
        lambda: NET.cost_and_gradient(with_array(1, "W", np.zeros((3, 1))), X, Y),
        ValueError,
        r"`params\[1\].W` has shape \(3, 1\); expected \(1, 3\)",
        "W transposed",
    ),
    case(
        lambda: NET.cost_and_gradient_loop(with_array(0, "b", np.zeros((3, 1))), X, Y),
        ValueError,
        r"`params\[0\].b` has shape \(3, 1\); expected \(3,\)",
        "b 2-D",
    ),
    case(
        lambda: NET.cost(with_array(0, "b", np.zeros(2)), X, Y),
        ValueError,
        r"`params\[0\].b` has shape \(2,\); expected \(3,\)",
        "b short",
    ),
    case(
        lambda: NET.cost_and_gradient(with_array(0, "W", np.ones((3, 2), dtype=int)), X, Y),
        TypeError,
        r"`params\[0\].W` has dtype int64; expected float32 or float64",
        "W int",
    ),
    case(
        lambda: NET.cost_and_gradient(with_array(1, "W", np.ones((1, 3), dtype=complex)), X, Y),
        TypeError,
        r"`params\[1\].W` has dtype complex128; expected float32",
        "W complex",
    ),
    case(
        lambda: NET.cost_and_gradient(with_array(0, "W", [[1.0], [1.0, 2.0]]), X, Y),
        TypeError,
        r"`params\[0\].W` must be an array of floats",
        "W ragged",
    ),
    case(
        lambda: NET.cost_and_gradient(with_array(1, "b", np.zeros(1, np.float32)), X, Y),
        TypeError,
        r"`params\[1\].b` has dtype float32; `params\[0\].W` has float64 and all parameters "
        r"must share one dtype",
        "mixed dtypes",
    ),
    case(
        lambda: NET.cost_and_gradient(with_array(0, "W", np.full((3, 2), np.nan)), X, Y),
        ValueError,
        r"`params\[0\].W` contains 6 NaN or inf value\(s\)",
        "W nan",
    ),
    case(
        lambda: NET.predict(with_array(1, "b", np.array([np.inf])), X),
        ValueError,
        r"`params\[1\].b` contains 1 NaN or inf",
        "b inf",
    ),
    # X and Y
    case(
        lambda: NET.cost_and_gradient(good(), X.astype(int), Y),
        TypeError,
        r"`X` has dtype int64; expected float32 or float64",
        "X int",
    ),
    case(
        lambda: NET.cost_and_gradient(good(), X[0], Y),
        ValueError,
        r"`X` has shape \(2,\); expected \(m, 2\) with m >= 1",
        "X 1-D",
    ),
    case(
        lambda: NET.cost_and_gradient(good(), X[:, :1], Y),
        ValueError,
        r"`X` has shape \(4, 1\); expected \(m, 2\)",
        "X columns",
    ),
    case(
        lambda: NET.cost_and_gradient(good(), X[:0], Y[:0]),
        ValueError,
        r"`X` has shape \(0, 2\); expected \(m, 2\) with m >= 1",
        "X empty",
    ),
    case(
        lambda: NET.predict(good(), [[0.0, np.nan]]),
        ValueError,
        r"`X` contains 1 NaN or inf",
        "X nan",
    ),
    case(
        lambda: NET.cost_and_gradient(good(), X, Y[:3]),
        ValueError,
        r"`Y` has shape \(3, 1\); expected \(4, 1\)",
        "Y rows",
    ),
    case(
        lambda: NET.cost_and_gradient_loop(good(), X, Y[:, 0]),
        ValueError,
        r"`Y` has shape \(4,\); expected \(4, 1\)",
        "Y 1-D",
    ),
    case(
        lambda: NET.cost(good(), X, Y.astype(bool)),
        TypeError,
        r"`Y` has dtype bool; expected float32 or float64",
        "Y bool",
    ),
    case(
        lambda: NET.cost_and_gradient(good(), X, np.where(Y > 0, np.inf, Y)),
        ValueError,
        r"`Y` contains 2 NaN or inf",
        "Y inf",
    ),
    case(
        lambda: CE.cost_and_gradient(good(), X, Y - 0.5),
        ValueError,
        r"`Y` has values in \[-0.5, 0.5\]; cross-entropy targets must lie in \[0, 1\]",
        "Y < 0",
    ),
    case(
        lambda: CE.cost(good(), X, Y * 1.001),
        ValueError,
        r"`Y` has values in \[0.0, 1.001\]; cross-entropy targets",
        "Y > 1",
    ),
    # train(mlp, params, X, Y, *, learning_rate, epochs)
    case(
        lambda: train("net", good(), X, Y, learning_rate=1.0, epochs=1),
        TypeError,
        r"`mlp` must be an MLP, got str",
        "train mlp",
    ),
    case(
        lambda: train(NET, good(), X, Y, learning_rate=0.0, epochs=1),
        ValueError,
        r"`learning_rate` is 0.0; it must be finite and > 0",
        "rate 0",
    ),
    case(
        lambda: train(NET, good(), X, Y, learning_rate=float("nan"), epochs=1),
        ValueError,
        r"`learning_rate` is nan",
        "rate nan",
    ),
    case(
        lambda: train(NET, good(), X, Y, learning_rate=None, epochs=1),
        TypeError,
        r"`learning_rate` must be a real number, got None",
        "rate None",
    ),
    case(
        lambda: train(NET, good(), X, Y, learning_rate=1.0, epochs=-1),
        ValueError,
        r"`epochs` is -1; it must be >= 0",
        "epochs < 0",
    ),
    case(
        lambda: train(NET, good(), X, Y, learning_rate=1.0, epochs=2.0),
        TypeError,
        r"`epochs` must be an int, got 2.0 \(float\)",
        "epochs float",
    ),
    case(
        lambda: train(NET, good()[:1], X, Y, learning_rate=1.0, epochs=1),
        ValueError,
        r"`params` has 1 layer\(s\)",
        "train params",
    ),
    case(
        lambda: train(CE, good(), X, Y + 1.0, learning_rate=1.0, epochs=1),
        ValueError,
        r"`Y` has values in \[1.0, 2.0\]",
        "train Y",
    ),
    # diagnosis_hints(mlp, n_examples)
    case(lambda: diagnosis_hints(NET, 0), ValueError, r"`n_examples` is 0; it must be >= 1",
         "hints m 0"),
    case(lambda: diagnosis_hints(NET, 2.5), TypeError, r"`n_examples` must be an int, got 2.5",
         "hints m float"),
    case(lambda: diagnosis_hints((2, 3, 1), 4), TypeError,
         r"`mlp` is tuple; it must be a backprop_ref.MLP", "hints mlp"),
    # gradcheck.check_gradient(..., weight_decay, n_examples, hints), before f is called
    case(checked(weight_decay=-1), ValueError, r"`weight_decay` is -1; it must be finite and >= 0",
         "check decay < 0"),
    case(checked(weight_decay="0.1"), TypeError, r"`weight_decay` is '0.1'; it must be a real",
         "check decay str"),
    case(checked(n_examples=2.5), TypeError, r"`n_examples` is 2.5; it must be an int >= 1",
         "check m float"),
    case(checked(n_examples=0), ValueError, r"`n_examples` is 0; it must be an int >= 1",
         "check m 0"),
    case(checked(hints="weights"), TypeError, r"`hints` is str; it must be a gradcheck.Hints",
         "check hints str"),
    case(checked(hints={"roles": {"x[2].W": "weight"}}), ValueError,
         r"`hints.roles` names 'x\[2\].W', which is not a leaf of `x`; its leaves are "
         r"x\[0\].W, x\[0\].b, x\[1\].W, x\[1\].b", "check hints stray leaf"),
    case(checked(hints={"roles": {"x[0].b": "offset"}}), ValueError,
         r"`hints.roles\['x\[0\].b'\]` is 'offset'; it must be one of weight, bias",
         "check hints role"),
    case(checked(hints={**diagnosis_hints(NET, 4), "n_examples": 5}, n_examples=4), ValueError,
         r"`n_examples` is 4 but `hints.n_examples` is 5; give one", "check hints m twice"),
    case(checked(hints={"weight_decay": -0.5}), ValueError,
         r"`hints.weight_decay` is -0.5; it must be finite and >= 0", "check hints decay"),
    # flatten(params), unflatten(theta, mlp)
    case(
        lambda: flatten(np.zeros((2, 3))),
        TypeError,
        r"`params` must be a list of \(W, b\) layers, got ndarray",
        "flatten array",
    ),
    case(lambda: flatten([]), ValueError, r"`params` is empty", "flatten empty"),
    case(
        lambda: flatten([(np.zeros((1, 2), int), np.zeros(1))]),
        TypeError,
        r"`params\[0\].W` has dtype int64",
        "flatten int",
    ),
    case(
        lambda: unflatten(np.zeros(12), NET),
        ValueError,
        r"`theta` has shape \(12,\); expected \(13,\): the 13 parameters of "
        r"layer_sizes \(2, 3, 1\)",
        "theta short",
    ),
    case(
        lambda: unflatten(np.zeros((13, 1)), NET),
        ValueError,
        r"`theta` has shape \(13, 1\); expected \(13,\)",
        "theta 2-D",
    ),
    case(
        lambda: unflatten(np.arange(13), NET),
        TypeError,
        r"`theta` has dtype int64; expected float32 or float64",
        "theta int",
    ),
    case(
        lambda: unflatten(np.zeros(13), (2, 3, 1)),
        TypeError,
        r"`mlp` must be an MLP, got tuple",
        "unflatten mlp",
    ),
    # gradcheck: failures that must read first
    case(
        infinite_analytic,
        gradcheck.GradientMismatch,
        r"(?s)max rel error nan.*x\[0\]  analytic  inf  numeric  2\.0",
        "infinite analytic: a report, no warning",
    ),
    case(
        lambda: command_line([]),
        SystemExit,
        r"a command is required: verify or check-mlp",
        "no command",
    ),
    case(
        lambda: in_process_pool(lambda w: float(w @ w)),
        TypeError,
        r"^`f` cannot be sent to the processes of a ProcessPoolExecutor, which pickles it "
        r"\(.*\); pass a module-level function",
        "lambda on a process pool",
    ),
    case(
        lambda: gradcheck.check_gradient(np.sum, {"w": 3}, None),
        TypeError,
        r"^`x\['w'\]` is an int; the leaves of `x` must be float32 or float64",
        "an int",
    ),
]


@pytest.mark.parametrize(("call", "error", "match"), TABLE)
def test_bad_input_raises_a_message_naming_the_argument(
    call: Callable[[], object], error: type[BaseException], match: str
) -> None:
    with pytest.raises(error, match=match):
        call()
