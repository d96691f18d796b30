"""The layout's rules, checked on the source: every import points down the layers, no module
imports another in a circle, and only the store speaks SQL."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("assetgw", "gateway", "connectors", "simulators", "infra", "schemas")
# What each top-level package may import besides itself. The simulators stand for independent
# institutions: they share only the contract (schemas) with us.
ALLOWED = {
    "schemas": set(),
    "infra": {"schemas"},
    "simulators": {"schemas"},
    "connectors": {"infra", "schemas"},
    "gateway": {"infra", "schemas"},
    "assetgw": {"gateway", "connectors", "simulators", "infra", "schemas"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules this one imports (``from a.b import c`` counts a.b.c when that is a module)."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)
    return {m for m in out if m.split(".")[0] in PACKAGES and m in MODULES}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_down_the_layers(package: str) -> None:
    wrong = sorted(f"{name} imports {target}" for name, targets in GRAPH.items() if name.split(".")[0] == package
                   for target in targets if target.split(".")[0] not in ALLOWED[package] | {package})
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components over the module graph (package __init__ files that
    only re-export are modules too): any component of two or more is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def _importers(driver: str) -> set[str]:
    """Modules that import ``driver`` or one of its submodules (``psycopg_pool`` counts as psycopg's)."""
    def imports(node: ast.AST) -> set[str]:
        if isinstance(node, ast.Import):
            return {a.name for a in node.names}
        return {node.module or ""} if isinstance(node, ast.ImportFrom) and not node.level else set()

    return {name for name, path in MODULES.items()
            if any(n.split(".")[0].startswith(driver) for node in ast.walk(ast.parse(path.read_text())) for n in imports(node))}


def test_only_the_stores_import_sqlite3() -> None:
    # The gateway's SQLite store, and the simulators' own (an institution keeps its books its own way).
    users = sorted(name for name in _importers("sqlite3") if not name.startswith(("gateway.store.sqlite", "simulators.store")))
    assert not users, users


def test_only_the_postgres_store_imports_psycopg() -> None:
    users = sorted(name for name in _importers("psycopg") if not name.startswith("gateway.store.postgres"))
    assert not users, users
