"""A corpus of real scalar functions whose gradients come from autograd, not from us.

Modelled on autograd's own test families (``tests/test_numpy.py``, ``test_linalg.py``,
``test_scipy.py``, ``test_systematic.py``): elementwise operations, reductions and norms,
linear algebra, scipy.special and log-densities, softmax/logsumexp, normalisation and
convolution, recurrent cells and attention, regressions and likelihoods. Inputs are taken at
scales 0.01, 1 and 100 where f is defined there, plus points on kinks, normalisation inputs
with a small spread or constant rows, and the cases of issue 11's "What was seen".

Every function is written with ``autograd.numpy`` and takes one argument, an array or a dict
of arrays; :func:`cases` returns them as :class:`Case` with the point fixed (seeded) and
:meth:`Case.gradient` the gradient autograd computes. ``analytic`` says whether the complex
step is valid (f accepts complex input and is holomorphic in x); ``kinks`` lists the flat
coordinates (in gradcheck's order) that lie on a kink, where "not verifiable" is the right
answer. Importing this module needs autograd and scipy: tests import it after
``pytest.importorskip("autograd")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import autograd
import autograd.numpy as anp
import autograd.scipy.special as sp
import autograd.scipy.stats as st
import numpy as np

SCALES = (0.01, 1.0, 100.0)


@dataclass(frozen=True)
class Case:
    """One function of the corpus at one point."""

    name: str
    family: str
    f: Callable[[Any], Any]
    x: Any
    analytic: bool = True
    """The complex step is valid: f accepts complex x and is holomorphic in it."""
    kinks: tuple[int, ...] = ()
    """Flat coordinates on a kink of f (gradcheck's order), "not verifiable" there."""
    exact_zero: bool = False
    """f is identically 0 near x (by cancellation): its true gradient is 0 and autograd's is
    rounding, so no bug is planted relative to it."""

    def gradient(self) -> Any:
        """The gradient of f at x, by autograd's reverse mode."""
        return autograd.grad(self.f)(self.x)


def _rng(tag: str) -> np.random.Generator:
    """A generator seeded by the case's name: the corpus is the same on every run."""
    return np.random.default_rng(sum(ord(c) * 31**i for i, c in enumerate(tag)) % 2**32)


def _weights(n: int) -> np.ndarray:
    """Fixed, unequal weights, so that no sum is symmetric in its terms."""
    return np.linspace(0.5, 1.5, n) * (-1.0) ** np.arange(n)


# --- elementwise operations: (name, op, scales, domain shift, analytic) ---------------------
_ELEMENTWISE: list[tuple[str, Callable[[Any], Any], tuple[float, ...], str, bool]] = [
    ("sin", anp.sin, SCALES, "any", True),
    ("cos", anp.cos, SCALES, "any", True),
    ("tan", anp.tan, (0.01, 1.0), "any", True),
    ("exp", anp.exp, (0.01, 1.0), "any", True),
    ("log", anp.log, SCALES, "pos", True),
    ("log1p", anp.log1p, SCALES, "pos", True),
    ("expm1", anp.expm1, (0.01, 1.0), "any", True),
    ("sqrt", anp.sqrt, SCALES, "pos", True),
    ("tanh", anp.tanh, SCALES, "any", True),
    ("sinh", anp.sinh, (0.01, 1.0), "any", True),
    ("cosh", anp.cosh, (0.01, 1.0), "any", True),
    ("arctan", anp.arctan, SCALES, "any", True),
    ("arcsinh", anp.arcsinh, SCALES, "any", True),
    ("sigmoid", lambda x: 1.0 / (1.0 + anp.exp(-x)), (0.01, 1.0, 10.0), "any", True),
    ("softplus", lambda x: anp.logaddexp(0.0, x), (0.01, 1.0, 10.0), "any", False),
    ("cube", lambda x: x**3, SCALES, "any", True),
    ("reciprocal", lambda x: 1.0 / x, SCALES, "pos", True),
    ("cos_exp", lambda x: anp.cos(x) * anp.exp(x), (0.01, 1.0), "any", True),
    ("xlogx", lambda x: x * anp.log(x), SCALES, "pos", True),
    ("square_abs", lambda x: x * anp.abs(x), SCALES, "any", False),
]


def _elementwise() -> Iterator[Case]:
    for name, op, scales, domain, analytic in _ELEMENTWISE:
        for s in scales:
            tag = f"elementwise/{name}@{s:g}"
            z = _rng(tag).normal(size=6)
            x = s * (np.abs(z) + 0.2 if domain == "pos" else z)
            c = _weights(6)
            yield Case(tag, "elementwise", lambda x, op=op, c=c: anp.sum(c * op(x)), x, analytic)


# --- reductions and norms ------------------------------------------------------------------
_REDUCTIONS: list[tuple[str, Callable[[Any], Any], bool]] = [
    ("sum_squares", lambda x: anp.sum(x**2), True),
    ("weighted_mean", lambda x: anp.mean(_weights(x.shape[1]) * x**2 + x), True),
    ("prod", lambda x: anp.prod(1.0 + 0.1 * x / (1.0 + anp.abs(x))), False),
    ("var", lambda x: anp.var(x), False),
    ("std_rows", lambda x: anp.sum(anp.std(x, axis=1)), False),
    ("max", lambda x: anp.max(x * _weights(x.shape[1])), False),
    ("cumsum", lambda x: anp.sum(_weights(x.size).reshape(x.shape) * anp.cumsum(x, axis=1)),
     True),
    ("l2_norm", lambda x: anp.sqrt(anp.sum(x**2)), True),
    ("l1_norm", lambda x: anp.sum(anp.abs(x)), False),
    ("p3_norm", lambda x: anp.sum(anp.abs(x) ** 3) ** (1.0 / 3.0), False),
    ("fro_norm", lambda x: anp.linalg.norm(x), False),
]


def _reductions() -> Iterator[Case]:
    for name, op, analytic in _REDUCTIONS:
        for s in SCALES:
            tag = f"reduction/{name}@{s:g}"
            yield Case(tag, "reduction", op, s * _rng(tag).normal(size=(3, 4)), analytic)


# --- linear algebra -------------------------------------------------------------------------
def _well(a: Any) -> Any:
    """``a`` moved away from singular: a + n·scale·I (scale-free: divides out below)."""
    n = a.shape[0]
    return a + 3.0 * anp.sqrt(anp.mean(a**2)) * anp.eye(n)


_LINALG: list[tuple[str, Callable[[Any], Any], bool]] = [
    ("inv", lambda a: anp.sum(_weights(9).reshape(3, 3) * anp.linalg.inv(_well(a))), False),
    ("det", lambda a: anp.linalg.det(a + 3.0 * anp.eye(3) * anp.abs(a).mean()), False),
    ("det_raw", lambda a: anp.linalg.det(a), True),
    ("slogdet", lambda a: anp.linalg.slogdet(_well(a))[1], False),
    ("solve", lambda a: anp.sum(anp.linalg.solve(_well(a), anp.arange(1.0, 4.0)) ** 2), False),
    ("cholesky", lambda a: anp.sum(_weights(9).reshape(3, 3)
                                   * anp.linalg.cholesky(anp.dot(a, a.T) + anp.eye(3))), False),
    ("eigh", lambda a: anp.sum(anp.arange(1.0, 4.0)
                               * anp.linalg.eigh(a + a.T)[0]), False),
    ("trace_inv", lambda a: anp.trace(anp.linalg.inv(anp.dot(a, a.T) + anp.eye(3))), False),
    ("matmul_sq", lambda a: anp.sum(_weights(9).reshape(3, 3) * anp.dot(a, anp.dot(a, a))),
     True),
]


def _linalg() -> Iterator[Case]:
    for name, op, analytic in _LINALG:
        for s in SCALES:
            tag = f"linalg/{name}@{s:g}"
            yield Case(tag, "linalg", op, s * _rng(tag).normal(size=(3, 3)), analytic)


# --- scipy.special and log-densities --------------------------------------------------------
_SPECIAL: list[tuple[str, Callable[[Any], Any], tuple[float, ...], bool]] = [
    ("gammaln", sp.gammaln, (0.01, 1.0, 100.0), False),
    ("digamma", sp.digamma, (0.01, 1.0, 100.0), False),
    ("erf", sp.erf, (0.01, 1.0), False),
    ("erfc", sp.erfc, (0.01, 1.0), False),
    ("expit", sp.expit, (0.01, 1.0, 10.0), False),
    ("logit", lambda x: sp.logit(x / (1.0 + x)), (0.01, 1.0, 100.0), False),
    ("j0", sp.j0, (0.01, 1.0, 100.0), False),
    ("j1", sp.j1, (0.01, 1.0, 100.0), False),
    ("i0", sp.i0, (0.01, 1.0), False),
    ("polygamma1", lambda x: sp.polygamma(1, x), (0.01, 1.0, 100.0), False),
]


def _special() -> Iterator[Case]:
    for name, op, scales, analytic in _SPECIAL:
        for s in scales:
            tag = f"special/{name}@{s:g}"
            x = s * (np.abs(_rng(tag).normal(size=5)) + 0.3)
            c = _weights(5)
            yield Case(tag, "special", lambda x, op=op, c=c: anp.sum(c * op(x)), x, analytic)


def _gamma_logpdf(v: Any, shape: Any, rate: Any) -> Any:
    """The gamma log-density (autograd's own has no derivative in its shape)."""
    return shape * anp.log(rate) + (shape - 1.0) * anp.log(v) - rate * v - sp.gammaln(shape)


def _logpdf_cases() -> Iterator[Case]:
    data = np.array([0.3, -1.2, 2.0, 0.7])
    counts = np.array([0.0, 2.0, 5.0, 1.0])
    dens: list[tuple[str, Callable[[Any], Any]]] = [
        ("norm", lambda p: anp.sum(st.norm.logpdf(data, p["loc"], anp.exp(p["log_scale"])))),
        ("t", lambda p: anp.sum(st.t.logpdf(data, 3.0, p["loc"], anp.exp(p["log_scale"])))),
        ("gamma", lambda p: anp.sum(_gamma_logpdf(np.abs(data) + 0.1, anp.exp(p["loc"]),
                                                  anp.exp(p["log_scale"])))),
        ("poisson", lambda p: anp.sum(st.poisson.logpmf(counts, anp.exp(p["loc"] + data)))),
        ("mvn", lambda p: st.multivariate_normal.logpdf(
            data[:3], p["loc"] * anp.ones(3), anp.exp(p["log_scale"]) * anp.eye(3))),
        ("beta", lambda p: anp.sum(st.beta.logpdf(np.array([0.2, 0.5, 0.9]),
                                                  anp.exp(p["loc"]), anp.exp(p["log_scale"])))),
    ]
    for name, op in dens:
        for s in SCALES:
            tag = f"density/{name}@{s:g}"
            z = _rng(tag).normal(size=2)
            x = {"loc": s * np.array([z[0]]), "log_scale": np.array([0.3 * z[1]])}
            if name in ("gamma", "beta", "poisson"):
                x["loc"] = np.clip(x["loc"], -3.0, 3.0)
            yield Case(tag, "density", op, x, False)


# --- softmax, log-softmax, logsumexp --------------------------------------------------------
def _logsumexp(z: Any, axis: int = -1) -> Any:
    m = anp.max(z, axis=axis, keepdims=True)
    return m + anp.log(anp.sum(anp.exp(z - m), axis=axis, keepdims=True))


def _softmax(z: Any) -> Any:
    e = anp.exp(z - anp.max(z, axis=-1, keepdims=True))
    return e / anp.sum(e, axis=-1, keepdims=True)


_SOFTMAX: list[tuple[str, Callable[[Any], Any], bool]] = [
    ("softmax", lambda z: anp.sum(_weights(z.size).reshape(z.shape) * _softmax(z)), False),
    ("log_softmax", lambda z: anp.sum(_weights(z.size).reshape(z.shape)
                                      * (z - _logsumexp(z))), False),
    ("logsumexp", lambda z: anp.sum(_weights(z.shape[0]) * sp.logsumexp(z, axis=1)), False),
    ("softmax_xent", lambda z: -anp.sum((z - _logsumexp(z))[:, 0]), False),
]


def _softmaxes() -> Iterator[Case]:
    for name, op, analytic in _SOFTMAX:
        for s in (*SCALES, 1000.0):
            tag = f"softmax/{name}@{s:g}"
            yield Case(tag, "softmax", op, s * _rng(tag).normal(size=(3, 4)), analytic)


# --- normalisation and convolution ----------------------------------------------------------
def layer_norm(x: Any, axis: int = 1) -> Any:
    """``(x - μ) / √(σ² + 1e-5)`` along ``axis``, through ``var`` as people write it."""
    mu = anp.mean(x, axis=axis, keepdims=True)
    return (x - mu) / anp.sqrt(anp.var(x, axis=axis, keepdims=True) + 1e-5)


def _norm_inputs(tag: str) -> Iterator[tuple[str, np.ndarray]]:
    rng = _rng(tag)
    for s in SCALES:
        yield f"@{s:g}", s * rng.normal(size=(3, 4))
    yield "@spread0.03", 3.0 + 0.03 * rng.normal(size=(3, 4))
    yield "@spread1e-3", -2.0 + 1e-3 * rng.normal(size=(3, 4))
    yield "@constant_rows", np.repeat(rng.normal(size=(3, 1)), 4, axis=1)


_NORMS: list[tuple[str, Callable[[Any], Any]]] = [
    ("layer_norm", lambda x: anp.sum(_weights(12).reshape(3, 4) * layer_norm(x))),
    ("batch_norm", lambda x: anp.sum(_weights(12).reshape(3, 4) * layer_norm(x, axis=0))),
    ("layer_norm_sq", lambda x: anp.sum(_weights(12).reshape(3, 4) * layer_norm(x) ** 2)),
    ("centred_zero", lambda x: anp.sum(layer_norm(x))),
]


def _normalisation() -> Iterator[Case]:
    for name, op in _NORMS:
        for suffix, x in _norm_inputs(f"norm/{name}"):
            yield Case(f"norm/{name}{suffix}", "normalisation", op, x, False,
                       exact_zero=name == "centred_zero")


def _conv1d(x: Any, w: Any) -> Any:
    k = w.shape[0]
    return anp.stack([anp.sum(x[i : i + k] * w) for i in range(x.shape[0] - k + 1)])


def _convolutions() -> Iterator[Case]:
    for s in SCALES:
        tag = f"conv/conv1d_tanh@{s:g}"
        rng = _rng(tag)
        x = {"signal": s * rng.normal(size=8), "kernel": rng.normal(size=3)}
        yield Case(tag, "convolution", lambda p: anp.sum(anp.tanh(_conv1d(p["signal"],
                                                                          p["kernel"]))), x)
        tag = f"conv/conv2d_sq@{s:g}"
        rng = _rng(tag)
        img = s * rng.normal(size=(4, 4))
        y = {"kernel": rng.normal(size=(2, 2))}

        def conv2d(p: Any, img: Any = img) -> Any:
            k = p["kernel"]
            out = [anp.sum(img[i : i + 2, j : j + 2] * k) for i in range(3) for j in range(3)]
            return anp.sum(anp.stack(out) ** 2) / img.size
        yield Case(tag, "convolution", conv2d, y)


# --- recurrent cells and attention ----------------------------------------------------------
def _sig(z: Any) -> Any:
    return 0.5 * (anp.tanh(0.5 * z) + 1.0)


def _rnn(p: Any, xs: Any) -> Any:
    h = anp.zeros(3)
    for x in xs:
        h = anp.tanh(anp.dot(p["W"], x) + anp.dot(p["U"], h) + p["b"])
    return anp.sum(_weights(3) * h)


def _lstm(p: Any, xs: Any) -> Any:
    h, c = anp.zeros(3), anp.zeros(3)
    for x in xs:
        z = anp.dot(p["W"], x) + anp.dot(p["U"], h) + p["b"]
        i, f, o, g = _sig(z[:3]), _sig(z[3:6]), _sig(z[6:9]), anp.tanh(z[9:])
        c = f * c + i * g
        h = o * anp.tanh(c)
    return anp.sum(_weights(3) * h)


def _attention(p: Any, xs: Any) -> Any:
    q, k, v = anp.dot(xs, p["Wq"]), anp.dot(xs, p["Wk"]), anp.dot(xs, p["Wv"])
    scores = anp.dot(q, k.T) / anp.sqrt(3.0)
    return anp.sum(_weights(12).reshape(4, 3) * anp.dot(_softmax(scores), v))


def _recurrent() -> Iterator[Case]:
    for s in SCALES:
        tag = f"rnn/elman@{s:g}"
        rng = _rng(tag)
        xs = s * rng.normal(size=(4, 2))
        p = {"W": 0.5 * rng.normal(size=(3, 2)), "U": 0.5 * rng.normal(size=(3, 3)),
             "b": 0.1 * rng.normal(size=3)}
        yield Case(tag, "recurrent", lambda p, xs=xs: _rnn(p, xs), p)
        tag = f"rnn/lstm@{s:g}"
        rng = _rng(tag)
        xs = s * rng.normal(size=(3, 2))
        p = {"W": 0.5 * rng.normal(size=(12, 2)), "U": 0.5 * rng.normal(size=(12, 3)),
             "b": 0.1 * rng.normal(size=12)}
        yield Case(tag, "recurrent", lambda p, xs=xs: _lstm(p, xs), p)
        tag = f"rnn/attention@{s:g}"
        rng = _rng(tag)
        xs = s * rng.normal(size=(4, 3))
        p = {k: 0.5 * rng.normal(size=(3, 3)) for k in ("Wq", "Wk", "Wv")}
        yield Case(tag, "attention", lambda p, xs=xs: _attention(p, xs), p, False)


# --- regressions and likelihoods ------------------------------------------------------------
def _data(tag: str, s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = _rng(tag)
    features = s * rng.normal(size=(8, 3))
    w_true = rng.normal(size=3) / max(s, 1.0)
    return features, features @ w_true + 0.1 * rng.normal(size=8), rng.normal(size=3)


def _regressions() -> Iterator[Case]:
    for s in SCALES:
        for name in ("least_squares", "ridge", "logistic", "poisson", "softmax_reg", "probit",
                     "huber_smooth"):
            tag = f"regression/{name}@{s:g}"
            features, target, w0 = _data(tag, s)
            labels = (target > np.median(target)).astype(float)
            x = {"w": w0 / max(s, 1.0), "b": np.array([0.1])}
            yield Case(tag, "regression", _regression(name, features, target, labels), x,
                       name in ("least_squares", "ridge", "poisson", "huber_smooth"))


def _regression(name: str, a: np.ndarray, t: np.ndarray, y: np.ndarray) -> Callable[[Any], Any]:
    def z(p: Any) -> Any:
        return anp.dot(a, p["w"]) + p["b"][0]

    if name == "least_squares":
        return lambda p: 0.5 * anp.mean((z(p) - t) ** 2)
    if name == "ridge":
        return lambda p: 0.5 * anp.mean((z(p) - t) ** 2) + 0.3 * anp.sum(p["w"] ** 2)
    if name == "logistic":
        return lambda p: anp.mean(anp.logaddexp(0.0, z(p)) - y * z(p))
    if name == "poisson":
        return lambda p: anp.mean(anp.exp(0.1 * z(p)) - y * 0.1 * z(p))
    if name == "softmax_reg":
        return lambda p: -anp.mean(_logsumexp(anp.stack([z(p), -z(p), 0.5 * z(p)], 1))[:, 0]
                                   - z(p) * y)
    if name == "probit":
        return lambda p: -anp.mean(y * st.norm.logcdf(0.3 * z(p))
                                   + (1 - y) * st.norm.logcdf(-0.3 * z(p)))
    return lambda p: anp.mean(anp.sqrt(1.0 + (z(p) - t) ** 2) - 1.0)


# --- points on kinks ------------------------------------------------------------------------
def _kinked() -> Iterator[Case]:
    x = np.array([0.0, 0.7, -0.4, 0.0, 1.3])
    c = _weights(5)
    yield Case("kink/relu", "kink", lambda x: anp.sum(c * anp.maximum(x, 0.0)), x, False, (0, 3))
    yield Case("kink/abs", "kink", lambda x: anp.sum(c * anp.abs(x)), x, False, (0, 3))
    y = np.array([0.5, 2.0, 2.0, -1.0])
    yield Case("kink/max_tie", "kink", lambda x: anp.max(x), y, False, (1, 2))
    # hinge loss with one margin exactly 1: its weight's coordinate sits on the kink
    feats = np.array([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    labels = np.array([1.0, -1.0, 1.0])
    w = np.array([1.0, 0.3])  # margin of example 0 is exactly 1
    yield Case("kink/hinge", "kink",
               lambda w: anp.sum(anp.maximum(0.0, 1.0 - labels * anp.dot(feats, w))), w,
               False, (0,))


# --- issue 11, "What was seen" --------------------------------------------------------------
def _seen() -> Iterator[Case]:
    rng = _rng("seen")
    yield Case("seen/centred_zero_const", "seen",
               lambda x: anp.sum((x - x.mean(1, keepdims=True))
                                 / anp.sqrt(x.var(1, keepdims=True) + 1e-5)),
               np.full((3, 4), 1.5), False, exact_zero=True)
    c = rng.normal(size=(3, 4))
    yield Case("seen/layer_norm_spread", "seen", lambda x: anp.sum(c * layer_norm(x)),
               3.0 + 0.03 * rng.normal(size=(3, 4)), False)
    yield Case("seen/digamma_pole", "seen", lambda x: anp.sum(sp.digamma(x)),
               np.array([0.002, 0.5, 3.0]), False)
    yield Case("seen/x_abs_x", "seen", lambda x: anp.sum(x * anp.abs(x)),
               rng.normal(size=4), False)
    yield Case("seen/jn", "seen", lambda x: anp.sum(sp.jn(2, x)), np.array([0.7, 3.1, 5.0]),
               False)
    yield Case("seen/cos_exp_small", "seen", lambda x: anp.sum(anp.cos(x) * anp.exp(x)),
               0.01 * (1.0 + rng.random(5)))
    yield Case("seen/xlogx_small", "seen", lambda x: anp.sum(x * anp.log(x)),
               np.array([0.004, 0.01, 0.5]))


def cases() -> list[Case]:
    """Every case of the corpus, in a fixed order."""
    makers = (_elementwise, _reductions, _linalg, _special, _logpdf_cases, _softmaxes,
              _normalisation, _convolutions, _recurrent, _regressions, _kinked, _seen)
    return [case for make in makers for case in make()]
