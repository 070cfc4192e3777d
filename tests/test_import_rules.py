"""The import rules of DESIGN.md, read from the source with `ast` (no module is imported).

Every ``import``/``from ... import`` counts: at module level, inside functions and under
``if TYPE_CHECKING:`` (a type-only import is still a dependency that a circle needs). An edge
goes to the module named, and to ``package.name`` when that is a module itself; a package's
``__init__`` is not counted as imported by its submodules (Python runs it, but every submodule
would then sit in a circle with its package).

The rules:

- no import circle among the modules of gradcheck/ and backprop_ref/;
- nothing under gradcheck/ outside gradcheck/cli/ imports backprop_ref, directly or through
  other modules (``python -m gradcheck`` reaches it through the command line only);
- nothing in gradcheck/ imports hypothesis except the package `gradcheck.strategies`;
- backprop_ref never imports gradcheck.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gradcheck", "backprop_ref")
FACE = "gradcheck.cli"
FACE_ENTRY = "gradcheck.__main__"  # ``python -m gradcheck``: only runs the command line
HYPOTHESIS_HOME = "gradcheck.strategies"

Graph = dict[str, set[str]]


def module_name(path: Path, root: Path = ROOT) -> str:
    """gradcheck/cli/__init__.py -> gradcheck.cli; gradcheck/check.py -> gradcheck.check."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(source: str, module: str, *, is_package: bool) -> Iterator[str]:
    """Every dotted name that ``source`` imports, wherever the import statement stands."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(root: Path = ROOT) -> Graph:
    """Module -> what it imports: our modules, and other libraries by their top package."""
    files = {module_name(p, root): p for pkg in PACKAGES for p in (root / pkg).rglob("*.py")}
    graph: Graph = {}
    for module, path in files.items():
        names = imported_names(path.read_text(encoding="utf-8"), module,
                               is_package=path.name == "__init__.py")
        graph[module] = {_resolve(name, files) for name in names} - {module}
    return graph


def _resolve(name: str, modules: Iterable[str]) -> str:
    """The longest module of ours that ``name`` lies in, else its top-level package."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return parts[0]


def circles(graph: Graph) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(graph: Graph, start: str) -> set[str]:
    """Every name ``start`` imports, directly or through our modules."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def broken_rules(graph: Graph) -> list[str]:
    """One line per broken rule; empty when the graph keeps them all."""
    out = [f"import circle: {sorted(c)}" for c in circles(graph)]
    for module in sorted(graph):
        if _in(module, "gradcheck") and not _in(module, FACE) and module != FACE_ENTRY:
            if "backprop_ref" in reachable(graph, module):
                out.append(f"{module} imports backprop_ref (only {FACE} may)")
            if "hypothesis" in graph[module] and not _in(module, HYPOTHESIS_HOME):
                out.append(f"{module} imports hypothesis (only gradcheck.strategies may)")
        if _in(module, "backprop_ref") and any(_in(n, "gradcheck") for n in graph[module]):
            out.append(f"{module} imports gradcheck")
    return out


def _sabotaged(edges: Iterable[tuple[str, str]]) -> Graph:
    graph = {module: set(names) for module, names in import_graph().items()}
    for source, target in edges:
        graph[source].add(target)
    return graph


def test_the_package_keeps_the_import_rules() -> None:
    broken = broken_rules(import_graph())
    assert broken == [], "\n".join(broken)


def test_there_is_no_import_circle_at_all() -> None:
    assert circles(import_graph()) == []


def test_the_graph_sees_function_level_relative_and_type_only_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from backprop_ref.network import MLP\n"
        "def f():\n    import hypothesis.strategies\n    from . import _memo\n"
        "    from .. import _tree\n"
    )
    names = set(imported_names(source, "gradcheck.cli._verify", is_package=False))
    assert {"backprop_ref.network.MLP", "hypothesis.strategies", "gradcheck.cli._memo",
            "gradcheck._tree"} <= names
    ours = {"backprop_ref", "backprop_ref.network", "gradcheck", "gradcheck._tree"}
    assert {_resolve(name, ours) for name in names} >= {"backprop_ref.network", "hypothesis",
                                                        "gradcheck._tree"}


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ([("gradcheck.methods", "gradcheck.check")], r"import circle: \[.*'gradcheck.check'"),
        ([("gradcheck.report", "gradcheck.check")], r"import circle: \[.*report"),
        ([("gradcheck.methods", "backprop_ref")], r"gradcheck.methods imports backprop_ref"),
        ([("gradcheck.methods", "gradcheck.cli")], r"gradcheck.methods imports backprop_ref"),
        ([("gradcheck.check", "hypothesis")], r"gradcheck.check imports hypothesis"),
        ([("backprop_ref.loop", "gradcheck._tree")], r"backprop_ref.loop imports gradcheck"),
        ([("backprop_ref.vectorized", "backprop_ref.network")], r"import circle"),
    ],
)
def test_a_broken_rule_is_reported(edges: list[tuple[str, str]], message: str) -> None:
    broken = broken_rules(_sabotaged(edges))
    with pytest.raises(AssertionError, match=message):
        assert broken == [], "\n".join(broken)


CORE_FILES = 20
"""The core's module count (gradcheck/ without cli/, strategies/ and __main__.py): 48 before
issue 13, 36 after its phase 1; then options.py came, the derivative checks went from 9 modules
to 5, the partial checks from 6 to 2, diagnosis from 4 to 3, _cases.py left for cli/, and
methods.py, steps.py and verdict.py took in seven modules (22); then steps.py went into
methods.py and options.py into check.py, and the own-noise repeats from methods.py into
verdict.py, which calls them (20). The target is <= 22."""


def core_modules(root: Path = ROOT) -> list[Path]:
    """The core: every module of gradcheck/ except the command line and the strategies."""
    return [path for path in (root / "gradcheck").rglob("*.py")
            if not any(_in(module_name(path, root), part)
                       for part in (FACE, FACE_ENTRY, HYPOTHESIS_HOME))]


def test_the_core_has_the_modules_it_reached() -> None:
    # Pinned, not bounded: lower CORE_FILES as modules merge; a new file must replace another.
    assert len(core_modules()) == CORE_FILES


def _ours(graph: Graph, module: str) -> set[str]:
    return {name for name in graph[module] if _in(name, "gradcheck")}


def test_the_lower_layers_import_only_what_lies_below_them() -> None:
    # README's Architecture: tree.py is the floor, evaluators/ and diagnosis/ stand on it only.
    graph = import_graph()
    assert _ours(graph, "gradcheck.tree") == set()
    assert _ours(graph, "gradcheck.evaluators") == {"gradcheck.tree"}
    for module in graph:
        if _in(module, "gradcheck.diagnosis"):
            assert all(_in(n, "gradcheck.diagnosis") or n == "gradcheck.tree"
                       for n in _ours(graph, module)), module
