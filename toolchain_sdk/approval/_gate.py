"""The approval gate of one surface: ask, wait, check the answer, record it, let through or deny.

The gate is a control, so it fails closed: anything but an explicit, well-formed decision bound
to this very call — approver error, timeout (or an answer after it), a malformed decision, one
bound to another request or other arguments/output, arguments changed while waiting, an edit
that is not of the function's return type — denies; so does a policy that answers anything but
``True``/``False`` (it asks), and any failure to prepare the request (``on_deny`` is honoured).
Each pass is written once, as steps that yield what they wait for (``_steps``); the sync and
async paths differ only in the wait itself. An approver that keeps a record (the queue) is told
what the gate did with its decision, so the record agrees with what happened.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, Never, TypeAlias

from toolchain_sdk import config, semconv, tracing
from toolchain_sdk._core.safety import warn_once
from toolchain_sdk.approval._approvers import Approver, Settling, acting_approver
from toolchain_sdk.approval._edits import EditCheck
from toolchain_sdk.approval._policies import Policy, needs_approval
from toolchain_sdk.approval._steps import Steps, adrive, drive
from toolchain_sdk.approval._values import (
    ApprovalRequest,
    Decision,
    Phase,
    format_seconds,
    json_view,
    new_request_id,
    output_kind,
    output_view,
    utcnow,
)
from toolchain_sdk.errors import ApprovalDenied
from toolchain_sdk.hashing import canonical_json
from toolchain_sdk.inventory import get_surface
from toolchain_sdk.redaction import scrub_text

if TYPE_CHECKING:
    from toolchain_sdk._core.call import CallRecord

__all__ = ["ApprovalGate", "LATE_GRACE_S"]

LATE_GRACE_S: Final = 1.0
"""How long past the request's expiry the gate waits for an approver that handles its own
timeout (the queue closes the request itself at expiry); an answer later than that is a timeout."""


@dataclass(frozen=True)
class _Outcome:
    """What the gate concluded: let the call (or its edited output) through, or fall back."""

    action: Literal["pass", "fallback"]
    output: object = None


@dataclass(frozen=True)
class _RunFallback:
    """A wait: answer a denied after-call with the fallback on the call's own arguments (the kill
    switch fitted it to the surface: an awaitable for async ones, ``FallbackFailed`` on error)."""

    fallback: Callable[..., Any]
    call: CallRecord

    def __call__(self) -> object:
        return self.fallback(*self.call.args, **self.call.kwargs)


@dataclass(frozen=True)
class _Settle:
    """A wait: tell an approver that keeps a record what the gate did with its decision (a store
    write). Its failure changes nothing for the call; the operator is told."""

    approver: Settling
    request: ApprovalRequest
    problem: str | None

    def __call__(self) -> None:
        try:
            self.approver.settle(self.request, self.problem)
        except Exception as exc:
            warn_once("approval-settle", "toolchain_sdk: could not record the gate's verdict on approval request %s "
                      "(%s: %s); the queue may show another state than what happened", self.request.id,
                      type(exc).__name__, exc)  # fmt: skip


@dataclass(frozen=True)
class _Unprepared:
    """The request could not be prepared (the arguments or output cannot be hashed or shown)."""

    request_id: str
    reason: str
    cause: Exception


@dataclass(frozen=True)
class _Judged:
    """The gate's verdict on an answer: what to record, why, what was wrong, and what passes."""

    verdict: str
    reason: str
    problem: str | None = None
    output: object = None


_WaitFor: TypeAlias = "ApprovalRequest | _RunFallback | _Settle"
"""What the steps wait for: the approver's answer to a request, the fallback's output, or a record
of the gate's verdict."""


class ApprovalGate:
    """The gate built from ``tc.approval.require(...)`` for one surface."""

    def __init__(
        self,
        *,
        surface: str,
        when: Phase,
        policy: Policy,
        approver: Approver,
        timeout_s: float,
        on_deny: Literal["raise", "fallback"],
        fallback: Callable[..., Any] | None,
        description: str,
        func: Callable[..., Any] | None = None,
    ) -> None:
        self._surface = surface
        self._description = description
        self._when = when
        self._policy = policy
        self._approver = approver
        self._timeout = timeout_s
        self._on_deny = on_deny
        self._fallback = fallback
        self._edits = EditCheck(func)
        self._settling = approver if isinstance(approver, Settling) else None  # keeps a record: tell it the verdict
        self.reviews = when == "after"

    def describe(self) -> str:
        """One line for the control sheet."""
        return self._description

    # --- the Gate protocol: the steps, driven on this thread or awaited --------------------------
    def check(self, call: CallRecord) -> Callable[..., Any] | None:
        return drive(self._checking(call), self._wait)

    async def acheck(self, call: CallRecord) -> Callable[..., Any] | None:
        return await adrive(self._checking(call), self._await)

    def review(self, call: CallRecord, output: object) -> object:
        return drive(self._reviewing(call, output), self._wait)

    async def areview(self, call: CallRecord, output: object) -> object:
        return await adrive(self._reviewing(call, output), self._await)

    # --- the waits: the only part that differs ---------------------------------------------------
    def _wait(self, need: _WaitFor) -> object:
        """Block until ``need`` is met: the approver's decision (or the exception it raised), the
        fallback's output (its errors propagate), or the record of the verdict."""
        if isinstance(need, (_RunFallback, _Settle)):
            return need()
        try:
            return (acting_approver() or self._approver).decide(need)
        except Exception as exc:
            return exc

    async def _await(self, need: _WaitFor) -> object:
        """``_wait`` without blocking the event loop; a stuck approver is cut off at expiry + grace."""
        if isinstance(need, _RunFallback):
            result = need()
            return await result if inspect.isawaitable(result) else result
        if isinstance(need, _Settle):
            return await asyncio.to_thread(need)
        try:
            guard = max(need.remaining(), 0.0) + LATE_GRACE_S
            return await asyncio.wait_for((acting_approver() or self._approver).adecide(need), guard)
        except Exception as exc:  # CancelledError is a BaseException: cancellation goes through
            return exc

    # --- the steps -------------------------------------------------------------------------------
    def _checking(self, call: CallRecord) -> Steps[_WaitFor, Callable[..., Any] | None]:
        """Before the call: ask when the policy says so; the fallback replaces a denied call."""
        if self._when != "before":
            return None
        outcome = yield from self._asking(call, None)
        return self._fallback if outcome.action == "fallback" else None

    def _reviewing(self, call: CallRecord, output: object) -> Steps[_WaitFor, object]:
        """After the call: ask about its output; an edit replaces it, the fallback answers a denial."""
        # A kill-switch fallback answered: a deterministic handler, not model output, as before-mode.
        if self._when != "after" or call.outcome == "fallback":
            return output
        outcome = yield from self._asking(call, (output,))
        if outcome.action == "fallback":
            assert self._fallback is not None
            return (yield _RunFallback(self._fallback, call))
        return outcome.output

    def _asking(self, call: CallRecord, output: tuple[object] | None) -> Steps[_WaitFor, _Outcome]:
        """Open a request (when the policy needs one), wait for the approver's answer, close it."""
        original = output[0] if output else None
        request = self._open(call, output)
        if request is None:
            return _Outcome("pass", original)
        if isinstance(request, _Unprepared):
            call.attrs[semconv.APPROVAL_REASON] = scrub_text(request.reason)
            return self._refuse(call, request.request_id, "error", request.reason, request.cause)
        started = time.monotonic()
        meters = tracing.instruments()
        if meters is not None:
            meters.approval_pending.add(1)
        try:
            answer = yield request
        finally:
            if meters is not None:
                meters.approval_pending.add(-1)
        waited = time.monotonic() - started
        judged = self._judge(call, request, answer, original)
        if isinstance(answer, Decision) and self._settling is not None and acting_approver() is None:
            yield _Settle(self._settling, request, judged.reason if judged.problem is not None else None)
        return self._close(call, request, answer, judged, waited)

    def _open(self, call: CallRecord, output: tuple[object] | None) -> ApprovalRequest | _Unprepared | None:
        """Ask the policy; when approval is needed, build the request and record it on the span."""
        attrs = call.attrs
        required = needs_approval(self._policy, self._surface, call.risk, lambda: call.arguments)
        attrs[semconv.APPROVAL_REQUIRED] = required
        if not required:
            return None
        attrs[semconv.APPROVAL_WHEN] = self._when
        request_id = new_request_id()
        attrs[semconv.APPROVAL_ID] = request_id
        try:
            request = self._request(call, request_id, output)
        except Exception as exc:  # whatever it is, nothing can be bound or shown: deny (honouring on_deny)
            what = "output" if output else "arguments"
            if isinstance(exc, (TypeError, ValueError)):
                reason = f"the call's {what} cannot be hashed, so no decision can be bound to them: {exc}"
            elif isinstance(exc, RecursionError):
                reason = f"the call's {what} are nested too deeply to hash or to show a reviewer"
            else:
                reason = f"the approval request could not be prepared: {type(exc).__name__}: {exc}"
            return _Unprepared(request_id, reason, exc)
        event: dict[str, object] = {
            semconv.APPROVAL_ID: request_id,
            semconv.APPROVAL_WHEN: self._when,
            semconv.APPROVAL_APPROVER: (acting_approver() or self._approver).describe(),
            semconv.APPROVAL_EXPIRES_AT: request.expires_at.isoformat(),
        }
        if self._hashes(call):
            attrs[semconv.APPROVAL_SUBJECT_SHA256] = event[semconv.APPROVAL_SUBJECT_SHA256] = request.subject_sha256
        call.add_event(semconv.EVENT_APPROVAL_REQUESTED, event)
        return request

    def _request(self, call: CallRecord, request_id: str, output: tuple[object] | None) -> ApprovalRequest:
        """The request: redacted views and exact hashes of the arguments (and output), its expiry."""
        hasher = config.hasher()
        arguments = call.recorded_arguments
        trace_id, span_id = _trace_ids(call)
        spec = call.surface.spec
        prompt = call.prompt  # the version this call uses (an eval run may replace the surface's)
        now = utcnow()
        return ApprovalRequest(
            id=request_id,
            surface=self._surface,
            risk=call.risk,
            phase=self._when,
            arguments=json_view(arguments),  # type: ignore[arg-type]
            arguments_sha256=hasher.hash_bytes(canonical_json(arguments)),  # strict: no stand-ins for parts
            output=output_view(output[0]) if output else None,
            output_kind=output_kind(output[0]) if output else None,
            output_sha256=hasher.hash_value(output[0]) if output else None,
            output_schema=self._edits.schema(output[0]) if output else None,
            hash_alg=hasher.alg,
            created_at=now,
            expires_at=now + timedelta(seconds=self._timeout),
            trace_id=trace_id,
            span_id=span_id,
            owner=spec.owner,
            model=_model(call),
            prompt_name=prompt.name if prompt is not None else None,
            prompt_version=prompt.version if prompt is not None else None,
        )

    def _close(
        self, call: CallRecord, request: ApprovalRequest, answer: object, judged: _Judged, waited_s: float
    ) -> _Outcome:
        """Record the verdict on the span, and let the call (or the edit) through or deny it."""
        verdict, reason = judged.verdict, judged.reason
        call.attrs[semconv.APPROVAL_WAIT_MS] = round(waited_s * 1000, 3)
        decided: dict[str, object] = {semconv.APPROVAL_ID: request.id, semconv.APPROVAL_DECISION: verdict}
        if isinstance(answer, Decision) and judged.problem is None:
            call.attrs[semconv.APPROVAL_APPROVER] = decided[semconv.APPROVAL_APPROVER] = answer.by
        if reason:
            call.attrs[semconv.APPROVAL_REASON] = decided[semconv.APPROVAL_REASON] = scrub_text(reason)
        decided[semconv.APPROVAL_WAIT_MS] = call.attrs[semconv.APPROVAL_WAIT_MS]
        call.attrs[semconv.APPROVAL_DECISION] = verdict
        call.add_event(semconv.EVENT_APPROVAL_DECIDED, decided)
        meters = tracing.instruments()
        if meters is not None:
            meters.approval_wait.record(waited_s, {semconv.SURFACE: self._surface, semconv.APPROVAL_DECISION: verdict})
        if verdict == "approved":
            return _Outcome("pass", judged.output)
        if verdict == "edited":
            assert isinstance(answer, Decision)
            call.attrs[semconv.OVERRIDE_EDITOR] = answer.by
            call.attrs[semconv.OVERRIDE_REASON] = scrub_text(answer.reason)
            if self._hashes(call) and request.output_sha256:
                call.attrs[semconv.OVERRIDE_ORIGINAL_SHA256] = request.output_sha256
            return _Outcome("pass", judged.output)
        return self._refuse(call, request.id, verdict, reason, answer if isinstance(answer, BaseException) else None)

    def _refuse(
        self, call: CallRecord, request_id: str, verdict: str, reason: str, cause: BaseException | None
    ) -> _Outcome:
        """A denial: the fallback answers with ``on_deny="fallback"``, else ``ApprovalDenied``."""
        if self._on_deny == "fallback" and self._fallback is not None:
            call.outcome = "denied"
            call.attrs[semconv.APPROVAL_DECISION] = verdict
            spec = get_surface(self._surface)
            if spec is not None and spec.fallback:
                call.attrs[semconv.FALLBACK_HANDLER] = spec.fallback
            return _Outcome("fallback")
        self._deny(call, request_id, verdict, reason, cause)

    def _judge(self, call: CallRecord, request: ApprovalRequest, answer: object, output: object) -> _Judged:
        """The verdict on the approver's answer (an edit checked and fitted to the output's type)."""
        if isinstance(answer, TimeoutError):
            return _Judged("timeout", f"no decision within {format_seconds(self._timeout)}", "timeout")
        if isinstance(answer, Exception):
            return _Judged("error", f"the approver failed: {type(answer).__name__}: {answer}", "error")
        fitted = output
        try:
            problem = self._malformed(call, request, answer, output)
            if problem is None and isinstance(answer, Decision) and answer.verdict == "edited":
                try:
                    fitted = self._edits.fit(answer.output, output)
                except (TypeError, ValueError) as exc:
                    problem = f"malformed edit: {exc}"
        except Exception as exc:  # checking it failed: in doubt, deny
            problem = f"the decision could not be checked: {type(exc).__name__}: {exc}"
        if problem is not None:
            return _Judged("timeout" if problem == "late" else "error", _PROBLEMS.get(problem, problem), problem)
        assert isinstance(answer, Decision)
        return _Judged(answer.verdict, answer.reason, None, fitted)

    def _malformed(self, call: CallRecord, request: ApprovalRequest, answer: object, output: object) -> str | None:
        if not isinstance(answer, Decision):
            return f"malformed decision: the approver returned a {type(answer).__name__}, not a Decision"
        if answer.request_id != request.id:
            return f"the decision is for request {answer.request_id!r}, not {request.id!r}: it cannot be replayed"
        if answer.subject_sha256 != request.subject_sha256:
            return "the decision was made for other arguments or another output than this call's: refused"
        if request.remaining() < -LATE_GRACE_S:
            return "late"
        if answer.verdict == "edited" and request.phase != "after":
            return "malformed decision: an edit needs an output, and a before-call approval has none yet"
        if answer.verdict == "edited" and not answer.reason.strip():
            return "malformed decision: an edit needs a reason"
        hasher = config.hasher()
        try:  # the subject must still be what was approved (a mutable argument may change while we wait)
            now = (
                hasher.hash_value(output)
                if request.phase == "after"
                else hasher.hash_arguments(call.recorded_arguments)
            )
        except Exception:
            now = ""
        if now != request.subject_sha256:
            return f"the call's {'output' if request.phase == 'after' else 'arguments'} changed while it waited"
        return None

    def _deny(
        self, call: CallRecord, request_id: str, decision: str, reason: str, cause: BaseException | None
    ) -> Never:
        call.outcome = "denied"
        call.attrs[semconv.APPROVAL_DECISION] = decision
        raise ApprovalDenied(
            f"{self._surface}: approval request {request_id} {decision}: {reason or 'no reason given'}",
            request_id=request_id,
            decision=decision,
            reason=reason,
        ) from cause

    @staticmethod
    def _hashes(call: CallRecord) -> bool:
        return call.surface.hash_io


_PROBLEMS: Final = {"late": "the decision came after the request expired"}


def _trace_ids(call: CallRecord) -> tuple[str, str]:
    """The call's trace and span id (hex), or empty strings when tracing is off."""
    span = call.span
    if span is None:
        return "", ""
    ctx = span.get_span_context()
    return (f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}") if ctx.is_valid else ("", "")


def _model(call: CallRecord) -> str | None:
    """The model the call uses: the route target being tried, else the declared model, else (a
    routed call not started yet) the route's first target."""
    state = call.route_state
    model = getattr(state, "model", None) if state is not None else None
    if isinstance(model, str) and model:
        return model
    spec = call.surface.spec
    if spec.model:
        return spec.model
    return spec.targets[0].partition(":")[2] or spec.targets[0] if spec.targets else None
