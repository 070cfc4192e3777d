"""``gradcheck check-mlp``: a full check of one backprop_ref network, of any size.

A face module (it imports `backprop_ref`; the core never does). It builds a random network of
the given layer sizes and batch from a seeded Generator, takes its backpropagated gradient
(optionally with one bug of `backprop_ref.bugs` planted) and checks it through
`MLP.objective`, whose structure-aware evaluator makes the full check of tens of thousands of
parameters take about a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from backprop_ref import MLP, Layer, diagnosis_hints
from backprop_ref.bugs import BUGS, plant
from gradcheck.check import check_gradient
from gradcheck.progress import Progress
from gradcheck.report import GradientCheckResult

__all__ = ["BUG_NAMES", "MLPCheck", "check_mlp"]

BUG_NAMES: tuple[str, ...] = tuple(bug.name for bug in BUGS)


class MLPCheck(NamedTuple):
    """The network checked, the bug planted (or None) and the checker's result."""

    mlp: MLP
    n_examples: int
    bug: str | None
    result: GradientCheckResult


def check_mlp(
    layer_sizes: Sequence[int], *, batch: int, method: str = "central", seed: int = 0,
    activation: str = "sigmoid", loss: str = "squared", weight_decay: float = 1e-4,
    bug: str | None = None, progress: Progress | None = None,
) -> MLPCheck:
    """Check the gradient of a random ``MLP(layer_sizes)`` on ``batch`` random examples.

    Parameters are drawn from Normal(0, 0.5²), inputs from Normal(0, 1) and targets from
    U(0, 1), all from ``numpy.random.default_rng(seed)``. ``bug`` names an entry of
    `backprop_ref.bugs.BUGS` to plant into the gradient first.

    Examples
    --------
    >>> check_mlp([3, 4, 2], batch=5).result.passed
    True
    >>> check = check_mlp([3, 4, 2], batch=5, weight_decay=0.1, bug="no-decay")
    >>> check.result.passed, check.result.diagnosis[0].name
    (False, 'decay-missing')
    """
    if bug is not None and bug not in BUG_NAMES:
        raise ValueError(f"`bug` is {bug!r}; it must be one of {', '.join(BUG_NAMES)}")
    rng = np.random.default_rng(seed)
    mlp = MLP(layer_sizes, activation=activation, loss=loss, weight_decay=weight_decay)
    params = mlp.init_params(rng=rng, scale=0.5)
    X = rng.normal(size=(batch, mlp.layer_sizes[0]))
    Y = rng.uniform(size=(batch, mlp.layer_sizes[-1]))
    grads: list[Layer]
    if bug is None:
        grads = mlp.cost_and_gradient(params, X, Y)[1]
    else:
        chosen = [entry for entry in BUGS if entry.name == bug]
        grads = list(plant(mlp, params, X, Y, chosen)[0].grads)
    result = check_gradient(
        mlp.objective(X, Y), params, grads, method=method, progress=progress,
        hints=diagnosis_hints(mlp, batch),
    )
    return MLPCheck(mlp, batch, bug, result)
