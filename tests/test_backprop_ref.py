"""The package as a whole: its public names, and the Examples of its docstrings as doctests."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

import backprop_ref

MODULES = [
    importlib.import_module(info.name)
    for info in pkgutil.walk_packages(backprop_ref.__path__, "backprop_ref.")
]


def test_public_names_are_the_contract() -> None:
    # The order of __all__ is ruff's (RUF022); here, the names.
    assert len(set(backprop_ref.__all__)) == len(backprop_ref.__all__)
    assert set(backprop_ref.__all__) == {
        "Layer", "MLP", "Objective", "diagnosis_hints", "flatten", "train", "unflatten"
    }
    for name in backprop_ref.__all__:
        assert getattr(backprop_ref, name) is not None


@pytest.mark.parametrize(
    "function",
    [
        backprop_ref.MLP,
        backprop_ref.MLP.init_params,
        backprop_ref.MLP.predict,
        backprop_ref.MLP.cost,
        backprop_ref.MLP.cost_and_gradient,
        backprop_ref.MLP.cost_and_gradient_loop,
        backprop_ref.train,
        backprop_ref.flatten,
        backprop_ref.unflatten,
    ],
    ids=lambda function: function.__qualname__,
)
def test_public_docstrings_have_an_example(function: object) -> None:
    doc = function.__doc__ or ""
    assert "Examples\n" in doc and ">>> " in doc


@pytest.mark.parametrize("module", [backprop_ref, *MODULES], ids=lambda module: module.__name__)
def test_docstring_examples_run(module: ModuleType) -> None:
    failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False, report=True)
    assert failed == 0  # doctest has printed the failures above


def test_doctests_are_found() -> None:
    attempted = sum(doctest.testmod(module, verbose=False).attempted for module in MODULES)
    assert attempted >= 9
