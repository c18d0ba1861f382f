"""The durable queue approver: each request waits in a store (SQLite or PostgreSQL) for a decision
from ``toolchain approvals ...`` in any process or machine.

A waiting call submits its request, then looks at it (backing off from 50 ms to 1 s) until a
decision arrives or it expires; async callers look from a worker thread, so the loop keeps
serving. Every store operation is bounded by the request's deadline (``store.deadline``), the
waiting call checks in every ``HEARTBEAT_S``, and a request whose caller stops waiting is closed
as ``cancelled`` on a thread of its own — waited for, within a bound, at interpreter exit — so
nobody can approve a call that is gone.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Final, TypeVar

from tenacity import (
    AsyncRetrying,
    BaseRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    wait_exponential,
)

from toolchain_sdk._core.safety import warn_once
from toolchain_sdk.approval._values import ApprovalRequest, Decision
from toolchain_sdk.approval.store import (
    DEFAULT_PATH,
    HEARTBEAT_S,
    TOOLCHAIN_APPROVALS_URL,
    ApprovalRecord,
    ApprovalStore,
    deadline,
    open_store,
)
from toolchain_sdk.errors import ConfigError

__all__ = ["QueueApprover", "queue"]

_R = TypeVar("_R", bound=BaseRetrying)
_GRACE_S: Final = 1.0
"""How far past the request's expiry a waiting call's store operations may run (closing the
request as timed out at expiry, recording what the call did with a decision); the gate's
``LATE_GRACE_S`` is the same second."""
_EXIT_WAIT_S: Final = 10.0
"""How long the interpreter waits at exit for requests still being closed (see ``_Closer``)."""


def _pending(record: ApprovalRecord | None) -> bool:
    """Whether the request still waits for a decision (keep looking)."""
    return record is not None and record.decision is None and record.status == "pending"


def _warn_failed_look(state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome is not None else None
    if failure is not None:
        warn_once(f"approval-poll:{type(failure).__name__}", "toolchain_sdk: approval queue poll failed: %s", failure)


def _decision(request: ApprovalRequest, record: ApprovalRecord | None) -> Decision:
    """The decision a finished poll found, or why there is none (the call is denied)."""
    if record is None:
        raise LookupError(f"approval request {request.id} vanished from the queue")
    if record.decision is None or record.status not in ("approved", "denied", "edited"):
        why = f": {record.reason}" if record.reason else ""
        raise RuntimeError(f"approval request {request.id} was closed as {record.status}{why}")
    return record.decision


def _within(request: ApprovalRequest) -> AbstractContextManager[None]:
    """Store operations for ``request`` wait no longer than its expiry (plus the grace)."""
    return deadline(max(request.remaining(), 0.0) + _GRACE_S)


class _Closer:
    """Closes requests whose callers stopped waiting, each on a thread of its own, so a close never
    holds up a caller or the event loop; at interpreter exit it waits (at most ``_EXIT_WAIT_S``)
    for the closes still running, so a request is not left pending by a process that is leaving."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[concurrent.futures.Future[None]] = set()
        self._hooked = False

    def start(self, close: Callable[[], None]) -> None:
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            self._running.add(done)
            if not self._hooked:
                atexit.register(self.drain)
                if hasattr(os, "register_at_fork"):  # a forked child has none of these threads: nothing to wait for
                    os.register_at_fork(after_in_child=self._forget)
                self._hooked = True

        def run() -> None:
            try:
                close()
            finally:
                done.set_result(None)
                with self._lock:
                    self._running.discard(done)

        threading.Thread(target=run, name="toolchain-approval-close", daemon=True).start()

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._running = set()

    def drain(self, timeout: float = _EXIT_WAIT_S) -> bool:
        """Wait for the closes still running; ``False`` (with a warning) if some did not finish."""
        with self._lock:
            running = list(self._running)
        _, late = concurrent.futures.wait(running, timeout)
        if late:
            warn_once(
                "approval-close-exit", "toolchain_sdk: %d approval request(s) could not be closed before exit; "
                "they cannot be approved once their process is gone", len(late),
            )  # fmt: skip
        return not late


_CLOSER = _Closer()


class _Heartbeat:
    """When a waiting call last told the queue it still waits."""

    def __init__(self) -> None:
        self._last = time.monotonic()

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < HEARTBEAT_S:
            return False
        self._last = now
        return True


class QueueApprover:
    """Waits for a decision in a durable queue; see ``queue``."""

    def __init__(self, store: ApprovalStore | None, poll_interval: tuple[float, float]) -> None:
        first, cap = poll_interval
        if not (0 < first <= cap):
            raise ConfigError(f"queue poll_interval must be (first, cap) with 0 < first <= cap, got {poll_interval}")
        self._store = store
        self._lock = threading.Lock()
        self._first, self._cap = first, cap

    @property
    def store(self) -> ApprovalStore:
        """The store (the default one is resolved from ``TOOLCHAIN_APPROVALS_URL`` on first use)."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(None)
        return self._store

    def describe(self) -> str:
        where = self._store.url if self._store is not None else f"${TOOLCHAIN_APPROVALS_URL} or {DEFAULT_PATH}"
        return f"queue({where})"

    def _polling(self, retrying: type[_R], request: ApprovalRequest) -> _R:
        """How a waiting call polls the store (the same for the sync and async paths): looks while
        the request is pending, backing off from ``first`` to ``cap`` seconds (x1.5 a look, never
        longer than the heartbeat interval), never sleeping past the expiry. A failed look is
        retried until the expiry, then raised: a store that stays down denies the call."""
        backoff = wait_exponential(multiplier=self._first, exp_base=1.5, max=self._cap)

        def give_up(state: RetryCallState) -> bool:  # a pending look past the expiry is not the end: it closes
            return state.outcome is not None and state.outcome.failed and request.remaining() <= 0

        return retrying(
            retry=retry_if_exception_type() | retry_if_result(_pending),
            wait=lambda state: min(backoff(state), max(request.remaining(), 0.0), HEARTBEAT_S),
            stop=give_up,
            before_sleep=_warn_failed_look,
            reraise=True,
        )

    def _submit(self, request: ApprovalRequest, stored: concurrent.futures.Future[None] | None = None) -> None:
        """Store the request, within its deadline; ``stored`` says whether that worked."""
        try:
            with _within(request):
                self.store.submit(request)
        except BaseException as exc:
            if stored is not None:
                stored.set_exception(exc)
            raise
        if stored is not None:
            stored.set_result(None)

    def _look(self, request: ApprovalRequest, beat: _Heartbeat) -> ApprovalRecord | None:
        """One look at the store, within the request's deadline. Past the expiry a still-pending
        request is closed as timed out (``TimeoutError``), unless a decision got there first (then
        it is read again); before it, the look says the call still waits, every ``HEARTBEAT_S``."""
        with _within(request):
            record = self.store.get(request.id)
            if _pending(record) and request.remaining() <= 0:
                if self.store.close_request(request.id, "timeout", reason="no decision before it expired"):
                    raise TimeoutError(f"no decision on approval request {request.id} before it expired")
                record = self.store.get(request.id)
            elif _pending(record) and beat.due():
                self.store.heartbeat(request.id)
            return record

    def decide(self, request: ApprovalRequest) -> Decision:
        self._submit(request)
        try:
            return _decision(request, self._polling(Retrying, request)(self._look, request, _Heartbeat()))
        except BaseException:
            _CLOSER.start(lambda: self._cancel(request))
            raise

    async def adecide(self, request: ApprovalRequest) -> Decision:
        # Shielded, so a cancellation that lands while the row is being written (it may already be
        # committed) still closes it: the close waits for the write to finish, on a thread of its own.
        stored: concurrent.futures.Future[None] = concurrent.futures.Future()
        submitting = asyncio.ensure_future(asyncio.to_thread(self._submit, request, stored))
        try:
            await asyncio.shield(submitting)
            polling = self._polling(AsyncRetrying, request)
            return _decision(request, await polling(asyncio.to_thread, self._look, request, _Heartbeat()))
        except BaseException:
            _CLOSER.start(lambda: self._cancel_once_stored(stored, request))
            raise

    def settle(self, request: ApprovalRequest, problem: str | None) -> None:
        """Record in the queue what the gate did with the decision it found: took it (``problem``
        is ``None``) or refused it (the request becomes ``error`` with ``problem`` as the reason)."""
        with _within(request):
            self.store.settle(request.id, accepted=problem is None, reason=problem or "")

    def _cancel_once_stored(self, stored: concurrent.futures.Future[None], request: ApprovalRequest) -> None:
        """Close a request whose async caller is gone, once its write has finished (if it worked)."""
        try:
            stored.result(timeout=max(request.remaining(), 0.0) + _GRACE_S)
        except concurrent.futures.TimeoutError:
            pass  # still being written: close it anyway (a close of a row not there yet does nothing)
        except BaseException:
            return  # never stored: nothing to close
        self._cancel(request)

    def _cancel(self, request: ApprovalRequest) -> None:
        """Close a request its caller stopped waiting for, so nobody approves a call that is gone."""
        try:
            self.store.close_request(request.id, "cancelled", reason="the waiting call stopped waiting")
        except Exception as exc:
            warn_once("approval-cancel", "toolchain_sdk: could not close approval request %s: %s", request.id, exc)


def queue(
    store: ApprovalStore | str | os.PathLike[str] | None = None,
    *,
    poll_interval: tuple[float, float] = (0.05, 1.0),
) -> QueueApprover:
    """An approver that stores each request in a durable queue and waits for a reviewer's decision.

    Reviewers decide with ``toolchain approvals list|show|approve|deny|edit`` (any process or
    machine that reaches the store) or ``store.decide(record.request.approve(by=..., ...))``.

    Args:
        store: a path or ``sqlite:///path`` (SQLite, WAL mode), a ``postgresql://`` URL (needs
            ``toolchain-sdk[postgres]``), or an ``ApprovalStore``. Default:
            ``TOOLCHAIN_APPROVALS_URL``, else ``.toolchain/approvals.db``. Opened on first use.
        poll_interval: ``(first, cap)`` seconds between looks at the store, growing by half per look;
            a decision is seen at most ``cap`` seconds after it is made.

    Raises:
        ConfigError: an unusable ``store`` or ``poll_interval``.
        Failure policy: a store that cannot take the request denies the call at once; one that
            fails while the call waits is retried until the timeout, then the call is denied. No
            store operation waits past the request's expiry (plus a second): busy, connect and
            statement timeouts shrink to the time left. A request whose caller stops waiting is
            closed as ``cancelled`` (before the interpreter exits, within a bound), and one whose
            caller is gone cannot be decided.
    """
    return QueueApprover(open_store(store) if store is not None else None, poll_interval)
