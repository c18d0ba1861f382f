"""Durable approval queues: SQLite (default, embedded) and PostgreSQL (shared by many instances).

A waiting call ``submit``s its request and polls ``get``; a reviewer (``toolchain approvals``,
another process or machine) ``decide``s. Every state change is ONE conditional statement
(``UPDATE ... WHERE status = 'pending' ... RETURNING``), so across threads, processes and
machines exactly one of "decide", "time out" and "cancel" wins, and deciding twice is refused.

Both stores keep one table, ``toolchain_approvals``, and share their SQL (``_approval_sql``).
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from toolchain_sdk.approval._values import ApprovalRequest, Decision
from toolchain_sdk.approval.store._sql import DDL, STATUSES, ApprovalRecord, DecisionRefused, SQLStore, Status
from toolchain_sdk.errors import ConfigError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "DEFAULT_PATH",
    "TOOLCHAIN_APPROVALS_URL",
    "ApprovalRecord",
    "ApprovalStore",
    "DecisionRefused",
    "STATUSES",
    "PostgresStore",
    "SQLiteStore",
    "Status",
    "open_store",
]

TOOLCHAIN_APPROVALS_URL: Final = "TOOLCHAIN_APPROVALS_URL"
"""Where ``tc.approval.queue()`` and ``toolchain approvals`` find the queue when not told:
a path, ``sqlite:///path`` or ``postgresql://...`` (default ``.toolchain/approvals.db``)."""
DEFAULT_PATH: Final = ".toolchain/approvals.db"


@runtime_checkable
class ApprovalStore(Protocol):
    """Where approval requests wait for decisions. Methods are blocking; async callers run them
    in a worker thread. Any exception they raise denies the call waiting on them (fail closed)."""

    @property
    def url(self) -> str:
        """Where the store is, for the control sheet and messages (no password)."""
        ...

    def submit(self, request: ApprovalRequest) -> None:
        """Store a new pending request."""
        ...

    def get(self, request_id: str) -> ApprovalRecord | None:
        """The request with its state, or ``None`` when unknown."""
        ...

    def list(
        self, *, status: Status | None = "pending", surface: str | None = None, limit: int = 100
    ) -> Sequence[ApprovalRecord]:
        """Requests, oldest first, filtered by status (``None``: any) and surface."""
        ...

    def decide(self, decision: Decision) -> ApprovalRecord:
        """Record ``decision`` on its pending request, atomically.

        Raises:
            DecisionRefused: unknown request, not pending (decided twice, timed out,
                cancelled), past its expiry, bound to another subject hash, or an edit that
                does not fit the request.
        """
        ...

    def close_request(self, request_id: str, status: Literal["timeout", "cancelled"]) -> bool:
        """Close a still-pending request; ``False`` when a decision got there first."""
        ...

    def close(self) -> None:
        """Release connections (the store reopens them when used again)."""
        ...


class SQLiteStore(SQLStore):
    """The embedded queue: one SQLite file in WAL mode, safe across threads and processes.

    Args:
        path: the database file (its folder is created on first use).
        busy_timeout_s: how long a statement waits for another process's write lock.
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_PATH, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self._busy_ms = int(busy_timeout_s * 1000)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=self._busy_ms / 1000, isolation_level=None, check_same_thread=False
            )
            try:
                self._initialise(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _initialise(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL and create the table. Two processes doing this at once on a new file can
        get SQLITE_BUSY without the busy handler being asked (lock-upgrade deadlock avoidance), so
        retry for up to the busy timeout."""
        conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        deadline = time.monotonic() + self._busy_ms / 1000
        delay = 0.005
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                for statement in DDL:
                    conn.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connect().execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"


class PostgresStore(SQLStore):
    """A queue shared by many application instances: PostgreSQL through psycopg 3.

    One autocommit connection per store, shared by threads (psycopg serialises them; every
    operation is a single statement), reopened when it breaks. The table is created on first
    use under an advisory lock, so instances starting together do not race.

    Args:
        url: a libpq URL, ``postgresql://user:pass@host:5432/db`` (``?options=-csearch_path%3Dx``
            picks a schema).
        connect_timeout_s: how long to wait for the server; past it the waiting call is denied.
    """

    def __init__(self, url: str, *, connect_timeout_s: float = 5.0) -> None:
        _require_psycopg()
        self._url = url
        self._connect_timeout = max(1, int(connect_timeout_s))
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    @property
    def url(self) -> str:
        parts = urlsplit(self._url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urlunsplit(parts._replace(netloc=netloc))
        return self._url

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        import psycopg

        with self._lock:
            conn = self._conn
            if conn is None or conn.closed or conn.broken:
                conn = psycopg.connect(self._url, autocommit=True, connect_timeout=self._connect_timeout)
                try:
                    with conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(hashtext('toolchain_approvals'))")
                        for statement in DDL:
                            conn.execute(statement)
                except BaseException:
                    conn.close()
                    raise
                self._conn = conn
            return conn

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        cur = self._connect().execute(sql.replace("?", "%s"), tuple(params))
        return cur.fetchall() if cur.description is not None else []

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"


def _require_psycopg() -> None:
    if importlib.util.find_spec("psycopg") is None:
        raise ConfigError("a postgresql:// approval queue needs psycopg 3: pip install 'toolchain-sdk[postgres]'")


def open_store(where: ApprovalStore | str | os.PathLike[str] | None = None) -> ApprovalStore:
    """The store named by ``where``: a store object, a path, ``sqlite:///path`` or ``postgresql://...``.

    ``None`` reads ``TOOLCHAIN_APPROVALS_URL``, else uses ``.toolchain/approvals.db``. Nothing is
    opened until the store is first used.

    Raises:
        ConfigError: ``where`` is none of these, or psycopg is missing for a PostgreSQL URL.
    """
    if where is None:
        where = os.environ.get(TOOLCHAIN_APPROVALS_URL) or DEFAULT_PATH
    if isinstance(where, ApprovalStore) and not isinstance(where, (str, os.PathLike)):
        return where
    if isinstance(where, os.PathLike):
        return SQLiteStore(where)
    if not isinstance(where, str) or not where.strip():
        raise ConfigError(f"approval queue: expected a path, a URL or a store, not {type(where).__name__}")
    if where.startswith(("postgresql://", "postgres://")):
        return PostgresStore(where)
    if where.startswith("sqlite:///"):
        return SQLiteStore(where.removeprefix("sqlite:///"))
    if "://" in where:
        raise ConfigError(f"approval queue {where!r}: use a path, sqlite:///path or postgresql://...")
    return SQLiteStore(where)
