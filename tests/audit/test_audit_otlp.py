"""The OTLP sink: each record as a log record with the chain fields as attributes and the JSON as body."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from toolchain_sdk import audit
from toolchain_sdk.audit._chain import record_hash
from toolchain_sdk.errors import AuditUnavailable


def test_records_are_emitted_as_chained_log_records() -> None:
    """Each append emits one log record: event name, chain attributes, and a body that hashes to
    the ``hash`` attribute and links to the previous one."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    sink = audit.otlp(logger_provider=provider)
    first = sink.append(audit.AuditRecord(surface="s", outcome="ok", risk="high"))
    second = sink.append(audit.AuditRecord(surface="s", outcome="error"))
    logs = [item.log_record for item in exporter.get_finished_logs()]
    assert len(logs) == 2
    attrs = dict(logs[1].attributes or {})
    assert logs[1].event_name == "toolchain.audit.record"
    assert attrs["toolchain.audit.seq"] == 2 and attrs["toolchain.audit.prev_hash"] == first.hash
    assert attrs["toolchain.audit.hash"] == second.hash and attrs["toolchain.outcome"] == "error"
    assert attrs["toolchain.audit.chain_id"] == dict(logs[0].attributes or {})["toolchain.audit.chain_id"]
    body = json.loads(str(logs[1].body))
    assert record_hash(body, None) == body["hash"] == second.hash
    assert dict(logs[0].attributes or {})["toolchain.risk"] == "high"


def test_an_exporter_that_cannot_be_built_makes_check_and_append_fail() -> None:
    """A provider whose logger cannot be obtained surfaces as AuditUnavailable at check() and append()."""

    class Broken(LoggerProvider):
        """A provider that cannot give a logger."""

        def get_logger(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            """Fail as an unconfigured exporter would."""
            raise RuntimeError("no collector configured")

    sink = audit.otlp(logger_provider=Broken())
    with pytest.raises(AuditUnavailable, match="no collector"):
        sink.check()
    with pytest.raises(AuditUnavailable):
        sink.append(audit.AuditRecord())
