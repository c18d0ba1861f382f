"""Durable approval queues: SQLite (default, embedded) and PostgreSQL (shared by many instances).

A waiting call ``submit``s its request and polls ``get``; a reviewer (``toolchain approvals``,
another process or machine) ``decide``s. Every state change is ONE conditional statement
(``UPDATE ... WHERE status = 'pending' ... RETURNING``), so across threads, processes and
machines exactly one of "decide", "time out" and "cancel" wins, and deciding twice is refused
(``DecisionRefused``).

Both stores keep one table, ``toolchain_approvals``, and share their SQL (``_sql``); ``_sqlite``
and ``_postgres`` only say how to connect. ``open_store`` picks one from a path or a URL.
A waiting call bounds every store operation by its deadline (``deadline``), records its process
and heartbeats while it waits (``_owner``), so a request whose caller is gone cannot be decided.
"""

from toolchain_sdk.approval.store._deadline import deadline
from toolchain_sdk.approval.store._open import TOOLCHAIN_APPROVALS_URL, open_store
from toolchain_sdk.approval.store._owner import HEARTBEAT_S, STALE_S
from toolchain_sdk.approval.store._postgres import PostgresStore
from toolchain_sdk.approval.store._protocol import STATUSES, ApprovalRecord, ApprovalStore, Status
from toolchain_sdk.approval.store._sqlite import DEFAULT_PATH, SQLiteStore
from toolchain_sdk.errors import DecisionRefused

__all__ = [
    "ApprovalRecord",
    "ApprovalStore",
    "DEFAULT_PATH",
    "DecisionRefused",
    "HEARTBEAT_S",
    "PostgresStore",
    "SQLiteStore",
    "STALE_S",
    "STATUSES",
    "Status",
    "TOOLCHAIN_APPROVALS_URL",
    "deadline",
    "open_store",
]
