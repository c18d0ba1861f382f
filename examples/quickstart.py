"""Quickstart: a small support bot whose model calls are governed by toolchain_sdk.

Run it with ``python3 dev.py demo``; switch the model off and watch the fallbacks answer with
``TOOLCHAIN_KILL='support.*' python3 dev.py demo``. Spans go to ``.toolchain/traces.jsonl`` (OTLP JSON) unless
``OTEL_EXPORTER_OTLP_ENDPOINT`` points at a collector, Jaeger or Phoenix; the script then prints
which model answered the refund reply and what an operator would see on each span.

Next to it: ``prompts/`` holds the refund prompt's versions and ``prompts.lock`` (written by
``toolchain prompts lock``; the ``production`` label points at version 3), and ``toolchain.toml``
routes the refund reply to a primary model, with retries, then a fallback model, and says which
providers may see ``pii``.

The model client below is a LOCAL DETERMINISTIC STAND-IN for an LLM vendor (this machine cannot
reach any vendor). It returns OpenAI-shaped responses so ``call.record_usage`` works as with the
real client, and it makes the route's primary model time out so the route moves to its fallback.
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

HERE = Path(__file__).resolve().parent
TRACES = Path(os.environ.get("TOOLCHAIN_TRACES_FILE", ".toolchain/traces.jsonl"))
TO_COLLECTOR = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
AUDIT = TRACES.with_name("audit.jsonl")  # the hash-chained audit trail, next to the traces


def setup() -> None:
    """Configure once, at start-up, before any surface is declared: prompts and routes are resolved then."""
    if not TO_COLLECTOR:
        TRACES.unlink(missing_ok=True)
    AUDIT.unlink(missing_ok=True)  # a fresh hash-chained trail for each demo run
    tc.configure(
        audit=tc.audit.jsonl(AUDIT),  # every governed call appends one record (else $TOOLCHAIN_AUDIT)
        service_name="support-bot",
        exporter=None if TO_COLLECTOR else "file",
        traces_file=str(TRACES),
        prompts_dir=HERE / "prompts",  # else $TOOLCHAIN_PROMPTS_DIR, else ./prompts
        config=HERE / "toolchain.toml",  # else $TOOLCHAIN_CONFIG, else ./toolchain.toml
    )


setup()


class StandInModel:
    """Deterministic stand-in for a chat-completions client (NOT a real model).

    ``timing_out``: models that never answer in time (``chat`` raises ``TimeoutError``).
    """

    def __init__(self, timing_out: frozenset[str] = frozenset()) -> None:
        self.timing_out = timing_out

    def chat(self, model: str, prompt: str, **params: object) -> SimpleNamespace:
        if model in self.timing_out:
            raise TimeoutError(f"stand-in: {model} did not answer in time")
        digest = hashlib.sha256(prompt.encode()).hexdigest()[:8]
        text = f"[{model}] Thanks for reaching out. Reference {digest}."
        usage = SimpleNamespace(prompt_tokens=len(prompt.split()), completion_tokens=len(text.split()))
        return SimpleNamespace(id=f"chatcmpl-{digest}", model=model, usage=usage, text=text)

    async def stream(self, model: str, prompt: str) -> AsyncIterator[str]:
        for word in f"[{model}] Here is a summary of: {prompt}".split():
            await asyncio.sleep(0)
            yield word + " "


client = StandInModel(timing_out=frozenset({"gpt-4o-mini-2024-07-18"}))  # the route's primary is down today


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
    route="support_replies",  # toolchain.toml: azure-openai (2 attempts), then anthropic
    data_class="pii",  # checked against [exposure] pii for every target of the route
    prompt="support_refund_policy@production",  # prompts/prompts.lock: production -> 3
    risk="medium",
    fallback=refund_template,
    capture="redacted",  # span and audit record carry the arguments and reply, personal data and secrets out
)
def draft_refund_reply(ticket: Ticket, *, call: tc.GovernedCall = tc.INJECTED) -> str:
    # Called once per attempt: call.provider, call.model and call.route_params name the target being tried.
    assert call.prompt is not None and call.model is not None
    text = call.prompt.render(customer=ticket.customer, body=ticket.body)
    resp = client.chat(call.model, text, **call.route_params)
    call.record_usage(resp)
    policy_doc = "Refunds for broken items are issued within 5 days."
    call.record_retrieval(
        "kb-refund-policies", 12,
        documents=[("returns-7", hashlib.sha256(policy_doc.encode()).hexdigest())], scope="tenant:demo",
    )  # fmt: skip
    call.record_output(resp.text, citations=["returns-7"], confidence=0.9)  # what the customer is shown with it
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


def read_spans(path: Path) -> dict[str, dict[str, object]]:
    """The governed spans in an OTLP JSON lines file: surface name -> attributes."""
    spans = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    attrs = {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}
                    if "toolchain.surface" in attrs:
                        spans[span["name"]] = attrs
    return spans


def describe_route(attrs: dict[str, object]) -> str:
    """Which target of the route answered, from the span: e.g. 'answered by p:m after 3 attempts (...)'."""
    attempts = attrs.get("toolchain.route.attempt")
    if attempts is None:
        return f"no model called (outcome: {attrs.get('toolchain.outcome')})"
    verb = "answered by" if attrs.get("toolchain.outcome") == "ok" else "failed on"
    text = f"{verb} {attrs['gen_ai.provider.name']}:{attrs['gen_ai.request.model']} after {attempts} attempts"
    reason = attrs.get("toolchain.route.fallback_reason")
    return f"{text} (fallback reason: {reason})" if reason else text


def show_spans(spans: dict[str, dict[str, object]], path: Path) -> None:
    print(f"\nSpans written to {path} (what an operator sees):")
    for name, attrs in spans.items():
        print(f"  {name}")
        for key in sorted(attrs):
            print(f"      {key} = {attrs[key]}")


def show_audit(path: Path) -> None:
    """Where the audit trail is, and the commands a reviewer runs on it."""
    records = list(tc.audit.read(path))
    refund = next(r for r in records if r.surface == "support.refund_reply")
    print(f"\nAudit trail {path}: {len(records)} hash-chained records ({tc.audit.verify(path).status})")
    print(f"  verify it:            toolchain audit verify {path}")
    print(f"  list it:              toolchain audit show {path}")
    prompts = os.path.relpath(HERE / "prompts")
    print(f"  replay the refund:    toolchain audit replay {path} {refund.id} --prompts-dir {prompts}")


def main() -> None:
    ticket = Ticket(
        "T-1001", "Ana", "I'd like a refund for order 77, it arrived broken. Reach me at ana.silva@mailbox.org"
    )
    print("classify       ->", classify(ticket))
    reply = draft_refund_reply(ticket)
    print("refund reply   ->", reply)
    print("  verify the output hash yourself:  toolchain hash", json.dumps(reply))

    async def stream_summary() -> str:
        return "".join([c async for c in summarise("order 77 arrived broken; customer wants refund")])

    print("thread summary ->", asyncio.run(stream_summary()))
    tc.shutdown()
    show_audit(AUDIT)
    if TO_COLLECTOR:
        return
    spans = read_spans(TRACES)
    refund = spans["support.refund_reply"]
    print(f"\nroute {refund['toolchain.route.name']}: {describe_route(refund)}")
    name, version = refund["gen_ai.prompt.name"], refund["gen_ai.prompt.version"]
    prompt_file = os.path.relpath(HERE / "prompts" / f"{name}@{version}.md")
    print(
        f"prompt {name}@{refund['toolchain.prompt.label']}: version {version}, sha256 "
        f"{refund['toolchain.prompt.sha256']} (= sha256sum {prompt_file})"
    )
    show_spans(spans, TRACES)


if __name__ == "__main__":
    main()
