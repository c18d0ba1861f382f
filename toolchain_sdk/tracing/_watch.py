"""The child-span watcher: tells a governed call when spans start and end beneath it.

A governed span is the governance operation; the model call itself belongs to the client's
instrumentation (the OTel OpenAI instrumentation, Anthropic's built-in tracing), as a child
span. To count usage once, a governed call must know whether such a child exists. This span
processor, added to every SDK tracer provider the SDK sees (its own or the application's),
follows each governed span's descendants and reports each one to the call.
"""

from __future__ import annotations

from typing import Protocol

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

__all__ = ["ChildWatcher", "Watcher"]


class Watcher(Protocol):
    """What is told about each descendant span, at its start and again at its end."""

    def saw_child(self, span: ReadableSpan) -> None: ...


class ChildWatcher(SpanProcessor):
    """Follows the descendants of watched spans (by span id) and reports them."""

    def __init__(self) -> None:
        self._under: dict[int, tuple[Watcher, bool]] = {}  # span id → (whom to tell, is a descendant)

    def watch(self, span_id: int, on_child: Watcher) -> None:
        """Report every span that starts beneath span ``span_id`` (until that span ends)."""
        self._under[span_id] = (on_child, False)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        parent = span.parent
        if parent is None:
            return
        entry = self._under.get(parent.span_id)
        if entry is not None:
            self._under[span.context.span_id] = (entry[0], True)  # its own children belong to the same call
            entry[0].saw_child(span)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        entry = self._under.pop(context.span_id, None) if context is not None else None
        if entry is not None and entry[1]:
            entry[0].saw_child(span)  # again with what was set after the start (usage, response model)

    def shutdown(self) -> None:
        self._under.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
