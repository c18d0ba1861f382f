"""Helpers for testing code that uses ``@governed_call``: record spans in memory and inspect them.

Usage in a user's own test suite::

    from toolchain_sdk.testing import SpanRecorder

    recorder = SpanRecorder.install()      # once per session (e.g. in conftest.py)
    ...
    [span] = recorder.spans("support.refund_reply")
    assert span.attributes["toolchain.outcome"] == "ok"
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from toolchain_sdk import semconv
from toolchain_sdk._setup import configure

__all__ = ["SpanRecorder"]


class SpanRecorder:
    """An in-memory span exporter installed synchronously, with lookups by surface."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    @classmethod
    def install(cls, **configure_args: object) -> SpanRecorder:
        """``configure()`` the SDK to export every span, synchronously, to a fresh recorder."""
        exporter = InMemorySpanExporter()
        configure(span_exporter=exporter, batch=False, **configure_args)  # type: ignore[arg-type]
        return cls(exporter)

    def spans(self, surface: str | None = None) -> Sequence[ReadableSpan]:
        """Finished spans, oldest first; only governed spans of ``surface`` when given."""
        spans = self.exporter.get_finished_spans()
        if surface is None:
            return spans
        return [s for s in spans if (s.attributes or {}).get(semconv.SURFACE) == surface]

    def one(self, surface: str) -> ReadableSpan:
        """The single finished span of ``surface``; ``AssertionError`` if there is not exactly one."""
        found = self.spans(surface)
        assert len(found) == 1, f"expected one span of {surface!r}, found {len(found)}"
        return found[0]

    def clear(self) -> None:
        """Forget recorded spans."""
        self.exporter.clear()
