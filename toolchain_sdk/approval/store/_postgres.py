"""An approval queue shared by many application instances: PostgreSQL through psycopg 3 (an extra)."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from toolchain_sdk.approval.store._deadline import time_left
from toolchain_sdk.approval.store._sql import DDL, TABLE, SQLStore
from toolchain_sdk.errors import ConfigError

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

_LOCK = "SELECT pg_advisory_xact_lock(hashtext('toolchain_approvals'))"
"""Serialises creating and upgrading the table across instances starting together."""


class PostgresStore(SQLStore["psycopg.Connection[tuple[Any, ...]]"]):
    """A queue shared by many application instances: PostgreSQL through psycopg 3.

    One autocommit connection per store, shared by threads (one statement at a time; every
    operation is a single statement), reopened when it breaks. The table is created on first
    use under an advisory lock, so instances starting together do not race.

    Args:
        url: a libpq URL, ``postgresql://user:pass@host:5432/db`` (``?options=-csearch_path%3Dx``
            picks a schema).
        connect_timeout_s: how long to wait for the server; past it the waiting call is denied.
            Under a waiting call's deadline, never longer than the time left (libpq waits at
            least 2 s).
        statement_timeout_s: how long one statement may run (e.g. waiting for a lock another
            session holds); under a waiting call's deadline, never longer than the time left.
        create: create the table when missing; ``False`` raises ``ConfigError`` instead.

    Raises:
        ConfigError: psycopg is not installed (``pip install 'toolchain-sdk[postgres]'``).
    """

    def __init__(
        self, url: str, *, connect_timeout_s: float = 5.0, statement_timeout_s: float = 5.0, create: bool = True
    ) -> None:
        if importlib.util.find_spec("psycopg") is None:
            raise ConfigError("a postgresql:// approval queue needs psycopg 3: pip install 'toolchain-sdk[postgres]'")
        super().__init__(create=create)
        self._url = url
        self._connect_timeout = max(1, int(connect_timeout_s))
        self._statement_timeout = statement_timeout_s
        self._limit_set = -1  # the statement_timeout the open connection has, in ms

    @property
    def url(self) -> str:
        parts = urlsplit(self._url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urlunsplit(parts._replace(netloc=netloc))
        return self._url

    def _open(self) -> psycopg.Connection[tuple[Any, ...]]:
        import psycopg

        timeout = max(1, math.ceil(time_left(self._connect_timeout)))
        conn = psycopg.connect(self._url, autocommit=True, connect_timeout=timeout)
        self._limit_set = -1
        self._limit(conn)  # before the table is set up: that may wait for a lock too
        return conn

    def _limit(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        """Hold the next statement to the statement timeout, or the time left if less (in 0.1 s
        steps, so a call far from its deadline changes nothing); hold ``_lock``."""
        limit = max(100, math.ceil(time_left(self._statement_timeout) * 10) * 100)
        if limit != self._limit_set:
            conn.execute(f"SET statement_timeout = {limit}")
            self._limit_set = limit

    def _initialise(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        with conn.transaction():
            conn.execute(_LOCK)
            for statement in DDL:
                conn.execute(statement)

    def _column_names(self, conn: psycopg.Connection[tuple[Any, ...]]) -> set[str]:
        rows = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
            (TABLE,),
        ).fetchall()
        return {row[0] for row in rows}

    def _add_columns(self, conn: psycopg.Connection[tuple[Any, ...]], names: Sequence[str]) -> None:
        with conn.transaction():
            conn.execute(_LOCK)
            for name in names:
                conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {name} TEXT")

    def _usable(self, conn: psycopg.Connection[tuple[Any, ...]]) -> bool:
        return not (conn.closed or conn.broken)

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:  # the statement's time limit and the statement go together
            conn = self._connection()
            self._limit(conn)
            cur = conn.execute(sql.replace("?", "%s"), tuple(params))
            return cur.fetchall() if cur.description is not None else []

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"
