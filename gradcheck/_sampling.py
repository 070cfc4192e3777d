"""What the randomized partial checks share: their ``rng``, their counts, the scale of x.

Used by `gradcheck.partial` (directional and sampled checks) and `gradcheck.taylor`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["count", "generator", "max_abs"]


def generator(rng: object) -> np.random.Generator:
    """A Generator from ``rng``: None (seed 0: reproducible by default), a seed or one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0:
        raise TypeError(f"`rng` is {rng!r}; it must be None, an int seed >= 0 or a Generator")
    return np.random.default_rng(int(rng))


def count(name: str, value: object) -> int:
    """``value`` as an int >= 1, or TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` is {value!r}; it must be an int >= 1")
    if value < 1:
        raise ValueError(f"`{name}` is {value!r}; it must be an int >= 1")
    return int(value)


def max_abs(x: npt.NDArray[np.float64]) -> float:
    """``max(1, max_k |x_k|)``, without a temporary of P elements."""
    return max(1.0, float(np.max(x)), -float(np.min(x)))
