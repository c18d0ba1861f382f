"""The local SQL sink: one row per record in a SQLite file, chained inside a ``BEGIN IMMEDIATE`` transaction.

Each row keeps the record's exact JSON text (what the hash covers) beside a few indexed columns
(``seq``, ``id``, ``time``, ``kind``, ``surface``, ``trace_id``, ``outcome``) for queries.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import tenacity

from toolchain_sdk.audit._chain import audit_key, seal
from toolchain_sdk.audit._record import GENESIS, AuditRecord
from toolchain_sdk.errors import AuditUnavailable

__all__ = ["SqliteSink", "iter_rows"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_records (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    surface TEXT,
    trace_id TEXT NOT NULL,
    outcome TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_records_trace ON audit_records (trace_id);
CREATE INDEX IF NOT EXISTS audit_records_surface_time ON audit_records (surface, time);
"""
_BUSY_TIMEOUT_S = 30.0
_RETRY_AFTER_S = 1.0
_CHECK_TIMEOUT_S = 1.0
"""How long ``check()`` waits for another writer's lock before reporting the database locked."""
_SETUP_RETRY: Final = tenacity.Retrying(
    retry=tenacity.retry_if_exception(lambda e: isinstance(e, sqlite3.OperationalError) and "locked" in str(e)),
    stop=tenacity.stop_after_delay(_BUSY_TIMEOUT_S),
    wait=tenacity.wait_random_exponential(multiplier=0.01, max=0.5),
    reraise=True,
)
"""Opening a database several writers open at once: switching to WAL and creating the table can meet
"database is locked" without SQLite's busy handler; those steps are retried until the busy timeout."""


class SqliteSink:
    """Appends hash-chained records to the ``audit_records`` table of a SQLite file.

    Args:
        path: the database file; its directory is created on first use.
        fsync: ``PRAGMA synchronous=FULL`` (durable across power loss) instead of ``OFF``.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        """Remember the settings; nothing is opened until the first append or check."""
        self.path = Path(path).absolute()
        self.fsync = fsync
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._db: sqlite3.Connection | None = None
        self._failure: tuple[float, BaseException] | None = None

    def describe(self) -> str:
        """``sqlite:///abs/path``."""
        return f"sqlite:///{self.path}"

    def spool_path(self) -> str:
        """``PATH.spool.jsonl``."""
        return str(self.path.with_name(self.path.name + ".spool.jsonl"))

    def __repr__(self) -> str:
        """The sink as its constructor call."""
        return f"SqliteSink({str(self.path)!r}, fsync={self.fsync})"

    def _connect(self) -> sqlite3.Connection:
        """The open connection, (re)opened after a fork or a failure, with the table created."""
        if self._pid != os.getpid():
            self._db = None  # never use a connection across fork
            self._pid = os.getpid()
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            try:
                _SETUP_RETRY(self._set_up, db)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _set_up(self, db: sqlite3.Connection) -> None:
        """WAL (persistent: set once, by the first writer), the durability level, and the table."""
        if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'OFF'}")
        db.executescript(_SCHEMA)

    def append(self, record: AuditRecord) -> AuditRecord:
        """Chain ``record`` after the row with the highest ``seq`` and insert it, in one transaction.

        Raises:
            AuditUnavailable: the database cannot be opened, locked or written (chained to the cause).
        """
        key = audit_key()
        with self._lock:
            try:
                db = self._connect()
                db.execute("BEGIN IMMEDIATE")
                try:
                    row = db.execute("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1").fetchone()
                    seq, prev = (int(row[0]), str(row[1])) if row else (0, GENESIS)
                    chained, line = seal(record, seq=seq + 1, prev_hash=prev, key=key)
                    db.execute(
                        "INSERT INTO audit_records (seq, id, time, kind, surface, trace_id, outcome, prev_hash, hash,"
                        " record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            chained.seq,
                            chained.id,
                            chained.time,
                            chained.kind,
                            chained.surface,
                            chained.trace_id,
                            chained.outcome,
                            chained.prev_hash,
                            chained.hash,
                            line,
                        ),
                    )
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except (sqlite3.Error, OSError, ValueError) as exc:
                self._failure = (time.monotonic(), exc)
                self._close_locked()
                raise AuditUnavailable(f"cannot append to the audit database {self.path}: {exc}") from exc
            self._failure = None
            return chained

    def check(self) -> None:
        """Raise ``AuditUnavailable`` if the database cannot be opened or its write lock taken within
        a second, or an append failed within the last second (the connection is kept open)."""
        with self._lock:
            failure = self._failure
            if failure is not None and time.monotonic() - failure[0] < _RETRY_AFTER_S:
                cause = failure[1]
                raise AuditUnavailable(f"the audit database {self.path} cannot be written: {cause}") from cause
            try:
                db = self._connect()
                if failure is not None and not os.access(self.path, os.W_OK):
                    raise PermissionError(f"{self.path} is not writable")
                db.execute(f"PRAGMA busy_timeout={int(_CHECK_TIMEOUT_S * 1000)}")
                try:
                    db.execute("BEGIN IMMEDIATE")  # the write lock is free now, or another writer holds it too long
                    db.execute("ROLLBACK")
                finally:
                    db.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
            except (sqlite3.Error, OSError) as exc:
                self._failure = (time.monotonic(), exc)
                self._close_locked()
                raise AuditUnavailable(f"the audit database {self.path} cannot be written: {exc}") from exc
            self._failure = None

    def flush(self) -> None:
        """Nothing is buffered: every append is its own committed transaction."""

    def _close_locked(self) -> None:
        """Close the connection (call with the thread lock held)."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def close(self) -> None:
        """Close the connection (a later append reopens it)."""
        with self._lock:
            self._close_locked()


def iter_rows(path: str | os.PathLike[str]) -> Iterator[str]:
    """The record JSON of every row of an audit database, in ``seq`` order (read-only)."""
    db = sqlite3.connect(f"file:{Path(path).absolute()}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S)
    try:
        cursor = db.execute("SELECT record FROM audit_records ORDER BY seq")
        for (text,) in cursor:
            yield str(text)
    finally:
        db.close()
