"""Shared helpers for the approval tests: one store per test on SQLite or PostgreSQL, and waits.

PostgreSQL tests need ``TOOLCHAIN_TEST_POSTGRES_URL`` (``python3 dev.py test`` starts a server
and sets it); each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

import toolchain_sdk as tc
from toolchain_sdk.approval import ApprovalRecord, ApprovalStore, open_store

POSTGRES_ENV = "TOOLCHAIN_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
GUARD_S = 30.0  # a hang guard, never a speed assertion
FAST = (0.005, 0.05)  # poll interval for tests: decisions are seen quickly


def gated_call(mode: str, name: str, approval: object) -> Callable[[], str]:
    """A sync or async gated surface, as a plain function that runs one call."""
    if mode == "sync":

        @tc.governed_call(name, risk="high", fallback=off, approval=approval)
        def act() -> str:
            return "done"

        return act

    @tc.governed_call(name, risk="high", fallback=off, approval=approval)
    async def aact() -> str:
        return "done"

    return lambda: asyncio.run(aact())


def off(*args: object, **kwargs: object) -> str:
    """The kill-switch fallback every high-risk surface must declare (unused unless switched off)."""
    return "switched off"


@contextmanager
def backend_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty queue URL on ``backend`` for one test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'approvals.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set: run `python3 dev.py test`, which starts PostgreSQL on 127.0.0.1")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")  # type: ignore[arg-type]
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[arg-type]


def store_for(url: str) -> ApprovalStore:
    """A second, independent handle on the queue (as another process would have)."""
    return open_store(url)


def wait_pending(store: ApprovalStore, count: int = 1) -> Sequence[ApprovalRecord]:
    """Block until ``count`` requests are pending; fail after the hang guard."""
    deadline = time.monotonic() + GUARD_S
    while True:
        found = store.list(status="pending", limit=1000)
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"only {len(found)} of {count} requests became pending"
        time.sleep(0.01)


async def await_pending(store: ApprovalStore, count: int = 1) -> Sequence[ApprovalRecord]:
    """``wait_pending`` without blocking the event loop."""
    return await asyncio.wait_for(_poll_pending(store, count), GUARD_S)


async def _poll_pending(store: ApprovalStore, count: int) -> Sequence[ApprovalRecord]:
    while True:
        found = await asyncio.to_thread(store.list, status="pending", limit=1000)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.01)


def cli(*args: str, store: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``toolchain approvals ...`` command in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "toolchain_sdk", "approvals", *args, "--store", store],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "TOOLCHAIN_APPROVALS_URL"},
    )
