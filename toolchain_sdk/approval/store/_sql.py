"""The SQL shared by the SQLite and PostgreSQL approval stores: one table, one statement per change,
and the one connection each store keeps (opened on first use, reopened after ``close()``).

Timestamps are fixed-width ISO-8601 UTC text (they sort as text), arguments and outputs JSON
text, so the same statements serve both backends (``?`` placeholders; PostgreSQL gets ``%s``).
A table made by an earlier version gets the columns added since (``ADDED``) when a store first
connects; a table without the original columns is not a queue (``ConfigError``).
"""

from __future__ import annotations

import abc
import builtins
import datetime as _dt
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final, Generic, Literal, Protocol, TypeVar, cast

from toolchain_sdk.approval._schema import schema_problem
from toolchain_sdk.approval._values import (
    ApprovalRequest,
    Decision,
    OutputKind,
    decode_output,
    encode_output,
    utcnow,
)
from toolchain_sdk.approval.store._owner import STALE_S, this_process
from toolchain_sdk.approval.store._protocol import ApprovalRecord, Status
from toolchain_sdk.errors import ConfigError, DecisionRefused

__all__ = ["ADDED", "DDL", "SQLStore", "TABLE"]

TABLE: Final = "toolchain_approvals"
_ORIGINAL: Final = (
    "id", "surface", "risk", "phase", "arguments_json", "arguments_sha256", "output_json", "output_kind",
    "output_sha256", "hash_alg", "trace_id", "span_id", "created_at", "expires_at", "status", "decided_by",
    "decided_at", "reason", "decision_sha256", "edited_json",
)  # fmt: skip
ADDED: Final = ("verdict", "closed_at", "close_reason", "output_schema_json", "owner", "heartbeat_at",
                 "surface_owner", "model", "prompt_name", "prompt_version")  # fmt: skip
"""Columns added after the first release (all nullable text): the reviewer's verdict (kept when the
waiting call refuses it), when and why the request was closed, the output's JSON Schema, the
waiting caller (``host:pid``) with its last heartbeat, and what a reviewer sees of the surface:
its declared owner, the model and the prompt name and version (``owner`` was taken by the caller)."""
_COLUMNS: Final = ", ".join((*_ORIGINAL, *ADDED))
DDL: Final = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    " id TEXT PRIMARY KEY, surface TEXT NOT NULL, risk TEXT NOT NULL, phase TEXT NOT NULL,"
    " arguments_json TEXT NOT NULL, arguments_sha256 TEXT NOT NULL,"
    " output_json TEXT, output_kind TEXT, output_sha256 TEXT, hash_alg TEXT NOT NULL,"
    " trace_id TEXT NOT NULL DEFAULT '', span_id TEXT NOT NULL DEFAULT '',"
    " created_at TEXT NOT NULL, expires_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',"
    " decided_by TEXT, decided_at TEXT, reason TEXT, decision_sha256 TEXT, edited_json TEXT,"
    f" {', '.join(f'{c} TEXT' for c in ADDED)})",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_status_created ON {TABLE} (status, created_at)",
)
"""The table and its index (``IF NOT EXISTS``: every store that may create the queue runs them)."""
_VERDICTS: Final = ("approved", "denied", "edited")
_DECIDED: Final = "status IN ('approved', 'denied', 'edited')"


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
    table; only for a store that may create the queue), which columns the table has
    (``_column_names``) and how to add missing ones (``_add_columns``), whether a kept
    connection is still usable (``_usable``) and how to run one statement (``_rows``, ``?``
    placeholders), holding ``_lock`` while it uses ``_connection()``.

    Args:
        create: create the queue (and its folder, for SQLite) when it does not exist; ``False``
            (what ``toolchain approvals`` uses) raises ``ConfigError("no approval store at ...")``.
    """

    def __init__(self, *, create: bool = True) -> None:
        self._lock = threading.Lock()
        self._conn: ConnT | None = None
        self.create = create

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

    @abc.abstractmethod
    def _column_names(self, conn: ConnT) -> set[str]:
        """The columns of ``TABLE`` (empty when there is no such table)."""

    @abc.abstractmethod
    def _add_columns(self, conn: ConnT, names: Sequence[str]) -> None:
        """Add nullable text columns to ``TABLE`` (another process may be adding them too)."""

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
                if self.create:
                    self._initialise(conn)
                self._check_table(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return conn

    def _check_table(self, conn: ConnT) -> None:
        """Refuse a database without the queue's table or columns; add the columns added since."""
        names = self._column_names(conn)
        if not names:
            raise ConfigError(f"no approval store at {self.url}: the database has no {TABLE} table")
        missing = [c for c in _ORIGINAL if c not in names]
        if missing:
            raise ConfigError(
                f"{self.url}: table {TABLE} is not an approval queue: it has no column {', '.join(missing)}"
            )
        added = [c for c in ADDED if c not in names]
        if added:
            self._add_columns(conn, added)

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
        schema = json.dumps(request.output_schema, sort_keys=True) if request.output_schema is not None else None
        self._rows(
            f"INSERT INTO {TABLE} (id, surface, risk, phase, arguments_json, arguments_sha256, output_json, "
            "output_kind, output_sha256, hash_alg, trace_id, span_id, created_at, expires_at, status, "
            "output_schema_json, owner, heartbeat_at, surface_owner, model, prompt_name, prompt_version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
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
                schema,
                this_process(),
                _ts(utcnow()),
                request.owner,
                request.model,
                request.prompt_name,
                request.prompt_version,
            ),
        )

    def get(self, request_id: str) -> ApprovalRecord | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM {TABLE} WHERE id = ?", (request_id,))
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
            f"SELECT {_COLUMNS} FROM {TABLE}{clause} ORDER BY created_at, id LIMIT ?", (*params, int(limit))
        )
        return [_record(row) for row in rows]

    def decide(self, decision: Decision) -> ApprovalRecord:
        known = self.get(decision.request_id)
        self._check_decidable(decision, known)
        assert known is not None
        edited = None
        if decision.verdict == "edited":
            edited = _encode_edit(decision, known.request)
        now = utcnow()
        rows = self._rows(
            f"UPDATE {TABLE} SET status = ?, verdict = ?, decided_by = ?, decided_at = ?, reason = ?, "
            "decision_sha256 = ?, edited_json = ? WHERE id = ? AND status = 'pending' AND expires_at > ? "
            "AND (CASE WHEN phase = 'after' THEN output_sha256 ELSE arguments_sha256 END) = ? "
            "AND (heartbeat_at IS NULL OR heartbeat_at > ?) "
            f"RETURNING {_COLUMNS}",
            (
                decision.verdict,
                decision.verdict,
                decision.by,
                _ts(decision.decided_at),
                decision.reason,
                decision.subject_sha256,
                edited,
                decision.request_id,
                _ts(now),
                decision.subject_sha256,
                _ts(now - _dt.timedelta(seconds=STALE_S)),
            ),
        )
        if not rows:  # somebody else decided, it expired, or its caller went quiet, between the read and the write
            self._check_decidable(decision, self.get(decision.request_id))
            raise DecisionRefused(f"request {decision.request_id} could not be decided; try again")
        return _record(rows[0])

    def _check_decidable(self, decision: Decision, known: ApprovalRecord | None) -> None:
        _check_decidable(decision, known)
        assert known is not None
        gone = known.caller_gone()
        if gone is not None:
            self.close_request(known.request.id, "cancelled", reason=f"not decided: {gone}")
            raise DecisionRefused(
                f"request {known.request.id}: {gone}, so nothing would act on a decision; it is closed as cancelled"
            )

    def heartbeat(self, request_id: str) -> None:
        self._rows(
            f"UPDATE {TABLE} SET heartbeat_at = ? WHERE id = ? AND status = 'pending'", (_ts(utcnow()), request_id)
        )

    def settle(self, request_id: str, *, accepted: bool, reason: str = "") -> bool:
        if accepted:
            sql = f"UPDATE {TABLE} SET closed_at = ? WHERE id = ? AND closed_at IS NULL AND {_DECIDED} RETURNING id"
            params: tuple[object, ...] = (_ts(utcnow()), request_id)
        else:
            sql = (
                f"UPDATE {TABLE} SET status = 'error', closed_at = ?, close_reason = ? "
                f"WHERE id = ? AND closed_at IS NULL AND {_DECIDED} RETURNING id"
            )
            params = (_ts(utcnow()), reason, request_id)
        return bool(self._rows(sql, params))

    def close_request(self, request_id: str, status: Literal["timeout", "cancelled"], reason: str = "") -> bool:
        now = _ts(utcnow())
        rows = self._rows(
            f"UPDATE {TABLE} SET status = ?, decided_at = ?, closed_at = ?, close_reason = ? "
            "WHERE id = ? AND status = 'pending' RETURNING id",
            (status, now, now, reason, request_id),
        )
        return bool(rows)


def _encode_edit(decision: Decision, request: ApprovalRequest) -> str:
    """The edit as stored, after checking it against the request's output schema (when it has one)."""
    rid = decision.request_id
    try:
        edited = encode_output(decision.output, request.output_kind or "json")
    except ValueError as exc:
        raise DecisionRefused(f"request {rid}: {exc}") from None
    schema = request.output_schema
    if schema is not None and request.output_kind in ("json", "text"):
        problem = schema_problem(decision.output, schema)
        if problem is not None:
            title = schema.get("title")
            what = f" ({title})" if isinstance(title, str) else ""
            raise DecisionRefused(f"request {rid}: the edit does not fit the output's type{what}: {problem}")
    return edited


def _check_decidable(decision: Decision, known: ApprovalRecord | None) -> None:
    rid = decision.request_id
    if known is None:
        raise DecisionRefused(f"no approval request {rid!r} in this store")
    if known.status != "pending":
        by = f" by {known.decision.by}" if known.decision else ""
        why = f" ({known.reason})" if known.reason else ""
        raise DecisionRefused(f"request {rid} is already {known.status}{by}{why}; a request is decided once")
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
     edited_json, verdict, closed_at, close_reason, schema_json, owner, heartbeat_at, surface_owner, model,
     prompt_name, prompt_version) = row  # fmt: skip
    output_kind = cast("OutputKind | None", kind)
    schema = json.loads(schema_json) if schema_json is not None else None
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
        output_schema=schema if isinstance(schema, Mapping) else None,
        hash_alg=hash_alg,
        trace_id=trace_id or "",
        span_id=span_id or "",
        created_at=cast(_dt.datetime, _parse_ts(created_at)),
        expires_at=cast(_dt.datetime, _parse_ts(expires_at)),
        owner=surface_owner,
        model=model,
        prompt_name=prompt_name,
        prompt_version=prompt_version,
    )
    decided = _parse_ts(decided_at)
    given = verdict or status  # a row of an earlier version has no verdict column value: its status is it
    decision = None
    if given in _VERDICTS and decided_by is not None:
        decision = Decision(
            request_id=rid,
            subject_sha256=decision_sha256 or "",
            verdict=given,
            by=decided_by,
            reason=reason or "",
            output=decode_output(edited_json, output_kind or "json") if edited_json is not None else None,
            decided_at=decided or utcnow(),
        )
    closed = _parse_ts(closed_at) or (decided if status in ("timeout", "cancelled") else None)
    return ApprovalRecord(
        request=request,
        status=status,
        decision=decision,
        closed_at=closed,
        reason=close_reason or "",
        owner=owner or "",
        heartbeat_at=_parse_ts(heartbeat_at),
    )
