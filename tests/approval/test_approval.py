"""Approval gates with in-process approvers: declaration checks, before/after, edits, fail-closed rules."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

import toolchain_sdk as tc
from tests._approval_support import off
from toolchain_sdk import errors, semconv
from toolchain_sdk.approval import ApprovalRequest, Decision
from toolchain_sdk.approval._steps import Steps, adrive, drive
from toolchain_sdk.approval._values import parse_timeout
from toolchain_sdk.testing import SpanRecorder

MODES = ["sync", "async"]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Surface:
    """A gated refund surface in one mode, with a record of what ran."""

    call: Callable[..., Any]
    ran: list[tuple[str, float]] = field(default_factory=list)
    fell_back: list[str] = field(default_factory=list)


def make(
    mode: str,
    name: str,
    approval: object,
    *,
    risk: str = "high",
    fallback_raises: bool = False,
    capture: str = "hash",
) -> Surface:
    """Declare ``name`` as a sync or async ``refund(order, amount) -> str`` with a fallback handler."""
    surface = Surface(call=lambda *a: None)

    def fallback_body(order: str, amount: float) -> str:
        if fallback_raises:
            raise RuntimeError("template store down")
        surface.fell_back.append(order)
        return f"manual review for {order}"

    def body(order: str, amount: float) -> str:
        surface.ran.append((order, amount))
        return f"refund {order} {amount}"

    if mode == "sync":

        def sync_fallback(order: str, amount: float) -> str:
            return fallback_body(order, amount)

        @tc.governed_call(name, risk=risk, approval=approval, capture=capture,  # type: ignore[arg-type]
                          fallback=sync_fallback)  # fmt: skip
        def refund(order: str, amount: float) -> str:
            return body(order, amount)

        surface.call = refund
    else:

        async def async_fallback(order: str, amount: float) -> str:
            return fallback_body(order, amount)

        @tc.governed_call(name, risk=risk, approval=approval, capture=capture,  # type: ignore[arg-type]
                          fallback=async_fallback)  # fmt: skip
        async def arefund(order: str, amount: float) -> str:
            await asyncio.sleep(0)
            return body(order, amount)

        surface.call = lambda *a: asyncio.run(arefund(*a))
    return surface


def approve_all(request: ApprovalRequest) -> Decision:
    return request.approve(by="alice", reason="within policy")


# --- declaration ------------------------------------------------------------------------------
def test_high_risk_without_approval_is_a_config_error() -> None:
    """A high-risk surface with no approval fails at decoration time, naming both ways out."""
    with pytest.raises(tc.ConfigError, match=r"require\(.*not_required\(reason="):

        @tc.governed_call("decl.high", risk="high", fallback=off)
        def f() -> str:
            return "x"


def test_not_required_with_reason_is_accepted_and_shown(spans: SpanRecorder) -> None:
    """not_required(reason=...) leaves a high-risk surface ungated, says why on the sheet and span."""

    @tc.governed_call(
        "decl.notreq", risk="high", fallback=off, approval=tc.approval.not_required(reason="read-only lookup")
    )
    def f() -> str:
        return "x"

    assert f() == "x"
    [spec] = [s for s in tc.surfaces() if s.surface == "decl.notreq"]
    assert spec.approval == "not required: read-only lookup"
    assert spans.one("decl.notreq").attributes[semconv.APPROVAL_REQUIRED] is False  # type: ignore[index]


@pytest.mark.parametrize("reason", ["", "   "])
def test_not_required_needs_a_reason(reason: str) -> None:
    """An empty reason is refused."""
    with pytest.raises(tc.ConfigError, match="needs a reason"):
        tc.approval.not_required(reason=reason)


def test_after_mode_refused_on_streams_and_blocks() -> None:
    """when='after' cannot hold back a stream or a block's effects: ConfigError explaining why."""
    after = tc.approval.require(when="after", approver=tc.approval.deny_all())
    with pytest.raises(tc.ConfigError, match="stream"):

        @tc.governed_call("decl.gen", approval=after)
        def gen() -> Any:
            yield "x"

    with pytest.raises(tc.ConfigError, match="stream"):

        @tc.governed_call("decl.agen", approval=after)
        async def agen() -> Any:
            yield "x"

    with pytest.raises(tc.ConfigError, match="block"):
        tc.governed("decl.block", approval=after)


def test_on_deny_fallback_needs_a_fallback_and_a_function() -> None:
    """on_deny='fallback' without a fallback, or on a block, is refused."""
    gate = tc.approval.require(approver=tc.approval.deny_all(), on_deny="fallback")
    with pytest.raises(tc.ConfigError, match=r"fallback=\.\.\."):

        @tc.governed_call("decl.nofb", approval=gate)
        def f() -> str:
            return "x"

    with pytest.raises(tc.ConfigError, match="`with` block"):
        tc.governed("decl.blockfb", approval=gate, fallback=lambda: "x")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"when": "during"}, "before' or 'after"),
        ({"on_deny": "ignore"}, "raise' or 'fallback"),
        ({"timeout": "soon"}, "duration"),
        ({"timeout": 0}, "positive"),
        ({"policy": "sometimes"}, "risk level"),
        ({"approver": print}, "callback"),
    ],
)
def test_bad_requirements(kwargs: dict[str, Any], match: str) -> None:
    """Each bad require() argument is a ConfigError naming what is accepted."""
    with pytest.raises(tc.ConfigError, match=match):
        tc.approval.require(**kwargs)


def test_approver_passed_as_approval_is_refused() -> None:
    """approval=<an approver> is a common slip: refused with the fix."""
    with pytest.raises(tc.ConfigError, match=r"require\(approver="):

        @tc.governed_call("decl.slip", approval=tc.approval.deny_all())
        def f() -> str:
            return "x"


def test_control_sheet_line() -> None:
    """The surface's approval line says when, policy, approver, timeout and on_deny."""

    @tc.governed_call("decl.sheet", approval=tc.approval.require(when="after", approver=tc.approval.deny_all(),
                                                                 timeout="90s"))  # fmt: skip
    def f() -> str:
        return "x"

    [spec] = [s for s in tc.surfaces() if s.surface == "decl.sheet"]
    assert spec.approval == "required after; policy=always; approver=deny_all; timeout=90s; on_deny=raise"


@pytest.mark.parametrize(
    ("text", "seconds"), [("15m", 900.0), ("1h30m", 5400.0), ("500ms", 0.5), ("0.2s", 0.2), ("2", 2.0), (3, 3.0)]
)
def test_timeouts_parse(text: str | int, seconds: float) -> None:
    """Durations are read as documented."""
    assert parse_timeout(text) == pytest.approx(seconds)


def test_auto_approve_refuses_outside_test_and_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    """auto_approve() refuses (and says why) unless TOOLCHAIN_ENV marks a test or dev environment."""
    monkeypatch.delenv("TOOLCHAIN_ENV", raising=False)
    with pytest.raises(tc.ConfigError, match=r"TOOLCHAIN_ENV=test or dev.*unset"):
        tc.approval.auto_approve()
    monkeypatch.setenv("TOOLCHAIN_ENV", "production")
    with pytest.raises(tc.ConfigError, match="TOOLCHAIN_ENV=production"):
        tc.approval.auto_approve()


@pytest.mark.parametrize("mode", MODES)
def test_auto_approve_in_test_env_and_rechecked_per_call(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a test environment auto_approve approves; if the environment changes, it denies."""
    monkeypatch.setenv("TOOLCHAIN_ENV", "test")
    s = make(mode, "auto.ok", tc.approval.require(approver=tc.approval.auto_approve()))
    assert s.call("o1", 1.0) == "refund o1 1.0"
    monkeypatch.setenv("TOOLCHAIN_ENV", "prod")
    with pytest.raises(tc.ApprovalDenied, match="TOOLCHAIN_ENV") as info:
        s.call("o2", 1.0)
    assert info.value.decision == "error"
    assert s.ran == [("o1", 1.0)]


# --- before -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_before_approved_runs_and_records(mode: str, spans: SpanRecorder) -> None:
    """An approved before-call runs; the span carries decision, approver, reason, id, wait and events."""
    seen: list[ApprovalRequest] = []

    def decide(request: ApprovalRequest) -> Decision:
        seen.append(request)
        return request.approve(by="alice", reason="within policy")

    s = make(mode, "before.ok", tc.approval.require(approver=tc.approval.callback(decide)))
    assert s.call("o1", 12.5) == "refund o1 12.5"
    [request] = seen
    assert request.phase == "before" and request.arguments == {"order": "o1", "amount": 12.5}
    a = spans.one("before.ok").attributes or {}
    assert a[semconv.APPROVAL_REQUIRED] is True
    assert a[semconv.APPROVAL_DECISION] == "approved"
    assert a[semconv.APPROVAL_APPROVER] == "alice"
    assert a[semconv.APPROVAL_REASON] == "within policy"
    assert a[semconv.APPROVAL_ID] == request.id
    assert a[semconv.APPROVAL_WHEN] == "before"
    assert isinstance(a[semconv.APPROVAL_WAIT_MS], float)
    assert a[semconv.APPROVAL_SUBJECT_SHA256] == a[semconv.INPUT_SHA256] == request.arguments_sha256
    assert a[semconv.OUTCOME] == "ok"
    names = [e.name for e in spans.one("before.ok").events]
    assert names == [semconv.EVENT_APPROVAL_REQUESTED, semconv.EVENT_APPROVAL_DECIDED]


@pytest.mark.parametrize("mode", MODES)
def test_before_denied_does_not_run(mode: str, spans: SpanRecorder) -> None:
    """A denied before-call never runs; ApprovalDenied carries id, decision and reason; outcome=denied."""
    s = make(mode, "before.deny", tc.approval.require(
        approver=tc.approval.callback(lambda r: r.deny(by="bob", reason="over the limit"))))  # fmt: skip
    with pytest.raises(tc.ApprovalDenied, match="over the limit") as info:
        s.call("o1", 5000.0)
    assert s.ran == []
    assert info.value.decision == "denied" and info.value.reason == "over the limit"
    a = spans.one("before.deny").attributes or {}
    assert info.value.request_id == a[semconv.APPROVAL_ID]
    assert a[semconv.OUTCOME] == "denied"
    assert a[semconv.APPROVAL_DECISION] == "denied"
    assert a[semconv.APPROVAL_APPROVER] == "bob"
    assert a[semconv.ERROR_TYPE] == "toolchain_sdk.errors.ApprovalDenied"


@pytest.mark.parametrize("mode", MODES)
def test_approver_sees_redacted_arguments_function_gets_real_ones(mode: str) -> None:
    """Secrets in arguments are redacted in the request; the function still receives them."""
    seen: list[ApprovalRequest] = []
    got: list[str] = []

    def decide(request: ApprovalRequest) -> Decision:
        seen.append(request)
        return request.approve(by="alice")

    gate = tc.approval.require(approver=tc.approval.callback(decide))
    if mode == "sync":

        @tc.governed_call("redact.args", risk="high", fallback=off, approval=gate)
        def send(note: str, api_key: str) -> str:
            got.append(api_key)
            return "sent"

        send("token sk-abcdefghijklmnopqrstuvwx", "k-123")
    else:

        @tc.governed_call("redact.args", risk="high", fallback=off, approval=gate)
        async def asend(note: str, api_key: str) -> str:
            got.append(api_key)
            return "sent"

        asyncio.run(asend("token sk-abcdefghijklmnopqrstuvwx", "k-123"))
    assert seen[0].arguments == {"note": "token [OPENAI_KEY]", "api_key": "[SECRET]"}
    assert got == ["k-123"]


def test_method_arguments_leave_out_self() -> None:
    """On a method, the approver sees the arguments without self."""
    seen: list[ApprovalRequest] = []

    def decide(request: ApprovalRequest) -> Decision:
        seen.append(request)
        return request.approve(by="alice")

    gate = tc.approval.require(approver=tc.approval.callback(decide))

    class Bot:
        @tc.governed_call("method.gate", risk="high", fallback=off, approval=gate)
        def reply(self, text: str) -> str:
            return text.upper()

    assert Bot().reply("hi") == "HI"
    assert seen[0].arguments == {"text": "hi"}


# --- after ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_after_approved_returns_the_output(mode: str, spans: SpanRecorder) -> None:
    """After-mode: the function runs, the approver sees its output, and approval returns it unchanged."""
    seen: list[ApprovalRequest] = []

    def decide(request: ApprovalRequest) -> Decision:
        seen.append(request)
        return request.approve(by="carol", reason="reads well")

    s = make(mode, "after.ok", tc.approval.require(when="after", approver=tc.approval.callback(decide)))
    assert s.call("o1", 3.0) == "refund o1 3.0"
    assert seen[0].phase == "after" and seen[0].output == "refund o1 3.0" and seen[0].output_kind == "text"
    a = spans.one("after.ok").attributes or {}
    assert a[semconv.APPROVAL_DECISION] == "approved"
    assert a[semconv.APPROVAL_SUBJECT_SHA256] == a[semconv.OUTPUT_SHA256] == sha("refund o1 3.0")
    assert semconv.OVERRIDE_EDITOR not in a


@pytest.mark.parametrize("mode", MODES)
def test_after_edit_with_reason_returns_the_edit(mode: str, spans: SpanRecorder) -> None:
    """An edit returns the edited output; output.sha256 is the edit's, original_sha256 the model's."""
    gate = tc.approval.require(when="after", approver=tc.approval.callback(
        lambda r: r.edit("refund o1 2.0 (capped)", by="dave", reason="cap at 2")))  # fmt: skip
    s = make(mode, "after.edit", gate)
    assert s.call("o1", 3.0) == "refund o1 2.0 (capped)"
    a = spans.one("after.edit").attributes or {}
    assert a[semconv.APPROVAL_DECISION] == "edited"
    assert a[semconv.OVERRIDE_EDITOR] == "dave"
    assert a[semconv.OVERRIDE_REASON] == "cap at 2"
    assert a[semconv.OVERRIDE_ORIGINAL_SHA256] == sha("refund o1 3.0")
    assert a[semconv.OUTPUT_SHA256] == sha("refund o1 2.0 (capped)")
    assert a[semconv.OUTCOME] == "ok"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reason", ["", "  "])
def test_after_edit_without_reason_is_denied(mode: str, reason: str, spans: SpanRecorder) -> None:
    """An edit without a reason is malformed: the call is denied and neither output is returned."""
    s = make(mode, "after.noreason", tc.approval.require(when="after", approver=tc.approval.callback(
        lambda r: r.edit("changed", by="dave", reason=reason))))  # fmt: skip
    with pytest.raises(tc.ApprovalDenied, match="edit needs a non-empty reason") as info:
        s.call("o1", 3.0)
    assert info.value.decision == "error"
    assert spans.one("after.noreason").attributes[semconv.OUTCOME] == "denied"  # type: ignore[index]


@pytest.mark.parametrize("mode", MODES)
def test_after_denied_withholds_the_output(mode: str, spans: SpanRecorder) -> None:
    """A denied after-call raises instead of returning the output (the function did run)."""
    s = make(mode, "after.deny", tc.approval.require(when="after", approver=tc.approval.deny_all()))
    with pytest.raises(tc.ApprovalDenied) as info:
        s.call("o1", 3.0)
    assert s.ran == [("o1", 3.0)]
    assert info.value.decision == "denied"
    assert spans.one("after.deny").attributes[semconv.OUTCOME] == "denied"  # type: ignore[index]


def test_edit_rebuilds_structured_outputs() -> None:
    """An edit of a dataclass output comes back as the same dataclass type."""

    @dataclass(frozen=True)
    class Reply:
        text: str
        amount: float

    gate = tc.approval.require(when="after", approver=tc.approval.callback(
        lambda r: r.edit({"text": "ok", "amount": 2.0}, by="dave", reason="cap")))  # fmt: skip

    @tc.governed_call("after.struct", risk="high", fallback=off, approval=gate)
    def reply() -> Reply:
        return Reply("ok", 3.0)

    assert reply() == Reply("ok", 2.0)


def test_before_mode_edit_is_malformed() -> None:
    """A before-call has no output to edit: an edit decision there is denied."""
    gate = tc.approval.require(approver=tc.approval.callback(lambda r: r.edit("x", by="dave", reason="why")))
    s = make("sync", "before.edit", gate)
    with pytest.raises(tc.ApprovalDenied, match="before-call approval has none"):
        s.call("o1", 1.0)
    assert s.ran == []


# --- fail closed ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_timeout_denies(mode: str, spans: SpanRecorder) -> None:
    """No decision within the timeout denies the call with decision=timeout."""
    release = threading.Event()

    def slow(request: ApprovalRequest) -> Decision:
        release.wait(30)
        return request.approve(by="late")

    async def aslow(request: ApprovalRequest) -> Decision:
        await asyncio.sleep(30)
        return request.approve(by="late")

    approver = tc.approval.callback(slow if mode == "sync" else aslow)
    s = make(mode, "fail.timeout", tc.approval.require(approver=approver, timeout=0.2))
    try:
        with pytest.raises(tc.ApprovalDenied, match=r"no decision within 0\.2s") as info:
            s.call("o1", 1.0)
    finally:
        release.set()
    assert info.value.decision == "timeout"
    assert s.ran == []
    a = spans.one("fail.timeout").attributes or {}
    assert a[semconv.APPROVAL_DECISION] == "timeout" and a[semconv.OUTCOME] == "denied"


@pytest.mark.parametrize("mode", MODES)
def test_sync_callback_on_async_surface_times_out(mode: str) -> None:
    """A blocking plain callback is held to the timeout on either path (it runs off the caller's thread)."""
    release = threading.Event()
    s = make(mode, "fail.blocking", tc.approval.require(approver=tc.approval.callback(
        lambda r: (release.wait(30), r.approve(by="late"))[1]), timeout=0.2))  # fmt: skip
    try:
        with pytest.raises(tc.ApprovalDenied) as info:
            s.call("o1", 1.0)
    finally:
        release.set()
    assert info.value.decision == "timeout"


@pytest.mark.parametrize("mode", MODES)
def test_raising_approver_denies(mode: str) -> None:
    """An approver that raises denies the call; the cause is chained."""

    def broken(request: ApprovalRequest) -> Decision:
        raise ConnectionError("slack unreachable")

    s = make(mode, "fail.raise", tc.approval.require(approver=tc.approval.callback(broken)))
    with pytest.raises(tc.ApprovalDenied, match="slack unreachable") as info:
        s.call("o1", 1.0)
    assert info.value.decision == "error"
    assert isinstance(info.value.__cause__, ConnectionError)
    assert s.ran == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("answer", [None, True, "approved", {"verdict": "approved"}])
def test_malformed_decision_denies(mode: str, answer: object) -> None:
    """Anything but a Decision (None, True, a string, a dict) denies."""
    s = make(mode, "fail.malformed", tc.approval.require(approver=tc.approval.callback(lambda r: answer)))  # type: ignore[arg-type, return-value]
    with pytest.raises(tc.ApprovalDenied, match="malformed decision"):
        s.call("o1", 1.0)
    assert s.ran == []


@pytest.mark.parametrize("mode", MODES)
def test_replayed_decision_for_other_arguments_is_denied(mode: str) -> None:
    """A decision saved from one call and returned for another call is refused."""
    saved: list[Decision] = []

    def replaying(request: ApprovalRequest) -> Decision:
        if not saved:
            saved.append(request.approve(by="alice", reason="ok"))
        return saved[0]

    s = make(mode, "fail.replay", tc.approval.require(approver=tc.approval.callback(replaying)))
    assert s.call("o1", 1.0) == "refund o1 1.0"
    with pytest.raises(tc.ApprovalDenied, match="cannot be replayed") as info:
        s.call("o2", 9999.0)
    assert info.value.decision == "error"
    with pytest.raises(tc.ApprovalDenied, match="cannot be replayed"):
        s.call("o1", 1.0)  # the same arguments again: a new request, so still refused
    assert s.ran == [("o1", 1.0)]


@pytest.mark.parametrize("mode", MODES)
def test_decision_bound_to_other_arguments_is_denied(mode: str) -> None:
    """A decision with this request's id but another subject hash is refused."""

    def forged(request: ApprovalRequest) -> Decision:
        other = tc.approval.Decision(request_id=request.id, subject_sha256=sha("something else"),
                                     verdict="approved", by="mallory")  # fmt: skip
        return other

    s = make(mode, "fail.forged", tc.approval.require(approver=tc.approval.callback(forged)))
    with pytest.raises(tc.ApprovalDenied, match="other arguments"):
        s.call("o1", 1.0)
    assert s.ran == []


def test_arguments_changed_while_waiting_are_denied() -> None:
    """A mutable argument changed between the request and the decision denies the call."""
    ran: list[dict[str, int]] = []

    mutate = tc.approval.callback(lambda r: (order.update(amount=10_000), r.approve(by="alice"))[1])

    @tc.governed_call("fail.mutated", risk="high", fallback=off, approval=tc.approval.require(approver=mutate))
    def pay(order: dict[str, int]) -> str:
        ran.append(order)
        return "paid"

    order = {"amount": 10}
    with pytest.raises(tc.ApprovalDenied, match="changed while it waited"):
        pay(order)
    assert ran == []


def test_unhashable_arguments_are_denied() -> None:
    """Arguments with no canonical form cannot be bound to a decision: denied, approver never asked."""
    asked: list[str] = []

    @tc.governed_call("fail.unhashable", risk="high", fallback=off, capture="none", approval=tc.approval.require(
        approver=tc.approval.callback(lambda r: (asked.append(r.id), r.approve(by="a"))[1])))  # fmt: skip
    def use(handle: object) -> str:
        return "used"

    with pytest.raises(tc.ApprovalDenied, match="cannot be hashed"):
        use(object())
    assert asked == []


@pytest.mark.parametrize("mode", MODES)
def test_on_deny_fallback_before(mode: str, spans: SpanRecorder) -> None:
    """on_deny='fallback': a denied before-call is answered by the fallback; outcome stays denied."""
    s = make(mode, "fb.before", tc.approval.require(approver=tc.approval.deny_all(), on_deny="fallback"))
    assert s.call("o1", 1.0) == "manual review for o1"
    assert s.ran == [] and s.fell_back == ["o1"]
    a = spans.one("fb.before").attributes or {}
    assert a[semconv.OUTCOME] == "denied"
    assert a[semconv.APPROVAL_DECISION] == "denied"
    assert str(a[semconv.FALLBACK_HANDLER]).endswith("_fallback")


@pytest.mark.parametrize("mode", MODES)
def test_on_deny_fallback_after_and_on_timeout(mode: str) -> None:
    """on_deny='fallback' also answers denied after-calls and timeouts."""
    release = threading.Event()
    s = make(mode, "fb.after", tc.approval.require(when="after", approver=tc.approval.callback(
        lambda r: (release.wait(30), r.approve(by="late"))[1]), timeout=0.2, on_deny="fallback"))  # fmt: skip
    try:
        assert s.call("o1", 1.0) == "manual review for o1"
    finally:
        release.set()
    assert s.ran == [("o1", 1.0)] and s.fell_back == ["o1"]


@pytest.mark.parametrize("mode", MODES)
def test_failing_fallback_raises_fallback_failed(mode: str) -> None:
    """A fallback that raises surfaces as FallbackFailed chained to its cause."""
    s = make(mode, "fb.broken", tc.approval.require(approver=tc.approval.deny_all(), on_deny="fallback"),
             fallback_raises=True)  # fmt: skip
    with pytest.raises(tc.FallbackFailed) as info:
        s.call("o1", 1.0)
    assert isinstance(info.value.__cause__, RuntimeError)


async def test_cancellation_is_not_swallowed() -> None:
    """Cancelling a call that waits for approval cancels it; it is not turned into a denial."""
    started = asyncio.Event()

    async def waiting(request: ApprovalRequest) -> Decision:
        started.set()
        await asyncio.sleep(30)
        return request.approve(by="late")

    @tc.governed_call(
        "cancel.wait", risk="high", fallback=off, approval=tc.approval.require(approver=tc.approval.callback(waiting))
    )
    async def act() -> str:
        return "done"

    task = asyncio.create_task(act())
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_sync_callback_runs_off_thread_with_the_call_context() -> None:
    """A plain callback runs on a worker thread, yet sees the call through tc.current_call()."""
    where: list[tuple[bool, str | None]] = []

    def decide(request: ApprovalRequest) -> Decision:
        current = tc.current_call()
        where.append((threading.current_thread() is threading.main_thread(), current.surface if current else None))
        return request.approve(by="alice")

    s = make("sync", "ctx.cb", tc.approval.require(approver=tc.approval.callback(decide)))
    s.call("o1", 1.0)
    assert where == [(False, "ctx.cb")]


# --- policies ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_predicate_policy_asks_only_when_it_says(mode: str, spans: SpanRecorder) -> None:
    """policy=<predicate>: small refunds pass without asking, large ones need approval."""
    asked: list[float] = []

    def decide(request: ApprovalRequest) -> Decision:
        asked.append(float(request.arguments["amount"]))  # type: ignore[arg-type]
        return request.deny(by="bob", reason="too much")

    gate = tc.approval.require(policy=lambda a: float(a["amount"]) > 100, approver=tc.approval.callback(decide))  # type: ignore[arg-type]
    s = make(mode, "policy.pred", gate)
    assert s.call("small", 20.0) == "refund small 20.0"
    with pytest.raises(tc.ApprovalDenied):
        s.call("large", 500.0)
    assert asked == [500.0]
    required = [sp.attributes[semconv.APPROVAL_REQUIRED] for sp in spans.spans("policy.pred")]  # type: ignore[index]
    assert required == [False, True]


def test_raising_policy_asks() -> None:
    """A policy that raises errs on the safe side: approval is required."""
    s = make("sync", "policy.raise", tc.approval.require(policy=lambda a: 1 / 0 > 0,  # type: ignore[arg-type]
                                                         approver=tc.approval.deny_all()))  # fmt: skip
    with pytest.raises(tc.ApprovalDenied):
        s.call("o1", 1.0)
    assert s.ran == []


def test_risk_policy_by_level(spans: SpanRecorder) -> None:
    """policy='high' gates high-risk surfaces and lets a medium one through."""
    gate = tc.approval.require(policy="high", approver=tc.approval.deny_all())
    high = make("sync", "policy.high", gate)
    medium = make("sync", "policy.medium", gate, risk="medium")
    with pytest.raises(tc.ApprovalDenied):
        high.call("o1", 1.0)
    assert medium.call("o1", 1.0) == "refund o1 1.0"
    assert spans.one("policy.medium").attributes[semconv.APPROVAL_REQUIRED] is False  # type: ignore[index]


def test_capture_none_keeps_hashes_off_the_span(spans: SpanRecorder) -> None:
    """With capture='none' the decision is still bound, but no hash goes on the span."""
    gate = tc.approval.require(when="after", approver=tc.approval.callback(
        lambda r: r.edit("edited", by="dave", reason="tone")))  # fmt: skip
    s = make("sync", "capture.none", gate, capture="none")
    assert s.call("o1", 1.0) == "edited"
    a = spans.one("capture.none").attributes or {}
    assert a[semconv.APPROVAL_DECISION] == "edited"
    assert not [k for k in a if k.endswith("sha256")]


# --- with the kill switch -----------------------------------------------------------------------
needs_kill_switch = pytest.mark.skipif(
    not hasattr(tc.fallbacks, "static"), reason="the kill-switch fallbacks (tc.fallbacks.static) are not in this tree"
)


@needs_kill_switch
@pytest.mark.parametrize("mode", MODES)
def test_on_deny_fallback_with_a_kill_switch_fallback(mode: str, spans: SpanRecorder) -> None:
    """on_deny='fallback' answers a denial with the surface's kill-switch fallback (tc.fallbacks.static)."""
    reply = tc.fallbacks.static("A person will review this refund.")  # type: ignore[attr-defined]
    gate = tc.approval.require(approver=tc.approval.deny_all(), on_deny="fallback")
    if mode == "sync":

        @tc.governed_call("kill.static", risk="high", fallback=reply, approval=gate)
        def refund(order: str) -> str:
            return f"refunded {order}"

        assert refund("o1") == "A person will review this refund."
    else:

        @tc.governed_call("kill.static", risk="high", fallback=reply, approval=gate)
        async def arefund(order: str) -> str:
            return f"refunded {order}"

        assert asyncio.run(arefund("o1")) == "A person will review this refund."
    a = spans.one("kill.static").attributes or {}
    assert a[semconv.OUTCOME] == "denied" and "static" in str(a[semconv.FALLBACK_HANDLER])


@needs_kill_switch
@pytest.mark.parametrize("when", ["before", "after"])
def test_engaged_kill_switch_answers_without_asking(when: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the kill switch on, the deterministic fallback answers and no approval is asked (before or after)."""
    asked: list[str] = []
    gate = tc.approval.require(when=when, approver=tc.approval.callback(  # type: ignore[arg-type]
        lambda r: (asked.append(r.id), r.approve(by="alice"))[1]))  # fmt: skip
    monkeypatch.setenv("TOOLCHAIN_KILL", "kill.engaged")

    @tc.governed_call("kill.engaged", risk="high", fallback=tc.fallbacks.static("paused"), approval=gate)  # type: ignore[attr-defined]
    def refund(order: str) -> str:
        return f"refunded {order}"

    assert refund("o1") == "paused"
    assert asked == []


# --- blocks -------------------------------------------------------------------------------------
@pytest.mark.parametrize("verdict", ["approve", "deny"])
def test_block_is_gated_before_its_body(verdict: str, spans: SpanRecorder) -> None:
    """`with tc.governed(...)` asks before the body runs; a denial raises at the `with` and skips the body."""
    gate = tc.approval.require(approver=tc.approval.callback(
        lambda r: r.approve(by="alice") if verdict == "approve" else r.deny(by="bob", reason="no")))  # fmt: skip
    ran: list[str] = []

    def block() -> None:
        with tc.governed("block.gate", risk="high", fallback=off, approval=gate) as call:
            ran.append("body")
            call.record_output("answer")

    if verdict == "approve":
        block()
        assert ran == ["body"]
    else:
        with pytest.raises(tc.ApprovalDenied):
            block()
        assert ran == []
    expected = {"approve": "approved", "deny": "denied"}[verdict]
    assert spans.one("block.gate").attributes[semconv.APPROVAL_DECISION] == expected  # type: ignore[index]


async def test_async_block_is_gated(spans: SpanRecorder) -> None:
    """`async with tc.governed(...)` waits for the approver (off the loop) and then runs the body."""
    gate = tc.approval.require(approver=tc.approval.callback(lambda r: r.approve(by="alice")))
    async with tc.governed("block.agate", risk="high", fallback=off, approval=gate) as call:
        call.record_output("ok")
    a = spans.one("block.agate").attributes or {}
    assert (a[semconv.APPROVAL_APPROVER], a[semconv.OUTCOME]) == ("alice", "ok")


# --- the package's public face ------------------------------------------------------------------
def test_approval_all_is_sorted_and_complete() -> None:
    """tc.approval and its store export sorted __all__s of names that exist; every other module is private, with one."""
    for public in (tc.approval, importlib.import_module("toolchain_sdk.approval.store")):
        assert list(public.__all__) == sorted(public.__all__), public.__name__
        assert [n for n in public.__all__ if not hasattr(public, n)] == [], public.__name__
    for info in pkgutil.walk_packages(tc.approval.__path__, "toolchain_sdk.approval."):
        if info.ispkg:
            continue
        module = importlib.import_module(info.name)
        assert info.name.rsplit(".", 1)[1].startswith("_"), info.name
        assert list(module.__all__) == sorted(module.__all__), info.name
        assert [n for n in module.__all__ if not hasattr(module, n)] == [], info.name


def test_decision_refused_is_in_the_exception_tree() -> None:
    """DecisionRefused is a ToolchainError in errors.py, drawn in its tree; tc.approval re-exports the same class."""
    assert tc.approval.DecisionRefused is errors.DecisionRefused
    assert issubclass(errors.DecisionRefused, tc.ToolchainError)
    assert "DecisionRefused" in errors.__all__ and "DecisionRefused" in (errors.__doc__ or "")


# --- one set of steps, two drivers ----------------------------------------------------------------
def test_drivers_answer_each_wait_and_let_errors_out() -> None:
    """drive/adrive send each wait's answer into the steps and return their result; the steps' denials come out."""

    def steps() -> Steps[int, tuple[object, object]]:
        first = yield 1
        second = yield 2
        return first, second

    def no_wait() -> Steps[int, str]:
        return "done"
        yield 0

    def denying() -> Steps[int, None]:
        yield 1
        raise tc.ApprovalDenied("no")

    async def times_ten(n: int) -> int:
        return n * 10

    assert drive(steps(), lambda n: n * 10) == (10, 20)
    assert asyncio.run(adrive(steps(), times_ten)) == (10, 20)
    assert drive(no_wait(), lambda n: pytest.fail("nothing to wait for")) == "done"
    with pytest.raises(tc.ApprovalDenied):
        drive(denying(), lambda n: n)
    with pytest.raises(tc.ApprovalDenied):
        asyncio.run(adrive(denying(), times_ten))


@pytest.mark.parametrize("verdict", ["approve", "deny", "edit", "raise"])
def test_sync_and_async_record_the_same(verdict: str, spans: SpanRecorder) -> None:
    """For the same answer the sync and async paths return, raise and record the same (ids and timings aside)."""

    def answer(request: ApprovalRequest) -> Decision:
        if verdict == "raise":
            raise ConnectionError("approver down")
        if verdict == "edit":
            return request.edit("edited", by="dave", reason="tone")
        return request.approve(by="alice") if verdict == "approve" else request.deny(by="bob", reason="no")

    varying = {semconv.APPROVAL_ID, semconv.APPROVAL_WAIT_MS, semconv.APPROVAL_EXPIRES_AT}
    approval_events = {semconv.EVENT_APPROVAL_REQUESTED, semconv.EVENT_APPROVAL_DECIDED}
    seen: dict[str, tuple[object, ...]] = {}
    for mode in MODES:
        name = f"parity.{mode}"

        def same(attributes: Any, name: str = name) -> dict[str, object]:
            return {k: v.replace(name, "parity") if isinstance(v, str) else v
                    for k, v in (attributes or {}).items() if k not in varying}  # fmt: skip

        s = make(mode, name, tc.approval.require(when="after", approver=tc.approval.callback(answer)))
        try:
            result: object = s.call("o1", 1.0)
        except tc.ApprovalDenied as exc:
            result = (exc.decision, exc.reason)
        span = spans.one(name)
        events = [(e.name, same(e.attributes)) for e in span.events if e.name in approval_events]
        seen[mode] = (result, same(span.attributes), events, s.ran)
    assert seen["sync"] == seen["async"]
