"""GradientCheckResult: fields, summaries, the text report, to_dict, GradientMismatch."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pytest

from gradcheck import GradientCheckResult, GradientMismatch, check_gradient, report
from gradcheck.diagnosis import Finding


def _result(**overrides: Any) -> GradientCheckResult:
    fields: dict[str, Any] = {
        "paths": ("[0].W", "[0].b"),
        "shapes": ((2, 2), (2,)),
        "analytic": np.array([1.0, 2.0, 3.0, 4.0, 0.5, np.nan]),
        "numeric": np.array([1.0, 2.0, 3.3, 4.0, 0.5, 0.25]),
        "tolerance": np.full(6, 1e-6),
        "status": np.array([0, 0, 1, 0, 2, 1], np.int8),
        "method": "central",
        "n_evaluations": 14,
        "seconds": 0.002,
    }
    fields.update(overrides)
    return report.build_result(**fields)


def test_fields_and_summaries() -> None:
    r = _result()
    assert not r.passed and not bool(r)
    assert (r.n_mismatches, r.n_unverifiable) == (2, 1)
    assert [e.name for e in r.mismatches] == ["x[0].b[1]", "x[0].W[1, 0]"]  # nan first
    assert r.worst is not None and r.worst.name == "x[0].b[1]"
    assert [e.name for e in r.unverifiable] == ["x[0].b[0]"]
    w_leaf, b_leaf = r.leaves
    assert (w_leaf.path, w_leaf.shape, w_leaf.size, w_leaf.n_mismatches) == ("[0].W", (2, 2), 4, 1)
    assert w_leaf.worst_index == (1, 0)
    assert w_leaf.max_abs_error == pytest.approx(0.3)
    assert w_leaf.max_rel_error == pytest.approx(0.3 / 3.3)
    assert (b_leaf.n_mismatches, b_leaf.n_unverifiable) == (1, 1)
    assert np.isnan(r.max_abs_error)


def test_per_element_arrays_are_read_only_per_leaf() -> None:
    r = _result()
    assert [a.shape for a in r.analytic] == [(2, 2), (2,)]
    assert r.numeric[0][1, 0] == 3.3 and r.status[1].tolist() == [2, 1]
    with pytest.raises(ValueError, match="read-only"):
        r.tolerance[0][0, 0] = 1.0


def test_relative_errors_use_a_floor_from_the_largest_numeric_value() -> None:
    r = _result(analytic=np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
                numeric=np.array([1.0, 1e-12, 0.0, 0.0, 0.0, 0.0]),
                status=np.zeros(6, np.int8))
    assert r.max_abs_error == pytest.approx(1e-12)
    assert r.max_rel_error == pytest.approx(1e-12 / report.REL_FLOOR)
    assert r.relative_difference == pytest.approx(1e-12)
    zero = _result(analytic=np.zeros(6), numeric=np.zeros(6), status=np.zeros(6, np.int8))
    assert zero.relative_difference == 0.0 and zero.max_rel_error == 0.0 and zero.passed


def test_report_text() -> None:
    text = str(_result())
    lines = text.splitlines()
    assert lines[0].startswith(
        "FAILED: central differences, 2 of 6 elements mismatch, 1 not verifiable at this step, "
        "max rel error"
    )
    assert lines[0].endswith("14 evaluations of f, 0.002 s")
    assert lines[1].split() == ["parameter", "shape", "max", "rel", "error", "mismatches", "not",
                                "verifiable", "unresolved"]
    assert lines[2].split() == ["x[0].W", "(2,", "2)", "9.09e-02", "1/4", "0", "0"]
    assert lines[4] == "worst mismatches (2 of 2):"
    assert lines[5].split()[:3] == ["x[0].b[1]", "analytic", "nan"]
    assert lines[6].split() == ["x[0].W[1,", "0]", "analytic", "3.000000000e+00",
                                "numeric", "3.300000000e+00", "|diff|", "3.00e-01", "tolerance",
                                "1.00e-06"]
    assert lines[7] == (
        "not verifiable at this step (f is not smooth within the step, e.g. a kink, or the "
        "finite differences cannot settle it): x[0].b[0]"
    )


def test_passed_report_and_explicit_tolerance_rule() -> None:
    r = _result(status=np.zeros(6, np.int8), analytic=np.ones(6), numeric=np.ones(6),
                tolerance_rule="rtol=1e-07, atol=0")
    assert r.passed
    assert str(r).splitlines()[0] == (
        "PASSED: central differences, 6 elements, max rel error 0.00e+00, relative difference "
        "0.00e+00, tolerance rtol=1e-07, atol=0, resolution 1.00e-06 (1.0e-06 of the "
        "gradient's max-norm), 14 evaluations of f, 0.002 s"
    )
    assert "worst mismatches" not in str(r)


def test_diagnosis_is_printed_only_when_filled() -> None:
    r = _result()
    assert "Diagnosis" not in str(r)
    finding = Finding("constant-factor", "the gradient is 2× the numerical one", ("[0].W",),
                      {"factor": 2.0})
    filled = dataclasses.replace(r, diagnosis=(finding,))
    assert str(filled).endswith(
        "Diagnosis:\n  - [constant-factor] the gradient is 2× the numerical one"
    )
    assert filled.to_dict()["diagnosis"] == [
        {"name": "constant-factor", "message": "the gradient is 2× the numerical one",
         "leaves": ["[0].W"], "evidence": {"factor": 2.0}}
    ]


def test_to_dict_is_strict_json_and_leaves_out_the_arrays() -> None:
    d = _result().to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["passed"] is False and back["n_elements"] == 6
    assert back["max_abs_error"] == "nan"
    assert back["worst"]["name"] == "x[0].b[1]" and back["worst"]["index"] == [1]
    assert back["leaves"][0]["shape"] == [2, 2] and back["leaves"][0]["worst_index"] == [1, 0]
    assert not {"analytic", "numeric", "tolerance", "status"} & set(back)


def test_nondeterministic_result_report() -> None:
    r = _result(numeric=np.full(6, np.nan), tolerance=np.full(6, np.nan),
                status=np.full(6, report.UNCHECKED, np.int8), nondeterministic=True,
                nondeterminism=3e-9, nondet_tol=1e-9)
    assert not r.passed and r.worst is None and r.n_mismatches == 0
    assert str(r) == (
        "FAILED: f is not deterministic: two calls at the same x differed by 3e-09 "
        "(nondet_tol=1e-09); the gradient was not checked (14 evaluations of f, 0.002 s)"
    )
    json.dumps(r.to_dict(), allow_nan=False)


def test_gradient_mismatch_carries_the_result() -> None:
    r = _result()
    exc = GradientMismatch(r)
    assert isinstance(exc, AssertionError)
    assert exc.result is r and str(exc) == str(r)


def test_a_real_check_reports_its_per_leaf_table() -> None:
    x = {"w": np.array([[0.1, 0.2], [0.3, 0.4]]), "bias": np.array([0.5])}
    r = check_gradient(lambda p: np.sum(np.sin(p["w"])) + np.sum(p["bias"] ** 2), x,
                       {"w": np.cos(x["w"]), "bias": 2 * x["bias"]}, method="richardson")
    text = str(r)
    assert text.startswith("PASSED: Richardson extrapolation, 5 elements, max rel error")
    assert ("\n  parameter  shape   max rel error  mismatches  not verifiable  unresolved\n"
            in text)
    assert "\n  x['w']     (2, 2)" in text and "  0/4  " in text
    assert r.method == "richardson" and r.paths == ("['w']", "['bias']")
    assert r.n_evaluations == 2 + 14 + 6 * 5 and r.seconds > 0  # f(x) twice, the noise probe
    json.dumps(r.to_dict(), allow_nan=False)
