"""Write docs/diagnosis.md: the report of one planted bug of each pattern the diagnosis names.

Run from the repository root: ``python docs/diagnosis_examples.py``. Every report below is the
real ``str(result)`` of ``gradcheck.check_gradient``: first on a plain function of two arrays
with no hints (the diagnosis names leaves and fitted numbers only), then on a 3-4-4-4-2 sigmoid
network with cross-entropy, λ = 0.1 (the "coursera" convention, λ/(2m)ΣW²) and m = 5 examples,
checked with ``hints=backprop_ref.diagnosis_hints(mlp, m)`` (weights, biases, layers, decay).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

import gradcheck
from backprop_ref import MLP, Layer, diagnosis_hints

LAM, M = 0.1, 5
mlp = MLP([3, 4, 4, 4, 2], loss="cross_entropy", weight_decay=LAM, decay_convention="coursera")
rng = np.random.default_rng(1)
params = mlp.init_params(rng=rng, scale=1.0)
X = rng.normal(size=(M, 3))
Y = (rng.uniform(size=(M, 2)) > 0.5).astype(float)
_, GOOD = mlp.cost_and_gradient(params, X, Y)
C = LAM / M  # the decay coefficient of this convention

Grads = list[Layer]


def _on(leaf: int, fn: Callable[[Layer, Layer], Layer]) -> Grads:
    """GOOD with layer ``leaf`` replaced by fn(gradient layer, parameter layer)."""
    return [fn(g, p) if i == leaf else g for i, (g, p) in enumerate(zip(GOOD, params, strict=True))]


def _one_element() -> Grads:
    W = GOOD[1].W.copy()
    W[2, 1] += 0.05
    return _on(1, lambda g, p: Layer(W, g.b))


def _swapped() -> Grads:
    grads = list(GOOD)
    grads[1], grads[2] = Layer(GOOD[2].W, GOOD[1].b), Layer(GOOD[1].W, GOOD[2].b)
    return grads


PLAIN_X = (rng.normal(size=(3, 3)), rng.normal(size=3))  # f(a, b), a square
PLAIN_DATA = rng.normal(size=(6, 3))
PLAIN_Y = (rng.uniform(size=(6, 3)) > 0.5).astype(float)
PLAIN_DECAY = 0.01  # f has a term (0.01/2)‖a‖²


def plain_f(p: tuple[np.ndarray, np.ndarray]) -> float:
    """A logistic regression with 3 outputs: mean log-loss + (0.01/2)‖a‖²."""
    z = PLAIN_DATA @ p[0] + p[1]
    loss = np.mean(np.logaddexp(0.0, z) - PLAIN_Y * z)
    return float(loss + PLAIN_DECAY / 2 * np.sum(p[0] ** 2))


def plain_gradient(p: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
    r = (1.0 / (1.0 + np.exp(-(PLAIN_DATA @ p[0] + p[1]))) - PLAIN_Y) / PLAIN_Y.size
    return [PLAIN_DATA.T @ r + PLAIN_DECAY * p[0], r.sum(axis=0)]


PLAIN_GOOD = plain_gradient(PLAIN_X)


def _plain(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return a, b


PLAIN_BUGS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
    "a factor of 2 on one leaf": lambda: _plain(2 * PLAIN_GOOD[0], PLAIN_GOOD[1]),
    "every sign flipped": lambda: _plain(-PLAIN_GOOD[0], -PLAIN_GOOD[1]),
    "the gradient of the (0.01/2)‖a‖² term forgotten": lambda: _plain(
        PLAIN_GOOD[0] - PLAIN_DECAY * PLAIN_X[0], PLAIN_GOOD[1]
    ),
    "a transposed": lambda: _plain(PLAIN_GOOD[0].T.copy(), PLAIN_GOOD[1]),
    "one wrong element": lambda: _plain(PLAIN_GOOD[0] + 0.05 * (np.arange(9) == 5).reshape(3, 3),
                                        PLAIN_GOOD[1]),
}

BUGS: dict[str, Callable[[], Grads]] = {
    "a factor of 2 everywhere": lambda: [Layer(2 * g.W, 2 * g.b) for g in GOOD],
    "every sign flipped": lambda: [Layer(-g.W, -g.b) for g in GOOD],
    "the 1/m average missing": lambda: [
        Layer(M * (g.W - C * p.W) + C * p.W, M * g.b) for g, p in zip(GOOD, params, strict=True)
    ],
    "weight decay missing": lambda: [
        Layer(g.W - C * p.W, g.b) for g, p in zip(GOOD, params, strict=True)
    ],
    "weight decay doubled": lambda: [
        Layer(g.W + C * p.W, g.b) for g, p in zip(GOOD, params, strict=True)
    ],
    "the other decay convention (λ instead of λ/m)": lambda: [
        Layer(g.W + (LAM - C) * p.W, g.b) for g, p in zip(GOOD, params, strict=True)
    ],
    "decay applied to the biases": lambda: [
        Layer(g.W, g.b + C * p.b) for g, p in zip(GOOD, params, strict=True)
    ],
    "only the last layer's bias gradient halved": lambda: _on(3, lambda g, p: Layer(g.W, g.b / 2)),
    "the square layer's gradient transposed": lambda: _on(1, lambda g, p: Layer(g.W.T.copy(), g.b)),
    "the weight gradients of layers [1] and [2] swapped": _swapped,
    "the first layer's weight gradient left at zero": lambda: _on(
        0, lambda g, p: Layer(np.zeros_like(g.W), g.b)
    ),
    "one wrong element": _one_element,
    "random noise of 1% (nothing claimed)": lambda: [
        Layer(g.W * (1 + 0.01 * rng.normal(size=g.W.shape)), g.b) for g in GOOD
    ],
}


def _section(title: str, result: gradcheck.GradientCheckResult) -> list[str]:
    """A report cut to its first lines, with its diagnosis whole."""
    lines = str(result).splitlines()
    head = lines[:6]
    tail = lines[lines.index("Diagnosis:"):] if "Diagnosis:" in lines else ["(no diagnosis)"]
    return ["", f"### {title}", "", "```", *head, "...", *tail, "```"]


def main() -> None:
    f = mlp.objective(X, Y)
    hints = diagnosis_hints(mlp, M)
    parts = [
        "# What the diagnosis says, one planted bug at a time",
        "",
        "Made by `python docs/diagnosis_examples.py`. Each gradient below is a correct one with",
        "one bug planted, checked with central differences. The tables are cut to their first",
        "lines; the diagnosis is printed whole. Network words (weight, bias, layer, decay, the ½",
        "of the squared error, the 1/m average) appear only where the caller gave them, as",
        "`hints=` or `weight_decay=`/`n_examples=`: never guessed from a leaf's name or shape.",
        "",
        "## A plain function, no hints",
        "",
        "`f(a, b)`: a logistic regression with 3 outputs on 6 examples plus (0.01/2)‖a‖², a of",
        "shape (3, 3) and b of shape (3,), checked with `check_gradient(f, (a, b), grads)`.",
    ]
    for title, make in PLAIN_BUGS.items():
        parts += _section(title, gradcheck.check_gradient(plain_f, PLAIN_X, make()))
    parts += [
        "",
        "## A network, with its hints",
        "",
        "A 3-4-4-4-2 sigmoid network (cross-entropy,",
        f"λ = {LAM} with the λ/(2m) convention, m = {M}); each gradient is the correct one",
        "from `MLP.cost_and_gradient` with one bug planted, checked with",
        "`check_gradient(f, params, grads, hints=backprop_ref.diagnosis_hints(mlp, m))`: the",
        "hints say which leaves are weights and biases, their layers, λ, m and the loss.",
    ]
    for title, make in BUGS.items():
        parts += _section(title, gradcheck.check_gradient(f, params, make(), hints=hints))
    parts += [
        "",
        "## The same network, no hints",
        "",
        "Three of the bugs above, checked with `check_gradient(f, params, grads)`: the same",
        "patterns, named by leaf and by fitted numbers only.",
    ]
    for title in ("a factor of 2 everywhere", "only the last layer's bias gradient halved",
                  "weight decay missing"):
        parts += _section(title, gradcheck.check_gradient(f, params, BUGS[title]()))
    Path(__file__).with_name("diagnosis.md").write_text("\n".join(parts) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
