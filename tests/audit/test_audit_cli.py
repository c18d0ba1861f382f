"""``toolchain audit verify|show|replay`` and the control-change records of ``toolchain kill|allow|restore``
and ``toolchain approvals``, all run as real subprocesses."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from tests._subproc import ROOT, run_cli
from tests.audit._chains import build_chain, lines, write_lines
from toolchain_sdk import audit

ENV = {"PYTHONPATH": str(ROOT)}
PROMPT = "Refund policy for {{ customer }}: be kind.\n"


def toolchain(*args: str, cwd: Path | None = None, **env: str) -> tuple[int, str, str]:
    """Run ``toolchain ARGS`` in a fresh process; return (exit status, stdout, stderr)."""
    done = run_cli(*args, env={**ENV, **env}, cwd=cwd)
    return done.returncode, done.stdout, done.stderr


def test_verify_exits_0_1_3_and_names_the_record(tmp_path: Path) -> None:
    """Intact → 0; a modified line → 1 naming its line and id; a torn tail → 3 naming its line."""
    path = tmp_path / "audit.jsonl"
    records = build_chain(path, 4)
    code, out, _ = toolchain("audit", "verify", str(path))
    assert code == 0 and out.startswith("intact: 4 records")
    rows = lines(path)
    write_lines(path, [*rows[:1], rows[1].replace('"n":1', '"n":7'), *rows[2:]])
    code, out, _ = toolchain("audit", "verify", str(path))
    assert code == 1 and f"line 2 (id {records[1].id}): modified" in out
    write_lines(path, rows)
    with path.open("a") as handle:
        handle.write('{"schema":1,')
    code, out, _ = toolchain("audit", "verify", str(path), "--json")
    result = json.loads(out)
    assert code == 3 and (result["status"], result["line"], result["records"]) == ("torn", 5, 4)


def test_verify_of_a_missing_chain_is_a_usage_error(tmp_path: Path) -> None:
    """No chain at PATH exits 2 with a one-line error."""
    code, _, err = toolchain("audit", "verify", str(tmp_path / "nothing.jsonl"))
    assert code == 2 and "no audit chain" in err


def test_show_filters_and_prints_json_lines(tmp_path: Path) -> None:
    """show --json prints one stored record per line; --surface, --outcome, --trace-id, --since filter."""
    path = tmp_path / "audit.jsonl"
    sink = audit.jsonl(path)
    old = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    sink.append(audit.AuditRecord(surface="a", outcome="ok", trace_id="1" * 32, time=old))
    sink.append(audit.AuditRecord(surface="b", outcome="error", trace_id="2" * 32))
    sink.append(audit.AuditRecord(surface="a", outcome="fallback", trace_id="2" * 32))
    sink.close()

    def shown(*filters: str) -> list[tuple[object, ...]]:
        """``(seq, surface)`` of the records ``show --json`` prints with these filters."""
        code, out, err = toolchain("audit", "show", str(path), "--json", *filters)
        assert code == 0, err
        return [(r["seq"], r["surface"]) for r in map(json.loads, out.splitlines())]

    assert shown() == [(1, "a"), (2, "b"), (3, "a")]
    assert shown("--surface", "a") == [(1, "a"), (3, "a")]
    assert shown("--outcome", "error") == [(2, "b")]
    assert shown("--trace-id", "2" * 32) == [(2, "b"), (3, "a")]
    assert shown("--since", "2h") == [(2, "b"), (3, "a")]
    assert shown("--since", "2019-12-31") == [(1, "a"), (2, "b"), (3, "a")]
    code, out, _ = toolchain("audit", "show", str(path))
    assert code == 0 and "fallback" in out and "3 record(s)" in out
    code, _, err = toolchain("audit", "show", str(path), "--since", "last tuesday")
    assert code == 2 and "--since" in err


def _demo_call(tmp_path: Path, *, captured: bool = True) -> tuple[Path, audit.AuditRecord]:
    """A chain holding one recorded call with a prompt file, retrieval and (optionally) content."""
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "support_refund@3.md").write_text(PROMPT)
    (tmp_path / "docs_index.py").write_text(
        "DOCS = {'kb-1': 'Refunds within 30 days.', 'kb-2': 'Shipping is free.'}\n"
        "def current(index, version, doc_id):\n"
        "    return DOCS.get(doc_id)\n"
    )
    path = tmp_path / "audit.jsonl"
    sink = audit.jsonl(path)
    record = sink.append(
        audit.AuditRecord(
            surface="support.refund_reply",
            risk="high",
            capture="redacted" if captured else "hash",
            prompt_name="support_refund",
            prompt_version="3",
            prompt_sha256=hashlib.sha256(PROMPT.encode()).hexdigest(),
            model="gpt-4o-mini",
            provider="openai",
            route="refunds",
            input={"ticket": "Where is my refund, [EMAIL]?"} if captured else None,
            output="Your refund is on its way." if captured else None,
            output_sha256=hashlib.sha256(b"Your refund is on its way.").hexdigest(),
            hash_alg="sha256",
            retrieval_index="kb",
            retrieval_version="2026-11",
            retrieval_documents=[
                audit.RetrievedDocument(id="kb-1", sha256=hashlib.sha256(b"Refunds within 30 days.").hexdigest()),
                audit.RetrievedDocument(id="kb-2", sha256=hashlib.sha256(b"Shipping is free.").hexdigest()),
            ],
            citations=["kb-1"],
            confidence=0.82,
            trace_id="a" * 32,
        )
    )
    sink.close()
    return path, record


def test_replay_of_a_demo_call_prints_what_reproduces_it(tmp_path: Path) -> None:
    """Replay prints the prompt (checked), model, route, inputs, retrieval, citations, confidence,
    output hash and the toolchain hash command; everything matches, so it exits 0."""
    path, record = _demo_call(tmp_path)
    code, out, err = toolchain(
        "audit", "replay", str(path), record.id, "--prompts-dir", "prompts", "--resolver", "docs_index:current",
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, out + err
    for expected in (
        "Refund policy for {{ customer }}",
        "OK            prompt",
        "gpt-4o-mini",
        "route: refunds",
        "Where is my refund",
        "OK            document kb-1",
        'citations: ["kb-1"]  confidence: 0.82',
        f"output sha256: {record.output_sha256}",
        "toolchain hash --file shown.txt",
    ):
        assert expected in out
    same = toolchain("audit", "replay", str(path), "--trace-id", "a" * 32, "--prompts-dir", "prompts", cwd=tmp_path)
    assert same[0] == 0 and "UNCHECKED     document kb-1" in same[1]


def test_replay_fails_naming_a_changed_prompt_or_document(tmp_path: Path) -> None:
    """A prompt file edited since the call, or a document whose hash changed, exits 1 naming it."""
    path, record = _demo_call(tmp_path)
    (tmp_path / "docs_index.py").write_text(
        "def current(index, version, doc_id):\n"
        "    return 'Refunds within 14 days.' if doc_id == 'kb-1' else 'Shipping is free.'\n"
    )
    code, out, err = toolchain(
        "audit", "replay", str(path), record.id, "--prompts-dir", "prompts", "--resolver", "docs_index:current",
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 1 and "MISMATCH      document kb-1" in out and "document kb-1" in err
    (tmp_path / "prompts" / "support_refund@3.md").write_text(PROMPT + "Also: be brief.\n")
    code, out, err = toolchain("audit", "replay", str(path), record.id, "--prompts-dir", "prompts", cwd=tmp_path)
    assert code == 1 and "MISMATCH      prompt" in out and "changed" in out
    (tmp_path / "prompts" / "support_refund@3.md").unlink()
    code, out, _ = toolchain("audit", "replay", str(path), record.id, "--prompts-dir", "prompts", cwd=tmp_path)
    assert code == 1 and "missing" in out


def test_replay_states_what_was_not_captured_without_failing(tmp_path: Path) -> None:
    """capture=hash and a call with no prompt are stated, not failures."""
    path = tmp_path / "audit.jsonl"
    sink = audit.jsonl(path)
    record = sink.append(audit.AuditRecord(surface="s", capture="hash", output_sha256="c" * 64))
    sink.close()
    code, out, _ = toolchain("audit", "replay", str(path), record.id, cwd=tmp_path)
    assert code == 0
    assert "the call used no prompt" in out and "inputs were not captured (capture=hash)" in out
    assert "input sha256: (not recorded)" in out and f"output sha256: {'c' * 64}" in out
    code, _, err = toolchain("audit", "replay", str(path), "f" * 32, cwd=tmp_path)
    assert code == 2 and "no such record" in err


def test_kill_allow_restore_append_flag_change_records(tmp_path: Path) -> None:
    """With TOOLCHAIN_AUDIT set, each of kill, allow and restore appends a flag_change record."""
    path = tmp_path / "audit.jsonl"
    flags = str(tmp_path / "flags.json")
    for args in (
        ("kill", "support.*", "--reason", "incident 7", "--ttl", "2h", "--by", "ana"),
        ("allow", "support.vip", "--reason", "vip stays on", "--by", "ana"),
        ("restore", "support.*", "--reason", "fixed", "--by", "bo"),
    ):
        code, _, err = toolchain(*args, "--file", flags, TOOLCHAIN_AUDIT=str(path))
        assert code == 0, err
    records = list(audit.read(path))
    assert [(r.kind, r.action, r.pattern, r.actor, r.reason) for r in records] == [
        ("flag_change", "kill", "support.*", "ana", "incident 7"),
        ("flag_change", "allow", "support.vip", "ana", "vip stays on"),
        ("flag_change", "restore", "support.*", "bo", "fixed"),
    ]
    assert records[0].ttl == "2h" and records[0].expires_at and records[0].flags_file == flags
    assert toolchain("audit", "verify", str(path))[0] == 0


def test_kill_finds_the_chain_through_toolchain_toml(tmp_path: Path) -> None:
    """Without TOOLCHAIN_AUDIT, ``[audit] sink`` in ./toolchain.toml names the chain."""
    (tmp_path / "toolchain.toml").write_text('[audit]\nsink = "sqlite:///audit.db"\n')
    code, _, err = toolchain("kill", "billing.reply", "--reason", "drill", "--file", "flags.json", cwd=tmp_path)
    assert code == 0, err
    (record,) = audit.read(f"sqlite:///{tmp_path / 'audit.db'}")
    assert (record.kind, record.pattern) == ("flag_change", "billing.reply")


def test_a_kill_still_happens_when_the_audit_chain_cannot_take_it(tmp_path: Path) -> None:
    """Break-glass first: the flag is set, the record is spooled, and a warning says so."""
    (tmp_path / "afile").write_text("x")
    code, out, err = toolchain(
        "kill", "x", "--reason", "r", "--file", str(tmp_path / "flags.json"), cwd=tmp_path,
        TOOLCHAIN_AUDIT=str(tmp_path / "afile" / "audit.jsonl"),
    )  # fmt: skip
    assert code == 0 and "set x" in out
    assert "not recorded in the audit trail" in err and "spooled" in err
    spooled = (tmp_path / ".toolchain" / "audit-spool.jsonl").read_text()
    assert json.loads(spooled)["pattern"] == "x"


def test_a_kill_with_a_mistyped_toolchain_audit_spools_its_record_and_says_what_to_fix(tmp_path: Path) -> None:
    """TOOLCHAIN_AUDIT=audit.db (meant: sqlite:///audit.db): the flag is set, the record is kept in the
    spool file rather than dropped, and the warning names the setting to write."""
    code, out, err = toolchain(
        "kill", "y", "--reason", "r", "--file", str(tmp_path / "flags.json"), cwd=tmp_path, TOOLCHAIN_AUDIT="audit.db"
    )
    assert code == 0 and "set y" in out
    assert "not recorded in the audit trail" in err and "sqlite:///audit.db" in err and "spooled" in err
    spooled = json.loads((tmp_path / ".toolchain" / "audit-spool.jsonl").read_text())
    assert (spooled["kind"], spooled["pattern"]) == ("flag_change", "y")


@pytest.mark.parametrize("verdict", ["approve", "deny"])
def test_approval_decisions_append_records(tmp_path: Path, verdict: str) -> None:
    """``toolchain approvals approve|deny`` appends an approval_decision record to the chain."""
    from toolchain_sdk.approval import ApprovalRequest, open_store

    db = tmp_path / "approvals.db"
    store = open_store(str(db))
    now = dt.datetime.now(dt.UTC)
    store.submit(
        ApprovalRequest(
            id="req-1",
            surface="support.refund",
            risk="high",
            phase="before",
            arguments={"order": "o1"},
            arguments_sha256="a" * 64,
            created_at=now,
            expires_at=now + dt.timedelta(minutes=5),
            trace_id="b" * 32,
        )
    )
    path = tmp_path / "audit.jsonl"
    code, _, err = toolchain(
        "approvals", verdict, "req-1", "--by", "rita", "--reason", "checked", "--store", str(db), "--wait", "0",
        TOOLCHAIN_AUDIT=str(path),
    )  # fmt: skip
    store.close()
    assert code == 0, err
    (record,) = audit.read(path)
    assert (record.kind, record.approval_id, record.approval_approver, record.actor, record.surface) == (
        "approval_decision",
        "req-1",
        "rita",
        "rita",
        "support.refund",
    )
    assert record.approval_decision == ("approved" if verdict == "approve" else "denied")
    assert record.trace_id == "b" * 32


def test_an_edit_records_the_editor_the_reason_and_both_output_hashes(tmp_path: Path) -> None:
    """``toolchain approvals edit`` appends an ``edited`` record: editor, reason, the model's original
    output hash and the hash of the output that replaced it."""
    from toolchain_sdk.approval import ApprovalRequest, open_store

    original, edited = "Your refund: 10 EUR.", "Your refund: 100 EUR."
    db = tmp_path / "approvals.db"
    store = open_store(str(db))
    now = dt.datetime.now(dt.UTC)
    store.submit(
        ApprovalRequest(
            id="req-2",
            surface="support.refund",
            risk="high",
            phase="after",
            arguments={"order": "o2"},
            arguments_sha256="a" * 64,
            output=original,
            output_kind="text",
            output_sha256=hashlib.sha256(original.encode()).hexdigest(),
            created_at=now,
            expires_at=now + dt.timedelta(minutes=5),
        )
    )
    (tmp_path / "edited.txt").write_text(edited)
    path = tmp_path / "audit.jsonl"
    code, _, err = toolchain(
        "approvals", "edit", "req-2", "--output-file", str(tmp_path / "edited.txt"), "--by", "rita",
        "--reason", "wrong amount", "--store", str(db), "--wait", "0", TOOLCHAIN_AUDIT=str(path),
    )  # fmt: skip
    store.close()
    assert code == 0, err
    (record,) = audit.read(path)
    assert (record.kind, record.approval_decision, record.override_editor, record.override_reason) == (
        "approval_decision",
        "edited",
        "rita",
        "wrong amount",
    )
    assert record.override_original_sha256 == hashlib.sha256(original.encode()).hexdigest()
    assert record.output_sha256 == hashlib.sha256(edited.encode()).hexdigest() and record.hash_alg == "sha256"
    assert toolchain("audit", "verify", str(path))[0] == 0
