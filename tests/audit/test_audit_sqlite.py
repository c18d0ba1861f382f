"""The SQLite sink: a locked database fails check(), rows keep the exact hashed JSON."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from toolchain_sdk import audit
from toolchain_sdk.audit import record_hash
from toolchain_sdk.errors import AuditUnavailable


def test_check_reports_a_database_another_writer_keeps_locked(tmp_path: Path) -> None:
    """While another connection holds the write lock, check() raises AuditUnavailable; afterwards it passes."""
    path = tmp_path / "audit.db"
    sink = audit.sqlite(path)
    sink.append(audit.AuditRecord())
    sink.check()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(AuditUnavailable, match="locked"):
            sink.check()
    finally:
        other.execute("ROLLBACK")
        other.close()
    deadline = time.monotonic() + 30  # a failure is reported for about a second, then probed again
    while True:
        try:
            sink.check()
            break
        except AuditUnavailable:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    sink.append(audit.AuditRecord())
    assert audit.verify(f"sqlite:///{path}").records == 2


def test_rows_keep_the_hashed_json_and_indexed_columns(tmp_path: Path) -> None:
    """Each row's ``record`` is the JSON that hashes to its ``hash`` column; seq and id are columns."""
    path = tmp_path / "audit.db"
    sink = audit.sqlite(path)
    chained = sink.append(audit.AuditRecord(surface="s", trace_id="a" * 32, outcome="ok"))
    sink.close()
    db = sqlite3.connect(path)
    seq, id_, surface, trace, text, hash_ = db.execute(
        "SELECT seq, id, surface, trace_id, record, hash FROM audit_records"
    ).fetchone()
    db.close()
    assert (seq, id_, surface, trace, hash_) == (1, chained.id, "s", "a" * 32, chained.hash)
    assert record_hash(json.loads(text), None) == hash_
    assert sink.describe() == f"sqlite:///{path}"


def test_an_unwritable_database_path_fails_check(tmp_path: Path) -> None:
    """A database whose directory cannot be created raises at check(), not when configured."""
    (tmp_path / "afile").write_text("x")
    sink = audit.sqlite(tmp_path / "afile" / "audit.db")
    with pytest.raises(AuditUnavailable):
        sink.check()
