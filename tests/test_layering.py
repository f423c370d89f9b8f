"""The import graph between the package's folders has no circles, and the lower layers know
nothing of the upper ones (DESIGN.md's shape: routes -> services -> storage)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "qarion_pypi"


def _unit(module: str) -> str | None:
    """The folder a module belongs to (``services`` by feature), or its own name at the top."""
    parts = module.split(".")
    if parts[0] != "qarion_pypi" or len(parts) == 1:
        return None
    if parts[1] == "services" and len(parts) > 2 and (PACKAGE / "services" / parts[2]).is_dir():
        return f"services.{parts[2]}"
    return parts[1]


def _exists(unit: str) -> bool:
    path = PACKAGE / unit.replace(".", "/")
    return path.is_dir() or path.with_suffix(".py").is_file()


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        source = _unit(module)
        for imported in _imports(path):
            target = _unit(imported)
            if source and target and target != source and _exists(target):
                edges.setdefault(source, set()).add(target)
    return edges


GRAPH = _graph()


def _reaches(start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(GRAPH.get(node, ()))
    return False


def test_no_folder_imports_itself_through_another() -> None:
    circles = [(a, b) for a, targets in GRAPH.items() for b in targets if _reaches(b, a)]
    assert circles == []


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        ("jobs", "services.catalog"),  # the queue knows a dispatch function, no service
        ("repositories", "services.catalog"),  # kinds serve clients; managing them sits above
        ("repositories", "scanning"),  # blocking wraps repositories from outside
        ("services.accounts", "services.catalog"),
        ("scanning", "services.catalog"),
        ("db", "repositories"),
        ("storage", "db"),
        ("simple", "repositories"),
        ("upstream", "repositories"),
        ("context", "api"),
    ],
)
def test_lower_layers_do_not_reach_upper_ones(lower: str, upper: str) -> None:
    assert not _reaches(lower, upper), f"{lower} imports {upper} (directly or through another folder)"
