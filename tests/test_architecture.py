"""The house as ``shared/design/architecture.md`` draws it: imports point down the floors, and never in a circle.

Floors, bottom to top: core → privacy → tracking → features → models → training | strategy → serving → xmo.
Training and strategy stand side by side and never import each other. Imports are read from the source (every
``import`` statement, function-level ones included), so a lazy import cannot hide an arrow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLOORS = {
    "core": 0,
    "privacy": 1,
    "tracking": 2,
    "features": 3,
    "models": 4,
    "training": 5,
    "strategy": 5,
    "serving": 6,
    "xmo": 7,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in FLOORS
        for path in sorted((REPO / package).rglob("*.py"))
        if "migrations" not in path.parts
    }


def _imported_names(name: str, path: Path) -> Iterator[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _owning_module(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


@cache
def _import_graph() -> dict[str, frozenset[str]]:
    modules = _modules()
    graph: dict[str, frozenset[str]] = {}
    for name, path in modules.items():
        targets = {
            owner
            for imported in _imported_names(name, path)
            if imported.split(".")[0] in FLOORS
            and (owner := _owning_module(imported, modules)) is not None
            and owner != name
        }
        graph[name] = frozenset(targets)
    return graph


def _floor(module: str) -> int:
    return FLOORS[module.split(".", maxsplit=1)[0]]


def _cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root, targets in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(targets)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
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
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_the_graph_is_read_from_every_package() -> None:
    graph = _import_graph()
    assert {name.split(".")[0] for name in graph} == set(FLOORS)
    assert {"strategy.effectiveness", "tracking.spend", "core.settings"} <= graph["strategy.report"]
    assert "training.tuning" in graph["training.train"]


def test_no_module_imports_a_module_on_a_higher_floor() -> None:
    upward = [
        f"{source} -> {target}"
        for source, targets in _import_graph().items()
        for target in sorted(targets)
        if _floor(target) > _floor(source)
    ]
    assert upward == []


def test_training_and_strategy_stand_side_by_side() -> None:
    across = [
        f"{source} -> {target}"
        for source, targets in _import_graph().items()
        for target in sorted(targets)
        if {source.split(".")[0], target.split(".")[0]} == {"training", "strategy"}
    ]
    assert across == []


def test_no_two_modules_import_each_other() -> None:
    assert _cycles(dict(_import_graph())) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert _cycles(graph) == [["a", "b", "c"]]
