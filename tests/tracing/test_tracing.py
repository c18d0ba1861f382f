"""Tracing set-up in real processes: env conventions, existing providers, exit flush, dead collectors."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tests._subproc import run_python
from toolchain_sdk._core import safety as _safety
from toolchain_sdk.tracing import SafeExporter

ONE_CALL = """
import logging, toolchain_sdk as tc
logging.basicConfig(level=logging.WARNING)
{setup}
@tc.governed_call("proc.answer", model="m-1", provider="openai")
def answer(q):
    return "A:" + q
print("RESULT", answer("q"))
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_otlp_json_lines(path: Path) -> list[dict]:  # type: ignore[type-arg]
    spans = []
    for line in path.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            resource = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    attrs = {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}
                    spans.append({"name": span["name"], "attrs": attrs, "resource": resource})
    return spans


def test_exit_flush_delivers_span_without_shutdown(tmp_path: Path) -> None:
    """A script that makes one call and exits without any shutdown still delivers its (batched) span."""
    out = tmp_path / "traces.jsonl"
    proc = run_python(
        ONE_CALL.format(setup="tc.configure(service_name='flush-test')"),
        env={"OTEL_TRACES_EXPORTER": "file", "TOOLCHAIN_TRACES_FILE": str(out)},
    )
    assert proc.returncode == 0, proc.stderr
    [span] = read_otlp_json_lines(out)
    assert span["name"] == "proc.answer"
    assert span["attrs"]["gen_ai.request.model"] == "m-1"
    assert span["resource"]["service.name"] == {"stringValue": "flush-test"}


def test_env_service_name_and_resource_attributes(tmp_path: Path) -> None:
    """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES reach the exported resource."""
    out = tmp_path / "t.jsonl"
    proc = run_python(
        ONE_CALL.format(setup=f"tc.configure(exporter='file', traces_file={str(out)!r})"),
        env={"OTEL_SERVICE_NAME": "env-svc", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=staging"},
    )
    assert proc.returncode == 0, proc.stderr
    [span] = read_otlp_json_lines(out)
    assert span["resource"]["service.name"] == {"stringValue": "env-svc"}
    assert span["resource"]["deployment.environment"] == {"stringValue": "staging"}


def test_console_exporter_from_env() -> None:
    """OTEL_TRACES_EXPORTER=console prints the span as JSON on stdout."""
    proc = run_python(ONE_CALL.format(setup="tc.configure()"), env={"OTEL_TRACES_EXPORTER": "console"})
    assert proc.returncode == 0, proc.stderr
    assert '"name": "proc.answer"' in proc.stdout
    assert '"toolchain.surface": "proc.answer"' in proc.stdout


def test_exporter_none_and_no_configure_still_run_calls() -> None:
    """With export off, or tracing never configured, calls return normally and nothing is printed."""
    for setup, env in (("tc.configure()", {"OTEL_TRACES_EXPORTER": "none"}), ("", {})):
        proc = run_python(ONE_CALL.format(setup=setup), env=env)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "RESULT A:q"


def test_sdk_disabled_means_no_span_work() -> None:
    """OTEL_SDK_DISABLED=true: no span is started, the call and current_call() still work."""
    code = """
    import toolchain_sdk as tc
    tc.configure(exporter="console")
    @tc.governed_call("proc.disabled")
    def f(*, call):
        assert tc.current_call() is call
        return call.span
    print("SPAN", f())
    """
    proc = run_python(code, env={"OTEL_SDK_DISABLED": "true"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "SPAN None"


def test_existing_tracer_provider_is_used_not_replaced() -> None:
    """configure() keeps the app's SDK provider: its own processors get the spans, exactly once."""
    code = """
    import json
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    app_exp, vendor_exp = InMemorySpanExporter(), InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(app_exp))
    provider.add_span_processor(SimpleSpanProcessor(vendor_exp))
    trace.set_tracer_provider(provider)
    import toolchain_sdk as tc
    tc.configure(service_name="ignored")
    @tc.governed_call("proc.shared")
    def f(): return "x"
    f()
    with trace.get_tracer("app").start_as_current_span("app-span"):
        pass
    print(json.dumps({
        "same": trace.get_tracer_provider() is provider,
        "app": [s.name for s in app_exp.get_finished_spans()],
        "vendor": [s.name for s in vendor_exp.get_finished_spans()],
    }))
    """
    proc = run_python(code, env={"OTEL_TRACES_EXPORTER": "console"})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"same": True, "app": ["proc.shared", "app-span"], "vendor": ["proc.shared", "app-span"]}


def test_dead_collector_calls_succeed_and_process_exits(tmp_path: Path) -> None:
    """OTLP to a closed 127.0.0.1 port: 2,000 calls succeed, one warning, and the bounded exit flush lets it exit."""
    code = """
    import logging, toolchain_sdk as tc
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
    tc.configure(service_name="dead")
    @tc.governed_call("proc.dead")
    def f(i): return f"out-{i}"
    results = [f(i) for i in range(2000)]
    assert results[-1] == "out-1999"
    print("CALLS OK", len(results), flush=True)
    """
    port = closed_port()
    proc = run_python(
        code,
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "TOOLCHAIN_EXIT_FLUSH_S": "1",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "30",
        },
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "CALLS OK 2000" in proc.stdout
    toolchain_lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("toolchain_sdk ")]
    assert toolchain_lines, proc.stderr
    assert len(toolchain_lines) == len(set(toolchain_lines)), "each warning is logged once"


class RaisingExporter(SpanExporter):
    def export(self, spans):  # type: ignore[no-untyped-def]
        raise RuntimeError("exporter bug")

    def shutdown(self) -> None:
        return None


def test_raising_exporter_is_contained_and_warns_once(caplog) -> None:  # type: ignore[no-untyped-def]
    """An exporter that raises yields FAILURE, counts the drop and warns once through toolchain_sdk."""
    _safety.reset_warnings()
    safe = SafeExporter(RaisingExporter(), "raising")
    assert safe.export([object(), object()]) is SpanExportResult.FAILURE  # type: ignore[list-item]
    assert safe.export([object()]) is SpanExportResult.FAILURE  # type: ignore[list-item]
    assert safe.dropped == 3
    records = [r for r in caplog.records if r.name == "toolchain_sdk"]
    assert len([r for r in records if "raised" in r.getMessage()]) == 1


def test_raising_exporter_in_a_real_pipeline() -> None:
    """With a raising exporter behind a batch processor, calls succeed and the process exits cleanly."""
    code = """
    import logging, toolchain_sdk as tc
    from opentelemetry.sdk.trace.export import SpanExporter
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
    class Bad(SpanExporter):
        def export(self, spans): raise RuntimeError("exporter bug")
        def shutdown(self): pass
    tc.configure(span_exporter=Bad())
    @tc.governed_call("proc.bad")
    def f(i): return i
    print("SUM", sum(f(i) for i in range(100)))
    tc.shutdown()
    """
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert "SUM 4950" in proc.stdout
    assert proc.stderr.count("exporter Bad raised") == 1
