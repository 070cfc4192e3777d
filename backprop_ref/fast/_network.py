"""What the objective needs of an MLP, as a Protocol: `backprop_ref.MLP` is the one that fits.

A Protocol rather than an import of `backprop_ref.network`, which imports this package for
`MLP.objective`: naming the class here would close an import circle.
"""

from __future__ import annotations

from typing import Any, Protocol

from backprop_ref._types import FloatArray, Layer, ParamsLike
from backprop_ref.losses import NetworkFunctions

__all__ = ["Network"]


class Network(Protocol):
    """The attributes of `backprop_ref.MLP` that `Objective` and its evaluator read."""

    @property
    def layer_sizes(self) -> tuple[int, ...]: ...
    @property
    def loss(self) -> str: ...
    @property
    def weight_decay(self) -> float: ...
    @property
    def decay_convention(self) -> str: ...
    @property
    def _functions(self) -> NetworkFunctions: ...

    def _on_data(
        self, params: ParamsLike, X: FloatArray, Y: FloatArray, *, complex_ok: bool = False
    ) -> tuple[list[Layer], FloatArray, FloatArray]: ...

    def _cost(self, layers: list[Layer], X: FloatArray, Y: FloatArray, decay: float) -> Any: ...
