"""Resilience: a blocked exporter, a dead collector and forked children never hurt the calls.

Deterministic versions of the scenarios in ``benchmarks/resilience_*.py`` (whose measured
results are in docs/performance.md): no assertion here is about wall-clock time; timeouts are
hang guards only.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests._subproc import run_python

HANG_GUARD_S = 60


BLOCKED_EXPORTER = """
import asyncio, json, threading, toolchain_sdk as tc
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

HANG_GUARD_S = {hang_guard}


class Blocking(SpanExporter):
    # Blocks every export until `release` is set: a collector that takes as long as the test wants.
    def __init__(self):
        self.entered, self.release, self.received = threading.Event(), threading.Event(), 0

    def export(self, spans):
        self.entered.set()
        self.release.wait(HANG_GUARD_S)
        self.received += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self):
        self.release.set()


class Ended(SpanProcessor):
    # Counts the spans that ended on the provider (the calls were traced, not skipped).
    def __init__(self):
        self.count = 0

    def on_end(self, span):
        self.count += 1


exporter = Blocking()
tc.configure(service_name="blocked", span_exporter=exporter, batch={batch})
ended = Ended()
trace.get_tracer_provider().add_span_processor(ended)


@tc.governed_call("resilience.slow_export", model="m-1", provider="openai")
def answer(i):
    return "answer %d" % i


@tc.governed_call("resilience.slow_export_async", model="m-1", provider="openai")
async def aanswer(i):
    return i * 2


async def answer_all(n):
    return [await aanswer(i) for i in range(n)]


timer = threading.Timer({release_after_s}, exporter.release.set)  # the collector answers, some time later
timer.daemon = True
timer.start()
first = answer(-1)
out = {{"first": first, "released_when_first_returned": exporter.release.is_set()}}
if {batch}:
    assert exporter.entered.wait(HANG_GUARD_S), "the batch processor never called the exporter"
    results = [answer(i) for i in range({calls})]
    async_results = asyncio.run(answer_all({async_calls}))
    out.update(
        released_during_calls=exporter.release.is_set(),
        received_during_calls=exporter.received,
        results_ok=results == ["answer %d" % i for i in range({calls})],
        async_ok=async_results == [i * 2 for i in range({async_calls})],
        ended=ended.count,
    )
    exporter.release.set()
    assert trace.get_tracer_provider().force_flush(HANG_GUARD_S * 1000)
out["received"] = exporter.received
print(json.dumps(out))
"""


def _blocked(batch: bool, release_after_s: float, calls: int = 0, async_calls: int = 0) -> dict[str, object]:
    """Run the blocked-exporter script with what ``configure()`` installs; its JSON result."""
    code = BLOCKED_EXPORTER.format(
        hang_guard=HANG_GUARD_S, batch=batch, release_after_s=release_after_s, calls=calls, async_calls=async_calls
    )
    # the batch worker calls export() as soon as a span is queued, so the exporter is blocked early
    proc = run_python(code, env={"OTEL_BSP_SCHEDULE_DELAY": "1"}, timeout=HANG_GUARD_S * 2)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_configured_batch_exporter_does_not_hold_calls() -> None:
    """configure(batch=True): with its exporter stuck in export(), 3,000 sync and 500 async calls complete, traced."""
    result = _blocked(batch=True, release_after_s=HANG_GUARD_S, calls=3000, async_calls=500)
    assert result["first"] == "answer -1" and result["released_when_first_returned"] is False
    assert result["released_during_calls"] is False  # every call finished before the collector answered
    assert result["received_during_calls"] == 0  # the exporter was still in its first export
    assert result["results_ok"] is True and result["async_ok"] is True
    assert result["ended"] == 1 + 3000 + 500
    assert isinstance(result["received"], int) and result["received"] > 0  # delivered once released


def test_configured_synchronous_exporter_does_hold_calls() -> None:
    """The contrast: with batch=False the same exporter holds the first call until the collector answers."""
    result = _blocked(batch=False, release_after_s=0.5)
    assert result == {"first": "answer -1", "released_when_first_returned": True, "received": 1}


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
