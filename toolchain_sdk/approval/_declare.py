"""Declaring approval on a surface: ``require``, ``not_required`` and building the gate from them."""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from toolchain_sdk import semconv
from toolchain_sdk.approval._approvers import Approver
from toolchain_sdk.approval._gate import ApprovalGate
from toolchain_sdk.approval._policies import AlwaysPolicy, Policy, PredicatePolicy, RiskPolicy, is_async
from toolchain_sdk.approval._queue import QueueApprover, queue
from toolchain_sdk.approval._values import Phase, format_seconds, parse_timeout
from toolchain_sdk.errors import ConfigError

if TYPE_CHECKING:
    from toolchain_sdk._core.call import CallRecord

__all__ = [
    "NotRequired",
    "NotRequiredGate",
    "PolicySpec",
    "Requirement",
    "build_approval_gate",
    "not_required",
    "require",
]

PolicySpec = Literal["always", "low", "medium", "high"] | Callable[[Mapping[str, object]], bool]
_STREAMS = ("generator", "async-generator")


@dataclass(frozen=True)
class Requirement:
    """A surface's approval gate, as declared by ``require(...)`` (a value: reusable across surfaces)."""

    when: Phase
    policy: Policy
    approver: Approver
    timeout_s: float
    on_deny: Literal["raise", "fallback"]

    def describe(self) -> str:
        return (
            f"required {self.when}; policy={self.policy.describe()}; approver={self.approver.describe()}; "
            f"timeout={format_seconds(self.timeout_s)}; on_deny={self.on_deny}"
        )


@dataclass(frozen=True)
class NotRequired:
    """An explicit, reasoned statement that a surface needs no approval (shown on the control sheet)."""

    reason: str


class NotRequiredGate:
    """The gate of ``tc.approval.not_required(reason=...)``: never asks, says why on the span."""

    reviews = False

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def describe(self) -> str:
        return f"not required: {self.reason}"

    def check(self, call: CallRecord) -> Callable[..., Any] | None:
        call.attrs[semconv.APPROVAL_REQUIRED] = False
        return None

    async def acheck(self, call: CallRecord) -> Callable[..., Any] | None:
        return self.check(call)

    def review(self, call: CallRecord, output: object) -> object:
        return output

    async def areview(self, call: CallRecord, output: object) -> object:
        return output


_default_lock = threading.Lock()
_default_queue: QueueApprover | None = None


def _default_approver() -> QueueApprover:
    """One shared default queue, so equal declarations compare equal (and nothing opens until used)."""
    global _default_queue
    with _default_lock:
        if _default_queue is None:
            _default_queue = queue()
        return _default_queue


def _policy(spec: PolicySpec | Policy) -> Policy:
    if callable(spec) and is_async(spec):
        raise ConfigError(
            f"approval policy {getattr(spec, '__qualname__', type(spec).__name__)} is an async function; a policy "
            "decides from the call's arguments alone and must return True or False at once (put I/O in the approver)"
        )
    if spec == "always":
        return AlwaysPolicy()
    if spec in ("low", "medium", "high"):
        return RiskPolicy(str(spec))
    if isinstance(spec, str):
        raise ConfigError(f"approval policy {spec!r} is not 'always', a risk level (low, medium, high) or a predicate")
    if hasattr(spec, "describe") and callable(spec):
        return spec  # type: ignore[return-value]
    if callable(spec):
        return PredicatePolicy(spec)
    raise ConfigError(f"approval policy must be 'always', a risk level or a predicate, not {type(spec).__name__}")


def require(
    *,
    when: Phase = "before",
    policy: PolicySpec | Policy = "always",
    approver: Approver | None = None,
    timeout: str | float | _dt.timedelta = "15m",
    on_deny: Literal["raise", "fallback"] = "raise",
) -> Requirement:
    """Gate a surface: a person (or the application's approver) must approve each call.

    Args:
        when: ``before`` — the approver sees the call's arguments (secrets redacted) and decides
            before the function runs; ``after`` — the function runs, and the approver sees its
            output and approves, denies or edits it (an edit needs a reason and is what the
            caller gets). ``after`` needs the whole output at once, so it is refused for
            generators and ``with tc.governed(...)`` blocks (see docs/approvals.md).
        policy: when a call needs approval: ``always`` (default); a risk level (``medium``:
            surfaces of risk medium or high); or a predicate over the call's arguments by name,
            e.g. ``lambda a: a["amount"] > 100``. Only ``True``/``False`` is an answer: a predicate
            that raises or returns anything else (``None``, ``0``, ...) means "ask", with a warning.
            An ``async def`` predicate is a ``ConfigError`` (it would return a coroutine).
        approver: who decides; default ``tc.approval.queue()`` (``.toolchain/approvals.db``, or
            ``TOOLCHAIN_APPROVALS_URL``).
        timeout: how long to wait: ``"15m"``, ``"30s"``, ``"1h30m"``, seconds, or a timedelta.
            No decision by then denies the call.
        on_deny: ``raise`` ``ApprovalDenied`` (default), or answer with the surface's
            ``fallback`` handler (the span still says ``toolchain.outcome=denied``).

    Raises:
        ConfigError: a bad ``when``, ``policy`` (including an ``async def``), ``approver``,
            ``timeout`` or ``on_deny``.
        Failure policy: fail closed — an approver error, a timeout, an unreachable store, a
            malformed decision or one bound to another call, an edit that is not of the
            function's return type, or a request that cannot be prepared denies the call.
    """
    if when not in ("before", "after"):
        raise ConfigError(f"approval when={when!r} is not 'before' or 'after'")
    if on_deny not in ("raise", "fallback"):
        raise ConfigError(f"approval on_deny={on_deny!r} is not 'raise' or 'fallback'")
    try:
        timeout_s = parse_timeout(timeout)
    except ValueError as exc:
        raise ConfigError(f"approval {exc}") from None
    chosen = _default_approver() if approver is None else approver
    if not isinstance(chosen, Approver):
        raise ConfigError(
            f"approver must be an Approver (tc.approval.queue(), callback(fn), deny_all(), ...), "
            f"not {type(chosen).__name__}; wrap a function with tc.approval.callback(fn)"
        )
    return Requirement(when=when, policy=_policy(policy), approver=chosen, timeout_s=timeout_s, on_deny=on_deny)


def not_required(*, reason: str) -> NotRequired:
    """Declare that a surface needs no approval, and why (required to leave a high-risk surface ungated).

    Raises:
        ConfigError: an empty reason.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError("tc.approval.not_required(reason=...) needs a reason: the control sheet shows it")
    return NotRequired(reason.strip())


def build_approval_gate(
    *,
    surface: str,
    risk: str,
    approval: object,
    fallback: Callable[..., Any] | None,
    func: Callable[..., Any],
    kind: str,
) -> ApprovalGate | NotRequiredGate | None:
    """Validate a surface's approval declaration and build its gate, or ``None`` when ungated.

    Raises:
        ConfigError: a high-risk surface without approval (or ``not_required``); ``after`` on a
            stream or block; ``on_deny="fallback"`` without a fallback or on a block; an
            approval value that is not ``require(...)`` / ``not_required(...)``.
    """
    if approval is None:
        if risk == "high":
            raise ConfigError(
                f"{surface}: risk='high' needs an approval gate: add approval=tc.approval.require(...) "
                "(a person approves each call), or approval=tc.approval.not_required(reason='...') to record "
                "why it needs none"
            )
        return None
    if isinstance(approval, NotRequired):
        return NotRequiredGate(approval.reason)
    if isinstance(approval, Approver):
        raise ConfigError(f"{surface}: approval= takes a gate; wrap the approver: tc.approval.require(approver=...)")
    if not isinstance(approval, Requirement):
        raise ConfigError(
            f"{surface}: approval= takes tc.approval.require(...) or tc.approval.not_required(reason=...), "
            f"not {type(approval).__name__}"
        )
    if approval.when == "after" and (kind in _STREAMS or kind == "block"):
        what = "a stream hands each chunk to its consumer as it is made" if kind in _STREAMS else (
            "a `with` block's effects have happened by the time it records its output")  # fmt: skip
        raise ConfigError(
            f"{surface}: approval when='after' reviews the whole output before the caller gets it, but {what}, "
            "so nothing would be held back; use when='before', or gate a plain function that returns the "
            "collected output"
        )
    if approval.on_deny == "fallback":
        if kind == "block":
            raise ConfigError(
                f"{surface}: on_deny='fallback' cannot replace the body of a `with` block; use on_deny='raise' and "
                "handle tc.ApprovalDenied"
            )
        if fallback is None:
            raise ConfigError(f"{surface}: on_deny='fallback' needs the surface's fallback=... handler")
    return ApprovalGate(
        surface=surface,
        when=approval.when,
        policy=approval.policy,
        approver=approval.approver,
        timeout_s=approval.timeout_s,
        on_deny=approval.on_deny,
        fallback=fallback if approval.on_deny == "fallback" else None,
        description=approval.describe(),
        func=func,
    )
