"""The shared state of one diagnosis: leaves, named constants, and candidate explanations."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple, TypeAlias

from gradcheck.diagnosis._hints import Hints
from gradcheck.diagnosis._leaves import _Fit, _Leaf

ElementNamer: TypeAlias = Callable[[int, tuple[int, ...]], str]
"""``element(i, index)``: how element ``index`` of leaf ``i`` is written, e.g. ``x[0].W[1, 2]``."""


class _Named(NamedTuple):
    value: float
    name: str  # the finding's name
    label: str  # how the constant is written
    hint: str
    convention: str


class _Candidate(NamedTuple):
    rank: int  # 0 structural, 1 named constant, 2 fitted constant, 3 isolated elements
    pattern: str  # "zero", "transposed", "other-leaf", "factor", "multiple", "isolated"
    leaf: int
    c: float = 0.0
    named: _Named | None = None
    partner: int = -1
    fit: _Fit = (0.0, 0.0)


class _Context(NamedTuple):
    leaves: tuple[_Leaf, ...]
    factors: tuple[_Named, ...]
    multiples: Mapping[str, tuple[_Named, ...]]
    weight_decay: float | None
    n_examples: int | None
    hints: Hints
    element: ElementNamer

    def decayed(self, leaf: _Leaf) -> bool:
        """Whether ``leaf`` may carry a decay term: a hinted weight, or any leaf when λ is
        given without roles."""
        if self.hints.roles:
            return leaf.kind == "weight"
        return self.weight_decay is not None

    @property
    def symbol(self) -> str:
        """How the decayed parameter is written: W for hinted weights, else x."""
        return "W" if self.hints.roles else "x"


def _distinct(rows: Sequence[_Named], m: int | None) -> tuple[_Named, ...]:
    """Drop zero constants; of two with one value (m = 1 or 2), keep the first, with both hints."""
    table: list[_Named] = []
    for row in rows:
        same = [
            i
            for i, kept in enumerate(table)
            if abs(kept.value - row.value) <= 1e-12 * abs(row.value)
        ]
        if same:
            kept = table[same[0]]
            table[same[0]] = kept._replace(hint=f"{kept.hint} (or, as m = {m}: {row.hint})")
        elif row.value != 0:
            table.append(row)
    return tuple(table)
