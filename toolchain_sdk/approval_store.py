"""Durable approval queues: SQLite (default, embedded) and PostgreSQL (shared by many instances).

A waiting call ``submit``s its request and polls ``get``; a reviewer (``toolchain approvals``,
another process or machine) ``decide``s. Every state change is ONE conditional statement
(``UPDATE ... WHERE status = 'pending' ... RETURNING``), so across threads, processes and
machines exactly one of "decide", "time out" and "cancel" wins, and deciding twice is refused.

Both stores keep one table, ``toolchain_approvals``, with timestamps as fixed-width ISO-8601 UTC
text (they sort as text) and arguments/outputs as JSON text, so the same SQL serves both.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import importlib.util
import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, cast, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from toolchain_sdk._approval_values import (
    ApprovalRequest,
    Decision,
    OutputKind,
    decode_output,
    encode_output,
    utcnow,
)
from toolchain_sdk.errors import ConfigError, ToolchainError

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

Status = Literal["pending", "approved", "denied", "edited", "timeout", "cancelled"]
STATUSES: Final = ("pending", "approved", "denied", "edited", "timeout", "cancelled")

_TABLE: Final = "toolchain_approvals"
_COLUMNS: Final = (
    "id, surface, risk, phase, arguments_json, arguments_sha256, output_json, output_kind, output_sha256, "
    "hash_alg, trace_id, span_id, created_at, expires_at, status, decided_by, decided_at, reason, "
    "decision_sha256, edited_json"
)
_DDL: Final = (
    f"CREATE TABLE IF NOT EXISTS {_TABLE} ("
    " id TEXT PRIMARY KEY, surface TEXT NOT NULL, risk TEXT NOT NULL, phase TEXT NOT NULL,"
    " arguments_json TEXT NOT NULL, arguments_sha256 TEXT NOT NULL,"
    " output_json TEXT, output_kind TEXT, output_sha256 TEXT, hash_alg TEXT NOT NULL,"
    " trace_id TEXT NOT NULL DEFAULT '', span_id TEXT NOT NULL DEFAULT '',"
    " created_at TEXT NOT NULL, expires_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',"
    " decided_by TEXT, decided_at TEXT, reason TEXT, decision_sha256 TEXT, edited_json TEXT)",
    f"CREATE INDEX IF NOT EXISTS {_TABLE}_status_created ON {_TABLE} (status, created_at)",
)


class DecisionRefused(ToolchainError):
    """A decision the store will not record: unknown request, already decided, expired, or bound
    to other arguments/output than the request's."""


@dataclass(frozen=True, kw_only=True)
class ApprovalRecord:
    """A stored request with its state.

    Attributes:
        request: the request as submitted.
        status: ``pending``, a verdict (``approved``, ``denied``, ``edited``), or ``timeout`` /
            ``cancelled`` when the waiting call gave up first.
        decision: the decision, once there is one (its ``subject_sha256`` is what was approved).
        closed_at: when a ``timeout`` or ``cancelled`` request was closed.
    """

    request: ApprovalRequest
    status: Status
    decision: Decision | None = None
    closed_at: _dt.datetime | None = None


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


def _ts(value: _dt.datetime) -> str:
    return value.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(value: str | None) -> _dt.datetime | None:
    if value is None:
        return None
    return _dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_dt.UTC)


class _SQLStore:
    """The SQL shared by both backends; subclasses run one statement (``?`` placeholders)."""

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def submit(self, request: ApprovalRequest) -> None:
        output_json = None
        if request.phase == "after":
            output_json = json.dumps(request.output, ensure_ascii=False, sort_keys=True)
        self._rows(
            f"INSERT INTO {_TABLE} (id, surface, risk, phase, arguments_json, arguments_sha256, output_json, "
            "output_kind, output_sha256, hash_alg, trace_id, span_id, created_at, expires_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
            (
                request.id,
                request.surface,
                request.risk,
                request.phase,
                json.dumps(dict(request.arguments), ensure_ascii=False, sort_keys=True),
                request.arguments_sha256,
                output_json,
                request.output_kind,
                request.output_sha256,
                request.hash_alg,
                request.trace_id,
                request.span_id,
                _ts(request.created_at),
                _ts(request.expires_at),
            ),
        )

    def get(self, request_id: str) -> ApprovalRecord | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM {_TABLE} WHERE id = ?", (request_id,))
        return _record(rows[0]) if rows else None

    def list(
        self, *, status: Status | None = "pending", surface: str | None = None, limit: int = 100
    ) -> builtins.list[ApprovalRecord]:
        where: builtins.list[str] = []
        params: builtins.list[object] = []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if surface is not None:
            where.append("surface = ?")
            params.append(surface)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM {_TABLE}{clause} ORDER BY created_at, id LIMIT ?", (*params, int(limit))
        )
        return [_record(row) for row in rows]

    def decide(self, decision: Decision) -> ApprovalRecord:
        known = self.get(decision.request_id)
        _check_decidable(decision, known)
        assert known is not None
        edited = None
        if decision.verdict == "edited":
            try:
                edited = encode_output(decision.output, known.request.output_kind or "json")
            except ValueError as exc:
                raise DecisionRefused(f"request {decision.request_id}: {exc}") from None
        rows = self._rows(
            f"UPDATE {_TABLE} SET status = ?, decided_by = ?, decided_at = ?, reason = ?, decision_sha256 = ?, "
            "edited_json = ? WHERE id = ? AND status = 'pending' AND expires_at > ? "
            "AND (CASE WHEN phase = 'after' THEN output_sha256 ELSE arguments_sha256 END) = ? "
            f"RETURNING {_COLUMNS}",
            (
                decision.verdict,
                decision.by,
                _ts(decision.decided_at),
                decision.reason,
                decision.subject_sha256,
                edited,
                decision.request_id,
                _ts(utcnow()),
                decision.subject_sha256,
            ),
        )
        if not rows:  # somebody else decided, or it expired, between the read and the write
            _check_decidable(decision, self.get(decision.request_id))
            raise DecisionRefused(f"request {decision.request_id} could not be decided; try again")
        return _record(rows[0])

    def close_request(self, request_id: str, status: Literal["timeout", "cancelled"]) -> bool:
        rows = self._rows(
            f"UPDATE {_TABLE} SET status = ?, decided_at = ? WHERE id = ? AND status = 'pending' RETURNING id",
            (status, _ts(utcnow()), request_id),
        )
        return bool(rows)


def _check_decidable(decision: Decision, known: ApprovalRecord | None) -> None:
    rid = decision.request_id
    if known is None:
        raise DecisionRefused(f"no approval request {rid!r} in this store")
    if known.status != "pending":
        by = f" by {known.decision.by}" if known.decision else ""
        raise DecisionRefused(f"request {rid} is already {known.status}{by}; a request is decided once")
    if known.request.remaining() <= 0:
        raise DecisionRefused(f"request {rid} expired at {_ts(known.request.expires_at)}; the call was denied")
    if decision.subject_sha256 != known.request.subject_sha256:
        raise DecisionRefused(
            f"request {rid}: the decision is bound to {decision.subject_sha256[:12]}…, but the request's "
            f"{'output' if known.request.phase == 'after' else 'arguments'} hash "
            f"{known.request.subject_sha256[:12]}…; decide on what the request shows"
        )
    if decision.verdict == "edited" and known.request.phase != "after":
        raise DecisionRefused(f"request {rid} is a before-call approval: there is no output to edit yet")


def _record(row: Sequence[Any]) -> ApprovalRecord:
    (rid, surface, risk, phase, arguments_json, arguments_sha256, output_json, kind, output_sha256, hash_alg,
     trace_id, span_id, created_at, expires_at, status, decided_by, decided_at, reason, decision_sha256,
     edited_json) = row  # fmt: skip
    output_kind = cast("OutputKind | None", kind)
    request = ApprovalRequest(
        id=rid,
        surface=surface,
        risk=risk,
        phase=phase,
        arguments=json.loads(arguments_json),
        arguments_sha256=arguments_sha256,
        output=json.loads(output_json) if output_json is not None else None,
        output_kind=output_kind,
        output_sha256=output_sha256,
        hash_alg=hash_alg,
        trace_id=trace_id or "",
        span_id=span_id or "",
        created_at=cast(_dt.datetime, _parse_ts(created_at)),
        expires_at=cast(_dt.datetime, _parse_ts(expires_at)),
    )
    decided = _parse_ts(decided_at)
    if status in ("approved", "denied", "edited"):
        decision = Decision(
            request_id=rid,
            subject_sha256=decision_sha256 or "",
            verdict=status,
            by=decided_by or "?",
            reason=reason or "",
            output=decode_output(edited_json, output_kind or "json") if edited_json is not None else None,
            decided_at=decided or utcnow(),
        )
        return ApprovalRecord(request=request, status=status, decision=decision)
    return ApprovalRecord(request=request, status=status, closed_at=decided)


class SQLiteStore(_SQLStore):
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
                for statement in _DDL:
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


class PostgresStore(_SQLStore):
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
                        for statement in _DDL:
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
