"""Forwarding a generator through another, with hooks: the one loop behind every governed stream.

A governed stream (and a streaming fallback) sits between a body generator and its consumer:
each value the consumer sends, each exception it throws and its ``close()`` must reach the body,
and the body's values, end and errors must be seen on the way out. ``relay`` does this for
generators and ``arelay`` for async generators; what happens at each step is the ``Hooks``'.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any, Protocol

__all__ = ["AsyncView", "Hooks", "Passthrough", "arelay", "relay"]


class Hooks(Protocol):
    """What a relay does around each step of the body (``token`` is what ``enter`` returned)."""

    def enter(self) -> Any:
        """Called before each step of the body (e.g. attach the call's context)."""

    def item(self, token: Any, item: object) -> None:
        """The body yielded ``item`` (called before the consumer sees it)."""

    def end(self, token: Any, completed: bool) -> None:
        """The body returned (``completed``) or was closed because the consumer stopped early."""

    def error(self, token: Any, exc: BaseException, thrown: BaseException | None) -> None:
        """The body raised ``exc`` (``thrown`` is what the consumer threw in, if anything).

        Return to let ``exc`` propagate unchanged, or raise another exception instead.
        """


def relay(start: Callable[[], Generator[Any, Any, Any]], hooks: Hooks) -> Generator[Any, Any, Any]:
    """Yield what the generator ``start()`` makes yields, forwarding ``send``/``throw``/``close`` to it.

    ``start`` runs at the first step, inside ``hooks.enter()``, so a failure to start is an
    ``error`` like any other.
    """
    on_item = hooks.item
    stream: Generator[Any, Any, Any] | None = None
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        token = hooks.enter()
        try:
            if stream is None:
                stream = start()
            item = stream.send(sent) if thrown is None else stream.throw(thrown)
        except StopIteration as stop:
            hooks.end(token, True)
            return stop.value
        except BaseException as exc:
            hooks.error(token, exc, thrown)
            raise
        on_item(token, item)
        try:
            sent, thrown = (yield item), None
        except GeneratorExit:  # the consumer stopped early (break, close(), garbage collection)
            token = hooks.enter()
            try:
                stream.close()
            finally:
                hooks.end(token, False)
            raise
        except BaseException as exc:  # the consumer's throw(): forward it into the body
            sent, thrown = None, exc


async def arelay(start: Callable[[], Awaitable[Any]], hooks: Hooks) -> AsyncGenerator[Any, Any]:
    """``relay`` for async generators: ``await start()`` makes the stream (``asend``/``athrow``/``aclose``)."""
    on_item = hooks.item
    stream: Any = None
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        token = hooks.enter()
        try:
            if stream is None:
                stream = await start()
            item = await (stream.asend(sent) if thrown is None else stream.athrow(thrown))
        except StopAsyncIteration:
            hooks.end(token, True)
            return
        except BaseException as exc:
            hooks.error(token, exc, thrown)
            raise
        on_item(token, item)
        try:
            sent, thrown = (yield item), None
        except GeneratorExit:  # aclose(), break out of `async for`, or garbage collection
            token = hooks.enter()
            try:
                await stream.aclose()
            finally:
                hooks.end(token, False)
            raise
        except BaseException as exc:
            sent, thrown = None, exc


class AsyncView:
    """A sync generator seen through the async generator protocol (for ``arelay``)."""

    __slots__ = ("_gen",)

    def __init__(self, gen: Generator[Any, Any, Any]) -> None:
        self._gen = gen

    async def asend(self, value: Any) -> Any:
        try:
            return self._gen.send(value)
        except StopIteration:
            raise StopAsyncIteration from None

    async def athrow(self, exc: BaseException) -> Any:
        try:
            return self._gen.throw(exc)
        except StopIteration:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self._gen.close()


class Passthrough:
    """Hooks that do nothing: a plain forward."""

    def enter(self) -> None:
        return None

    def item(self, token: Any, item: object) -> None:
        return None

    def end(self, token: Any, completed: bool) -> None:
        return None

    def error(self, token: Any, exc: BaseException, thrown: BaseException | None) -> None:
        return None
