"""Scaling: output size (hashing cost, streaming in constant memory), threads, concurrent asyncio tasks.

Prints one JSON object (the last stdout line) that ``run.py`` renders into docs/performance.md.
Every comparison pairs ``@governed_call`` with the hand-written OpenTelemetry equivalent of
``bench_overhead`` on the same SDK provider (BatchSpanProcessor + discarding exporter), in
alternating rounds, and reports medians.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ARG, DiscardExporter
from bench_overhead import DECLARED, KILL_ATTRS, STATIC_ATTRS, SURFACE, _sha256_json
from bench_overhead import hand_call as _hand_call
from opentelemetry import trace
from opentelemetry.trace import SpanKind

import toolchain_sdk as tc

KB = 1024
CHUNK = 64 * KB
SIZES = [("1 KB", KB, 3000), ("100 KB", 100 * KB, 400), ("10 MB", 10 * KB * KB, 6)]
THREADS = [1, 2, 8, 32]
THREAD_CALLS = 16_000
TASKS = 10_000
ROUNDS = 5

exporter = DiscardExporter()
tc.configure(service_name="bench-scaling", span_exporter=exporter)
tracer = trace.get_tracer("bench.handwritten")


def _flush() -> None:
    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]


def hand_call(fn: Callable[[str], str]) -> Callable[[str], str]:
    """The hand-written span + hashes around ``fn`` (the same baseline as bench_overhead)."""
    return _hand_call(tracer, fn)


def _timed(fn: Callable[[], object], calls: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def _peak(fn: Callable[[], object]) -> int:
    """Peak bytes allocated (tracemalloc) while ``fn`` runs, over what was allocated before."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _outputs(size: int) -> tuple[Callable[[str], str], Callable[[str], Iterator[str]]]:
    """A function returning ``size`` characters at once, and a generator streaming them in 64 KB chunks."""
    text = "x" * size

    def whole(question: str) -> str:
        return text

    def chunks(question: str) -> Iterator[str]:
        left = size
        while left > 0:
            n = min(CHUNK, left)
            yield "y" * n  # a fresh chunk each time, as a model client would produce
            left -= n

    return whole, chunks


def sizes() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for label, size, calls in SIZES:
        whole, chunks = _outputs(size)
        gov = tc.governed_call(f"bench.size_{size}", **DECLARED)(whole)  # type: ignore[arg-type]
        gov_stream = tc.governed_call(f"bench.stream_{size}", **DECLARED)(chunks)  # type: ignore[arg-type]
        hand = hand_call(whole)

        def drain(gen: Callable[[str], Iterator[str]] = gov_stream) -> None:
            for _ in gen(ARG):
                pass

        samples: dict[str, list[float]] = {"hand": [], "gov": [], "stream": []}
        for _ in range(ROUNDS):
            samples["hand"].append(_timed(lambda hand=hand: hand(ARG), calls))
            samples["gov"].append(_timed(lambda gov=gov: gov(ARG), calls))
            samples["stream"].append(_timed(drain, calls))
            _flush()
        stream_peak = _peak(drain)
        whole_peak = _peak(lambda gov=gov: gov(ARG) and None)
        rows.append(
            {
                "label": label,
                "bytes": size,
                "hand_us": statistics.median(samples["hand"]),
                "gov_us": statistics.median(samples["gov"]),
                "stream_us": statistics.median(samples["stream"]),
                "stream_peak_bytes": stream_peak,
                "stream_chunks": -(-size // CHUNK),
                "whole_peak_bytes": whole_peak,
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def _threaded(fn: Callable[[str], object], threads: int) -> float:
    """µs per call with ``threads`` threads sharing THREAD_CALLS calls (wall clock of the whole batch)."""
    per_thread = THREAD_CALLS // threads
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for _ in range(per_thread):
            fn(ARG)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    gc.collect()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    return (time.perf_counter() - start) / (per_thread * threads) * 1e6


def threads() -> list[dict[str, object]]:
    def answer(question: str) -> str:
        return "Answer: " + question

    gov = tc.governed_call("bench.threads", **DECLARED)(answer)  # type: ignore[arg-type]
    hand = hand_call(answer)
    rows: list[dict[str, object]] = []
    for count in THREADS:
        _flush()
        before = exporter.exported
        samples: dict[str, list[float]] = {"hand": [], "gov": []}
        for _ in range(ROUNDS):
            samples["hand"].append(_threaded(hand, count))
            samples["gov"].append(_threaded(gov, count))
        _flush()
        calls = 2 * ROUNDS * (THREAD_CALLS // count) * count
        rows.append(
            {
                "threads": count,
                "calls": THREAD_CALLS,
                "hand_us": statistics.median(samples["hand"]),
                "gov_us": statistics.median(samples["gov"]),
                "exported": f"{exporter.exported - before} of {calls}",
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def asyncio_tasks() -> dict[str, object]:
    @tc.governed_call("bench.tasks", **DECLARED)  # type: ignore[arg-type]
    async def gov(question: str) -> object:
        mine = tc.current_call()
        await asyncio.sleep(0)  # every task is suspended at once: 10,000 calls in flight
        return mine is tc.current_call() and mine is not None

    async def hand(question: str) -> object:
        with tracer.start_as_current_span(SURFACE, kind=SpanKind.CLIENT, attributes=STATIC_ATTRS) as span:
            input_sha = _sha256_json({"question": question})
            await asyncio.sleep(0)
            out = "True"
            span.set_attributes(
                {
                    "toolchain.input.sha256": input_sha,
                    **KILL_ATTRS,
                    "toolchain.outcome": "ok",
                    "toolchain.output.sha256": hashlib.sha256(out.encode()).hexdigest(),
                    "toolchain.hash.alg": "sha256",
                }
            )
            return True

    async def batch(fn: Callable[[str], object]) -> tuple[float, list[object]]:
        gc.collect()
        start = time.perf_counter()
        results = await asyncio.gather(*(fn(ARG) for _ in range(TASKS)))  # type: ignore[misc]
        return time.perf_counter() - start, results

    _flush()
    before = exporter.exported
    hand_s: list[float] = []
    gov_s: list[float] = []
    ok = True
    for _ in range(ROUNDS):
        hand_s.append(asyncio.run(batch(hand))[0])
        seconds, results = asyncio.run(batch(gov))
        gov_s.append(seconds)
        ok = ok and all(r is True for r in results)
    _flush()
    return {
        "tasks": TASKS,
        "hand_s": statistics.median(hand_s),
        "gov_s": statistics.median(gov_s),
        "exported": f"{exporter.exported - before} of {2 * ROUNDS * TASKS}",
        "handles_ok": ok,
    }


if __name__ == "__main__":
    result = {"sizes": sizes(), "threads": threads(), "asyncio": asyncio_tasks()}
    print(json.dumps(result))
