"""Routes through ``@tc.governed_call``, end to end: retries, the move to the fallback target, the span, exposure.

The configuration is process-global. In-process tests write a ``toolchain.toml`` and make it the
one in force with ``toolchain_sdk.routing.use_config`` (``configure(config=...)`` would also
replace the suite's span exporter); ``configure(config=...)`` and ``TOOLCHAIN_CONFIG`` themselves
are checked in fresh processes. Back-off is ``initial_s = 0``, so no test really sleeps.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

import toolchain_sdk as tc
from tests._subproc import run_python
from toolchain_sdk import routing, semconv
from toolchain_sdk.routing import _current
from toolchain_sdk.testing import SpanRecorder

PRIMARY = "gpt-4o-mini-2024-07-18"
FALLBACK = "claude-3-5-haiku-20241022"
KINDS = ["function", "async", "generator", "async-generator"]
STREAMS = ["generator", "async-generator"]

CONFIG = """\
[routes.answers]
retry_on = ["TimeoutError", "ConnectionError", "Overloaded"]
backoff = { initial_s = 0, max_s = 0, multiplier = 2.0, jitter = false }

[[routes.answers.targets]]
provider = "openai"
model = "gpt-4o-mini-2024-07-18"
attempts = 3
params = { temperature = 0.2 }

[[routes.answers.targets]]
provider = "anthropic"
model = "claude-3-5-haiku-20241022"
attempts = 2
params = { max_tokens = 256 }

[routes.private]
backoff = { initial_s = 0, max_s = 0, jitter = false }

[[routes.private.targets]]
provider = "azure-openai"
model = "gpt-4o-2024-08-06"
attempts = 2

[[routes.private.targets]]
provider = "anthropic"
model = "claude-3-5-haiku-20241022"

[routes.mixed]
backoff = { initial_s = 0, max_s = 0, jitter = false }

[[routes.mixed.targets]]
provider = "azure-openai"
model = "gpt-4o-2024-08-06"

[[routes.mixed.targets]]
provider = "openai"
model = "gpt-4o-mini-2024-07-18"

[exposure]
pii = ["azure-openai", "anthropic:claude-*"]
internal = ["openai", "anthropic", "azure-openai"]
public = ["*"]
"""


class Overloaded(Exception):
    """A retryable error defined outside builtins: its ``error.type`` is module-qualified."""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """CONFIG in force for the test; afterwards the configuration state is put back exactly as it was."""
    monkeypatch.delenv("TOOLCHAIN_KILL", raising=False)
    monkeypatch.delenv(routing.TOOLCHAIN_CONFIG, raising=False)
    path = tmp_path / "toolchain.toml"
    path.write_text(CONFIG, encoding="utf-8")
    saved = (_current._state.path, _current._state.config)  # use_config(None) would run discovery instead
    routing.use_config(path)
    yield path
    _current._state.path, _current._state.config = saved


class StandIn:
    """A model client that raises the errors it is given, in order, then answers; records what each attempt saw."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.raised: list[BaseException] = []
        self.seen: list[tuple[str | None, str | None, dict[str, object], int]] = []

    def attempt(self, call: tc.GovernedCall) -> None:
        self.seen.append((call.provider, call.model, dict(call.route_params), call.route_attempt))
        if self.failures:
            exc = self.failures.pop(0)
            self.raised.append(exc)
            raise exc


def routed(kind: str, model: StandIn, surface: str = "support.answer", **options: Any) -> Callable[..., Any]:
    """A surface of ``kind`` that asks ``model`` once per attempt and answers ``<model>: <question>``."""
    options.setdefault("route", "answers")
    decorate = tc.governed_call(surface, **options)
    if kind == "function":

        def plain(q: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
            model.attempt(call)
            return f"{call.model}: {q}"

        return decorate(plain)
    if kind == "async":

        async def coroutine(q: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
            model.attempt(call)
            return f"{call.model}: {q}"

        return decorate(coroutine)
    if kind == "generator":

        def generator(q: str, *, call: tc.GovernedCall = tc.INJECTED) -> Generator[str, None, None]:
            model.attempt(call)  # fails before the first chunk
            yield f"{call.model}"
            yield f": {q}"

        return decorate(generator)

    async def async_generator(q: str, *, call: tc.GovernedCall = tc.INJECTED) -> AsyncGenerator[str, None]:
        model.attempt(call)
        yield f"{call.model}"
        yield f": {q}"

    return decorate(async_generator)


async def drive(kind: str, fn: Callable[..., Any], q: str = "where is order 77?") -> str:
    """Call a surface of ``kind`` and return its whole output."""
    if kind == "function":
        return str(fn(q))
    if kind == "async":
        return str(await fn(q))
    if kind == "generator":
        return "".join(fn(q))
    return "".join([chunk async for chunk in fn(q)])


def attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def route_events(span: Any) -> list[tuple[str, dict[str, Any]]]:
    names = (semconv.EVENT_ROUTE_RETRY, semconv.EVENT_ROUTE_FALLBACK)
    return [(e.name, dict(e.attributes or {})) for e in span.events if e.name in names]


def event(name: str, model: str, provider: str, attempt: int, error: str) -> tuple[str, dict[str, Any]]:
    return (
        name,
        {
            semconv.GEN_AI_REQUEST_MODEL: model,
            semconv.GEN_AI_PROVIDER_NAME: provider,
            semconv.ROUTE_ATTEMPT: attempt,
            semconv.ERROR_TYPE: error,
        },
    )


def retry(model: str, provider: str, attempt: int, error: str = "TimeoutError") -> tuple[str, dict[str, Any]]:
    return event(semconv.EVENT_ROUTE_RETRY, model, provider, attempt, error)


def moved(model: str, provider: str, attempt: int, error: str = "TimeoutError") -> tuple[str, dict[str, Any]]:
    return event(semconv.EVENT_ROUTE_FALLBACK, model, provider, attempt, error)


ON_PRIMARY = [("openai", PRIMARY, {"temperature": 0.2}, n) for n in (1, 2, 3)]
ON_FALLBACK = [("anthropic", FALLBACK, {"max_tokens": 256}, n) for n in (4, 5)]


# --- retries, the move, the span -----------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
async def test_three_timeouts_on_the_primary_then_the_fallback_answers(
    kind: str, config_file: Path, spans: SpanRecorder
) -> None:
    """Three timeouts on the primary then a move: the fallback answers; handle, attributes and events say so."""
    model = StandIn(TimeoutError("t1"), TimeoutError("t2"), TimeoutError("t3"))
    fn = routed(kind, model)

    assert await drive(kind, fn) == f"{FALLBACK}: where is order 77?"

    assert model.seen == [*ON_PRIMARY, ON_FALLBACK[0]]
    span = spans.one("support.answer")
    a = attrs(span)
    assert a[semconv.OUTCOME] == "ok"
    assert a[semconv.ROUTE_NAME] == "answers"
    assert a[semconv.ROUTE_ATTEMPT] == 4
    assert a[semconv.ROUTE_FALLBACK_REASON] == "TimeoutError"
    assert (a[semconv.GEN_AI_REQUEST_MODEL], a[semconv.GEN_AI_PROVIDER_NAME]) == (FALLBACK, "anthropic")
    assert a[semconv.DATA_CLASS] == "internal"
    assert route_events(span) == [retry(PRIMARY, "openai", 1), retry(PRIMARY, "openai", 2), moved(PRIMARY, "openai", 3)]


@pytest.mark.parametrize("kind", KINDS)
async def test_the_primary_answering_first_time_records_one_attempt_and_no_events(
    kind: str, config_file: Path, spans: SpanRecorder
) -> None:
    """No failure: one attempt on the primary, no fallback reason, no route events."""
    model = StandIn()
    assert await drive(kind, routed(kind, model)) == f"{PRIMARY}: where is order 77?"
    assert model.seen == ON_PRIMARY[:1]
    span = spans.one("support.answer")
    a = attrs(span)
    assert a[semconv.ROUTE_ATTEMPT] == 1
    assert semconv.ROUTE_FALLBACK_REASON not in a
    assert (a[semconv.GEN_AI_REQUEST_MODEL], a[semconv.GEN_AI_PROVIDER_NAME]) == (PRIMARY, "openai")
    assert route_events(span) == []


@pytest.mark.parametrize("kind", KINDS)
async def test_a_non_retryable_error_is_raised_at_once(kind: str, config_file: Path, spans: SpanRecorder) -> None:
    """A ValueError is not in retry_on: raised at once (the same object), one attempt, no retry, no move."""
    bad_request = ValueError("bad request")
    model = StandIn(bad_request)
    fn = routed(kind, model)

    with pytest.raises(ValueError) as raised:
        await drive(kind, fn)

    assert raised.value is bad_request
    assert model.seen == ON_PRIMARY[:1]
    span = spans.one("support.answer")
    a = attrs(span)
    assert (a[semconv.OUTCOME], a[semconv.ERROR_TYPE]) == ("error", "ValueError")
    assert a[semconv.ROUTE_ATTEMPT] == 1
    assert semconv.ROUTE_FALLBACK_REASON not in a
    assert route_events(span) == []


@pytest.mark.parametrize("kind", KINDS)
async def test_when_every_attempt_fails_the_last_error_is_raised_unchanged(
    kind: str, config_file: Path, spans: SpanRecorder
) -> None:
    """Five timeouts: the fifth (the same object) is raised; the span names the last target tried."""
    errors = [TimeoutError(f"t{n}") for n in range(1, 6)]
    model = StandIn(*errors)
    fn = routed(kind, model)

    with pytest.raises(TimeoutError) as raised:
        await drive(kind, fn)

    assert raised.value is errors[-1]
    assert model.raised == errors
    assert model.seen == [*ON_PRIMARY, *ON_FALLBACK]
    span = spans.one("support.answer")
    a = attrs(span)
    assert (a[semconv.OUTCOME], a[semconv.ERROR_TYPE]) == ("error", "TimeoutError")
    assert a[semconv.ROUTE_ATTEMPT] == 5
    assert a[semconv.ROUTE_FALLBACK_REASON] == "TimeoutError"
    assert (a[semconv.GEN_AI_REQUEST_MODEL], a[semconv.GEN_AI_PROVIDER_NAME]) == (FALLBACK, "anthropic")
    assert route_events(span) == [
        retry(PRIMARY, "openai", 1),
        retry(PRIMARY, "openai", 2),
        moved(PRIMARY, "openai", 3),
        retry(FALLBACK, "anthropic", 4),
    ]


@pytest.mark.parametrize("kind", KINDS)
async def test_the_fallback_reason_is_the_error_of_the_last_move_qualified_unless_builtin(
    kind: str, config_file: Path, spans: SpanRecorder
) -> None:
    """ConnectionError twice, then Overloaded: the events name each; the reason is Overloaded, module-qualified."""
    model = StandIn(ConnectionError("reset"), ConnectionError("reset"), Overloaded("529"))
    assert await drive(kind, routed(kind, model)) == f"{FALLBACK}: where is order 77?"
    qualified = f"{Overloaded.__module__}.Overloaded"
    span = spans.one("support.answer")
    assert attrs(span)[semconv.ROUTE_FALLBACK_REASON] == qualified
    assert route_events(span) == [
        retry(PRIMARY, "openai", 1, "ConnectionError"),
        retry(PRIMARY, "openai", 2, "ConnectionError"),
        moved(PRIMARY, "openai", 3, qualified),
    ]


@pytest.mark.parametrize("kind", STREAMS)
async def test_a_stream_failing_after_its_first_chunk_is_not_retried(
    kind: str, config_file: Path, spans: SpanRecorder
) -> None:
    """A timeout after the first chunk reached the consumer propagates as it is: one attempt, no move."""
    seen: list[tuple[str | None, int]] = []
    late = TimeoutError("stream dropped")
    decorate = tc.governed_call("support.answer", route="answers")
    if kind == "generator":

        def generator(q: str, *, call: tc.GovernedCall = tc.INJECTED) -> Generator[str, None, None]:
            seen.append((call.model, call.route_attempt))
            yield f"{call.model}: "
            raise late

        fn: Callable[..., Any] = decorate(generator)
    else:

        async def async_generator(q: str, *, call: tc.GovernedCall = tc.INJECTED) -> AsyncGenerator[str, None]:
            seen.append((call.model, call.route_attempt))
            yield f"{call.model}: "
            raise late

        fn = decorate(async_generator)

    got: list[str] = []
    with pytest.raises(TimeoutError) as raised:
        if kind == "generator":
            for chunk in fn("q"):
                got.append(chunk)
        else:
            async for chunk in fn("q"):
                got.append(chunk)

    assert raised.value is late
    assert got == [f"{PRIMARY}: "]
    assert seen == [(PRIMARY, 1)]
    span = spans.one("support.answer")
    a = attrs(span)
    assert (a[semconv.OUTCOME], a[semconv.ERROR_TYPE]) == ("error", "TimeoutError")
    assert a[semconv.ROUTE_ATTEMPT] == 1
    assert semconv.ROUTE_FALLBACK_REASON not in a
    assert a[semconv.GEN_AI_REQUEST_MODEL] == PRIMARY
    assert a[semconv.STREAM_COMPLETED] is False
    assert route_events(span) == []


@pytest.mark.parametrize(("response_model", "mismatch"), [(FALLBACK, False), ("claude-3-opus-20240229", True)])
def test_model_mismatch_compares_with_the_answering_target(
    response_model: str, mismatch: bool, config_file: Path, spans: SpanRecorder
) -> None:
    """toolchain.model.mismatch is judged against the fallback that answered, not the primary."""

    @tc.governed_call("support.answer", route="answers")
    def answer(q: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
        if call.provider == "openai":
            raise TimeoutError("primary down")
        call.record_usage(input_tokens=3, output_tokens=5, response_model=response_model)
        return "ok"

    answer("q")
    a = attrs(spans.one("support.answer"))
    assert a[semconv.GEN_AI_REQUEST_MODEL] == FALLBACK
    assert a[semconv.GEN_AI_RESPONSE_MODEL] == response_model
    assert a[semconv.MODEL_MISMATCH] is mismatch


def test_the_handle_reports_no_route_on_a_surface_without_one(config_file: Path, spans: SpanRecorder) -> None:
    """Without route=: the declared model/provider, empty route_params, route_attempt 1; no route attributes."""
    seen = []

    @tc.governed_call("support.plain", model="gpt-4o-2024-08-06", provider="openai")
    def plain(q: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
        seen.append((call.provider, call.model, dict(call.route_params), call.route_attempt))
        return q

    plain("q")
    assert seen == [("openai", "gpt-4o-2024-08-06", {}, 1)]
    a = attrs(spans.one("support.plain"))
    assert not {semconv.ROUTE_NAME, semconv.ROUTE_ATTEMPT, semconv.ROUTE_FALLBACK_REASON} & set(a)
    assert a[semconv.DATA_CLASS] == "internal"


# --- the kill switch -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
async def test_a_switched_off_routed_surface_drops_to_its_fallback_without_calling_any_target(
    kind: str, config_file: Path, spans: SpanRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TOOLCHAIN_KILL on a routed surface: the fallback answers, no target is called, no attempt is recorded."""
    monkeypatch.setenv("TOOLCHAIN_KILL", "support.*")
    model = StandIn()
    fn = routed(kind, model, fallback=lambda q: f"fallback: {q}")

    assert await drive(kind, fn, "q") == "fallback: q"

    assert model.seen == []
    span = spans.one("support.answer")
    a = attrs(span)
    assert (a[semconv.OUTCOME], a[semconv.KILL_SWITCH_ACTIVE]) == ("fallback", True)
    assert a[semconv.ROUTE_NAME] == "answers"
    assert semconv.ROUTE_ATTEMPT not in a
    assert semconv.ROUTE_FALLBACK_REASON not in a
    assert route_events(span) == []


# --- decoration-time errors ----------------------------------------------------------------------
def test_an_unknown_route_is_a_config_error_at_decoration(config_file: Path) -> None:
    """route= naming no [routes.NAME]: ConfigError before any function is given, listing the routes there are."""
    with pytest.raises(tc.ConfigError) as raised:
        tc.governed_call("support.answer", route="anwsers")(lambda q: q)
    message = str(raised.value)
    assert "'anwsers'" in message and "answers, mixed, private" in message


@pytest.mark.parametrize(
    "declared", [{"model": PRIMARY}, {"provider": "openai"}, {"model": PRIMARY, "provider": "openai"}]
)
def test_route_with_model_or_provider_is_a_config_error(declared: dict[str, Any], config_file: Path) -> None:
    """route= names the models: model=/provider= beside it is a ConfigError at decoration."""
    with pytest.raises(tc.ConfigError, match="drop model=/provider="):
        tc.governed_call("support.answer", route="answers", **declared)(lambda q: q)


def test_a_block_cannot_take_a_route(config_file: Path) -> None:
    """A governed() block has no function to call again: route= is a ConfigError when the block is created."""
    with pytest.raises(tc.ConfigError, match="route= on a function"):
        tc.governed("support.block", route="answers")


# --- exposure ------------------------------------------------------------------------------------
def test_a_data_class_not_listed_in_exposure_is_a_config_error(config_file: Path) -> None:
    """[exposure] has no 'confidential': default deny, a ConfigError at decoration naming the class and the table."""
    with pytest.raises(tc.ConfigError) as raised:
        tc.governed_call("support.answer", route="private", data_class="confidential")(lambda q: q)
    message = str(raised.value)
    assert "'confidential' is not listed in [exposure]" in message
    assert "listed: pii, internal, public" in message


@pytest.mark.parametrize(
    ("declared", "denied"),
    [
        ({"route": "answers"}, f"openai:{PRIMARY}"),
        ({"route": "mixed"}, f"openai:{PRIMARY}"),  # the primary is allowed, the fallback target is not
        ({"provider": "openai", "model": "gpt-4o-2024-08-06"}, "openai:gpt-4o-2024-08-06"),
        ({"provider": "anthropic", "model": "gpt-4o-2024-08-06"}, "anthropic:gpt-4o-2024-08-06"),
        ({"model": "gpt-4o-2024-08-06"}, "an undeclared provider"),
    ],
)
def test_pii_may_not_reach_a_target_outside_its_rules(declared: dict[str, Any], denied: str, config_file: Path) -> None:
    """pii with a provider/model or route target its rules do not allow: a ConfigError naming target and rule."""
    with pytest.raises(tc.ConfigError) as raised:
        tc.governed_call("support.reply", data_class="pii", **declared)(lambda q: q)
    message = str(raised.value)
    assert message.startswith("support.reply: data_class 'pii' may not reach ")
    assert denied in message
    assert 'pii = ["azure-openai", "anthropic:claude-*"]' in message
    assert str(config_file) in message


def test_a_block_is_held_to_the_exposure_rules_too(config_file: Path) -> None:
    """governed(data_class='pii', provider='openai'): the ConfigError comes when the block is created."""
    with pytest.raises(tc.ConfigError, match="may not reach openai:gpt-4o"):
        tc.governed("support.block_reply", data_class="pii", provider="openai", model="gpt-4o")


@pytest.mark.parametrize("kind", KINDS)
async def test_pii_through_an_allowed_route_runs_and_the_span_says_pii(
    kind: str, config_file: Path, spans: SpanRecorder
) -> None:
    """Every target of 'private' may carry pii: the surface runs, retries, and says toolchain.data_class=pii."""
    model = StandIn(TimeoutError("azure busy"))
    fn = routed(kind, model, surface="support.reply", route="private", data_class="pii")
    assert await drive(kind, fn, "q") == "gpt-4o-2024-08-06: q"
    assert [(p, m, n) for p, m, _, n in model.seen] == [
        ("azure-openai", "gpt-4o-2024-08-06", 1),
        ("azure-openai", "gpt-4o-2024-08-06", 2),
    ]
    span = spans.one("support.reply")
    a = attrs(span)
    assert a[semconv.DATA_CLASS] == "pii"
    assert a[semconv.ROUTE_ATTEMPT] == 2
    assert semconv.ROUTE_FALLBACK_REASON not in a
    assert route_events(span) == [retry("gpt-4o-2024-08-06", "azure-openai", 1)]


def test_a_surface_without_data_class_is_internal_on_the_span(spans: SpanRecorder) -> None:
    """No data_class declared: the span says toolchain.data_class=internal."""

    @tc.governed_call("support.internal", model="gpt-4o", provider="openai")
    def answer(q: str) -> str:
        return q

    answer("q")
    assert attrs(spans.one("support.internal"))[semconv.DATA_CLASS] == "internal"


# --- configure(config=...) and TOOLCHAIN_CONFIG, in fresh processes ------------------------------
_PROCESS = """
import asyncio, json
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import toolchain_sdk as tc

exporter = InMemorySpanExporter()
tc.configure(span_exporter=exporter, batch=False{config})
failures = [TimeoutError("t1"), TimeoutError("t2"), TimeoutError("t3")]
seen = []

@tc.governed_call("support.answer", route="answers")
async def answer(q, *, call):
    seen.append([call.provider, call.model, dict(call.route_params), call.route_attempt])
    if failures:
        raise failures.pop(0)
    return call.model

print(json.dumps({{
    "answer": asyncio.run(answer("q")),
    "seen": seen,
    "attributes": dict(exporter.get_finished_spans()[0].attributes),
    "events": [e.name for e in exporter.get_finished_spans()[0].events],
}}))
"""


@pytest.mark.parametrize("how", ["configure", "env"])
def test_the_route_file_is_found_through_configure_or_toolchain_config(how: str, tmp_path: Path) -> None:
    """A fresh process finds the file through configure(config=PATH) or TOOLCHAIN_CONFIG and routes through it."""
    path = tmp_path / "routes.toml"
    path.write_text(CONFIG, encoding="utf-8")
    code = _PROCESS.format(config=f", config={str(path)!r}" if how == "configure" else "")
    env = {routing.TOOLCHAIN_CONFIG: str(path)} if how == "env" else {}
    proc = run_python(code, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["answer"] == FALLBACK
    assert [s[3] for s in out["seen"]] == [1, 2, 3, 4]
    assert out["seen"][0][:3] == ["openai", PRIMARY, {"temperature": 0.2}]
    assert out["seen"][3][:3] == ["anthropic", FALLBACK, {"max_tokens": 256}]
    a = out["attributes"]
    assert a[semconv.ROUTE_NAME] == "answers"
    assert a[semconv.ROUTE_ATTEMPT] == 4
    assert a[semconv.ROUTE_FALLBACK_REASON] == "TimeoutError"
    assert a[semconv.GEN_AI_REQUEST_MODEL] == FALLBACK
    assert out["events"].count(semconv.EVENT_ROUTE_RETRY) == 2
    assert out["events"].count(semconv.EVENT_ROUTE_FALLBACK) == 1


def test_configure_config_holds_surfaces_declared_before_it_to_the_exposure_rules(tmp_path: Path) -> None:
    """A pii surface on openai declared before configure(config=...): configure raises a ConfigError naming it."""
    path = tmp_path / "config" / "toolchain.toml"  # not ./toolchain.toml, which decoration would find itself
    path.parent.mkdir()
    path.write_text(CONFIG, encoding="utf-8")
    code = f"""
    import toolchain_sdk as tc

    @tc.governed_call("support.early", data_class="pii", provider="openai", model="gpt-4o-2024-08-06")
    def early(q):
        return q

    try:
        tc.configure(exporter="none", config={str(path)!r})
    except tc.ConfigError as exc:
        print("ConfigError:", exc)
    """
    proc = run_python(textwrap.dedent(code), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "ConfigError: support.early: data_class 'pii' may not reach openai:gpt-4o-2024-08-06" in proc.stdout


# --- methods, streams closed early, send(), cancellation, the span's start ------------------------
def desk_class() -> type[Any]:
    """A support desk whose methods are routed surfaces (declared in the test: the route file must be in force)."""

    class Desk:
        def __init__(self, model: StandIn) -> None:
            self.model = model

        @tc.governed_call("support.desk_answer", route="answers")
        def answer(self, q: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
            assert isinstance(self, Desk)
            self.model.attempt(call)
            return f"{call.model}: {q}"

        @classmethod
        @tc.governed_call("support.desk_classify", route="answers")
        def classify(cls, q: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
            assert cls is Desk
            if call.route_attempt == 1:
                raise ConnectionError("reset")
            return f"{call.provider}: {q}"

    return Desk


def test_a_routed_method_gets_self_on_every_attempt(config_file: Path, spans: SpanRecorder) -> None:
    """An instance method through its route: self on each attempt, the fallback answers; a classmethod gets cls."""
    desk_type = desk_class()
    desk = desk_type(StandIn(TimeoutError("1"), TimeoutError("2"), TimeoutError("3")))
    assert desk.answer("q") == f"{FALLBACK}: q"
    assert [n for *_, n in desk.model.seen] == [1, 2, 3, 4]
    assert attrs(spans.one("support.desk_answer"))[semconv.ROUTE_ATTEMPT] == 4
    assert desk_type.classify("q") == "openai: q"
    assert attrs(spans.one("support.desk_classify"))[semconv.ROUTE_ATTEMPT] == 2


@pytest.mark.parametrize("kind", STREAMS)
async def test_a_routed_stream_closed_early_keeps_its_route_attributes(
    kind: str, config_file: Path, spans: SpanRecorder
) -> None:
    """The stream moves on before its first chunk; the consumer then stops after one chunk: completed=false."""
    model = StandIn(TimeoutError("1"), TimeoutError("2"), TimeoutError("3"))
    fn = routed(kind, model)
    if kind == "generator":
        stream = fn("q")
        first = next(stream)
        stream.close()
    else:
        astream = fn("q")
        first = await anext(astream)
        await astream.aclose()
    assert first == FALLBACK
    span = spans.one("support.answer")
    a = attrs(span)
    assert a[semconv.STREAM_COMPLETED] is False
    assert (a[semconv.ROUTE_ATTEMPT], a[semconv.ROUTE_FALLBACK_REASON]) == (4, "TimeoutError")
    assert a[semconv.GEN_AI_REQUEST_MODEL] == FALLBACK
    assert [name for name, _ in route_events(span)] == ["route.retry", "route.retry", "route.fallback"]


def test_send_reaches_the_generator_that_answered(config_file: Path, spans: SpanRecorder) -> None:
    """After a move, send() goes to the fallback's generator, and its return value ends the stream."""
    received: list[tuple[str | None, object]] = []

    @tc.governed_call("support.chat", route="answers")
    def chat(*, call: tc.GovernedCall = tc.INJECTED) -> Generator[str, str, str]:
        if call.provider == "openai":
            raise TimeoutError("down")
        reply = yield "hello"
        received.append((call.model, reply))
        return "bye"

    stream = chat()
    assert next(stream) == "hello"
    with pytest.raises(StopIteration) as stop:
        stream.send("how are you?")
    assert stop.value.value == "bye"
    assert received == [(FALLBACK, "how are you?")]
    assert attrs(spans.one("support.chat"))[semconv.ROUTE_ATTEMPT] == 4


def test_the_span_starts_with_the_primary_and_ends_with_the_target_that_answered(
    config_file: Path, spans: SpanRecorder
) -> None:
    """During the first attempt the live span says the primary (what samplers see); once ended it says the fallback."""
    seen: list[object] = []

    @tc.governed_call("support.answer", route="answers")
    def answer(*, call: tc.GovernedCall = tc.INJECTED) -> str:
        span = call.span
        assert span is not None
        seen.append(dict(span.attributes or {}).get(semconv.GEN_AI_REQUEST_MODEL))  # type: ignore[attr-defined]
        if call.provider == "openai":
            raise TimeoutError("down")
        return "ok"

    answer()
    assert seen[0] == PRIMARY
    assert attrs(spans.one("support.answer"))[semconv.GEN_AI_REQUEST_MODEL] == FALLBACK


async def test_cancelling_during_the_back_off_cancels_the_call(
    tmp_path: Path, config_file: Path, spans: SpanRecorder
) -> None:
    """A task cancelled while the route waits to retry stops at once: CancelledError, no further attempt."""
    import asyncio

    slow = tmp_path / "slow.toml"
    slow.write_text(
        CONFIG.replace("backoff = { initial_s = 0, max_s = 0, multiplier = 2.0, jitter = false }",
                       "backoff = { initial_s = 30.0, max_s = 30.0, jitter = false }", 1),
        encoding="utf-8",
    )  # fmt: skip
    routing.use_config(slow)
    model = StandIn(TimeoutError("1"))
    fn = routed("async", model)
    task = asyncio.ensure_future(fn("q"))
    while not model.seen:
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)  # now waiting 30 s before the retry
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)
    assert len(model.seen) == 1
    a = attrs(spans.one("support.answer"))
    assert a[semconv.OUTCOME] == "error"
    assert a[semconv.ROUTE_ATTEMPT] == 1


_METRICS = """
import json
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import toolchain_sdk as tc

reader = InMemoryMetricReader()
tc.configure(span_exporter=InMemorySpanExporter(), batch=False, metric_readers=[reader], config={config!r})

@tc.governed_call("support.answer", route="answers")
def answer(q, *, call):
    if call.provider == "openai":
        raise TimeoutError("down")
    call.record_usage(input_tokens=11, output_tokens=7, response_model=call.model)
    return "ok"

answer("q")
out = {{}}
for rm in reader.get_metrics_data().resource_metrics:
    for sm in rm.scope_metrics:
        for metric in sm.metrics:
            out[metric.name] = [dict(p.attributes) for p in metric.data.data_points]
print(json.dumps(out))
"""


def test_genai_metrics_of_a_routed_call_name_the_target_that_answered(tmp_path: Path) -> None:
    """gen_ai.client.token.usage / operation.duration carry the answering target's model and provider, like the span."""
    path = tmp_path / "toolchain.toml"
    path.write_text(CONFIG, encoding="utf-8")
    proc = run_python(_METRICS.format(config=str(path)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    points = metrics["gen_ai.client.token.usage"] + metrics["gen_ai.client.operation.duration"]
    assert points
    for point in points:
        assert (point[semconv.GEN_AI_REQUEST_MODEL], point[semconv.GEN_AI_PROVIDER_NAME]) == (FALLBACK, "anthropic")
