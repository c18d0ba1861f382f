"""The runnable examples in examples/ run as a user would run them, and say what they claim."""

from __future__ import annotations

import json
from pathlib import Path

from tests._subproc import ROOT, run_python
from toolchain_sdk.hashing import Hasher


def test_quickstart_runs_and_its_spans_verify(tmp_path: Path) -> None:
    """quickstart.py answers, writes one span per surface, and its printed reply hashes to the span's output hash."""
    traces = tmp_path / "traces.jsonl"
    proc = run_python(
        f"import runpy; runpy.run_path({str(ROOT / 'examples' / 'quickstart.py')!r}, run_name='__main__')",
        env={"TOOLCHAIN_TRACES_FILE": str(traces)},
    )
    assert proc.returncode == 0, proc.stderr
    reply = next(ln for ln in proc.stdout.splitlines() if ln.startswith("refund reply")).split("->", 1)[1].strip()
    spans = {}
    for line in traces.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    attrs = {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}
                    spans[span["name"]] = attrs
    assert set(spans) == {"support.classify", "support.refund_reply", "support.summarise_thread"}
    assert spans["support.refund_reply"]["toolchain.output.sha256"] == Hasher().hash_value(reply)
    assert spans["support.classify"]["toolchain.output.sha256"] == Hasher().hash_value("refund")
    assert "toolchain.input.sha256" not in spans["support.classify"]  # a block has no arguments to hash
    assert spans["support.summarise_thread"]["toolchain.stream.completed"] is True


def test_quickstart_with_kill_switch_answers_from_fallbacks(tmp_path: Path) -> None:
    """With TOOLCHAIN_KILL='support.*' every surface answers deterministically and the spans say fallback."""
    traces = tmp_path / "traces.jsonl"
    proc = run_python(
        f"import runpy; runpy.run_path({str(ROOT / 'examples' / 'quickstart.py')!r}, run_name='__main__')",
        env={"TOOLCHAIN_TRACES_FILE": str(traces), "TOOLCHAIN_KILL": "support.*"},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "classify       -> needs-human" in proc.stdout
    assert "Dear Ana, we received your refund request T-1001" in proc.stdout
    assert "Summary unavailable right now" in proc.stdout
    outcomes = {}
    for line in traces.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    attrs = {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}
                    outcomes[span["name"]] = (attrs.get("toolchain.outcome"), attrs.get("toolchain.kill_switch.active"))
    assert outcomes == {
        "support.refund_reply": ("fallback", True),
        "support.summarise_thread": ("fallback", True),
        "support.classify": ("error", True),
    }
