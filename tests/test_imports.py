"""The package's import graph: no cycles, leaves stay leaves, nothing imports upward or into another's privates.

Read from the source with ``ast`` (nothing is imported), so a cycle that only a lazy import inside
a function would close is caught too. Imports under ``if TYPE_CHECKING:`` are left out: they
never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "toolchain_sdk"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

LEAVES = {"toolchain_sdk.config", "toolchain_sdk.semconv", "toolchain_sdk.hashing", "toolchain_sdk.errors",
          "toolchain_sdk._version"}  # fmt: skip
"""Modules every layer may use; they import nothing of the package but each other."""
TOP = {"toolchain_sdk", "toolchain_sdk.governed", "toolchain_sdk._setup", "toolchain_sdk.cli",
       "toolchain_sdk.testing", "toolchain_sdk.__main__"}  # fmt: skip
"""Composition and entry points: no subsystem may import them."""
CLI = "toolchain_sdk.cli"
DEPRECATED_SHIMS = {"toolchain_sdk.flag_file", "toolchain_sdk.flag_sources", "toolchain_sdk.approval_store"}
"""Thin re-exports of moved modules (see CHANGELOG.md); they reach into their new private homes."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _imports_of(child))
            continue
        yield from _imports_of(node)


def _imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    elif not (isinstance(node, ast.If) and _is_type_checking(node)):
        yield from _imports(node)


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    is_package = MODULES[importer].name == "__init__.py"
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


def _edges(importer: str) -> set[str]:
    """The package modules ``importer`` imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    tree = ast.parse(MODULES[importer].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
            continue
        module = _resolve(importer, node)
        if module.split(".")[0] != PACKAGE:
            continue
        for alias in node.names:
            candidate = f"{module}.{alias.name}"
            found.add(candidate if candidate in MODULES else module)
    found.discard(importer)
    return {m for m in found if m in MODULES}


GRAPH = {name: _edges(name) for name in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(GRAPH[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    return found


def test_the_walker_sees_the_package() -> None:
    """The graph covers every subpackage and finds real edges (so an empty graph cannot pass)."""
    for sub in ("_core", "tracing", "flags", "fallbacks", "approval", "approval.store", "prompts", "inventory"):
        assert f"{PACKAGE}.{sub}" in MODULES
    assert "toolchain_sdk._core.pipeline" in GRAPH["toolchain_sdk._core.wrap"]
    assert "toolchain_sdk.flags" in GRAPH["toolchain_sdk.governed"]


def test_a_cycle_would_be_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cycle finder reports a cycle planted into the real graph."""
    monkeypatch.setitem(GRAPH, "toolchain_sdk.semconv", {"toolchain_sdk._core.pipeline"})
    assert any("toolchain_sdk.semconv" in c for c in _cycles())


def test_no_import_cycles() -> None:
    """No two modules of the package import each other, directly or through others."""
    assert _cycles() == []


def test_leaves_import_only_leaves() -> None:
    """config, semconv, hashing, errors and _version depend on no subsystem."""
    bad = {leaf: sorted(GRAPH[leaf] - LEAVES) for leaf in LEAVES if GRAPH[leaf] - LEAVES}
    assert bad == {}


def test_nothing_imports_upward() -> None:
    """No subsystem imports the package root, governed, _setup, the CLI or testing."""
    bad = {m: sorted(GRAPH[m] & TOP) for m in GRAPH if m not in TOP and GRAPH[m] & TOP}
    assert bad == {}


def _owner_of_private(module: str) -> str | None:
    """The package a private module belongs to (``a.b._c.d`` → ``a.b``); ``None`` for public paths.

    ``_core`` is the shared per-call machinery: every subsystem may use it.
    """
    parts = module.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_") and part != "_core":
            return ".".join(parts[:i])
    return None


def test_no_module_reaches_into_another_packages_privates() -> None:
    """A private module is imported only from inside the package that owns it."""
    bad: dict[str, list[str]] = {}
    for importer, targets in GRAPH.items():
        if importer in DEPRECATED_SHIMS:
            continue
        for target in targets:
            owner = _owner_of_private(target)
            if importer == CLI and target.endswith("._cli"):
                continue  # the `toolchain` command assembles each subsystem's own _cli module
            if owner is not None and not (importer == owner or importer.startswith(owner + ".")):
                bad.setdefault(importer, []).append(target)
    assert bad == {}
