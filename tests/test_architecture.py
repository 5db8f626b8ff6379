"""The import graph of the project: no cycle between modules, and the layering of
../shared/DESIGN.md (``kit`` imports nothing of ours; each shell imports ``kit`` and
``clisupport`` only; ``clisupport`` imports ``kit`` only).

Every import statement counts, at module level or inside a function (a lazy import
kept for start-up time still runs, so it may not hide a cycle); imports under ``if
TYPE_CHECKING:`` never run and are left out. Importing ``a.b.c`` runs ``a/__init__``
and ``a/b/__init__`` too; like import-linter and pydeps we do not count those implicit
edges, only the module each statement names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Which of our top-level packages each may import (DESIGN.md "Layout"; docs/adr/0006).
ALLOWED: dict[str, frozenset[str]] = {
    "kit": frozenset(),
    "clisupport": frozenset({"kit"}),
    "bundler": frozenset({"kit", "clisupport"}),
    "verifier": frozenset({"kit", "clisupport"}),
    "appliance": frozenset({"kit", "clisupport"}),
    "agent": frozenset({"kit", "clisupport"}),
}
PACKAGES = tuple(p for p in ALLOWED if (ROOT / p / "__init__.py").is_file())


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: nested ones included, TYPE_CHECKING blocks not."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if isinstance(node, ast.If) and _type_checking_only(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that *name*'s import statements name."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from a.b import c`` names the module a.b.c when there is one, else a.b.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        for target in targets:
            while target and target not in modules:     # ``import a.b.c`` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target.split(".")[0] in ALLOWED:
                found.add(target)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_the_graph_covers_every_package() -> None:
    graph = import_graph()
    assert {name.split(".")[0] for name in graph} == set(PACKAGES)
    assert len(graph) > 150
    # the walker sees imports inside functions: appliance.commands.opening imports the
    # import recovery lazily (only when staging holds something)
    assert "appliance.importing.commit" in graph["appliance.commands.opening"]


def test_no_import_cycle_between_modules() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (move what both sides need down a level):\n" + "\n".join(
        " <-> ".join(component) for component in found)


def test_layering_of_design_md() -> None:
    graph = import_graph()
    broken = sorted(f"{name} imports {target}" for name, targets in graph.items() for target in targets
                    if target.split(".")[0] != name.split(".")[0]
                    and target.split(".")[0] not in ALLOWED[name.split(".")[0]])
    assert not broken, "imports that break the layering of DESIGN.md:\n" + "\n".join(broken)


def test_kit_is_pure() -> None:
    """The functional core does no I/O of its own kind: no CLI, database, network or Docker."""
    forbidden = {"click", "rich", "sqlite3", "sqlite_utils", "docker", "httpx", "oras", "requests", "socket"}
    offenders = []
    for name, path in project_modules().items():
        if not name.startswith("kit"):
            continue
        for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            offenders += [f"{name} imports {n}" for n in names if n.split(".")[0] in forbidden]
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set(), "c": {"b"}}, []),
])
def test_cycle_finder(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_a_lazy_import_cycle_is_found(tmp_path: Path) -> None:
    """The two cycles issue 11 found were hidden in function bodies: such an import counts,
    one under TYPE_CHECKING does not."""
    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    a.write_text("import kit.b\n")
    b.write_text("def f():\n    from kit import a\n    return a\n")
    c.write_text("from typing import TYPE_CHECKING\nimport kit.a\nif TYPE_CHECKING:\n    from kit import c\n")
    modules = {"kit.a": a, "kit.b": b, "kit.c": c}
    graph = {name: imported_modules(name, path, modules) for name, path in modules.items()}
    assert graph == {"kit.a": {"kit.b"}, "kit.b": {"kit.a"}, "kit.c": {"kit.a"}}
    assert cycles(graph) == [["kit.a", "kit.b"]]
