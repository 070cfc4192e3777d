"""What a random MLP check case is made of, shared by `strategies` and `gradcheck verify`."""

from __future__ import annotations

__all__ = ["ACTIVATIONS", "DECAY_CONVENTIONS", "LOSS_OUTPUTS", "SCALES", "TARGET_RANGES"]

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
