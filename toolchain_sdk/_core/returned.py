"""Streams returned by a plain (non-generator) governed function: the span covers their consumption.

``def f(): return client.chat.completions.create(..., stream=True)`` returns before a single
chunk is read. Rather than end the span there (``outcome=ok``, no output hash), the pipeline
hands the caller a ``GovernedStream`` around the returned iterator: chunks pass through
unchanged, are counted and hashed as a generator surface's would be, and the span ends when the
stream is exhausted, closed (``close()``, ``with``, ``break`` then garbage collection) or raises.
Attributes of the stream (``response``, ``get_final_message()``, ...) are reachable through it.
"""

from __future__ import annotations

import io
import sys
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from toolchain_sdk._core.safety import report

if TYPE_CHECKING:
    from toolchain_sdk._core.call import CallRecord
    from toolchain_sdk._core.pipeline import Surface
    from toolchain_sdk.hashing import StreamHasher

__all__ = ["GovernedStream", "is_stream"]


def is_stream(value: object) -> bool:
    """Whether a returned value is a stream to govern: an iterator or async iterator (not a file).

    A ``unittest.mock`` object answers to every protocol, so it is never taken for a stream.
    """
    if not isinstance(value, (Iterator, AsyncIterator)) or isinstance(value, io.IOBase):
        return False
    mock = sys.modules.get("unittest.mock")
    return mock is None or not isinstance(value, mock.NonCallableMock)


class GovernedStream:
    """A returned stream whose consumption the call's span covers (sync and async iteration)."""

    __slots__ = ("__weakref__", "_call", "_digest", "_done", "_inner", "_surface")

    def __init__(self, inner: Any, surface: Surface, call: CallRecord) -> None:
        self._inner = inner
        self._surface = surface
        self._call = call
        self._digest: StreamHasher | None = surface.new_digest(call)
        self._done = False

    # --- what every step shares ---------------------------------------------------------------
    def _seen(self, item: object) -> object:
        if self._digest is not None:
            self._surface.observe(self._digest, item)
        return item

    def _end(self, completed: bool, exc: BaseException | None = None) -> None:
        if self._done:
            return
        self._done = True
        if exc is None:
            self._surface.finish_stream(self._call, self._digest, completed=completed)
        else:
            self._surface.fail(self._call, exc, self._digest)

    # --- sync ---------------------------------------------------------------------------------
    def __iter__(self) -> GovernedStream:
        return self

    def __next__(self) -> Any:
        try:
            return self._seen(next(self._inner))
        except StopIteration:
            self._end(True)
            raise
        except BaseException as exc:
            self._end(False, exc)
            raise

    def close(self) -> None:
        """Close the underlying stream (where it can be) and end the span as stopped early."""
        try:
            closer = getattr(self._inner, "close", None)
            if callable(closer):
                closer()
        finally:
            self._end(False)

    def __enter__(self) -> GovernedStream:
        enter = getattr(self._inner, "__enter__", None)
        if callable(enter):
            enter()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            leave = getattr(self._inner, "__exit__", None)
            return leave(*exc_info) if callable(leave) else None
        finally:
            self._end(False)

    # --- async --------------------------------------------------------------------------------
    def __aiter__(self) -> GovernedStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return self._seen(await self._inner.__anext__())
        except StopAsyncIteration:
            self._end(True)
            raise
        except BaseException as exc:
            self._end(False, exc)
            raise

    async def aclose(self) -> None:
        """Close the underlying async stream (``aclose()`` or ``close()``) and end the span."""
        try:
            closer = getattr(self._inner, "aclose", None) or getattr(self._inner, "close", None)
            if callable(closer):
                result = closer()
                if hasattr(result, "__await__"):
                    await result
        finally:
            self._end(False)

    async def __aenter__(self) -> GovernedStream:
        enter = getattr(self._inner, "__aenter__", None)
        if callable(enter):
            await enter()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            leave = getattr(self._inner, "__aexit__", None)
            return await leave(*exc_info) if callable(leave) else None
        finally:
            self._end(False)

    # --- everything else is the stream's own ------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"<GovernedStream of {self._inner!r}>"

    def __del__(self) -> None:
        if not self._done:  # dropped before the end: the consumer stopped early
            try:
                self._end(False)
            except Exception as exc:
                report("stream end", exc)
