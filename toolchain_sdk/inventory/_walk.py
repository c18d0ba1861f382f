"""One pass over a parsed file: governed surfaces, unmanaged model calls and ``configure(audit=...)``.

Decorators are recognised under any import form (``import toolchain_sdk as tc``, ``from
toolchain_sdk import governed_call as gc``, ``toolchain_sdk.governed_call``) by expanding the
callee through the module's import aliases. A model call is managed when it sits, lexically,
inside a governed function or a ``with governed(...)`` block.
"""

from __future__ import annotations

import ast
import builtins
from collections import ChainMap
from collections.abc import Mapping, Sequence
from typing import Final, Literal

from toolchain_sdk.inventory._clients import ClientResolver
from toolchain_sdk.inventory._findings import FileFindings, RawSurface, Unmanaged
from toolchain_sdk.inventory._module import ModuleFacts, ValueReader, dotted_name, read_module
from toolchain_sdk.inventory._values import DYNAMIC, Call, Concat, Const, Dynamic, Value

__all__ = ["GOVERNED_BLOCK", "GOVERNED_CALL", "walk_file"]

GOVERNED_CALL: Final = frozenset({"toolchain_sdk.governed_call", "toolchain_sdk.governed.governed_call"})
GOVERNED_BLOCK: Final = frozenset({"toolchain_sdk.governed", "toolchain_sdk.governed.governed"})
_CONFIGURE: Final = frozenset({"toolchain_sdk.configure", "toolchain_sdk._setup.configure"})
_UNKNOWN: Final = ast.Constant(None)
"""Stands for a value bound by something other than an assignment (a parameter, a loop variable)."""

Scope = Mapping[str, Sequence[ast.expr]]
_Func = ast.FunctionDef | ast.AsyncFunctionDef


def _bind(target: ast.expr, value: ast.expr, into: dict[str, list[ast.expr]]) -> None:
    if isinstance(target, ast.Name):
        into.setdefault(target.id, []).append(value)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            _bind(elt, _UNKNOWN, into)
    elif isinstance(target, ast.Starred):
        _bind(target.value, _UNKNOWN, into)


def _local_scope(func: _Func | ast.Lambda) -> dict[str, list[ast.expr]]:
    """Every name the function binds, with the expressions assigned to it (unknown for parameters, loops...)."""
    scope: dict[str, list[ast.expr]] = {}
    a = func.args
    for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, *(x for x in (a.vararg, a.kwarg) if x is not None)]:
        scope.setdefault(arg.arg, []).append(_UNKNOWN)
    if isinstance(func, ast.Lambda):
        return scope
    return _bindings(func.body, scope)


def _bindings(body: Sequence[ast.stmt], scope: dict[str, list[ast.expr]]) -> dict[str, list[ast.expr]]:
    """Add every name the statements bind (not inside nested defs and classes) to ``scope``."""
    todo: list[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scope.setdefault(node.name, []).append(_UNKNOWN)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Assign):
            for t in node.targets:
                _bind(t, node.value, scope)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            _bind(node.target, node.value if isinstance(node, ast.AnnAssign) and node.value else _UNKNOWN, scope)
        elif isinstance(node, ast.NamedExpr):
            _bind(node.target, node.value, scope)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    _bind(item.optional_vars, item.context_expr, scope)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            _bind(node.target, _UNKNOWN, scope)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                scope.setdefault((alias.asname or alias.name).partition(".")[0], []).append(_UNKNOWN)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            scope.setdefault(node.name, []).append(_UNKNOWN)
        todo.extend(ast.iter_child_nodes(node))
    return scope


class _Walker(ast.NodeVisitor):
    """Collects surfaces and unmanaged calls, tracking the qualified name, scopes and governed regions."""

    def __init__(self, file: str, facts: ModuleFacts, calls: bool = True) -> None:
        self.calls = calls
        """Look for model calls (the file mentions a client library); without, only statements are walked."""
        self.found = FileFindings(file)
        self.file = file
        self.reader = ValueReader(facts)
        self.clients = ClientResolver(self.reader, facts.assigned)
        self.names: list[str] = []
        self.scopes: list[dict[str, list[ast.expr]] | _Func | ast.Lambda] = []
        """Enclosing functions, innermost last; each read into its bindings only when first needed."""
        self.frames: list[ast.ClassDef | None] = []
        """Enclosing class bodies and functions (``None``), innermost last: decorators written in a class
        body see the names it binds (``OWNER = ...`` on the class), the methods below them do not."""
        self.class_names: dict[int, dict[str, list[ast.expr]]] = {}
        self.managed = 0
        self.unmanaged_in: list[str] = []
        """The qualified name of the function around each unmanaged call (parallel to ``found.unmanaged``)."""
        self.wrapped: set[str] = set()
        """Functions of this file governed by ``governed_call(...)(fn)``: their calls are managed too."""

    # --- where we are ---------------------------------------------------------------------------
    def _scope(self) -> Scope:
        if not self.scopes:
            return {}
        for i, scope in enumerate(self.scopes):
            if not isinstance(scope, dict):
                self.scopes[i] = _local_scope(scope)
        maps = [m for m in reversed(self.scopes) if isinstance(m, dict)]
        return ChainMap(*maps)

    def _enclosing(self) -> str:
        names = self.names[:-1] if self.names and self.names[-1] == "<locals>" else self.names
        return ".".join(names) or "<module>"

    def _class_names(self) -> dict[str, list[ast.expr]]:
        """The names bound in the class body the walker is directly in (empty outside one)."""
        if not self.frames or self.frames[-1] is None:
            return {}
        owner = self.frames[-1]
        names = self.class_names.get(id(owner))
        if names is None:
            names = self.class_names[id(owner)] = _bindings(owner.body, {})
        return names

    # --- values ---------------------------------------------------------------------------------
    def _class_value(self, node: ast.expr, names: Mapping[str, Sequence[ast.expr]]) -> Value:
        """A value that names something the enclosing class body binds: that assignment's value when it is the
        only one and uses no other class name; anything else is only known at run time."""
        if isinstance(node, ast.Name) and len(names[node.id]) == 1:
            bound = names[node.id][0]
            if bound is not _UNKNOWN and not any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(bound)):
                return self._value(bound)
        return Dynamic("unresolved")

    def _value(self, node: ast.expr) -> Value:
        """The value of an argument; a name bound in an enclosing function is only known at run time.

        A call keeps its shape with only the arguments that use such names dynamic, so
        ``tc.approval.require(approver=make(api))`` inside a function is still an approval ``before``.
        """
        in_class = self._class_names()
        if in_class and any(isinstance(n, ast.Name) and n.id in in_class for n in ast.walk(node)):
            return self._class_value(node, in_class)
        scope = self._scope()
        if not scope:
            return self.reader.value(node)
        if isinstance(node, ast.Call):
            head = node.func
            while isinstance(head, ast.Attribute):
                head = head.value
            starred = any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords)
            if (isinstance(head, ast.Name) and head.id in scope) or starred:
                return Dynamic("unresolved")
            return Call(
                func=self.reader.expand(node.func) or ast.unparse(node.func),
                args=tuple(self._value(a) for a in node.args),
                kwargs=tuple((k.arg, self._value(k.value)) for k in node.keywords if k.arg is not None),
                text=ast.unparse(node),
            )
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return Concat((self._value(node.left), self._value(node.right)))
        if any(isinstance(n, ast.Name) and n.id in scope for n in ast.walk(node)):
            return Dynamic("unresolved")
        return self.reader.value(node)

    def _fallback(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        if isinstance(node, ast.Name) and node.id in self._class_names():
            owner = self.frames[-1]
            assert owner is not None
            defined = any(
                isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == node.id for s in owner.body
            )
            if defined and self.reader.facts.module:
                return f"{self.reader.facts.module}.{'.'.join(self.names)}.{node.id}"
            return DYNAMIC
        if isinstance(node, (ast.Name, ast.Attribute)) and not (
            isinstance(node, ast.Name) and node.id in self._scope()
        ):
            expanded = self.reader.expand(node)
            written = dotted_name(node)
            head = written.partition(".")[0] if written else None
            if head is not None and head not in self.reader.facts.constants and hasattr(builtins, head):
                return f"builtins.{expanded}"
            if expanded is not None and head not in self.reader.facts.aliases and self.reader.facts.module:
                return f"{self.reader.facts.module}.{expanded}"
            if expanded is not None:
                return expanded
        return ast.unparse(node)

    def _governed(self, node: ast.expr, names: frozenset[str]) -> ast.Call | None:
        if isinstance(node, ast.Call) and self.reader.expand(node.func) in names:
            return node
        return None

    def _surface(
        self, call: ast.Call, line: int, function: str, form: Literal["decorator", "with", "async with", "call"]
    ) -> None:
        surface: Value = self._value(call.args[0]) if call.args else Dynamic()
        options: list[tuple[str, Value]] = []
        fallback: str | None = None
        starred = any(isinstance(a, ast.Starred) for a in call.args)
        for kw in call.keywords:
            if kw.arg is None:
                starred = True
            elif kw.arg == "surface":
                surface = self._value(kw.value)
            elif kw.arg == "fallback":
                fallback = self._fallback(kw.value)
                options.append(("fallback", Const(None) if fallback is None else Const(fallback)))
            else:
                options.append((kw.arg, self._value(kw.value)))
        self.found.surfaces.append(
            RawSurface(self.file, line, function, form, surface, tuple(options), fallback, starred)
        )

    # --- visitors -------------------------------------------------------------------------------
    def generic_visit(self, node: ast.AST) -> None:
        """Everything when looking for model calls; else only nested statements (and calls made as statements)."""
        if self.calls:
            super().generic_visit(node)
            return
        if isinstance(node, (ast.Expr, ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
            self.visit_Call(node.value)  # a call made as a statement, or assigned (``f = governed_call(...)(g)``)
            return
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(node, name, None) or ():
                if isinstance(child, ast.AST):
                    self.visit(child)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        self.names.append(node.name)
        self.frames.append(node)
        for stmt in node.body:
            self.visit(stmt)
        self.frames.pop()
        self.names.pop()

    def _function(self, node: _Func) -> None:
        qualname = ".".join([*self.names, node.name])
        governed = False
        for dec in node.decorator_list:
            call = self._governed(dec, GOVERNED_CALL)
            if call is not None:
                self._surface(call, dec.lineno, qualname, "decorator")
                governed = True
            self.visit(dec)
        for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
            self.visit(default)
        self.names += [node.name, "<locals>"]
        self.scopes.append(node)
        self.frames.append(None)
        self.managed += governed
        for stmt in node.body:
            self.visit(stmt)
        self.managed -= governed
        self.frames.pop()
        self.scopes.pop()
        del self.names[-2:]

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.scopes.append(node)
        self.frames.append(None)
        self.visit(node.body)
        self.frames.pop()
        self.scopes.pop()

    def _with(self, node: ast.With | ast.AsyncWith, form: Literal["with", "async with"]) -> None:
        governed = False
        for item in node.items:
            call = self._governed(item.context_expr, GOVERNED_BLOCK)
            if call is not None:
                self._surface(call, node.lineno, self._enclosing(), form)
                governed = True
            self.visit(item.context_expr)
        self.managed += governed
        for stmt in node.body:
            self.visit(stmt)
        self.managed -= governed

    def _wrapping(self, call: ast.Call, target: ast.expr, line: int) -> None:
        """``governed_call(...)(target)``: a surface named for what it wraps; a function of this file is governed."""
        if isinstance(target, ast.Name) and not self.scopes:
            function = ".".join([*self.names, target.id])
            self.wrapped.add(function)
        else:
            function = self.reader.expand(target) or ast.unparse(target)
        self._surface(call, line, function, "call")

    def visit_With(self, node: ast.With) -> None:
        self._with(node, "with")

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        self._with(node, "async with")

    def visit_Call(self, node: ast.Call) -> None:
        if self.calls and not self.managed and self.clients.candidate(node):
            hit = self.clients.match(node, self._scope())
            if hit is not None:
                self.found.unmanaged.append(Unmanaged(self.file, node.lineno, hit[0], hit[1]))
                self.unmanaged_in.append(self._enclosing())
        if isinstance(node.func, ast.Call) and node.args and self._governed(node.func, GOVERNED_CALL) is not None:
            self._wrapping(node.func, node.args[0], node.lineno)
        if self.reader.expand(node.func) in _CONFIGURE:
            for kw in node.keywords:
                if kw.arg == "audit":
                    self.found.audit.append(self._value(kw.value))
        self.generic_visit(node)


def walk_file(
    tree: ast.Module, file: str, module: str, *, is_package: bool = False, calls: bool = True
) -> FileFindings:
    """Read one parsed file: its module facts (for other files' constants) and what it declares and calls.

    ``calls=False`` (the file names no client library) skips the search for model calls, so only
    statements are walked, not every expression.
    """
    facts = read_module(tree, module, is_package=is_package)
    walker = _Walker(file, facts, calls)
    for stmt in tree.body:
        walker.visit(stmt)
    if walker.wrapped:  # a call inside a function wrapped by governed_call(...)(fn) is managed after all
        kept = [
            u
            for u, where in zip(walker.found.unmanaged, walker.unmanaged_in, strict=True)
            if not any(where == w or where.startswith(f"{w}.") for w in walker.wrapped)
        ]
        walker.found.unmanaged = kept
    facts.assigned = {}
    walker.found.facts = facts
    return walker.found
