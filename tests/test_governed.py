"""The decorator on every function kind: spans, nesting, streams, exceptions, call injection."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import inspect
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import toolchain_sdk as tc
from toolchain_sdk.testing import SpanRecorder

inner_tracer = trace.get_tracer("user-code")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- one surface per function kind, each opening a child span in its body ----------------------
@tc.governed_call("kinds.sync", owner="team-a", model="m-1", provider="openai")
def sync_fn(x: str) -> str:
    with inner_tracer.start_as_current_span("child"):
        return x.upper()


@tc.governed_call("kinds.async", owner="team-a", model="m-1", provider="openai")
async def async_fn(x: str) -> str:
    await asyncio.sleep(0)
    with inner_tracer.start_as_current_span("child"):
        await asyncio.sleep(0)
        return x.upper()


@tc.governed_call("kinds.gen", owner="team-a", model="m-1", provider="openai")
def gen_fn(x: str) -> Iterator[str]:
    for ch in x:
        with inner_tracer.start_as_current_span("child"):
            pass
        yield ch.upper()


@tc.governed_call("kinds.agen", owner="team-a", model="m-1", provider="openai")
async def agen_fn(x: str) -> AsyncIterator[str]:
    for ch in x:
        await asyncio.sleep(0)
        with inner_tracer.start_as_current_span("child"):
            pass
        yield ch.upper()


class Bot:
    def __init__(self, suffix: str) -> None:
        self.suffix = suffix

    @tc.governed_call("kinds.method", model="m-1")
    def method(self, x: str) -> str:
        with inner_tracer.start_as_current_span("child"):
            return x.upper() + self.suffix

    @classmethod
    @tc.governed_call("kinds.classmethod", model="m-1")
    def klass(cls, x: str) -> str:
        with inner_tracer.start_as_current_span("child"):
            return x.upper() + cls.__name__

    @staticmethod
    @tc.governed_call("kinds.staticmethod", model="m-1")
    def static(x: str) -> str:
        with inner_tracer.start_as_current_span("child"):
            return x.upper()


async def _collect(agen: AsyncIterator[str]) -> str:
    return "".join([c async for c in agen])


RUNNERS: dict[str, Any] = {
    "kinds.sync": lambda x: sync_fn(x),
    "kinds.async": lambda x: asyncio.run(async_fn(x)),
    "kinds.gen": lambda x: "".join(gen_fn(x)),
    "kinds.agen": lambda x: asyncio.run(_collect(agen_fn(x))),
    "kinds.method": lambda x: Bot("").method(x),
    "kinds.classmethod": lambda x: Bot.klass(x)[: len(x)],
    "kinds.staticmethod": lambda x: Bot.static(x),
}


@pytest.mark.parametrize("surface", sorted(RUNNERS))
def test_every_kind_emits_one_span_with_static_attributes_and_hashes(surface: str, spans: SpanRecorder) -> None:
    """Each function kind returns its value and emits one span carrying surface, model and both hashes."""
    out = RUNNERS[surface]("abc")
    assert out == "ABC"
    span = spans.one(surface)
    attrs = dict(span.attributes or {})
    assert span.name == surface
    assert span.kind is trace.SpanKind.INTERNAL  # the governance operation; the model call is a child CLIENT span
    assert attrs["toolchain.surface"] == surface
    assert attrs["gen_ai.request.model"] == "m-1"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["toolchain.outcome"] == "ok"
    assert attrs["toolchain.hash.alg"] == "sha256"
    assert attrs["toolchain.input.sha256"] == sha('{"x":"abc"}')
    expected_output = out if surface != "kinds.classmethod" else out + "Bot"
    assert attrs["toolchain.output.sha256"] == sha(expected_output)


@pytest.mark.parametrize("surface", sorted(RUNNERS))
def test_spans_opened_in_the_body_are_children_of_the_governed_span(surface: str, spans: SpanRecorder) -> None:
    """Spans the wrapped function opens (sync, async, inside a generator body) nest under the governed span."""
    RUNNERS[surface]("ab")
    parent = spans.one(surface)
    children = [s for s in spans.spans() if s.name == "child"]
    assert children, "the body opened no child span"
    for child in children:
        assert child.parent is not None and child.parent.span_id == parent.context.span_id
        assert child.context.trace_id == parent.context.trace_id


def test_governed_span_is_child_of_the_callers_span(spans: SpanRecorder) -> None:
    """A governed call made under an application span joins the application's trace."""
    with inner_tracer.start_as_current_span("request") as outer:
        sync_fn("x")
    span = spans.one("kinds.sync")
    assert span.parent is not None and span.parent.span_id == outer.get_span_context().span_id


def test_async_function_stays_a_coroutine_function() -> None:
    """Decorating keeps inspect's view of the function kind and its signature."""
    assert inspect.iscoroutinefunction(async_fn)
    assert inspect.isasyncgenfunction(agen_fn)
    assert inspect.isgeneratorfunction(gen_fn)
    assert list(inspect.signature(sync_fn).parameters) == ["x"]
    assert sync_fn.__name__ == "sync_fn"


def test_stream_hash_equals_hash_of_whole_text(spans: SpanRecorder) -> None:
    """A str stream's output hash is the hash of the concatenated text, with the chunk count."""
    assert list(gen_fn("hello")) == list("HELLO")
    attrs = spans.one("kinds.gen").attributes or {}
    assert attrs["toolchain.output.sha256"] == sha("HELLO")
    assert attrs["toolchain.stream.chunks"] == 5
    assert attrs["toolchain.stream.completed"] is True


def test_break_out_of_generator_ends_span_incomplete(spans: SpanRecorder, caplog: pytest.LogCaptureFixture) -> None:
    """Breaking early ends the span with completed=false, hashes only what was yielded, logs no detach error."""
    caplog.set_level(logging.DEBUG)
    for i, _ch in enumerate(gen_fn("hello")):
        if i == 1:
            break
    attrs = spans.one("kinds.gen").attributes or {}
    assert attrs["toolchain.stream.completed"] is False
    assert attrs["toolchain.stream.chunks"] == 2
    assert attrs["toolchain.output.sha256"] == sha("HE")
    assert "Failed to detach context" not in caplog.text
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_async_generator_aclose_ends_span_incomplete(spans: SpanRecorder, caplog: pytest.LogCaptureFixture) -> None:
    """aclose() after one chunk ends the async stream's span cleanly, completed=false."""
    caplog.set_level(logging.DEBUG)

    async def main() -> str:
        stream = agen_fn("hello")
        first = await stream.__anext__()
        await stream.aclose()  # type: ignore[attr-defined]
        return first

    assert asyncio.run(main()) == "H"
    attrs = spans.one("kinds.agen").attributes or {}
    assert attrs["toolchain.stream.completed"] is False
    assert attrs["toolchain.output.sha256"] == sha("H")
    assert "Failed to detach context" not in caplog.text


def test_async_for_break_ends_span(spans: SpanRecorder, caplog: pytest.LogCaptureFixture) -> None:
    """Breaking out of `async for` (then closing) ends the span without context errors."""
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        stream = agen_fn("hello")
        async for _ in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())
    assert (spans.one("kinds.agen").attributes or {})["toolchain.stream.completed"] is False
    assert "Failed to detach context" not in caplog.text


def test_consumer_code_does_not_run_inside_the_governed_context(spans: SpanRecorder) -> None:
    """Between chunks, the consumer sees its own context: no current call, no governed span."""
    seen = []
    for _ in gen_fn("ab"):
        seen.append((tc.current_call(), trace.get_current_span()))
    assert all(c is None and s is trace.INVALID_SPAN for c, s in seen)


def test_a_generator_body_runs_in_the_streams_own_context(spans: SpanRecorder) -> None:
    """Each step of the body sees the call and its span; a variable the body sets stays with the stream, never
    leaks to the consumer, and one the consumer sets between chunks is not seen by the body (as in a task)."""
    var: contextvars.ContextVar[str] = contextvars.ContextVar("step_var", default="unset")
    inside = []

    @tc.governed_call("kinds.ctx")
    def body() -> Iterator[str]:
        for i in range(3):
            call = tc.current_call()
            inside.append((call.surface if call else None, var.get()))
            var.set(f"body-{i}")
            yield str(i)

    consumer_saw = []
    for chunk in body():
        consumer_saw.append(var.get())
        var.set(f"consumer-{chunk}")
    assert inside == [("kinds.ctx", "unset"), ("kinds.ctx", "body-0"), ("kinds.ctx", "body-1")]
    assert consumer_saw == ["unset", "consumer-0", "consumer-1"]
    span = spans.one("kinds.ctx")
    assert (span.attributes or {})["toolchain.stream.chunks"] == 3


def test_generator_send_and_return_value_pass_through(spans: SpanRecorder) -> None:
    """send() values reach the body and the generator's return value reaches `yield from`."""

    @tc.governed_call("kinds.echo")
    def echo() -> Iterator[str]:
        got = yield "ready"
        while got != "stop":
            got = yield f"got {got}"
        return "done"

    def outer() -> Iterator[str]:
        result = yield from echo()
        yield result

    g = outer()
    assert next(g) == "ready"
    assert g.send("a") == "got a"
    assert g.send("stop") == "done"
    assert (spans.one("kinds.echo").attributes or {})["toolchain.stream.completed"] is True


def test_exceptions_propagate_unchanged_and_mark_the_span(spans: SpanRecorder) -> None:
    """The wrapped function's exception object propagates as is; the span has ERROR status, error.type, event."""
    boom = KeyError("missing")

    @tc.governed_call("errors.sync")
    def fails() -> None:
        raise boom

    with pytest.raises(KeyError) as info:
        fails()
    assert info.value is boom
    span = spans.one("errors.sync")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "KeyError"
    assert (span.attributes or {})["toolchain.outcome"] == "error"
    assert [e.name for e in span.events] == ["exception"]


class CustomError(Exception):
    pass


@pytest.mark.parametrize("kind", ["async", "gen", "agen"])
def test_exceptions_in_async_and_streams(kind: str, spans: SpanRecorder) -> None:
    """Async functions and streams that raise end their span as an error with the qualified error.type."""
    err = CustomError("bad")

    @tc.governed_call("errors.async")
    async def a() -> None:
        raise err

    @tc.governed_call("errors.gen")
    def g() -> Iterator[int]:
        yield 1
        raise err

    @tc.governed_call("errors.agen")
    async def ag() -> AsyncIterator[int]:
        yield 1
        raise err

    async def drain_async() -> None:
        async for _ in ag():
            pass

    run = {"async": lambda: asyncio.run(a()), "gen": lambda: list(g()), "agen": lambda: asyncio.run(drain_async())}
    with pytest.raises(CustomError) as info:
        run[kind]()
    assert info.value is err
    attrs = spans.one(f"errors.{kind}").attributes or {}
    assert attrs["error.type"] == f"{__name__}.CustomError"
    if kind != "async":
        assert attrs["toolchain.stream.completed"] is False
        assert attrs["toolchain.stream.chunks"] == 1


def test_cancellation_ends_the_span(spans: SpanRecorder) -> None:
    """A cancelled async call ends its span as an error and the cancellation propagates."""

    @tc.governed_call("errors.cancel")
    async def slow() -> None:
        await asyncio.sleep(60)

    async def main() -> None:
        task = asyncio.create_task(slow())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert (spans.one("errors.cancel").attributes or {})["error.type"] == "asyncio.exceptions.CancelledError"


def test_nested_governed_calls_nest(spans: SpanRecorder) -> None:
    """A governed call inside another is its child, and current_call() is restored after it."""

    @tc.governed_call("nest.inner")
    def inner_call() -> str:
        return tc.current_call().surface  # type: ignore[union-attr]

    @tc.governed_call("nest.outer")
    def outer_call() -> tuple[str, str]:
        got = inner_call()
        return got, tc.current_call().surface  # type: ignore[union-attr]

    assert outer_call() == ("nest.inner", "nest.outer")
    outer, inner = spans.one("nest.outer"), spans.one("nest.inner")
    assert inner.parent is not None and inner.parent.span_id == outer.context.span_id
