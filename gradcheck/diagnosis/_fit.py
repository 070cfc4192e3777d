"""The parts of one diagnosis: its leaves and the residual test, its shared state, its findings.

The leaves: arguments checked and gathered per leaf, a leaf's kind (weight, bias, other) and
layer from the caller's `Hints` only, never from its name or shape; `_within` is the one
residual rule every finding obeys. The context: the leaves, the named constants and the
candidate explanations. The findings: `Finding`, `format_findings` and the words findings share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gradcheck.diagnosis._hints import Hints

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
