"""Resilience: a blocked exporter, a dead collector and forked children never hurt the calls.

Deterministic versions of the scenarios in ``benchmarks/resilience_*.py`` (whose measured
results are in docs/performance.md): no assertion here is about wall-clock time; timeouts are
hang guards only.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import toolchain_sdk as tc
from tests._subproc import run_python
from toolchain_sdk.testing import SpanRecorder
from toolchain_sdk.tracing import SafeExporter

HANG_GUARD_S = 60


class BlockingExporter(SpanExporter):
    """Blocks every export until released: a collector that takes as long as the test wants."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.received = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.release.wait(HANG_GUARD_S)
        self.received += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


class Switchable(SpanProcessor):
    """Forwards to ``target`` while set: lets a test add a processor to the session provider and take it out."""

    def __init__(self, target: SpanProcessor) -> None:
        self.target: SpanProcessor | None = target

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self.target is not None:
            self.target.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self.target is not None:
            self.target.on_end(span)


@pytest.fixture
def blocked() -> Iterator[tuple[BlockingExporter, BatchSpanProcessor]]:
    """A BatchSpanProcessor whose exporter blocks, attached to the session provider for one test."""
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = BlockingExporter()
    processor = BatchSpanProcessor(SafeExporter(exporter, "blocking"), schedule_delay_millis=1)
    switch = Switchable(processor)
    provider.add_span_processor(switch)
    try:
        yield exporter, processor
    finally:
        switch.target = None
        exporter.release.set()
        processor.shutdown()


def _run_in_thread(work: object) -> list[object]:
    """Run ``work()`` in a thread, joined with a hang guard; returns what it returned (or raised)."""
    out: list[object] = []

    def target() -> None:
        try:
            out.append(work())  # type: ignore[operator]
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_S)
    assert not thread.is_alive(), "governed calls hung behind the blocked exporter"
    return out


def test_blocked_exporter_does_not_hold_calls(
    spans: SpanRecorder, blocked: tuple[BlockingExporter, BatchSpanProcessor]
) -> None:
    """While the exporter is stuck inside export(), 3,000 more calls (beyond its queue) all complete."""
    exporter, processor = blocked

    @tc.governed_call("resilience.slow_export", model="m-1", provider="openai")
    def answer(i: int) -> str:
        return f"answer {i}"

    answer(-1)
    assert exporter.entered.wait(HANG_GUARD_S), "the batch processor never called the exporter"

    [results] = _run_in_thread(lambda: [answer(i) for i in range(3000)])

    assert not exporter.release.is_set() and exporter.received == 0  # still blocked in its first export
    assert results == [f"answer {i}" for i in range(3000)]
    assert len(spans.spans("resilience.slow_export")) == 3001
    exporter.release.set()
    assert processor.force_flush(HANG_GUARD_S * 1000)
    assert exporter.received > 0


async def test_blocked_exporter_does_not_hold_async_calls(
    spans: SpanRecorder, blocked: tuple[BlockingExporter, BatchSpanProcessor]
) -> None:
    """Async governed calls complete on the event loop while the exporter is blocked."""
    exporter, _ = blocked

    @tc.governed_call("resilience.slow_export_async", model="m-1", provider="openai")
    async def answer(i: int) -> int:
        return i * 2

    await answer(0)
    assert exporter.entered.wait(HANG_GUARD_S)
    results = [await answer(i) for i in range(500)]
    assert not exporter.release.is_set()
    assert results == [i * 2 for i in range(500)]
    assert len(spans.spans("resilience.slow_export_async")) == 501


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


DEAD_COLLECTOR = """
import json, logging, toolchain_sdk as tc
from toolchain_sdk import tracing
logging.basicConfig(level=logging.WARNING)
tc.configure(service_name="dead-collector", endpoint="http://127.0.0.1:{port}", protocol="http/protobuf")

@tc.governed_call("resilience.dead", model="m-1", provider="openai")
def answer(i):
    return "answer %d" % i

errors = 0
for i in range({calls}):
    try:
        assert answer(i) == "answer %d" % i
    except Exception:
        errors += 1
flushed = tracing.shutdown(timeout_s=10)
print(json.dumps({{"errors": errors, "dropped": tracing.dropped_spans(), "flushed": flushed}}))
"""


def test_dead_collector_calls_succeed_and_drops_are_counted_and_logged() -> None:
    """OTLP/HTTP to a closed 127.0.0.1 port: no call raises, failed spans are counted, one warning, clean exit."""
    proc = run_python(
        DEAD_COLLECTOR.format(port=_closed_port(), calls=5000),
        env={"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "1", "TOOLCHAIN_EXIT_FLUSH_S": "1"},
        timeout=HANG_GUARD_S,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["errors"] == 0
    assert result["dropped"] > 0
    assert proc.stderr.count("could not export") == 1  # warned once, not per batch
    assert "Queue full, dropping" not in proc.stderr


QUEUE_FULL = """
import json, logging, threading, toolchain_sdk as tc
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from toolchain_sdk import tracing
logging.basicConfig(level=logging.WARNING)

class Blocking(SpanExporter):
    entered, release = threading.Event(), threading.Event()
    def export(self, spans):
        self.entered.set()
        self.release.wait(60)
        return SpanExportResult.SUCCESS
    def shutdown(self):
        self.release.set()

exporter = Blocking()
tc.configure(service_name="queue-full", span_exporter=exporter)

@tc.governed_call("resilience.queue_full", model="m-1", provider="openai")
def answer(i):
    return i

answer(-1)
assert exporter.entered.wait(60)
results = [answer(i) for i in range(3000)]
print(json.dumps({"ok": results == list(range(3000)), "dropped": tracing.dropped_spans()}))
exporter.release.set()
"""


def test_full_batch_queue_drops_are_counted_and_warned_once() -> None:
    """With the exporter stuck, calls past the 2,048-span queue go on; each drop is counted, one warning."""
    proc = run_python(QUEUE_FULL, timeout=HANG_GUARD_S)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"ok": True, "dropped": 3000 - 2048}
    assert proc.stderr.count("span queue is full") == 1
    assert "Queue full, dropping" not in proc.stderr


FORKED = """
import json, multiprocessing, os, sys, toolchain_sdk as tc
tc.configure(service_name="fork-test", exporter="file", traces_file={path!r})

@tc.governed_call("resilience.fork", model="m-1", provider="openai")
def answer(who, *, call):
    call.set_attribute("test.pid", os.getpid())
    return who

answer("parent-before")
{start_child}
answer("parent-after")
"""

MULTIPROCESSING_CHILD = """
child = multiprocessing.get_context("fork").Process(target=answer, args=("child",))
child.start()
child.join()
assert child.exitcode == 0, child.exitcode
"""

OS_FORK_CHILD = """
pid = os.fork()
if pid == 0:
    answer("child")
    sys.exit(0)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0
"""


def _exported_spans(path: Path) -> list[dict[str, object]]:
    spans = []
    for line in path.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    spans.append({a["key"]: next(iter(a["value"].values())) for a in span["attributes"]})
    return spans


@pytest.mark.parametrize("start_child", [MULTIPROCESSING_CHILD, OS_FORK_CHILD], ids=["multiprocessing", "os.fork"])
def test_spans_from_forked_children_are_exported(tmp_path: Path, start_child: str) -> None:
    """A child forked after configure() exports its own span (batched) to the same file as the parent."""
    out = tmp_path / "traces.jsonl"
    proc = run_python(FORKED.format(path=str(out), start_child=start_child), timeout=HANG_GUARD_S)
    assert proc.returncode == 0, proc.stderr
    spans = _exported_spans(out)
    pids = {str(s["test.pid"]) for s in spans}
    assert len(spans) == 3 and len(pids) == 2, spans
    assert {s["toolchain.surface"] for s in spans} == {"resilience.fork"}
