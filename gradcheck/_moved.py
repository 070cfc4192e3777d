"""What the partial checks stand on: f at x moved along one direction, in memory bounded by a few
copies of x; the gradient's leaves; the random draws and counts of the randomized checks.

The partial checks (:func:`gradcheck.check_directional`, :func:`gradcheck.taylor_test`) are
meant for huge P, so they evaluate ``f(x + h v)`` holding, beyond x and the gradient, one
point at a time and the flat float64 x that every check makes (a read-only view of x when x is
one contiguous float64 array, else a copy): one copy of such an x (two for the complex step,
whose point is complex), one more for a pytree. The random unit direction v is never
stored (:class:`Direction` draws it again, chunk by chunk, for each point), and the products
over P (``aᵀd``, ``|a|ᵀ|d|``, ``‖z‖``) are taken over chunks of :data:`CHUNK` coordinates, so
no other array of P elements is made. :func:`gradient_leaves` serves the full check too, and
:func:`count` the directions of :func:`gradcheck.check_jvp` and :func:`gradcheck.check_vjp`.

Example
-------
>>> import numpy as np
>>> pb = _problem.prepare(lambda w: float(w @ w), np.array([3.0, 4.0]), (), "central")
>>> v = Direction(np.random.default_rng(2), "rademacher", 2)  # (1, -1)/√2
>>> v.point(pb, np.sqrt(2))
array([4., 3.])
>>> mover = Mover(pb, pb.f)
>>> mover.analytic = gradient_leaves(pb, np.array([6.0, 8.0]), None)[0]
>>> mover(v.point(pb, np.sqrt(2)))  # f(x + √2 v) = 16 + 9, aᵀd = 6 - 8, |a|ᵀ|d| = 6 + 8
(25.0, -2.0, 14.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import evaluators as _evaluate
from gradcheck import steps as _problem
from gradcheck import tree as _tree

__all__ = ["CHUNK", "Direction", "Mover", "count", "generator", "gradient_leaves", "max_abs"]

CHUNK = 1 << 13
"""Coordinates per chunk of a product over P (64 KiB of float64)."""

Float64Array = npt.NDArray[np.float64]
_SIGNS = np.array([-1.0, 1.0])


class Direction:
    """A random unit direction v = z/‖z‖, never stored: drawn again for each point made.

    z is Gaussian or ±1. Making the direction draws z once from ``gen`` (chunk by chunk, for
    ‖z‖), which advances ``gen`` as one draw of P numbers does; each point draws z again,
    with the same numbers, from a copy of ``gen``'s state taken before.
    """

    def __init__(self, gen: np.random.Generator, distribution: str, size: int) -> None:
        self._bits = type(gen.bit_generator)
        self._state = gen.bit_generator.state
        self._distribution = distribution
        self._size = size
        squares = sum(float(z @ z) for _, z in self._chunks(gen))
        self.norm = math.sqrt(squares)

    def _chunks(self, gen: np.random.Generator) -> Iterator[tuple[slice, Float64Array]]:
        """(slice, z on it) over the P coordinates, drawn from ``gen``."""
        for lo in range(0, self._size, CHUNK):
            n = min(CHUNK, self._size - lo)
            z = (gen.standard_normal(n) if self._distribution == "gaussian"
                 else gen.choice(_SIGNS, size=n))
            yield slice(lo, lo + n), z

    def _again(self) -> Iterator[tuple[slice, Float64Array]]:
        """The chunks of v = z/‖z‖, drawn again."""
        bits = self._bits()
        bits.state = self._state
        for part, z in self._chunks(np.random.Generator(bits)):
            z /= self.norm
            yield part, z

    def point(self, pb: _problem.Problem, h: float) -> Float64Array:
        """``x + h v`` as a new flat float64 (P,) array."""
        point = np.empty(self._size)
        for part, v in self._again():
            v *= h
            np.add(pb.x_flat[part], v, out=point[part])
        return point

    def imaginary_point(self, pb: _problem.Problem, h: float) -> npt.NDArray[np.complex128]:
        """``x + i h v`` as a new flat complex128 (P,) array."""
        point = np.empty(self._size, dtype=np.complex128)
        point.real = pb.x_flat
        for part, v in self._again():
            v *= h
            point.imag[part] = v
        return point


def gradient_leaves(
    pb: _problem.Problem, grad: Any, pair: Any
) -> tuple[list[_tree.FloatArray], float]:
    """The analytic gradient's leaves, validated like x's (no copy), and their largest ε.

    ``pair`` is the (value, gradient) wrapper of f when ``grad`` is None, after its call at x.
    """
    if pair is not None:
        tree, name = pair.gradient, "f(x)[1]"
    elif callable(grad):
        tree, name = grad(pb.fresh_x(), *pb.args), "grad"
    else:
        tree, name = grad, "grad"
    raw = _tree.flatten_like(tree, pb.treedef, name, "x")
    leaves = _tree.float_leaves(raw, pb.layout.paths, name, strict=False)
    _tree.check_shapes(leaves, pb.leaves, pb.layout.paths, name, "x")
    return leaves, max(float(np.finfo(leaf.dtype).eps) for leaf in leaves)


def _products(a: Any, point: Any, x: Any) -> tuple[float, float]:
    """``(aᵀd, |a|ᵀ|d|)`` with d = Im point (complex) or point − x, chunk by chunk (1-D)."""
    a_d = abs_a_d = 0.0
    for lo in range(0, a.shape[0], CHUNK):
        part = slice(lo, lo + CHUNK)
        d = point[part].imag if np.iscomplexobj(point) else point[part] - x[part]
        d = d.astype(np.float64)
        a_d += float(a[part] @ d)
        abs_a_d += float(np.abs(np.nan_to_num(a[part])) @ np.abs(d))
    return a_d, abs_a_d


class Mover:
    """f at points near x, on fresh arrays; values validated, f's precision recorded.

    ``analytic`` are the gradient's leaves (see :func:`gradient_leaves`); each call returns
    f at the point rounded to the leaves' dtypes, with ``aᵀd`` and ``|a|ᵀ|d|`` for the
    displacement d that f really saw (the imaginary part for a complex point), computed before
    f is called, whatever f then does with its argument.
    """

    def __init__(self, pb: _problem.Problem, f: Any) -> None:
        self.pb, self.f = pb, f
        self.analytic: list[_tree.FloatArray] = []
        """Set once f(x) has been called (f may return the gradient with its value)."""
        self.count, self.eps = 0, 0.0

    def at_x(self) -> float:
        """``f(x)``, on a fresh copy of x."""
        return self._value(self.pb.fresh_x(), complex_input=False).real

    def __call__(self, point: Any) -> tuple[complex, float, float]:
        """f at the flat point (real, or complex for the complex step), aᵀd and |a|ᵀ|d|."""
        imaginary = np.iscomplexobj(point)
        leaves, a_d, abs_a_d = [], 0.0, 0.0
        for leaf, part, a in zip(self.pb.leaves, self.pb.split(point), self.analytic,
                                 strict=True):
            ctype = np.result_type(leaf.dtype, np.complex64) if imaginary else leaf.dtype
            moved = part.astype(ctype, copy=False)
            ad, abs_ad = _products(a.reshape(-1), moved.reshape(-1), leaf.reshape(-1))
            a_d, abs_a_d = a_d + ad, abs_a_d + abs_ad
            leaves.append(moved)
        value = self._value(_tree.unflatten(self.pb.treedef, leaves), complex_input=imaginary)
        return value, a_d, abs_a_d

    def _value(self, x: Any, *, complex_input: bool) -> complex:
        """f(x), validated: a finite scalar."""
        self.count += 1
        raw = self.f(x, *self.pb.args)
        value, eps = _evaluate.scalar_value(raw, complex_input=complex_input)
        if not np.isfinite(value):
            raise ValueError(f"`f` returned {value} near x; f must be finite near x")
        self.eps = max(self.eps, eps)
        return value


# The arguments of the randomized checks (jvp and vjp count their directions with `count` too).


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
