"""The ONE dispatch over function kinds: plain, coroutine, generator, async generator.

The kind is chosen once, at decoration time. Every path drives the same pipeline steps of
``governed.Surface`` (begin → gates → function → review → finish/fail), so features add gates,
never a branch of their own. Streams make the call current only while their body runs: the
context is attached around each ``send``/``asend`` step and detached before the chunk goes back
to the consumer, so the consumer's code never runs inside our context.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

from toolchain_sdk._core.call import CURRENT
from toolchain_sdk._core.pipeline import Surface, enter, leave
from toolchain_sdk._core.safety import warn_once
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


def _observe(surface: Surface, digest: StreamHasher, item: object) -> StreamHasher | None:
    """Feed one chunk to the stream hash; a chunk that cannot be hashed drops the hash, not the call."""
    try:
        digest.update(item)
        return digest
    except (TypeError, ValueError) as exc:
        warn_once(f"stream-hash:{surface.span_name}", "toolchain_sdk: %s: no output hash: %s", surface.span_name, exc)
        return None


def _plain(surface: Surface) -> Wrapper:
    begin, run_gates, review, reviews = surface.begin, surface.run_gates, surface.review, bool(surface.reviewers)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if surface.inject:
            surface.check_injection(instance, args, kwargs)
        call = begin(instance, args, kwargs)
        if call.span is None:  # tracing off: the controls run, nothing else does
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
            leave(tokens)
            surface.fail(call, exc)
            raise
        leave(tokens)
        surface.finish(call, result)
        return result

    return wrapper


def _coroutine(surface: Surface) -> Wrapper:
    begin, run_gates, review, reviews = surface.begin, surface.arun_gates, surface.areview, bool(surface.reviewers)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if surface.inject:
            surface.check_injection(instance, args, kwargs)

        async def run() -> Any:
            call = begin(instance, args, kwargs)
            if call.span is None:  # tracing off: the controls run, nothing else does
                token = CURRENT.set(call)
                try:
                    result = await (await run_gates(call, wrapped))(*args, **kwargs)
                    return await review(call, result) if reviews else result
                finally:
                    CURRENT.reset(token)
            tokens = enter(call)
            try:
                result = await (await run_gates(call, wrapped))(*args, **kwargs)
                if reviews:
                    result = await review(call, result)
            except BaseException as exc:
                leave(tokens)
                surface.fail(call, exc)
                raise
            leave(tokens)
            surface.finish(call, result)
            return result

        return run()

    return wrapper


def _generator(surface: Surface) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if surface.inject:
            surface.check_injection(instance, args, kwargs)
        return _drive(surface, wrapped, instance, args, kwargs)

    return wrapper


def _drive(
    surface: Surface, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Generator[Any, Any, Any]:
    call = surface.begin(instance, args, kwargs)
    digest = surface.new_digest(call)
    tokens = enter(call)
    try:
        target = surface.run_gates(call, wrapped)
        stream = target(*args, **kwargs)
    except BaseException as exc:
        leave(tokens)
        surface.fail(call, exc)
        raise
    leave(tokens)
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        tokens = enter(call)
        try:
            if thrown is None:
                item = stream.send(sent)
            else:
                item, thrown = stream.throw(thrown), None
        except StopIteration as stop:
            leave(tokens)
            surface.finish_stream(call, digest, completed=True)
            return stop.value
        except BaseException as exc:
            leave(tokens)
            surface.fail(call, exc, digest)
            raise
        leave(tokens)
        if digest is not None:
            digest = _observe(surface, digest, item)
        try:
            sent = yield item
        except GeneratorExit:  # the consumer stopped early (break, close(), garbage collection)
            tokens = enter(call)
            try:
                stream.close()
            finally:
                leave(tokens)
                surface.finish_stream(call, digest, completed=False)
            raise
        except BaseException as exc:  # consumer's throw(): forward it into the body
            thrown = exc


def _async_generator(surface: Surface) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if surface.inject:
            surface.check_injection(instance, args, kwargs)
        return _adrive(surface, wrapped, instance, args, kwargs)

    return wrapper


async def _adrive(
    surface: Surface, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> AsyncGenerator[Any, Any]:
    call = surface.begin(instance, args, kwargs)
    digest = surface.new_digest(call)
    tokens = enter(call)
    try:
        target = await surface.arun_gates(call, wrapped)
        stream = target(*args, **kwargs)
    except BaseException as exc:
        leave(tokens)
        surface.fail(call, exc)
        raise
    leave(tokens)
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        tokens = enter(call)
        try:
            if thrown is None:
                item = await stream.asend(sent)
            else:
                item, thrown = await stream.athrow(thrown), None
        except StopAsyncIteration:
            leave(tokens)
            surface.finish_stream(call, digest, completed=True)
            return
        except BaseException as exc:
            leave(tokens)
            surface.fail(call, exc, digest)
            raise
        leave(tokens)
        if digest is not None:
            digest = _observe(surface, digest, item)
        try:
            sent = yield item
        except GeneratorExit:  # aclose(), break out of `async for`, or garbage collection
            tokens = enter(call)
            try:
                await stream.aclose()
            finally:
                leave(tokens)
                surface.finish_stream(call, digest, completed=False)
            raise
        except BaseException as exc:
            thrown = exc
