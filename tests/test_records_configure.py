"""``configure()`` called again, and tracer providers that are not the OpenTelemetry SDK's, in real processes.

Each test runs in a fresh interpreter (``run_python``): ``configure()`` changes process-wide
tracing, and the session's own span recorder must stay as it is. Scripts print one JSON line.
"""

from __future__ import annotations

import json
from typing import Any

from tests._subproc import run_python

PRELUDE = """
import json, logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import toolchain_sdk as tc

@tc.governed_call("cfg.call")
def f(i, *, call):
    call.set_attribute("app.i", i)
    return i

def got(exporter):
    return [s.attributes["app.i"] for s in exporter.get_finished_spans()]
"""


def run(code: str) -> tuple[Any, str]:
    """Run ``PRELUDE + code``; its last stdout line as JSON, and its stderr."""
    proc = run_python(PRELUDE + code)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_second_configure_swaps_the_exporter() -> None:
    """After a second (and third) configure, spans go to the newest exporter only, each exactly once."""
    result, stderr = run("""
first, second, third = InMemorySpanExporter(), InMemorySpanExporter(), InMemorySpanExporter()
tc.configure(span_exporter=first, batch=False)
f(1)
tc.configure(span_exporter=second, batch=False)
f(2); f(3)
tc.configure(span_exporter=third, batch=False)
f(4)
print(json.dumps({"first": got(first), "second": got(second), "third": got(third)}))
""")
    assert result == {"first": [1], "second": [2, 3], "third": [4]}
    assert "already shutdown" not in stderr
    assert "Traceback" not in stderr


def test_swapping_a_batch_exporter_flushes_what_it_held() -> None:
    """A batched exporter swapped out still delivers the spans it held; later spans go to the new one."""
    result, stderr = run("""
first, second = InMemorySpanExporter(), InMemorySpanExporter()
tc.configure(span_exporter=first, batch=True)
f(1); f(2)
tc.configure(span_exporter=second, batch=False)
seen_at_swap = got(first)
f(3)
print(json.dumps({"first": seen_at_swap, "first_after": got(first), "second": got(second)}))
""")
    assert result == {"first": [1, 2], "first_after": [1, 2], "second": [3]}
    assert "already shutdown" not in stderr


def test_service_name_cannot_change_and_a_warning_says_so() -> None:
    """service_name="b" after "a": spans keep "a", and one WARNING says the provider's resource is fixed."""
    result, stderr = run("""
first, second = InMemorySpanExporter(), InMemorySpanExporter()
tc.configure(service_name="a", span_exporter=first, batch=False)
f(1)
tc.configure(service_name="b", span_exporter=second, batch=False)
f(2)
[span] = second.get_finished_spans()
print(json.dumps({"service": span.resource.attributes["service.name"], "first": got(first)}))
""")
    assert result == {"service": "a", "first": [1]}
    warnings = [line for line in stderr.splitlines() if line.startswith("WARNING toolchain_sdk")]
    assert len(warnings) == 1, stderr
    assert "resource" in warnings[0] and "'service.name': 'b'" in warnings[0]


def test_same_service_name_again_does_not_warn() -> None:
    """Re-configuring with the same service name (only the exporter changes) logs no resource warning."""
    _, stderr = run("""
tc.configure(service_name="a", span_exporter=InMemorySpanExporter(), batch=False)
tc.configure(service_name="a", span_exporter=InMemorySpanExporter(), batch=False)
f(1)
print(json.dumps(None))
""")
    assert "WARNING" not in stderr, stderr


def test_configure_without_flags_keeps_the_configured_sources() -> None:
    """configure() with no flags= keeps sources an earlier configure(flags=[...]) set; flags= replaces them."""
    result, _ = run("""
from toolchain_sdk import flags
from toolchain_sdk.flags import FlagEvaluation

class Off:
    name = "off-switch"
    def evaluate(self, target):
        return FlagEvaluation(True, "static", self.name, "test")

@tc.governed_call("cfg.killable", fallback=lambda: "fallback")
def answer():
    return "model"

tc.configure(span_exporter=InMemorySpanExporter(), batch=False, flags=[Off()])
r1, s1 = answer(), [s.name for s in flags.current_sources()]
tc.configure(span_exporter=InMemorySpanExporter(), batch=False)
r2, s2 = answer(), [s.name for s in flags.current_sources()]
tc.configure(flags=["env"])
r3, s3 = answer(), [s.name for s in flags.current_sources()]
print(json.dumps([[r1, s1], [r2, s2], [r3, s3]]))
""")
    assert result == [["fallback", ["off-switch"]], ["fallback", ["off-switch"]], ["model", ["env"]]]


WRAPPING_PROVIDER = """
from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

class Wrapping(trace.TracerProvider):
    '''A vendor-style provider: not the SDK's class, delegating to an SDK provider it wraps.'''
    def __init__(self, inner):
        self.inner, self.asked = inner, []
    def get_tracer(self, instrumenting_module_name, *args, **kwargs):
        self.asked.append(instrumenting_module_name)
        return self.inner.get_tracer(instrumenting_module_name, *args, **kwargs)

inner = SDKTracerProvider()
through = InMemorySpanExporter()
inner.add_span_processor(SimpleSpanProcessor(through))
provider = Wrapping(inner)
trace.set_tracer_provider(provider)
"""


def test_spans_go_through_a_non_sdk_provider() -> None:
    """A TracerProvider subclass that is not the SDK's: governed spans are made through it, configured or not."""
    result, stderr = run(
        WRAPPING_PROVIDER
        + """
f(1)
tc.configure(service_name="app")
f(2)
print(json.dumps({"through": got(through), "asked": sorted(set(provider.asked)),
                  "kept": trace.get_tracer_provider() is provider}))
"""
    )
    assert result == {"through": [1, 2], "asked": ["toolchain_sdk"], "kept": True}
    assert "Traceback" not in stderr


def test_an_exporter_for_a_non_sdk_provider_is_refused_with_a_warning() -> None:
    """configure(span_exporter=...) under a non-SDK provider: spans still go through it; a warning explains."""
    result, stderr = run(
        WRAPPING_PROVIDER
        + """
mine = InMemorySpanExporter()
tc.configure(span_exporter=mine, batch=False)
f(1)
print(json.dumps({"through": got(through), "mine": got(mine)}))
"""
    )
    assert result == {"through": [1], "mine": []}
    assert "is not the OpenTelemetry SDK's" in stderr


def test_a_provider_that_fails_to_give_a_tracer_leaves_calls_working() -> None:
    """A provider whose get_tracer raises: every call still returns, governed code runs, one warning."""
    result, stderr = run("""
class Broken(trace.TracerProvider):
    def get_tracer(self, *args, **kwargs):
        raise RuntimeError("vendor agent not started")

trace.set_tracer_provider(Broken())
results = [f(i) for i in range(5)]
tc.configure(service_name="app")
results += [f(i) for i in range(5, 10)]
print(json.dumps(results))
""")
    assert result == list(range(10))
    warnings = [line for line in stderr.splitlines() if "gave no tracer" in line]
    assert len(warnings) == 1, stderr
    assert warnings[0].startswith("WARNING toolchain_sdk") and "vendor agent not started" in warnings[0]
