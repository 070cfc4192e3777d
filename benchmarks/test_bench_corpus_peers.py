"""Peers side by side on the scalar corpus (tests/corpus): false alarms, bugs caught, time.

Every checker judges the same correct gradients and planted bugs of a slice of the corpus
(every STRIDE-th case; ``CORPUS_STRIDE=1`` for all of it), each with the pass rule its users
apply:

* gradcheck: ``check_gradient(...).passed`` (central differences), raising counts as not passed;
  a correct gradient it does not pass because it says it could not resolve it (unresolved, no
  mismatch: a saturated f) is counted apart from the false alarms;
* ``scipy.optimize.check_grad``: forward differences (step √ε); passes when the norm of the
  difference is at most 1e-5 times ``max(1, ‖g‖)``;
* numdifftools: ``nd.Gradient`` (adaptive central differences with Richardson); passes when
  ``np.allclose(g, numeric)`` (rtol 1e-5, atol 1e-8);
* jax's ``check_grads`` rule, written out in numpy (jax itself is not needed): a central
  difference along a random direction with eps = 1e-4 against ``g · v``, both tolerances 1e-5
  for float64;
* ``torch.autograd.gradcheck`` (torch==2.13.0, CPU): f wrapped in an ``autograd.Function``
  whose backward returns the gradient under test; eps 1e-6, atol 1e-5, rtol 1e-3.

Each benchmark records ``extra_info`` = {"false_alarms", "unresolved", "caught", "planted"};
a peer that is not installed is skipped. A planted bug counts only where it is at least 1e-6
of f's scale (see ``tests.corpus.harness``). The benchmark asserts that the figures add up and
that gradcheck itself raises no false alarm and misses nothing on the slice.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

pytest.importorskip("autograd")
pytest.importorskip("scipy")

from tests.corpus import harness
from tests.corpus.scalar import Case, cases

STRIDE = int(os.environ.get("CORPUS_STRIDE", "8"))
#: Bugs smaller than this (relative to f's scale) are not counted: every peer may miss them.
FLOOR = 1e-6

Verdict = Callable[[Case, Any], "bool | None"]
"""``passes(case, gradient)``: the peer's pass rule on one gradient; None where the checker
did not pass it but said it could not resolve it (gradcheck's unresolved), claiming no error."""


def _flat(tree: Any) -> np.ndarray:
    leaves = tree.values() if isinstance(tree, dict) else [tree]
    return np.concatenate([np.ravel(np.asarray(a, float)) for a in leaves])


def _unflat(case: Case, flat: np.ndarray) -> Any:
    if not isinstance(case.x, dict):
        return flat.reshape(np.shape(case.x))
    out, start = {}, 0
    for key, leaf in case.x.items():
        out[key] = flat[start : start + leaf.size].reshape(leaf.shape)
        start += leaf.size
    return out


def _scalar(case: Case) -> Callable[[np.ndarray], float]:
    return lambda flat: float(case.f(_unflat(case, flat)))


def _gradcheck(case: Case, gradient: Any) -> bool | None:
    out = harness.run(case, gradient, "central")  # an error raised is a refusal or an error
    if out.passed:
        return True
    # a check that says it could not resolve the gradient (tanh at 100, whose values do not
    # move over any step) claims no error: not passed, and not a false alarm either
    unresolved = out.n_unresolved and not (out.n_mismatches or out.error or out.refused)
    return None if unresolved else False


def _scipy(case: Case, gradient: Any) -> bool:
    from scipy.optimize import check_grad

    g = _flat(gradient)
    err = check_grad(_scalar(case), lambda _: g, _flat(case.x))
    return bool(err <= 1e-5 * max(1.0, float(np.linalg.norm(g))))


def _numdifftools(case: Case, gradient: Any) -> bool:
    nd = pytest.importorskip("numdifftools")
    numeric = nd.Gradient(_scalar(case))(_flat(case.x))
    return bool(np.allclose(_flat(gradient), np.ravel(numeric)))


def _jax_rule(case: Case, gradient: Any) -> bool:
    x, g = _flat(case.x), _flat(gradient)
    v = np.random.default_rng(0).normal(size=x.size)
    f, eps, tol = _scalar(case), 1e-4, 1e-5
    numeric = (f(x + eps * v) - f(x - eps * v)) / (2.0 * eps)
    return bool(abs(g @ v - numeric) <= tol + tol * abs(numeric))


def _torch(case: Case, gradient: Any) -> bool:
    torch = pytest.importorskip("torch")
    f, g = _scalar(case), torch.from_numpy(_flat(gradient))

    class Wrapped(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, t: Any) -> Any:
            return torch.tensor(f(t.detach().numpy()), dtype=torch.float64)

        @staticmethod
        def backward(ctx: Any, out: Any) -> Any:
            return out * g

    point = torch.from_numpy(_flat(case.x)).requires_grad_()
    try:
        return bool(torch.autograd.gradcheck(Wrapped.apply, (point,), raise_exception=False))
    except (RuntimeError, ValueError):
        return False


def _tally(passes: Verdict, corpus: list[Case]) -> dict[str, int]:
    """False alarms and unresolved correct gradients; caught/planted over the bugs ≥ FLOOR
    (a bug is caught when the check does not pass, unresolved included)."""
    out = {"false_alarms": 0, "unresolved": 0, "caught": 0, "planted": 0}
    with np.errstate(all="ignore"):
        for case in corpus:
            gradient = case.gradient()
            verdict = passes(case, gradient)
            out["false_alarms"] += verdict is False
            out["unresolved"] += verdict is None
            if case.exact_zero or case.kinks:
                continue
            for bug in harness.bugs(gradient, harness.f_scale(case, gradient)):
                if bug.size >= FLOOR:
                    out["planted"] += 1
                    out["caught"] += passes(case, bug.gradient) is not True
    return out


#: Smooth, analytic-or-not cases where every peer's pass rule applies (no kink, f ≢ 0).
CORPUS = [case for case in cases()[::STRIDE] if not case.kinks]

PEERS: dict[str, Verdict] = {
    "gradcheck": _gradcheck, "scipy_check_grad": _scipy, "numdifftools": _numdifftools,
    "jax_check_grads_rule": _jax_rule, "torch_gradcheck": _torch,
}


@pytest.mark.benchmark(group="corpus-peers")
@pytest.mark.parametrize("peer", list(PEERS))
def test_peer_on_the_corpus(benchmark: BenchmarkFixture, peer: str) -> None:
    if peer == "numdifftools":
        pytest.importorskip("numdifftools")
    if peer == "torch_gradcheck":
        pytest.importorskip("torch")
    figures = benchmark.pedantic(_tally, args=(PEERS[peer], CORPUS), rounds=1, iterations=1)
    benchmark.extra_info.update(figures)
    benchmark.extra_info["cases"] = len(CORPUS)
    assert 0 <= figures["caught"] <= figures["planted"] > 0
    assert 0 <= figures["false_alarms"] + figures["unresolved"] <= len(CORPUS)
    if peer == "gradcheck":
        assert figures["false_alarms"] == 0 and figures["caught"] == figures["planted"]
        # the saturated f of the corpus (tanh at 100, softmax of logits 1000 apart, conv1d_tanh
        # at 100): 3 of 242
        assert figures["unresolved"] <= 3
    else:
        assert figures["unresolved"] == 0
