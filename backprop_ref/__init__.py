"""backprop_ref: a reference multilayer perceptron with backpropagation, loop and vectorized."""

from __future__ import annotations
