"""Reading token usage, the response model and id out of what a model client returned, by duck typing.

No client library is imported. Recognised shapes, as objects or dicts:

* OpenAI Chat Completions (a response or the final stream chunk): ``usage.prompt_tokens`` /
  ``completion_tokens``, ``prompt_tokens_details.cached_tokens``,
  ``completion_tokens_details.reasoning_tokens``, ``choices[].finish_reason``;
* OpenAI Responses (a ``Response`` or its ``response.completed`` stream event): ``usage.input_tokens``
  / ``output_tokens``, ``input_tokens_details.cached_tokens``, ``output_tokens_details.reasoning_tokens``;
* Anthropic Messages (a ``Message``, or the ``message_start`` / ``message_delta`` stream events):
  ``usage.input_tokens`` excludes cached tokens, so cache reads and writes are added to it, as the
  GenAI conventions want ``gen_ai.usage.input_tokens`` to include them; ``stop_reason``;
* LangChain chat messages (``AIMessage``): ``usage_metadata`` for tokens and
  ``response_metadata["model_name"]`` / ``["id"]``. A LangChain message's own ``id`` is the
  framework's run id, never the provider's response id, and is not taken.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from toolchain_sdk import semconv

__all__ = ["model_mismatch", "read_usage"]


def _get(obj: object, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _has(obj: object, name: str) -> bool:
    if isinstance(obj, Mapping):
        return name in obj
    return obj is not None and hasattr(obj, name)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _unwrap(response: object) -> object:
    """The object holding ``usage``: a stream event's payload where the event wraps one."""
    kind = _get(response, "type")
    if kind == "response.completed" or kind in ("response.incomplete", "response.failed"):
        return _get(response, "response")  # OpenAI Responses stream: the final event carries the Response
    if kind == "message_start":
        return _get(response, "message")  # Anthropic stream: the first event carries the Message
    return response


def _langchain(message: object) -> dict[str, object] | None:
    """Usage of a LangChain message (``usage_metadata`` + ``response_metadata``), or ``None``."""
    if not (_has(message, "usage_metadata") and _has(message, "response_metadata")):
        return None
    usage = _get(message, "usage_metadata")
    meta = _get(message, "response_metadata") or {}
    details_in = _get(usage, "input_token_details")
    details_out = _get(usage, "output_token_details")
    return {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: _int(_get(usage, "input_tokens")),  # includes cached, per LangChain
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: _int(_get(usage, "output_tokens")),
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: _int(_get(details_in, "cache_read")),
        semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: _int(_get(details_in, "cache_creation")),
        semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: _int(_get(details_out, "reasoning")),
        semconv.GEN_AI_RESPONSE_MODEL: _str(_get(meta, "model_name")) or _str(_get(meta, "model")),
        semconv.GEN_AI_RESPONSE_ID: _str(_get(meta, "id")),
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: _reasons(_get(meta, "finish_reason") or _get(meta, "stop_reason")),
    }


def _reasons(*values: object) -> list[str] | None:
    found = [v for v in values if isinstance(v, str) and v]
    return found or None


def read_usage(response: object) -> dict[str, object]:
    """The ``gen_ai.*`` values a response carries (``None`` for what it does not say)."""
    lang = _langchain(response)
    if lang is not None:
        return lang
    response = _unwrap(response)
    usage = _get(response, "usage")
    anthropic = _has(usage, "cache_read_input_tokens") or _has(usage, "cache_creation_input_tokens")
    if anthropic:
        read = _int(_get(usage, "cache_read_input_tokens"))
        write = _int(_get(usage, "cache_creation_input_tokens"))
        base = _int(_get(usage, "input_tokens"))
        total = None if base is None else base + (read or 0) + (write or 0)
        reasoning = None
    else:
        details_in = _get(usage, "prompt_tokens_details") or _get(usage, "input_tokens_details")
        details_out = _get(usage, "completion_tokens_details") or _get(usage, "output_tokens_details")
        read, write = _int(_get(details_in, "cached_tokens")), None
        total = _int(_get(usage, "input_tokens"))
        if total is None:
            total = _int(_get(usage, "prompt_tokens"))
        reasoning = _int(_get(details_out, "reasoning_tokens"))
    temperature = _get(response, "temperature")
    max_tokens = _int(_get(response, "max_output_tokens"))  # the OpenAI Responses API echoes the request
    output = _int(_get(usage, "output_tokens"))
    if output is None:
        output = _int(_get(usage, "completion_tokens"))
    choices = _get(response, "choices")
    finish = [_get(c, "finish_reason") for c in choices] if isinstance(choices, list) else []
    return {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: total,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: output,
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: read,
        semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: write,
        semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: reasoning,
        semconv.GEN_AI_RESPONSE_MODEL: _str(_get(response, "model")),
        semconv.GEN_AI_RESPONSE_ID: _str(_get(response, "id")),
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: _reasons(
            *finish, _get(response, "stop_reason"), _get(_get(response, "delta"), "stop_reason")
        ),
        semconv.GEN_AI_REQUEST_TEMPERATURE: float(temperature) if isinstance(temperature, (int, float)) else None,
        semconv.GEN_AI_REQUEST_MAX_TOKENS: max_tokens,
    }


_SNAPSHOT: Final = re.compile(r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8})$")
"""A trailing date snapshot: ``-2024-07-18`` (OpenAI), ``-20250514`` (Anthropic), ``@20240620`` (Vertex)."""


def model_mismatch(requested: str, answered: str, aliases: Mapping[str, str]) -> bool:
    """Whether the model that answered is not the one requested.

    A request that names no snapshot matches a response that is the same name plus a date
    snapshot (``gpt-4o`` answered by ``gpt-4o-2024-08-06``), and nothing else: ``gpt-4o``
    answered by ``gpt-4o-mini-2024-07-18`` is a mismatch. A pinned request
    (``gpt-4o-2024-08-06``) must match exactly. Other aliases come from ``aliases`` (alias → the
    model it resolves to, e.g. ``{"claude-sonnet-4-0": "claude-sonnet-4-20250514"}``).
    """
    if answered == requested or aliases.get(requested) == answered:
        return False
    if _SNAPSHOT.search(requested):
        return True
    return _SNAPSHOT.sub("", answered) != requested
