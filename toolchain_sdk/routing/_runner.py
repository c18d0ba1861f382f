"""Running a function through its route: retries with back-off, then the next target (tenacity).

A route is one tenacity loop over a plan of every attempt of every target, in order: a target
with ``attempts = 3`` is three steps. A retryable error goes to the next step, waiting the
route's back-off when that step is the same target and not at all when it is the next target;
any other error is raised at once; when the plan is spent the last error is raised unchanged
(``reraise=True``). Sync and async share the plan; only ``Retrying`` / ``AsyncRetrying`` differ.

Streams retry or move only until their first chunk: an attempt is "call the function and take
its first chunk". After that the stream is forwarded (``send``/``throw``/``close``) and an error
propagates as it is.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)

from toolchain_sdk._core.relay import Passthrough, arelay, relay
from toolchain_sdk.routing._match import retryable
from toolchain_sdk.routing._model import Backoff, Route
from toolchain_sdk.routing._state import RouteState

__all__ = ["run_async", "run_async_generator", "run_generator", "run_sync"]

T = TypeVar("T")
Y = TypeVar("Y")
S = TypeVar("S")
R = TypeVar("R")

Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]


def _backoff(backoff: Backoff) -> wait_exponential:
    """tenacity's exponential wait for ``backoff``: full jitter (``wait_random_exponential``) or exact."""
    strategy = wait_random_exponential if backoff.jitter else wait_exponential
    return strategy(multiplier=backoff.initial_s, max=backoff.max_s, exp_base=backoff.multiplier)


class _Plan:
    """The tenacity arguments of one routed call: every attempt of every target, and what to do between them."""

    __slots__ = ("_names", "_state", "_steps", "_wait")

    def __init__(self, route: Route, state: RouteState) -> None:
        if state.route is not route and state.route != route:
            raise ValueError(f"the RouteState is for route {state.route.name!r}, not {route.name!r}")
        self._state = state
        self._names = route.retry_on
        self._wait = _backoff(route.backoff)
        self._steps = [(i, n) for i, t in enumerate(route.targets) for n in range(1, t.attempts + 1)]

    def arguments(self) -> dict[str, Any]:
        return {
            "stop": stop_after_attempt(len(self._steps)),
            "wait": self._wait_after,
            "retry": retry_if_exception(self._retryable),
            "before": self._before,
            "before_sleep": self._before_sleep,
            "reraise": True,
        }

    def _retryable(self, exc: BaseException) -> bool:
        return retryable(exc, self._names)

    def _stays(self, failed: int) -> bool:
        """Whether the step after attempt number ``failed`` (1-based) tries the same target again."""
        return failed < len(self._steps) and self._steps[failed][0] == self._steps[failed - 1][0]

    def _before(self, rs: RetryCallState) -> None:
        index, target_attempt = self._steps[rs.attempt_number - 1]
        self._state._begin(index, target_attempt, rs.attempt_number)

    def _wait_after(self, rs: RetryCallState) -> float:
        if not self._stays(rs.attempt_number):
            return 0.0  # a move to the next target does not wait
        per_target = copy.copy(rs)  # the back-off counts attempts on this target, not over the route
        per_target.attempt_number = self._steps[rs.attempt_number - 1][1]
        return float(self._wait(per_target))

    def _before_sleep(self, rs: RetryCallState) -> None:
        exc = rs.outcome.exception() if rs.outcome is not None else None
        if exc is not None:
            self._state._failed(exc, moving=not self._stays(rs.attempt_number))


def _retrying(route: Route, state: RouteState, sleep: Sleep | None) -> Retrying:
    arguments = _Plan(route, state).arguments()
    if sleep is not None:
        arguments["sleep"] = sleep
    return Retrying(**arguments)


def _async_retrying(route: Route, state: RouteState, sleep: AsyncSleep | None) -> AsyncRetrying:
    arguments = _Plan(route, state).arguments()
    if sleep is not None:
        arguments["sleep"] = sleep
    return AsyncRetrying(**arguments)


def run_sync(
    route: Route,
    state: RouteState,
    fn: Callable[..., T],
    args: Sequence[object],
    kwargs: Mapping[str, object],
    *,
    sleep: Sleep | None = None,
) -> T:
    """Call ``fn(*args, **kwargs)`` once per attempt along ``route`` until one returns.

    Args:
        route: the route (from ``get_route``).
        state: this call's ``RouteState``; it describes the current target during each attempt.
        fn, args, kwargs: the function and its arguments (the same for every attempt).
        sleep: waits between attempts (default ``time.sleep``); tests pass a recorder.

    Returns:
        What the first successful attempt returned.

    Raises:
        The function's exception, unchanged (the same object): a non-retryable one at once, a
        retryable one when every attempt of every target has failed (the last one).
    """
    return _retrying(route, state, sleep)(lambda: fn(*args, **kwargs))


async def run_async(
    route: Route,
    state: RouteState,
    fn: Callable[..., Awaitable[T]],
    args: Sequence[object],
    kwargs: Mapping[str, object],
    *,
    sleep: AsyncSleep | None = None,
) -> T:
    """``run_sync`` for a coroutine function: each attempt awaits ``fn(*args, **kwargs)``.

    ``sleep`` is awaited between attempts (default: tenacity's, ``asyncio.sleep``), so the back-off
    never blocks the event loop.
    """

    async def attempt() -> T:  # a coroutine function: tenacity awaits what it returns
        return await fn(*args, **kwargs)

    result: T = await _async_retrying(route, state, sleep)(attempt)
    return result


class _Primed(Generic[Y, S, R]):
    """A generator whose first step was already taken: gives that chunk (or end) first, then forwards."""

    __slots__ = ("_ended", "_head", "_stream")

    def __init__(self, stream: Generator[Y, S, R], head: tuple[Y] | None, ended: tuple[R] | None) -> None:
        self._stream, self._head, self._ended = stream, head, ended

    def send(self, value: S) -> Y:
        if self._head is not None:
            head, self._head = self._head, None
            return head[0]
        if self._ended is not None:
            raise StopIteration(self._ended[0])
        return self._stream.send(value)

    def throw(self, exc: BaseException) -> Y:
        return self._stream.throw(exc)

    def close(self) -> None:
        self._stream.close()


def run_generator(
    route: Route,
    state: RouteState,
    fn: Callable[..., Generator[Y, S, R]],
    args: Sequence[object],
    kwargs: Mapping[str, object],
    *,
    sleep: Sleep | None = None,
) -> Generator[Y, S, R]:
    """A generator that streams ``fn(*args, **kwargs)`` along ``route``: retries and moves before the first chunk.

    Nothing runs until the first ``next()``. An attempt is "call ``fn`` and take its first chunk";
    once a chunk has been yielded the stream is that attempt's, ``send``/``throw``/``close`` reach
    it, its return value is returned, and its errors propagate unchanged (no retry mid-stream:
    the consumer has already seen output).
    """

    def first() -> _Primed[Y, S, R]:
        stream = fn(*args, **kwargs)
        try:
            return _Primed(stream, (next(stream),), None)
        except StopIteration as stop:
            return _Primed(stream, None, (stop.value,))

    def start() -> Generator[Y, S, R]:
        return cast("Generator[Y, S, R]", _retrying(route, state, sleep)(first))

    return cast("Generator[Y, S, R]", relay(start, Passthrough()))


class _APrimed(Generic[Y, S]):
    """``_Primed`` for async generators."""

    __slots__ = ("_ended", "_head", "_stream")

    def __init__(self, stream: AsyncGenerator[Y, S], head: tuple[Y] | None) -> None:
        self._stream, self._head, self._ended = stream, head, head is None

    async def asend(self, value: S) -> Y:
        if self._head is not None:
            head, self._head = self._head, None
            return head[0]
        if self._ended:
            raise StopAsyncIteration
        return await self._stream.asend(value)

    async def athrow(self, exc: BaseException) -> Y:
        return await self._stream.athrow(exc)

    async def aclose(self) -> None:
        await self._stream.aclose()


def run_async_generator(
    route: Route,
    state: RouteState,
    fn: Callable[..., AsyncGenerator[Y, S]],
    args: Sequence[object],
    kwargs: Mapping[str, object],
    *,
    sleep: AsyncSleep | None = None,
) -> AsyncGenerator[Y, S]:
    """``run_generator`` for async generators (``asend``/``athrow``/``aclose`` are forwarded)."""

    async def first() -> _APrimed[Y, S]:
        stream = fn(*args, **kwargs)
        try:
            return _APrimed(stream, (await anext(stream),))
        except StopAsyncIteration:
            return _APrimed(stream, None)

    def start() -> Awaitable[_APrimed[Y, S]]:
        return _async_retrying(route, state, sleep)(first)

    return cast("AsyncGenerator[Y, S]", arelay(start, Passthrough()))
