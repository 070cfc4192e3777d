"""gradcheck: numerical gradient checking with error-model tolerances and diagnostic reports.

The public names are :func:`numerical_gradient`, :func:`check_gradient`,
:func:`assert_gradient`, :class:`GradientCheckResult` and :class:`GradientMismatch`; for
vector-valued functions and second derivatives :func:`check_jacobian`, :func:`check_vjp`,
:func:`check_jvp`, :func:`check_hessian` (each with an ``assert_`` form) and
:class:`DerivativeCheckResult` (raised as :class:`DerivativeMismatch`).
``gradcheck.strategies`` (Hypothesis strategies) is imported on first access only, so that the
core never imports Hypothesis.

Example
-------
>>> import numpy as np
>>> import gradcheck
>>> x = np.array([0.5, -1.0])
>>> gradcheck.check_gradient(lambda w: float(np.sum(w**3)), x, lambda w: 3 * w**2).passed
True
"""

from __future__ import annotations

import importlib
from typing import Any

from gradcheck.check import assert_gradient, check_gradient, numerical_gradient
from gradcheck.derivative_report import DerivativeCheckResult, DerivativeMismatch
from gradcheck.diagnosis import Hints
from gradcheck.hessian import assert_hessian, check_hessian
from gradcheck.jacobian import (
    assert_jacobian,
    assert_jvp,
    assert_vjp,
    check_jacobian,
    check_jvp,
    check_vjp,
)
from gradcheck.partial import (
    DirectionalResult,
    SampledResult,
    TaylorResult,
    check_directional,
    check_sampled,
    taylor_test,
)
from gradcheck.report import GradientCheckResult, GradientMismatch

__version__ = "0.1.0"

__all__ = [
    "DerivativeCheckResult",
    "DerivativeMismatch",
    "DirectionalResult",
    "GradientCheckResult",
    "GradientMismatch",
    "Hints",
    "SampledResult",
    "TaylorResult",
    "assert_gradient",
    "assert_hessian",
    "assert_jacobian",
    "assert_jvp",
    "assert_vjp",
    "check_directional",
    "check_gradient",
    "check_hessian",
    "check_jacobian",
    "check_jvp",
    "check_sampled",
    "check_vjp",
    "numerical_gradient",
    "taylor_test",
]

_LAZY_SUBMODULES = ("strategies",)


def __getattr__(name: str) -> Any:
    """Import ``gradcheck.strategies`` (which needs Hypothesis) on first access."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"gradcheck.{name}")
    raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
