"""Regressions from the review of the derivative checks (issue 12): each test failed before."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck


@pytest.mark.parametrize("offset", [1e3, 1e4])
def test_jvp_far_from_zero_has_no_false_alarm(offset: float) -> None:
    # x + s·c·t rounded by ε|x| used to enter the difference quotients: 8 of 20 failed at 1e3
    for seed in range(20):
        x = offset + np.random.default_rng(seed).normal(size=5)
        result = gradcheck.check_jvp(lambda x: x - offset, x, lambda x, t: t)
        assert result.passed, (seed, str(result))
        assert not result.diagnosis


def test_jvp_far_from_zero_still_fails_a_slightly_wrong_jvp() -> None:
    x = 1e3 + np.random.default_rng(0).normal(size=5)
    result = gradcheck.check_jvp(lambda x: x - 1e3, x, lambda x, t: (1 + 1e-6) * t)
    assert not result.passed


def test_jvp_moves_are_exact_and_the_tangents_barely_rounded() -> None:
    from gradcheck import _problem, jvp

    x = 1e3 + np.random.default_rng(1).normal(size=4)
    pb = _problem.prepare(lambda x: x, x, (), "central")
    wanted = np.outer([6e-6, 3e-6], x) * np.random.default_rng(2).normal(size=(2, 4))
    moves = jvp.exact_moves(pb, wanted)
    assert np.allclose(moves, wanted, rtol=1e-7, atol=0)
    for k in range(-jvp.EXACT_LEVELS, 3):
        for sign in (1.0, -1.0):
            step = sign * 2.0**k * moves
            np.testing.assert_array_equal((x + step) - x, step)
