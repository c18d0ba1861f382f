"""Span events keep the time they happened: body events, the kill switch engaging, approval requests and decisions.

Every assertion compares an event's timestamp with its span's start and end (all from the same
clock, on the same span), never with wall-clock bounds: a body that sleeps between adding an
event and returning puts that event nearer the start than the end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from opentelemetry.sdk.trace import Event, ReadableSpan

import toolchain_sdk as tc
from toolchain_sdk import semconv
from toolchain_sdk.approval import ApprovalRequest, Decision
from toolchain_sdk.testing import SpanRecorder

PAUSE_S = 0.2


def event(span: ReadableSpan, name: str) -> Event:
    [found] = [e for e in span.events if e.name == name]
    return found


def nearer_start(span: ReadableSpan, stamp: int) -> bool:
    """Whether ``stamp`` lies inside the span and closer to its start than to its end."""
    start, end = span.start_time, span.end_time
    assert start is not None and end is not None
    assert start <= stamp <= end, (start, stamp, end)
    return stamp - start < end - stamp


def nearer_end(span: ReadableSpan, stamp: int) -> bool:
    start, end = span.start_time, span.end_time
    assert start is not None and end is not None
    assert start <= stamp <= end, (start, stamp, end)
    return end - stamp < stamp - start


def run_kind(kind: str, surface: str) -> None:
    """A surface of ``kind`` whose body adds event ``a``, pauses, adds ``b`` and ends."""
    declare = tc.governed_call(surface)

    def function() -> None:
        @declare
        def f(*, call: tc.GovernedCall) -> str:
            call.add_event("a")
            time.sleep(PAUSE_S)
            call.add_event("b")
            return "ok"

        f()

    def coroutine() -> None:
        @declare
        async def f(*, call: tc.GovernedCall) -> str:
            call.add_event("a")
            await asyncio.sleep(PAUSE_S)
            call.add_event("b")
            return "ok"

        asyncio.run(f())

    def generator() -> None:
        @declare
        def f(*, call: tc.GovernedCall) -> Iterator[str]:
            call.add_event("a")
            yield "x"
            time.sleep(PAUSE_S)
            call.add_event("b")
            yield "y"

        assert list(f()) == ["x", "y"]

    def async_generator() -> None:
        @declare
        async def f(*, call: tc.GovernedCall) -> AsyncIterator[str]:
            call.add_event("a")
            yield "x"
            await asyncio.sleep(PAUSE_S)
            call.add_event("b")
            yield "y"

        async def drain() -> list[str]:
            return [c async for c in f()]

        assert asyncio.run(drain()) == ["x", "y"]

    def block() -> None:
        with tc.governed(surface) as call:
            call.add_event("a")
            time.sleep(PAUSE_S)
            call.add_event("b")

    runs: dict[str, Callable[[], None]] = {
        "function": function,
        "async": coroutine,
        "generator": generator,
        "async-generator": async_generator,
        "block": block,
    }
    runs[kind]()


@pytest.mark.parametrize("kind", ["function", "async", "generator", "async-generator", "block"])
def test_body_events_carry_the_time_they_were_added(kind: str, spans: SpanRecorder) -> None:
    """An event added before a pause is stamped near the span's start, one added after it near the end."""
    run_kind(kind, "events.body")
    span = spans.one("events.body")
    a, b = event(span, "a"), event(span, "b")
    assert nearer_start(span, a.timestamp)
    assert nearer_end(span, b.timestamp)
    assert b.timestamp - a.timestamp > (span.end_time or 0) - b.timestamp  # the pause lies between them


def test_event_attributes_are_kept_with_their_own_stamp(spans: SpanRecorder) -> None:
    """Two events of the same name added at different times keep their own attributes and order."""

    @tc.governed_call("events.same_name")
    def f(*, call: tc.GovernedCall) -> str:
        for attempt in (1, 2):
            call.add_event("app.retry", {"app.attempt": attempt})
            time.sleep(PAUSE_S / 2)
        return "ok"

    f()
    span = spans.one("events.same_name")
    first, second = [e for e in span.events if e.name == "app.retry"]
    assert (dict(first.attributes or {}), dict(second.attributes or {})) == ({"app.attempt": 1}, {"app.attempt": 2})
    assert first.timestamp < second.timestamp < (span.end_time or 0)
    assert nearer_start(span, first.timestamp)


def test_kill_switch_event_is_stamped_when_the_switch_engaged(
    spans: SpanRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a slow fallback, ``kill_switch.engaged`` is stamped at the gate (start), not at span end."""

    def slow_fallback(q: str) -> str:
        time.sleep(PAUSE_S)
        return f"fallback:{q}"

    @tc.governed_call("events.kill", fallback=slow_fallback)
    def f(q: str) -> str:
        return f"model:{q}"

    monkeypatch.setenv("TOOLCHAIN_KILL", "events.kill")
    assert f("x") == "fallback:x"
    span = spans.one("events.kill")
    engaged = event(span, semconv.EVENT_KILL_SWITCH_ENGAGED)
    assert nearer_start(span, engaged.timestamp)
    assert dict(engaged.attributes or {})[semconv.FEATURE_FLAG_KEY] == "events.kill.kill"


def test_kill_switch_event_on_a_block_is_stamped_when_entering(
    spans: SpanRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed block's span ends right away; its engaged event lies inside the span."""
    monkeypatch.setenv("TOOLCHAIN_KILL", "events.kill_block")
    with pytest.raises(tc.KillSwitchEngaged), tc.governed("events.kill_block"):
        pass
    span = spans.one("events.kill_block")
    engaged = event(span, semconv.EVENT_KILL_SWITCH_ENGAGED)
    assert (span.start_time or 0) <= engaged.timestamp <= (span.end_time or 0)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_approval_events_are_stamped_when_asked_and_decided(mode: str, spans: SpanRecorder) -> None:
    """approval.requested and approval.decided are stamped when asked and answered, not when the body ends."""

    def decide(request: ApprovalRequest) -> Decision:
        time.sleep(PAUSE_S / 2)
        return request.approve(by="alice", reason="within policy")

    gate = tc.approval.require(approver=tc.approval.callback(decide))
    if mode == "sync":

        @tc.governed_call("events.approval", approval=gate)
        def f() -> str:
            time.sleep(PAUSE_S * 2)
            return "ok"

        f()
    else:

        @tc.governed_call("events.approval", approval=gate)
        async def af() -> str:
            await asyncio.sleep(PAUSE_S * 2)
            return "ok"

        asyncio.run(af())
    span = spans.one("events.approval")
    requested = event(span, semconv.EVENT_APPROVAL_REQUESTED)
    decided = event(span, semconv.EVENT_APPROVAL_DECIDED)
    assert nearer_start(span, requested.timestamp)
    assert nearer_start(span, decided.timestamp)
    assert requested.timestamp < decided.timestamp
    assert dict(decided.attributes or {})[semconv.APPROVAL_APPROVER] == "alice"


def test_exception_event_is_stamped_when_the_call_failed(spans: SpanRecorder) -> None:
    """The ``exception`` event comes after body events added before the failure."""

    @tc.governed_call("events.exc")
    def f(*, call: tc.GovernedCall) -> None:
        call.add_event("a")
        time.sleep(PAUSE_S)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        f()
    span = spans.one("events.exc")
    a, exc = event(span, "a"), event(span, semconv.EVENT_EXCEPTION)
    assert nearer_start(span, a.timestamp)
    assert nearer_end(span, exc.timestamp)
