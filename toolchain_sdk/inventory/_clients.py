"""Which calls are direct calls to an LLM client library, and what a call's receiver is.

A receiver is resolved by following assignments in the same function, then at module level
(``client = OpenAI()`` at the top of a module), or a constructor called in place
(``anthropic.Anthropic().messages.create(...)``). A receiver that cannot be resolved is not
reported: the scan lists what it can show, never guesses.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Final

from toolchain_sdk.inventory._module import ValueReader
from toolchain_sdk.inventory._values import Const

__all__ = ["CLIENT_FUNCTIONS", "CONSTRUCTORS", "METHODS", "MODULE_CLIENTS", "TOKENS", "ClientResolver"]

CONSTRUCTORS: Final[Mapping[str, str]] = {
    **{f"openai.{c}": "openai" for c in ("OpenAI", "AsyncOpenAI", "AzureOpenAI", "AsyncAzureOpenAI")},
    **{
        f"anthropic.{c}": "anthropic"
        for c in (
            "Anthropic",
            "AsyncAnthropic",
            "AnthropicBedrock",
            "AsyncAnthropicBedrock",
            "AnthropicVertex",
            "AsyncAnthropicVertex",
        )
    },
    "google.genai.Client": "google.genai",
    "google.genai.client.Client": "google.genai",
    "langchain_openai.ChatOpenAI": "langchain",
    "langchain_openai.AzureChatOpenAI": "langchain",
    "langchain_openai.chat_models.ChatOpenAI": "langchain",
    "langchain_anthropic.ChatAnthropic": "langchain",
    "langchain_anthropic.chat_models.ChatAnthropic": "langchain",
}
"""Callee (after import aliases) → the kind of client object it builds."""

MODULE_CLIENTS: Final[Mapping[str, str]] = {"openai": "openai"}
"""Modules that are themselves a client (``openai.chat.completions.create`` on the module's default client)."""

_CHAT = ("invoke", "ainvoke", "stream", "astream")
METHODS: Final[Mapping[str, frozenset[tuple[str, ...]]]] = {
    "openai": frozenset(
        {
            ("chat", "completions", "create"),
            ("responses", "create"),
            ("embeddings", "create"),
            ("beta", "chat", "completions", "parse"),
            ("chat", "completions", "parse"),
        }
    ),
    "anthropic": frozenset({("messages", "create"), ("messages", "stream"), ("beta", "messages", "create")}),
    "google.genai": frozenset(
        {
            ("models", "generate_content"),
            ("models", "generate_content_stream"),
            ("aio", "models", "generate_content"),
            ("aio", "models", "generate_content_stream"),
        }
    ),
    "boto3": frozenset(
        {("invoke_model",), ("invoke_model_with_response_stream",), ("converse",), ("converse_stream",)}
    ),
    "langchain": frozenset((m,) for m in _CHAT),
}
"""Kind of client → the method paths on it that call a model."""

CLIENT_FUNCTIONS: Final[Mapping[str, str]] = {
    "litellm.completion": "litellm",
    "litellm.acompletion": "litellm",
    "litellm.main.completion": "litellm",
    "litellm.main.acompletion": "litellm",
}
"""Module functions that call a model directly."""

TOKENS: Final = (b"openai", b"anthropic", b"genai", b"bedrock", b"litellm", b"langchain")
"""Bytes a file must contain to be worth reading for unmanaged calls (the fast pre-filter)."""

_LAST = frozenset(path[-1] for paths in METHODS.values() for path in paths)
_BEDROCK = "bedrock-runtime"
_SESSIONS = frozenset({"boto3.Session", "boto3.session.Session"})
_DEPTH = 8


class ClientResolver:
    """Decides whether a call expression calls a model, in the scopes that enclose it."""

    def __init__(self, reader: ValueReader, module_assigned: Mapping[str, Sequence[ast.expr]]) -> None:
        self.reader = reader
        self.module_assigned = module_assigned

    def candidate(self, node: ast.Call) -> bool:
        """A cheap syntactic test: could ``node`` be a model call at all (its last name is one we know)?"""
        func = node.func
        if isinstance(func, ast.Attribute):
            return func.attr in _LAST or self.reader.expand(func) in CLIENT_FUNCTIONS
        return isinstance(func, ast.Name) and self.reader.expand(func) in CLIENT_FUNCTIONS

    def match(self, node: ast.Call, scope: Mapping[str, Sequence[ast.expr]]) -> tuple[str, str] | None:
        """``(library, call as written)`` when ``node`` calls a model, else ``None``."""
        callee = self.reader.expand(node.func)
        if callee is not None and callee in CLIENT_FUNCTIONS and self._not_shadowed(node.func, scope):
            return CLIENT_FUNCTIONS[callee], ast.unparse(node.func)
        path: list[str] = []
        base: ast.expr = node.func
        while isinstance(base, ast.Attribute):
            path.insert(0, base.attr)
            base = base.value
            kind = self.kind(base, scope, 0)
            if kind is not None and tuple(path) in METHODS.get(kind, ()):
                return kind, ast.unparse(node.func)
        return None

    def _not_shadowed(self, func: ast.expr, scope: Mapping[str, Sequence[ast.expr]]) -> bool:
        head = func
        while isinstance(head, ast.Attribute):
            head = head.value
        return not (isinstance(head, ast.Name) and head.id in scope)

    def kind(self, node: ast.expr, scope: Mapping[str, Sequence[ast.expr]], depth: int) -> str | None:
        """The kind of client ``node`` evaluates to (``openai``, ``boto3``, ...), or ``None``."""
        if depth > _DEPTH:
            return None
        if isinstance(node, ast.Call):
            return self._built(node, scope, depth)
        if isinstance(node, ast.Name):
            values = scope.get(node.id)
            if values is None:
                values = self.module_assigned.get(node.id)
                scope = {}
            if values is not None:
                kinds = {self.kind(v, scope, depth + 1) for v in values}
                return kinds.pop() if len(kinds) == 1 else None
            alias = self.reader.facts.aliases.get(node.id)
            return MODULE_CLIENTS.get(alias) if alias else None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            expanded = self.reader.expand(node)
            return MODULE_CLIENTS.get(expanded) if expanded else None
        return None

    def _built(self, node: ast.Call, scope: Mapping[str, Sequence[ast.expr]], depth: int) -> str | None:
        callee = self.reader.expand(node.func)
        if callee is not None and callee in CONSTRUCTORS:
            return CONSTRUCTORS[callee]
        if callee in _SESSIONS:
            return "boto3.session"
        is_client = callee in ("boto3.client", "boto3.session.Session.client")
        if (
            not is_client
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "client"
            and self.kind(node.func.value, scope, depth + 1) == "boto3.session"
        ):
            is_client = True
        if is_client:
            service = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg == "service_name"), None)  # fmt: skip
            if service is not None and self.reader.value(service) == Const(_BEDROCK):
                return "boto3"
        return None
