"""Span exporters the SDK builds or wraps: failures counted and warned once, never raised.

``SafeExporter`` wraps every exporter ``configure()`` installs; ``OtlpJsonFileExporter`` writes
OTLP/JSON lines for machines with no collector; ``build_exporter`` picks one from the settings.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter, SpanExportResult

from toolchain_sdk._core.safety import warn_once
from toolchain_sdk.config import Settings

__all__ = [
    "QUEUE_FULL",
    "SDK_QUEUE_LOGGER",
    "OtlpJsonFileExporter",
    "SafeExporter",
    "build_exporter",
    "build_exporters",
]


class SafeExporter(SpanExporter):
    """Wraps any exporter so that its failures are counted and warned about once, never raised."""

    def __init__(self, inner: SpanExporter, label: str) -> None:
        self._inner = inner
        self._label = label
        self.dropped = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._inner.export(spans)
        except Exception as exc:  # an exporter bug must not reach the app
            result = SpanExportResult.FAILURE
            warn_once(f"export-raise:{self._label}", "toolchain_sdk: exporter %s raised %r", self._label, exc)
        if result is not SpanExportResult.SUCCESS:
            self.dropped += len(spans)
            warn_once(
                f"export-fail:{self._label}",
                "toolchain_sdk: could not export %d span(s) to %s; calls go on, spans are dropped "
                "(counted in toolchain_sdk.tracing.dropped_spans())",
                len(spans),
                self._label,
            )
        return result

    def shutdown(self) -> None:
        try:
            self._inner.shutdown()
        except Exception as exc:
            warn_once(f"export-shutdown:{self._label}", "toolchain_sdk: exporter shutdown failed: %r", exc)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return bool(self._inner.force_flush(timeout_millis))
        except Exception:
            return False


class _QueueFullCounter(logging.Filter):
    """Counts the SDK batch processor's "Queue full, dropping Span." warnings and keeps one.

    When the collector is slow or down the batch queue fills and the SDK logs a warning for each
    span it turns away (its own filter then hides repeats for 20 s), and counts them nowhere
    public. This filter, placed first, counts every one into ``dropped_spans()`` and replaces
    the SDK's line with one toolchain_sdk warning that says where the count is. Other records
    of that logger pass untouched.
    """

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.levelno == logging.WARNING and str(record.msg).startswith("Queue full, dropping")):
            return True
        if record.args != ("Span",):
            return True
        with self._lock:
            self.dropped += 1
        warn_once(
            "export-queue-full",
            "toolchain_sdk: the span queue is full (collector slow or down); calls go on, spans are dropped "
            "(counted in toolchain_sdk.tracing.dropped_spans())",
        )
        return False


QUEUE_FULL = _QueueFullCounter()
SDK_QUEUE_LOGGER = "opentelemetry.sdk._shared_internal"
"""Where the SDK's batch processor logs its queue-full drops (a renamed logger just counts nothing)."""


class OtlpJsonFileExporter(SpanExporter):
    """Appends each batch as one line of OTLP/JSON (``ExportTraceServiceRequest``) to a file.

    Each line is one unbuffered ``write`` to a file opened for appending, so threads and forked
    processes sharing the file never interleave their lines, and no lock is needed (a lock held
    by another thread at ``fork()`` would stay held forever in the child).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # Imported here, not at the first export: a process forked while the export thread is
        # half-way through that import would find a partly initialised module (ImportError).
        from google.protobuf.json_format import MessageToJson
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        self._path = Path(path)
        self._to_json = MessageToJson
        self._encode = encode_spans

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        data = (self._to_json(self._encode(spans), indent=None) + "\n").encode("utf-8")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("ab", buffering=0) as fh:
            view = memoryview(data)
            while view:  # one write() in practice; a short write (disk full, signal) is finished here
                view = view[fh.write(view) or 0 :]
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def _otlp_exporter(settings: Settings) -> SpanExporter:
    endpoint = settings.endpoint
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter(endpoint=endpoint, insecure=True if endpoint and endpoint.startswith("http://") else None)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    if endpoint is not None:  # same meaning as OTEL_EXPORTER_OTLP_ENDPOINT: a base URL
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return HttpExporter(endpoint=endpoint)


def build_exporters(settings: Settings) -> list[tuple[SpanExporter, str]]:
    """Every exporter the settings name (``OTEL_TRACES_EXPORTER`` may list several; ``none`` adds none)."""
    first = build_exporter(settings)
    made = [first] if first is not None else []
    if settings.span_exporter is None:
        for name in settings.extra_exporters:
            extra = build_exporter(settings.model_copy(update={"exporter": name}))
            if extra is not None:
                made.append(extra)
    return made


def build_exporter(settings: Settings) -> tuple[SpanExporter, str] | None:
    if settings.span_exporter is not None:
        return settings.span_exporter, type(settings.span_exporter).__name__
    if settings.exporter == "none":
        return None
    if settings.exporter == "console":
        return ConsoleSpanExporter(), "console"
    if settings.exporter == "file":
        return OtlpJsonFileExporter(settings.traces_file), f"file:{settings.traces_file}"
    exporter = _otlp_exporter(settings)
    return exporter, f"otlp {settings.protocol} {getattr(exporter, '_endpoint', '')}".strip()
