"""The checker on networks of growing parameter count P, beside SciPy's and PyTorch's checkers.

Every benchmark checks the same function θ ↦ J(θ) of the unrolled parameters of an MLP on a
fixed batch, with its analytic gradient from `MLP.cost_and_gradient`. One group per P holds
`gradcheck.numerical_gradient` and `gradcheck.check_gradient` for each method and the peers:
`scipy.optimize.check_grad` (forward differences) and `torch.autograd.gradcheck` (central
differences), each skipped when its library is missing. ``extra_info`` records P and the
evaluations of J per call; the report turns them into evaluations per second and seconds per
parameter (also recorded here when the benchmark ran with timing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from backprop_ref import MLP, Layer, flatten
from benchmarks._problems import full_only

gradcheck = pytest.importorskip("gradcheck")

FloatArray = npt.NDArray[np.floating[Any]]

METHODS = ("forward", "central", "complex", "richardson")
CHECK_LAYERS: tuple[tuple[int, ...], ...] = (
    (2, 8, 1), (4, 16, 2), (8, 24, 4), (16, 32, 8), (16, 48, 16), (32, 64, 16), (64, 96, 32)
)
"""P = 33, 114, 316, 808, 1600, 3152 and 9344 parameters."""
QUICK_MAX_P = 3152
"""The quick mode (``BENCH_QUICK=1``) keeps P up to this, and the complex step and Richardson
only up to ``RICHARDSON_MAX_P / 5``."""
RICHARDSON_MAX_P = 5000
"""Richardson extrapolation costs several central differences: not run beyond this P, to keep
the smoke run (every benchmark once) well under a minute."""
BATCH = 8


@dataclass
class Objective:
    """J(θ) and ∇J(θ) of an MLP on a fixed batch; ``calls`` counts the evaluations of J."""

    mlp: MLP
    X: FloatArray
    Y: FloatArray
    theta: FloatArray
    calls: int = field(default=0)

    @classmethod
    def make(cls, sizes: tuple[int, ...], seed: int = 0) -> Objective:
        rng = np.random.default_rng(seed)
        mlp = MLP(sizes)
        X = rng.standard_normal((BATCH, sizes[0]))
        Y = rng.random((BATCH, sizes[-1]))
        return cls(mlp, X, Y, flatten(mlp.init_params(rng=rng, scale=0.3)))

    @property
    def n_params(self) -> int:
        return int(self.theta.size)

    def layers(self, theta: npt.NDArray[Any]) -> list[Layer]:
        """θ as (W, b) views, complex θ included (`unflatten` takes real θ only)."""
        layers, start = [], 0
        for s_in, s_out in pairwise(self.mlp.layer_sizes):
            W = theta[start : start + s_out * s_in].reshape(s_out, s_in)
            start += s_out * s_in
            layers.append(Layer(W, theta[start : start + s_out]))
            start += s_out
        return layers

    def cost(self, theta: npt.NDArray[Any]) -> complex:
        """J(θ): a float, or a complex number for complex θ (the complex step)."""
        self.calls += 1
        value: complex = self.mlp.cost(self.layers(theta), self.X, self.Y)
        return value

    def gradient(self, theta: npt.NDArray[Any]) -> FloatArray:
        return flatten(self.mlp.cost_and_gradient(self.layers(theta), self.X, self.Y)[1])


def _params(*impls: str) -> list[Any]:
    """(sizes, impl) per P and implementation, grouped by P."""
    params = []
    for sizes in CHECK_LAYERS:
        n_params = sum(s_out * (s_in + 1) for s_in, s_out in pairwise(sizes))
        mark = pytest.mark.benchmark(group=f"checker P={n_params}", min_rounds=3)
        for impl in impls:
            if impl == "richardson" and n_params > RICHARDSON_MAX_P:
                continue
            costly = impl in ("complex", "richardson") and n_params > RICHARDSON_MAX_P // 5
            marks = [mark, *full_only(n_params > QUICK_MAX_P or costly)]
            params.append(pytest.param(sizes, impl, id=f"{impl}-P{n_params}", marks=marks))
    return params


def _record(benchmark: BenchmarkFixture, objective: Objective, impl: str, method: str) -> None:
    """Record P and evaluations per call (the last call's count; every call does the same)."""
    stats = getattr(benchmark.stats, "stats", None)
    calls = objective.calls
    benchmark.extra_info.update(
        {"bench": "checker", "impl": impl, "method": method, "P": objective.n_params}
    )
    benchmark.extra_info["evaluations"] = calls
    if stats is not None and stats.median > 0:
        benchmark.extra_info["evaluations_per_second"] = calls / stats.median
        benchmark.extra_info["seconds_per_parameter"] = stats.median / objective.n_params


def _counted(objective: Objective, run: Callable[[], Any]) -> Callable[[], Any]:
    """``run`` with the evaluation counter reset first, so the last call's count remains."""

    def wrapped() -> Any:
        objective.calls = 0
        return run()

    return wrapped


def _require_complex(objective: Objective, method: str) -> None:
    """Skip the complex step when J does not take complex θ (a limitation, not a failure)."""
    if method != "complex":
        return
    try:
        objective.cost(objective.theta.astype(complex))
    except (TypeError, ValueError) as error:
        pytest.skip(f"MLP.cost does not accept complex parameters: {error}")


@pytest.mark.parametrize(("sizes", "method"), _params(*METHODS))
def test_numerical_gradient(
    benchmark: BenchmarkFixture, sizes: tuple[int, ...], method: str
) -> None:
    objective = Objective.make(sizes)
    _require_complex(objective, method)
    run = _counted(
        objective,
        lambda: gradcheck.numerical_gradient(objective.cost, objective.theta, method=method),
    )
    estimate = benchmark(run)
    _record(benchmark, objective, "numerical_gradient", method)
    assert estimate.shape == objective.theta.shape and np.all(np.isfinite(estimate))


@pytest.mark.parametrize(("sizes", "method"), _params(*METHODS))
def test_check_gradient(benchmark: BenchmarkFixture, sizes: tuple[int, ...], method: str) -> None:
    objective = Objective.make(sizes)
    _require_complex(objective, method)
    result = benchmark(check_gradient_run(objective, method))
    _record(benchmark, objective, "check_gradient", method)
    assert result.passed, str(result)


def check_gradient_run(objective: Objective, method: str) -> Callable[[], Any]:
    """``gradcheck.check_gradient`` of J with ∇J by ``method``, evaluations counted."""
    return _counted(
        objective,
        lambda: gradcheck.check_gradient(
            objective.cost, objective.theta, objective.gradient, method=method
        ),
    )


def scipy_run(objective: Objective) -> Callable[[], Any]:
    """``scipy.optimize.check_grad`` of J with ∇J (forward differences): the error norm."""
    optimize = pytest.importorskip("scipy.optimize")
    return _counted(
        objective, lambda: optimize.check_grad(objective.cost, objective.gradient, objective.theta)
    )


def torch_run(objective: Objective) -> Callable[[], Any]:
    """``torch.autograd.gradcheck`` (central differences) of J as a torch function whose
    backward is our analytic gradient: True when it passes."""
    torch = pytest.importorskip("torch")

    def forward(ctx: Any, theta: Any) -> Any:
        ctx.save_for_backward(theta)
        return torch.tensor(objective.cost(theta.detach().numpy()), dtype=torch.float64)

    def backward(ctx: Any, grad_output: Any) -> Any:
        (theta,) = ctx.saved_tensors
        return grad_output * torch.from_numpy(objective.gradient(theta.detach().numpy()))

    methods = {"forward": staticmethod(forward), "backward": staticmethod(backward)}
    Cost: Any = type("Cost", (torch.autograd.Function,), methods)
    theta = torch.from_numpy(objective.theta.copy()).requires_grad_()
    return _counted(
        objective,
        lambda: torch.autograd.gradcheck(Cost.apply, (theta,), eps=1e-6, atol=1e-5, rtol=1e-3),
    )


def scipy_passed(objective: Objective, error: float) -> bool:
    """SciPy's error norm within 1e-4 of the gradient's norm (at least 1): the check passed."""
    scale = max(1.0, float(np.linalg.norm(objective.gradient(objective.theta))))
    return bool(np.isfinite(error) and error < 1e-4 * scale)


@pytest.mark.parametrize(("sizes", "method"), _params("forward"))
def test_scipy_check_grad(benchmark: BenchmarkFixture, sizes: tuple[int, ...], method: str) -> None:
    objective = Objective.make(sizes)
    error = benchmark(scipy_run(objective))
    _record(benchmark, objective, "scipy.check_grad", method)
    assert scipy_passed(objective, error)


@pytest.mark.parametrize(("sizes", "method"), _params("central"))
def test_torch_gradcheck(benchmark: BenchmarkFixture, sizes: tuple[int, ...], method: str) -> None:
    objective = Objective.make(sizes)
    assert benchmark(torch_run(objective)) is True
    _record(benchmark, objective, "torch.gradcheck", method)
