"""Optional auto-instrumentation of model clients: ``configure(instrument=["openai", "anthropic"])``.

The model call's own span comes from the client's instrumentation, beneath the governed span:

* ``openai`` — the official OpenTelemetry OpenAI instrumentation
  (``opentelemetry-instrumentation-openai-v2``), turned on here; extra ``toolchain-sdk[openai]``;
* ``anthropic`` — the Anthropic SDK's built-in tracing (anthropic >= 2.14), on by itself whenever an
  SDK tracer provider exists; here it is only checked (installed, not switched off by
  ``ANTHROPIC_OPEN_TELEMETRY=false``); extra ``toolchain-sdk[anthropic]``.

A client asked for but not installed is a ``ConfigError`` that names the install command.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import metadata
from typing import Final

from toolchain_sdk._core.safety import logger
from toolchain_sdk.errors import ConfigError

__all__ = ["CLIENTS", "instrument"]

CLIENTS: Final = ("anthropic", "openai")
_ANTHROPIC_MIN = (2, 14)


def instrument(clients: Sequence[str]) -> None:
    """Turn on (or check) the instrumentation of each named client.

    Raises:
        ConfigError: an unknown client name, or a client or instrumentation that is not installed.
    """
    unknown = sorted(set(clients) - set(CLIENTS))
    if unknown:
        raise ConfigError(f"instrument: unknown client(s) {', '.join(unknown)}; use any of {', '.join(CLIENTS)}")
    for client in clients:
        (_openai if client == "openai" else _anthropic)()


def _openai() -> None:
    try:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    except ImportError as exc:
        raise ConfigError(
            "instrument=['openai'] needs the OpenTelemetry OpenAI instrumentation and the openai client: "
            f"pip install 'toolchain-sdk[openai]' ({type(exc).__name__}: {exc})"
        ) from None
    instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def _anthropic() -> None:
    try:
        installed = metadata.version("anthropic")
    except metadata.PackageNotFoundError:
        raise ConfigError(
            "instrument=['anthropic'] needs the anthropic client: pip install 'toolchain-sdk[anthropic]'"
        ) from None
    parts = tuple(int(p) for p in installed.split(".")[:2] if p.isdigit())
    if parts < _ANTHROPIC_MIN:
        raise ConfigError(
            f"instrument=['anthropic'] needs anthropic >= 2.14, whose client traces itself; {installed} is "
            "installed: pip install 'toolchain-sdk[anthropic]'"
        )
    if os.environ.get("ANTHROPIC_OPEN_TELEMETRY", "").lower() == "false":
        logger.warning(
            "toolchain_sdk: instrument=['anthropic'] but ANTHROPIC_OPEN_TELEMETRY=false switches the Anthropic "
            "client's tracing off; governed spans will record its usage themselves"
        )
