"""`Hints`: the caller's own words for its leaves; the diagnosis guesses none of them.

A diagnosis without hints speaks of leaves by their names in x (``x['a']``) and of fitted
numbers. Network words (weight, bias, layer, decay, the ½ of the squared error, the 1/m
average) come only from here: roles and layers per leaf, the loss, λ and m.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

import numpy as np

ROLES = ("weight", "bias")
"""The roles a leaf can be given: weights may carry a decay term, biases never do."""
LOSSES = ("squared", "cross_entropy")
"""The losses a hint can name; ``"squared"`` names a factor 2 "a missing ½"."""


def _frozen(name: str, value: object, allowed: tuple[str, ...] | None) -> Mapping[str, str]:
    """``value`` as a read-only {leaf name: str} mapping, its values in ``allowed`` if given."""
    if not isinstance(value, Mapping):
        raise TypeError(f"`hints.{name}` is {type(value).__name__}; it must be a mapping of "
                        "leaf names (as reports print them, e.g. 'x[0].W') to str")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(f"`hints.{name}` maps {key!r} to {item!r}; keys and values must "
                            "be str")
        if allowed is not None and item not in allowed:
            raise ValueError(f"`hints.{name}[{key!r}]` is {item!r}; it must be one of "
                             f"{', '.join(allowed)}")
    return MappingProxyType(dict(value))


def check_weight_decay(name: str, value: object) -> float | None:
    """λ as a float >= 0, or None; TypeError/ValueError naming ``name``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` is {value!r}; it must be a real number >= 0 or None")
    if not (math.isfinite(float(value)) and float(value) >= 0):
        raise ValueError(f"`{name}` is {value!r}; it must be finite and >= 0")
    return float(value)


def check_n_examples(name: str, value: object) -> int | None:
    """m as an int >= 1, or None; TypeError/ValueError naming ``name``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` is {value!r}; it must be an int >= 1 or None")
    if value < 1:
        raise ValueError(f"`{name}` is {value!r}; it must be an int >= 1")
    return int(value)


@dataclass(frozen=True)
class Hints:
    """What the leaves of x are, in the caller's words: the diagnosis uses no other words.

    Without hints a diagnosis names leaves as reports do (``x['a']``, ``x[0].W``) and states
    fitted numbers ("2× the numerical one", "c·x with c = -0.01"); it never guesses a weight
    or a layer from a name or a shape. Each field lets it say more.

    Parameters
    ----------
    roles : mapping of str to str, optional
        Leaf name, as reports print it (``"x[0].W"``, ``"x['W']"``, ``"x"`` for a bare array),
        to ``"weight"`` or ``"bias"``. Weights may carry a decay term, biases never do: the
        decay findings are named per role ("the weight-decay term λW is missing", "the biases
        are decayed"), and a mismatch confined to one role is said to be.
    layers : mapping of str to str, optional
        Leaf name to the name of its layer, e.g. ``"[0]"``; layers are ordered by their first
        leaf in x. A mismatch confined to one layer is said to be ("only layer [1], the last
        one, is wrong").
    weight_decay : float, optional
        λ >= 0 of an L2 decay term, (λ/2)ΣW² or (λ/(2m))ΣW²: the decay findings name ±λ, ±λ/m.
        Without roles every leaf may carry it. Same as ``check_gradient(weight_decay=)``.
    n_examples : int, optional
        m >= 1, the examples the cost averages over: names the factors m, 1/m ("the 1/m
        average is missing") and λ/m. Same as ``check_gradient(n_examples=)``.
    loss : {"squared", "cross_entropy"}, optional
        The loss of the cost: with ``"squared"`` a factor 2 is "a missing ½ in the squared
        error?".

    Raises
    ------
    TypeError, ValueError
        A field of the wrong type or value, named as ``hints.<field>``.

    Examples
    --------
    >>> hints = Hints(roles={"x['W']": "weight", "x['b']": "bias"}, weight_decay=0.1)
    >>> hints.roles["x['W']"], hints.layers
    ('weight', mappingproxy({}))
    >>> Hints(roles={"x['W']": "kernel"})
    Traceback (most recent call last):
    ...
    ValueError: `hints.roles["x['W']"]` is 'kernel'; it must be one of weight, bias
    """

    roles: Mapping[str, str] = field(default_factory=dict)
    layers: Mapping[str, str] = field(default_factory=dict)
    weight_decay: float | None = None
    n_examples: int | None = None
    loss: str | None = None

    def __post_init__(self) -> None:
        set_field = object.__setattr__  # frozen: the checked values replace the given ones
        set_field(self, "roles", _frozen("roles", self.roles, ROLES))
        set_field(self, "layers", _frozen("layers", self.layers, None))
        set_field(self, "weight_decay", check_weight_decay("hints.weight_decay",
                                                           self.weight_decay))
        set_field(self, "n_examples", check_n_examples("hints.n_examples", self.n_examples))
        if self.loss is not None and self.loss not in LOSSES:
            raise ValueError(f"`hints.loss` is {self.loss!r}; it must be one of "
                             f"{', '.join(LOSSES)} or None")

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.roles.items())), tuple(sorted(self.layers.items())),
                     self.weight_decay, self.n_examples, self.loss))

    def __reduce__(self) -> tuple[type[Hints], tuple[Any, ...]]:
        """Pickle and copy as plain dicts: a read-only mapping view has no pickle of its own."""
        return Hints, (dict(self.roles), dict(self.layers), self.weight_decay, self.n_examples,
                       self.loss)


def _as_hints(hints: object) -> Hints:
    """``hints`` as a Hints: None, a Hints, or a mapping of its fields."""
    if hints is None:
        return Hints()
    if isinstance(hints, Hints):
        return hints
    if isinstance(hints, Mapping):
        names = [item.name for item in fields(Hints)]
        unknown = sorted(str(key) for key in hints if key not in names)
        if unknown:
            raise TypeError(f"`hints` has the unknown field(s) {', '.join(unknown)}; its "
                            f"fields are {', '.join(names)}")
        return Hints(**hints)
    raise TypeError(f"`hints` is {type(hints).__name__}; it must be a gradcheck.Hints, a "
                    "mapping of its fields, or None")


def _merged(name: str, given: Any, hinted: Any) -> Any:
    """The one value of λ or m given as an argument and/or in the hints."""
    if given is not None and hinted is not None and given != hinted:
        raise ValueError(f"`{name}` is {given!r} but `hints.{name}` is {hinted!r}; give one")
    return hinted if given is None else given


def resolve_hints(
    hints: object, paths: Sequence[str], *, weight_decay: object = None,
    n_examples: object = None,
) -> Hints:
    """One Hints from ``hints`` and the ``weight_decay``/``n_examples`` arguments, checked.

    Every leaf name in ``hints.roles`` and ``hints.layers`` must be one of ``"x" + path`` for
    ``paths``; λ and m given twice must agree. Raises TypeError/ValueError naming the argument.
    """
    lam = check_weight_decay("weight_decay", weight_decay)
    m = check_n_examples("n_examples", n_examples)
    checked = _as_hints(hints)
    names = ["x" + path for path in paths]
    for field_name in ("roles", "layers"):
        strays = [key for key in getattr(checked, field_name) if key not in names]
        if strays:
            shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
            raise ValueError(f"`hints.{field_name}` names {strays[0]!r}, which is not a leaf "
                             f"of `x`; its leaves are {shown}")
    return replace(
        checked,
        weight_decay=_merged("weight_decay", lam, checked.weight_decay),
        n_examples=_merged("n_examples", m, checked.n_examples),
    )
