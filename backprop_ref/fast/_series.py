"""Truncated Taylor series that stand in for an activation, or for the loss, under tiny moves.

A move of one parameter below layer l+1 reaches Z(l+2) as a rank-one change Δ = c ⊗ v (c: one
value per example, v: a column of W(l+1)). Where f = the activation of layer l+2 is smooth,

    f(Z + Δ) = f(Z) + Σ_{p=1..K} f⁽ᵖ⁾(Z) ⊙ Δᵖ / p! + R,   Δᵖ = cᵖ ⊗ vᵖ,

so the change it makes to the next pre-activation is Σ_p (cᵖ)[:, None] ⊙ M_{v,p} with
M_{v,p} = (f⁽ᵖ⁾(Z)/p! ⊙ vᵖ) @ W(l+2)ᵀ, a matrix product per column instead of an activation
per move (`HiddenSeries`). The same expansion of g(z) = loss(f_out(z), y) gives the change of
the cost itself from a rank-one change of Z(L), Σ_p Σ_examples cᵖ ⊙ (g⁽ᵖ⁾(Z(L))/p! @ vᵖ)
(`OutputSeries`).

Each derivative is a polynomial in a = f(z): f′ = s(a), and d/dz P(a) = P′(a) s(a)
(sigmoid: s = a − a², tanh: s = 1 − a², identity: s = 1). Their sups over the range of a give
the Lagrange bound of the remainder, |R| ≤ sup|f⁽ᴷ⁺¹⁾| D^(K+1)/(K+1)! per element for real
D = max|c| · max|v|; sup|σ⁽²⁾..σ⁽⁵⁾| = 0.0962, 0.125, 0.1277, 0.25 and tanh⁽ⁿ⁾ = 2ⁿ⁺¹σ⁽ⁿ⁾(2z):
0.770, 2, 4.086, 16. A move uses the smallest K ≤ K_MAX whose bound is below TOLERANCE ·
ε of the dtype times the scale of what is rounded (1 for an activation in [−1, 1]; the summed
loss for the cost); otherwise the exact path. For complex Δ (the complex step) Cauchy's bound on
a disk of radius r about the real axis gives |R| ≤ 2 D sup|f′| (D/r)^K for D ≤ r/2, with
|σ| ≤ 1, |σ′| ≤ 2 for |Im z| ≤ 1 and |tanh| ≤ 3, |tanh′| ≤ 10 for |Im z| ≤ 1/2, and the bound
is held below TOLERANCE · ε · D times the scale of f′ (the imaginary part is of order D).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import numpy.polynomial.polynomial as poly
import numpy.typing as npt

from backprop_ref._types import FloatArray

__all__ = ["K_MAX", "TOLERANCE", "HiddenSeries", "OutputSeries", "hidden_series",
           "orders", "output_series"]

K_MAX = 4
"""The highest order of a series."""

TOLERANCE = 0.01
"""The remainder is held below this fraction of the rounding error of the exact path."""


class Smooth(NamedTuple):
    """What the series needs of an activation: f′ as a polynomial of a, the range of a, and
    Cauchy's constants (a radius r with sup|f| and sup|f′| on the strip |Im z| ≤ r)."""

    slope: tuple[float, ...]
    low: float
    high: float
    radius: float
    slope_bound: float


SMOOTH = {
    "sigmoid": Smooth((0.0, 1.0, -1.0), 0.0, 1.0, 1.0, 2.0),
    "tanh": Smooth((1.0, 0.0, -1.0), -1.0, 1.0, 0.5, 10.0),
    "identity": Smooth((1.0,), -math.inf, math.inf, 1.0, math.inf),
}
"""The activations with a series; |σ| ≤ 1 and |tanh| ≤ 3 on their strips give slope_bound."""

_Poly = npt.NDArray[np.float64]


def lifts(p: _Poly, smooth: Smooth, n: int) -> list[_Poly]:
    """[P, P⁽¹⁾, ..., P⁽ⁿ⁾]: z-derivatives of P(a) as polynomials of a (P′(a) s(a) each)."""
    out = [np.asarray(p, dtype=np.float64)]
    for _ in range(n):
        out.append(np.asarray(poly.polymul(poly.polyder(out[-1]), smooth.slope), np.float64))
    return out


def sup_abs(p: _Poly, smooth: Smooth) -> float:
    """max |P(a)| over the range of a (0 for P = 0, inf where unbounded)."""
    p = np.asarray(poly.polytrim(p), dtype=np.float64)
    if not p.any():
        return 0.0
    if len(p) > 1 and not math.isfinite(smooth.high - smooth.low):
        return math.inf
    if len(p) == 1:
        return abs(float(p[0]))
    roots = poly.polyroots(poly.polyder(p)) if len(p) > 2 else np.zeros(0)
    points = [smooth.low, smooth.high] + [
        float(r.real) for r in roots if abs(r.imag) < 1e-9 and smooth.low <= r.real <= smooth.high
    ]
    return float(np.max(np.abs(poly.polyval(np.array(points), p))))


def _real_limits(bounds: list[float], allowed: float) -> FloatArray:
    """Largest D for each K with bounds[K] D^(K+1)/(K+1)! ≤ allowed (bounds[K] ≥ sup|R|)."""
    limits = np.full(K_MAX, np.inf)
    for k in range(1, K_MAX + 1):
        if bounds[k] > 0:
            limits[k - 1] = (allowed * math.factorial(k + 1) / bounds[k]) ** (1.0 / (k + 1))
    return limits


def _complex_limits(bounds: list[float], r: float, ratio: float) -> FloatArray:
    """Largest D ≤ r/2 for each K with 2 (D/r)^K ≤ ratio (zero remainder: no limit)."""
    limits = np.full(K_MAX, np.inf)
    for k in range(1, K_MAX + 1):
        if bounds[k] > 0:
            limits[k - 1] = min(r / 2, r * (ratio / 2) ** (1.0 / k)) if ratio > 0 else 0.0
    return limits


def orders(size: FloatArray, limits: FloatArray) -> npt.NDArray[np.intp]:
    """The smallest K with size ≤ limits[K−1] per move, 0 where none (the exact path)."""
    within = size[:, None] <= limits[None, :]
    return np.where(within.any(axis=1), within.argmax(axis=1) + 1, 0)


class HiddenSeries(NamedTuple):
    """The series of a hidden activation at Z(l+2), pushed through W(l+2) (see module)."""

    limits: FloatArray
    """(K_MAX,) the largest max|Δ| per move for which order K is exact (real Δ)."""
    complex_limits: FloatArray
    """(K_MAX,) the same for complex Δ."""
    matrices: FloatArray
    """(K_MAX, s_{l+1}, s_{l+3}, m): M_{i,p} = ((f⁽ᵖ⁾(Z)/p! ⊙ W(l+1)[:, i]ᵖ) @ W(l+2)ᵀ)ᵀ."""
    composed: Composed | None = None


def hidden_series(name: str, a: FloatArray, W: FloatArray, W_next: FloatArray,
                  eps: float) -> HiddenSeries:
    """The series of activation ``name`` at a = f(Z) (m, s_{l+2}), with W = W(l+1)
    (s_{l+2}, s_{l+1}) and W_next = W(l+2) (s_{l+3}, s_{l+2})."""
    smooth = SMOOTH[name]
    polys = lifts(np.array([0.0, 1.0]), smooth, K_MAX + 1)
    bounds = [sup_abs(p, smooth) for p in polys[1:]]  # bounds[k] = sup|f⁽ᵏ⁺¹⁾|
    scale = max(abs(smooth.low), abs(smooth.high), 1.0) if bounds[1] else 1.0
    slope_scale = bounds[0] if bounds[0] else 1.0
    ratio = TOLERANCE * eps * slope_scale / smooth.slope_bound
    m, width = a.shape
    matrices = np.empty((K_MAX, W.shape[1], W_next.shape[0], m), dtype=a.dtype)
    power = np.ones_like(W.T)
    for p in range(1, K_MAX + 1):
        power *= W.T  # (s_{l+1}, s_{l+2})
        derivative = poly.polyval(a, polys[p]) / math.factorial(p)  # (m, s_{l+2})
        product = W_next.T[:, :, None] * derivative.T[:, None, :]  # (s_{l+2}, s_{l+3}, m)
        matrices[p - 1] = (power @ product.reshape(width, -1)).reshape(matrices.shape[1:])
    return HiddenSeries(_real_limits(bounds, TOLERANCE * eps * scale),
                        _complex_limits(bounds, smooth.radius, ratio), matrices, None)


def hidden_change(series: HiddenSeries, rows: npt.NDArray[np.intp], change: Any,
                  order: int) -> Any:
    """ΔZ(l+3) (n, s_{l+3}, m) of moves that change A(l+2)[:, rows[t]] by change[t] (n, m)."""
    step = change[:, None, :]
    out: Any = np.multiply(series.matrices[0][rows], step)
    for p in range(2, order + 1):
        step = step * change[:, None, :]
        out += np.multiply(series.matrices[p - 1][rows], step)
    return out


class Composed(NamedTuple):
    """A hidden series that feeds the output, composed with the loss's quadratic series.

    With ΔZ(L) = Σ_p cᵖ M_p (order K) and the cost's change g′·ΔZ + ½g″·ΔZ² summed, each
    example's share of the change is a polynomial of degree 2K in its c: no (s_L, m) array
    per move. Used where the loss's own guard allows its order 2 at max|ΔZ(L)|.
    """

    peaks: FloatArray
    """(K_MAX, s_{l+1}): max |M_{i,p}|, so that max|ΔZ(L)| ≤ Σ_p max|c|ᵖ peaks[p−1, i]."""
    limits: FloatArray
    """The loss's limits on max|ΔZ(L)| (real Δ) and complex_limits: the same, complex Δ."""
    complex_limits: FloatArray
    coefficients: list[FloatArray]
    """Per order K: (2K, s_{l+1}, m), the coefficient of c^d of each example's change."""


def compose(hidden: HiddenSeries, loss: OutputSeries) -> Composed:
    """The composition of ``hidden`` with the output series ``loss`` (V = the identity)."""
    M = hidden.matrices  # (K_MAX, s_{l+1}, s_L, m)
    first = np.einsum("se,pise->pie", loss.terms[0], M)
    second = np.einsum("se,pise,qise->pqie", loss.terms[1], M, M)
    coefficients = []
    for K in range(1, K_MAX + 1):
        c = np.zeros((2 * K, *first.shape[1:]), dtype=first.dtype)
        c[:K] += first[:K]
        for p in range(K):
            for q in range(K):
                c[p + q + 1] += second[p, q]
        coefficients.append(c)
    peaks = np.abs(M).max(axis=(2, 3))
    return Composed(peaks, loss.limits, loss.complex_limits, coefficients)


def composed_change(composed: Composed, rows: npt.NDArray[np.intp], change: Any,
                    order: int) -> Any:
    """Σ loss change (n,) of moves that change A(L−1)[:, rows[t]] by change[t] (n, m)."""
    table = composed.coefficients[order - 1]
    step = change.copy()
    out: Any = np.einsum("tm,tm->t", step, table[0][rows])
    for d in range(1, 2 * order):
        step *= change
        out += np.einsum("tm,tm->t", step, table[d][rows])
    return out


class OutputSeries(NamedTuple):
    """The series of g(z) = loss(f(z), y) at Z(L) along the columns v_i of a matrix V."""

    limits: FloatArray
    complex_limits: FloatArray
    terms: FloatArray
    """(K_MAX, rows, m): (g⁽ᵖ⁾(Z(L))/p! @ V^p)ᵀ."""


def _loss_polys(loss: str, smooth: Smooth) -> tuple[list[_Poly], list[_Poly]]:
    """Polynomials A_p, B_p with g⁽ᵖ⁾ = A_p(a) − y B_p(a), p = 0..K_MAX+1."""
    if loss == "squared":  # g = ½a² − ya + ½y²
        return (lifts(np.array([0.0, 0.0, 0.5]), smooth, K_MAX + 1),
                lifts(np.array([0.0, 1.0]), smooth, K_MAX + 1))
    # sigmoid cross-entropy: g = softplus(z) − yz, g′ = a − y, g⁽ᵖ⁾ = σ⁽ᵖ⁻¹⁾ for p ≥ 2
    shifted = lifts(np.array([0.0, 1.0]), smooth, K_MAX)
    unit = [np.zeros(1), np.ones(1)] + [np.zeros(1)] * K_MAX
    return [np.zeros(1), *shifted], unit


def output_series(loss: str, output: str, a: FloatArray, y: FloatArray, V: FloatArray,
                  total: float, eps: float) -> OutputSeries | None:
    """The series of the cost at a = f(Z(L)) (m, s_L) along the columns of V (s_L, rows).

    ``total`` is Σ loss at x (what the exact path rounds); None where the loss or the output
    activation has no series.
    """
    smooth = SMOOTH.get(output)
    if smooth is None or (loss != "squared" and output != "sigmoid"):
        return None
    first, second = _loss_polys(loss, smooth)
    y_max = float(np.max(np.abs(y)))
    bounds = [sup_abs(p, smooth) + y_max * sup_abs(q, smooth)
              for p, q in zip(first[1:], second[1:], strict=True)]
    m, s = a.shape
    terms = np.empty((K_MAX, V.shape[1], m), dtype=a.dtype)
    power = np.ones_like(V)
    for p in range(1, K_MAX + 1):
        power *= V
        g = poly.polyval(a, first[p]) - y * poly.polyval(a, second[p])
        terms[p - 1] = (g / math.factorial(p) @ power).T
    slope_total = float(np.abs(poly.polyval(a, first[1]) - y * poly.polyval(a, second[1])).sum())
    grows = 1.0 if loss != "squared" else smooth.slope_bound  # |g′| = |a − y| |a′| on the strip
    strip = (max(abs(smooth.low), abs(smooth.high), 3.0 if output == "tanh" else 1.0) + y_max)
    ratio = TOLERANCE * eps * slope_total / (m * s * grows * strip)
    return OutputSeries(_real_limits(bounds, TOLERANCE * eps * total / (m * s)),
                        _complex_limits(bounds, smooth.radius, ratio), terms)


def output_change(series: OutputSeries, rows: npt.NDArray[np.intp], change: Any,
                  order: int) -> Any:
    """Σ loss change (n,) of moves that change Z(L) by change[t] ⊗ V[:, rows[t]]."""
    step = change.copy()
    out: Any = np.einsum("tm,tm->t", step, series.terms[0][rows])
    for p in range(2, order + 1):
        step *= change
        out += np.einsum("tm,tm->t", step, series.terms[p - 1][rows])
    return out
