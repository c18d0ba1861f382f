"""The SQL shared by the SQLite and PostgreSQL approval stores: one table, one statement per change,
and the one connection each store keeps (opened on first use, reopened after ``close()``).

Timestamps are fixed-width ISO-8601 UTC text (they sort as text), arguments and outputs JSON
text, so the same statements serve both backends (``?`` placeholders; PostgreSQL gets ``%s``).
"""

from __future__ import annotations

import abc
import builtins
import datetime as _dt
import json
import threading
from collections.abc import Sequence
from typing import Any, Final, Generic, Literal, Protocol, TypeVar, cast

from toolchain_sdk.approval._values import (
    ApprovalRequest,
    Decision,
    OutputKind,
    decode_output,
    encode_output,
    utcnow,
)
from toolchain_sdk.approval.store._protocol import ApprovalRecord, Status
from toolchain_sdk.errors import DecisionRefused

__all__ = ["DDL", "SQLStore"]

_TABLE: Final = "toolchain_approvals"
_COLUMNS: Final = (
    "id, surface, risk, phase, arguments_json, arguments_sha256, output_json, output_kind, output_sha256, "
    "hash_alg, trace_id, span_id, created_at, expires_at, status, decided_by, decided_at, reason, "
    "decision_sha256, edited_json"
)
DDL: Final = (
    f"CREATE TABLE IF NOT EXISTS {_TABLE} ("
    " id TEXT PRIMARY KEY, surface TEXT NOT NULL, risk TEXT NOT NULL, phase TEXT NOT NULL,"
    " arguments_json TEXT NOT NULL, arguments_sha256 TEXT NOT NULL,"
    " output_json TEXT, output_kind TEXT, output_sha256 TEXT, hash_alg TEXT NOT NULL,"
    " trace_id TEXT NOT NULL DEFAULT '', span_id TEXT NOT NULL DEFAULT '',"
    " created_at TEXT NOT NULL, expires_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',"
    " decided_by TEXT, decided_at TEXT, reason TEXT, decision_sha256 TEXT, edited_json TEXT)",
    f"CREATE INDEX IF NOT EXISTS {_TABLE}_status_created ON {_TABLE} (status, created_at)",
)
"""The table and its index (``IF NOT EXISTS``: every store runs them when it connects)."""


class _Connection(Protocol):
    def close(self) -> None: ...


ConnT = TypeVar("ConnT", bound=_Connection)


def _ts(value: _dt.datetime) -> str:
    return value.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(value: str | None) -> _dt.datetime | None:
    if value is None:
        return None
    return _dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_dt.UTC)


class SQLStore(abc.ABC, Generic[ConnT]):
    """The store operations, in SQL shared by both backends, over one connection per store.

    A backend says how to open a connection (``_open``), prepare it (``_initialise``: create the
    table), whether a kept one is still usable (``_usable``) and how to run one statement
    (``_rows``, ``?`` placeholders), holding ``_lock`` while it uses ``_connection()``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: ConnT | None = None

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """Where the store is, for the control sheet and messages (no password)."""

    @abc.abstractmethod
    def _open(self) -> ConnT:
        """A new connection."""

    @abc.abstractmethod
    def _initialise(self, conn: ConnT) -> None:
        """Prepare a new connection: create the table (``DDL``) and set the session up."""

    def _usable(self, conn: ConnT) -> bool:
        """Whether a kept connection can still be used (``False``: open a new one)."""
        return True

    @abc.abstractmethod
    def _rows(self, sql: str, params: Sequence[object] = ()) -> builtins.list[tuple[Any, ...]]:
        """Run one statement and return its rows (none for a statement without ``RETURNING``)."""

    def _connection(self) -> ConnT:
        """The store's connection, opened and initialised when there is none (or it broke); hold ``_lock``."""
        conn = self._conn
        if conn is None or not self._usable(conn):
            conn = self._open()
            try:
                self._initialise(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return conn

    def close(self) -> None:
        """Release the connection (the store reopens one when used again)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

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
