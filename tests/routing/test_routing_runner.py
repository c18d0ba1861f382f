"""Routing runners: retries on the primary, the move to the fallback target, events, final state, streams.

A stand-in function fails on cue (raises N times, then answers) and records the model the
``RouteState`` named for each attempt. Sleeping is injected, so no test waits for back-off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Sequence
from typing import Any

import pytest

from toolchain_sdk import semconv
from toolchain_sdk._core import safety
from toolchain_sdk.routing import (
    Route,
    RouteState,
    Target,
    get_route,
    parse_config,
    run_async,
    run_async_generator,
    run_generator,
    run_sync,
)

PRIMARY = "gpt-4o-mini-2024-07-18"
FALLBACK = "claude-3-5-haiku-20241022"
KINDS = ["function", "async", "generator", "async-generator"]


def make_route(*, jitter: bool = False, retry_on: list[str] | None = None, **backoff: float) -> Route:
    table: dict[str, Any] = {
        "backoff": {"initial_s": 0.5, "max_s": 8.0, "multiplier": 2.0, "jitter": jitter, **backoff},
        "targets": [
            {"provider": "openai", "model": PRIMARY, "attempts": 3, "params": {"temperature": 0.2}},
            {"provider": "anthropic", "model": FALLBACK, "attempts": 2},
        ],
    }
    if retry_on is not None:
        table["retry_on"] = retry_on
    return get_route(parse_config({"routes": {"answers": table}}), "answers")


class Flaky(Exception):
    """A retryable error defined outside builtins (its error.type is qualified)."""


class Run:
    """One routed call of a stand-in that raises ``failures`` (in order), then answers; records what it saw."""

    def __init__(self, route: Route, failures: Sequence[BaseException]) -> None:
        self.route = route
        self.failures = list(failures)
        self.raised: list[BaseException] = []
        self.models: list[str] = []
        self.params: list[dict[str, object]] = []
        self.attempts: list[int] = []
        self.events: list[tuple[str, dict[str, str | int]]] = []
        self.sleeps: list[float] = []
        self.targets: list[Target] = []
        self.state = RouteState(route, on_event=self._event, on_attempt=self.targets.append)

    def _event(self, name: str, attributes: Any) -> None:
        self.events.append((name, dict(attributes)))

    def _step(self) -> None:
        self.models.append(self.state.model)
        self.params.append(dict(self.state.params))
        self.attempts.append(self.state.attempt)
        if self.failures:
            exc = self.failures.pop(0)
            self.raised.append(exc)
            raise exc

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    # --- the four kinds of function --------------------------------------------------------------
    def plain(self, text: str) -> str:
        self._step()
        return f"answer to {text}"

    async def coroutine(self, text: str) -> str:
        await asyncio.sleep(0)
        self._step()
        return f"answer to {text}"

    def generator(self, text: str) -> Generator[str, None, str]:
        self._step()
        yield "answer "
        yield f"to {text}"
        return "done"

    async def async_generator(self, text: str) -> AsyncGenerator[str, None]:
        await asyncio.sleep(0)
        self._step()
        yield "answer "
        yield f"to {text}"

    async def drive(self, kind: str) -> str:
        """Run the stand-in of ``kind`` through the route; the joined output."""
        args: tuple[str, ...] = ("x",)
        kwargs: dict[str, object] = {}
        if kind == "function":
            return run_sync(self.route, self.state, self.plain, args, kwargs, sleep=self.sleep)
        if kind == "async":
            return await run_async(self.route, self.state, self.coroutine, args, kwargs, sleep=self.asleep)
        if kind == "generator":
            return "".join(run_generator(self.route, self.state, self.generator, args, kwargs, sleep=self.sleep))
        stream = run_async_generator(self.route, self.state, self.async_generator, args, kwargs, sleep=self.asleep)
        return "".join([chunk async for chunk in stream])


def retry_event(model: str, provider: str, attempt: int, error: str) -> tuple[str, dict[str, str | int]]:
    return (
        semconv.EVENT_ROUTE_RETRY,
        {
            semconv.GEN_AI_REQUEST_MODEL: model,
            semconv.GEN_AI_PROVIDER_NAME: provider,
            semconv.ROUTE_ATTEMPT: attempt,
            semconv.ERROR_TYPE: error,
        },
    )


def fallback_event(model: str, provider: str, attempt: int, error: str) -> tuple[str, dict[str, str | int]]:
    _, attributes = retry_event(model, provider, attempt, error)
    return semconv.EVENT_ROUTE_FALLBACK, attributes


@pytest.fixture
def route() -> Route:
    return make_route()


@pytest.mark.parametrize("kind", KINDS)
async def test_the_primary_answers_at_once(route: Route, kind: str) -> None:
    """No error: one attempt on the primary, no events, no sleep."""
    run = Run(route, [])
    assert await run.drive(kind) == "answer to x"
    assert run.models == [PRIMARY]
    assert run.events == [] and run.sleeps == []
    assert run.state.attributes() == {
        semconv.ROUTE_NAME: "answers",
        semconv.GEN_AI_REQUEST_MODEL: PRIMARY,
        semconv.GEN_AI_PROVIDER_NAME: "openai",
        semconv.ROUTE_ATTEMPT: 1,
    }


@pytest.mark.parametrize("kind", KINDS)
async def test_retries_on_the_primary_then_answers(route: Route, kind: str) -> None:
    """Two timeouts then an answer: three attempts on the primary, back-off 0.5 s then 1 s, two route.retry events."""
    run = Run(route, [TimeoutError("slow"), TimeoutError("slow")])
    assert await run.drive(kind) == "answer to x"
    assert run.models == [PRIMARY] * 3
    assert run.attempts == [1, 2, 3]
    assert run.sleeps == [0.5, 1.0]
    assert run.events == [
        retry_event(PRIMARY, "openai", 1, "TimeoutError"),
        retry_event(PRIMARY, "openai", 2, "TimeoutError"),
    ]
    assert run.state.attempt == 3 and run.state.fallback_reason is None
    assert semconv.ROUTE_FALLBACK_REASON not in run.state.attributes()


@pytest.mark.parametrize("kind", KINDS)
async def test_moves_to_the_fallback_target_when_the_primary_is_spent(route: Route, kind: str) -> None:
    """Three failures on the primary, then the fallback answers: two retries, a fallback event, no wait on the move."""
    run = Run(route, [TimeoutError(), TimeoutError(), Flaky("rate limited")])
    route_with_flaky = route.model_copy(update={"retry_on": ("TimeoutError", "Flaky")})
    run.route, run.state = route_with_flaky, RouteState(route_with_flaky, on_event=run._event)
    assert await run.drive(kind) == "answer to x"
    assert run.models == [PRIMARY, PRIMARY, PRIMARY, FALLBACK]
    assert run.params == [{"temperature": 0.2}] * 3 + [{}]
    assert run.sleeps == [0.5, 1.0, 0.0]
    flaky = f"{__name__}.Flaky"
    assert run.events == [
        retry_event(PRIMARY, "openai", 1, "TimeoutError"),
        retry_event(PRIMARY, "openai", 2, "TimeoutError"),
        fallback_event(PRIMARY, "openai", 3, flaky),
    ]
    assert run.state.attributes() == {
        semconv.ROUTE_NAME: "answers",
        semconv.GEN_AI_REQUEST_MODEL: FALLBACK,
        semconv.GEN_AI_PROVIDER_NAME: "anthropic",
        semconv.ROUTE_ATTEMPT: 4,
        semconv.ROUTE_FALLBACK_REASON: flaky,
    }
    assert (run.state.model, run.state.provider, run.state.target_index, run.state.target_attempt) == (
        FALLBACK,
        "anthropic",
        1,
        1,
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_when_every_attempt_fails_the_last_error_is_raised_unchanged(route: Route, kind: str) -> None:
    """Five timeouts: the fifth exception object itself propagates; the state names the last target tried."""
    errors = [TimeoutError(f"try {i}") for i in range(1, 6)]
    run = Run(route, errors)
    with pytest.raises(TimeoutError) as caught:
        await run.drive(kind)
    assert caught.value is errors[-1]
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert run.models == [PRIMARY] * 3 + [FALLBACK] * 2
    assert [name for name, _ in run.events] == [
        semconv.EVENT_ROUTE_RETRY,
        semconv.EVENT_ROUTE_RETRY,
        semconv.EVENT_ROUTE_FALLBACK,
        semconv.EVENT_ROUTE_RETRY,
    ]
    assert run.events[-1] == retry_event(FALLBACK, "anthropic", 4, "TimeoutError")
    assert run.sleeps == [0.5, 1.0, 0.0, 0.5]
    assert run.state.attributes()[semconv.ROUTE_ATTEMPT] == 5
    assert run.state.attributes()[semconv.GEN_AI_REQUEST_MODEL] == FALLBACK
    assert run.state.fallback_reason == "TimeoutError"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_non_retryable_error_is_raised_at_once(route: Route, kind: str) -> None:
    """A ValueError is not in retry_on: no retry, no move, no event, no sleep, the same object raised."""
    error = ValueError("bad request")
    run = Run(route, [error])
    with pytest.raises(ValueError) as caught:
        await run.drive(kind)
    assert caught.value is error
    assert run.models == [PRIMARY]
    assert run.events == [] and run.sleeps == []
    assert run.state.attempt == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_a_non_retryable_error_after_retries_stops_the_route(route: Route, kind: str) -> None:
    """A timeout is retried, the ValueError that follows is raised: the route never moves to the fallback."""
    error = ValueError("bad request")
    run = Run(route, [TimeoutError(), error])
    with pytest.raises(ValueError) as caught:
        await run.drive(kind)
    assert caught.value is error
    assert run.models == [PRIMARY, PRIMARY]
    assert [name for name, _ in run.events] == [semconv.EVENT_ROUTE_RETRY]


@pytest.mark.parametrize("kind", KINDS)
async def test_cancellation_and_interrupts_are_never_retried(kind: str) -> None:
    """Even with retry_on = ["BaseException"], a KeyboardInterrupt propagates from the first attempt."""
    route = make_route(retry_on=["BaseException"])
    interrupt = KeyboardInterrupt()
    run = Run(route, [interrupt])
    with pytest.raises(KeyboardInterrupt) as caught:
        await run.drive(kind)
    assert caught.value is interrupt
    assert run.models == [PRIMARY] and run.events == []


@pytest.mark.parametrize("kind", KINDS)
async def test_on_attempt_is_told_each_target(route: Route, kind: str) -> None:
    """on_attempt receives the target before every attempt, retries included."""
    run = Run(route, [TimeoutError()] * 3)
    await run.drive(kind)
    assert [t.model for t in run.targets] == [PRIMARY] * 3 + [FALLBACK]
    assert run.targets[0] is route.targets[0]


def test_jitter_waits_a_random_part_of_the_exponential_step() -> None:
    """With jitter, each wait lies between 0 and the capped exponential step (full jitter)."""
    route = make_route(jitter=True)
    for _ in range(20):
        run = Run(route, [TimeoutError()] * 4)
        run_sync(route, run.state, run.plain, ("x",), {}, sleep=run.sleep)
        first, second, move, fallback_retry = run.sleeps
        assert 0 <= first <= 0.5 and 0 <= second <= 1.0 and move == 0.0 and 0 <= fallback_retry <= 0.5


def test_max_s_caps_the_wait() -> None:
    """initial 1 s, multiplier 10, max 3 s: waits of 1 s then 3 s (not 10 s)."""
    route = make_route(initial_s=1.0, multiplier=10.0, max_s=3.0)
    run = Run(route, [TimeoutError()] * 2)
    run_sync(route, run.state, run.plain, ("x",), {}, sleep=run.sleep)
    assert run.sleeps == [1.0, 3.0]


def test_the_default_sleep_is_used_when_none_is_given() -> None:
    """Without sleep=, tenacity's own sleep runs (a zero back-off keeps the test instant)."""
    route = make_route(initial_s=0.0, max_s=0.0)
    run = Run(route, [TimeoutError()] * 3)
    assert run_sync(route, run.state, run.plain, ("x",), {}) == "answer to x"
    assert run.models[-1] == FALLBACK


async def test_the_default_async_sleep_is_used_when_none_is_given() -> None:
    """Without sleep=, the async runner awaits tenacity's asyncio sleep (zero back-off here)."""
    route = make_route(initial_s=0.0, max_s=0.0)
    run = Run(route, [TimeoutError()] * 3)
    assert await run_async(route, run.state, run.coroutine, ("x",), {}) == "answer to x"
    assert run.models[-1] == FALLBACK


async def test_cancelling_during_back_off_stops_the_route(route: Route) -> None:
    """A task cancelled while it waits between attempts is cancelled: no further attempt."""
    run = Run(route, [TimeoutError()] * 5)
    waiting = asyncio.Event()

    async def sleep_forever(seconds: float) -> None:
        waiting.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(run_async(route, run.state, run.coroutine, ("x",), {}, sleep=sleep_forever))
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert run.models == [PRIMARY]


async def test_concurrent_calls_keep_their_own_state(route: Route) -> None:
    """One route, two calls at once: each RouteState follows its own attempts."""
    slow, fast = Run(route, [TimeoutError()] * 3), Run(route, [])
    results = await asyncio.gather(slow.drive("async"), fast.drive("async"))
    assert list(results) == ["answer to x", "answer to x"]
    assert (slow.state.attempt, slow.state.model) == (4, FALLBACK)
    assert (fast.state.attempt, fast.state.model) == (1, PRIMARY)


def test_arguments_reach_every_attempt_unchanged(route: Route) -> None:
    """Positional and keyword arguments (even one named fn) are passed as given to each attempt."""
    seen: list[tuple[tuple[object, ...], dict[str, object]]] = []
    failures = [TimeoutError(), TimeoutError()]

    def body(*args: object, **kwargs: object) -> str:
        seen.append((args, kwargs))
        if failures:
            raise failures.pop()
        return "ok"

    state = RouteState(route)
    assert run_sync(route, state, body, (1, 2), {"fn": "mine", "kwargs": 3}, sleep=lambda s: None) == "ok"
    assert seen == [((1, 2), {"fn": "mine", "kwargs": 3})] * 3


def test_the_state_before_any_attempt_describes_the_primary(route: Route) -> None:
    """A fresh state names the primary target and no attempt yet; params are read-only."""
    state = RouteState(route)
    assert (state.model, state.provider, state.attempt, state.target_attempt) == (PRIMARY, "openai", 0, 0)
    assert state.params == {"temperature": 0.2}
    with pytest.raises(TypeError):
        state.params["temperature"] = 1.0  # type: ignore[index]
    assert semconv.ROUTE_ATTEMPT not in state.attributes()
    assert "answers" in repr(state)


def test_a_state_for_another_route_is_refused(route: Route) -> None:
    """Running route A with the state of route B is a programming error (ValueError)."""
    other = get_route(
        parse_config({"routes": {"other": {"targets": [{"provider": "p", "model": "m-2024-01-01"}]}}}), "other"
    )
    with pytest.raises(ValueError, match="'other', not 'answers'"):
        run_sync(route, RouteState(other), lambda: "x", (), {})


def test_a_reused_state_starts_over(route: Route) -> None:
    """Running a second call with the same state resets the attempt count and the fallback reason."""
    run = Run(route, [TimeoutError()] * 3)
    run_sync(route, run.state, run.plain, ("x",), {}, sleep=run.sleep)
    assert run.state.fallback_reason == "TimeoutError"
    run_sync(route, run.state, run.plain, ("x",), {}, sleep=run.sleep)
    assert (run.state.attempt, run.state.model) == (1, PRIMARY)
    assert semconv.ROUTE_FALLBACK_REASON not in run.state.attributes()


# --- hooks are observers: they fail open --------------------------------------------------------


def _raising(*args: object) -> None:
    raise RuntimeError("hook bug")


def test_raising_hooks_fail_the_test_suite_under_strict(route: Route) -> None:
    """Under TOOLCHAIN_STRICT (the suite's default) an SDK hook bug is raised, so it cannot hide."""
    state = RouteState(route, on_attempt=_raising)
    with pytest.raises(RuntimeError, match="hook bug"):
        run_sync(route, state, lambda: "x", (), {})


def test_raising_hooks_leave_the_call_working_in_production(
    route: Route, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Outside strict mode a raising on_event / on_attempt is logged once and the route carries on."""
    monkeypatch.setenv("TOOLCHAIN_STRICT", "0")
    safety.reset_warnings()
    run = Run(route, [TimeoutError()] * 3)
    run.state.on_event, run.state.on_attempt = _raising, _raising
    with caplog.at_level(logging.WARNING, logger="toolchain_sdk"):
        assert run_sync(route, run.state, run.plain, ("x",), {}, sleep=run.sleep) == "answer to x"
    assert run.models[-1] == FALLBACK and run.state.fallback_reason == "TimeoutError"
    logged = [r.getMessage() for r in caplog.records]
    assert any("routing.on_event" in m for m in logged) and any("routing.on_attempt" in m for m in logged)


# --- streams: retry only before the first chunk; then forward send/throw/close -----------------


@pytest.mark.parametrize("kind", ["generator", "async-generator"])
async def test_an_error_after_the_first_chunk_propagates_without_retry(route: Route, kind: str) -> None:
    """Once a chunk has reached the consumer, the stream's error is raised as is: no retry, no move, no event."""
    error = TimeoutError("mid-stream")
    calls: list[str] = []
    state = RouteState(route)

    def body() -> Generator[str, None, None]:
        calls.append(state.model)
        yield "partial"
        raise error

    async def abody() -> AsyncGenerator[str, None]:
        calls.append(state.model)
        yield "partial"
        raise error

    got: list[str] = []
    with pytest.raises(TimeoutError) as caught:
        if kind == "generator":
            for chunk in run_generator(route, state, body, (), {}, sleep=lambda s: None):
                got.append(chunk)
        else:

            async def no_sleep(seconds: float) -> None:
                return None

            async for chunk in run_async_generator(route, state, abody, (), {}, sleep=no_sleep):
                got.append(chunk)
    assert caught.value is error
    assert got == ["partial"] and calls == [PRIMARY]
    assert state.attempt == 1


def test_nothing_runs_before_the_first_next(route: Route) -> None:
    """The routed generator is lazy; closing it before the first step calls nothing."""
    calls: list[str] = []

    def body() -> Generator[str, None, None]:
        calls.append("called")
        yield "x"

    def start() -> Generator[str, None, None]:
        calls.append("fn")
        return body()

    stream = run_generator(route, RouteState(route), start, (), {})
    assert calls == []
    stream.close()
    assert calls == []


def _echo_body(state: RouteState, failures: list[BaseException], log: list[str]) -> Callable[[], Any]:
    def body() -> Generator[str, str | None, str]:
        if failures:
            raise failures.pop(0)
        try:
            received = yield f"hello from {state.model}"
            log.append(f"sent {received}")
            try:
                yield "waiting"
            except KeyError as exc:
                log.append(f"thrown {exc!r}")
                yield "recovered"
            yield "more"
            return "finished"
        finally:
            log.append("closed")

    return body


def test_send_throw_and_return_reach_the_answering_generator(route: Route) -> None:
    """After a move to the fallback, send(), throw() and the return value belong to the fallback's generator."""
    log: list[str] = []
    state = RouteState(route)
    body = _echo_body(state, [TimeoutError()] * 3, log)
    stream = run_generator(route, state, body, (), {}, sleep=lambda s: None)
    assert next(stream) == f"hello from {FALLBACK}"
    assert stream.send("ping") == "waiting"
    assert stream.throw(KeyError("k")) == "recovered"
    assert next(stream) == "more"
    with pytest.raises(StopIteration) as stop:
        next(stream)
    assert stop.value.value == "finished"
    assert log == ["sent ping", "thrown KeyError('k')", "closed"]


def test_close_reaches_the_answering_generator(route: Route) -> None:
    """Stopping early (close) runs the answering generator's finally block."""
    log: list[str] = []
    state = RouteState(route)
    stream = run_generator(route, state, _echo_body(state, [TimeoutError()], log), (), {}, sleep=lambda s: None)
    assert next(stream) == f"hello from {PRIMARY}"
    stream.close()
    assert log == ["closed"]


def test_an_empty_stream_after_a_retry_returns_its_value(route: Route) -> None:
    """A generator that fails once, then returns without yielding: the routed stream ends with its value."""
    failures: list[BaseException] = [TimeoutError()]

    def body() -> Generator[str, None, str]:
        if failures:
            raise failures.pop()
        return "nothing to say"
        yield "unreachable"

    stream = run_generator(route, RouteState(route), body, (), {}, sleep=lambda s: None)
    with pytest.raises(StopIteration) as stop:
        next(stream)
    assert stop.value.value == "nothing to say"


async def test_async_stream_forwards_asend_athrow_and_aclose(route: Route) -> None:
    """The routed async generator forwards asend/athrow/aclose to the target that answered."""
    log: list[str] = []
    state = RouteState(route)
    failures: list[BaseException] = [TimeoutError()] * 3

    async def body() -> AsyncGenerator[str, str | None]:
        if failures:
            raise failures.pop()
        try:
            received = yield f"hello from {state.model}"
            log.append(f"sent {received}")
            try:
                yield "waiting"
            except KeyError:
                log.append("thrown")
                yield "recovered"
            yield "more"
        finally:
            log.append("closed")

    async def no_sleep(seconds: float) -> None:
        return None

    stream = run_async_generator(route, state, body, (), {}, sleep=no_sleep)
    assert await anext(stream) == f"hello from {FALLBACK}"
    assert await stream.asend("ping") == "waiting"
    assert await stream.athrow(KeyError("k")) == "recovered"
    await stream.aclose()
    assert log == ["sent ping", "thrown", "closed"]


async def test_an_empty_async_stream_after_a_retry_ends(route: Route) -> None:
    """An async generator that fails once then yields nothing: the routed stream is empty."""
    failures: list[BaseException] = [TimeoutError()]

    async def body() -> AsyncGenerator[str, None]:
        if failures:
            raise failures.pop()
        return
        yield "unreachable"

    async def no_sleep(seconds: float) -> None:
        return None

    assert [c async for c in run_async_generator(route, RouteState(route), body, (), {}, sleep=no_sleep)] == []


def test_a_route_is_reusable_across_many_calls(route: Route) -> None:
    """The same Route runs many calls (nothing of one call is kept on it)."""
    results: Iterator[str] = (
        run_sync(route, RouteState(route), lambda i=i: f"r{i}", (), {}, sleep=lambda s: None) for i in range(3)
    )
    assert list(results) == ["r0", "r1", "r2"]
