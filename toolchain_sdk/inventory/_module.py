"""One module as the static scan sees it: its import aliases and module-level constants.

Both are read from the ``ast`` without importing anything. An alias maps a local name to the dotted
name it stands for (``tc`` → ``toolchain_sdk``, ``gc`` → ``toolchain_sdk.governed_call``); a
constant is a module-level name assigned exactly once, kept as a ``Value`` so a name imported from
another module can be followed later.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from toolchain_sdk.inventory._values import Call, Concat, Const, Dynamic, Ref, Value

__all__ = ["ModuleFacts", "ValueReader", "dotted_name", "read_module"]


@dataclass
class ModuleFacts:
    """What other modules may import from one module: its aliases and constants."""

    module: str
    aliases: dict[str, str] = field(default_factory=dict)
    constants: dict[str, Value] = field(default_factory=dict)
    assigned: dict[str, list[ast.expr]] = field(default_factory=dict)
    """Every module-level assignment by name (for resolving client objects in the same file)."""


def dotted_name(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else ``None``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if module else []
    keep = len(base) - node.level + (1 if is_package else 0)
    base = base[: max(keep, 0)]
    return ".".join([*base, node.module] if node.module else base)


class ValueReader:
    """Turns an argument's expression into a ``Value`` using one module's aliases and constants."""

    def __init__(self, facts: ModuleFacts) -> None:
        self.facts = facts

    def expand(self, node: ast.expr) -> str | None:
        """The dotted name ``node`` stands for after import aliases (``tc.governed`` → ``toolchain_sdk.governed``)."""
        name = dotted_name(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        base = self.facts.aliases.get(head)
        if base is None:
            return name
        return f"{base}.{rest}" if rest else base

    def value(self, node: ast.expr) -> Value:
        """The ``Value`` of ``node`` (``Dynamic`` when it depends on anything but constants)."""
        if isinstance(node, ast.Constant):
            v = node.value
            return Const(v) if v is None or isinstance(v, (str, int, float, bool)) else Dynamic()
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Attribute):
            head = dotted_name(node)
            if head is not None and head.partition(".")[0] in self.facts.aliases:
                expanded = self.expand(node)
                return Ref(expanded) if expanded else Dynamic("unresolved")
            return Dynamic("unresolved")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return Concat((self.value(node.left), self.value(node.right)))
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        return Dynamic()

    def _name(self, name: str) -> Value:
        if name in self.facts.constants:
            return self.facts.constants[name]
        if name in self.facts.aliases:
            return Ref(self.facts.aliases[name])
        return Dynamic("unresolved")

    def _fstring(self, node: ast.JoinedStr) -> Value:
        parts: list[Value] = []
        for piece in node.values:
            if isinstance(piece, ast.Constant):
                parts.append(self.value(piece))
            elif isinstance(piece, ast.FormattedValue) and piece.conversion == -1 and piece.format_spec is None:
                parts.append(self.value(piece.value))
            else:
                return Dynamic()
        return Concat(tuple(parts))

    def call(self, node: ast.Call) -> Value:
        """A ``Call`` value (callee expanded through aliases); ``Dynamic`` for ``*args`` / ``**kwargs``."""
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            return Dynamic("starred")
        func = self.expand(node.func) or ast.unparse(node.func)
        return Call(
            func=func,
            args=tuple(self.value(a) for a in node.args),
            kwargs=tuple((k.arg, self.value(k.value)) for k in node.keywords if k.arg is not None),
            text=ast.unparse(node),
        )


def _targets(node: ast.stmt) -> list[tuple[str, ast.expr]]:
    if isinstance(node, ast.Assign):
        return [(t.id, node.value) for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and node.value is not None and isinstance(node.target, ast.Name):
        return [(node.target.id, node.value)]
    return []


def read_module(tree: ast.Module, module: str, *, is_package: bool = False) -> ModuleFacts:
    """The aliases and constants of a parsed module (top-level statements only).

    A name assigned more than once at the top level (or also bound by ``for``/``with``/``def``) is
    ``Dynamic``: which value it holds depends on the program's path.
    """
    facts = ModuleFacts(module)
    for node in tree.body:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    facts.aliases[a.asname] = a.name
                else:
                    head = a.name.partition(".")[0]
                    facts.aliases[head] = head
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node)
            for a in node.names:
                if a.name != "*":
                    facts.aliases[a.asname or a.name] = f"{base}.{a.name}" if base else a.name
        else:
            for name, value in _targets(node):
                facts.assigned.setdefault(name, []).append(value)
    reader = ValueReader(facts)
    for name, values in facts.assigned.items():
        if len(values) == 1:
            facts.constants[name] = reader.value(values[0])
        else:
            facts.constants[name] = Dynamic()
        facts.aliases.pop(name, None)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in facts.constants:
            facts.constants[node.name] = Dynamic()
    return facts
