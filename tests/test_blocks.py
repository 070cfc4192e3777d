"""The estimators work in blocks of coordinates (``methods.BLOCK``) to bound memory: every
result must be bit-identical to one pass, whatever the block size, for every method and
evaluator, with the same calls of f."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import gradcheck
from gradcheck import methods
from gradcheck import verdict as _verdict

METHODS = ("forward", "central", "complex", "richardson")
_C = np.linspace(-1.0, 1.0, 13)


def _kinked(x: Any) -> Any:
    """Smooth in ``a``, kinked in ``b`` (|b - 0.25| with b = 0.25 at two elements)."""
    return np.sum(np.sin(x["a"]) * _C) + np.sum(np.abs(x["b"] - 0.25) * x["b"])


def _kinked_grad(x: Any) -> Any:
    b = x["b"].astype(np.float64)
    gb = np.sign(b - 0.25) * b + np.abs(b - 0.25)
    return {"a": np.cos(x["a"]) * _C, "b": gb.astype(x["b"].dtype)}


def _smooth(x: Any) -> Any:
    """Analytic, for the complex step too; a float32 leaf beside a float64 one."""
    b = x["b"].astype(np.result_type(x["b"], np.float64))
    return np.sum(np.exp(0.3 * x["a"]) * _C) + np.sum(b**3)


def _smooth_grad(x: Any) -> Any:
    return {"a": 0.3 * np.exp(0.3 * x["a"]) * _C, "b": 3.0 * x["b"] ** 2}


def _point(kinked: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    b = rng.uniform(-1.0, 1.0, (3, 4))
    if not kinked:  # a float32 leaf's rounding in f would hide the planted errors of a kink
        b = b.astype(np.float32)
    else:
        b[0, 1] = b[2, 3] = 0.25
    return {"a": rng.uniform(-2.0, 2.0, 13), "b": b}


def _wrong(grad: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A gradient with two planted errors: one element off by 1e-3, a leaf scaled."""
    out = {k: v.copy() for k, v in grad.items()}
    out["a"][4] += 1e-3
    out["b"] *= 1.01
    return out


def _fingerprint(result: gradcheck.GradientCheckResult) -> tuple[Any, ...]:
    arrays = (result.numeric, result.tolerance, result.status)
    return (result.passed, result.n_evaluations, result.diagnosis, result.unresolved_reason,
            [[a.tobytes() for a in leaves] for leaves in arrays])


def _both(run: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """``run()`` in one block and in blocks of 3 coordinates (the 25 of x span 9)."""
    whole = run()
    monkeypatch.setattr(methods, "BLOCK", 3)
    return whole, run()


CASES = [(kinked, wrong) for kinked in (False, True) for wrong in (False, True)]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("kinked", "wrong"), CASES)
def test_a_check_in_blocks_is_bit_identical(
    method: str, kinked: bool, wrong: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if method == "complex" and kinked:
        pytest.skip("the complex step refuses |.|")
    f, grad = (_kinked, _kinked_grad) if kinked else (_smooth, _smooth_grad)
    x = _point(kinked)
    g = _wrong(grad(x)) if wrong else grad(x)
    whole, blocks = _both(lambda: gradcheck.check_gradient(f, x, g, method=method),
                          monkeypatch)
    assert _fingerprint(blocks) == _fingerprint(whole)
    assert whole.passed is not wrong  # the cases exercise mismatches and passes


@pytest.mark.parametrize("method", METHODS)
def test_numerical_gradient_in_blocks_is_bit_identical(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = _point(False)
    whole, blocks = _both(lambda: gradcheck.numerical_gradient(_smooth, x, method=method),
                          monkeypatch)
    for key in x:
        assert whole[key].tobytes() == blocks[key].tobytes()


def _batched(x: Any) -> Any:
    """``_smooth`` of a batch of points (leading axis B)."""
    a, b = x["a"], x["b"].astype(np.result_type(x["b"], np.float64))
    return np.exp(0.3 * a) @ _C + np.sum(b**3, axis=(1, 2))


@pytest.mark.parametrize("method", METHODS)
def test_batched_and_parallel_evaluators_in_blocks(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = _point(False)
    g = _wrong(_smooth_grad(x))
    with ThreadPoolExecutor(2) as pool:
        whole, blocks = _both(
            lambda: gradcheck.check_gradient(_batched, x, g, method=method, vectorized=True,
                                             executor=pool, max_batch_bytes=200),
            monkeypatch,
        )
    assert _fingerprint(blocks) == _fingerprint(whole)
    assert not whole.passed


def _log(v: Any) -> Any:
    with np.errstate(invalid="raise", divide="raise"):  # outside the domain: an error
        return np.sum(np.log(v))


@pytest.mark.parametrize("method", ["forward", "central", "richardson"])
def test_a_step_leaving_the_domain_shrinks_the_same_in_blocks(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = np.array([3e-6, 0.5, 5e-6, 1.0, 4e-5, 1e-3, 7e-6])
    whole, blocks = _both(lambda: gradcheck.check_gradient(_log, x, 1.0 / x, method=method),
                          monkeypatch)
    # where f raises, its request is evaluated again point by point to find where
    # (methods._values): the calls depend on the request, not the values
    assert _fingerprint(blocks)[2:] == _fingerprint(whole)[2:]
    assert whole.passed


def test_a_step_below_the_resolution_is_named_in_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(methods, "BLOCK", 2)
    x = np.array([1.0, 2.0, 1e6, 3.0])
    with pytest.raises(ValueError, match=r"`step` \S*1e-12\S* is below the resolution of `x\[2\]`"):
        gradcheck.numerical_gradient(lambda v: np.sum(v**2), x, step=1e-12)


def _layer_norm(x: Any) -> Any:
    """A layer norm's weighted sum: rounding by cancellation, so f's own noise is measured."""
    z = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + 1e-5)
    return np.sum(z * np.linspace(-1.0, 1.0, x.shape[1]))


@pytest.mark.parametrize("n", [1, 4, 7])
def test_the_repeats_draw_the_one_generators_stream_block_by_block(n: int) -> None:
    # the forward repeats' factors, as one generator drew them after the offsets and centres
    # (a sign takes 32 bits: an odd n leaves a high half that the next signs start with)
    size = 9
    rng = np.random.default_rng(_verdict.REPEAT_SEED)
    rng.uniform(-1.0, 1.0, size), rng.uniform(-1.0, 1.0, size)
    whole = [rng.uniform(0.5, 1.0, n) * rng.choice([-1.0, 1.0], n) for _ in range(4)]
    for block in (1, 2, 3):
        streams = _verdict._repeat_signed_streams(size, n)
        drawn = [np.concatenate([u.uniform(0.5, 1.0, len(part)) * s.choice([-1.0, 1.0], len(part))
                                 for part in np.array_split(np.arange(n), range(block, n, block))])
                 for u, s in streams]
        assert [a.tobytes() for a in drawn] == [a.tobytes() for a in whole]


@pytest.mark.parametrize("method", ["forward", "central"])
def test_own_noise_in_blocks_is_bit_identical(method: str) -> None:
    x = np.random.default_rng(2).normal(0.0, 1.0, (4, 6))
    x[1] = 0.7  # a constant row: its rounding is what the repeats measure
    pb = methods.prepare(_layer_norm, x, (), method)
    index = np.array([17, 3, 0, 22, 9, 10, 5])  # any order
    h = np.full(index.size, 3e-6) * (1.0 + np.arange(index.size) % 3)
    whole = _verdict.measure_own_noise(pb, _layer_norm, h, index)
    assert whole[0].max() > 0.0  # noise found: the comparison below means something
    for block in (1, 2, 3):
        sigma, calls = _verdict.measure_own_noise(pb, _layer_norm, h, index, block=block)
        assert (sigma.tobytes(), calls) == (whole[0].tobytes(), whole[1])
        pooled = _verdict.pooled_own_noise(pb, index, sigma, h, block=block)
        assert pooled is sigma  # raised in place
        # each element's group: its leaf (one here) and the power of two of its step
        octave = np.floor(np.log2(h))
        assert pooled.tolist() == [whole[0][octave == o].max() for o in octave]
        assert len(set(pooled.tolist())) > 1  # more than one group


class _OffTheAxes:
    """Smooth, but raising ValueError at points that move every coordinate by more than a few
    ulps (the repeats' moved bases) when the one moved farther is ``late`` or beyond."""

    def __init__(self, x0: np.ndarray, late: int) -> None:
        self.x0, self.late = x0.copy(), late

    def __call__(self, x: np.ndarray) -> Any:
        moved = np.abs(x - self.x0)
        far = np.flatnonzero(moved > 1e-10)
        if (moved > 1e-15).sum() > 1 and (far.size == 0 or far[0] >= self.late):
            raise ValueError("off the axes")
        return np.sum(np.exp(0.3 * x)) + np.sum(x**3)


@pytest.mark.parametrize("late", [0, 7])
def test_a_repeat_raising_in_one_block_fails_its_whole_request(late: int) -> None:
    # one request over all elements raised as a whole: in blocks, a block raising makes its
    # request NaN for every element, as it was
    x = np.random.default_rng(1).uniform(0.2, 1.0, 12)
    f = _OffTheAxes(x, late)
    pb = methods.prepare(f, x, (), "forward")
    index, h = np.arange(12), np.full(12, 2e-8)
    whole = _verdict.measure_own_noise(pb, f, h, index)
    for block in (2, 5):
        sigma, calls = _verdict.measure_own_noise(pb, f, h, index, block=block)
        assert (sigma.tobytes(), calls) == (whole[0].tobytes(), whole[1])
