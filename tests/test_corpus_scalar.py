"""The checker on the third-party corpus (tests/corpus): autograd's gradients, planted bugs.

A slice of the corpus runs with every test run (a few seconds); the whole corpus, every
method, runs with ``pytest -m corpus`` (about two minutes on one core). The figures of the
whole corpus are written by ``python -m tests.corpus.harness``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("autograd")
pytest.importorskip("scipy")

from tests.corpus import harness
from tests.corpus.scalar import Case, cases

CORPUS = {case.name: case for case in cases()}

#: One or two cases of every family, the issue's "What was seen" cases and the kinks.
SLICE = (
    "elementwise/log@0.01", "elementwise/tanh@100", "elementwise/cos_exp@0.01",
    "reduction/var@1", "reduction/l1_norm@100", "linalg/inv@1", "linalg/slogdet@100",
    "linalg/eigh@0.01", "special/digamma@1", "special/j1@100", "density/t@1",
    "softmax/logsumexp@1000", "softmax/log_softmax@0.01", "norm/layer_norm@spread0.03",
    "norm/batch_norm@constant_rows", "norm/centred_zero@spread1e-3", "conv/conv2d_sq@100",
    "rnn/lstm@1", "rnn/attention@0.01", "regression/logistic@100", "regression/poisson@1",
    "kink/relu", "kink/max_tie", "kink/hinge", "seen/centred_zero_const",
    "seen/layer_norm_spread", "seen/x_abs_x", "seen/cos_exp_small", "seen/xlogx_small",
)


def test_the_corpus_is_large_and_named_once() -> None:
    assert len(CORPUS) == len(cases()) >= 150
    families = {case.family for case in CORPUS.values()}
    assert {"elementwise", "reduction", "linalg", "special", "density", "softmax",
            "normalisation", "convolution", "recurrent", "attention", "regression",
            "kink", "seen"} <= families
    assert all(name in CORPUS for name in SLICE)


def test_planted_bugs_change_the_gradient_by_their_size() -> None:
    case = CORPUS["linalg/inv@1"]
    gradient = case.gradient()
    planted = list(harness.bugs(gradient, harness.f_scale(case, gradient)))
    kinds = [bug.kind for bug in planted]
    assert kinds.count("scale") == kinds.count("element") == len(harness.RATES)
    assert {"sign", "zero", "transpose"} <= set(kinds)
    top = float(np.max(np.abs(gradient)))
    for bug in planted:
        change = float(np.max(np.abs(bug.gradient - gradient)))
        assert change == pytest.approx(bug.size * harness.f_scale(case, gradient), rel=1e-9)
        assert change > 0 and (bug.kind != "transpose" or change <= 2 * top)


def _methods(case: Case) -> tuple[str, ...]:
    """Central differences; the complex step where f is analytic; Richardson where its large
    step leaves f's domain (it must shrink, not raise)."""
    methods = ("central", "complex") if case.analytic else ("central",)
    return (*methods, "richardson") if case.name.endswith(("@0.01", "_small")) else methods


@pytest.mark.parametrize("name", SLICE)
def test_a_slice_of_the_corpus(name: str) -> None:
    case = CORPUS[name]
    for method in _methods(case):
        tally = harness.tally([case], method)
        assert not tally.false_alarms, (method, tally.false_alarms)
        assert not tally.silent_passes, (method, tally.silent_passes)
        assert not tally.unverifiable_smooth, (method, tally.unverifiable_smooth)
        assert not tally.kink_misreported, (method, tally.kink_misreported)


def _full(request: Any) -> None:
    """Skip unless the run selected the corpus marker (``pytest -m corpus``)."""
    if "corpus" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the full corpus runs with `pytest -m corpus`")


#: The gradients that are 0 through `var`, checked with the complex step: f ≡ 0 by
#: cancellation, and a weighted sum of squared layer norms at constant rows. var goes through
#: conj, yet f's complex values are those of the analytic 0, so the premise check cannot tell
#: and the complex values are rounding, as the analytic ones are: once unresolved (below what
#: the premise check could see) or "not verifiable" (the confirmation taking f's rounding for
#: a kink), they are now decided by the real confirmation, its own noise measured.
ZERO_THROUGH_VAR = (
    "norm/layer_norm_sq@constant_rows", "norm/centred_zero@spread0.03",
    "norm/centred_zero@spread1e-3", "norm/centred_zero@constant_rows",
    "seen/centred_zero_const",
)


@pytest.mark.parametrize("name", ZERO_THROUGH_VAR)
def test_the_complex_step_passes_a_zero_gradient_through_var(name: str) -> None:
    case = CORPUS[name]
    out = harness.run(case, case.gradient(), "complex")
    assert out.passed and out.unverifiable == () and out.n_unresolved == 0, out


#: What the whole corpus still shows, per method (README, "Trust on code we did not write"):
#: saturated f (tanh at 100, softmax of logits 1000 apart) whose values do not move over the
#: step: unresolved with the real methods, so that a sign flip there cannot pass (with the
#: complex step, whose values resolve them, a flip or a zero is unresolved, and the correct
#: gradient passes).
_FLAT = {"elementwise/tanh@100", "softmax/softmax@1000", "conv/conv1d_tanh@100"}
KNOWN_UNRESOLVED = {"forward": _FLAT, "central": _FLAT, "richardson": _FLAT}
KNOWN_UNVERIFIABLE: dict[str, set[str]] = {}


@pytest.mark.corpus
@pytest.mark.parametrize("method", harness.METHODS)
def test_the_whole_corpus(method: str, request: Any) -> None:
    _full(request)
    figures = harness.tally(CORPUS.values(), method).summary()
    assert figures["silent_passes"] == 0, figures["silent_passes_cases"]
    assert figures["kink_misreported"] == 0, figures["kink_misreported_cases"]
    assert figures["false_alarms"] == 0, figures["false_alarms_cases"]
    assert set(figures["unresolved_correct_cases"]) <= KNOWN_UNRESOLVED.get(method, set())
    assert set(figures["unverifiable_smooth_cases"]) <= KNOWN_UNVERIFIABLE.get(method, set())
    for kind in ("sign", "zero"):  # every one is at least 1e-6 of the gradient's max-norm
        caught, planted = (int(v) for v in figures["caught"][kind].split("/"))
        assert caught == planted, (kind, figures["caught"][kind])
    caught, planted = (int(v) for v in figures["caught_at_least"]["1e-06"].split("/"))
    assert caught >= (0.95 if method == "forward" else 1.0) * planted
    if method in ("richardson", "complex"):
        caught, planted = (int(v) for v in figures["caught_at_least"]["1e-10"].split("/"))
        assert caught == planted
