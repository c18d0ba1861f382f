"""Governance metrics: what configure() records, with which attributes, and never twice for a model call."""

from __future__ import annotations

import json

from tests._subproc import run_python

SCRIPT = """
import json, os
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import toolchain_sdk as tc

reader = InMemoryMetricReader()
tc.configure(service_name="metrics-test", span_exporter=InMemorySpanExporter(), batch=False, metric_readers=[reader])
child_tracer = trace.get_tracer("a.client.instrumentation")

@tc.governed_call("m.ok", owner="team-a", model="gpt-4o", provider="openai")
def ok(q, *, call=tc.INJECTED):
    call.record_usage({"model": "gpt-4o-2024-08-06", "usage": {"prompt_tokens": 11, "completion_tokens": 7}})
    return "answer"

@tc.governed_call("m.child", owner="team-a", model="gpt-4o", provider="openai")
def measured_by_instrumentation(q, *, call=tc.INJECTED):
    with child_tracer.start_as_current_span("chat gpt-4o", attributes={"gen_ai.operation.name": "chat"}):
        pass
    call.record_usage({"model": "gpt-4o", "usage": {"prompt_tokens": 5, "completion_tokens": 5}})
    return "answer"

@tc.governed_call("m.killed", risk="medium", fallback=lambda q: "template")
def killed(q):
    return "model"

def broken_fallback(q):
    raise RuntimeError("template missing")

@tc.governed_call("m.brokenfb", risk="medium", fallback=broken_fallback)
def broken(q):
    return "model"

@tc.governed_call("m.denied", risk="high", fallback=lambda q: "no",
                  approval=tc.approval.require(approver=tc.approval.deny_all(), on_deny="raise"))
def denied(q):
    return "model"

@tc.governed_call("m.error")
def error(q):
    raise ValueError("boom")

os.environ["TOOLCHAIN_KILL"] = "m.killed,m.brokenfb"
ok("a"); ok("b"); measured_by_instrumentation("c"); killed("d")
for f in (broken, denied, error):
    try:
        f("x")
    except Exception:
        pass

out = {}
for rm in reader.get_metrics_data().resource_metrics:
    for sm in rm.scope_metrics:
        for metric in sm.metrics:
            points = []
            for p in metric.data.data_points:
                value = getattr(p, "value", None)
                if value is None:
                    value = {"count": p.count, "sum": p.sum}
                points.append({"attrs": dict(p.attributes), "value": value})
            out[metric.name] = {"unit": metric.unit, "points": points}
print(json.dumps(out))
"""


def _metrics() -> dict[str, dict[str, object]]:
    proc = run_python(SCRIPT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _by(points: object, **attrs: object) -> list[object]:
    assert isinstance(points, list)
    return [p["value"] for p in points if all(p["attrs"].get(k) == v for k, v in attrs.items())]


def test_every_instrument_with_its_attributes_and_units() -> None:
    """calls, kill-switch, fallback, approval and GenAI instruments record what happened, once each."""
    m = _metrics()
    calls = m["toolchain.calls"]["points"]
    assert _by(calls, **{"toolchain.surface": "m.ok", "toolchain.outcome": "ok", "toolchain.owner": "team-a"}) == [2]
    assert _by(calls, **{"toolchain.surface": "m.killed", "toolchain.outcome": "fallback"}) == [1]
    assert _by(calls, **{"toolchain.surface": "m.denied", "toolchain.outcome": "denied", "toolchain.risk": "high"}) == [
        1
    ]
    assert _by(calls, **{"toolchain.surface": "m.error", "toolchain.outcome": "error"}) == [1]
    engaged = m["toolchain.kill_switch.engaged"]["points"]
    assert _by(engaged, **{"toolchain.surface": "m.killed", "toolchain.kill_switch.source": "env"}) == [1]
    assert _by(m["toolchain.fallback.failed"]["points"], **{"toolchain.surface": "m.brokenfb"}) == [1]
    wait = m["toolchain.approval.wait"]
    assert wait["unit"] == "s"
    [denied_wait] = _by(wait["points"], **{"toolchain.surface": "m.denied", "toolchain.approval.decision": "denied"})
    assert denied_wait["count"] == 1  # type: ignore[index]
    assert _by(m["toolchain.approval.pending"]["points"]) == [0]  # asked once, answered once


def test_genai_metrics_only_for_model_calls_no_instrumentation_measured() -> None:
    """Token usage and duration are recorded for the uninstrumented call, not for one with a GenAI child span."""
    m = _metrics()
    tokens = m["gen_ai.client.token.usage"]
    assert tokens["unit"] == "{token}"
    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}
    [inp] = _by(tokens["points"], **base, **{"gen_ai.token.type": "input"})
    [outp] = _by(tokens["points"], **base, **{"gen_ai.token.type": "output"})
    assert (inp["count"], inp["sum"]) == (2, 22)  # type: ignore[index]  # m.ok twice, m.child never
    assert (outp["count"], outp["sum"]) == (2, 14)  # type: ignore[index]
    [duration] = _by(m["gen_ai.client.operation.duration"]["points"], **base)
    assert duration["count"] == 2  # type: ignore[index]
    for point in tokens["points"]:  # bounded attributes: no surface, ids or user values
        assert set(point["attrs"]) <= {*base, "gen_ai.token.type"}  # type: ignore[index]


def test_no_meter_provider_means_no_instruments() -> None:
    """Without configure() or an application meter provider, the SDK makes no instruments at all."""
    proc = run_python(
        """
        import toolchain_sdk as tc
        from toolchain_sdk import tracing
        @tc.governed_call("m.none")
        def f(): return 1
        f()
        print(tracing.instruments())
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "None"


def test_otel_sdk_disabled_turns_metrics_off() -> None:
    """OTEL_SDK_DISABLED=true: configure() installs no meter provider."""
    proc = run_python(
        """
        import os
        os.environ["OTEL_SDK_DISABLED"] = "true"
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        import toolchain_sdk as tc
        from toolchain_sdk import tracing
        tc.configure(exporter="none", metric_readers=[InMemoryMetricReader()])
        print(tracing.instruments())
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "None"
