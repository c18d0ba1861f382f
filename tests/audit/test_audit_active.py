"""The sink in force: use_sink, lazy TOOLCHAIN_AUDIT, write, append_event, flush at exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._subproc import run_python
from toolchain_sdk import audit
from toolchain_sdk.errors import ConfigError

_PATH = {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def test_write_goes_through_the_installed_sink_and_returns_the_chained_record(tmp_path: Path) -> None:
    """After use_sink, write() appends and returns the record with seq, prev_hash and hash."""
    sink = audit.jsonl(tmp_path / "a.jsonl")
    audit.use_sink(sink)
    assert audit.active_sink() is sink
    first = audit.write(audit.AuditRecord(surface="s"))
    second = audit.write(audit.AuditRecord(surface="s"))
    assert (first.seq, first.prev_hash) == (1, audit.GENESIS)
    assert (second.seq, second.prev_hash) == (2, first.hash)


def test_with_audit_off_write_changes_nothing(tmp_path: Path) -> None:
    """With no sink (use_sink(None)), write() returns the record as given and writes nothing."""
    audit.use_sink(None)
    record = audit.AuditRecord(surface="s")
    assert audit.write(record) is record and record.seq == 0


def test_active_sink_resolves_toolchain_audit_lazily_once(tmp_path: Path) -> None:
    """In a fresh process with TOOLCHAIN_AUDIT set and nothing installed, write() uses that chain."""
    target = tmp_path / "lazy.jsonl"
    result = run_python(
        """
        from toolchain_sdk import audit
        print(audit.active_sink().describe())
        print(audit.write(audit.AuditRecord(surface="lazy")).seq)
        """,
        env={**_PATH, "TOOLCHAIN_AUDIT": str(target)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [f"jsonl:{target}", "1"]


def test_an_invalid_toolchain_audit_fails_closed_not_silently_off(tmp_path: Path) -> None:
    """TOOLCHAIN_AUDIT=audit.db (a typo for sqlite:///audit.db): a high-risk call does not run and its
    AuditUnavailable says what to write; a low-risk call answers and its record waits in the spool."""
    result = run_python(
        """
        import toolchain_sdk as tc

        @tc.governed_call("typo.high", risk="high", fallback=lambda ticket: "person",
                          approval=tc.approval.not_required(reason="test"))
        def act(ticket: str) -> str:
            print("RAN high")
            return "done"

        @tc.governed_call("typo.low")
        def reply(ticket: str) -> str:
            return "fine"

        try:
            act("t")
        except tc.AuditUnavailable as exc:
            print("REFUSED", exc)
        print(reply("t"))
        """,
        env={**_PATH, "TOOLCHAIN_AUDIT": "audit.db"},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "RAN high" not in result.stdout and "REFUSED" in result.stdout
    assert "sqlite:///audit.db" in result.stdout and "fine" in result.stdout
    assert "misconfigured" in result.stderr
    spooled = [json.loads(line) for line in (tmp_path / ".toolchain" / "audit-spool.jsonl").read_text().splitlines()]
    assert [r["surface"] for r in spooled] == ["typo.high", "typo.low"]
    assert not (tmp_path / "audit.db").exists()


def test_buffered_records_are_flushed_at_normal_exit(tmp_path: Path) -> None:
    """An OTLP sink's batched records reach the exporter when the process exits normally."""
    out = tmp_path / "exported.txt"
    result = run_python(
        f"""
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
        from toolchain_sdk import audit

        class ToFile(LogRecordExporter):
            def export(self, batch):
                with open({str(out)!r}, "a") as f:
                    for item in batch:
                        f.write(item.log_record.attributes["toolchain.audit.id"] + "\\n")
                return LogRecordExportResult.SUCCESS
            def shutdown(self):
                pass
            def force_flush(self, timeout_millis=30000):
                return True

        provider = LoggerProvider()
        provider.add_log_record_processor(BatchLogRecordProcessor(ToFile(), schedule_delay_millis=60000))
        audit.use_sink(audit.otlp(logger_provider=provider))
        for _ in range(3):
            print(audit.write(audit.AuditRecord(surface="s")).id)
        """,
        env=_PATH,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text().split() == result.stdout.split()


def test_append_event_records_a_flag_change_where_toolchain_audit_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """append_event builds a flag_change record (actor defaulting to the login) and chains it."""
    path = tmp_path / "a.jsonl"
    monkeypatch.setenv("TOOLCHAIN_AUDIT", str(path))
    record = audit.append_event("flag_change", action="kill", pattern="support.*", reason="incident 42")
    assert record is not None and record.seq == 1 and record.actor
    (stored,) = audit.read(path)
    assert (stored.kind, stored.action, stored.pattern, stored.reason) == (
        "flag_change",
        "kill",
        "support.*",
        "incident 42",
    )
    with pytest.raises(ConfigError, match="action"):
        audit.append_event("flag_change", action="explode")


def test_append_event_without_configuration_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With neither TOOLCHAIN_AUDIT nor a config file, nothing is recorded."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOOLCHAIN_AUDIT", raising=False)
    monkeypatch.delenv("TOOLCHAIN_CONFIG", raising=False)
    assert audit.append_event("flag_change", action="kill", pattern="x") is None
    assert list(tmp_path.iterdir()) == []


def test_use_sink_closes_the_sink_it_replaces(tmp_path: Path) -> None:
    """Installing another sink closes the previous one (its handles are released)."""
    first = audit.jsonl(tmp_path / "a.jsonl")
    audit.use_sink(first)
    audit.write(audit.AuditRecord())
    assert isinstance(first, audit.JsonlSink) and first._fd is not None
    audit.use_sink(audit.jsonl(tmp_path / "b.jsonl"))
    assert first._fd is None
    assert json.loads((tmp_path / "a.jsonl").read_text())["seq"] == 1


def test_a_custom_sink_without_a_spool_path_spools_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's sink that only has the five Sink methods is a Sink; what it refuses goes to
    .toolchain/audit-spool.jsonl and write() raises AuditUnavailable chained to its error."""
    from toolchain_sdk.errors import AuditUnavailable

    class Refusing:
        def append(self, record: audit.AuditRecord) -> audit.AuditRecord:
            """Refuse every record."""
            raise OSError("disk on fire")

        def check(self) -> None:
            """Healthy, as far as it knows."""

        def flush(self) -> None:
            """Nothing buffered."""

        def close(self) -> None:
            """Nothing held."""

        def describe(self) -> str:
            """A name for messages."""
            return "refusing"

    sink = Refusing()
    assert isinstance(sink, audit.Sink)
    monkeypatch.chdir(tmp_path)
    audit.use_sink(sink)
    record = audit.AuditRecord(surface="s")
    with pytest.raises(AuditUnavailable, match="refusing") as caught:
        audit.write(record)
    assert isinstance(caught.value.__cause__, OSError)
    spooled = (tmp_path / ".toolchain" / "audit-spool.jsonl").read_text()
    assert json.loads(spooled)["id"] == record.id
