"""Quickstart: a small support bot whose model calls are governed by toolchain_sdk.

Run it with ``python3 dev.py demo``; switch the model off and watch the fallbacks answer with
``TOOLCHAIN_KILL='support.*' python3 dev.py demo``. Spans go to ``.toolchain/traces.jsonl`` (OTLP JSON) unless
``OTEL_EXPORTER_OTLP_ENDPOINT`` points at a collector, Jaeger or Phoenix; the script then prints
what an operator would see on each span.

The model client below is a LOCAL DETERMINISTIC STAND-IN for an LLM vendor (this machine cannot
reach any vendor). It returns OpenAI-shaped responses so ``call.record_usage`` works as with the
real client.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import toolchain_sdk as tc

TRACES = Path(os.environ.get("TOOLCHAIN_TRACES_FILE", ".toolchain/traces.jsonl"))


class StandInModel:
    """Deterministic stand-in for a chat-completions client (NOT a real model)."""

    def chat(self, model: str, prompt: str) -> SimpleNamespace:
        digest = hashlib.sha256(prompt.encode()).hexdigest()[:8]
        text = f"[{model}] Thanks for reaching out. Reference {digest}."
        usage = SimpleNamespace(prompt_tokens=len(prompt.split()), completion_tokens=len(text.split()))
        return SimpleNamespace(id=f"chatcmpl-{digest}", model=f"{model}-2024-07-18", usage=usage, text=text)

    async def stream(self, model: str, prompt: str) -> AsyncIterator[str]:
        for word in f"[{model}] Here is a summary of: {prompt}".split():
            await asyncio.sleep(0)
            yield word + " "


client = StandInModel()


@dataclass
class Ticket:
    id: str
    customer: str
    body: str


def refund_template(ticket: Ticket) -> str:
    """Deterministic fallback: the standard refund reply, used when the model is switched off."""
    return f"Dear {ticket.customer}, we received your refund request {ticket.id} and will reply within 2 days."


@tc.governed_call(
    "support.refund_reply",
    owner="support-platform",
    model="gpt-4o-mini",
    provider="openai",
    prompt=tc.Prompt(
        "support_refund_policy", "3", "Customer {{ customer }} asks: {{ body }}\nReply per refund policy."
    ),
    risk="medium",
    fallback=refund_template,
)
def draft_refund_reply(ticket: Ticket, *, call: tc.GovernedCall) -> str:
    assert call.prompt is not None and call.model is not None
    resp = client.chat(call.model, call.prompt.render(customer=ticket.customer, body=ticket.body))
    call.record_usage(resp)
    call.set_retrieval("kb-refund-policies", 12)
    return str(resp.text)


def summary_unavailable(thread: str) -> str:
    """Deterministic fallback for the stream: streamed to the consumer as one chunk."""
    return "Summary unavailable right now; please read the thread."


@tc.governed_call(
    "support.summarise_thread",
    owner="support-platform",
    model="gpt-4o-mini",
    provider="openai",
    fallback=summary_unavailable,
)
async def summarise(thread: str) -> AsyncIterator[str]:
    async for chunk in client.stream("gpt-4o-mini", thread):
        yield chunk


def classify(ticket: Ticket) -> str:
    try:
        with tc.governed("support.classify", owner="support-platform", model="claude-x", provider="anthropic") as call:
            label = "refund" if "refund" in ticket.body.lower() else "other"  # stand-in for a model call
            call.record_usage(input_tokens=len(ticket.body.split()), output_tokens=1)
            call.record_output(label)
            return label
    except tc.KillSwitchEngaged:
        return "needs-human"  # a block's fallback: the body (the model call) never ran


def show_spans(path: Path) -> None:
    print(f"\nSpans written to {path} (what an operator sees):")
    for line in path.read_text(encoding="utf-8").splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    attrs = {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}
                    if "toolchain.surface" not in attrs:
                        continue
                    print(f"  {span['name']}")
                    for key in sorted(attrs):
                        print(f"      {key} = {attrs[key]}")


def main() -> None:
    to_collector = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    if not to_collector:
        TRACES.unlink(missing_ok=True)
    tc.configure(service_name="support-bot", exporter=None if to_collector else "file", traces_file=str(TRACES))

    ticket = Ticket("T-1001", "Ana", "I'd like a refund for order 77, it arrived broken.")
    print("classify       ->", classify(ticket))
    reply = draft_refund_reply(ticket)
    print("refund reply   ->", reply)
    print("  verify the output hash yourself:  toolchain hash", json.dumps(reply))

    async def stream_summary() -> str:
        return "".join([c async for c in summarise("order 77 arrived broken; customer wants refund")])

    print("thread summary ->", asyncio.run(stream_summary()))
    tc.shutdown()
    if not to_collector:
        show_spans(TRACES)


if __name__ == "__main__":
    main()
