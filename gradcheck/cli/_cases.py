"""What a random MLP check case is made of, shared by `gradcheck.strategies` and `gradcheck verify`.

The facts of `backprop_ref`'s networks that both draw from, and the methods verify checks with.
The strategies may not import `backprop_ref` and verify may not need Hypothesis, so the tables
live here, in the command line's package, importing nothing: `gradcheck/cli/__init__.py` imports
its commands (and `backprop_ref` with them) only when they run, so importing this module from
`gradcheck.strategies` brings in neither. Verify draws its cases from a numpy Generator
(`gradcheck.cli._verify.random_case`), the strategies through Hypothesis (which shrinks them):
the two draw on these tables, each in its own way, so that a seed of verify stays its cases.
"""

from __future__ import annotations

__all__ = ["ACTIVATIONS", "DECAY_CONVENTIONS", "LOSS_OUTPUTS", "METHODS", "SCALES", "TARGET_RANGES"]

METHODS: tuple[str, ...] = ("forward", "central", "complex", "richardson")
"""The methods `gradcheck verify` checks each case with, in this order (``--methods``)."""

ACTIVATIONS: tuple[str, ...] = ("identity", "relu", "sigmoid", "tanh")
"""The hidden activations."""

LOSS_OUTPUTS: tuple[tuple[str, str], ...] = (
    ("squared", "identity"),
    ("squared", "relu"),
    ("squared", "sigmoid"),
    ("squared", "softmax"),
    ("squared", "tanh"),
    ("cross_entropy", "sigmoid"),
    ("cross_entropy", "softmax"),
)
"""The valid (loss, output activation) pairs."""

DECAY_CONVENTIONS: tuple[str, ...] = ("ufldl", "coursera")

SCALES: tuple[float, ...] = (0.01, 0.3, 1.0, 3.0)
"""Parameter scales: the tutorial's 0.01, moderate ones, and 3.0, which saturates sigmoids."""

TARGET_RANGES: dict[str, tuple[float, float]] = {"identity": (-2.0, 2.0), "tanh": (-1.0, 1.0)}
"""Range of squared-error targets per output activation; [0, 1] for the others."""
