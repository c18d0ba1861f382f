"""Approvers: who answers an approval request, behind one protocol, sync or async.

* ``callback(fn)`` — the application's own function (a Slack bot, a ticket system), sync or
  async, returns a ``Decision``; it is held to the request's timeout.
* ``queue(store)`` — the request waits in a durable queue (SQLite or PostgreSQL) for a decision
  from ``toolchain approvals ...`` in any process (``_queue``).
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
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Final, Protocol, cast, runtime_checkable

from toolchain_sdk.approval._values import ApprovalRequest, Decision
from toolchain_sdk.errors import ConfigError

__all__ = [
    "Approver",
    "CallbackApprover",
    "Settling",
    "TOOLCHAIN_ENV",
    "acting_approver",
    "approving_as",
    "auto_approve",
    "callback",
    "deny_all",
    "refusing_approvals",
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


@runtime_checkable
class Settling(Protocol):
    """An approver that keeps a record of its requests (the queue): the gate tells it what it did
    with each decision, so the record says what happened (``error`` when the gate refused it)."""

    def settle(self, request: ApprovalRequest, problem: str | None) -> None:
        """Record that the gate took the decision on ``request`` (``problem`` is ``None``) or refused it."""
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


# --- a named approver for one block (eval runs) -------------------------------------------------
_ACTING: contextvars.ContextVar[Approver | None] = contextvars.ContextVar("toolchain_acting_approver", default=None)


def acting_approver() -> Approver | None:
    """The approver ``approving_as`` put in place for this context, if any (the gate asks it first)."""
    return _ACTING.get()


@contextmanager
def approving_as(name: str, *, reason: str = "approved for an eval run") -> Iterator[None]:
    """Within the block, every approval request of this context is approved by ``name``, on the record.

    For eval runs (``toolchain eval --approve-as NAME``): the decision is an ordinary bound
    ``Decision`` whose approver is ``name``, so the span's ``toolchain.approval.approver`` and the
    audit record say who let the call through. Nothing is approved outside the block.

    Raises:
        ConfigError: ``name`` is blank.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("approving_as needs the approver's name (e.g. approving_as('ci-evals'))")
    who = name.strip()
    token = _ACTING.set(_FixedApprover(f"approving_as({who})", lambda r: r.approve(by=who, reason=reason)))
    try:
        yield
    finally:
        _ACTING.reset(token)


@contextmanager
def refusing_approvals(reason: str) -> Iterator[list[ApprovalRequest]]:
    """Within the block, every approval request of this context is denied at once, and listed.

    For eval runs without ``--approve-as``: a call whose policy asks is never approved and never
    waits for a person (its span records the denial, ``reason``); the caller reads the list to
    report the case as skipped. A call the policy lets through runs as usual.
    """
    asked: list[ApprovalRequest] = []

    def deny(request: ApprovalRequest) -> Decision:
        asked.append(request)
        return request.deny(by="refusing_approvals", reason=reason)

    token = _ACTING.set(_FixedApprover("refusing_approvals", deny))
    try:
        yield asked
    finally:
        _ACTING.reset(token)
