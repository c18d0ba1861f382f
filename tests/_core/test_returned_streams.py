"""A stream returned by a plain or async governed function: the span covers its consumption."""

from __future__ import annotations

import asyncio
import gc
import hashlib
from collections.abc import AsyncIterator, Iterator

import pytest

import toolchain_sdk as tc
from toolchain_sdk.testing import SpanRecorder


class ClientStream:
    """Like openai.Stream: an iterator with close(), a context manager, and attributes of its own."""

    def __init__(self, chunks: list[str], fail_at: int | None = None) -> None:
        self._chunks = iter(chunks)
        self._n = 0
        self.fail_at = fail_at
        self.closed = False
        self.response = "http-response"

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.fail_at is not None and self._n == self.fail_at:
            raise ConnectionError("stream broke with key sk-abcdefghijklmnopqrstu")
        self._n += 1
        return next(self._chunks)

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> ClientStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClientStream:
    """Like openai.AsyncStream: an async iterator with an async close()."""

    def __init__(self, chunks: list[str]) -> None:
        self._chunks = iter(chunks)
        self.closed = False

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        try:
            return next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None

    async def close(self) -> None:
        self.closed = True


def test_span_ends_when_the_returned_stream_is_exhausted(spans: SpanRecorder) -> None:
    """No span while nothing was read; exhausting the stream ends it with the hash of the whole text."""

    @tc.governed_call("ret.sync")
    def f() -> ClientStream:
        return ClientStream(["Hel", "lo"])

    stream = f()
    assert spans.spans("ret.sync") == []
    assert stream.response == "http-response"  # the stream's own attributes pass through
    assert list(stream) == ["Hel", "lo"]
    a = spans.one("ret.sync").attributes or {}
    assert a["toolchain.stream.completed"] is True
    assert a["toolchain.stream.chunks"] == 2
    assert a["toolchain.output.sha256"] == hashlib.sha256(b"Hello").hexdigest()


@pytest.mark.parametrize("how", ["close", "with", "dropped"])
def test_stopping_early_ends_the_span_as_not_completed(spans: SpanRecorder, how: str) -> None:
    """close(), leaving a `with` block or dropping the stream ends the span with completed=false."""
    inner = ClientStream(["a", "b", "c"])

    @tc.governed_call("ret.early")
    def f() -> ClientStream:
        return inner

    if how == "close":
        stream = f()
        next(stream)
        stream.close()
        assert inner.closed
    elif how == "with":
        with f() as stream:
            next(stream)
        assert inner.closed
    else:
        stream = f()
        next(stream)
        del stream
        gc.collect()
    a = spans.one("ret.early").attributes or {}
    assert a["toolchain.stream.completed"] is False
    assert a["toolchain.stream.chunks"] == 1


def test_a_stream_that_breaks_ends_the_span_in_error_without_the_secret(spans: SpanRecorder) -> None:
    """An error while reading marks the span ERROR, with the message scrubbed."""

    @tc.governed_call("ret.broken")
    def f() -> ClientStream:
        return ClientStream(["a", "b"], fail_at=1)

    stream = f()
    next(stream)
    with pytest.raises(ConnectionError):
        next(stream)
    span = spans.one("ret.broken")
    assert (span.attributes or {})["error.type"] == "ConnectionError"
    assert "sk-abc" not in (span.status.description or "")
    assert "[OPENAI_KEY]" in (span.status.description or "")


def test_async_function_returning_an_async_stream(spans: SpanRecorder) -> None:
    """`return await client...create(stream=True)` in an async surface is governed the same way."""
    inner = AsyncClientStream(["x", "y", "z"])

    @tc.governed_call("ret.async")
    async def f() -> AsyncClientStream:
        return inner

    async def consume() -> list[str]:
        stream = await f()
        assert spans.spans("ret.async") == []
        return [c async for c in stream]

    assert asyncio.run(consume()) == ["x", "y", "z"]
    a = spans.one("ret.async").attributes or {}
    assert (a["toolchain.stream.completed"], a["toolchain.stream.chunks"]) == (True, 3)

    async def close_early() -> None:
        stream = await f()
        await stream.aclose()

    asyncio.run(close_early())
    assert inner.closed
    assert [(s.attributes or {})["toolchain.stream.completed"] for s in spans.spans("ret.async")] == [True, False]


def test_ordinary_return_values_are_not_wrapped(spans: SpanRecorder) -> None:
    """Strings, lists and dicts come back as they are, and the span ends at once."""

    @tc.governed_call("ret.plain")
    def f(kind: str) -> object:
        return {"s": "text", "l": [1, 2], "d": {"a": 1}}[kind]

    assert f("s") == "text" and f("l") == [1, 2] and f("d") == {"a": 1}
    assert len(spans.spans("ret.plain")) == 3
