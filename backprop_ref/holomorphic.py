"""The cost with complex parameters, for complex-step differentiation.

J(θ + ih e_k) is computed with functions that are analytic in θ (see `activations` and `losses`:
relu as z · [Re z > 0], softplus and log-softmax with the branch or shift chosen by the real
part, squares as z·z, never |z|²), so that Im J(θ + ih e_k) / h = ∂J/∂θ_k + O(h²) with no
subtractive cancellation. Only the cost is needed; gradients stay real.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backprop_ref import vectorized
from backprop_ref._types import FloatArray, Layer
from backprop_ref.activations import HOLOMORPHIC_ACTIVATIONS
from backprop_ref.losses import NetworkFunctions, holomorphic_cost, holomorphic_decay_term

__all__ = ["cost", "holomorphic_functions"]


def holomorphic_functions(functions: NetworkFunctions) -> NetworkFunctions:
    """``functions`` with each forward function and the loss's cost made analytic in z."""
    hidden, output, loss = functions
    return NetworkFunctions(
        hidden._replace(function=HOLOMORPHIC_ACTIVATIONS[hidden.name]),
        output._replace(function=HOLOMORPHIC_ACTIVATIONS[output.name]),
        loss._replace(cost=holomorphic_cost(loss, output)),
    )


def cost(
    functions: NetworkFunctions, layers: list[Layer], X: FloatArray, Y: FloatArray, *, decay: float
) -> complex:
    """J = (1/m) Σ_i loss(h(x_i), y_i) + D for complex ``layers`` and real X (m, s_1), Y (m, s_L).

    ``decay`` is c = λ or λ/m. Overflow of e^x for |Re z| beyond ~709 is not guarded against.
    """
    analytic = holomorphic_functions(functions)
    activations, z_out = vectorized.forward(analytic, layers, X)
    data_cost: Any = analytic.loss.cost(z_out, activations[-1], Y) / X.shape[0]
    return complex(np.complex128(data_cost + holomorphic_decay_term(layers, decay)))
