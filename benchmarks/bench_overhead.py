"""Per-call overhead workers: ``@governed_call`` against the hand-written OpenTelemetry equivalent.

The hand-written baseline is what a careful developer would write instead of the decorator: a
raw span started with ``start_as_current_span`` carrying the same attributes ``@governed_call``
puts on its span (surface, owner, risk, model, provider, operation, capture mode, input hash,
output hash, hash algorithm, outcome), ``hashlib.sha256`` of the canonical JSON input and of the
output, and the same real SDK ``TracerProvider`` + ``BatchSpanProcessor`` + discarding exporter.

Workers (each its own process, see ``_harness``):

* ``core``  — SDK provider installed by ``tc.configure``; baseline and governed variants.
* ``hmac``  — as ``core`` with ``TOOLCHAIN_HASH_KEY`` set (every hash is HMAC-SHA256).
* ``off``   — no SDK provider at all (tracing off): a bare call against governed calls.
* ``kill_env`` / ``kill_file`` — kill flags from ``TOOLCHAIN_KILL`` / the flag file
  ``.toolchain/flags.json``: a surface the flags leave on (``_off``: the check runs, the model
  is called) and one they switch off (``_on``: the fallback answers).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from opentelemetry import trace
from opentelemetry.trace import SpanKind

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ARG, DiscardExporter, Worker, async_loop, gen_loop, serve, sync_loop, trivial

import toolchain_sdk as tc

SURFACE = "bench.reply"
DECLARED = {"owner": "bench-team", "model": "gpt-4o-mini", "provider": "openai"}
STATIC_ATTRS: dict[str, str] = {
    "toolchain.surface": SURFACE,
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.provider.name": "openai",
    "toolchain.owner": "bench-team",
    "toolchain.risk": "low",
    "toolchain.capture.mode": "hash",
}

KILL_ATTRS: dict[str, str | bool] = {"toolchain.kill_switch.active": False, "feature_flag.key": SURFACE + ".kill"}
"""What the kill-switch gate records on every traced call (the switch was checked and is off)."""


def _sha256_json(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _chunks(question: str) -> Iterator[str]:
    yield "Answer: "
    yield question
    yield "."


async def _atrivial(question: str) -> str:
    return "Answer: " + question


def hand_call(tracer: trace.Tracer, fn: Callable[[str], str]) -> Callable[[str], str]:
    """The hand-written span with the same attributes plus hashes around ``fn``: the baseline."""

    def hand_sync(question: str) -> str:
        with tracer.start_as_current_span(SURFACE, kind=SpanKind.CLIENT, attributes=STATIC_ATTRS) as span:
            input_sha = _sha256_json({"question": question})
            out = fn(question)
            span.set_attributes(
                {
                    "toolchain.input.sha256": input_sha,
                    **KILL_ATTRS,
                    "toolchain.outcome": "ok",
                    "toolchain.output.sha256": hashlib.sha256(out.encode()).hexdigest(),
                    "toolchain.hash.alg": "sha256",
                }
            )
            return out

    return hand_sync


def _hand_written(tracer: trace.Tracer) -> dict[str, object]:
    """The hand-written equivalents of each governed form, for ``tracer``."""
    hand_sync = hand_call(tracer, trivial)

    async def hand_async(question: str) -> str:
        with tracer.start_as_current_span(SURFACE, kind=SpanKind.CLIENT, attributes=STATIC_ATTRS) as span:
            input_sha = _sha256_json({"question": question})
            out = await _atrivial(question)
            span.set_attributes(
                {
                    "toolchain.input.sha256": input_sha,
                    **KILL_ATTRS,
                    "toolchain.outcome": "ok",
                    "toolchain.output.sha256": hashlib.sha256(out.encode()).hexdigest(),
                    "toolchain.hash.alg": "sha256",
                }
            )
            return out

    def hand_gen(question: str) -> Iterator[str]:
        with tracer.start_as_current_span(SURFACE, kind=SpanKind.CLIENT, attributes=STATIC_ATTRS) as span:
            input_sha = _sha256_json({"question": question})
            digest, count = hashlib.sha256(), 0
            for chunk in _chunks(question):
                digest.update(chunk.encode())
                count += 1
                yield chunk
            span.set_attributes(
                {
                    "toolchain.input.sha256": input_sha,
                    **KILL_ATTRS,
                    "toolchain.outcome": "ok",
                    "toolchain.output.sha256": digest.hexdigest(),
                    "toolchain.hash.alg": "sha256",
                    "toolchain.stream.completed": True,
                    "toolchain.stream.chunks": count,
                }
            )

    def hand_block(question: str) -> str:
        with tracer.start_as_current_span(SURFACE, kind=SpanKind.CLIENT, attributes=STATIC_ATTRS) as span:
            out = trivial(question)
            span.set_attributes(
                {
                    **KILL_ATTRS,
                    "toolchain.outcome": "ok",
                    "toolchain.output.sha256": hashlib.sha256(out.encode()).hexdigest(),
                    "toolchain.hash.alg": "sha256",
                }
            )
            return out

    def raw_span(question: str) -> str:
        with tracer.start_as_current_span(SURFACE, kind=SpanKind.CLIENT, attributes=STATIC_ATTRS):
            return trivial(question)

    return {"sync": hand_sync, "async": hand_async, "gen": hand_gen, "block": hand_block, "raw": raw_span}


def _governed_forms(surface: str = SURFACE, **extra: object) -> dict[str, object]:
    """``@governed_call`` on a plain, async and generator function, and the ``governed()`` block."""
    declared = {**DECLARED, **extra}

    @tc.governed_call(surface, **declared)  # type: ignore[arg-type]
    def gov_sync(question: str) -> str:
        return trivial(question)

    @tc.governed_call(surface + "_async", **declared)  # type: ignore[arg-type]
    async def gov_async(question: str) -> str:
        return await _atrivial(question)

    @tc.governed_call(surface + "_gen", **declared)  # type: ignore[arg-type]
    def gov_gen(question: str) -> Iterator[str]:
        yield from _chunks(question)

    def gov_block(question: str) -> str:
        with tc.governed(surface + "_block", **declared) as call:  # type: ignore[arg-type]
            out = trivial(question)
            call.record_output(out)
        return out

    return {"sync": gov_sync, "async": gov_async, "gen": gov_gen, "block": gov_block}


def _settle_provider() -> None:
    provider = trace.get_tracer_provider()
    flush = getattr(provider, "force_flush", None)
    if flush is not None:
        flush()


def core() -> Worker:
    """SDK provider + BatchSpanProcessor + discarding exporter: baseline and governed forms."""
    exporter = DiscardExporter()
    tc.configure(service_name="bench", span_exporter=exporter)
    hand = _hand_written(trace.get_tracer("bench.handwritten"))
    gov = _governed_forms()
    cases = {
        "raw_span": sync_loop(hand["raw"]),  # type: ignore[arg-type]
        "hand_sync": sync_loop(hand["sync"]),  # type: ignore[arg-type]
        "hand_async": async_loop(hand["async"]),  # type: ignore[arg-type]
        "hand_gen": gen_loop(hand["gen"]),  # type: ignore[arg-type]
        "hand_block": sync_loop(hand["block"]),  # type: ignore[arg-type]
        "gov_sync": sync_loop(gov["sync"]),  # type: ignore[arg-type]
        "gov_async": async_loop(gov["async"]),  # type: ignore[arg-type]
        "gov_gen": gen_loop(gov["gen"]),  # type: ignore[arg-type]
        "gov_block": sync_loop(gov["block"]),  # type: ignore[arg-type]
    }
    return Worker(cases, settle=_settle_provider, info={"exported": lambda: exporter.exported})


def hmac() -> Worker:
    """As ``core`` but every hash keyed (``TOOLCHAIN_HASH_KEY``): HMAC-SHA256 input and output hashes."""
    os.environ["TOOLCHAIN_HASH_KEY"] = "bench-secret-key"
    tc.configure(service_name="bench", span_exporter=DiscardExporter())
    gov = _governed_forms()
    return Worker({"gov_sync_hmac": sync_loop(gov["sync"])}, settle=_settle_provider)  # type: ignore[arg-type]


def off() -> Worker:
    """No SDK provider (tracing off): a bare call, governed calls, and the OTel API's no-op span."""
    gov = _governed_forms()
    noop = trace.get_tracer("bench.noop")

    def noop_span(question: str) -> str:
        with noop.start_as_current_span(SURFACE):
            return trivial(question)

    cases = {
        "bare": sync_loop(trivial),
        "bare_async": async_loop(_atrivial),
        "gov_sync_off": sync_loop(gov["sync"]),  # type: ignore[arg-type]
        "gov_async_off": async_loop(gov["async"]),  # type: ignore[arg-type]
        "noop_span": sync_loop(noop_span),
    }
    return Worker(cases)


def _fallback(question: str) -> str:
    return "Our refund policy is at https://example.com/refunds."


def _kill_source_cases(prefix: str) -> Worker:
    tc.configure(service_name="bench", span_exporter=DiscardExporter())
    on_model = tc.governed_call(SURFACE, fallback=_fallback, **DECLARED)(trivial)
    switched_off = tc.governed_call(KILLED, fallback=_fallback, **DECLARED)(trivial)
    assert switched_off(ARG) == _fallback(ARG) and on_model(ARG) == trivial(ARG), "flags not read as expected"
    cases = {f"{prefix}_off": sync_loop(on_model), f"{prefix}_on": sync_loop(switched_off)}
    return Worker(cases, settle=_settle_provider)


KILLED = "bench.killed"
"""The surface whose kill flag is set (its calls are answered by the fallback)."""


def kill_env() -> Worker:
    """``TOOLCHAIN_KILL`` names a switched-off surface: one governed surface is off, one on."""
    os.environ["TOOLCHAIN_KILL"] = f"{KILLED},bench.other_*"
    return _kill_source_cases("gov_sync_kill_env")


def kill_file() -> Worker:
    """The flag file (``.toolchain/flags.json``) switches a surface off: one governed surface is off, one on."""
    Path(".toolchain").mkdir(exist_ok=True)
    entry = {"killed": True, "reason": "benchmark", "by": "bench", "since": "2026-01-01T00:00:00Z"}
    flags = {KILLED: entry, "bench.other_*": entry}
    Path(".toolchain/flags.json").write_text(json.dumps({"version": 1, "flags": flags}))
    return _kill_source_cases("gov_sync_kill_file")


if __name__ == "__main__":
    serve(globals()[sys.argv[1]])
