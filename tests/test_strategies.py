"""gradcheck.strategies: what each strategy draws, and its eager argument checks."""

from __future__ import annotations

import doctest
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import gradcheck
from backprop_ref import MLP
from gradcheck import strategies
from gradcheck.strategies import (
    LOSS_OUTPUTS,
    Case,
    checkable_cases,
    inputs,
    layer_sizes,
    parameters,
    targets,
    weight_decays,
)

pytest_plugins = ["pytester"]


def test_strategies_is_a_lazy_attribute_with_a_sorted_all() -> None:
    assert gradcheck.strategies is strategies
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical
    def kind(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert strategies.__all__ == sorted(strategies.__all__, key=kind)
    assert all(hasattr(strategies, name) for name in strategies.__all__)


@given(layer_sizes(min_layers=3, max_layers=3, min_units=2, max_units=2))
def test_layer_sizes_respects_its_bounds(sizes: list[int]) -> None:
    assert sizes == [2, 2, 2]


@given(weight_decays(max_value=2.0))
def test_weight_decays_are_finite_and_non_negative(lam: float) -> None:
    assert 0.0 <= lam <= 2.0


@given(st.data(), layer_sizes())
def test_parameters_fit_the_architecture(data: st.DataObject, sizes: list[int]) -> None:
    params = data.draw(parameters(sizes, scales=(0.5,)))
    assert [(W.shape, b.shape) for W, b in params] == [
        ((n_out, n_in), (n_out,)) for n_in, n_out in itertools.pairwise(sizes)
    ]
    assert all(np.abs(a).max() <= 0.5 for layer in params for a in layer)


@given(st.data(), st.sampled_from(LOSS_OUTPUTS), st.integers(1, 5), st.integers(1, 4))
def test_targets_are_valid_for_their_loss(
    data: st.DataObject, loss_output: tuple[str, str], m: int, n: int
) -> None:
    loss, output = loss_output
    Y = data.draw(targets(m, n, loss=loss, output_activation=output))
    assert Y.shape == (m, n) and np.isfinite(Y).all()
    if output == "softmax":
        np.testing.assert_allclose(Y.sum(axis=1), 1.0, rtol=1e-12)
    if loss == "cross_entropy":
        assert Y.min() >= 0.0 and Y.max() <= 1.0


@given(checkable_cases())
def test_every_case_is_accepted_by_backprop_ref(case: Case) -> None:
    mlp = MLP(**case.keywords)
    cost, _ = mlp.cost_and_gradient(case.params, case.X, case.Y)
    assert np.isfinite(cost)
    assert case.X.shape == (case.Y.shape[0], case.layer_sizes[0])


@pytest.mark.parametrize(
    ("shape", "condition"),
    [
        ("deep-narrow", lambda sizes: len(sizes) == 4 and max(sizes) == 1),
        ("wide-shallow", lambda sizes: len(sizes) == 2 and min(sizes) == 6),
    ],
)
def test_deep_narrow_and_wide_shallow_architectures_are_reachable(
    shape: str, condition: Callable[[list[int]], bool]
) -> None:
    # find() raises NoSuchExample when the shape is never drawn; derandomized so that the
    # outcome is the same on every run, whatever the profile.
    search = settings(derandomize=True, database=None, max_examples=2000)
    assert condition(find(layer_sizes(), condition, settings=search))


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: layer_sizes(min_layers=1), ValueError, r"`min_layers` is 1; it must be >= 2"),
        (lambda: layer_sizes(max_units=0), ValueError, r"`max_units` is 0; it must be >= 1"),
        (lambda: layer_sizes(min_units=4, max_units=3), ValueError,
         r"`max_units` is 3; it must be >= `min_units` \(4\)"),
        (lambda: layer_sizes(max_layers=2.5), TypeError, r"`max_layers` is 2.5; it must be an int"),
        (lambda: weight_decays(max_value=-1.0), ValueError, r"`max_value` is -1.0"),
        (lambda: weight_decays(max_value=1e-5), ValueError, r"it must be > 1e-4"),
        (lambda: parameters([3]), ValueError, r"`sizes` is \[3\]; it must list at least 2"),
        (lambda: parameters([3, 0]), ValueError, r"`sizes\[1\]` is 0; it must be >= 1"),
        (lambda: parameters([3, 1], scales=()), ValueError, r"`scales` is empty"),
        (lambda: parameters([3, 1], scales=(np.inf,)), ValueError, r"`scales\[0\]` is inf"),
        (lambda: inputs(0, 2), ValueError, r"`m` is 0; it must be >= 1"),
        (lambda: inputs(1, 2, max_magnitude=0.0), ValueError, r"`max_magnitude` is 0.0"),
        (lambda: targets(1, 2, loss="cross_entropy", output_activation="tanh"), ValueError,
         r"\(`loss`, `output_activation`\) is \('cross_entropy', 'tanh'\)"),
        (lambda: checkable_cases(min_examples=3, max_examples=2), ValueError,
         r"`max_examples` is 2; it must be >= `min_examples` \(3\)"),
        (lambda: checkable_cases(scales=(0.0,)), ValueError, r"`scales\[0\]` is 0.0"),
    ],
)
def test_bad_arguments_raise_eagerly(make: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_strategies_docstring_examples_run() -> None:
    failed, _ = doctest.testmod(strategies, optionflags=doctest.ELLIPSIS)
    assert failed == 0


SLOW_CHECK_UNDER_GIVEN = """
import time
import numpy as np
from hypothesis import given, settings, strategies as st
from gradcheck.strategies import check_settings

def slow_cube(w):
    time.sleep(0.015)  # 20 calls per check: 0.3 s, over Hypothesis's 200 ms deadline
    return float(np.sum(w ** 3))

@settings(max_examples=1, derandomize=True, database=None)
@given(st.floats(0.5, 2.0))
def test_plain_settings(gradcheck, scale):
    gradcheck(slow_cube, np.array([scale, 0.5]), lambda w: 3 * w ** 2)

@settings(check_settings, max_examples=2, derandomize=True, database=None)
@given(st.floats(0.5, 2.0))
def test_check_settings(gradcheck, scale):
    gradcheck(slow_cube, np.array([scale, 0.5]), lambda w: 3 * w ** 2)
"""


def test_check_settings_have_no_deadline_and_three_health_checks_off() -> None:
    assert strategies.check_settings.deadline is None
    assert set(strategies.check_settings.suppress_health_check) == {
        HealthCheck.too_slow, HealthCheck.large_base_example, HealthCheck.function_scoped_fixture
    }
    # the suite's own profiles derive from them
    assert settings.default.deadline is None
    assert HealthCheck.function_scoped_fixture in settings.default.suppress_health_check


def test_a_check_under_given_needs_check_settings(pytester: pytest.Pytester) -> None:
    # (Without the fixture, the plain test would fail on the deadline instead, after a long
    # shrink: check_settings.deadline is None, tested above, and the last test passes.)
    pytester.makepyfile(test_slow=SLOW_CHECK_UNDER_GIVEN)
    # In a process of its own: this one's default settings are the suite's profile.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FailedHealthCheck*uses a function-scoped fixture 'gradcheck'*"])


def test_the_readme_hypothesis_example_passes(pytester: pytest.Pytester) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Checks inside Hypothesis tests", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_readme=code.replace('"ci"', '"readme-ci"'))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
