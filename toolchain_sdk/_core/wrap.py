"""The ONE dispatch over function kinds: plain, coroutine, generator, async generator.

The kind is chosen once, at decoration time. Every path drives the same pipeline steps of
``governed.Surface`` (begin → gates → function → review → finish/fail), so features add gates,
never a branch of their own. Streams make the call current only while their body runs: the
context is attached around each ``send``/``asend`` step and detached before the chunk goes back
to the consumer, so the consumer's code never runs inside our context.
"""

from __future__ import annotations

import contextvars
import functools
import itertools
from collections.abc import Callable, Generator
from typing import Any

from toolchain_sdk._core.call import CURRENT, CallRecord
from toolchain_sdk._core.pipeline import Surface, enter, leave, stream_context
from toolchain_sdk._core.relay import arelay, relay
from toolchain_sdk.hashing import StreamHasher

__all__ = ["wrapper_for"]

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def wrapper_for(surface: Surface, kind: str) -> Wrapper:
    """The wrapt wrapper ``(wrapped, instance, args, kwargs)`` for a function of ``kind``."""
    return {
        "function": _plain,
        "async": _coroutine,
        "generator": _generator,
        "async-generator": _async_generator,
    }[kind](surface)


def _plain(surface: Surface) -> Wrapper:
    begin, run_gates, review, reviews = surface.begin, surface.run_gates, surface.review, bool(surface.reviewers)
    done, failed = surface.done, surface.failed

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = begin(instance, args, kwargs)
        if call.span is None and call.sink is None:  # tracing and audit off: the controls run, nothing else does
            token = CURRENT.set(call)
            try:
                result = run_gates(call, wrapped)(*args, **kwargs)
                return review(call, result) if reviews else result
            finally:
                CURRENT.reset(token)
        tokens = enter(call)
        try:
            result = run_gates(call, wrapped)(*args, **kwargs)
            if reviews:
                result = review(call, result)
        except BaseException as exc:
            failed(call, tokens, exc)
            raise
        return done(call, tokens, result)  # outside: its own failure (an audit record lost) is not the call's

    return wrapper


def _coroutine(surface: Surface) -> Wrapper:
    begin, run_gates, review, reviews = surface.begin, surface.arun_gates, surface.areview, bool(surface.reviewers)
    done, failed = surface.done, surface.failed

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:

        async def run() -> Any:
            call = begin(instance, args, kwargs)
            tokens = enter(call)  # tracing off: makes the call current, and done/failed only undo that
            try:
                result = await (await run_gates(call, wrapped))(*args, **kwargs)
                if reviews:
                    result = await review(call, result)
            except BaseException as exc:
                failed(call, tokens, exc)
                raise
            return done(call, tokens, result)

        return run()

    return wrapper


class _Stream:
    """The relay hooks of one governed stream, shared by the generator and async generator paths.

    The call begins at the stream's first step (a generator that is never iterated starts no
    span). Each step runs inside the call's context, which is left before the value goes back to
    the consumer; the end, an early close and errors end the span.
    """

    __slots__ = ("args", "call", "digest", "enter", "instance", "kwargs", "started", "surface")

    def __init__(self, surface: Surface, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.surface = surface
        self.instance, self.args, self.kwargs = instance, args, kwargs
        self.call: CallRecord | None = None
        self.digest: StreamHasher | None = None
        self.started = False  # the body generator exists (the gates let it run)
        self.enter: Callable[[], tuple[object, object]] = self._begin  # then enter(call) itself, no extra frame

    def _begin(self) -> tuple[object, object]:
        call = self.call = self.surface.begin(self.instance, self.args, self.kwargs)
        self.digest = self.surface.new_digest(call)
        self.enter = functools.partial(enter, call)
        return enter(call)

    def item(self, token: tuple[object, object], item: object) -> None:
        leave(token)
        if self.digest is not None:
            self.surface.observe(self.digest, item)

    def end(self, token: tuple[object, object], completed: bool) -> None:
        leave(token)
        assert self.call is not None
        self.surface.finish_stream(self.call, self.digest, completed=completed)

    def error(self, token: tuple[object, object], exc: BaseException, thrown: BaseException | None) -> None:
        leave(token)
        assert self.call is not None
        self.surface.fail(self.call, exc, self.digest if self.started else None)


class _GeneratorStream(_Stream):
    """The hooks of a governed (sync) generator: its body runs in the stream's own context.

    Each step of the body is ``context.run(body.send, value)`` (``_InContext``), so nothing is
    attached before a step or detached after it; the consumer's context is never changed.
    """

    __slots__ = ("context",)

    def _begin(self) -> None:  # type: ignore[override]
        call = self.call = self.surface.begin(self.instance, self.args, self.kwargs)
        self.digest = self.surface.new_digest(call)
        self.context = stream_context(call)
        self.enter = _NO_TOKEN  # type: ignore[assignment]

    def item(self, token: object, item: object) -> None:
        if self.digest is not None:
            self.surface.observe(self.digest, item)

    def end(self, token: object, completed: bool) -> None:
        assert self.call is not None
        self.surface.finish_stream(self.call, self.digest, completed=completed)

    def error(self, token: object, exc: BaseException, thrown: BaseException | None) -> None:
        assert self.call is not None
        self.surface.fail(self.call, exc, self.digest if self.started else None)


_NO_TOKEN = itertools.repeat(None).__next__
"""``enter`` of a generator stream once begun: nothing to attach (a C callable, no Python frame per step)."""


class _InContext:
    """A generator whose ``send``/``throw``/``close`` run in ``context`` (C-level partials, no extra frame)."""

    __slots__ = ("close", "send", "throw")

    def __init__(self, body: Generator[Any, Any, Any], context: contextvars.Context) -> None:
        run: Callable[..., Any] = context.run
        self.send = functools.partial(run, body.send)
        self.throw = functools.partial(run, body.throw)
        self.close = functools.partial(run, body.close)


def _open_body(
    surface: Surface, call: CallRecord, wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Run the gates and make the body generator (or the fallback's) that the stream will drive."""
    return surface.run_gates(call, wrapped)(*args, **kwargs)


def _generator(surface: Surface) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        run = _GeneratorStream(surface, instance, args, kwargs)

        def start() -> Any:  # at the first step, in the stream's context: gates, then the function
            call = run.call
            assert call is not None
            context = run.context
            body = context.run(_open_body, surface, call, wrapped, args, kwargs)
            run.started = True
            return _InContext(body, context)

        return relay(start, run)

    return wrapper


def _async_generator(surface: Surface) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        run = _Stream(surface, instance, args, kwargs)

        async def start() -> Any:
            call = run.call
            assert call is not None
            stream = (await surface.arun_gates(call, wrapped))(*args, **kwargs)
            run.started = True
            return stream

        return arelay(start, run)

    return wrapper
