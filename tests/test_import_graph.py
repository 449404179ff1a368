"""No first-party module imports itself back, however far round.

A cycle makes the import order matter: whichever module Python reaches first
sees the other half-initialised, so code grows ``getattr(module, "name", None)``
guards and imports tucked into functions to live with it. A function-level
import still closes the loop (it only postpones it), so every import counts
here: module level, class and function bodies alike; only ``if TYPE_CHECKING:``
blocks, which never run, are left out. The source files are read with ``ast``
(nothing is imported). ``from pkg import name`` counts as importing
``pkg.name`` when that is a module, else ``pkg``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "accounts",
    "bench",
    "chat",
    "config",
    "console",
    "demo",
    "graph",
    "graphsim",
    "integrations",
    "mailboxes",
    "presence",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        if (ROOT / package).is_dir()
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(body: list[ast.stmt]):
    """Every import statement of this body, at any depth, outside TYPE_CHECKING blocks."""
    for node in body:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports(node.orelse)
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import | ast.ImportFrom):
                yield inner


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom, known) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    targets = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        targets.add(submodule if submodule in known else base)
    return targets


def import_graph() -> dict[str, set[str]]:
    """{module: the first-party modules it imports}."""
    sources = _sources()
    graph: dict[str, set[str]] = {}
    for module, path in sources.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges = set()
        for node in _imports(tree.body):
            edges |= {t for t in _imported(module, path, node, sources) if t in sources}
        edges.discard(module)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a → … → a) through each strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        # Tarjan's algorithm; the graph is a few hundred modules, recursion is fine.
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_in(graph, group) for group in groups]


def _cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group has one


def test_the_finder_reports_a_cycle_it_is_shown():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_in_functions_count_and_type_checking_ones_do_not():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import hinted\n"
        "def later():\n    import deferred\n"
        "class Loaded:\n    import eager\n"
    )
    names = {alias.name for node in _imports(tree.body) for alias in node.names}
    assert names == {"TYPE_CHECKING", "deferred", "eager"}


def test_the_graph_sees_submodules_named_in_from_imports():
    graph = import_graph()
    # from presence.to_acd import sync as to_acd
    assert "presence.to_acd.sync" in graph["presence.to_acd.tasks"]
    # from presence.sync_models import AcdDelivery, AcdEndpoint
    assert "presence.sync_models" in graph["presence.to_acd.delivery"]


def test_no_first_party_module_imports_itself_back():
    found = cycles(import_graph())
    assert found == [], "import cycles:\n" + "\n".join(" → ".join(cycle) for cycle in found)
