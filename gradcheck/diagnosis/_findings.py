"""What a diagnosis hands back: `Finding`, `format_findings`, and the words findings share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from gradcheck.diagnosis._context import _Context
from gradcheck.diagnosis._leaves import SLACK, EvidenceValue, _Fit, name_of


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
