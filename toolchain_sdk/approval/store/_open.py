"""``open_store``: the approval store a path, a URL, an environment variable or a default names."""

from __future__ import annotations

import os
from typing import Final

from toolchain_sdk.approval.store._postgres import PostgresStore
from toolchain_sdk.approval.store._protocol import ApprovalStore
from toolchain_sdk.approval.store._sqlite import DEFAULT_PATH, SQLiteStore
from toolchain_sdk.errors import ConfigError

__all__ = ["TOOLCHAIN_APPROVALS_URL", "open_store"]

TOOLCHAIN_APPROVALS_URL: Final = "TOOLCHAIN_APPROVALS_URL"
"""Where ``tc.approval.queue()`` and ``toolchain approvals`` find the queue when not told:
a path, ``sqlite:///path`` or ``postgresql://...`` (default ``.toolchain/approvals.db``)."""


def open_store(where: ApprovalStore | str | os.PathLike[str] | None = None, *, create: bool = True) -> ApprovalStore:
    """The store named by ``where``: a store object, a path, ``sqlite:///path`` or ``postgresql://...``.

    ``None`` reads ``TOOLCHAIN_APPROVALS_URL``, else uses ``.toolchain/approvals.db``. Nothing is
    opened until the store is first used. ``create=False`` (a reviewer's tool): a store that does
    not exist yet is not created; its first use raises ``ConfigError("no approval store at ...")``.

    Raises:
        ConfigError: ``where`` is none of these, or psycopg is missing for a PostgreSQL URL.
    """
    if where is None:
        where = os.environ.get(TOOLCHAIN_APPROVALS_URL) or DEFAULT_PATH
    if isinstance(where, ApprovalStore) and not isinstance(where, (str, os.PathLike)):
        return where
    if isinstance(where, os.PathLike):
        return SQLiteStore(where, create=create)
    if not isinstance(where, str) or not where.strip():
        raise ConfigError(f"approval queue: expected a path, a URL or a store, not {type(where).__name__}")
    if where.startswith(("postgresql://", "postgres://")):
        return PostgresStore(where, create=create)
    if where.startswith("sqlite:///"):
        return SQLiteStore(where.removeprefix("sqlite:///"), create=create)
    if "://" in where:
        raise ConfigError(f"approval queue {where!r}: use a path, sqlite:///path or postgresql://...")
    return SQLiteStore(where, create=create)
