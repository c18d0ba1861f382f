"""Every governed call appends one audit record that agrees with its span; audit fails closed for
high risk (``AuditUnavailable`` before the function runs) and never loses a record."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import toolchain_sdk as tc
from tests._subproc import run_cli, run_python
from toolchain_sdk import audit, config, semconv
from toolchain_sdk.audit import AuditRecord
from toolchain_sdk.hashing import key_id
from toolchain_sdk.testing import SpanRecorder

EMAIL = "ann.lee@corp-mail.net"


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[Path]:
    """A JSONL audit sink in force for the test (and none afterwards)."""
    path = tmp_path / "audit.jsonl"
    audit.use_sink(
        tc.audit.jsonl(path)
    )  # what configure(audit=...) does (configure itself would replace the suite's exporter)
    yield path
    audit.use_sink(None)


def _records(path: Path) -> list[AuditRecord]:
    return list(audit.read(path))


def _fallback(ticket: str) -> str:
    return "A person will answer."


def test_one_record_per_call_agreeing_with_the_span(spans: SpanRecorder, trail: Path) -> None:
    """The record names the same trace, span, surface, prompt, model and hashes as the span."""
    prompt = tc.Prompt("audit_reply", "2", "Reply to {{ ticket }}")

    @tc.governed_call(
        "audit.reply", owner="support", model="gpt-4o-mini", provider="openai", prompt=prompt, capture="redacted"
    )
    def reply(ticket: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
        assert call.prompt is not None
        call.prompt.render(ticket=ticket)
        return f"Sent to {EMAIL}"

    reply("where is order 12?")
    reply("and order 13?")
    span = spans.spans("audit.reply")[0]
    first, second = _records(trail)
    attrs = span.attributes or {}
    assert (first.trace_id, first.span_id) == (
        format(span.context.trace_id, "032x"),
        format(span.context.span_id, "016x"),
    )
    assert (first.kind, first.surface, first.owner, first.risk, first.outcome) == (
        "call",
        "audit.reply",
        "support",
        "low",
        "ok",
    )
    assert (first.model, first.provider) == ("gpt-4o-mini", "openai")
    assert (first.prompt_name, first.prompt_version, first.prompt_sha256) == ("audit_reply", "2", prompt.sha256)
    assert first.input_sha256 == attrs[semconv.INPUT_SHA256] and first.output_sha256 == attrs[semconv.OUTPUT_SHA256]
    assert first.hash_alg == "sha256" and first.sdk_version == tc.__version__
    assert first.output == "Sent to [EMAIL]" and first.input == {"ticket": "where is order 12?"}
    assert first.prompt_rendered == "Reply to where is order 12?"
    assert first.redaction_policy == tc.redaction.active_policy().version
    assert attrs[semconv.AUDIT_RECORD_ID] == first.id
    assert (first.seq, second.seq) == (1, 2) and second.prev_hash == first.hash
    assert audit.verify(trail).status == "intact"


@pytest.mark.parametrize("mode", ["none", "hash"])
def test_hash_modes_keep_content_out_of_the_record(trail: Path, mode: str) -> None:
    """capture none/hash: the record has no input or output content; an error message is still kept, scrubbed."""
    key = "sk-ant-api03-" + "x" * 90

    @tc.governed_call(f"audit.{mode}", capture=mode)  # type: ignore[call-overload]
    def reply(ticket: str) -> str:
        raise ValueError(f"bad key {key}")

    with pytest.raises(ValueError):
        reply(EMAIL)
    (record,) = _records(trail)
    assert record.input is None and record.output is None and record.prompt_rendered is None
    assert record.outcome == "error" and record.error_type == "ValueError"
    assert record.error_message is not None and "bad key" in record.error_message and key not in record.error_message
    assert EMAIL not in trail.read_text()


def test_kill_switch_and_fallback_are_on_the_record(trail: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A killed surface's record says the switch was on, from which source, and which handler answered."""
    monkeypatch.setenv("TOOLCHAIN_KILL", "audit.killed")

    @tc.governed_call("audit.killed", risk="medium", fallback=_fallback)
    def reply(ticket: str) -> str:
        raise AssertionError("the model must not be called")

    assert reply("t") == "A person will answer."
    (record,) = _records(trail)
    assert record.outcome == "fallback" and record.kill_switch_active is True
    assert record.kill_switch_source and record.fallback_handler and "_fallback" in record.fallback_handler


def test_approval_decision_is_on_the_record(trail: Path) -> None:
    """An approved high-risk call records the decision, approver and reason."""

    @tc.governed_call(
        "audit.gated", risk="high", fallback=_fallback,
        approval=tc.approval.require(when="before", approver=tc.approval.deny_all()),
    )  # fmt: skip
    def act(ticket: str) -> str:
        return "done"

    with tc.approval.approving_as("ci-evals", reason="nightly eval"):
        act("t")
    with pytest.raises(tc.ApprovalDenied):
        act("t")
    approved, denied = _records(trail)
    assert (approved.approval_decision, approved.approval_approver, approved.approval_reason) == (
        "approved", "ci-evals", "nightly eval")  # fmt: skip
    assert approved.approval_id and approved.outcome == "ok"
    assert denied.approval_decision == "denied" and denied.outcome == "denied"


def test_retrieval_and_output_evidence_are_on_the_record(spans: SpanRecorder, trail: Path) -> None:
    """record_retrieval's documents and scope, record_output's citations and confidence go into the record."""

    with tc.governed("audit.answer") as call:
        call.record_retrieval("kb-refunds", 7, documents=["doc-1", ("doc-2", "ab" * 32)], scope="tenant:acme")
        call.record_output("Refunds take 5 days.", citations=["doc-2"], confidence=0.82)
    (record,) = _records(trail)
    assert (record.retrieval_index, record.retrieval_version, record.retrieval_scope) == (
        "kb-refunds",
        "7",
        "tenant:acme",
    )
    assert [(d.id, d.sha256) for d in record.retrieval_documents] == [("doc-1", None), ("doc-2", "ab" * 32)]
    assert list(record.citations) == ["doc-2"] and record.confidence == 0.82
    attrs = spans.one("audit.answer").attributes or {}
    assert attrs[semconv.RETRIEVAL_INDEX] == "kb-refunds" and attrs[semconv.GEN_AI_DATA_SOURCE_ID] == "kb-refunds"


def test_bad_evidence_is_refused_at_once() -> None:
    """A confidence outside [0, 1] or a malformed document is a clear error in the body."""
    with tc.governed("audit.bad") as call:
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            call.record_output("x", confidence=1.5)
        with pytest.raises(TypeError, match="id, sha256"):
            call.record_retrieval("kb", 1, documents=[("doc", 3)])  # type: ignore[list-item]


def test_set_retrieval_still_works_but_warns() -> None:
    """The old name forwards to record_retrieval with a DeprecationWarning."""
    with tc.governed("audit.old") as call, pytest.warns(DeprecationWarning, match="record_retrieval"):
        call.set_retrieval("kb", 1)


def test_high_risk_call_does_not_run_when_its_record_cannot_be_written(spans: SpanRecorder, tmp_path: Path) -> None:
    """An unwritable sink: the high-risk function is never called; AuditUnavailable; the refusal is spooled."""
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")  # its "audit.jsonl" can never be created, not even by root
    audit.use_sink(tc.audit.jsonl(blocked / "audit.jsonl"))  # building the sink never raises
    ran = []
    try:

        @tc.governed_call("audit.high", risk="high", fallback=_fallback, approval=tc.approval.not_required(reason="t"))
        def act(ticket: str) -> str:
            ran.append(ticket)
            return "done"

        with pytest.raises(tc.AuditUnavailable):
            act("t")
        assert ran == []
        attrs = spans.one("audit.high").attributes or {}
        assert (
            attrs[semconv.OUTCOME] == "error" and attrs[semconv.ERROR_TYPE] == "toolchain_sdk.errors.AuditUnavailable"
        )
    finally:
        audit.use_sink(None)


def test_lower_risk_goes_on_with_one_warning_and_the_record_spooled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Medium/low risk with an unwritable sink: the call answers, one warning, the record waits in a spool file."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOOLCHAIN_STRICT", "0")
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    audit.use_sink(tc.audit.jsonl(blocked / "audit.jsonl"))
    try:

        @tc.governed_call("audit.low")
        def reply(ticket: str) -> str:
            return "fine"

        with caplog.at_level("WARNING", logger="toolchain_sdk"):
            assert reply("a") == "fine"
            assert reply("b") == "fine"
        warned = [r for r in caplog.records if "audit record could not be written" in r.getMessage()]
        assert len(warned) == 1
        spooled = [
            json.loads(line) for line in (tmp_path / ".toolchain" / "audit-spool.jsonl").read_text().splitlines()
        ]
        assert [r["surface"] for r in spooled] == ["audit.low", "audit.low"]
    finally:
        audit.use_sink(None)


class _FailsOnAppend:
    """A sink whose pre-call check passes but whose append fails (the disk filled during the call)."""

    def __init__(self, spool: Path) -> None:
        self._spool = spool

    def append(self, record: AuditRecord) -> AuditRecord:
        raise OSError(28, "No space left on device")

    def check(self) -> None:
        return None

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def describe(self) -> str:
        return "test:fails-on-append"

    def spool_path(self) -> str:
        return str(self._spool)


def test_high_risk_record_failing_after_the_call_raises_and_is_spooled(spans: SpanRecorder, tmp_path: Path) -> None:
    """The function ran, its record failed: the span says so, AuditUnavailable is raised, the record is spooled."""
    spool = tmp_path / "spool.jsonl"
    audit.use_sink(_FailsOnAppend(spool))
    try:

        @tc.governed_call("audit.late", risk="high", fallback=_fallback, approval=tc.approval.not_required(reason="t"))
        def act(ticket: str) -> str:
            return "done"

        with pytest.raises(tc.AuditUnavailable):
            act("t")
        attrs = spans.one("audit.late").attributes or {}
        assert attrs[semconv.OUTCOME] == "ok" and attrs[semconv.AUDIT_ERROR_TYPE] == "OSError"
        (spooled,) = [json.loads(line) for line in spool.read_text().splitlines()]
        assert spooled["surface"] == "audit.late" and spooled["outcome"] == "ok"
    finally:
        audit.use_sink(None)


def test_records_are_written_with_tracing_off(tmp_path: Path) -> None:
    """No tracer provider: the record is still written (empty trace/span ids, hashes present), and it verifies."""
    path = tmp_path / "audit.jsonl"
    result = run_python(
        """
        import toolchain_sdk as tc

        @tc.governed_call("off.reply")
        def reply(ticket: str) -> str:
            return "ok"

        reply("t")
        """,
        env={"TOOLCHAIN_AUDIT": str(path)},
    )
    assert result.returncode == 0, result.stderr
    (record,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert (record["trace_id"], record["span_id"]) == ("", "")
    assert record["input_sha256"] and record["output_sha256"] and record["outcome"] == "ok"
    verify = run_cli("audit", "verify", str(path))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_configure_wires_the_sink_and_the_policy(tmp_path: Path) -> None:
    """configure(audit=tc.audit.sqlite(...), redaction=Policy(...)) in a real process: SQLite records, redacted."""
    db = tmp_path / "audit.db"
    result = run_python(
        f"""
        import toolchain_sdk as tc
        tc.configure(exporter="none", audit=tc.audit.sqlite({str(db)!r}),
                     redaction=tc.redaction.Policy(extra=[r"ORDER-\\d+"], version="acme-3"))

        @tc.governed_call("cfg.reply", capture="redacted")
        def reply(ticket: str) -> str:
            return "ORDER-12 for ann@corp-mail.net"

        reply("t")
        """
    )
    assert result.returncode == 0, result.stderr
    (record,) = audit.read(f"sqlite:///{db}")
    assert record.redaction_policy == "acme-3" and record.output is not None
    assert "ORDER-12" not in str(record.output) and "ann@corp-mail.net" not in str(record.output)
    assert audit.verify(f"sqlite:///{db}").status == "intact"


def test_configure_refuses_an_audit_value_of_the_wrong_type() -> None:
    """configure(audit=42) names the accepted forms."""
    with pytest.raises(tc.ConfigError, match=r"tc.audit.jsonl\(path\)"):
        tc.configure(audit=42)  # type: ignore[arg-type]


def test_configure_reports_an_invalid_toolchain_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    """configure() without audit= checks TOOLCHAIN_AUDIT: a typo is a ConfigError saying what to write."""
    monkeypatch.setenv("TOOLCHAIN_AUDIT", "audit.db")
    with pytest.raises(tc.ConfigError, match=r"TOOLCHAIN_AUDIT: .*write sqlite:///audit\.db"):
        tc.configure(exporter="none")


def test_audit_off_writes_nothing_and_says_nothing(
    spans: SpanRecorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Audit off: no record id or audit error on the span, no spool file, no audit log line."""
    monkeypatch.chdir(tmp_path)
    audit.use_sink(None)

    @tc.governed_call("audit.off", risk="high", fallback=_fallback, approval=tc.approval.not_required(reason="t"))
    def reply(ticket: str) -> str:
        return "ok"

    with caplog.at_level("DEBUG"):
        assert reply("t") == "ok"
    attrs = spans.one("audit.off").attributes or {}
    assert semconv.AUDIT_RECORD_ID not in attrs and semconv.AUDIT_ERROR_TYPE not in attrs
    assert not (tmp_path / ".toolchain").exists()
    assert [r for r in caplog.records if "audit" in r.getMessage().lower()] == []


KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"  # an OpenAI-shaped key (not a real one)


def test_full_mode_records_personal_data_but_never_secrets(trail: Path) -> None:
    """capture="full": the record keeps the e-mail address as given and still removes the API key."""

    @tc.governed_call("audit.full", capture="full")
    def reply(ticket: str) -> str:
        return f"Mail {EMAIL}, key {KEY}"

    reply(f"from {EMAIL} with {KEY}")
    (record,) = _records(trail)
    assert record.capture == "full"
    assert record.input == {"ticket": f"from {EMAIL} with [OPENAI_KEY]"}
    assert record.output == f"Mail {EMAIL}, key [OPENAI_KEY]"
    assert KEY not in trail.read_text() and EMAIL in trail.read_text()


def test_a_streamed_output_is_recorded_as_the_concatenation(trail: Path) -> None:
    """A generator's record holds the joined chunks, redacted as a whole (an address split across chunks too)."""

    @tc.governed_call("audit.stream", capture="redacted")
    def stream(ticket: str) -> Iterator[str]:
        yield "Write to ann.lee@"
        yield "corp-mail.net today"

    assert "".join(stream("t")) == f"Write to {EMAIL} today"
    (record,) = _records(trail)
    assert record.output == "Write to [EMAIL] today" and record.outcome == "ok"
    assert record.output_sha256 == config.hasher().hash_value(f"Write to {EMAIL} today")


def test_a_value_over_the_cap_is_cut_in_the_record_with_its_full_size_and_hash(trail: Path) -> None:
    """The record's ``truncated`` names the cut field, its full size in bytes and the full value's hash."""
    config.install_settings(config.resolve(capture_max_bytes=512))  # as configure(capture_max_bytes=512) does
    try:

        @tc.governed_call("audit.big", capture="full")
        def reply(ticket: str) -> str:
            return "é" * 1000  # 2,000 UTF-8 bytes

        reply("short")
    finally:
        config.reset()
    (record,) = _records(trail)
    assert isinstance(record.output, str) and len(record.output.encode("utf-8")) <= 512
    assert [(t.field, t.size, t.sha256) for t in record.truncated] == [
        ("output", 2000, config.hasher().hash_value("é" * 1000))
    ]
    assert record.input == {"ticket": "short"}


def test_every_retrieved_document_goes_into_the_record(spans: SpanRecorder, trail: Path) -> None:
    """5,000 documents (no limit) all reach the record in order; the span carries index, version and source id."""
    docs = [(f"doc-{n}", format(n, "064x")) for n in range(5000)]
    with tc.governed("audit.many") as call:
        call.record_retrieval("kb", "2026-11", documents=docs, scope="group:support")
        call.record_output("ok")
    (record,) = _records(trail)
    assert [(d.id, d.sha256) for d in record.retrieval_documents] == docs
    attrs = spans.one("audit.many").attributes or {}
    assert (attrs[semconv.RETRIEVAL_INDEX], attrs[semconv.RETRIEVAL_VERSION]) == ("kb", "2026-11")
    assert attrs[semconv.GEN_AI_DATA_SOURCE_ID] == "kb"
    assert not any("doc-1" in str(v) for v in attrs.values())  # the documents are in the record, not on the span


def test_high_risk_call_does_not_run_while_the_audit_database_is_locked(tmp_path: Path) -> None:
    """Another writer holding the SQLite write lock: the high-risk function is not called; AuditUnavailable."""
    db = tmp_path / "audit.db"
    sink = tc.audit.sqlite(db)
    sink.append(AuditRecord(surface="warm.up"))
    audit.use_sink(sink)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ran = []
    try:

        @tc.governed_call(
            "audit.locked", risk="high", fallback=_fallback, approval=tc.approval.not_required(reason="t")
        )
        def act(ticket: str) -> str:
            ran.append(ticket)
            return "done"

        with pytest.raises(tc.AuditUnavailable, match="locked"):
            act("t")
        assert ran == []
    finally:
        other.execute("ROLLBACK")
        other.close()
        audit.use_sink(None)


def test_the_record_names_the_service_from_otel_service_name(tmp_path: Path) -> None:
    """``service`` is the process's service.name, also when it comes from OTEL_SERVICE_NAME (the usual way)."""
    path = tmp_path / "audit.jsonl"
    result = run_python(
        """
        import toolchain_sdk as tc
        tc.configure(exporter="none")

        @tc.governed_call("svc.reply")
        def reply(ticket: str) -> str:
            return "ok"

        reply("t")
        """,
        env={"TOOLCHAIN_AUDIT": str(path), "OTEL_SERVICE_NAME": "billing-api"},
    )
    assert result.returncode == 0, result.stderr
    (record,) = audit.read(path)
    assert record.trace_id and record.service == "billing-api"


DEMO_APP = """
import hashlib
import toolchain_sdk as tc

DOCS = {"kb-1": "Refunds take 5 days.", "kb-2": "Shipping is free."}

@tc.governed_call("support.refund_reply", owner="support", model="gpt-4o-mini", provider="openai",
                  prompt="support_refund@3", capture="redacted")
def reply(ticket: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
    call.prompt.render(customer=ticket)
    call.record_retrieval("kb", 7, documents=[(d, hashlib.sha256(t.encode()).hexdigest()) for d, t in DOCS.items()],
                          scope="tenant:acme")
    answer = "Your refund takes 5 days, ann.lee@corp-mail.net."
    call.record_output(answer, citations=["kb-1"], confidence=0.82)
    return answer

print(reply("ann.lee@corp-mail.net"), end="")
"""


def test_replay_of_a_real_call_reproduces_it_and_catches_a_changed_document(tmp_path: Path) -> None:
    """A governed call run in a process is replayed from its record: prompt checked, documents checked
    by the resolver, and the printed hash command recomputes the output hash from the text shown;
    once a document changes, replay exits 1 naming it."""
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "support_refund@3.md").write_text("Refund policy for {{ customer }}.\n")
    (tmp_path / "app.py").write_text(DEMO_APP)
    (tmp_path / "kb_index.py").write_text(
        "from app import DOCS\ndef current(index, version, doc_id):\n    return DOCS.get(doc_id)\n"
    )
    env = {"TOOLCHAIN_AUDIT": str(tmp_path / "audit.jsonl"), "PYTHONPATH": str(tmp_path)}
    shown = run_python("import runpy; runpy.run_path('app.py', run_name='__main__')", env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    (record,) = audit.read(tmp_path / "audit.jsonl")
    args = ("audit", "replay", str(tmp_path / "audit.jsonl"), record.id, "--resolver", "kb_index:current")
    done = run_cli(*args, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    for expected in (
        "OK            prompt: support_refund@3",
        "Refund policy for {{ customer }}.",
        "model: gpt-4o-mini  provider: openai",
        "OK            document kb-1",
        "OK            document kb-2",
        "scope tenant:acme",
        'citations: ["kb-1"]  confidence: 0.82',
        f"output sha256: {record.output_sha256}",
    ):
        assert expected in done.stdout
    (tmp_path / "shown.txt").write_text(shown.stdout)
    recomputed = run_cli("hash", "--file", "shown.txt", cwd=tmp_path)
    assert recomputed.stdout.strip() == record.output_sha256
    (tmp_path / "app.py").write_text(DEMO_APP.replace("Shipping is free.", "Shipping costs 5 EUR."))
    done = run_cli(*args, env=env, cwd=tmp_path)
    assert done.returncode == 1 and "MISMATCH      document kb-2" in done.stdout and "kb-2" in done.stderr


async def test_async_high_risk_call_does_not_run_and_its_refusal_is_spooled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The async path fails closed too: the coroutine body never starts, and the refused call's record
    (outcome error, AuditUnavailable) waits in the spool file."""
    monkeypatch.chdir(tmp_path)
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    audit.use_sink(tc.audit.jsonl(blocked / "audit.jsonl"))
    ran = []
    try:

        @tc.governed_call("audit.ahigh", risk="high", fallback=_fallback, approval=tc.approval.not_required(reason="t"))
        async def act(ticket: str) -> str:
            ran.append(ticket)
            return "done"

        with pytest.raises(tc.AuditUnavailable):
            await act("t")
    finally:
        audit.use_sink(None)
    assert ran == []
    (spooled,) = [json.loads(line) for line in (tmp_path / ".toolchain" / "audit-spool.jsonl").read_text().splitlines()]
    assert (spooled["surface"], spooled["outcome"]) == ("audit.ahigh", "error")
    assert spooled["error_type"] == "toolchain_sdk.errors.AuditUnavailable"


def test_keyed_hashes_and_a_keyed_chain_from_a_real_process(tmp_path: Path) -> None:
    """With TOOLCHAIN_HASH_KEY and TOOLCHAIN_AUDIT_KEY: the record names hmac-sha256 and the key's id
    (never the key), the chain verifies only under the audit key, and replay's hash command names the key id."""
    path = tmp_path / "audit.jsonl"
    keys = {"TOOLCHAIN_HASH_KEY": "content-key-1", "TOOLCHAIN_AUDIT_KEY": "chain-key-1"}
    result = run_python(
        """
        import toolchain_sdk as tc

        @tc.governed_call("keyed.reply")
        def reply(ticket: str) -> str:
            return "ok"

        reply("t")
        """,
        env={"TOOLCHAIN_AUDIT": str(path), **keys},
    )
    assert result.returncode == 0, result.stderr
    (record,) = audit.read(path)
    assert record.hash_alg == "hmac-sha256" and record.hash_key_id == key_id(b"content-key-1")
    assert record.output_sha256 == hmac.new(b"content-key-1", b"ok", hashlib.sha256).hexdigest()
    text = path.read_text()
    assert "content-key-1" not in text and "chain-key-1" not in text
    assert run_cli("audit", "verify", str(path), env=keys).returncode == 0
    unkeyed = run_cli("audit", "verify", str(path))
    assert unkeyed.returncode == 1 and "TOOLCHAIN_AUDIT_KEY" in unkeyed.stdout
    replayed = run_cli("audit", "replay", str(path), record.id, env=keys, cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"TOOLCHAIN_HASH_KEY=<the key with id {record.hash_key_id}> toolchain hash --file" in replayed.stdout


def test_a_prompt_built_in_code_is_recorded_as_such_and_replay_does_not_fail_on_it(trail: Path) -> None:
    """prompt_source says "code" for a tc.Prompt built in code; replay states it cannot check it and exits 0."""
    prompt = tc.Prompt("inline_reply", "1", "Reply to {{ ticket }}")

    @tc.governed_call("audit.inline_prompt", prompt=prompt)
    def reply(ticket: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
        assert call.prompt is not None
        return call.prompt.render(ticket=ticket)

    reply("t")
    (record,) = _records(trail)
    assert (record.prompt_source, record.prompt_sha256) == ("code", prompt.sha256)
    replayed = run_cli("audit", "replay", str(trail), record.id)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "built in code" in replayed.stdout


def test_a_stream_closed_early_says_so_on_the_record(trail: Path) -> None:
    """stream_completed is false when the consumer stopped early, true when the stream was read to the end."""

    @tc.governed_call("audit.partial")
    def stream() -> Iterator[str]:
        yield from ("a", "b", "c")

    for chunk in stream():
        if chunk == "a":
            break
    assert list(stream()) == ["a", "b", "c"]
    early, whole = _records(trail)
    assert (early.stream_completed, whole.stream_completed) == (False, True)
