"""An approval queue shared by many application instances: PostgreSQL through psycopg 3 (an extra)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from toolchain_sdk.approval.store._sql import DDL, SQLStore
from toolchain_sdk.errors import ConfigError

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]


class PostgresStore(SQLStore["psycopg.Connection[tuple[Any, ...]]"]):
    """A queue shared by many application instances: PostgreSQL through psycopg 3.

    One autocommit connection per store, shared by threads (psycopg serialises them; every
    operation is a single statement), reopened when it breaks. The table is created on first
    use under an advisory lock, so instances starting together do not race.

    Args:
        url: a libpq URL, ``postgresql://user:pass@host:5432/db`` (``?options=-csearch_path%3Dx``
            picks a schema).
        connect_timeout_s: how long to wait for the server; past it the waiting call is denied.

    Raises:
        ConfigError: psycopg is not installed (``pip install 'toolchain-sdk[postgres]'``).
    """

    def __init__(self, url: str, *, connect_timeout_s: float = 5.0) -> None:
        if importlib.util.find_spec("psycopg") is None:
            raise ConfigError("a postgresql:// approval queue needs psycopg 3: pip install 'toolchain-sdk[postgres]'")
        super().__init__()
        self._url = url
        self._connect_timeout = max(1, int(connect_timeout_s))

    @property
    def url(self) -> str:
        parts = urlsplit(self._url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urlunsplit(parts._replace(netloc=netloc))
        return self._url

    def _open(self) -> psycopg.Connection[tuple[Any, ...]]:
        import psycopg

        return psycopg.connect(self._url, autocommit=True, connect_timeout=self._connect_timeout)

    def _initialise(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('toolchain_approvals'))")
            for statement in DDL:
                conn.execute(statement)

    def _usable(self, conn: psycopg.Connection[tuple[Any, ...]]) -> bool:
        return not (conn.closed or conn.broken)

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:  # only to get the connection: psycopg serialises the statements
            conn = self._connection()
        cur = conn.execute(sql.replace("?", "%s"), tuple(params))
        return cur.fetchall() if cur.description is not None else []

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"
