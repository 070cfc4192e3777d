"""The first pass (gradcheck._rows.settle) gives the per-row results bit for bit.

Every check runs twice, with the first pass and with every row through ``run_check``; the
statuses, numeric values and tolerances must be the same bytes. A slice of the vector corpus
runs always, the whole corpus (correct derivatives, planted bugs, Hessians) with
``pytest -m corpus``. When the scalar verdict's first step changes, these tests show it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import gradcheck
from gradcheck import _rows, check

pytest.importorskip("autograd")

from tests.corpus import vector  # after importorskip: it imports autograd

BY_NAME = {case.name: case for case in vector.CASES}
SLICE = ["dense-tanh", "softmax", "solve", "hess-logistic"]
ALL = [case.name for case in vector.CASES]
Check = Callable[[], gradcheck.DerivativeCheckResult]


def differences(run: Check) -> list[str]:
    """What differs between the check with the first pass and with per-row checks only."""
    fast = run()
    _rows.ENABLED = False
    try:
        slow = run()
    finally:
        _rows.ENABLED = True
    out = [f"{field}: {getattr(fast, field)!r} != {getattr(slow, field)!r}"
           for field in ("passed", "n_evaluations", "n_mismatches", "n_unresolved",
                         "n_unverifiable", "diagnosis", "notes")
           if getattr(fast, field) != getattr(slow, field)]
    for field in ("status", "numeric", "tolerance"):
        a, b = getattr(fast, field), getattr(slow, field)
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            out.append(f"{field} differs at {np.argwhere(a != b)[:5].tolist()}")
    return out


def _checks(name: str) -> dict[str, Check]:
    """The checks of a corpus case: its correct derivatives and its planted bugs."""
    case = BY_NAME[name]
    x = case.point(np.random.default_rng(sum(map(ord, name))))
    if case.scalar:
        grad, jac = vector.hessian_of(case, x)
        f, fx = grad, x
        checks: dict[str, Check] = {
            "hessian": lambda: gradcheck.check_hessian(case.f, x, jac, grad=grad)}
    else:
        f, fx = case.f, case.f(x)
        jac = vector.reference_jacobian(f, x)
        checks = {}
    m = vector.to_matrix(jac, x, fx)
    for bug, wrong in {"correct": m, **vector.planted_jacobians(m)}.items():
        value = vector.from_matrix(wrong, x, fx)
        checks[f"{bug} jacobian"] = lambda v=value: gradcheck.check_jacobian(f, x, v)
        checks[f"{bug} vjp"] = lambda w=wrong: gradcheck.check_vjp(
            f, x, lambda x_, ct: vector.unflat(w.T @ vector.flat(ct), x))
        checks[f"{bug} jvp"] = lambda w=wrong: gradcheck.check_jvp(
            f, x, lambda x_, t: vector.unflat(w @ vector.flat(t), fx))
    return checks


def _corpus_differences(name: str) -> list[str]:
    return [f"{name} {what}: {d}" for what, run in _checks(name).items()
            for d in differences(run)]


@pytest.mark.parametrize("name", SLICE)
def test_slice_gives_the_per_row_results(name: str) -> None:
    assert _corpus_differences(name) == []


@pytest.mark.corpus
@pytest.mark.parametrize("name", ALL)
def test_corpus_gives_the_per_row_results(name: str, request: pytest.FixtureRequest) -> None:
    if "corpus" not in (request.config.option.markexpr or ""):
        pytest.skip("the full corpus runs with -m corpus")
    assert _corpus_differences(name) == []


def _tanh_layer(x: dict[str, np.ndarray]) -> np.ndarray:
    return np.tanh(x["W"] @ x["v"])


def _tanh_jacobian(x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    d = 1 - np.tanh(x["W"] @ x["v"]) ** 2
    n = len(d)
    return {"W": np.einsum("i,ik,l->ikl", d, np.eye(n), x["v"]), "v": d[:, None] * x["W"]}


def _layer_point() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {"W": 0.3 * rng.standard_normal((6, 6)), "v": rng.standard_normal(6)}


def _count_run_check(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = check.run_check

    def counted(*a: Any, **k: Any) -> Any:
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(check, "run_check", counted)
    return calls


def test_a_correct_jacobian_is_settled_without_per_row_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _count_run_check(monkeypatch)
    result = gradcheck.check_jacobian(_tanh_layer, _layer_point(), _tanh_jacobian)
    assert result.passed and result.n_evaluations == 2 * 42 + 16
    assert calls == []


def test_only_the_wrong_row_goes_through_the_per_row_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = _layer_point()
    jac = _tanh_jacobian(x)
    jac["v"] = jac["v"].copy()
    jac["v"][2, 4] *= 1.001
    calls = _count_run_check(monkeypatch)
    result = gradcheck.check_jacobian(_tanh_layer, x, jac)
    assert not result.passed and result.worst is not None
    assert result.worst.name == "f(x)[2] wrt x['v'][4]"
    assert len(calls) == 1


@pytest.mark.parametrize("options", [{"method": "forward"}, {"rtol": 1e-6}])
def test_other_methods_and_explicit_tolerances_keep_the_per_row_check(
    options: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _count_run_check(monkeypatch)
    result = gradcheck.check_jacobian(_tanh_layer, _layer_point(), _tanh_jacobian, **options)
    assert result.passed and len(calls) == 6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_nondet_tol_and_unresolved_rows_match(dtype: Any) -> None:
    x = {k: v.astype(dtype) for k, v in _layer_point().items()}
    for options in ({}, {"nondet_tol": 1e-3}, {"step": 1e-2}):
        assert differences(lambda o=options: gradcheck.check_jacobian(
            _tanh_layer, x, _tanh_jacobian, **o)) == []


def test_a_first_pass_that_drifts_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _rows._central

    def drifted(*a: Any) -> Any:
        est = real(*a)
        return est._replace(value=est.value * (1 + 1e-15))

    monkeypatch.setattr(_rows, "_central", drifted)
    found = differences(lambda: gradcheck.check_jacobian(_tanh_layer, _layer_point(),
                                                         _tanh_jacobian))
    assert found and found[0].startswith("numeric differs")


def test_probe_geometry_is_the_scalar_checks() -> None:
    from gradcheck import methods

    rng = np.random.default_rng(0)
    x = {"a": (rng.standard_normal(7) * 1e6).astype(np.float32),
         "b": rng.standard_normal((2, 3)), "c": np.array([1e30], np.float32)}
    pb = methods.prepare(lambda v: v["b"], x, (), "central")
    for eps in (pb.layout.eps(), np.maximum(pb.layout.eps(), 1e-3)):
        ours, theirs = _rows.probe_shifts(pb, eps), methods.probe_shifts(pb, eps)
        assert [s.tobytes() for s in ours] == [s.tobytes() for s in theirs]
    for scale in (1e-7, 1e-3, 1e3, 1e20):
        shift = rng.standard_normal(pb.layout.size) * scale
        assert (_rows._exact(pb, pb.x_flat, shift)
                == methods._exact(pb, pb.x_flat, shift)).all()
    assert not methods._exact(pb, pb.x_flat, np.full(pb.layout.size, 1e-3)).all()


@pytest.mark.parametrize("outside", ["raises", "nan"])
def test_an_f_leaving_its_domain_keeps_the_verdict(outside: str) -> None:
    scale = np.array([1.0, 2.0, 3.0])

    def f(v: np.ndarray) -> np.ndarray:
        if outside == "raises" and (v <= 0).any():
            raise ValueError("math domain error")  # as math.log
        return np.where(v > 0, np.log(np.abs(v)), np.nan) * scale

    x = np.array([3e-6, 0.5, 2.0])  # the default central step crosses 0 at x[0]
    found = differences(lambda: gradcheck.check_jacobian(f, x, lambda v: np.diag(scale / v)))
    if outside == "raises":  # f raised before its call was counted: nothing differs
        assert found == []
        return
    # a NaN is counted, then refused: the first pass's attempt adds its calls, nothing else
    assert len(found) == 1 and found[0].startswith("n_evaluations: ")
    fast, slow = (int(n) for n in found[0].split(": ")[1].split(" != "))
    assert 0 < fast - slow <= 2 * 3 + 14
