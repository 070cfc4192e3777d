"""A corpus of vector-valued functions and scalar losses, with autograd as the reference.

Each :class:`Case` is written with ``autograd.numpy`` so that autograd differentiates it; its
derivatives (Jacobian, VJP, JVP, Hessian) come from :func:`reference_jacobian` and friends,
in the layouts gradcheck expects. Import only after ``pytest.importorskip("autograd")``.
Points are drawn by a seeded Generator: the corpus is the same at every run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np

Tree = Any


@dataclass(frozen=True)
class Case:
    """One function of the corpus: ``f(x)``, and its point ``x`` drawn from a Generator."""

    name: str
    f: Callable[[Tree], Tree]
    point: Callable[[np.random.Generator], Tree]
    scalar: bool = False
    """A scalar loss: its Hessian is checked (its Jacobian is the gradient)."""


def reference_jacobian(f: Callable[[Tree], Tree], x: Tree) -> Tree:
    """autograd's Jacobian in jax.jacobian's layout: f(x)'s structure, x's at each leaf."""

    def per_input(g: Callable[[Tree], Any]) -> Any:
        if isinstance(x, dict):
            return {k: autograd.jacobian(lambda v, k=k: g({**x, k: v}))(x[k]) for k in x}
        return autograd.jacobian(g)(x)

    out = f(x)
    if isinstance(out, dict):
        return {o: per_input(lambda z, o=o: f(z)[o]) for o in out}
    return per_input(f)


def _leaves(tree: Tree) -> list[tuple[Any, Any]]:
    """(key, leaf) pairs of an array (key None) or a dict of arrays."""
    return list(tree.items()) if isinstance(tree, dict) else [(None, tree)]


def _block(jac: Tree, o: Any, i: Any) -> np.ndarray:
    """The block of output leaf ``o`` and input leaf ``i``."""
    inner = jac[o] if o is not None else jac
    return np.asarray(inner[i] if i is not None else inner)


def vjp_from(jac: Tree, x: Tree, ct: Tree) -> Tree:
    """``Jᵀ ct`` from a reference Jacobian, shaped like x."""
    out = {}
    for i, xi in _leaves(x):
        total = np.zeros(np.shape(xi))
        for o, co in _leaves(ct):
            total = total + np.tensordot(co, _block(jac, o, i), axes=np.ndim(co))
        out[i] = total
    return out if isinstance(x, dict) else out[None]


def jvp_from(jac: Tree, x: Tree, fx: Tree, t: Tree) -> Tree:
    """``J t`` from a reference Jacobian, shaped like f(x)."""
    out = {}
    for o, fo in _leaves(fx):
        total = np.zeros(np.shape(fo))
        for i, ti in _leaves(t):
            total = total + np.tensordot(_block(jac, o, i), ti, axes=np.ndim(ti))
        out[o] = total
    return out if isinstance(fx, dict) else out[None]


def _n(*shape: int, scale: float = 1.0) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: scale * rng.standard_normal(shape)


def _d(**parts: Callable[[np.random.Generator], np.ndarray]) -> Callable[..., dict[str, Any]]:
    return lambda rng: {k: make(rng) for k, make in parts.items()}


def _sigmoid(z: Any) -> Any:
    return 1.0 / (1.0 + anp.exp(-z))


def _softmax(z: Any, axis: int = -1) -> Any:
    e = anp.exp(z - anp.max(z, axis=axis, keepdims=True))
    return e / anp.sum(e, axis=axis, keepdims=True)


def _log_softmax(z: Any, axis: int = -1) -> Any:
    s = z - anp.max(z, axis=axis, keepdims=True)
    return s - anp.log(anp.sum(anp.exp(s), axis=axis, keepdims=True))


def _layer_norm(h: Any, g: Any, b: Any) -> Any:
    mu = anp.mean(h, axis=-1, keepdims=True)
    var = anp.mean((h - mu) ** 2, axis=-1, keepdims=True)
    return g * (h - mu) / anp.sqrt(var + 1e-5) + b


def _batch_norm(h: Any, g: Any, b: Any) -> Any:
    mu = anp.mean(h, axis=0)
    var = anp.mean((h - mu) ** 2, axis=0)
    return g * (h - mu) / anp.sqrt(var + 1e-5) + b


def _conv1d(x: Any, w: Any, stride: int = 1) -> Any:
    n = (x.shape[-1] - w.shape[-1]) // stride + 1
    return anp.stack([anp.sum(x[..., i * stride:i * stride + w.shape[-1]] * w, axis=-1)
                      for i in range(n)], axis=-1)


def _conv2d(img: Any, w: Any) -> Any:
    """img (C, H, W), w (O, C, k, k) -> (O, H-k+1, W-k+1), valid cross-correlation."""
    k = w.shape[-1]
    rows, cols = img.shape[1] - k + 1, img.shape[2] - k + 1
    out = 0.0
    for a in range(k):
        for b in range(k):
            patch = img[:, a:a + rows, b:b + cols]  # (C, rows, cols)
            out = out + anp.einsum("oc,cij->oij", w[:, :, a, b], patch)
    return out


def _attention(q: Any, k: Any, v: Any, causal: bool = False) -> Any:
    scores = q @ k.T / np.sqrt(q.shape[-1])
    if causal:
        scores = scores - 1e9 * np.triu(np.ones(scores.shape), 1)
    return _softmax(scores) @ v


def _lstm(p: dict[str, Any]) -> dict[str, Any]:
    z = p["W"] @ p["x"] + p["U"] @ p["h"] + p["b"]  # (4H,)
    i, f, o, g = (z[j * 3:(j + 1) * 3] for j in range(4))
    c = _sigmoid(f) * p["c"] + _sigmoid(i) * anp.tanh(g)
    return {"h": _sigmoid(o) * anp.tanh(c), "c": c}


def _gru(p: dict[str, Any]) -> Any:
    zr = _sigmoid(p["W"][:6] @ p["x"] + p["U"][:6] @ p["h"])
    z, r = zr[:3], zr[3:]
    cand = anp.tanh(p["W"][6:] @ p["x"] + p["U"][6:] @ (r * p["h"]))
    return (1 - z) * p["h"] + z * cand


def _spd(m: Any) -> Any:
    return m @ m.T + 3.0 * np.eye(m.shape[0])


def _mlp_loss(p: dict[str, Any]) -> Any:
    x = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    y = np.array([[0.2], [0.7], [0.1], [0.9]])
    h = anp.tanh(x @ p["W1"].T + p["b1"])
    out = _sigmoid(h @ p["W2"].T + p["b2"])
    return anp.mean((out - y) ** 2) / 2 + 0.01 * anp.sum(p["W1"] ** 2)


_X = np.linspace(-1.0, 1.0, 15).reshape(5, 3)
_Y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
_LABELS = np.eye(4)[[0, 2, 1, 3, 2]]

CASES: list[Case] = [
    Case("dense-tanh", lambda p: anp.tanh(p["W"] @ p["v"] + p["b"]),
         _d(W=_n(4, 3), v=_n(3), b=_n(4))),
    Case("dense-sigmoid", lambda p: _sigmoid(p["W"] @ p["v"] + p["b"]),
         _d(W=_n(4, 3), v=_n(3), b=_n(4))),
    Case("dense-softplus", lambda p: anp.logaddexp(0.0, p["W"] @ p["v"]),
         _d(W=_n(3, 4), v=_n(4))),
    Case("dense-gelu", lambda p: (lambda z: 0.5 * z * (1 + anp.tanh(
        0.7978845608 * (z + 0.044715 * z**3))))(p["W"] @ p["v"]), _d(W=_n(3, 4), v=_n(4))),
    Case("dense-swish", lambda p: (lambda z: z * _sigmoid(z))(p["W"] @ p["v"] + p["b"]),
         _d(W=_n(3, 3), v=_n(3), b=_n(3))),
    Case("dense-elu", lambda z: anp.where(z > 0, z, anp.exp(z) - 1), _n(6)),
    Case("batch-dense", lambda p: anp.tanh(p["X"] @ p["W"].T), _d(X=_n(3, 4), W=_n(2, 4))),
    Case("residual-block", lambda p: p["v"] + p["W2"] @ anp.tanh(p["W1"] @ p["v"]),
         _d(v=_n(3), W1=_n(4, 3), W2=_n(3, 4))),
    Case("softmax", _softmax, _n(5)),
    Case("softmax-rows", _softmax, _n(3, 4)),
    Case("log-softmax", _log_softmax, _n(6)),
    Case("softmax-temperature", lambda p: _softmax(p["z"] / p["T"]),
         lambda rng: {"z": rng.standard_normal(4), "T": np.array(1.5)}),
    Case("logsumexp-rows", lambda z: anp.log(anp.sum(anp.exp(z), axis=1)), _n(3, 4)),
    Case("layer-norm", lambda p: _layer_norm(p["h"], p["g"], p["b"]),
         _d(h=_n(2, 5), g=_n(5), b=_n(5))),
    # regressions of the review: far from 0, rounding of order ε|x| must not enter
    Case("offset-1000", lambda z: z - 1000.0, lambda rng: 1000.0 + rng.standard_normal(5)),
    Case("layer-norm-offset-100", lambda h: _layer_norm(h, 1.0, 0.0),
         lambda rng: 100.0 + rng.standard_normal(6)),
    Case("batch-norm", lambda p: _batch_norm(p["h"], p["g"], p["b"]),
         _d(h=_n(4, 3), g=_n(3), b=_n(3))),
    Case("rms-norm", lambda p: p["g"] * p["h"] / anp.sqrt(anp.mean(p["h"] ** 2) + 1e-6),
         _d(h=_n(5), g=_n(5))),
    Case("l2-normalize", lambda v: v / anp.sqrt(anp.sum(v**2)), _n(4)),
    Case("conv1d", lambda p: _conv1d(p["x"], p["w"]), _d(x=_n(8), w=_n(3))),
    Case("conv1d-stride2", lambda p: _conv1d(p["x"], p["w"], 2), _d(x=_n(9), w=_n(3))),
    Case("conv1d-channels", lambda p: anp.tanh(_conv1d(p["x"], p["w"]).sum(axis=0)),
         _d(x=_n(2, 7), w=_n(2, 3))),
    Case("conv2d", lambda p: _conv2d(p["img"], p["w"]), _d(img=_n(1, 5, 5), w=_n(2, 1, 3, 3))),
    Case("conv2d-channels-tanh", lambda p: anp.tanh(_conv2d(p["img"], p["w"])),
         _d(img=_n(2, 4, 4), w=_n(2, 2, 2, 2, scale=0.5))),
    Case("avg-pool", lambda z: (z[0::2] + z[1::2]) / 2.0 * anp.tanh(z[0::2]), _n(8)),
    Case("attention", lambda p: _attention(p["q"], p["k"], p["v"]),
         _d(q=_n(3, 2), k=_n(4, 2), v=_n(4, 2))),
    Case("attention-causal", lambda p: _attention(p["q"], p["k"], p["v"], causal=True),
         _d(q=_n(3, 2), k=_n(3, 2), v=_n(3, 3))),
    Case("self-attention-projected", lambda p: _attention(
        p["X"] @ p["Wq"], p["X"] @ p["Wk"], p["X"] @ p["Wv"]),
        _d(X=_n(3, 3), Wq=_n(3, 2), Wk=_n(3, 2), Wv=_n(3, 2))),
    Case("lstm-cell", _lstm, _d(x=_n(2), h=_n(3), c=_n(3), W=_n(12, 2), U=_n(12, 3),
                                b=_n(12))),
    Case("gru-cell", _gru, _d(x=_n(2), h=_n(3), W=_n(9, 2), U=_n(9, 3))),
    Case("rnn-cell", lambda p: anp.tanh(p["W"] @ p["x"] + p["U"] @ p["h"]),
         _d(x=_n(2), h=_n(3), W=_n(3, 2), U=_n(3, 3))),
    Case("solve", lambda p: anp.linalg.solve(_spd(p["A"]), p["b"]), _d(A=_n(3, 3), b=_n(3))),
    Case("inv", lambda m: anp.linalg.inv(_spd(m)), _n(3, 3)),
    Case("inv-general", lambda m: anp.linalg.inv(m + 4 * np.eye(3)), _n(3, 3)),
    Case("cholesky", lambda m: anp.linalg.cholesky(_spd(m)), _n(3, 3)),
    Case("matmul", lambda p: p["A"] @ p["B"], _d(A=_n(2, 3), B=_n(3, 2))),
    Case("outer-sin", lambda p: anp.sin(anp.outer(p["u"], p["v"])), _d(u=_n(3), v=_n(2))),
    Case("pairwise-distances", lambda z: anp.sum((z[:, None, :] - z[None, :, :]) ** 2 + 1.0,
                                                 axis=-1), _n(3, 2)),
    Case("cumsum-exp", lambda z: anp.cumsum(anp.exp(z)), _n(5)),
    Case("cross", lambda p: anp.cross(p["a"], p["b"]), _d(a=_n(3), b=_n(3))),
    Case("polar", lambda z: anp.array([z[0] * anp.cos(z[1]), z[0] * anp.sin(z[1])]), _n(2)),
    Case("lorenz", lambda z: anp.array([10 * (z[1] - z[0]), z[0] * (28 - z[2]) - z[1],
                                        z[0] * z[1] - 8 / 3 * z[2]]), _n(3)),
    Case("rotate", lambda p: anp.array([[anp.cos(p["a"]), -anp.sin(p["a"])],
                                        [anp.sin(p["a"]), anp.cos(p["a"])]]) @ p["v"],
         lambda rng: {"a": np.array(0.7), "v": rng.standard_normal((2, 3))}),
    Case("per-example-mse", lambda w: anp.sum((_X @ w - _Y[:, None]) ** 2, axis=1), _n(3, 2)),
    Case("per-example-xent", lambda w: -anp.sum(_LABELS * _log_softmax(_X @ w), axis=1),
         _n(3, 4)),
    Case("logdet", lambda m: anp.linalg.slogdet(_spd(m))[1], _n(3, 3)),
    Case("hess-least-squares", lambda w: anp.sum((_X @ w - _Y) ** 2) / 2, _n(3), scalar=True),
    Case("hess-logistic", lambda w: anp.mean(anp.logaddexp(0.0, -(2 * _Y - 1) * (_X @ w))),
         _n(3), scalar=True),
    Case("hess-softmax-xent", lambda w: -anp.mean(_LABELS * _log_softmax(_X @ w)), _n(3, 4),
         scalar=True),
    Case("hess-rosenbrock", lambda z: anp.sum(100 * (z[1:] - z[:-1] ** 2) ** 2
                                              + (1 - z[:-1]) ** 2), _n(4, scale=0.5),
         scalar=True),
    Case("hess-logsumexp", lambda z: anp.log(anp.sum(anp.exp(z))), _n(5), scalar=True),
    Case("hess-mlp-loss", _mlp_loss, _d(W1=_n(3, 3), b1=_n(3), W2=_n(1, 3), b2=_n(1)),
         scalar=True),
]


def _shapes(tree: Tree) -> list[tuple[Any, tuple[int, ...]]]:
    return [(k, np.shape(v)) for k, v in _leaves(tree)]


def to_matrix(jac: Tree, x: Tree, fx: Tree) -> np.ndarray:
    """A reference Jacobian as an (outputs, inputs) matrix, leaves in insertion order."""
    return np.vstack([
        np.hstack([_block(jac, o, i).reshape(int(np.prod(so)), int(np.prod(si)))
                   for i, si in _shapes(x)])
        for o, so in _shapes(fx)
    ])


def from_matrix(m: np.ndarray, x: Tree, fx: Tree) -> Tree:
    """The inverse of :func:`to_matrix`."""
    out: dict[Any, Any] = {}
    r = 0
    for o, so in _shapes(fx):
        n_o, c, inner = int(np.prod(so)), 0, {}
        for i, si in _shapes(x):
            n_i = int(np.prod(si))
            inner[i] = m[r:r + n_o, c:c + n_i].reshape(so + si)
            c += n_i
        out[o] = inner if isinstance(x, dict) else inner[None]
        r += n_o
    return out if isinstance(fx, dict) else out[None]


#: Relative size of the planted bugs: far above central differences' noise (~1e-9 here).
R = 1e-4


def _largest(m: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(m)), m.shape))


def _set(m: np.ndarray, where: Any, value: Any) -> np.ndarray:
    m = m.copy()
    m[where] = value
    return m


def planted_jacobians(m: np.ndarray) -> dict[str, np.ndarray]:
    """The Jacobian bugs of the catalogue, applied to the matrix ``m`` (name -> wrong matrix).

    The transposed Jacobian is planted only where it is square and not symmetric.
    """
    row = int(np.argmax(np.linalg.norm(m, axis=1)))
    col = int(np.argmax(np.linalg.norm(m, axis=0)))
    bugs = {
        "scaled": m * (1 + R),
        "sign": -m,
        "one-element": _set(m, _largest(m), m[_largest(m)] * (1 + R)),
        "zeroed-element": _set(m, _largest(m), 0.0),
        "one-row": _set(m, row, m[row] * (1 + R)),
        "one-column": _set(m, (slice(None), col), m[:, col] * (1 + R)),
    }
    if m.shape[0] == m.shape[1] and np.abs(m - m.T).max() > 1e-3 * np.abs(m).max():
        bugs["transposed"] = m.T
    return bugs


def flat(tree: Tree) -> np.ndarray:
    """The leaves of an array or dict of arrays, in insertion order, as one vector."""
    return np.concatenate([np.ravel(v) for _, v in _leaves(tree)])


def unflat(vector: np.ndarray, like: Tree) -> Tree:
    """The inverse of :func:`flat` for the structure of ``like``."""
    out, start = {}, 0
    for k, shape in _shapes(like):
        size = int(np.prod(shape))
        out[k] = vector[start:start + size].reshape(shape)
        start += size
    return out if isinstance(like, dict) else out[None]


def hessian_of(case: Case, x: Tree) -> tuple[Callable[[Tree], Tree], Tree]:
    """A scalar case's gradient (autograd) and its Hessian (autograd) at x."""
    grad = autograd.grad(case.f)
    return grad, reference_jacobian(grad, x)
