"""The OTLP sink: each record as a log record with the chain fields as attributes and the JSON as body."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from tests._subproc import run_python
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


class _Collector(http.server.BaseHTTPRequestHandler):
    """A stand-in OTLP/HTTP collector on 127.0.0.1 that keeps every request's path and body."""

    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        """Keep the request and answer 200 with an empty export response."""
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet."""


def test_the_default_otlp_sink_ships_to_the_traces_collector(tmp_path: Path) -> None:
    """configure(endpoint=..., service_name=..., audit=tc.audit.otlp()): the records go to the same
    collector as the traces (/v1/logs beside /v1/traces), with the service on the resource, flushed at exit."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    _Collector.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run_python(
            f"""
            import toolchain_sdk as tc
            tc.configure(endpoint="http://127.0.0.1:{server.server_address[1]}", service_name="billing-api",
                         audit=tc.audit.otlp())

            @tc.governed_call("otlp.reply")
            def reply(ticket: str) -> str:
                return "ok"

            reply("t")
            """,
            cwd=tmp_path,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    paths = {path for path, _ in _Collector.received}
    assert {"/v1/logs", "/v1/traces"} <= paths
    logs = [body for path, body in _Collector.received if path == "/v1/logs"]
    request = ExportLogsServiceRequest.FromString(logs[0])
    resource_logs = request.resource_logs[0]
    service = {a.key: a.value.string_value for a in resource_logs.resource.attributes}["service.name"]
    (log,) = [r for scope in resource_logs.scope_logs for r in scope.log_records]
    attrs = {a.key: a.value for a in log.attributes}
    body = json.loads(log.body.string_value)
    assert service == "billing-api" and body["surface"] == "otlp.reply"
    assert attrs["toolchain.audit.hash"].string_value == body["hash"] == record_hash(body, None)
