"""Tests for gradcheck.diagnosis: each planted bug is named, and nothing else ever is.

The cases come from a small sigmoid MLP written here (cost and backprop, squared error and
cross-entropy, both weight-decay conventions). "Numeric" is the correct gradient plus noise of
1e-10 relative, the tolerance 1e-8·max(|n|, 1e-3·max|n|) per element; each bug is planted
alone into the analytic gradient.
"""

from __future__ import annotations

import dataclasses
import doctest
import itertools
import pickle
import re
from collections.abc import Callable
from copy import deepcopy
from typing import NamedTuple

import hypothesis
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from backprop_ref import MLP, Layer, diagnosis_hints
from gradcheck import check_gradient, diagnosis
from gradcheck.diagnosis import Finding, Hints, diagnose, format_findings

Array = NDArray[np.float64]
CASES = 100  # random networks per pattern
RATE = 0.95  # the recognition rate each pattern must reach


class Net(NamedTuple):
    """A sigmoid MLP problem: W(l) (s_{l+1}, s_l), b(l) (s_{l+1},), X (m, s_1), Y (m, s_L)."""

    params: list[tuple[Array, Array]]
    X: Array
    Y: Array
    loss: str  # "squared" or "cross_entropy"
    lam: float
    convention: str  # "ufldl": (λ/2)ΣW², "coursera": (λ/(2m))ΣW²

    @property
    def m(self) -> int:
        return int(self.X.shape[0])

    @property
    def decay(self) -> float:
        """The coefficient of W in the correct gradient: λ or λ/m."""
        return self.lam if self.convention == "ufldl" else self.lam / self.m


def sigmoid(z: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-z))


def forward(net: Net, params: list[tuple[Array, Array]]) -> list[Array]:
    """Activations A(1) = X, ..., A(L), each (m, s_l)."""
    activations = [net.X]
    for W, b in params:
        activations.append(sigmoid(activations[-1] @ W.T + b))
    return activations


def cost(net: Net, params: list[tuple[Array, Array]]) -> float:
    h, Y = forward(net, params)[-1], net.Y
    if net.loss == "squared":
        data = 0.5 * float(np.sum((h - Y) ** 2)) / net.m
    else:
        data = -float(np.sum(Y * np.log(h) + (1 - Y) * np.log(1 - h))) / net.m
    scale = net.lam / 2 if net.convention == "ufldl" else net.lam / (2 * net.m)
    return data + scale * sum(float(np.sum(W**2)) for W, _ in params)


def backprop(
    net: Net,
    *,
    decay: float | None = None,
    bias_decay: float = 0.0,
    no_fprime: int = -1,
    data_scale: float = 1.0,
) -> list[Array]:
    """Leaves [W(0), b(0), W(1), ...] of ∇J; decay = the W coefficient (default: correct).

    `no_fprime` = l drops f′ of the activations A(l) (a hidden layer) in δ(l): the
    out-of-catalogue bug. `data_scale` multiplies the data term only, not the decay term.
    """
    activations, decay = forward(net, net.params), net.decay if decay is None else decay
    out = activations[-1]
    delta = out - net.Y if net.loss == "cross_entropy" else (out - net.Y) * out * (1 - out)
    grads: list[Array] = []
    for layer in reversed(range(len(net.params))):
        W, b = net.params[layer]
        A = activations[layer]  # (m, s_l)
        grads[:0] = [
            data_scale * (delta.T @ A / net.m) + decay * W,
            data_scale * delta.mean(axis=0) + bias_decay * b,
        ]
        if layer > 0:
            back = delta @ W
            delta = back if layer == no_fprime else back * A * (1 - A)
    return grads


def paths_of(net: Net) -> list[str]:
    return [f"[{layer}].{name}" for layer in range(len(net.params)) for name in "Wb"]


def params_of(net: Net) -> list[Array]:
    return [leaf for pair in net.params for leaf in pair]


def hints_of(net: Net) -> Hints:
    """The network's words: W weights and b biases by layer, and its loss (not λ or m)."""
    names = ["x" + path for path in paths_of(net)]
    roles = {name: "weight" if name.endswith("W") else "bias" for name in names}
    return Hints(roles=roles, layers={name: name[1:4] for name in names}, loss=net.loss)


def random_net(
    rng: np.random.Generator,
    sizes: list[int] | None = None,
    *,
    min_m: int = 2,
    lam: float | None = None,
    convention: str | None = None,
) -> Net:
    """2–4 layers of 1–6 units, 2–8 examples, weights of scale 0.01–1, random loss and λ."""
    if sizes is None:
        sizes = [int(s) for s in rng.integers(1, 7, size=int(rng.integers(2, 5)))]
    m = int(rng.integers(min_m, 9))
    scale = float(rng.choice([0.01, 0.1, 1.0]))
    params = [
        (scale * rng.normal(size=(rows, cols)), scale * rng.normal(size=rows))
        for cols, rows in itertools.pairwise(sizes)
    ]
    X, Y = rng.normal(size=(m, sizes[0])), rng.uniform(size=(m, sizes[-1]))
    lam = float(10 ** rng.uniform(-4, 0)) if lam is None else lam
    loss = str(rng.choice(["squared", "cross_entropy"]))
    convention = str(rng.choice(["ufldl", "coursera"])) if convention is None else convention
    return Net(params, X, Y, loss, lam, convention)


def noisy(grads: list[Array], rng: np.random.Generator) -> tuple[list[Array], list[Array]]:
    """(numeric, tolerance): the gradient plus 1e-10 relative noise, and 1e-8 relative tol."""
    top = max(float(np.abs(g).max()) for g in grads)
    numeric = [
        g + 1e-10 * np.maximum(np.abs(g), 1e-3 * top) * rng.normal(size=g.shape) for g in grads
    ]
    top = max(float(np.abs(n).max()) for n in numeric)
    return numeric, [1e-8 * np.maximum(np.abs(n), 1e-3 * top) for n in numeric]


def run(
    net: Net, analytic: list[Array], rng: np.random.Generator, *, with_lambda: bool = True
) -> tuple[Finding, ...]:
    """diagnose() on `analytic` against the noisy correct gradient of `net`."""
    numeric, tolerance = noisy(backprop(net), rng)
    lam = net.lam if with_lambda else None
    return diagnose(
        paths_of(net), analytic, numeric, tolerance, params_of(net),
        weight_decay=lam, n_examples=net.m, hints=hints_of(net),
    )  # fmt: skip


class Planted(NamedTuple):
    """A bug planted alone: the analytic leaves and the finding expected for it."""

    analytic: list[Array]
    name: str
    leaves: tuple[str, ...]
    value: float | None = None  # the finding's "factor" or "c"


Plant = Callable[[Net, np.random.Generator], Planted]


def found(findings: tuple[Finding, ...], planted: Planted) -> bool:
    """Whether `findings` name the planted bug, on exactly its leaves, with its constant."""
    for finding in findings:
        if finding.name == planted.name and set(finding.leaves) == set(planted.leaves):
            value = finding.evidence.get("factor", finding.evidence.get("c", np.nan))
            if planted.value is None or np.isclose(float(value), planted.value, rtol=1e-5):
                return True
    return False


def scaled(factor: Callable[[Net, np.random.Generator], float]) -> Plant:
    def plant(net: Net, rng: np.random.Generator) -> Planted:
        c = factor(net, rng)
        analytic = [c * g for g in backprop(net)]
        return Planted(analytic, "constant-factor", tuple(paths_of(net)), c)

    return plant


def leaf_scaled(net: Net, rng: np.random.Generator) -> Planted:
    grads, k = backprop(net), int(rng.integers(len(net.params) * 2))
    fitted = [rng.uniform(1.1, 3.0)] if grads[k].size >= 2 else []  # one number: any c fits
    c = float(rng.choice([2.0, -1.0, 0.5, *fitted]))
    grads[k] = c * grads[k]
    return Planted(grads, "constant-factor", (paths_of(net)[k],), c)


def kind_scaled(kind: str, c: float) -> Plant:
    def plant(net: Net, rng: np.random.Generator) -> Planted:
        grads, first = backprop(net), 0 if kind == "weights" else 1
        grads[first::2] = [c * g for g in grads[first::2]]
        return Planted(grads, f"{kind}-only", tuple(paths_of(net)[first::2]))

    return plant


def layer_scaled(net: Net, rng: np.random.Generator) -> Planted:
    grads, layer, last = backprop(net), int(rng.integers(len(net.params))), len(net.params) - 1
    grads[2 * layer : 2 * layer + 2] = [0.5 * g for g in grads[2 * layer : 2 * layer + 2]]
    name = (
        "first-layer-only" if layer == 0 else "last-layer-only" if layer == last else "layer-only"
    )
    return Planted(grads, name, tuple(paths_of(net)[2 * layer : 2 * layer + 2]))


def decayed(name: str, decay: Callable[[Net], float], c: Callable[[Net], float]) -> Plant:
    def plant(net: Net, rng: np.random.Generator) -> Planted:
        return Planted(backprop(net, decay=decay(net)), name, tuple(paths_of(net)[0::2]), c(net))

    return plant


def bias_decayed(net: Net, rng: np.random.Generator) -> Planted:
    grads = backprop(net, bias_decay=net.decay)
    return Planted(grads, "bias-decay", tuple(paths_of(net)[1::2]), net.decay)


def data_scaled(factor: Callable[[Net], float]) -> Plant:
    """The data term scaled, the decay term right: a = α·n + c(1 - α)·W, and α·n on biases."""

    def plant(net: Net, rng: np.random.Generator) -> Planted:
        alpha = factor(net)
        analytic = backprop(net, data_scale=alpha)
        return Planted(analytic, "data-factor", tuple(paths_of(net)), alpha)

    return plant


def transposed(net: Net, rng: np.random.Generator) -> Planted:
    grads = backprop(net)
    layer = next(i for i, (W, _) in enumerate(net.params) if W.shape[0] == W.shape[1] >= 2)
    grads[2 * layer] = grads[2 * layer].T.copy()
    return Planted(grads, "transposed", (f"[{layer}].W",))


def swapped(net: Net, rng: np.random.Generator) -> Planted:
    grads = backprop(net)
    grads[2], grads[4] = grads[4], grads[2]
    return Planted(grads, "swapped", ("[1].W", "[2].W"))


def other_leaf(net: Net, rng: np.random.Generator) -> Planted:
    grads = backprop(net)
    grads[1] = grads[3].copy()
    return Planted(grads, "other-leaf", ("[0].b",))


def zeroed(net: Net, rng: np.random.Generator) -> Planted:
    grads, k = backprop(net), int(rng.integers(len(net.params) * 2))
    grads[k] = np.zeros_like(grads[k])
    return Planted(grads, "zero", (paths_of(net)[k],))


def isolated(net: Net, rng: np.random.Generator) -> Planted:
    grads = backprop(net)
    k = int(rng.choice([i for i, g in enumerate(grads) if g.size >= 2]))
    size = grads[k].size
    count = int(rng.integers(1, min(max(3, size // 20), size // 2) + 1))
    top = max(float(np.abs(g).max()) for g in grads)
    flat = grads[k].reshape(-1)
    where = rng.choice(size, size=count, replace=False)
    flat[where] += (
        1e-3 * top * rng.uniform(1.0, 2.0, size=count) * rng.choice([-1.0, 1.0], size=count)
    )
    return Planted(grads, "isolated", (paths_of(net)[k],))


def square_sizes(rng: np.random.Generator) -> list[int]:
    """3–4 layers with one square W(k) of side 2–6."""
    sizes = [int(s) for s in rng.integers(1, 7, size=int(rng.integers(3, 5)))]
    k, side = int(rng.integers(len(sizes) - 1)), int(rng.integers(2, 7))
    sizes[k] = sizes[k + 1] = side
    return sizes


def equal_hidden(rng: np.random.Generator) -> list[int]:
    """[s, h, h, h]: W(1), W(2) of one shape (h, h), b(0), b(1), b(2) of one shape (h,)."""
    h = int(rng.integers(1, 7))
    return [int(rng.integers(1, 7)), h, h, h]


def deep_sizes(rng: np.random.Generator) -> list[int]:
    """3–4 layers of 1–6 units: at least one hidden layer."""
    return [int(s) for s in rng.integers(1, 7, size=int(rng.integers(3, 5)))]


def wide_sizes(rng: np.random.Generator) -> list[int]:
    """2–4 layers of 2–6 units: every leaf has two elements or more."""
    return [int(s) for s in rng.integers(2, 7, size=int(rng.integers(2, 5)))]


def other_convention(net: Net) -> float:
    """The W coefficient of the convention the cost does not use."""
    return net.lam / net.m if net.convention == "ufldl" else net.lam


PATTERNS: dict[str, tuple[Plant, Callable[[np.random.Generator], list[int]] | None, int]] = {
    # name: (plant, sizes, least m)
    "factor 2": (scaled(lambda net, rng: 2.0), None, 2),
    "factor 1/2": (scaled(lambda net, rng: 0.5), None, 2),
    "factor -1": (scaled(lambda net, rng: -1.0), None, 2),
    "factor m": (scaled(lambda net, rng: float(net.m)), None, 2),
    "factor 1/m": (scaled(lambda net, rng: 1.0 / net.m), None, 2),
    "factor fitted": (scaled(lambda net, rng: float(rng.uniform(-3.0, 3.0))), None, 2),
    "factor on one leaf": (leaf_scaled, None, 2),
    "biases only": (kind_scaled("biases", -1.0), None, 2),
    "weights only": (kind_scaled("weights", 2.0), None, 2),
    "one layer": (layer_scaled, deep_sizes, 2),
    "decay missing": (decayed("decay-missing", lambda net: 0.0, lambda net: -net.decay), None, 2),
    "decay doubled": (
        decayed("decay-doubled", lambda net: 2 * net.decay, lambda net: net.decay),
        None,
        2,
    ),
    "decay convention": (
        decayed(
            "decay-convention", other_convention, lambda net: other_convention(net) - net.decay
        ),
        None,
        3,  # with m = 2, λ - λ/m = λ/m: see test_two_examples_name_both_readings
    ),
    "bias decay": (bias_decayed, None, 2),
    "data term without its 1/m": (data_scaled(lambda net: float(net.m)), None, 2),
    "data term doubled": (data_scaled(lambda net: 2.0), None, 2),
    "transposed": (transposed, square_sizes, 2),
    "swapped": (swapped, equal_hidden, 2),
    "other leaf": (other_leaf, equal_hidden, 2),
    "zero leaf": (zeroed, None, 2),
    "isolated elements": (isolated, wide_sizes, 2),
}


def recognition_rate(pattern: str, seed: int = 0) -> float:
    """The share of CASES random networks on which the planted bug is named."""
    plant, sizes, min_m = PATTERNS[pattern]
    rng = np.random.default_rng([seed, sorted(PATTERNS).index(pattern)])
    hits = 0
    for _ in range(CASES):
        net = random_net(rng, None if sizes is None else sizes(rng), min_m=min_m)
        planted = plant(net, rng)
        hits += found(run(net, planted.analytic, rng), planted)
    return hits / CASES


def test_backprop_matches_central_differences() -> None:
    rng = np.random.default_rng(1)
    for _ in range(10):
        net = random_net(rng, deep_sizes(rng))
        theta, grads = params_of(net), backprop(net)
        for k, leaf in enumerate(theta):
            for index in np.ndindex(leaf.shape):
                shifted = [[p.copy() for p in theta] for _ in range(2)]
                shifted[0][k][index] += 1e-6
                shifted[1][k][index] -= 1e-6
                costs = [cost(net, list(zip(s[0::2], s[1::2], strict=True))) for s in shifted]
                numeric = (costs[0] - costs[1]) / 2e-6
                assert numeric == pytest.approx(grads[k][index], rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_each_planted_bug_is_named(pattern: str) -> None:
    assert recognition_rate(pattern) >= RATE


@pytest.mark.parametrize("pattern", sorted(set(PATTERNS) - {p for p in PATTERNS if "data" in p}))
def test_the_data_factor_is_never_claimed_for_another_bug(pattern: str) -> None:
    plant, sizes, min_m = PATTERNS[pattern]
    rng = np.random.default_rng([8, sorted(PATTERNS).index(pattern)])
    for _ in range(CASES):
        net = random_net(rng, None if sizes is None else sizes(rng), min_m=min_m)
        findings = run(net, plant(net, rng).analytic, rng)
        assert "data-factor" not in [finding.name for finding in findings]


def test_the_data_factor_without_lambda_reports_the_decay_coefficient() -> None:
    rng = np.random.default_rng(9)
    hits = 0
    for _ in range(CASES):
        net = random_net(rng)
        planted = data_scaled(lambda net: float(net.m))(net, rng)
        findings = run(net, planted.analytic, rng, with_lambda=False)
        hits += found(findings, planted) and np.isclose(
            float(findings[0].evidence["decay"]), net.decay, rtol=1e-5
        )
    assert hits / CASES >= RATE


def other_loss_delta(net: Net, rng: np.random.Generator) -> list[Array]:
    """The output δ of the other loss (a − y for squared error, or with f′ for cross-entropy)."""
    return backprop(
        net._replace(loss="squared" if net.loss == "cross_entropy" else "cross_entropy")
    )


def l1_for_l2(net: Net, rng: np.random.Generator) -> list[Array]:
    """λ·sign(W) in place of λW."""
    grads = backprop(net, decay=0.0)
    return [
        g + net.decay * np.sign(x) if g.ndim == 2 else g
        for g, x in zip(grads, params_of(net), strict=True)
    ]


UNCATALOGUED: dict[str, Callable[[Net, np.random.Generator], list[Array]]] = {
    "correct": lambda net, rng: backprop(net),
    "noise": lambda net, rng: [g * (1 + 1e-3 * rng.normal(size=g.shape)) for g in backprop(net)],
    "missing f′": lambda net, rng: backprop(net, no_fprime=int(rng.integers(1, len(net.params)))),
    "other loss's δ": other_loss_delta,
    "batch misaligned": lambda net, rng: backprop(net._replace(X=np.roll(net.X, 1, axis=0))),
    "L1 for L2": l1_for_l2,
}


@pytest.mark.parametrize("kind", sorted(UNCATALOGUED))
def test_nothing_is_claimed_without_a_catalogued_bug(kind: str) -> None:
    rng = np.random.default_rng([2, sorted(UNCATALOGUED).index(kind)])
    for _ in range(CASES):
        net = random_net(rng, deep_sizes(rng))
        assert run(net, UNCATALOGUED[kind](net, rng), rng) == ()


def test_near_misses_are_left_to_noise() -> None:
    rng = np.random.default_rng(7)
    failed = 0
    for _ in range(CASES):
        net = random_net(rng)
        numeric, tolerance = noisy(backprop(net), rng)
        analytic = [
            n + 0.5 * t * rng.normal(size=n.shape) for n, t in zip(numeric, tolerance, strict=True)
        ]
        failed += any(
            np.any(np.abs(a - n) > t) for a, n, t in zip(analytic, numeric, tolerance, strict=True)
        )
        assert diagnose(paths_of(net), analytic, numeric, tolerance, params_of(net)) == ()
    assert failed > 0  # some of these gradients do fail the check


def test_decay_without_lambda_reports_the_fitted_multiple() -> None:
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(CASES):
        net = random_net(rng)
        analytic = backprop(net, decay=0.0)
        planted = Planted(analytic, "parameter-multiple", tuple(paths_of(net)[0::2]), -net.decay)
        hits += found(run(net, analytic, rng, with_lambda=False), planted)
    assert hits / CASES >= RATE


def test_two_examples_name_both_readings() -> None:
    rng = np.random.default_rng(4)
    net = random_net(rng, [3, 4, 2], lam=0.1, convention="ufldl")._replace(
        X=rng.normal(size=(2, 3)), Y=rng.uniform(size=(2, 2))
    )
    findings = run(net, backprop(net, decay=net.lam / 2), rng)
    assert findings[0].name == "decay-missing"
    assert "(or, as m = 2: the gradient uses (λ/m)W but the cost (λ/2)ΣW²)" in findings[0].message


# Pinned messages, on small hand-made leaves.

PATHS = ["[0].W", "[0].b", "[1].W", "[1].b"]
NUMERIC = [
    np.array([[0.5, -1.0, 0.25], [2.0, 0.75, -0.5]]),
    np.array([0.1, -0.3]),
    np.array([[1.5, -0.25], [0.125, 0.5]]),
    np.array([-0.2, 0.4]),
]
PARAMS = [
    np.array([[0.3, -0.1, 0.2], [0.05, 0.4, -0.6]]),
    np.array([0.01, 0.02]),
    np.array([[-0.7, 0.2], [0.3, 0.9]]),
    np.array([0.03, -0.04]),
]
TOLERANCE = [np.full(n.shape, 1e-9) for n in NUMERIC]
HINTS = Hints(
    roles={"x[0].W": "weight", "x[0].b": "bias", "x[1].W": "weight", "x[1].b": "bias"},
    layers={"x[0].W": "[0]", "x[0].b": "[0]", "x[1].W": "[1]", "x[1].b": "[1]"},
    loss="squared",
)
NETWORK_WORDS = re.compile(r"layer|weight|bias|decay|squared|average|1/m|λ", re.IGNORECASE)


def hand(
    analytic: list[Array], hints: Hints | None = HINTS, **options: float
) -> tuple[Finding, ...]:
    lam, m = options.get("weight_decay"), options.get("n_examples")
    return diagnose(
        PATHS, analytic, NUMERIC, TOLERANCE, PARAMS,
        weight_decay=lam, n_examples=None if m is None else int(m), hints=hints,
    )  # fmt: skip


def test_messages_of_a_factor_confined_to_one_leaf() -> None:
    findings = hand([NUMERIC[0], NUMERIC[1], -NUMERIC[2], NUMERIC[3]])
    assert [finding.name for finding in findings] == [
        "constant-factor", "weights-only", "last-layer-only",
    ]  # fmt: skip
    assert findings[0].message == (
        "the gradient of x[1].W is -1× the numerical one (residual 0.0e+00 ≤ tol): a sign flip"
    )
    assert findings[0].evidence["factor"] == -1.0
    assert findings[2].message == (
        "only layer [1], the last one, is wrong (x[1].W); every other passes"
    )
    assert findings[2].evidence["layer"] == "[1]"


def test_message_of_a_missing_decay() -> None:
    analytic = [n - 0.5 * x if n.ndim == 2 else n for n, x in zip(NUMERIC, PARAMS, strict=True)]
    (finding, where) = hand(analytic, weight_decay=0.5, n_examples=4)
    assert re.fullmatch(
        r"analytic - numeric on x\[0\]\.W, x\[1\]\.W is -λ·W = -0\.5·W \(residual \S+ ≤ tol\): "
        r"the weight-decay term λW is missing",
        finding.message,
    )
    assert (finding.name, finding.evidence["convention"]) == ("decay-missing", "ufldl")
    assert where.name == "weights-only"


def test_message_of_decayed_biases_in_the_course_convention() -> None:
    analytic = [n + 0.5 / 4 * x if n.ndim == 1 else n for n, x in zip(NUMERIC, PARAMS, strict=True)]
    finding = hand(analytic, weight_decay=0.5, n_examples=4)[0]
    assert finding.name == "bias-decay"
    assert finding.message.endswith(
        "is +λ/m·b = 0.125·b (residual 0.0e+00 ≤ tol): "
        "the biases are decayed with (λ/m)b, but bias is never decayed"
    )


def test_messages_of_a_data_term_without_its_average() -> None:
    lam, m = 0.5, 4
    analytic = [
        m * (n - lam * x) + lam * x if n.ndim == 2 else m * n
        for n, x in zip(NUMERIC, PARAMS, strict=True)
    ]
    (finding,) = hand(analytic, weight_decay=lam, n_examples=m)
    assert re.fullmatch(
        r"the data term of the gradient is m× the numerical one while the decay term λW is "
        r"right \(residual \S+ ≤ tol\): the 1/m average is missing \(m = 4\)\?",
        finding.message,
    )
    assert (finding.name, finding.evidence["convention"]) == ("data-factor", "ufldl")
    assert finding.evidence["beta"] == pytest.approx(lam * (1 - m))
    unnamed = hand(analytic, weight_decay=0.3, n_examples=m)[0]
    assert unnamed.message.startswith(
        "the data term of the gradient is m× the numerical one, with a decay term c·W left "
        "unscaled (a = m·n + β·W on the weights, β = -1.5, c = β/(1 - α) = 0.5, "
        "neither λ nor λ/m)"
    )
    guessed = hand(analytic, weight_decay=lam)[0]  # m not given: the nearest whole m
    assert guessed.message.endswith("the 1/m average is missing (m = 4)?")
    assert (guessed.name, guessed.evidence["factor"]) == ("data-factor", 4.0)
    scaled = [
        2.5 * (n - lam * x) + lam * x if n.ndim == 2 else 2.5 * n
        for n, x in zip(NUMERIC, PARAMS, strict=True)
    ]
    assert hand(scaled, weight_decay=lam, n_examples=m) == ()  # 2.5 is not a named factor


def test_messages_of_structural_mistakes() -> None:
    zero = hand([NUMERIC[0], np.zeros(2), NUMERIC[2], NUMERIC[3]])[0]
    assert zero.message == (
        "the gradient of x[0].b is zero where the numerical one is not (max |numeric| 3.0e-01): "
        "never computed, or never written back?"
    )
    flipped = hand([NUMERIC[0], NUMERIC[1], NUMERIC[2].T, NUMERIC[3]])[0]
    assert (flipped.name, flipped.leaves) == ("transposed", ("[1].W",))
    swapped = hand([NUMERIC[0], NUMERIC[3], NUMERIC[2], NUMERIC[1]])[0]
    assert swapped.message == (
        "the gradients of x[0].b and x[1].b are swapped (residual 0.0e+00 ≤ tol): "
        "layers mixed up in the backward pass?"
    )
    unhinted = hand([NUMERIC[0], NUMERIC[3], NUMERIC[2], NUMERIC[1]], hints=None)[0]
    assert unhinted.message == (
        "the gradients of x[0].b and x[1].b are swapped (residual 0.0e+00 ≤ tol): "
        "each written to the other's place?"
    )
    copied = hand([NUMERIC[0], NUMERIC[3], NUMERIC[2], NUMERIC[3]])[0]
    assert copied.message.startswith(
        "the gradient of x[0].b is the numerical gradient of x[1].b"
    )


def test_isolated_elements_are_listed_even_when_not_a_number() -> None:
    numeric = [np.arange(1.0, 101.0).reshape(10, 10), *NUMERIC[1:]]
    analytic = [numeric[0].copy(), *NUMERIC[1:]]
    analytic[0][[1, 4], [2, 7]] = [np.nan, 0.0]
    tolerance = [np.full(n.shape, 1e-9) for n in numeric]
    findings = diagnose(PATHS, analytic, numeric, tolerance)
    assert findings[0].message == (
        "2 isolated elements are wrong, every other element passes: x[0].W[1, 2], x[0].W[4, 7]"
    )
    assert findings[0].evidence["count"] == 2
    few = NUMERIC[0].copy()
    few[1, 2], few[0, 0] = np.nan, 7.0  # two of six: isolated
    assert hand([few, *NUMERIC[1:]])[0].name == "isolated"
    few[1, 1], few[0, 1] = 3.0, 4.0  # four of six, more than half: not isolated, nothing fits
    assert hand([few, *NUMERIC[1:]]) == ()


def test_format_findings_prints_one_line_per_finding() -> None:
    findings = hand([2 * n for n in NUMERIC])
    assert format_findings(findings) == (
        "Diagnosis:\n"
        "  - [constant-factor] the gradient is 2× the numerical one (residual 0.0e+00 ≤ tol): "
        "a missing ½ in the squared error?"
    )
    assert format_findings(()) == ""


def test_a_factor_2_is_a_missing_half_only_for_a_squared_loss() -> None:
    doubled = [2 * n for n in NUMERIC]
    for hints in (None, Hints(loss="cross_entropy"), dataclasses.replace(HINTS, loss=None)):
        (finding,) = hand(doubled, hints=hints)
        assert finding.message == (
            "the gradient is 2× the numerical one (residual 0.0e+00 ≤ tol): a constant factor 2"
        )


def test_two_unexplained_leaves_silence_the_explained_one() -> None:
    rng = np.random.default_rng(5)
    analytic = [2 * NUMERIC[0], NUMERIC[1] + rng.normal(size=2), NUMERIC[2], NUMERIC[3]]
    assert hand(analytic) == ()


def test_leaf_kinds_and_layers_come_from_the_hints_only() -> None:
    numeric = [NUMERIC[0], NUMERIC[1]]
    tolerance = TOLERANCE[:2]
    for paths in (["['w']", "['b']"], ["[0][0]", "[0][1]"], [".kernel", ".bias"]):
        analytic = [numeric[0], -numeric[1]]
        plain = diagnose(paths, analytic, numeric, tolerance)
        names = ["x" + path for path in paths]
        assert [finding.name for finding in plain] == ["constant-factor"]
        assert not NETWORK_WORDS.search(plain[0].message.replace(names[1], ""))  # its own words
        hints = Hints(roles={names[0]: "weight", names[1]: "bias"})
        hinted = diagnose(paths, analytic, numeric, tolerance, hints=hints)
        assert [finding.name for finding in hinted] == ["constant-factor", "biases-only"]
        assert hinted[1].message == f"only the biases are wrong ({names[1]}); every weight passes"
    bare = diagnose([""], [0.5 * numeric[0]], [numeric[0]], [tolerance[0]])
    assert bare[0].message.startswith("the gradient is ½× the numerical one")


def test_an_unhinted_diagnosis_names_leaves_and_fitted_numbers_only() -> None:
    scaled = hand([NUMERIC[0], NUMERIC[1], -NUMERIC[2], NUMERIC[3]], hints=None)
    assert [finding.name for finding in scaled] == ["constant-factor"]  # no layer, no role
    assert scaled[0].message == (
        "the gradient of x[1].W is -1× the numerical one (residual 0.0e+00 ≤ tol): a sign flip"
    )
    shifted = [n - 0.01 * x for n, x in zip(NUMERIC, PARAMS, strict=True)]
    (multiple,) = hand(shifted, hints=None)
    assert re.fullmatch(
        r"analytic - numeric on x\[0\]\.W, x\[0\]\.b, x\[1\]\.W, x\[1\]\.b is c·x with "
        r"c = -0\.01 \(residual \S+ ≤ tol\): "
        r"the analytic gradient is the numerical one plus c·x",
        multiple.message,
    )
    assert multiple.evidence["c"] == pytest.approx(-0.01)
    lam, m = 0.5, 4
    averaged = [m * (n - lam * x) + lam * x for n, x in zip(NUMERIC, PARAMS, strict=True)]
    assert hand(averaged, hints=None) == ()  # a data term needs a decay the caller spoke of
    for finding in (*scaled, multiple):
        assert not NETWORK_WORDS.search(finding.message), finding.message


def test_lambda_without_roles_names_the_decay_of_every_leaf() -> None:
    analytic = [n - 0.5 * x for n, x in zip(NUMERIC, PARAMS, strict=True)]
    (finding,) = hand(analytic, hints=None, weight_decay=0.5)
    assert re.fullmatch(
        r"analytic - numeric on x\[0\]\.W, x\[0\]\.b, x\[1\]\.W, x\[1\]\.b is -λ·x = -0\.5·x "
        r"\(residual \S+ ≤ tol\): "
        r"the weight-decay term λx is missing",
        finding.message,
    )
    assert finding.name == "decay-missing"


# Through check_gradient: the report speaks the caller's words, and only those.


def logistic(p: tuple[Array, Array]) -> float:
    """A logistic regression f(a, b): mean log-loss of 5 examples (no network, no ½)."""
    a, b = p
    z = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-0.2, 0.8, 0.1], [1.0, 1.0, -1.0],
                  [0.0, -0.5, 0.4]]) @ a + b
    y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def logistic_gradient(p: tuple[Array, Array]) -> tuple[Array, Array]:
    a, b = p
    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-0.2, 0.8, 0.1], [1.0, 1.0, -1.0],
                  [0.0, -0.5, 0.4]])
    y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    r = (1.0 / (1.0 + np.exp(-(X @ a + b))) - y) / y.size
    return X.T @ r, r.sum(axis=0)


def test_a_plain_function_of_two_arrays_gets_no_network_word() -> None:
    x = (np.array([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]]), np.array([0.1, -0.3]))  # 2-D, 1-D
    a, b = logistic_gradient(x)
    assert check_gradient(logistic, x, (a, b)).passed
    result = check_gradient(logistic, x, (2 * a, b))  # sabotage: one leaf doubled
    assert [finding.name for finding in result.diagnosis] == ["constant-factor"]
    assert re.fullmatch(
        r"the gradient of x\[0\] is 2× the numerical one \(residual \S+ ≤ (2·)?tol\): "
        r"a constant factor 2",
        result.diagnosis[0].message,
    )
    assert not NETWORK_WORDS.search(str(result)), str(result)
    everywhere = check_gradient(logistic, x, (2 * a, 2 * b))
    assert re.fullmatch(
        r"the gradient is 2× the numerical one \(residual \S+ ≤ (2·)?tol\): a constant factor 2",
        everywhere.diagnosis[0].message,
    )
    assert not NETWORK_WORDS.search(str(everywhere)), str(everywhere)


def test_a_hinted_backprop_ref_check_names_the_layer_and_the_decay() -> None:
    rng = np.random.default_rng(11)
    mlp, m = MLP([3, 4, 2], weight_decay=0.1), 5
    params = mlp.init_params(rng=rng, scale=1.0)
    X, Y = rng.normal(size=(m, 3)), rng.uniform(size=(m, 2))
    objective, good = mlp.objective(X, Y), mlp.cost_and_gradient(params, X, Y)[1]
    halved = [good[0], Layer(good[1].W, good[1].b / 2)]
    hints = diagnosis_hints(mlp, m)
    named = check_gradient(objective, params, halved, hints=hints).diagnosis
    assert [finding.name for finding in named] == [
        "constant-factor", "biases-only", "last-layer-only",
    ]  # fmt: skip
    assert named[2].message == "only layer [1], the last one, is wrong (x[1].b); every other passes"
    plain = check_gradient(objective, params, halved).diagnosis
    assert [finding.name for finding in plain] == ["constant-factor"]
    assert plain[0].message.startswith("the gradient of x[1].b is ½× the numerical one")
    undecayed = [Layer(g.W - 0.1 * p.W, g.b) for g, p in zip(good, params, strict=True)]
    decay = check_gradient(objective, params, undecayed, hints=hints).diagnosis
    assert [finding.name for finding in decay] == ["decay-missing", "weights-only"]
    assert re.fullmatch(
        r"analytic - numeric on x\[0\]\.W, x\[1\]\.W is -λ·W = -0\.1·W \(residual \S+ "
        r"≤ (2·)?tol\): the weight-decay term λW is missing",
        decay[0].message,
    )


def test_hints_are_frozen_values_that_copy_and_pickle() -> None:
    given = diagnosis_hints(MLP([2, 3, 1], loss="cross_entropy", weight_decay=0.5), 4)
    hints = Hints(**given)
    assert pickle.loads(pickle.dumps(hints)) == hints
    assert hash(deepcopy(hints)) == hash(hints)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hints.loss = "squared"  # type: ignore[misc]
    with pytest.raises(TypeError):
        hints.roles["x[0].W"] = "bias"  # type: ignore[index]
    given["roles"]["x[0].W"] = "bias"  # the caller's dict, changed afterwards
    assert hints.roles["x[0].W"] == "weight"


def test_inputs_are_left_unchanged() -> None:
    analytic = [2 * n for n in NUMERIC]
    copies = [[a.copy() for a in group] for group in (analytic, NUMERIC, TOLERANCE, PARAMS)]
    hand(analytic, weight_decay=0.1, n_examples=3)
    for group, copy in zip((analytic, NUMERIC, TOLERANCE, PARAMS), copies, strict=True):
        for array, saved in zip(group, copy, strict=True):
            np.testing.assert_array_equal(array, saved)


def test_the_docstring_examples_run() -> None:
    result = doctest.testmod(diagnosis, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5
    assert result.failed == 0


def test_a_hundred_thousand_elements_are_diagnosed_like_small_ones() -> None:
    # Its speed is measured in benchmarks/test_bench_diagnosis.py, never asserted here.
    rng = np.random.default_rng(6)
    shapes = [(250, 200), (250,), (200, 250), (200,)]
    numeric = [rng.normal(size=shape) for shape in shapes]
    tolerance = [1e-8 * np.abs(n) + 1e-12 for n in numeric]
    params = [rng.normal(size=shape) for shape in shapes]
    doubled = diagnose(PATHS, [1.7 * n for n in numeric], numeric, tolerance, params)
    assert [f.name for f in doubled] == ["constant-factor"]
    noisy = [n * (1 + 1e-3 * rng.normal(size=n.shape)) for n in numeric]
    assert diagnose(PATHS, noisy, numeric, tolerance, params) == ()


# Invalid arguments.

GOOD = {"paths": PATHS, "analytic": NUMERIC, "numeric": NUMERIC, "tolerance": TOLERANCE}


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"paths": "[0].W"}, TypeError, r"`paths` must be a sequence of str; got str"),
        ({"paths": [0, 1, 2, 3]}, TypeError, r"`paths` must hold only str"),
        ({"analytic": NUMERIC[:3]}, ValueError, r"`analytic` has 3 leaves; `paths` has 4"),
        ({"tolerance": np.ones(4)}, TypeError, r"`tolerance` must be a sequence of arrays"),
        (
            {"numeric": [NUMERIC[0], np.zeros(3), *NUMERIC[2:]]},
            ValueError,
            r"`numeric\[1\]` \(leaf '\[0\]\.b'\) has shape \(3,\); `analytic\[1\]` has \(2,\)",
        ),
        ({"params": [np.zeros(2)] * 4}, ValueError, r"`params\[0\]` \(leaf '\[0\]\.W'\)"),
        ({"tolerance": [np.ones(5)] * 4}, ValueError, r"`tolerance\[0\]` .* does not broadcast"),
        ({"tolerance": [-1.0] * 4}, ValueError, r"`tolerance\[0\]` .* must be finite and >= 0"),
        (
            {"numeric": [np.full((2, 3), np.nan), *NUMERIC[1:]]},
            ValueError,
            r"`numeric\[0\]` \(leaf '\[0\]\.W'\) holds NaN or inf",
        ),
        (
            {"analytic": [1j * NUMERIC[0], *NUMERIC[1:]]},
            TypeError,
            r"`analytic\[0\]` must be a real array; got dtype complex128",
        ),
        ({"weight_decay": -0.1}, ValueError, r"`weight_decay` is -0\.1; it must be finite and"),
        ({"weight_decay": "0.1"}, TypeError, r"`weight_decay` is '0\.1'; it must be a real"),
        ({"n_examples": 0}, ValueError, r"`n_examples` is 0; it must be an int >= 1"),
        ({"n_examples": 2.0}, TypeError, r"`n_examples` is 2\.0; it must be an int >= 1"),
        ({"n_examples": True}, TypeError, r"`n_examples` is True; it must be an int >= 1"),
        ({"hints": 3}, TypeError, r"`hints` is int; it must be a gradcheck\.Hints, a mapping"),
        ({"hints": {"role": {}}}, TypeError, r"`hints` has the unknown field\(s\) role; its "),
        (
            {"hints": {"roles": {"x[0].W": "kernel"}}},
            ValueError,
            r"`hints\.roles\['x\[0\]\.W'\]` is 'kernel'; it must be one of weight, bias",
        ),
        (
            {"hints": {"layers": {"[0].W": "[0]"}}},
            ValueError,
            r"`hints\.layers` names '\[0\]\.W', which is not a leaf of `x`; its leaves are "
            r"x\[0\]\.W, x\[0\]\.b, x\[1\]\.W, x\[1\]\.b",
        ),
        ({"hints": {"layers": {"x[0].W": 0}}}, TypeError, r"`hints\.layers` maps 'x\[0\]\.W' to 0"),
        ({"hints": {"loss": "l2"}}, ValueError, r"`hints\.loss` is 'l2'; it must be one of"),
        (
            {"hints": {"n_examples": 0}},
            ValueError,
            r"`hints\.n_examples` is 0; it must be an int >= 1",
        ),
        (
            {"weight_decay": 0.1, "hints": Hints(weight_decay=0.2)},
            ValueError,
            r"`weight_decay` is 0\.1 but `hints\.weight_decay` is 0\.2; give one",
        ),
    ],
)
def test_invalid_arguments_are_named(change: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        diagnose(**{**GOOD, **change})  # type: ignore[arg-type]


# Properties over arbitrary leaves.

leaf_values = st.floats(0.1, 10.0) | st.floats(-10.0, -0.1)  # away from 0: every element counts
leaves = st.lists(
    hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=5), elements=leaf_values),
    min_size=1,
    max_size=4,
)


@given(leaves)
def test_a_correct_gradient_gets_no_finding(numeric: list[Array]) -> None:
    paths = [f"[{i}].W" for i in range(len(numeric))]
    tolerance = [1e-8 * np.abs(n) for n in numeric]
    assert diagnose(paths, [n.copy() for n in numeric], numeric, tolerance) == ()


@given(
    leaves,
    st.floats(-20.0, 20.0).filter(lambda c: abs(c) > 1e-3 and abs(c - 1) > 1e-3),
)
def test_any_common_factor_is_found(numeric: list[Array], c: float) -> None:
    hypothesis.assume(sum(n.size for n in numeric) >= 2)
    paths = [f"[{i}].W" for i in range(len(numeric))]
    tolerance = [1e-8 * np.abs(n) for n in numeric]
    findings = diagnose(paths, [c * n for n in numeric], numeric, tolerance)
    hypothesis.note(format_findings(findings))
    assert findings[0].name == "constant-factor"
    assert findings[0].leaves == tuple(paths)
    assert float(findings[0].evidence["factor"]) == pytest.approx(c, rel=1e-9)


@given(leaves, st.sampled_from(["2", "½", "-1", "zero", "c·x", "one element"]))
def test_without_hints_no_finding_uses_a_network_word(numeric: list[Array], bug: str) -> None:
    hypothesis.assume(numeric[0].size >= 4)  # a fit to one or two numbers explains nothing
    paths = [f"[{i}]" for i in range(len(numeric))]  # what an f(a, b, ...) gets: x[0], x[1], ...
    params = [0.5 * n + 1.0 for n in numeric]
    analytic = [n.copy() for n in numeric]
    first = analytic[0].reshape(-1)
    if bug == "zero":
        first[:] = 0.0
    elif bug == "c·x":
        first -= 0.01 * params[0].reshape(-1)
    elif bug == "one element":
        first[0] += 1.0
    else:
        first *= {"2": 2.0, "½": 0.5, "-1": -1.0}[bug]
    tolerance = [1e-8 * np.abs(n) for n in numeric]
    findings = diagnose(paths, analytic, numeric, tolerance, params)
    hypothesis.note(format_findings(findings))
    assert findings  # every one of these bugs is explained
    assert not any(NETWORK_WORDS.search(finding.message) for finding in findings)
