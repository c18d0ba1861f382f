"""Shared pieces of the benchmarks: the discarding exporter, timed loops, and the worker protocol.

Every measurement runs in a *worker* subprocess that sets itself up once (tracer provider, peer SDK,
env vars) and then waits on stdin for ``<case> <calls>`` lines; for each it runs the case's loop
of ``calls`` calls, answers with the seconds it took, then settles (flushes spans, collects
garbage) outside the timed part. ``run.py`` drives all workers round-robin, one at a time, so
rounds of every case are interleaved in time and drift on this shared machine hits all of them
alike; the reported number is the median over rounds.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = [
    "ARG",
    "DiscardExporter",
    "Worker",
    "async_loop",
    "gen_loop",
    "serve",
    "sync_loop",
    "trivial",
]

ARG = "What is the refund policy for order 1234?"
"""The one argument every benchmarked function gets."""


def trivial(question: str) -> str:
    """The trivial model call every variant wraps: a short string built from the argument."""
    return "Answer: " + question


class DiscardExporter(SpanExporter):
    """Accepts every batch and drops it: measures the SDK, not the network."""

    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


Runner = Callable[[int], tuple[float, float]]
"""Runs ``n`` calls of a case and returns (process CPU seconds, wall-clock seconds).

CPU time of the whole process (every thread, so the span processor's export thread counts too)
is what the benchmarks report: on this shared 2-core machine wall-clock time also counts the
time other tenants' processes held the core, which swings per-process results by up to ±20 %.
"""

_cpu = time.process_time
_wall = time.perf_counter


def sync_loop(fn: Callable[[str], object]) -> Runner:
    """A runner calling ``fn(ARG)`` ``n`` times."""

    def run(n: int) -> float:
        arg = ARG
        cpu, wall = _cpu(), _wall()
        for _ in range(n):
            fn(arg)
        return _cpu() - cpu, _wall() - wall

    return run


def gen_loop(fn: Callable[[str], Iterator[object]]) -> Runner:
    """A runner draining the generator ``fn(ARG)`` ``n`` times."""

    def run(n: int) -> float:
        arg = ARG
        cpu, wall = _cpu(), _wall()
        for _ in range(n):
            for _chunk in fn(arg):
                pass
        return _cpu() - cpu, _wall() - wall

    return run


def async_loop(fn: Callable[[str], Awaitable[object]]) -> Runner:
    """A runner awaiting ``fn(ARG)`` ``n`` times inside one running event loop."""
    loop = asyncio.new_event_loop()

    async def body(n: int) -> tuple[float, float]:
        arg = ARG
        cpu, wall = _cpu(), _wall()
        for _ in range(n):
            await fn(arg)
        return _cpu() - cpu, _wall() - wall

    def run(n: int) -> tuple[float, float]:
        return loop.run_until_complete(body(n))

    return run


@dataclass
class Worker:
    """What a worker module's factory returns: its cases, how to settle, and facts to report."""

    cases: dict[str, Runner]
    settle: Callable[[], Any] = lambda: None
    info: dict[str, object] = field(default_factory=dict)


def _facts(info: dict[str, object]) -> dict[str, object]:
    return {k: (v() if callable(v) else v) for k, v in info.items()}


def serve(factory: Callable[[], Worker]) -> None:
    """Build the worker, then answer ``<case> <calls>`` lines on stdin with ``{"seconds": ...}``.

    The protocol runs on a private copy of stdout; the real stdout is pointed at stderr first so
    a library that prints (banners, warnings) cannot corrupt it. ``info`` answers the worker's
    facts (e.g. how many spans its exporter received, to prove spans were really produced).
    """
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker = factory()
    out.write(json.dumps({"ready": sorted(worker.cases), "info": _facts(worker.info)}) + "\n")
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == "quit":
            break
        if parts[0] == "info":
            worker.settle()
            out.write(json.dumps(_facts(worker.info)) + "\n")
            continue
        name, calls = parts[0], int(parts[1])
        gc.collect()
        cpu, wall = worker.cases[name](calls)
        worker.settle()
        out.write(json.dumps({"seconds": cpu, "wall": wall}) + "\n")
