"""The durable approval queue, the same suite on SQLite and PostgreSQL: store semantics and waiting calls."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest

import toolchain_sdk as tc
from tests._approval_support import BACKENDS, FAST, GUARD_S, await_pending, gated_call, off, store_for, wait_pending
from tests._wait import wait_for
from toolchain_sdk import semconv
from toolchain_sdk.approval import ApprovalRequest, ApprovalStore, DecisionRefused, SQLiteStore, open_store
from toolchain_sdk.testing import SpanRecorder


def request(
    rid: str = "r1", *, phase: str = "before", seconds: float = 60, output: object = None, kind: str | None = None
) -> ApprovalRequest:
    created = dt.datetime.now(dt.UTC)
    return ApprovalRequest(
        id=rid,
        surface="store.surface",
        risk="high",
        phase=phase,  # type: ignore[arg-type]
        arguments={"order": "o1", "amount": 12.5, "note": "é"},
        arguments_sha256="a" * 64,
        output=output,
        output_kind=kind,  # type: ignore[arg-type]
        output_sha256="b" * 64 if phase == "after" else None,
        created_at=created,
        expires_at=created + dt.timedelta(seconds=seconds),
        trace_id="0" * 31 + "1",
        span_id="0" * 15 + "2",
    )


# --- the store ----------------------------------------------------------------------------------
def test_submit_get_list_round_trip(store: ApprovalStore) -> None:
    """A submitted request comes back whole, pending, and listed."""
    sent = request(phase="after", output={"text": "hi"}, kind="json")
    store.submit(sent)
    got = store.get("r1")
    assert got is not None and got.status == "pending" and got.decision is None
    assert got.request == sent
    assert [r.request.id for r in store.list()] == ["r1"]
    assert store.get("nope") is None


def test_decide_once_then_refuse(store: ApprovalStore) -> None:
    """The first decision is recorded; deciding again is refused, naming who decided."""
    store.submit(request())
    stored = store.decide(request().approve(by="alice", reason="fine"))
    assert stored.status == "approved"
    assert stored.decision is not None and stored.decision.by == "alice" and stored.decision.reason == "fine"
    with pytest.raises(DecisionRefused, match="already approved by alice"):
        store.decide(request().deny(by="bob", reason="no"))
    assert store.list() == []
    assert [r.status for r in store.list(status=None)] == ["approved"]


def test_refuses_unknown_mismatched_and_expired(store: ApprovalStore) -> None:
    """Unknown ids, decisions bound to another hash, and expired requests are refused."""
    with pytest.raises(DecisionRefused, match="no approval request"):
        store.decide(request("ghost").approve(by="alice"))
    store.submit(request())
    forged = tc.approval.Decision(request_id="r1", subject_sha256="c" * 64, verdict="approved", by="mallory")
    with pytest.raises(DecisionRefused, match="bound to"):
        store.decide(forged)
    store.submit(request("old", seconds=-1))
    with pytest.raises(DecisionRefused, match="expired"):
        store.decide(request("old").approve(by="alice"))
    assert store.get("r1").status == "pending"  # type: ignore[union-attr]


def test_close_request_only_while_pending(store: ApprovalStore) -> None:
    """A waiting call closes its request once; a decided request cannot be closed, nor a closed one decided."""
    store.submit(request("a"))
    store.submit(request("b"))
    store.decide(request("a").approve(by="alice"))
    assert store.close_request("a", "timeout") is False
    assert store.close_request("b", "timeout") is True
    assert store.close_request("b", "cancelled") is False
    with pytest.raises(DecisionRefused, match="already timeout"):
        store.decide(request("b").approve(by="alice"))


def test_edits_keep_their_kind(store: ApprovalStore) -> None:
    """Edits of text, bytes and JSON outputs come back as text, bytes and JSON; misfits are refused."""
    store.submit(request("t", phase="after", output="draft", kind="text"))
    store.submit(request("b", phase="after", output="ZHJhZnQ=", kind="bytes"))
    store.submit(request("j", phase="after", output={"n": 1}, kind="json"))
    store.submit(request("before"))
    with pytest.raises(DecisionRefused, match="must be text"):
        store.decide(request("t", phase="after").edit(42, by="dave", reason="why"))
    with pytest.raises(DecisionRefused, match="no output to edit"):
        store.decide(request("before").edit("x", by="dave", reason="why"))
    store.decide(request("t", phase="after").edit("final ✓", by="dave", reason="tone"))
    store.decide(request("b", phase="after").edit(b"\x00\xff", by="dave", reason="bytes"))
    store.decide(request("j", phase="after").edit({"n": 2, "k": [1, None]}, by="dave", reason="cap"))
    outputs = {rid: store.get(rid).decision.output for rid in ("t", "b", "j")}  # type: ignore[union-attr]
    assert outputs == {"t": "final ✓", "b": b"\x00\xff", "j": {"n": 2, "k": [1, None]}}


def test_racing_deciders_exactly_one_wins(store_url: str, store: ApprovalStore) -> None:
    """Eight reviewers on separate connections decide one request at once: exactly one succeeds."""
    store.submit(request())
    barrier = threading.Barrier(8)
    results: list[str] = []

    def reviewer(i: int) -> None:
        mine = store_for(store_url)
        barrier.wait()
        try:
            mine.decide(request().approve(by=f"r{i}") if i % 2 else request().deny(by=f"r{i}", reason="no"))
            results.append(f"won:r{i}")
        except DecisionRefused:
            results.append("refused")
        finally:
            mine.close()

    threads = [threading.Thread(target=reviewer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(GUARD_S)
    winners = [r for r in results if r.startswith("won")]
    assert len(winners) == 1 and results.count("refused") == 7
    assert store.get("r1").decision.by == winners[0].removeprefix("won:")  # type: ignore[union-attr]


def test_list_filters_and_orders(store: ApprovalStore) -> None:
    """list() filters by status and surface, oldest first."""
    for i in range(3):
        store.submit(request(f"r{i}"))
    store.decide(request("r1").approve(by="alice"))
    assert [r.request.id for r in store.list()] == ["r0", "r2"]
    assert [r.request.id for r in store.list(status="approved")] == ["r1"]
    assert store.list(surface="other.surface") == []
    assert len(store.list(status=None, limit=2)) == 2


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    """The SQLite queue runs in WAL mode (readers never block the deciding writer)."""
    store = open_store(tmp_path / "q.db")
    store.submit(request())
    with sqlite3.connect(tmp_path / "q.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- calls waiting on the queue ----------------------------------------------------------------
def test_sync_before_waits_for_a_decision(store_url: str, store: ApprovalStore, spans: SpanRecorder) -> None:
    """A sync call blocks until a reviewer (another connection) approves, then runs."""

    @tc.governed_call("q.sync", risk="high", fallback=off, approval=tc.approval.require(
        approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=GUARD_S))  # fmt: skip
    def refund(order: str) -> str:
        return f"refunded {order}"

    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(refund("o7")))
    worker.start()
    [pending] = wait_pending(store)
    assert pending.request.arguments == {"order": "o7"}
    store.decide(pending.request.approve(by="erin", reason="checked"))
    worker.join(GUARD_S)
    assert result == ["refunded o7"]
    a = spans.one("q.sync").attributes or {}
    assert (a[semconv.APPROVAL_APPROVER], a[semconv.APPROVAL_ID]) == ("erin", pending.request.id)


async def test_async_after_edit_through_the_queue(store_url: str, store: ApprovalStore, spans: SpanRecorder) -> None:
    """An async after-call waits on the queue; a reviewer's edit is what the caller gets."""

    @tc.governed_call("q.async", risk="high", fallback=off, approval=tc.approval.require(
        when="after", approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=GUARD_S))  # fmt: skip
    async def draft(ticket: int) -> str:
        return f"draft for {ticket}"

    task = asyncio.create_task(draft(3))
    [pending] = await await_pending(store)
    assert pending.request.output == "draft for 3" and pending.request.output_kind == "text"
    await asyncio.to_thread(store.decide, pending.request.edit("final for 3", by="frank", reason="tone"))
    assert await asyncio.wait_for(task, GUARD_S) == "final for 3"
    a = spans.one("q.async").attributes or {}
    assert a[semconv.OVERRIDE_EDITOR] == "frank"
    assert a[semconv.OUTPUT_SHA256] == hashlib.sha256(b"final for 3").hexdigest()
    assert a[semconv.OVERRIDE_ORIGINAL_SHA256] == pending.request.output_sha256


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_timeout_closes_the_request(mode: str, store_url: str, store: ApprovalStore) -> None:
    """No decision in time: the call is denied (timeout) and the request is closed, so it cannot be approved."""
    gate = tc.approval.require(approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=0.2)
    if mode == "sync":

        @tc.governed_call("q.timeout", risk="high", fallback=off, approval=gate)
        def act() -> str:
            return "done"

        run = act
    else:

        @tc.governed_call("q.timeout", risk="high", fallback=off, approval=gate)
        async def aact() -> str:
            return "done"

        def run() -> str:
            return asyncio.run(aact())

    with pytest.raises(tc.ApprovalDenied) as info:
        run()
    assert info.value.decision == "timeout"
    record = store.get(info.value.request_id or "")
    assert record is not None and record.status == "timeout"
    with pytest.raises(DecisionRefused, match="already timeout"):
        store.decide(record.request.approve(by="late"))


async def status_once_closed(store: ApprovalStore, request_id: str) -> str | None:
    """The request's status once it is no longer pending (``pending`` if that never happens)."""
    record = None
    for _ in range(int(GUARD_S / 0.01)):
        record = await asyncio.to_thread(store.get, request_id)
        if record is not None and record.status != "pending":
            break
        await asyncio.sleep(0.01)
    return record.status if record is not None else None


async def test_cancelled_call_closes_its_request(store_url: str, store: ApprovalStore) -> None:
    """Cancelling a waiting async call marks its request cancelled, so nobody approves a call that is gone."""

    @tc.governed_call("q.cancel", risk="high", fallback=off, approval=tc.approval.require(
        approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=GUARD_S))  # fmt: skip
    async def act() -> str:
        return "done"

    task = asyncio.create_task(act())
    [pending] = await await_pending(store)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await status_once_closed(store, pending.request.id) == "cancelled"


class _SlowToReturn:
    """A store whose ``submit`` commits the row, then takes a while to return (a loaded machine)."""

    def __init__(self, store: ApprovalStore) -> None:
        self._store = store
        self.committed = threading.Event()

    def submit(self, request: ApprovalRequest) -> None:
        self._store.submit(request)
        self.committed.set()
        time.sleep(0.5)

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


async def test_cancel_while_the_request_is_being_written_still_closes_it(store: ApprovalStore) -> None:
    """A cancellation that lands after the row is committed but before ``submit`` returns (the
    race a loaded CI machine hit) still marks the request cancelled, not pending for ever."""
    slow = _SlowToReturn(store)

    @tc.governed_call("q.cancel_early", risk="high", fallback=off, approval=tc.approval.require(
        approver=tc.approval.queue(slow, poll_interval=FAST), timeout=GUARD_S))  # type: ignore[arg-type]  # fmt: skip
    async def act() -> str:
        return "done"

    task = asyncio.create_task(act())
    assert await asyncio.to_thread(slow.committed.wait, GUARD_S)
    [pending] = await await_pending(store)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await status_once_closed(store, pending.request.id) == "cancelled"


async def test_fifty_concurrent_requests_each_get_their_own_decision(store_url: str, store: ApprovalStore) -> None:
    """50 calls wait at once; decided in random order (approve, deny, edit), each gets exactly its own."""

    @tc.governed_call("q.fifty", risk="high", fallback=off, approval=tc.approval.require(
        when="after", approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=GUARD_S))  # fmt: skip
    async def answer(n: int) -> str:
        return f"answer {n}"

    async def one(n: int) -> str:
        try:
            return await answer(n)
        except tc.ApprovalDenied as exc:
            return f"denied {n}: {exc.reason}"

    tasks = [asyncio.create_task(one(n)) for n in range(50)]
    pending = list(await await_pending(store, 50))
    random.Random(4).shuffle(pending)
    for record in pending:
        n = int(record.request.arguments["n"])  # type: ignore[call-overload]
        verdict = ("approve", "deny", "edit")[n % 3]
        if verdict == "approve":
            decision = record.request.approve(by=f"rev{n}")
        elif verdict == "deny":
            decision = record.request.deny(by=f"rev{n}", reason=f"no {n}")
        else:
            decision = record.request.edit(f"edited {n}", by=f"rev{n}", reason=f"fix {n}")
        await asyncio.to_thread(store.decide, decision)
    results = await asyncio.wait_for(asyncio.gather(*tasks), GUARD_S)
    expected = [(f"answer {n}", f"denied {n}: no {n}", f"edited {n}")[n % 3] for n in range(50)]
    assert results == expected


def test_fifty_threads_each_get_their_own_decision(store_url: str, store: ApprovalStore) -> None:
    """50 sync calls on 50 threads, decided in random order, each get their own decision."""

    @tc.governed_call("q.threads", risk="high", fallback=off, approval=tc.approval.require(
        approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=GUARD_S))  # fmt: skip
    def act(n: int) -> str:
        return f"ran {n}"

    results: dict[int, str] = {}

    def one(n: int) -> None:
        try:
            results[n] = act(n)
        except tc.ApprovalDenied as exc:
            results[n] = f"denied {exc.reason}"

    threads = [threading.Thread(target=one, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    pending = list(wait_pending(store, 50))
    random.Random(7).shuffle(pending)
    for record in pending:
        n = int(record.request.arguments["n"])  # type: ignore[call-overload]
        store.decide(record.request.approve(by="r") if n % 2 else record.request.deny(by="r", reason=str(n)))
    for t in threads:
        t.join(GUARD_S)
    assert results == {n: f"ran {n}" if n % 2 else f"denied {n}" for n in range(50)}


async def test_event_loop_keeps_serving_while_a_call_waits(store_url: str, store: ApprovalStore) -> None:
    """While one call waits for approval, other tasks on the loop keep running."""

    @tc.governed_call("q.loop", risk="high", fallback=off, approval=tc.approval.require(
        approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=GUARD_S))  # fmt: skip
    async def act() -> str:
        return "done"

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    waiting = asyncio.create_task(act())
    ticking = asyncio.create_task(ticker())
    [pending] = await await_pending(store)
    seen_at_request = ticks
    while ticks < seen_at_request + 20:  # the loop turns 20 more times while the call is still waiting
        assert not waiting.done()
        await asyncio.sleep(0.005)
    await asyncio.to_thread(store.decide, pending.request.approve(by="gina"))
    assert await asyncio.wait_for(waiting, GUARD_S) == "done"
    ticking.cancel()


def test_tampered_decision_in_the_store_is_denied(store_url: str, store: ApprovalStore) -> None:
    """A decision row rewritten to approve other arguments (bypassing decide()) is refused by the call."""

    @tc.governed_call("q.tamper", risk="high", fallback=off, approval=tc.approval.require(
        approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=GUARD_S))  # fmt: skip
    def act(n: int) -> str:
        return "done"

    errors: list[tc.ApprovalDenied] = []

    def run() -> None:
        try:
            act(1)
        except tc.ApprovalDenied as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    [pending] = wait_pending(store)
    store._rows(  # type: ignore[attr-defined]
        "UPDATE toolchain_approvals SET status = 'approved', decided_by = 'mallory', decided_at = created_at, "
        "decision_sha256 = ? WHERE id = ?",
        ("f" * 64, pending.request.id),
    )
    worker.join(GUARD_S)
    assert len(errors) == 1 and "other arguments" in errors[0].reason


@pytest.mark.parametrize("backend", BACKENDS)
def test_unreachable_store_denies(backend: str, tmp_path: Path) -> None:
    """A queue that cannot take the request denies the call at once (decision=error)."""
    if backend == "sqlite":
        (tmp_path / "not-a-dir").write_text("x")
        url = str(tmp_path / "not-a-dir" / "approvals.db")
    else:
        pytest.importorskip("psycopg")
        url = "postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=2"

    @tc.governed_call("q.down", risk="high", fallback=off, approval=tc.approval.require(
        approver=tc.approval.queue(url), timeout=GUARD_S))  # fmt: skip
    def act() -> str:
        return "done"

    with pytest.raises(tc.ApprovalDenied) as info:
        act()
    assert info.value.decision == "error"


# --- connections and retries ----------------------------------------------------------------------
def test_close_then_use_reopens(store: ApprovalStore) -> None:
    """close() releases the connection (twice is harmless); the next use opens a new one."""
    store.submit(request("a"))
    store.close()
    store.close()
    store.submit(request("b"))
    assert [r.request.id for r in store.list()] == ["a", "b"]


class _FlakyConnection:
    """A SQLite connection stand-in whose set-up statements fail with ``error`` the first ``failures`` times."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error = error
        self.failures = failures
        self.attempts = 0
        self.ran: list[str] = []

    def execute(self, sql: str, *params: object) -> None:
        if sql.startswith("PRAGMA journal_mode"):
            self.attempts += 1
            if self.attempts <= self.failures:
                raise self.error
        self.ran.append(sql)


def test_sqlite_set_up_retries_a_locked_database(tmp_path: Path) -> None:
    """Two processes creating a new queue file at once get 'database is locked': the set-up is retried till it works."""
    conn = _FlakyConnection(sqlite3.OperationalError("database is locked"), failures=3)
    SQLiteStore(tmp_path / "q.db")._initialise(conn)  # type: ignore[arg-type]
    assert conn.attempts == 4
    assert any(sql.startswith("CREATE TABLE") for sql in conn.ran)


def test_sqlite_set_up_gives_up_at_the_busy_timeout(tmp_path: Path) -> None:
    """A database that stays locked raises once the busy timeout has passed; any other error is raised at once."""
    locked = _FlakyConnection(sqlite3.OperationalError("database is locked"), failures=10**9)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        SQLiteStore(tmp_path / "q.db", busy_timeout_s=0.2)._initialise(locked)  # type: ignore[arg-type]
    assert time.monotonic() - started >= 0.2 and locked.attempts > 1
    broken = _FlakyConnection(sqlite3.OperationalError("disk I/O error"), failures=1)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        SQLiteStore(tmp_path / "q.db")._initialise(broken)  # type: ignore[arg-type]
    assert broken.attempts == 1


class _FailingLooks:
    """A store whose ``get`` fails the first ``failures`` times (a network blip, or a store that stays down)."""

    def __init__(self, store: ApprovalStore, failures: int) -> None:
        self._store = store
        self.failures = failures

    def get(self, request_id: str) -> object:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("store unreachable")
        return self._store.get(request_id)

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_failed_looks_while_waiting_are_retried(
    mode: str, store: ApprovalStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Looks at the queue that fail while the call waits are retried (with a warning); the decision still arrives."""
    flaky = _FailingLooks(store, failures=3)
    run = gated_call(mode, f"q.blip.{mode}", tc.approval.require(
        approver=tc.approval.queue(flaky, poll_interval=FAST), timeout=GUARD_S))  # type: ignore[arg-type]  # fmt: skip
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(run()))
    worker.start()
    [pending] = wait_pending(store)
    assert wait_for(lambda: flaky.failures == 0, GUARD_S)
    store.decide(pending.request.approve(by="erin"))
    worker.join(GUARD_S)
    assert result == ["done"]
    assert "approval queue poll failed: store unreachable" in caplog.text


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_queue_down_while_waiting_denies_at_expiry(mode: str, store: ApprovalStore) -> None:
    """A queue whose every look fails is retried until the request expires; then the call is denied and closed."""
    flaky = _FailingLooks(store, failures=10**9)
    run = gated_call(mode, f"q.down.{mode}", tc.approval.require(
        approver=tc.approval.queue(flaky, poll_interval=FAST), timeout=0.3))  # type: ignore[arg-type]  # fmt: skip
    started = time.monotonic()
    with pytest.raises(tc.ApprovalDenied, match="ConnectionError: store unreachable") as info:
        run()
    assert time.monotonic() - started >= 0.3
    assert info.value.decision == "error"
    assert wait_for(lambda: store.get(info.value.request_id or "").status == "cancelled", GUARD_S)  # type: ignore[union-attr]


# --- a queue made by an earlier version -------------------------------------------------------------
EARLIER_DDL = (
    "CREATE TABLE toolchain_approvals ("
    " id TEXT PRIMARY KEY, surface TEXT NOT NULL, risk TEXT NOT NULL, phase TEXT NOT NULL,"
    " arguments_json TEXT NOT NULL, arguments_sha256 TEXT NOT NULL,"
    " output_json TEXT, output_kind TEXT, output_sha256 TEXT, hash_alg TEXT NOT NULL,"
    " trace_id TEXT NOT NULL DEFAULT '', span_id TEXT NOT NULL DEFAULT '',"
    " created_at TEXT NOT NULL, expires_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',"
    " decided_by TEXT, decided_at TEXT, reason TEXT, decision_sha256 TEXT, edited_json TEXT)"
)


@pytest.mark.parametrize("create", [True, False], ids=["application", "reviewer"])
def test_a_queue_from_an_earlier_version_is_upgraded_in_place(store_url: str, create: bool) -> None:
    """A table without the columns added since gets them on first use; its pending requests can still be decided."""
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    insert = (
        "INSERT INTO toolchain_approvals (id, surface, risk, phase, arguments_json, arguments_sha256, hash_alg, "
        "created_at, expires_at) VALUES ('r1', 's', 'high', 'before', '{}', ?, 'sha256', ?, ?)"
    )
    if store_url.startswith("sqlite:///"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
            conn.execute(EARLIER_DDL)
            conn.execute(insert, ("a" * 64, created, expires))
    else:
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as pg:
            pg.execute(EARLIER_DDL)
            pg.execute(insert.replace("?", "%s"), ("a" * 64, created, expires))
    upgraded = open_store(store_url, create=create)
    [record] = upgraded.list()
    assert record.owner == "" and record.heartbeat_at is None and record.request.output_schema is None
    stored = upgraded.decide(record.request.approve(by="alice"))
    assert stored.status == "approved" and stored.decision is not None and stored.decision.by == "alice"
    upgraded.close()
