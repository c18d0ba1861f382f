"""The demo's evals (examples/evals/) pass through the real CLI; their spans link each case to its prompt."""

from __future__ import annotations

import json
from pathlib import Path

from tests._subproc import ROOT, run_cli


def _spans(traces: Path) -> list[dict[str, object]]:
    """Every span of an OTLP JSON lines file: name, ids and attributes."""
    found = []
    for line in traces.read_text(encoding="utf-8").splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    attrs = {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}
                    found.append(
                        {"name": span["name"], "id": span["spanId"], "parent": span.get("parentSpanId"), **attrs}
                    )
    return found


def test_the_demo_evals_pass_and_link_cases_to_prompt_versions(tmp_path: Path) -> None:
    """The demo's evals pass against their baseline; each refund case's governed span is its eval span's child."""
    traces, results = tmp_path / "traces.jsonl", tmp_path / "last-run.json"
    proc = run_cli(
        "eval", "examples/evals", "--baseline", "examples/evals/baseline.json", "--json-out", str(results),
        env={"TOOLCHAIN_TRACES_FILE": str(traces)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(results.read_text())
    assert (data["baseline"], data["regressions"], data["exit_status"]) == ("examples/evals/baseline.json", [], 0)
    assert {f["file"]: (f["passed"], f["failed"]) for f in data["files"]} == {
        "examples/evals/refund_reply.yaml": (4, 0),
        "examples/evals/summarise_thread.yaml": (1, 0),
    }
    spans = _spans(traces)
    by_id = {s["id"]: s for s in spans}
    refunds = [s for s in spans if s["name"] == "support.refund_reply"]
    assert len(refunds) == 4
    linked = sorted(
        (str(by_id[str(s["parent"])]["toolchain.eval.case"]), str(s["gen_ai.prompt.version"])) for s in refunds
    )
    assert linked == [
        ("broken-item[support_refund_policy@2]", "2"),
        ("broken-item[support_refund_policy@3]", "3"),
        ("late-return[support_refund_policy@2]", "2"),
        ("late-return[support_refund_policy@3]", "3"),
    ]
    evals = [s for s in spans if str(s["name"]).startswith("eval ")]
    assert {s["gen_ai.evaluation.score.label"] for s in evals} == {"pass"}
    assert (
        json.loads(ROOT.joinpath("examples/evals/baseline.json").read_text())["schema"] == "toolchain.eval.baseline/1"
    )
