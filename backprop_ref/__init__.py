"""backprop_ref: a reference multilayer perceptron with backpropagation, loop and vectorized."""

from __future__ import annotations

from backprop_ref._types import Layer
from backprop_ref.fast import Objective
from backprop_ref.hints import diagnosis_hints
from backprop_ref.network import MLP
from backprop_ref.params import flatten, unflatten
from backprop_ref.training import train

__all__ = ["MLP", "Layer", "Objective", "diagnosis_hints", "flatten", "train", "unflatten"]
