"""vectorized=True: same gradients and verdicts as the serial path, blocks, validation."""

from __future__ import annotations

import doctest
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
import pytest

from gradcheck import check as _check
from gradcheck import check_gradient, numerical_gradient
from gradcheck.evaluators import batched as _batched
from gradcheck.report import MISMATCH

METHODS = ("forward", "central", "complex", "richardson")


class Layer(NamedTuple):
    W: Any  # (3, 4), or (B, 3, 4) in a batch
    b: Any  # (3,), or (B, 3)


def _point() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    return {"layer": Layer(rng.normal(size=(3, 4)), rng.normal(size=3)),
            "scale": np.array(0.7)}


def batch_cost(p: dict[str, Any]) -> Any:
    """``sum(sin(W) ⊙ b[:, None]) · scale + sum(b³)`` of every row of a batch, shape (B,)."""
    layer = p["layer"]
    terms = np.sin(layer.W) * layer.b[..., None]  # (B, 3, 4)
    return np.sum(terms.reshape(len(terms), -1), axis=1) * p["scale"] + np.sum(layer.b**3, axis=1)


def cost(p: dict[str, Any]) -> Any:
    """:func:`batch_cost` of one point: the same arithmetic, one row."""
    layer = p["layer"]
    one = {"layer": Layer(layer.W[None], layer.b[None]), "scale": p["scale"][None]}
    return batch_cost(one)[0]


def gradient(p: dict[str, Any]) -> dict[str, Any]:
    layer, s = p["layer"], p["scale"]
    W = np.cos(layer.W) * layer.b[:, None] * s
    b = np.sum(np.sin(layer.W), axis=1) * s + 3 * layer.b**2
    return {"layer": Layer(W, b), "scale": np.array(np.sum(np.sin(layer.W).T @ layer.b))}


def _flat(tree: dict[str, Any]) -> Any:
    return np.concatenate([tree["layer"].W.ravel(), tree["layer"].b, tree["scale"].ravel()])


@pytest.mark.parametrize("method", METHODS)
def test_batched_gradient_equals_the_serial_one(method: str) -> None:
    x = _point()
    serial = numerical_gradient(cost, x, method=method)
    batched = numerical_gradient(batch_cost, x, method=method, vectorized=True)
    np.testing.assert_array_equal(_flat(batched), _flat(serial))
    assert batched["scale"].shape == () and isinstance(batched["layer"], Layer)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("max_batch_bytes", [1, 200, 10_000])
def test_block_size_does_not_change_the_result(method: str, max_batch_bytes: int) -> None:
    x = _point()
    whole = numerical_gradient(batch_cost, x, method=method, vectorized=True)
    blocks = numerical_gradient(batch_cost, x, method=method, vectorized=True,
                                max_batch_bytes=max_batch_bytes)
    np.testing.assert_array_equal(_flat(blocks), _flat(whole))


def test_blocks_hold_at_most_max_batch_bytes() -> None:
    x = {"w": np.arange(10.0)}  # 80 bytes a row
    sizes: list[int] = []

    def f(p: dict[str, Any]) -> Any:
        sizes.append(len(p["w"]))
        return np.sum(p["w"] ** 2, axis=1)

    numerical_gradient(f, x, method="forward", vectorized=True, max_batch_bytes=300)
    assert sizes == [1, 3, 3, 3, 1]  # f(x), then 10 points in blocks of 300 // 80 = 3
    sizes.clear()
    numerical_gradient(f, x, method="complex", vectorized=True, max_batch_bytes=300)
    assert sizes == [1] * 10  # complex rows take 160 bytes


@pytest.mark.parametrize("method", METHODS)
def test_same_verdict_and_evaluations_as_the_serial_path(method: str) -> None:
    x = _point()
    good = gradient(x)
    bad = gradient(x)
    bad["layer"].W[1, 2] *= 1.001
    for analytic, passed in ((good, True), (bad, False)):
        serial = check_gradient(cost, x, analytic, method=method)
        batched = check_gradient(batch_cost, x, analytic, method=method, vectorized=True)
        assert serial.passed is batched.passed is passed
        assert batched.n_evaluations == serial.n_evaluations
        for a, b in zip(serial.status, batched.status, strict=True):
            np.testing.assert_array_equal(a, b)
    assert batched.n_mismatches == 1 and batched.status[0][1, 2] == MISMATCH


def test_vectorized_with_an_executor_is_the_batched_result() -> None:
    x = _point()
    alone = numerical_gradient(batch_cost, x, vectorized=True, max_batch_bytes=300)
    with ThreadPoolExecutor(2) as pool:
        pooled = numerical_gradient(batch_cost, x, vectorized=True, max_batch_bytes=300,
                                    executor=pool)
    np.testing.assert_array_equal(_flat(pooled), _flat(alone))


@pytest.mark.parametrize("method", METHODS)
def test_an_x_without_elements_has_an_empty_gradient(method: str) -> None:
    f = lambda v: np.zeros(len(v), complex if v.dtype.kind == "c" else float)  # noqa: E731
    g = numerical_gradient(f, np.zeros(0), method=method, vectorized=True)
    assert g.shape == (0,)
    assert check_gradient(f, np.zeros(0), np.zeros(0), method=method, vectorized=True).passed


def test_float32_leaves_keep_their_dtype() -> None:
    x = np.linspace(-1, 1, 5, dtype=np.float32)

    def f(v: Any) -> Any:
        assert v.dtype in (np.float32, np.complex64)
        return np.sum(v**3, axis=1)

    for method in METHODS:
        g = numerical_gradient(f, x, method=method, vectorized=True)
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, 3 * x**2, rtol=1e-2, atol=1e-3)


def _mixed_batch(p: list[Any]) -> Any:
    """A batch function of float64, float32 and float64 leaves (two dtypes, interleaved)."""
    a, w, c = p
    return (np.sum(np.sin(a) * 2.0, axis=1) + np.sum(w.reshape(len(w), -1) ** 3, axis=1)
            + np.sum(np.exp(c), axis=1))


@pytest.mark.parametrize("method", METHODS)
def test_mixed_dtypes_are_moved_in_their_own_buffers(method: str) -> None:
    x = [np.array([0.3, -1.2]), np.array([[0.5, 2.0], [-1.0, 0.25]], np.float32),
         np.array([0.1, 0.2, -0.4])]
    one = lambda p: _mixed_batch([leaf[None] for leaf in p])[0]  # noqa: E731
    batched = numerical_gradient(_mixed_batch, x, method=method, vectorized=True)
    serial = numerical_gradient(one, x, method=method)
    for got, want in zip(batched, serial, strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert np.allclose(batched[1], 3 * x[1].astype(np.float64) ** 2, rtol=1e-2)


@pytest.mark.parametrize("method", ["central", "forward"])
@pytest.mark.parametrize("rows", [1, 2])
def test_f_gets_its_own_arrays_and_may_write_into_them(rows: int, method: str) -> None:
    # Blocks reuse the evaluator's buffers (forward's f(x) and its last block are shorter):
    # what f writes must never reach the next block.
    x = {"w": np.array([1.0, -2.0, 0.5])}
    before = x["w"].copy()

    def f(p: dict[str, Any]) -> Any:
        assert p["w"] is not x["w"] and not np.shares_memory(p["w"], x["w"])
        value = np.sum(p["w"] ** 2, axis=1)
        p["w"][:] = 99.0
        return value

    g = numerical_gradient(f, x, method=method, vectorized=True, max_batch_bytes=24 * rows)
    np.testing.assert_allclose(g["w"], 2 * before, rtol=1e-6)
    np.testing.assert_array_equal(x["w"], before)


def test_a_non_vectorized_f_is_a_clear_error() -> None:
    x = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match=r"`f` returned float .* for a batch of 4 points; with "
                       r"vectorized=True, f must return a real array of shape \(4,\)"):
        numerical_gradient(lambda v: float(np.sum(v**2)), x, vectorized=True)
    with pytest.raises(TypeError, match=r"`f` returned float .* for a batch of 1 point; "):
        numerical_gradient(lambda v: float(np.sum(v**2)), x, method="forward", vectorized=True)
    with pytest.raises(TypeError, match=r"returned an array of shape \(4, 2\) .* batch of 4 "
                       r"points"):
        numerical_gradient(lambda v: v**2, x, vectorized=True,
                           max_batch_bytes=10**6)
    with pytest.raises(TypeError, match=r"array of shape \(4,\) and dtype bool"):
        numerical_gradient(lambda v: v[:, 0] > 0, x, vectorized=True)


def test_an_exception_of_f_keeps_its_type_and_says_it_saw_a_batch() -> None:
    def f(v: Any) -> Any:
        return float(v.reshape(2) @ v.reshape(2))  # written for one point of shape (2,)

    with pytest.raises(ValueError, match="cannot reshape") as info:
        numerical_gradient(f, np.array([1.0, 2.0]), vectorized=True)
    notes = getattr(info.value, "__notes__", ["batch of 2 points"])  # Python 3.11+ only
    assert "batch of 4 points: vectorized=True gives every leaf" in notes[0]


def test_complex_step_needs_complex_values() -> None:
    with pytest.raises(TypeError, match="for complex x; the complex step evaluates f"):
        numerical_gradient(lambda v: np.sum(np.abs(v), axis=1), np.array([1.0, 2.0]),
                           method="complex", vectorized=True)


def test_vectorized_needs_grad() -> None:
    with pytest.raises(ValueError, match=r"`grad` is None .* but `vectorized` is True"):
        check_gradient(batch_cost, _point(), vectorized=True)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"vectorized": 1}, TypeError, r"`vectorized` is 1; it must be True or False"),
        ({"vectorized": "yes"}, TypeError, r"`vectorized` is 'yes'"),
        ({"executor": 4}, TypeError, r"`executor` is int 4; it must be a concurrent\.futures"),
        ({"executor": "pool"}, TypeError, r"`executor` is str 'pool'"),
        ({"vectorized": True, "max_batch_bytes": 0}, ValueError,
         r"`max_batch_bytes` is 0; it must be a positive integer"),
        ({"vectorized": True, "max_batch_bytes": -8}, ValueError, r"`max_batch_bytes` is -8"),
        ({"vectorized": True, "max_batch_bytes": 1.5}, TypeError, r"`max_batch_bytes` is 1\.5"),
        ({"vectorized": True, "max_batch_bytes": True}, TypeError, r"`max_batch_bytes` is True"),
        ({"max_batch_bytes": 1024}, ValueError, r"but `vectorized` is False"),
        ({"progress": "bar"}, TypeError,
         r"`progress` is 'bar'; it must be True \(a bar on stderr\), False, None or a callable"),
    ],
)
@pytest.mark.parametrize("entry", ["numerical_gradient", "check_gradient", "assert_gradient"])
def test_bad_evaluation_options(
    entry: str, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    import gradcheck

    function = getattr(gradcheck, entry)
    extra = () if entry == "numerical_gradient" else (gradient,)
    with pytest.raises(error, match=message):
        function(batch_cost, _point(), *extra, **options)


def test_rows_per_block() -> None:
    leaves = [np.zeros(3), np.zeros((2, 2), np.float32)]  # 24 + 16 bytes a row
    assert _batched.rows_per_block(leaves, 100, complex_input=False) == 2
    assert _batched.rows_per_block(leaves, 100, complex_input=True) == 1
    assert _batched.rows_per_block(leaves, 1, complex_input=False) == 1


def test_doctests() -> None:
    for module in (_batched, _check):
        assert doctest.testmod(module).failed == 0
