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
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, TypeVar, cast, runtime_checkable

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
    TOOLCHAIN_APPROVALS_URL,
    ApprovalRecord,
    ApprovalStore,
    open_store,
)
from toolchain_sdk.errors import ConfigError

__all__ = [
    "Approver",
    "CallbackApprover",
    "QueueApprover",
    "TOOLCHAIN_ENV",
    "auto_approve",
    "callback",
    "deny_all",
    "queue",
]

TOOLCHAIN_ENV: Final = "TOOLCHAIN_ENV"
"""The kind of environment: ``test`` or ``dev`` allow ``tc.approval.auto_approve()``; anything
else (including unset) is treated as production."""
_NON_PRODUCTION: Final = ("test", "testing", "dev", "development")
_R = TypeVar("_R", bound=BaseRetrying)


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
    if record.decision is None:
        raise RuntimeError(f"approval request {request.id} was closed as {record.status}")
    return record.decision


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
        the request is pending, backing off from ``first`` to ``cap`` seconds (x1.5 a look), never
        sleeping past the expiry. A failed look is retried until the expiry, then raised: a store
        that stays down denies the call."""
        backoff = wait_exponential(multiplier=self._first, exp_base=1.5, max=self._cap)

        def give_up(state: RetryCallState) -> bool:  # a pending look past the expiry is not the end: it closes
            return state.outcome is not None and state.outcome.failed and request.remaining() <= 0

        return retrying(
            retry=retry_if_exception_type() | retry_if_result(_pending),
            wait=lambda state: min(backoff(state), max(request.remaining(), 0.0)),
            stop=give_up,
            before_sleep=_warn_failed_look,
            reraise=True,
        )

    def _look(self, request: ApprovalRequest) -> ApprovalRecord | None:
        """One look at the store. Past the expiry a still-pending request is closed as timed out
        (``TimeoutError``), unless a decision got there first (then it is read again)."""
        record = self.store.get(request.id)
        if _pending(record) and request.remaining() <= 0:
            if self.store.close_request(request.id, "timeout"):
                raise TimeoutError(f"no decision on approval request {request.id} before it expired")
            record = self.store.get(request.id)
        return record

    def decide(self, request: ApprovalRequest) -> Decision:
        self.store.submit(request)
        try:
            return _decision(request, self._polling(Retrying, request)(self._look, request))
        except BaseException:
            self._cancel(request)
            raise

    async def adecide(self, request: ApprovalRequest) -> Decision:
        # Shielded, so a cancellation that lands while the row is being written (it may already be
        # committed) still closes it: the request is closed once the write has finished.
        submitted = asyncio.ensure_future(asyncio.to_thread(self.store.submit, request))
        try:
            await asyncio.shield(submitted)
            polling = self._polling(AsyncRetrying, request)
            return _decision(request, await polling(asyncio.to_thread, self._look, request))
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
