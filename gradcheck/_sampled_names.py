"""The check of sampled coordinates in the caller's names: ``x['W'][3, 7]``, not ``x[0][31]``.

`gradcheck.check_sampled` checks f as a function of a list of 1-D arrays, one per leaf of x that
holds sampled coordinates. `in_callers_names` turns the result of that check into the caller's
leaves and indices: paths, per-leaf summaries, listed elements and the diagnosis;
`callers_errors` does the same for the messages of the errors it raises.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck import report
from gradcheck import tree as _tree
from gradcheck.diagnosis import Hints, diagnose_named


def in_callers_names(
    result: report.GradientCheckResult,
    layout: _tree.Layout,
    used: Sequence[int],
    local: Mapping[int, npt.NDArray[np.intp]],
    params: Sequence[npt.NDArray[np.floating]],
) -> report.GradientCheckResult:
    """``result`` of the sampled leaves ``used`` (``local[i]``: flat indices into leaf i of x,
    ``params``: their values) with the caller's paths, leaf shapes and element indices.

    Per-leaf ``size`` counts the sampled elements; the per-element arrays stay 1-D, in the
    order of ``local[i]``.
    """
    paths = tuple(layout.paths[i] for i in used)
    leaf_of = {path: j for j, path in enumerate(result.paths)}

    def index(j: int, position: int) -> tuple[int, ...]:
        flat = int(local[used[j]][position])
        return tuple(int(k) for k in np.unravel_index(flat, layout.shapes[used[j]]))

    def element(e: report.ElementError) -> report.ElementError:
        j = leaf_of[e.path]
        return dataclasses.replace(e, path=paths[j], index=index(j, e.index[0]))

    leaves = tuple(
        leaf._replace(
            path=paths[j], shape=layout.shapes[used[j]],
            worst_index=None if leaf.worst_index is None else index(j, leaf.worst_index[0]),
        )
        for j, leaf in enumerate(result.leaves)
    )  # fmt: skip
    findings = result.diagnosis and diagnose_named(
        paths, result.analytic, result.numeric, result.tolerance, params, Hints(),
        lambda j, at: _tree.element_name("x" + paths[j], index(j, at[0])),
    )  # fmt: skip
    return dataclasses.replace(
        result, paths=paths, leaves=leaves, diagnosis=findings,
        worst=None if result.worst is None else element(result.worst),
        mismatches=tuple(element(e) for e in result.mismatches),
        unverifiable=tuple(element(e) for e in result.unverifiable),
    )  # fmt: skip


_INTERNAL = re.compile(r"x\[(\d+)\]\[(\d+)\]")
"""An element of the sampled check as its messages write it: ``x[leaf][position]``."""


class RaisedByF:
    """The errors that the caller's f raised, so that their messages are never rewritten."""

    def __init__(self) -> None:
        self._seen: list[BaseException] = []

    def call(self, f: Callable[..., Any], *args: Any) -> Any:
        """``f(*args)``, remembering an error it raises."""
        try:
            return f(*args)
        except BaseException as error:
            self._seen.append(error)
            raise

    def caused(self, error: BaseException | None) -> bool:
        """Whether ``error`` is (or was raised while handling) an error of f."""
        while error is not None:
            if any(error is seen for seen in self._seen):
                return True
            error = error.__cause__ or error.__context__
        return False


@contextlib.contextmanager
def callers_errors(
    layout: _tree.Layout, used: Sequence[int], local: Mapping[int, npt.NDArray[np.intp]],
    raised_by_f: RaisedByF | None = None,
) -> Iterator[None]:
    """Re-raise a TypeError/ValueError of the sampled check with its elements in x's names.

    Errors of the caller's f (those ``raised_by_f`` saw) keep their own messages.
    """
    try:
        yield
    except (TypeError, ValueError) as error:
        if raised_by_f is not None and raised_by_f.caused(error):
            raise

        def name(match: re.Match[str]) -> str:
            j, position = int(match.group(1)), int(match.group(2))
            if j >= len(used) or position >= len(local[used[j]]):
                return match.group(0)
            return layout.describe(layout.offsets[used[j]] + int(local[used[j]][position]))

        text = _INTERNAL.sub(name, str(error))
        if type(error) not in (TypeError, ValueError) or text == str(error):
            raise
        raise type(error)(text) from error
