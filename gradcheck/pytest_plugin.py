"""The pytest plugin: a ``gradcheck`` fixture, its command-line options, readable failures.

Installed with the package through the ``pytest11`` entry point, so pytest loads it in every
project where gradcheck is installed (``-p no:gradcheck`` turns it off). It adds:

- the fixture ``gradcheck``: ``gradcheck(f, x, grad, **options)`` is
  :func:`gradcheck.assert_gradient` with the method chosen on the command line;
- ``--gradcheck-method=M``: the method of every check of the run (default ``central``);
- ``--gradcheck-all-methods``: every check runs once per method it allows, all four by default
  (a check of an f that does not accept complex input passes
  ``methods=("forward", "central", "richardson")``);
- for a :class:`gradcheck.GradientMismatch`, a short test summary line (``-ra``) that names
  the worst element, leaf and index: ``FAILED test_x.py::test_w - x[1].W[2, 0]: analytic
  ..., numeric ...``. The fixture and :func:`gradcheck.assert_gradient` hide their own frames
  from the traceback, so that the report follows the test's own lines.

It imports pytest and the gradcheck core, nothing else (no Hypothesis).

Example
-------
A test module of a project that has gradcheck installed::

    import numpy as np

    def test_cube(gradcheck):
        x = np.array([0.5, -1.0])
        gradcheck(lambda w: float(np.sum(w**3)), x, lambda w: 3 * w**2)
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import pytest

from gradcheck.check import assert_gradient
from gradcheck.report import GradientMismatch

__all__ = ["METHODS", "GradcheckFixture", "summary_line"]

METHODS: tuple[str, ...] = ("forward", "central", "complex", "richardson")
"""The methods a check can run with, in the order ``--gradcheck-all-methods`` runs them."""


class GradcheckFixture:
    """The ``gradcheck`` fixture: :func:`gradcheck.assert_gradient` with the run's methods.

    Parameters
    ----------
    method : str
        The method of a check that does not choose one (``--gradcheck-method``).
    all_methods : bool
        Run every check with each method it allows (``--gradcheck-all-methods``).

    Examples
    --------
    >>> import numpy as np
    >>> check = GradcheckFixture(method="central", all_methods=True)
    >>> check(lambda w: w @ w, np.array([1.0, -2.0]), lambda w: 2 * w)  # all four methods
    >>> check.methods_for(("central", "richardson"))
    ('central', 'richardson')
    """

    def __init__(self, *, method: str = "central", all_methods: bool = False) -> None:
        if method not in METHODS:
            raise ValueError(f"`method` is {method!r}; expected one of {', '.join(METHODS)}")
        self.method = method
        self.all_methods = all_methods

    def __repr__(self) -> str:
        return f"GradcheckFixture(method={self.method!r}, all_methods={self.all_methods})"

    def methods_for(self, allowed: Sequence[str] = METHODS) -> tuple[str, ...]:
        """The methods a check allowing ``allowed`` runs with, in this run."""
        unknown = [name for name in allowed if name not in METHODS]
        if isinstance(allowed, str) or not allowed or unknown:
            raise ValueError(
                f"`methods` is {allowed!r}; expected a non-empty sequence of methods from "
                f"{', '.join(METHODS)}"
            )
        if self.all_methods:
            return tuple(name for name in METHODS if name in allowed)
        return (self.method,) if self.method in allowed else (allowed[0],)

    def __call__(
        self, f: Any, x: Any, grad: Any = None, *, methods: Sequence[str] = METHODS,
        **options: Any,
    ) -> None:
        """Assert the gradient of ``f`` at ``x`` with each method of :meth:`methods_for`.

        ``options`` are those of :func:`gradcheck.assert_gradient` but ``method``; raises
        :class:`gradcheck.GradientMismatch` at the first method that fails.
        """
        __tracebackhide__ = True  # pytest: the report follows the test's own lines
        if "method" in options:
            raise TypeError(
                "`method` is not an option of the gradcheck fixture; the run chooses it "
                "(--gradcheck-method); pass `methods` to restrict the methods a check allows"
            )
        for name in self.methods_for(methods):
            assert_gradient(f, x, grad, method=name, **options)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--gradcheck-method`` and ``--gradcheck-all-methods``."""
    group = parser.getgroup("gradcheck", "gradient checks (the gradcheck fixture)")
    group.addoption(
        "--gradcheck-method", choices=METHODS, default="central",
        help="method of the gradcheck fixture's checks (default: central)",
    )
    group.addoption(
        "--gradcheck-all-methods", action="store_true", default=False,
        help="run every check of the gradcheck fixture with each method it allows",
    )


@pytest.fixture
def gradcheck(request: pytest.FixtureRequest) -> GradcheckFixture:
    """Check gradients with the run's method(s): ``gradcheck(f, x, grad, **options)``."""
    return GradcheckFixture(
        method=request.config.getoption("gradcheck_method"),
        all_methods=request.config.getoption("gradcheck_all_methods"),
    )


def summary_line(error: GradientMismatch) -> str:
    """The short summary of a mismatch: the worst element with its leaf and index."""
    result = error.result
    worst = result.worst
    if worst is None:  # nothing compared (f is not deterministic): the report's first line
        return str(error).splitlines()[0]
    ratio = worst.abs_error / worst.tolerance if worst.tolerance > 0 else float("inf")
    return (
        f"{worst.name}: analytic {worst.analytic:.6g}, numeric {worst.numeric:.6g}, "
        f"|a - n| = {ratio:.3g} tolerances; {result.n_mismatches} mismatch(es), "
        f"method {result.method}"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Name the worst element in the failure's one-line summary (``-ra``)."""
    report = yield
    excinfo = call.excinfo
    crash = getattr(report.longrepr, "reprcrash", None)
    if excinfo is not None and crash is not None and isinstance(excinfo.value, GradientMismatch):
        crash.message = f"GradientMismatch: {summary_line(excinfo.value)}"
    return report
