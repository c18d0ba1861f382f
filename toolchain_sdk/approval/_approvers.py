"""Approvers: who answers an approval request, behind one protocol, sync or async.

* ``callback(fn)`` — the application's own function (a Slack bot, a ticket system), sync or
  async, returns a ``Decision``; it is held to the request's timeout.
* ``queue(store)`` — the request waits in a durable queue (SQLite or PostgreSQL) for a decision
  from ``toolchain approvals ...`` in any process; async callers wait without blocking the loop.
* ``deny_all()`` — every request is denied; ``auto_approve()`` — every request is approved, and
  only where ``TOOLCHAIN_ENV`` says this is a test or development environment.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Final, Literal, Protocol, cast, runtime_checkable

from toolchain_sdk._core.safety import warn_once
from toolchain_sdk.approval._values import ApprovalRequest, Decision
from toolchain_sdk.approval.store import (
    DEFAULT_PATH,
    TOOLCHAIN_APPROVALS_URL,
    ApprovalRecord,
    ApprovalStore,
    open_store,
)
from toolchain_sdk.errors import ConfigError

__all__ = [
    "TOOLCHAIN_ENV",
    "Approver",
    "CallbackApprover",
    "QueueApprover",
    "auto_approve",
    "callback",
    "deny_all",
    "queue",
]

TOOLCHAIN_ENV: Final = "TOOLCHAIN_ENV"
"""The kind of environment: ``test`` or ``dev`` allow ``tc.approval.auto_approve()``; anything
else (including unset) is treated as production."""
_NON_PRODUCTION: Final = ("test", "testing", "dev", "development")


@runtime_checkable
class Approver(Protocol):
    """Decides approval requests. ``decide`` serves sync calls, ``adecide`` async ones (it must
    not block the event loop). Both should answer by ``request.expires_at``: the gate treats a
    later answer as a timeout, and any exception as a denial."""

    def describe(self) -> str:
        """A short name for the control sheet, e.g. ``queue(sqlite:///.toolchain/approvals.db)``."""
        ...

    def decide(self, request: ApprovalRequest) -> Decision:
        """Decide ``request``, blocking the calling thread."""
        ...

    async def adecide(self, request: ApprovalRequest) -> Decision:
        """Decide ``request`` without blocking the event loop."""
        ...


# --- callback ---------------------------------------------------------------------------------
DecideFn = Callable[[ApprovalRequest], Decision] | Callable[[ApprovalRequest], Awaitable[Decision]]


def _in_daemon_thread(fn: Callable[[], object]) -> concurrent.futures.Future[object]:
    """Run ``fn`` (in a copy of this context) on a daemon thread, so a hung callback never holds
    up the caller past its timeout, nor the interpreter at exit."""
    future: concurrent.futures.Future[object] = concurrent.futures.Future()
    ctx = contextvars.copy_context()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(ctx.run(fn))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name="toolchain-approval-callback", daemon=True).start()
    return future


class CallbackApprover:
    """Asks the application's own function; see ``callback``."""

    def __init__(self, fn: DecideFn, name: str | None = None) -> None:
        if not callable(fn):
            raise ConfigError(f"tc.approval.callback needs a function, not {type(fn).__name__}")
        self._fn = fn
        self._is_async = inspect.iscoroutinefunction(fn)
        self._name = name or getattr(fn, "__qualname__", type(fn).__name__)

    def describe(self) -> str:
        return f"callback({self._name})"

    def _call_sync(self, request: ApprovalRequest) -> object:
        if self._is_async:
            return asyncio.run(asyncio.wait_for(self._fn(request), request.remaining()))  # type: ignore[arg-type]
        return self._fn(request)

    def decide(self, request: ApprovalRequest) -> Decision:
        future = _in_daemon_thread(lambda: self._call_sync(request))
        return future.result(timeout=max(request.remaining(), 0.0))  # type: ignore[return-value]

    async def adecide(self, request: ApprovalRequest) -> Decision:
        if self._is_async:
            return await asyncio.wait_for(self._fn(request), max(request.remaining(), 0.0))  # type: ignore[arg-type]
        future = asyncio.wrap_future(_in_daemon_thread(lambda: self._fn(request)))
        return cast(Decision, await asyncio.wait_for(future, max(request.remaining(), 0.0)))


def callback(fn: DecideFn, *, name: str | None = None) -> CallbackApprover:
    """An approver that calls ``fn(request) -> Decision`` (a plain or an ``async`` function).

    ``fn`` typically posts the request somewhere (Slack, a ticket) and waits for a person's
    answer; build the answer with ``request.approve(by=..., reason=...)``, ``request.deny(...)``
    or ``request.edit(output, by=..., reason=...)`` so it is bound to the request. A plain
    function runs on a worker thread (in a copy of the caller's context), never on the event
    loop.

    Raises:
        ConfigError: ``fn`` is not callable.
        Failure policy: ``fn`` raising, returning anything but a bound ``Decision``, or not
            returning by the timeout denies the call.
    """
    return CallbackApprover(fn, name)


# --- the durable queue ------------------------------------------------------------------------
class _Poll:
    """The waiting strategy shared by the sync and async paths: exponential backoff from
    ``first`` to ``cap`` seconds, never sleeping past the request's expiry."""

    def __init__(self, request: ApprovalRequest, first: float, cap: float) -> None:
        self.request = request
        self.delay = first
        self.cap = cap

    def next(
        self, read: ApprovalRecord | Exception | None
    ) -> tuple[Literal["done"], Decision] | tuple[Literal["wait"], float]:
        """What to do after a look at the store: return the decision, or wait this long (0: expire now).

        A failed look (``read`` is the exception) is retried until the deadline, then raised: a
        store that stays down denies the call.
        """
        if isinstance(read, Exception):
            if self.request.remaining() <= 0:
                raise read
            warn_once(f"approval-poll:{type(read).__name__}", "toolchain_sdk: approval queue poll failed: %s", read)
        elif read is None:
            raise LookupError(f"approval request {self.request.id} vanished from the queue")
        elif read.decision is not None:
            return "done", read.decision
        elif read.status != "pending":
            raise RuntimeError(f"approval request {self.request.id} was closed as {read.status}")
        wait = min(self.delay, max(self.request.remaining(), 0.0))
        self.delay = min(self.delay * 1.5, self.cap)
        return "wait", wait


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

    def _expired(self, poll: _Poll) -> None:
        if self.store.close_request(poll.request.id, "timeout"):
            raise TimeoutError(f"no decision on approval request {poll.request.id} before it expired")

    def _read(self, request_id: str) -> ApprovalRecord | Exception | None:
        try:
            return self.store.get(request_id)
        except Exception as exc:
            return exc

    def decide(self, request: ApprovalRequest) -> Decision:
        self.store.submit(request)
        poll = _Poll(request, self._first, self._cap)
        try:
            while True:
                step = poll.next(self._read(request.id))
                if step[0] == "done":
                    return step[1]
                if step[1] > 0:
                    time.sleep(step[1])
                else:
                    self._expired(poll)
        except BaseException:
            self._cancel(request)
            raise

    async def adecide(self, request: ApprovalRequest) -> Decision:
        # Shielded, so a cancellation that lands while the row is being written (it may already be
        # committed) still closes it: the request is closed once the write has finished.
        submitted = asyncio.ensure_future(asyncio.to_thread(self.store.submit, request))
        try:
            await asyncio.shield(submitted)
            poll = _Poll(request, self._first, self._cap)
            while True:
                step = poll.next(await asyncio.to_thread(self._read, request.id))
                if step[0] == "done":
                    return step[1]
                if step[1] > 0:
                    await asyncio.sleep(step[1])
                else:
                    await asyncio.to_thread(self._expired, poll)
        except BaseException:
            submitted.add_done_callback(lambda done: self._cancel_stored(done, request))
            raise

    def _cancel_stored(self, submitted: asyncio.Future[None], request: ApprovalRequest) -> None:
        """Close a request whose async caller is gone, in a thread of its own (never blocking the loop)."""
        if submitted.cancelled() or submitted.exception() is not None:
            return  # never stored: nothing to close
        threading.Thread(target=self._cancel, args=(request,), daemon=True).start()

    def _cancel(self, request: ApprovalRequest) -> None:
        """Close a request its caller stopped waiting for, so nobody approves a call that is gone."""
        try:
            self.store.close_request(request.id, "cancelled")
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
            fails while the call waits is retried until the timeout, then the call is denied.
    """
    return QueueApprover(open_store(store) if store is not None else None, poll_interval)


# --- fixed answers ----------------------------------------------------------------------------
class _FixedApprover:
    def __init__(self, name: str, answer: Callable[[ApprovalRequest], Decision]) -> None:
        self._name = name
        self._answer = answer

    def describe(self) -> str:
        return self._name

    def decide(self, request: ApprovalRequest) -> Decision:
        return self._answer(request)

    async def adecide(self, request: ApprovalRequest) -> Decision:
        return self._answer(request)


def deny_all() -> Approver:
    """An approver that denies every request (a surface that must stay shut until wired up)."""
    return _FixedApprover("deny_all", lambda r: r.deny(by="deny_all", reason="every request is denied (deny_all)"))


def _environment() -> str:
    return os.environ.get(TOOLCHAIN_ENV, "").strip().lower()


def _refusal() -> str:
    return (
        f"tc.approval.auto_approve() approves without a person, so it only works where "
        f"{TOOLCHAIN_ENV} marks a test or development environment ({TOOLCHAIN_ENV}=test or dev); "
        f"here {TOOLCHAIN_ENV}={_environment() or '(unset)'}"
    )


def _auto(request: ApprovalRequest) -> Decision:
    if _environment() not in _NON_PRODUCTION:
        raise PermissionError(_refusal())
    return request.approve(by="auto_approve", reason=f"auto-approved ({TOOLCHAIN_ENV}={_environment()})")


def auto_approve() -> Approver:
    """An approver that approves everything — for tests and local development only.

    Raises:
        ConfigError: ``TOOLCHAIN_ENV`` is not ``test``/``dev`` (checked again at every decision:
            outside them each request is denied).
    """
    if _environment() not in _NON_PRODUCTION:
        raise ConfigError(_refusal())
    return _FixedApprover("auto_approve", _auto)
