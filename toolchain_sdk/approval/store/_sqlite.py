"""The embedded approval queue: one SQLite file in WAL mode, safe across threads and processes."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from toolchain_sdk.approval.store._deadline import time_left
from toolchain_sdk.approval.store._sql import DDL, TABLE, SQLStore
from toolchain_sdk.errors import ConfigError

__all__ = ["DEFAULT_PATH", "SQLiteStore"]

DEFAULT_PATH: Final = ".toolchain/approvals.db"
"""The queue ``tc.approval.queue()`` and ``toolchain approvals`` use when nothing names one."""


class SQLiteStore(SQLStore[sqlite3.Connection]):
    """The embedded queue: one SQLite file in WAL mode, safe across threads and processes.

    Args:
        path: the database file (its folder is created on first use, when ``create``).
        busy_timeout_s: how long a statement waits for another process's write lock; under a
            waiting call's deadline (``deadline``), never longer than the time left.
        create: create the file and its table when missing; ``False`` raises ``ConfigError``
            (``no approval store at ...``) instead, and never creates anything.
    """

    def __init__(
        self, path: str | os.PathLike[str] = DEFAULT_PATH, *, busy_timeout_s: float = 5.0, create: bool = True
    ) -> None:
        super().__init__(create=create)
        self.path = Path(path)
        self._busy_s = busy_timeout_s
        self._busy_set = -1  # the busy timeout the open connection has, in ms

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def _open(self) -> sqlite3.Connection:
        busy = time_left(self._busy_s)
        self._busy_set = int(busy * 1000)
        if self.create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return sqlite3.connect(self.path, timeout=busy, isolation_level=None, check_same_thread=False)
        if not self.path.is_file():
            raise ConfigError(f"no approval store at {self.url}: there is no such file")
        uri = f"{self.path.resolve().as_uri()}?mode=rw"  # never creates the file, even if it vanishes meanwhile
        return sqlite3.connect(uri, uri=True, timeout=busy, isolation_level=None, check_same_thread=False)

    def _initialise(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL and create the table. Two processes doing this at once on a new file can
        get SQLITE_BUSY without the busy handler being asked (lock-upgrade deadlock avoidance), so
        retry, backing off from 5 ms to 100 ms, for up to the busy timeout; then the error is raised."""
        busy = time_left(self._busy_s)
        conn.execute(f"PRAGMA busy_timeout = {int(busy * 1000)}")
        retrying = Retrying(
            retry=retry_if_exception(_locked),
            stop=stop_after_delay(busy),
            wait=wait_exponential(multiplier=0.005, max=0.1),
            reraise=True,
        )
        retrying(_create, conn)

    def _column_names(self, conn: sqlite3.Connection) -> set[str]:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({TABLE})").fetchall()}

    def _add_columns(self, conn: sqlite3.Connection, names: Sequence[str]) -> None:
        for name in names:
            try:
                conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN {name} TEXT")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):  # another process added it first: fine
                    raise

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:  # one connection shared by threads: one statement at a time
            conn = self._connection()
            busy = int(time_left(self._busy_s) * 1000)
            if busy != self._busy_set:  # a waiting call's deadline: wait no longer than the time it has left
                conn.execute(f"PRAGMA busy_timeout = {busy}")
                self._busy_set = busy
            return conn.execute(sql, tuple(params)).fetchall()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _create(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for statement in DDL:
        conn.execute(statement)
