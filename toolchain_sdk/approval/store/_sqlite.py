"""The embedded approval queue: one SQLite file in WAL mode, safe across threads and processes."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from toolchain_sdk.approval.store._sql import DDL, SQLStore

__all__ = ["DEFAULT_PATH", "SQLiteStore"]

DEFAULT_PATH: Final = ".toolchain/approvals.db"
"""The queue ``tc.approval.queue()`` and ``toolchain approvals`` use when nothing names one."""


class SQLiteStore(SQLStore[sqlite3.Connection]):
    """The embedded queue: one SQLite file in WAL mode, safe across threads and processes.

    Args:
        path: the database file (its folder is created on first use).
        busy_timeout_s: how long a statement waits for another process's write lock.
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_PATH, *, busy_timeout_s: float = 5.0) -> None:
        super().__init__()
        self.path = Path(path)
        self._busy_ms = int(busy_timeout_s * 1000)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(self.path, timeout=self._busy_ms / 1000, isolation_level=None, check_same_thread=False)

    def _initialise(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL and create the table. Two processes doing this at once on a new file can
        get SQLITE_BUSY without the busy handler being asked (lock-upgrade deadlock avoidance), so
        retry, backing off from 5 ms to 100 ms, for up to the busy timeout; then the error is raised."""
        conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        retrying = Retrying(
            retry=retry_if_exception(_locked),
            stop=stop_after_delay(self._busy_ms / 1000),
            wait=wait_exponential(multiplier=0.005, max=0.1),
            reraise=True,
        )
        retrying(_create, conn)

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:  # one connection shared by threads: one statement at a time
            return self._connection().execute(sql, tuple(params)).fetchall()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _create(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for statement in DDL:
        conn.execute(statement)
