"""The runnable examples in examples/ run as a user would run them, and say what they claim."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tests._subproc import ROOT, run_cli, run_python
from toolchain_sdk.hashing import Hasher

EXAMPLES = ROOT / "examples"
QUICKSTART = f"import runpy; runpy.run_path({str(EXAMPLES / 'quickstart.py')!r}, run_name='__main__')"


def read_spans(traces: Path) -> dict[str, dict[str, Any]]:
    """The spans of an OTLP JSON lines file by name: attributes, plus the event names under "events"."""
    spans: dict[str, dict[str, Any]] = {}
    for line in traces.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    attrs = {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}
                    attrs["events"] = [e["name"] for e in span.get("events", [])]
                    spans[span["name"]] = attrs
    return spans


def test_quickstart_runs_and_its_spans_verify(tmp_path: Path) -> None:
    """quickstart.py answers, writes one span per surface, and its printed reply hashes to the span's output hash."""
    traces = tmp_path / "traces.jsonl"
    proc = run_python(QUICKSTART, env={"TOOLCHAIN_TRACES_FILE": str(traces)})
    assert proc.returncode == 0, proc.stderr
    reply = next(ln for ln in proc.stdout.splitlines() if ln.startswith("refund reply")).split("->", 1)[1].strip()
    spans = read_spans(traces)
    assert set(spans) == {"support.classify", "support.refund_reply", "support.summarise_thread"}
    assert spans["support.refund_reply"]["toolchain.output.sha256"] == Hasher().hash_value(reply)
    assert spans["support.classify"]["toolchain.output.sha256"] == Hasher().hash_value("refund")
    assert "toolchain.input.sha256" not in spans["support.classify"]  # a block has no arguments to hash
    assert spans["support.summarise_thread"]["toolchain.stream.completed"] is True


def test_quickstart_with_kill_switch_answers_from_fallbacks(tmp_path: Path) -> None:
    """With TOOLCHAIN_KILL='support.*' every surface answers deterministically and the spans say fallback."""
    traces = tmp_path / "traces.jsonl"
    proc = run_python(
        QUICKSTART, env={"TOOLCHAIN_TRACES_FILE": str(traces), "TOOLCHAIN_KILL": "support.*"}, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "classify       -> needs-human" in proc.stdout
    assert "Dear Ana, we received your refund request T-1001" in proc.stdout
    assert "Summary unavailable right now" in proc.stdout
    assert "route support_replies: no model called (outcome: fallback)" in proc.stdout
    spans = read_spans(traces)
    outcomes = {name: (a.get("toolchain.outcome"), a.get("toolchain.kill_switch.active")) for name, a in spans.items()}
    assert outcomes == {
        "support.refund_reply": ("fallback", True),
        "support.summarise_thread": ("fallback", True),
        "support.classify": ("error", True),
    }
    refund = spans["support.refund_reply"]
    assert refund["toolchain.route.name"] == "support_replies"
    assert "toolchain.route.attempt" not in refund  # the switch answered before any target was called
    assert not {"route.retry", "route.fallback"} & set(refund["events"])


def test_quickstart_routes_the_refund_reply_to_its_fallback_and_names_its_prompt(tmp_path: Path) -> None:
    """The stand-in's primary times out twice: the fallback answers, the demo says so, the span agrees."""
    traces = tmp_path / "traces.jsonl"
    proc = run_python(QUICKSTART, env={"TOOLCHAIN_TRACES_FILE": str(traces)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (
        "route support_replies: answered by anthropic:claude-3-5-haiku-20241022 after 3 attempts "
        "(fallback reason: TimeoutError)"
    ) in proc.stdout
    assert "refund reply   -> [claude-3-5-haiku-20241022] Thanks for reaching out." in proc.stdout
    refund = read_spans(traces)["support.refund_reply"]
    assert refund["toolchain.outcome"] == "ok"
    assert refund["toolchain.route.name"] == "support_replies"
    assert refund["toolchain.route.attempt"] == "3"  # OTLP/JSON writes 64-bit integers as strings
    assert refund["toolchain.route.fallback_reason"] == "TimeoutError"
    assert (refund["gen_ai.provider.name"], refund["gen_ai.request.model"]) == (
        "anthropic",
        "claude-3-5-haiku-20241022",
    )
    assert refund["toolchain.model.mismatch"] is False  # judged against the target that answered
    assert [e for e in refund["events"] if e.startswith("route.")] == ["route.retry", "route.fallback"]
    assert refund["toolchain.data_class"] == "pii"
    prompt_file = EXAMPLES / "prompts" / "support_refund_policy@3.md"
    assert (refund["gen_ai.prompt.name"], refund["gen_ai.prompt.version"]) == ("support_refund_policy", "3")
    assert refund["toolchain.prompt.label"] == "production"
    assert refund["toolchain.prompt.sha256"] == hashlib.sha256(prompt_file.read_bytes()).hexdigest()
    assert "toolchain.prompt.drift" not in refund
    assert f"prompt support_refund_policy@production: version 3, sha256 {refund['toolchain.prompt.sha256']}" in (
        proc.stdout
    )


def test_the_quickstart_prompts_and_routes_pass_their_ci_checks() -> None:
    """examples/prompts matches its lock (`toolchain prompts verify`) and examples/toolchain.toml is valid."""
    verify = run_cli("prompts", "verify", "--dir", str(EXAMPLES / "prompts"))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    check = run_cli("routes", "check", "--config", str(EXAMPLES / "toolchain.toml"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "note:" not in check.stdout  # every model is pinned and some data class may use the route


def test_quickstart_leaves_an_audit_trail_a_reviewer_can_replay(tmp_path: Path) -> None:
    """The demo's audit trail verifies; replaying the refund reply checks its prompt; an edited prompt fails replay."""
    traces = tmp_path / "traces.jsonl"
    proc = run_python(QUICKSTART, env={"TOOLCHAIN_TRACES_FILE": str(traces)})
    assert proc.returncode == 0, proc.stderr
    trail = tmp_path / "audit.jsonl"
    records = [json.loads(line) for line in trail.read_text().splitlines()]
    assert sorted(r["surface"] for r in records) == [
        "support.classify",
        "support.refund_reply",
        "support.summarise_thread",
    ]
    refund = next(r for r in records if r["surface"] == "support.refund_reply")
    assert refund["output_sha256"] == read_spans(traces)["support.refund_reply"]["toolchain.output.sha256"]
    assert refund["retrieval_documents"][0]["id"] == "returns-7" and refund["citations"] == ["returns-7"]
    captured = json.dumps(refund["input"])  # capture="redacted": the ticket, the customer's address out
    assert "order 77" in captured and "[EMAIL" in captured and "ana.silva@mailbox.org" not in trail.read_text()
    assert run_cli("audit", "verify", str(trail)).returncode == 0
    prompts = EXAMPLES / "prompts"
    replay = run_cli("audit", "replay", str(trail), refund["id"], "--prompts-dir", str(prompts))
    assert replay.returncode == 0, replay.stdout + replay.stderr
    prompt_text = (prompts / f"{refund['prompt_name']}@{refund['prompt_version']}.md").read_text()
    assert refund["model"] in replay.stdout and "toolchain hash" in replay.stdout
    assert prompt_text.strip().splitlines()[-1] in replay.stdout
    edited = tmp_path / "prompts"
    edited.mkdir()
    for f in prompts.iterdir():
        (edited / f.name).write_bytes(f.read_bytes())
    target = edited / f"{refund['prompt_name']}@{refund['prompt_version']}.md"
    target.write_text(target.read_text() + "\nOne more sentence.\n")
    changed = run_cli("audit", "replay", str(trail), refund["id"], "--prompts-dir", str(edited))
    assert changed.returncode == 1 and "prompt" in (changed.stdout + changed.stderr).lower()
