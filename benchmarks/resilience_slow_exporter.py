"""Slow exporter: an exporter that takes 1 s per batch does not slow the calls.

Two processes, each ``@governed_call`` behind the SDK's BatchSpanProcessor: one exporter
discards, the other sleeps 1 s per batch (a collector answering slowly). Both make the same
calls in alternating rounds; prints one JSON object (last stdout line) for ``run.py``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

ROUNDS = 7
CALLS = 5000


def child(kind: str) -> None:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    import toolchain_sdk as tc
    from toolchain_sdk import tracing

    class Exporter(SpanExporter):
        def __init__(self) -> None:
            self.batches = 0

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            self.batches += 1
            if kind == "slow":
                time.sleep(1.0)
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            return None

    exporter = Exporter()
    tc.configure(service_name=f"exporter-{kind}", span_exporter=exporter)

    @tc.governed_call("resilience.slow_exporter", owner="bench", model="gpt-4o-mini", provider="openai")
    def answer(question: str) -> str:
        return "Answer: " + question

    clock = time.perf_counter
    for line in sys.stdin:
        if line.strip() != "go":
            break
        worst = 0.0
        start = clock()
        for _ in range(CALLS):
            t0 = clock()
            answer("q")
            worst = max(worst, clock() - t0)
        total = clock() - start
        print(json.dumps({"us": total / CALLS * 1e6, "max_us": worst * 1e6}), flush=True)
    print(json.dumps({"batches": exporter.batches, "dropped": tracing.dropped_spans()}), flush=True)


def main() -> None:
    procs = {
        kind: subprocess.Popen(
            [sys.executable, __file__, "--child", kind], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for kind in ("discard", "slow")
    }
    samples: dict[str, list[dict[str, float]]] = {kind: [] for kind in procs}
    for _ in range(ROUNDS):
        for kind, proc in procs.items():
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
            samples[kind].append(json.loads(proc.stdout.readline()))
    facts = {}
    for kind, proc in procs.items():
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        facts[kind] = json.loads(proc.stdout.readline())
        proc.wait(timeout=60)
    result = {
        "calls": ROUNDS * CALLS,
        "discard_us": statistics.median(s["us"] for s in samples["discard"]),
        "slow_us": statistics.median(s["us"] for s in samples["slow"]),
        "ratio": statistics.median(a["us"] / b["us"] for a, b in zip(samples["slow"], samples["discard"], strict=True)),
        "discard_max_us": max(s["max_us"] for s in samples["discard"]),
        "slow_max_us": max(s["max_us"] for s in samples["slow"]),
        "slow_batches": facts["slow"]["batches"],
        "slow_dropped": facts["slow"]["dropped"],
        "discard_dropped": facts["discard"]["dropped"],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
