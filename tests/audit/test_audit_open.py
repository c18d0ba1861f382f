"""Naming a sink: open_sink's accepted forms, TOOLCHAIN_AUDIT, the [audit] table, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._subproc import run_python
from toolchain_sdk import audit
from toolchain_sdk.errors import ConfigError


def test_open_sink_accepts_a_jsonl_path_a_sqlite_url_and_otlp(tmp_path: Path) -> None:
    """A path is JSONL, sqlite:///PATH is SQLite, otlp is the OTLP sink; options follow a '?'."""
    jsonl = audit.open_sink(f"{tmp_path}/a.jsonl?fsync=1&max_bytes=1000")
    assert isinstance(jsonl, audit.JsonlSink) and (jsonl.fsync, jsonl.max_bytes) == (True, 1000)
    assert jsonl.describe() == f"jsonl:{tmp_path}/a.jsonl"
    db = audit.open_sink(f"sqlite:///{tmp_path}/a.db")
    assert isinstance(db, audit.SqliteSink) and db.describe() == f"sqlite:///{tmp_path}/a.db"
    assert isinstance(audit.open_sink("otlp"), audit.OtlpSink)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("postgresql://db/audit", "unknown form"),
        ("audit.db", "sqlite:///audit.db"),
        ("a.jsonl?fsync=maybe", "fsync"),
        ("a.jsonl?colour=red", "colour"),
        ("sqlite:///a.db?max_bytes=10", "JSONL files only"),
        ("", "empty"),
    ],
)
def test_open_sink_refuses_other_forms_naming_the_accepted_ones(spec: str, says: str) -> None:
    """Anything else is a ConfigError that says what to write instead."""
    with pytest.raises(ConfigError, match=says) as caught:
        audit.open_sink(spec)
    if says != "sqlite:///audit.db":
        assert "sqlite:///path.db" in str(caught.value) or "JSONL" in str(caught.value)


def test_building_sinks_never_touches_the_disk(tmp_path: Path) -> None:
    """Configuring a sink creates nothing (so it cannot fail); the first append creates the file."""
    target = tmp_path / "later" / "audit.jsonl"
    sink = audit.open_sink(str(target))
    assert not target.parent.exists()
    sink.append(audit.AuditRecord())
    assert target.exists()


def test_sink_from_env_reads_toolchain_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TOOLCHAIN_AUDIT names the sink; unset (and no config file) means audit is off."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOOLCHAIN_CONFIG", raising=False)
    monkeypatch.delenv("TOOLCHAIN_AUDIT", raising=False)
    assert audit.sink_from_env() is None
    monkeypatch.setenv("TOOLCHAIN_AUDIT", "sqlite:///x.db")
    sink = audit.sink_from_env()
    assert isinstance(sink, audit.SqliteSink) and sink.path == tmp_path / "x.db"
    monkeypatch.setenv("TOOLCHAIN_AUDIT", "mysql://x")
    with pytest.raises(ConfigError, match="TOOLCHAIN_AUDIT"):
        audit.sink_from_env()


def test_the_audit_table_of_toolchain_toml_names_the_sink(tmp_path: Path) -> None:
    """``[audit] sink = "logs/audit.jsonl"`` (relative to the file) with options is found when
    TOOLCHAIN_AUDIT is unset; a bad field is a ConfigError naming file, table and field."""
    (tmp_path / "toolchain.toml").write_text('[audit]\nsink = "logs/audit.jsonl"\nmax_bytes = 5000\n')
    found = run_python(
        """
        from toolchain_sdk import audit
        sink = audit.sink_from_env()
        print(type(sink).__name__, sink.describe(), sink.max_bytes)
        """,
        cwd=tmp_path,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["JsonlSink", f"jsonl:{tmp_path}/logs/audit.jsonl", "5000"]
    (tmp_path / "toolchain.toml").write_text('[audit]\nsink = "a.jsonl"\nfsink = true\n')
    bad = run_python(
        """
        from toolchain_sdk import audit
        from toolchain_sdk.errors import ConfigError
        try:
            audit.sink_from_env()
        except ConfigError as exc:
            print(exc)
        """,
        cwd=tmp_path,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert "toolchain.toml: [audit].fsink" in bad.stdout, bad.stdout + bad.stderr
