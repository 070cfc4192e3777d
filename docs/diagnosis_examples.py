"""Write docs/diagnosis.md: the report of one planted bug of each pattern the diagnosis names.

Run from the repository root: ``python docs/diagnosis_examples.py``. Every report below is the
real ``str(result)`` of ``gradcheck.check_gradient`` on a 3-4-4-4-2 sigmoid network with
cross-entropy, λ = 0.1 (the "coursera" convention, λ/(2m)ΣW²) and m = 5 examples.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

import gradcheck
from backprop_ref import MLP, Layer

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


BUGS: dict[str, Callable[[], Grads]] = {
    "a factor of 2 everywhere (a missing ½)": lambda: [Layer(2 * g.W, 2 * g.b) for g in GOOD],
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


def main() -> None:
    f = mlp.objective(X, Y)
    parts = [
        "# What the diagnosis says, one planted bug at a time",
        "",
        "Made by `python docs/diagnosis_examples.py`: a 3-4-4-4-2 sigmoid network (cross-entropy,",
        f"λ = {LAM} with the λ/(2m) convention, m = {M}); each gradient below is the correct one",
        "from `MLP.cost_and_gradient` with one bug planted, checked with",
        "`check_gradient(f, params, grads, weight_decay=λ, n_examples=m)` (central differences).",
        "The tables are cut to their first lines; the diagnosis is printed whole.",
    ]
    for title, make in BUGS.items():
        result = gradcheck.check_gradient(f, params, make(), weight_decay=LAM, n_examples=M)
        lines = str(result).splitlines()
        head = lines[:6]
        tail = lines[lines.index("Diagnosis:"):] if "Diagnosis:" in lines else ["(no diagnosis)"]
        parts += ["", f"## {title}", "", "```", *head, "...", *tail, "```"]
    Path(__file__).with_name("diagnosis.md").write_text("\n".join(parts) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
