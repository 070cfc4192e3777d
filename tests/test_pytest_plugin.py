"""The pytest plugin (gradcheck.pytest_plugin), run in pytest sessions of its own (pytester)."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradcheck import pytest_plugin

pytest_plugins = ["pytester"]

WRONG = """
import numpy as np
from backprop_ref import Layer

def test_wrong(gradcheck):
    x = [Layer(np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([0.1, 0.2]))]
    def f(p):
        return float(np.sum(p[0].W ** 3) + np.sum(p[0].b ** 2))
    def grad(p):
        gW = 3 * p[0].W ** 2
        gW[1, 0] *= 1.01
        return [Layer(gW, 2 * p[0].b)]
    gradcheck(f, x, grad)
"""

METHODS_SEEN = """
import numpy as np
kinds = []

def f(w):
    kinds.append(w.dtype.kind)
    return np.sum(w ** 3)

def test_all(gradcheck):
    gradcheck(f, np.array([0.5, -1.0]), lambda w: 3 * w ** 2)
    print("SEEN", "".join(sorted(set(kinds))), ",".join(gradcheck.methods_for()))

def test_real_only(gradcheck):
    methods = ("central", "richardson")
    gradcheck(lambda w: float(np.sum(np.abs(w) ** 3)), np.array([0.5, -1.0]),
              lambda w: 3 * w * np.abs(w), methods=methods)
    print("REAL", ",".join(gradcheck.methods_for(methods)))
"""


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide terminal, so that the short summary lines are not cut."""
    monkeypatch.setenv("COLUMNS", "240")


def test_a_failure_shows_the_report_first_and_a_summary_naming_the_element(
    pytester: pytest.Pytester, wide: None
) -> None:
    pytester.makepyfile(test_wrong=WRONG)
    result = pytester.runpytest("-ra", "--tb=auto", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    lines = result.stdout.lines
    header = next(i for i, line in enumerate(lines) if "_ test_wrong _" in line)
    report = next(i for i, line in enumerate(lines) if "GradientMismatch: FAILED:" in line)
    assert 0 < report - header <= 16, "\n".join(lines[header:report + 1])
    assert not any("Raise :class:" in line or "def assert_gradient" in line for line in lines)
    result.stdout.fnmatch_lines([
        "E  *worst mismatches (1 of 1):",
        "E *x[[]0[]].W[[]1, 0[]]  analytic  1.212000000e+01  numeric  1.200000000e+01*",
        "FAILED test_wrong.py::test_wrong - GradientMismatch: x[[]0[]].W[[]1, 0[]]: analytic 12.12,"
        " numeric 12, |a - n| = * tolerances; 1 mismatch(es), method central",
    ])


def test_assert_gradient_hides_its_frames_without_the_fixture(
    pytester: pytest.Pytester, wide: None
) -> None:
    pytester.makepyfile("""
        import numpy as np
        from gradcheck import assert_gradient

        def test_plain():
            assert_gradient(lambda w: float(w @ w), np.array([1.0, 2.0]), np.array([2.0, 4.5]))
    """)
    result = pytester.runpytest("-ra", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "Raise :class:" not in text and "result = check_gradient(" not in text
    result.stdout.fnmatch_lines(["*GradientMismatch: x[[]1[]]: analytic 4.5, numeric 4*"])


def test_the_method_comes_from_the_command_line(pytester: pytest.Pytester, wide: None) -> None:
    pytester.makepyfile(test_wrong=WRONG)
    result = pytester.runpytest("-ra", "--gradcheck-method=forward", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["FAILED *method forward"])
    pytester.makepyfile(test_seen=METHODS_SEEN)
    result = pytester.runpytest("-s", "--gradcheck-method=complex", "test_seen.py")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*SEEN cf complex", "*REAL central"])


def test_all_methods_reruns_each_check_with_every_method_it_allows(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_seen=METHODS_SEEN)
    result = pytester.runpytest("-s", "--gradcheck-all-methods")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*SEEN cf forward,central,complex,richardson",
        "*REAL central,richardson",
    ])


def test_the_plugin_is_installed_and_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_fixture(gradcheck):\n    assert gradcheck.method == 'central'\n")
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest("-p", "no:gradcheck").assert_outcomes(errors=1)


def test_the_plugin_imports_no_hypothesis() -> None:
    code = "import sys, gradcheck.pytest_plugin; print('hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: pytest_plugin.GradcheckFixture(method="exact"), ValueError,
         r"`method` is 'exact'; expected one of forward, central, complex, richardson"),
        (lambda: pytest_plugin.GradcheckFixture().methods_for("central"), ValueError,
         r"`methods` is 'central'; expected a non-empty sequence"),
        (lambda: pytest_plugin.GradcheckFixture().methods_for(()), ValueError,
         r"`methods` is \(\); expected a non-empty sequence"),
        (lambda: pytest_plugin.GradcheckFixture()(np.sum, np.ones(2), np.ones(2),
                                                  method="forward"),
         TypeError, r"`method` is not an option of the gradcheck fixture"),
    ],
)
def test_bad_fixture_arguments(call: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]


def test_doctests() -> None:
    assert doctest.testmod(pytest_plugin).failed == 0


def test_the_readme_example_passes_with_every_method(pytester: pytest.Pytester) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The pytest plugin", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_layer=code)
    pytester.runpytest("--gradcheck-all-methods").assert_outcomes(passed=1)
    planted = code.replace("d = 1 - np.tanh", "d = 2 - 2 * np.tanh")
    assert planted != code
    pytester.makepyfile(test_layer=planted)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]constant-factor[]] the gradient is 2× the numerical one*"])
