"""The parts of one diagnosis: the caller's hints, the leaves and the residual test, the shared
context, the findings.

`Hints` are the caller's own words for its leaves; the diagnosis guesses none of them. Without
hints it speaks of leaves by their names in x (``x['a']``) and of fitted numbers: network words
(weight, bias, layer, decay, the ½ of the squared error, the 1/m average) come only from them.
The leaves: arguments checked and gathered per leaf, a leaf's kind (weight, bias, other) and
layer from the hints only, never from its name or shape; `_within` is the one residual rule
every finding obeys. The context: the leaves, the named constants and the candidate
explanations. The findings: `Finding`, `format_findings` and the words findings share.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, NamedTuple, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

# --- The caller's hints ---------------------------------------------------------------------

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


# --- The leaves, the context, the findings -------------------------------------------------

# The leaves of a diagnosis: arguments checked and gathered per leaf, and the residual test.
#
# A leaf's kind (weight, bias, other) and layer come from the caller's `Hints` only, never from
# its name or shape. `_within` is the one residual rule every finding obeys.

Array: TypeAlias = NDArray[np.float64]
EvidenceValue: TypeAlias = "float | int | str"
_Fit: TypeAlias = "tuple[float, float]"  # worst residual, worst residual / tolerance

SLACK = 2.0
"""Allowed residual, in tolerances, after an explanation is removed (see `diagnose`, Notes)."""


class _Leaf(NamedTuple):
    path: str
    a: Array  # analytic
    n: Array  # numeric
    tol: Array  # per-element absolute tolerance, broadcast to the leaf's shape
    x: Array  # the parameter; zeros when `params` is not given (no multiple then fits)
    kind: str  # "weight", "bias" (the caller's roles) or "other"
    layer: str | None  # the caller's name of its layer
    failing: NDArray[np.bool_]  # |a − n| > tol (or NaN)
    clear: NDArray[np.bool_]  # |a − n| > SLACK·tol: more than a near miss
    fit_weight: Array  # 1/tol² up to one common scale: the least-squares weights


def name_of(path: str) -> str:
    """A leaf as reports print it: ``x[0].W``, ``x['a']``, ``x`` for a bare array."""
    return "x" + path


def _arrays(name: str, values: Sequence[ArrayLike], count: int) -> list[Array]:
    """The leaves of one argument as float64 arrays, after checking their number and dtype."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        kind = type(values).__name__
        raise TypeError(f"`{name}` must be a sequence of arrays, one per leaf; got {kind}")
    if len(values) != count:
        raise ValueError(f"`{name}` has {len(values)} leaves; `paths` has {count}")
    arrays = []
    for i, value in enumerate(values):
        array = np.asarray(value)
        if array.dtype.kind not in "fiu":
            raise TypeError(f"`{name}[{i}]` must be a real array; got dtype {array.dtype}")
        arrays.append(np.asarray(array, dtype=np.float64))  # read only: never written to
    return arrays


def _check_leaf(i: int, path: str, a: Array, n: Array, t: Array, x: Array | None) -> Array:
    """Check one leaf's shapes and values; return its tolerance broadcast to the leaf."""
    where = f"(leaf {path!r})"
    for name, other in (("numeric", n), ("params", x)):
        if other is not None and other.shape != a.shape:
            raise ValueError(
                f"`{name}[{i}]` {where} has shape {other.shape}; `analytic[{i}]` has {a.shape}"
            )
    try:
        tol = np.broadcast_to(t, a.shape)
    except ValueError:
        raise ValueError(
            f"`tolerance[{i}]` {where} has shape {t.shape}, which does not broadcast to {a.shape}"
        ) from None
    if not np.all(np.isfinite(tol) & (tol >= 0)):
        raise ValueError(f"`tolerance[{i}]` {where} must be finite and >= 0")
    for name, values in (("numeric", n), ("params", x)):
        if values is not None and not np.all(np.isfinite(values)):
            raise ValueError(f"`{name}[{i}]` {where} holds NaN or inf")
    return tol


def _check_paths(paths: Sequence[str]) -> None:
    """Check that `paths` is a sequence of str."""
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Sequence):
        raise TypeError(f"`paths` must be a sequence of str; got {type(paths).__name__}")
    if not all(isinstance(path, str) for path in paths):
        raise TypeError("`paths` must hold only str")


def _leaves(
    paths: Sequence[str],
    analytic: Sequence[ArrayLike],
    numeric: Sequence[ArrayLike],
    tolerance: Sequence[ArrayLike],
    params: Sequence[ArrayLike] | None,
    hints: Hints,
) -> tuple[_Leaf, ...]:
    """Validate the arrays (`paths` checked) and gather them per leaf, with the hints."""
    count = len(paths)
    a_s, n_s = _arrays("analytic", analytic, count), _arrays("numeric", numeric, count)
    t_s = _arrays("tolerance", tolerance, count)
    x_s = None if params is None else _arrays("params", params, count)
    tols = [
        _check_leaf(i, path, a, n, t, None if x_s is None else x_s[i])
        for i, (path, a, n, t) in enumerate(zip(paths, a_s, n_s, t_s, strict=True))
    ]
    top = max((float(tol.max(initial=0.0)) for tol in tols), default=0.0)
    leaves = []
    for i, (path, a, n, tol) in enumerate(zip(paths, a_s, n_s, tols, strict=True)):
        weight = (top / np.maximum(tol, 1e-12 * top)) ** 2 if top > 0 else np.ones_like(a)
        leaves.append(
            _Leaf(
                path,
                a,
                n,
                tol,
                np.zeros_like(a) if x_s is None else x_s[i],
                hints.roles.get(name_of(path), "other"),
                hints.layers.get(name_of(path)),
                ~(np.abs(a - n) <= tol),
                ~(np.abs(a - n) <= SLACK * tol),
                weight,
            )
        )
    return tuple(leaves)


def _within(dev: Array, tol: Array) -> _Fit | None:
    """(worst residual, worst residual/tol) when every residual is ≤ SLACK·tol, else None."""
    if not np.all(dev <= SLACK * tol):
        return None
    ratio = np.divide(dev, tol, out=np.zeros_like(dev), where=tol > 0)
    return float(dev.max(initial=0.0)), float(ratio.max(initial=0.0))


def _take(leaf: _Leaf, index: NDArray[np.intp]) -> _Leaf:
    """The elements `index` of `leaf`, flattened: a probe for a cheap necessary test."""
    return leaf._replace(
        a=leaf.a.ravel()[index], n=leaf.n.ravel()[index], tol=leaf.tol.ravel()[index],
        x=leaf.x.ravel()[index], failing=leaf.failing.ravel()[index],
        clear=leaf.clear.ravel()[index], fit_weight=leaf.fit_weight.ravel()[index],
    )  # fmt: skip


# The shared state of one diagnosis: leaves, named constants, and candidate explanations.

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


# What a diagnosis hands back: `Finding`, `format_findings`, and the words findings share.

class Finding(NamedTuple):
    """One explanation of a failed gradient check.

    Attributes
    ----------
    name : str
        Short pattern name, e.g. ``"constant-factor"``, ``"decay-missing"``, ``"transposed"``.
    message : str
        One sentence for a person.
    leaves : tuple of str
        Paths of the leaves concerned, e.g. ``("[0].W", "[1].W")``.
    evidence : Mapping
        The numbers behind the finding, e.g. ``{"factor": 2.0, "residual": 3e-12}`` (read-only).
    """

    name: str
    message: str
    leaves: tuple[str, ...]
    evidence: Mapping[str, EvidenceValue]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict: name, message, leaves (a list) and evidence (a dict)."""
        return {
            "name": self.name,
            "message": self.message,
            "leaves": list(self.leaves),
            "evidence": {
                key: value if not isinstance(value, float) or np.isfinite(value) else str(value)
                for key, value in self.evidence.items()
            },
        }


def _subject(paths: Sequence[str], ctx: _Context) -> tuple[str, str]:
    """("the gradient(s) of …", verb) for the leaves `paths`, named as reports name them."""
    if len(paths) == len(ctx.leaves) or paths == [""]:
        return "the gradient", "is"
    if len(paths) == 1:
        return f"the gradient of {name_of(paths[0])}", "is"
    return "the gradients of " + _names(paths), "are"


def _names(paths: Sequence[str]) -> str:
    """``x[0].W, x[1].W``: the leaves `paths` as reports name them."""
    return ", ".join(name_of(path) for path in paths)


def _residual_text(fit: _Fit) -> str:
    """The residual, and whether it is within one tolerance or needed the slack."""
    bound = "tol" if fit[1] <= 1 else f"{SLACK:g}·tol"
    return f"residual {fit[0]:.1e} ≤ {bound}"


def _evidence(**values: EvidenceValue) -> Mapping[str, EvidenceValue]:
    """A read-only evidence mapping."""
    return MappingProxyType(values)


def format_findings(findings: Sequence[Finding]) -> str:
    """The lines a report prints under its table: ``Diagnosis:`` and one line per finding.

    Parameters
    ----------
    findings : sequence of Finding
        As returned by `diagnose`.

    Returns
    -------
    str
        ``"Diagnosis:"`` followed by ``"  - [name] message"`` lines, without a final newline;
        the empty string when there is no finding.

    Examples
    --------
    >>> finding = Finding("constant-factor", "the gradient is -1× the numerical one", ("",), {})
    >>> print(format_findings([finding]))
    Diagnosis:
      - [constant-factor] the gradient is -1× the numerical one
    >>> format_findings([])
    ''
    """
    if not findings:
        return ""
    return "\n".join(["Diagnosis:", *(f"  - [{item.name}] {item.message}" for item in findings)])
