"""The scale-out sink: each record as an OpenTelemetry log record, sent through the OTLP log exporter.

For several machines, records go to the same collector as the traces and on to a SIEM. Each
sink keeps its own chain (one per process), named by ``toolchain.audit.chain_id``; the log body
is the record's JSON text exactly as hashed, and the chain fields are attributes, so the receiver
can verify every chain on its own.
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import TYPE_CHECKING

from toolchain_sdk.audit._chain import audit_key, seal
from toolchain_sdk.audit._record import GENESIS, AuditRecord
from toolchain_sdk.errors import AuditUnavailable

if TYPE_CHECKING:
    from opentelemetry._logs import Logger, LoggerProvider

__all__ = ["EVENT_NAME", "OtlpSink"]

EVENT_NAME = "toolchain.audit.record"
"""The ``event_name`` of every audit log record."""
_SCOPE = "toolchain_sdk.audit"
_FLUSH_TIMEOUT_MS = 5000


class OtlpSink:
    """Emits each chained record as a log record (body: the record's JSON line).

    Args:
        logger_provider: the provider to emit through; ``None`` builds one on first use with a
            batch processor, the traces' resource and an OTLP log exporter to the traces' collector
            (``configure(endpoint=, protocol=)``, else the ``OTEL_EXPORTER_OTLP_*`` variables).
    """

    def __init__(self, *, logger_provider: LoggerProvider | None = None) -> None:
        """Remember the provider; nothing is built until the first append or check."""
        self._given = logger_provider
        self._provider: LoggerProvider | None = logger_provider
        self._logger: Logger | None = None
        self._lock = threading.Lock()
        self._seq = 0
        self._prev = GENESIS
        self.chain_id = uuid.uuid4().hex
        self._failure: BaseException | None = None

    def describe(self) -> str:
        """``otlp`` (with the chain id)."""
        return f"otlp:chain={self.chain_id}"

    def spool_path(self) -> str:
        """``.toolchain/audit-spool.jsonl`` in the working directory."""
        return os.path.abspath(os.path.join(".toolchain", "audit-spool.jsonl"))

    def _get_logger(self) -> Logger:
        """The logger records are emitted through, building the provider on first use."""
        if self._logger is None:
            if self._provider is None:
                self._provider = _default_provider()
            self._logger = self._provider.get_logger(_SCOPE)
        return self._logger

    def append(self, record: AuditRecord) -> AuditRecord:
        """Chain ``record`` in this sink's chain and emit it.

        Raises:
            AuditUnavailable: the provider or exporter could not be built or refused the record.
        """
        from opentelemetry._logs import SeverityNumber

        key = audit_key()
        with self._lock:
            try:
                logger = self._get_logger()
                chained, line = seal(record, seq=self._seq + 1, prev_hash=self._prev, key=key)
                attributes: dict[str, str | int] = {
                    "toolchain.audit.chain_id": self.chain_id,
                    "toolchain.audit.schema": 1,
                    "toolchain.audit.kind": chained.kind,
                    "toolchain.audit.id": chained.id,
                    "toolchain.audit.seq": chained.seq,
                    "toolchain.audit.prev_hash": chained.prev_hash,
                    "toolchain.audit.hash": chained.hash,
                    "toolchain.audit.time": chained.time,
                }
                for name in ("surface", "outcome", "risk", "owner", "service"):
                    value = getattr(chained, name)
                    if value is not None:
                        attributes[f"toolchain.{name}"] = str(value)
                logger.emit(
                    event_name=EVENT_NAME,
                    severity_number=SeverityNumber.INFO,
                    body=line,
                    attributes=attributes,
                )
            except Exception as exc:
                self._failure = exc
                raise AuditUnavailable(f"cannot emit the audit record as an OTLP log record: {exc}") from exc
            self._seq, self._prev = chained.seq, chained.hash
            self._failure = None
            return chained

    def check(self) -> None:
        """Raise ``AuditUnavailable`` when the logger provider could not be built or the last emit failed."""
        with self._lock:
            try:
                self._get_logger()
            except Exception as exc:
                self._failure = exc
            if self._failure is not None:
                raise AuditUnavailable(f"the OTLP audit sink cannot emit: {self._failure}") from self._failure

    def flush(self) -> None:
        """Export every emitted record (waiting at most 5 s)."""
        provider = self._provider
        flush = getattr(provider, "force_flush", None)
        if callable(flush):
            flush(_FLUSH_TIMEOUT_MS)

    def close(self) -> None:
        """Flush, and shut the provider down if this sink built it."""
        self.flush()
        provider = self._provider
        if self._given is None and provider is not None:
            shutdown = getattr(provider, "shutdown", None)
            if callable(shutdown):
                shutdown()
            self._provider = None
            self._logger = None


def _default_provider() -> LoggerProvider:
    """An SDK logger provider exporting by OTLP to the traces' collector: ``configure(endpoint=,
    protocol=, service_name=)`` when given, else the ``OTEL_EXPORTER_OTLP_*`` variables."""
    from opentelemetry.sdk._logs import LoggerProvider as SdkLoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter

    from toolchain_sdk import config
    from toolchain_sdk.tracing import resource_for

    settings = config.current_settings()
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL") or settings.protocol
    endpoint = settings.endpoint  # a base URL, as for the traces; None: the exporter reads OTEL_* itself
    exporter: LogRecordExporter
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcExporter

        exporter = GrpcExporter(
            endpoint=endpoint, insecure=True if endpoint and endpoint.startswith("http://") else None
        )
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpExporter

        exporter = HttpExporter(endpoint=endpoint.rstrip("/") + "/v1/logs" if endpoint is not None else None)
    provider = SdkLoggerProvider(resource=resource_for(settings))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    return provider
