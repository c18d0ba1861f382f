"""The queue agrees with what happened: closes survive exit, a gone caller cannot be approved, deadlines hold."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import toolchain_sdk as tc
from tests._approval_support import FAST, GUARD_S, cli, gated_call, off, store_for, wait_pending
from tests._subproc import ROOT
from tests._wait import wait_for
from toolchain_sdk.approval import ApprovalRequest, ApprovalStore, DecisionRefused


def queue_module() -> Any:
    """The queue approver's module (imported when a test needs its internals)."""
    return importlib.import_module("toolchain_sdk.approval._queue")


def request(rid: str = "r1", seconds: float = 60) -> ApprovalRequest:
    created = dt.datetime.now(dt.UTC)
    return ApprovalRequest(
        id=rid,
        surface="durable.surface",
        risk="high",
        phase="before",
        arguments={"order": "o1"},
        arguments_sha256="a" * 64,
        created_at=created,
        expires_at=created + dt.timedelta(seconds=seconds),
    )


def python(code: str) -> subprocess.Popen[str]:
    """Start ``code`` in a fresh interpreter (the project's), as an application process would run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOOLCHAIN_"))}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


# --- 6b: a close that is under way when the process exits still happens ----------------------------
def test_a_cancelled_async_call_closes_its_request_before_the_process_exits(store_url: str) -> None:
    """An async call cancelled just before exit (its close still running) leaves its request cancelled, not pending."""
    proc = python(f"""
        import asyncio, time
        import toolchain_sdk as tc
        from toolchain_sdk.approval import open_store

        store = open_store({store_url!r})

        class SlowToClose:  # a loaded database: the close takes a while
            def __getattr__(self, name):
                return getattr(store, name)

            def close_request(self, *args, **kwargs):
                time.sleep(1.0)
                return store.close_request(*args, **kwargs)

        @tc.governed_call("durable.exit", risk="high", fallback=lambda: "off", approval=tc.approval.require(
            approver=tc.approval.queue(SlowToClose(), poll_interval=(0.01, 0.05)), timeout=60))
        async def act():
            return "ran"

        async def main():
            task = asyncio.create_task(act())
            while not store.list():
                await asyncio.sleep(0.01)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                print("cancelled", store.list()[0].request.id, flush=True)

        asyncio.run(main())  # and the interpreter exits at once
    """)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    rid = out.split()[1]
    record = store_for(store_url).get(rid)
    assert record is not None and record.status == "cancelled", record


def test_exit_waits_for_closes_only_within_a_bound() -> None:
    """The exit hook waits for running closes, but gives up (with a warning) after its bound."""
    closer = queue_module()._Closer()
    release = threading.Event()
    closer.start(lambda: release.wait(30) and None)
    started = time.monotonic()
    assert closer.drain(timeout=0.2) is False
    assert time.monotonic() - started < 5
    release.set()
    assert closer.drain(timeout=GUARD_S) is True


# --- 6b: a request whose caller is gone cannot be approved -------------------------------------------
def test_approving_the_request_of_a_killed_process_is_refused(store_url: str, store: ApprovalStore) -> None:
    """The waiting process was killed: `toolchain approvals approve` exits 2 saying so, and the request is closed."""
    proc = python(f"""
        import toolchain_sdk as tc

        @tc.governed_call("durable.killed", risk="high", fallback=lambda order: "off", approval=tc.approval.require(
            approver=tc.approval.queue({store_url!r}, poll_interval=(0.01, 0.05)), timeout=120))
        def refund(order):
            return "refunded " + order

        refund("o-1")
    """)
    try:
        [pending] = wait_pending(store)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    approved = cli("approve", pending.request.id, "--by", "alice", store=store_url)
    assert approved.returncode == 2, approved.stdout
    assert "is gone" in approved.stderr and "closed as cancelled" in approved.stderr
    record = store.get(pending.request.id)
    assert record is not None and record.status == "cancelled" and "gone" in record.reason


def test_a_caller_silent_for_too_long_cannot_be_approved(store: ApprovalStore) -> None:
    """A request whose caller (on another host) stopped checking in is refused and closed as cancelled."""
    store.submit(request())
    stale = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    store._rows(  # type: ignore[attr-defined]
        "UPDATE toolchain_approvals SET owner = 'another-host:4242', heartbeat_at = ? WHERE id = 'r1'", (stale,)
    )
    with pytest.raises(DecisionRefused, match="has not been seen since"):
        store.decide(request().approve(by="alice"))
    assert store.get("r1").status == "cancelled"  # type: ignore[union-attr]


def test_a_waiting_call_keeps_checking_in(
    store_url: str, store: ApprovalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While it waits, a call refreshes its heartbeat, so a decision long after the request still lands."""
    monkeypatch.setattr(queue_module(), "HEARTBEAT_S", 0.05)

    @tc.governed_call("durable.beat", risk="high", fallback=off, approval=tc.approval.require(
        approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=GUARD_S))  # fmt: skip
    def act() -> str:
        return "ran"

    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(act()))
    worker.start()
    [pending] = wait_pending(store)
    first = pending.heartbeat_at
    assert first is not None and pending.owner.endswith(f":{os.getpid()}")
    assert wait_for(lambda: store.get(pending.request.id).heartbeat_at > first, GUARD_S)  # type: ignore[union-attr, operator]
    store.decide(pending.request.approve(by="alice"))
    worker.join(GUARD_S)
    assert result == ["ran"]


# --- 8: a locked store holds no call past its deadline ------------------------------------------------
@contextmanager
def locked(store_url: str, store: ApprovalStore) -> Iterator[None]:
    """Another session holds the queue's write lock (SQLite ``BEGIN EXCLUSIVE``, PostgreSQL ``LOCK TABLE``)."""
    store.list()  # the queue exists (in WAL mode, for SQLite)
    if store_url.startswith("sqlite:///"):
        holder: Any = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
    else:
        import psycopg

        holder = psycopg.connect(store_url)
        holder.execute("LOCK TABLE toolchain_approvals IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_locked_store_denies_by_the_deadline(mode: str, store_url: str, store: ApprovalStore) -> None:
    """With the queue locked by another session, a call with timeout=1s is denied within its timeout (plus slack),
    not after the store's own 5 s busy/statement timeouts add up."""
    timeout = 1.0
    gate = tc.approval.require(approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=timeout)
    act = gated_call(mode, f"durable.locked.{mode}", gate)
    with locked(store_url, store):
        started = time.monotonic()
        with pytest.raises(tc.ApprovalDenied) as info:
            act()
        elapsed = time.monotonic() - started
    assert info.value.decision in ("timeout", "error")
    assert elapsed < timeout + 3.0, f"denied after {elapsed:.1f}s"
