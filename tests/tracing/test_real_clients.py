"""Governed functions around the real OpenAI and Anthropic clients, talking to the local stand-in.

What is checked: the stand-in answers the real clients as the vendors do; a client's own model-call
span (Anthropic's built-in tracing, the OTel OpenAI instrumentation) nests under the governed span,
which is INTERNAL; usage is counted once per model call (on the client span when there is one, else
on the governed span), cached tokens included in input tokens; the model mismatch check; and the
``openinference.span.kind`` that tells Phoenix which span is the LLM call.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal, get_args

import anthropic
import openai
import pytest
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

import toolchain_sdk as tc
from tests.llm_standin import DEFAULT_TEXT, StandIn, Usage
from toolchain_sdk.testing import SpanRecorder

pytest_plugins = ("tests.conftest_standin",)  # the standin fixtures

Kind = Literal["function", "async", "generator", "async-generator"]
KINDS: tuple[Kind, ...] = get_args(Kind)
Api = Literal["openai.chat", "openai.responses", "anthropic.messages"]
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

# Span attribute names, spelled out: the tests check the wire names, not the SDK's constants.
INPUT = "gen_ai.usage.input_tokens"
OUTPUT = "gen_ai.usage.output_tokens"
CACHE_READ = "gen_ai.usage.cache_read.input_tokens"
CACHE_WRITE = "gen_ai.usage.cache_write.input_tokens"
REASONING = "gen_ai.usage.reasoning.output_tokens"
USAGE_KEYS = (INPUT, OUTPUT, CACHE_READ, CACHE_WRITE, REASONING)
OPERATION = "gen_ai.operation.name"
RESPONSE_MODEL = "gen_ai.response.model"
MISMATCH = "toolchain.model.mismatch"
SPAN_KIND = "openinference.span.kind"

ANTHROPIC_SPAN = "anthropic.messages.create"  # anthropic 2.14's own span name (SPAN_ATTRIBUTES in _tracing.py)
OPENAI_SPAN = "chat gpt-4o"  # opentelemetry-instrumentation-openai-v2: "{operation} {request model}"

MODELS: dict[Api, str] = {
    "openai.chat": "gpt-4o",
    "openai.responses": "gpt-4o",
    "anthropic.messages": "claude-sonnet-4",
}

# (api, whether a client span records the model call). The OpenAI instrumentation 2.4b0 wraps
# Chat Completions and embeddings only, so a Responses call has no client span even when it is on.
WITH_CLIENT_SPAN: list[tuple[Api, bool]] = [("openai.chat", True), ("anthropic.messages", True)]
WITHOUT_CLIENT_SPAN: list[tuple[Api, bool]] = [
    ("openai.chat", False),
    ("openai.responses", False),
    ("anthropic.messages", False),
]


def setup_id(value: object) -> str:
    """Test ids: ``openai.chat+span`` / ``openai.chat`` for the (api, client_span) pairs."""
    if isinstance(value, tuple):
        api, client_span = value
        return f"{api}+span" if client_span else str(api)
    return str(value)


# --- clients and governed functions ----------------------------------------------------------------
def is_async(kind: Kind) -> bool:
    return kind in ("async", "async-generator")


class Clients:
    """Real clients pointed at the stand-in, made on demand (sync or async to suit a kind) and closed after."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self._made: list[Any] = []

    def openai(self, kind: Kind) -> Any:
        cls = openai.AsyncOpenAI if is_async(kind) else openai.OpenAI
        return self._keep(cls(base_url=self.standin.base_url, api_key="test", max_retries=0))

    def anthropic(self, kind: Kind, *, traced: bool) -> Any:
        cls = anthropic.AsyncAnthropic if is_async(kind) else anthropic.Anthropic
        options: dict[str, Any] = {} if traced else {"open_telemetry": False}
        return self._keep(cls(base_url=self.standin.anthropic_base_url, api_key="test", max_retries=0, **options))

    def _keep(self, client: Any) -> Any:
        self._made.append(client)
        return client

    async def close(self) -> None:
        for client in self._made:
            closing = client.close()
            if inspect.isawaitable(closing):
                await closing


def user(question: str) -> list[Any]:
    """The messages of a one-turn conversation (the shape both APIs accept)."""
    return [{"role": "user", "content": question}]


def openai_chat(kind: Kind, client: Any, governed: Decorator) -> Callable[..., Any]:
    """Chat Completions: the response, or for streams the usage chunk (``include_usage``), to ``record_usage``."""
    stream_args = {"stream": True, "stream_options": {"include_usage": True}}
    if kind == "function":

        @governed
        def ask(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
            response = client.chat.completions.create(model=call.model, messages=user(question))
            call.record_usage(response)
            return str(response.choices[0].message.content)

        return ask
    if kind == "async":

        @governed
        async def ask_async(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
            response = await client.chat.completions.create(model=call.model, messages=user(question))
            call.record_usage(response)
            return str(response.choices[0].message.content)

        return ask_async
    if kind == "generator":

        @governed
        def ask_stream(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> Iterator[str]:
            with client.chat.completions.create(model=call.model, messages=user(question), **stream_args) as stream:
                for chunk in stream:
                    if chunk.usage is not None:
                        call.record_usage(chunk)
                    for choice in chunk.choices:
                        if choice.delta.content:
                            yield choice.delta.content

        return ask_stream

    @governed
    async def ask_astream(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> AsyncIterator[str]:
        stream = await client.chat.completions.create(model=call.model, messages=user(question), **stream_args)
        async with stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    call.record_usage(chunk)
                for choice in chunk.choices:
                    if choice.delta.content:
                        yield choice.delta.content

    return ask_astream


def openai_responses(kind: Kind, client: Any, governed: Decorator) -> Callable[..., Any]:
    """Responses: the response, or for streams the ``response.completed`` event, to ``record_usage``."""
    if kind == "function":

        @governed
        def ask(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
            response = client.responses.create(model=call.model, input=question)
            call.record_usage(response)
            return str(response.output_text)

        return ask
    if kind == "async":

        @governed
        async def ask_async(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
            response = await client.responses.create(model=call.model, input=question)
            call.record_usage(response)
            return str(response.output_text)

        return ask_async
    if kind == "generator":

        @governed
        def ask_stream(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> Iterator[str]:
            with client.responses.create(model=call.model, input=question, stream=True) as stream:
                for event in stream:
                    if event.type == "response.output_text.delta":
                        yield event.delta
                    elif event.type == "response.completed":
                        call.record_usage(event)

        return ask_stream

    @governed
    async def ask_astream(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> AsyncIterator[str]:
        stream = await client.responses.create(model=call.model, input=question, stream=True)
        async with stream:
            async for event in stream:
                if event.type == "response.output_text.delta":
                    yield event.delta
                elif event.type == "response.completed":
                    call.record_usage(event)

    return ask_astream


def anthropic_messages(kind: Kind, client: Any, governed: Decorator) -> Callable[..., Any]:
    """Messages: the message, or for streams the stream helper's ``get_final_message()``, to ``record_usage``."""
    if kind == "function":

        @governed
        def ask(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
            message = client.messages.create(model=call.model, max_tokens=256, messages=user(question))
            call.record_usage(message)
            return str(message.content[0].text)

        return ask
    if kind == "async":

        @governed
        async def ask_async(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
            message = await client.messages.create(model=call.model, max_tokens=256, messages=user(question))
            call.record_usage(message)
            return str(message.content[0].text)

        return ask_async
    if kind == "generator":

        @governed
        def ask_stream(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> Iterator[str]:
            with client.messages.stream(model=call.model, max_tokens=256, messages=user(question)) as stream:
                yield from stream.text_stream
                call.record_usage(stream.get_final_message())

        return ask_stream

    @governed
    async def ask_astream(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> AsyncIterator[str]:
        async with client.messages.stream(model=call.model, max_tokens=256, messages=user(question)) as stream:
            async for text in stream.text_stream:
                yield text
            call.record_usage(await stream.get_final_message())

    return ask_astream


BUILDERS = {"openai.chat": openai_chat, "openai.responses": openai_responses, "anthropic.messages": anthropic_messages}

Build = Callable[..., Callable[..., Any]]


async def ask(fn: Callable[..., Any], kind: Kind, question: str = "Where is my refund?") -> str:
    """Call a governed function of any kind and return its whole answer (a stream read to its end)."""
    if kind == "function":
        return str(fn(question))
    if kind == "async":
        return str(await fn(question))
    if kind == "generator":
        return "".join(fn(question))
    return "".join([piece async for piece in fn(question)])


# --- fixtures ----------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _no_outside_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    """No kill switch and no Anthropic tracing settings from the environment running the suite."""
    monkeypatch.delenv("TOOLCHAIN_KILL", raising=False)
    for name in ("ANTHROPIC_OPEN_TELEMETRY", "ANTHROPIC_OPEN_TELEMETRY_PROPAGATION", "OTEL_SEMCONV_STABILITY_OPT_IN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def clients(standin: StandIn) -> AsyncIterator[Clients]:
    """Real clients for the stand-in, closed after the test."""
    made = Clients(standin)
    yield made
    await made.close()


@pytest.fixture
def openai_instrumented() -> Iterator[None]:
    """The OTel OpenAI instrumentation on for this test only (Chat Completions calls get a CLIENT span)."""
    instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call]
    instrumentor.instrument()
    try:
        yield
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def build(clients: Clients, request: pytest.FixtureRequest) -> Build:
    """``build(api, kind, client_span=..., surface=..., model=..., **options)``: a governed function on a real client.

    ``client_span`` turns on the client's own model-call span: Anthropic's built-in tracing, or the
    OpenAI instrumentation (for this test).
    """

    def make(
        api: Api, kind: Kind, *, client_span: bool, surface: str = "rc.ask", model: str | None = None, **options: Any
    ) -> Callable[..., Any]:
        if api.startswith("openai"):
            if client_span:
                request.getfixturevalue("openai_instrumented")
            else:
                assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry, "a test left it on"  # type: ignore[no-untyped-call]
            client = clients.openai(kind)
            provider = "openai"
        else:
            client = clients.anthropic(kind, traced=client_span)
            provider = "anthropic"
        declared = model or MODELS[api]
        governed = tc.governed_call(surface, model=declared, provider=provider, **options)
        return BUILDERS[api](kind, client, governed)

    return make


def answered_model(api: Api) -> str:
    """The model the stand-in answers a surface's default model with (its date snapshot)."""
    return {"openai": "gpt-4o-2024-08-06", "anthropic": "claude-sonnet-4-20250514"}[api.split(".")[0]]


# --- reading spans -----------------------------------------------------------------------------------
def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def trace_of(spans: SpanRecorder, span: ReadableSpan) -> list[ReadableSpan]:
    """Every finished span of ``span``'s trace, the clients' own spans included."""
    trace_id = span.context.trace_id
    return [s for s in spans.exporter.get_finished_spans() if s.context.trace_id == trace_id]


def descendants(spans: SpanRecorder, root: ReadableSpan) -> list[ReadableSpan]:
    """The finished spans beneath ``root`` (children, their children, ...)."""
    members = trace_of(spans, root)
    below = {root.context.span_id}
    found: list[ReadableSpan] = []
    changed = True
    while changed:
        changed = False
        for s in members:
            if s.parent is not None and s.parent.span_id in below and s.context.span_id not in below:
                below.add(s.context.span_id)
                found.append(s)
                changed = True
    return found


def genai_descendants(spans: SpanRecorder, root: ReadableSpan) -> list[ReadableSpan]:
    """The model-call spans beneath ``root``: any span with ``gen_ai.operation.name``."""
    return [s for s in descendants(spans, root) if OPERATION in attrs(s)]


def total(spans: Sequence[ReadableSpan], key: str) -> int:
    """The sum of attribute ``key`` over ``spans`` (what a backend adding up a trace would count)."""
    return sum(int(attrs(s).get(key, 0)) for s in spans)


def assert_child_of(child: ReadableSpan, parent: ReadableSpan) -> None:
    assert child.context.trace_id == parent.context.trace_id, "the client span is in another trace"
    assert child.parent is not None and child.parent.span_id == parent.context.span_id, "not a direct child"
    assert child.start_time is not None and parent.start_time is not None
    assert child.end_time is not None and parent.end_time is not None
    assert parent.start_time <= child.start_time and child.end_time <= parent.end_time, "child outside its parent"


# --- part 1: the stand-in, checked with the real clients -------------------------------------------
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_standin_openai_chat_completions(standin: StandIn, asynchronous: bool) -> None:
    """Chat Completions: JSON with id/model/usage; a stream of chunks whose last one (include_usage) has the usage."""
    cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    client: Any = cls(base_url=standin.base_url, api_key="test", max_retries=0)

    async def maybe(value: Any) -> Any:
        return await value if asynchronous else value

    response = await maybe(client.chat.completions.create(model="gpt-4o", messages=user("hi")))
    assert response.id.startswith("chatcmpl-") and response.object == "chat.completion"
    assert response.model == "gpt-4o-2024-08-06"
    assert response.choices[0].message.content == DEFAULT_TEXT and response.choices[0].finish_reason == "stop"
    u = response.usage
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (42, 7, 49)
    assert u.prompt_tokens_details.cached_tokens == 10 and u.completion_tokens_details.reasoning_tokens == 3

    stream = await maybe(
        client.chat.completions.create(
            model="gpt-4o", messages=user("hi"), stream=True, stream_options={"include_usage": True}
        )
    )
    chunks = [c async for c in stream] if asynchronous else list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == DEFAULT_TEXT
    assert [c.usage is not None for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 42
    assert standin.last.body["stream_options"] == {"include_usage": True}

    stream = await maybe(client.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True))
    chunks = [c async for c in stream] if asynchronous else list(stream)
    assert all(c.usage is None and c.choices for c in chunks), "no usage chunk unless include_usage"
    await maybe(client.close())


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_standin_openai_responses(standin: StandIn, asynchronous: bool) -> None:
    """Responses: a completed Response with usage; a stream from response.created to response.completed."""
    cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    client: Any = cls(base_url=standin.base_url, api_key="test", max_retries=0)

    async def maybe(value: Any) -> Any:
        return await value if asynchronous else value

    response = await maybe(client.responses.create(model="gpt-4o", input="hi"))
    assert response.id.startswith("resp_") and response.object == "response" and response.status == "completed"
    assert response.model == "gpt-4o-2024-08-06" and response.output_text == DEFAULT_TEXT
    u = response.usage
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (42, 7, 49)
    assert u.input_tokens_details.cached_tokens == 10 and u.output_tokens_details.reasoning_tokens == 3

    stream = await maybe(client.responses.create(model="gpt-4o", input="hi", stream=True))
    events = [e async for e in stream] if asynchronous else list(stream)
    types = [e.type for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert types.count("response.output_text.delta") >= 3
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == DEFAULT_TEXT
    assert events[-1].response.usage.input_tokens == 42 and events[0].response.usage is None
    assert standin.last.path == "/v1/responses" and standin.last.body["stream"] is True
    await maybe(client.close())


def test_standin_openai_responses_stream_helper(standin: StandIn) -> None:
    """The Responses stream helper accumulates the events into the final response."""
    client = openai.OpenAI(base_url=standin.base_url, api_key="test", max_retries=0)
    with client.responses.stream(model="gpt-4o", input="hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == DEFAULT_TEXT
    assert final.usage is not None and final.usage.input_tokens == 42
    client.close()


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_standin_anthropic_messages(standin: StandIn, asynchronous: bool) -> None:
    """Messages: a Message with cache usage; raw stream events; the stream helper's final message."""
    cls = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
    client: Any = cls(base_url=standin.anthropic_base_url, api_key="test", max_retries=0, open_telemetry=False)

    async def maybe(value: Any) -> Any:
        return await value if asynchronous else value

    cached = Usage.anthropic(
        input_tokens=5, output_tokens=9, cache_read_input_tokens=100, cache_creation_input_tokens=20
    )
    with standin.answering(usage=cached):
        message = await maybe(client.messages.create(model="claude-sonnet-4", max_tokens=64, messages=user("hi")))
        assert message.id.startswith("msg_") and message.type == "message" and message.role == "assistant"
        assert message.model == "claude-sonnet-4-20250514" and message.stop_reason == "end_turn"
        assert message.content[0].text == DEFAULT_TEXT
        u = message.usage
        assert (u.input_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens) == (5, 100, 20)
        assert u.output_tokens == 9
        assert standin.last.path == "/v1/messages" and standin.last.body["max_tokens"] == 64

        stream = await maybe(
            client.messages.create(model="claude-sonnet-4", max_tokens=64, messages=user("hi"), stream=True)
        )
        events = [e async for e in stream] if asynchronous else list(stream)
        types = [e.type for e in events]
        assert types[:2] == ["message_start", "content_block_start"]
        assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
        assert types.count("content_block_delta") >= 3
        assert events[0].message.usage.cache_read_input_tokens == 100
        assert events[-2].usage.output_tokens == 9 and events[-2].delta.stop_reason == "end_turn"

        if asynchronous:
            async with client.messages.stream(model="claude-sonnet-4", max_tokens=64, messages=user("hi")) as helper:
                text = "".join([t async for t in helper.text_stream])
                final = await helper.get_final_message()
        else:
            with client.messages.stream(model="claude-sonnet-4", max_tokens=64, messages=user("hi")) as helper:
                text = "".join(helper.text_stream)
                final = helper.get_final_message()
        assert text == DEFAULT_TEXT == final.content[0].text
        assert (final.usage.input_tokens, final.usage.output_tokens) == (5, 9)
        assert final.usage.cache_creation_input_tokens == 20
    await maybe(client.close())


def test_standin_answers_per_request_headers_and_restores(standin: StandIn) -> None:
    """Per-request headers override model and usage; answering() is undone after its block; bodies are recorded."""
    client = openai.OpenAI(base_url=standin.base_url, api_key="test", max_retries=0)
    custom = Usage(input_tokens=3, output_tokens=2, cache_read_tokens=0, reasoning_tokens=0)
    response = client.chat.completions.create(
        model="gpt-4o", messages=user("hi"), extra_headers=StandIn.headers(model="other-model", usage=custom)
    )
    assert response.model == "other-model" and response.usage is not None and response.usage.prompt_tokens == 3
    with standin.answering(model="gpt-4o-mini-2024-07-18"):
        assert client.chat.completions.create(model="gpt-4o", messages=user("a")).model == "gpt-4o-mini-2024-07-18"
    assert client.chat.completions.create(model="gpt-4o-2024-05-13", messages=user("b")).model == "gpt-4o-2024-05-13"
    assert [r.body["messages"][0]["content"] for r in standin.received("/v1/chat/completions")] == ["hi", "a", "b"]
    assert standin.last.headers["authorization"] == "Bearer test"
    client.close()


# --- part 2: governed functions around the real clients ----------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
async def test_anthropic_client_span_nests_under_the_governed_span(
    build: Build, spans: SpanRecorder, kind: Kind
) -> None:
    """Anthropic's own CLIENT span (anthropic.messages.create) is a child of the governed span, in its trace."""
    fn = build("anthropic.messages", kind, client_span=True)
    assert await ask(fn, kind) == DEFAULT_TEXT
    governed = spans.one("rc.ask")
    [child] = genai_descendants(spans, governed)
    assert child.name == ANTHROPIC_SPAN and child.kind is SpanKind.CLIENT
    assert child.instrumentation_scope is not None and child.instrumentation_scope.name == "com.anthropic.sdk.python"
    assert_child_of(child, governed)


@pytest.mark.parametrize("kind", KINDS)
async def test_openai_instrumented_span_nests_under_the_governed_span(
    build: Build, spans: SpanRecorder, kind: Kind
) -> None:
    """With the OTel OpenAI instrumentation, its CLIENT span (chat gpt-4o) is a child of the governed span."""
    fn = build("openai.chat", kind, client_span=True)
    assert await ask(fn, kind) == DEFAULT_TEXT
    governed = spans.one("rc.ask")
    [child] = genai_descendants(spans, governed)
    assert child.name == OPENAI_SPAN and child.kind is SpanKind.CLIENT
    assert_child_of(child, governed)


async def test_client_spans_are_off_when_asked(clients: Clients, spans: SpanRecorder) -> None:
    """Anthropic(open_telemetry=False) and an uninstrumented OpenAI client emit no span of their own."""
    clients.anthropic("function", traced=False).messages.create(
        model="claude-sonnet-4", max_tokens=8, messages=user("hi")
    )
    clients.openai("function").chat.completions.create(model="gpt-4o", messages=user("hi"))
    assert spans.exporter.get_finished_spans() == ()


@pytest.mark.parametrize("setup", WITH_CLIENT_SPAN + WITHOUT_CLIENT_SPAN, ids=setup_id)
@pytest.mark.parametrize("kind", KINDS)
async def test_governed_span_is_internal(
    build: Build, spans: SpanRecorder, kind: Kind, setup: tuple[Api, bool]
) -> None:
    """The governed span is kind INTERNAL (the model call is the client's CLIENT span, or no span)."""
    api, client_span = setup
    await ask(build(api, kind, client_span=client_span), kind)
    assert spans.one("rc.ask").kind is SpanKind.INTERNAL


@pytest.mark.parametrize("setup", WITH_CLIENT_SPAN, ids=setup_id)
@pytest.mark.parametrize("kind", KINDS)
async def test_usage_counted_once_on_the_client_span(
    build: Build, spans: SpanRecorder, standin: StandIn, kind: Kind, setup: tuple[Api, bool]
) -> None:
    """With a client span beneath it, the governed span has no token counts but keeps the response model."""
    api, _ = setup
    await ask(build(api, kind, client_span=True), kind)
    governed = spans.one("rc.ask")
    a = attrs(governed)
    assert INPUT not in a and OUTPUT not in a, "usage is on the client span; counting it here doubles it"
    assert a[RESPONSE_MODEL] == answered_model(api)
    assert a[MISMATCH] is False
    [child] = genai_descendants(spans, governed)
    assert (attrs(child)[INPUT], attrs(child)[OUTPUT]) == (standin.usage.input_tokens, standin.usage.output_tokens)
    everything = trace_of(spans, governed)
    assert total(everything, INPUT) == standin.usage.input_tokens
    assert total(everything, OUTPUT) == standin.usage.output_tokens
    assert total(everything, CACHE_READ) <= standin.usage.cache_read_tokens, "cache reads counted twice"
    assert total(everything, REASONING) <= standin.usage.reasoning_tokens, "reasoning tokens counted twice"


@pytest.mark.parametrize("setup", WITHOUT_CLIENT_SPAN, ids=setup_id)
@pytest.mark.parametrize("kind", KINDS)
async def test_usage_on_the_governed_span_without_a_client_span(
    build: Build, spans: SpanRecorder, standin: StandIn, kind: Kind, setup: tuple[Api, bool]
) -> None:
    """Without a client span, the governed span carries what record_usage read, and the trace counts it once."""
    api, _ = setup
    await ask(build(api, kind, client_span=False), kind)
    governed = spans.one("rc.ask")
    a = attrs(governed)
    assert genai_descendants(spans, governed) == []
    u = standin.usage
    assert (a[INPUT], a[OUTPUT], a[CACHE_READ]) == (u.input_tokens, u.output_tokens, u.cache_read_tokens)
    if api.startswith("openai"):
        assert a[REASONING] == u.reasoning_tokens
    assert a[MISMATCH] is False
    everything = trace_of(spans, governed)
    assert everything == [governed]
    assert total(everything, INPUT) == u.input_tokens


@pytest.mark.parametrize("kind", KINDS)
async def test_openai_responses_have_no_client_span_even_when_instrumented(
    build: Build, spans: SpanRecorder, standin: StandIn, kind: Kind
) -> None:
    """The OpenAI instrumentation does not wrap the Responses API, so the governed span keeps its usage."""
    await ask(build("openai.responses", kind, client_span=True), kind)
    governed = spans.one("rc.ask")
    assert genai_descendants(spans, governed) == []
    assert attrs(governed)[INPUT] == standin.usage.input_tokens
    assert total(trace_of(spans, governed), INPUT) == standin.usage.input_tokens
    assert attrs(governed)[SPAN_KIND] == "LLM"


@pytest.mark.parametrize("kind", KINDS)
async def test_anthropic_cache_tokens_fold_into_input_tokens(
    build: Build, spans: SpanRecorder, standin: StandIn, kind: Kind
) -> None:
    """Anthropic input 5 + cache read 100 + cache write 20: the governed span says 125 input tokens."""
    standin.usage = Usage.anthropic(
        input_tokens=5, output_tokens=9, cache_read_input_tokens=100, cache_creation_input_tokens=20
    )
    await ask(build("anthropic.messages", kind, client_span=False), kind)
    a = attrs(spans.one("rc.ask"))
    assert (a[INPUT], a[CACHE_READ], a[CACHE_WRITE], a[OUTPUT]) == (125, 100, 20, 9)


@pytest.mark.parametrize("kind", KINDS)
async def test_anthropic_cache_tokens_counted_once_with_its_client_span(
    build: Build, spans: SpanRecorder, standin: StandIn, kind: Kind
) -> None:
    """With Anthropic's span, it alone holds the 125 input tokens (cache included) and the cache counts."""
    standin.usage = Usage.anthropic(
        input_tokens=5, output_tokens=9, cache_read_input_tokens=100, cache_creation_input_tokens=20
    )
    await ask(build("anthropic.messages", kind, client_span=True), kind)
    governed = spans.one("rc.ask")
    [child] = genai_descendants(spans, governed)
    c = attrs(child)
    assert (c[INPUT], c[CACHE_READ], c[CACHE_WRITE]) == (125, 100, 20)
    everything = trace_of(spans, governed)
    assert (total(everything, INPUT), total(everything, CACHE_READ), total(everything, CACHE_WRITE)) == (125, 100, 20)


@pytest.mark.parametrize("api", ["openai.chat", "openai.responses"])
@pytest.mark.parametrize("kind", KINDS)
async def test_openai_cached_tokens_are_already_in_the_input_tokens(
    build: Build, spans: SpanRecorder, standin: StandIn, kind: Kind, api: Api
) -> None:
    """OpenAI's prompt/input tokens include the cached ones: 50 input with 30 cached stays 50, cache read 30."""
    standin.usage = Usage(input_tokens=50, output_tokens=4, cache_read_tokens=30, reasoning_tokens=2)
    await ask(build(api, kind, client_span=False), kind)
    a = attrs(spans.one("rc.ask"))
    assert (a[INPUT], a[CACHE_READ], a[OUTPUT], a[REASONING]) == (50, 30, 4, 2)
    assert CACHE_WRITE not in a


async def test_anthropic_raw_stream_events_give_the_final_usage(spans: SpanRecorder, clients: Clients) -> None:
    """record_usage on message_start then message_delta: input from the first, final output from the last."""
    client = clients.anthropic("generator", traced=False)

    @tc.governed_call("rc.raw", model="claude-sonnet-4", provider="anthropic")
    def ask_raw(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> Iterator[str]:
        events = client.messages.create(model=call.model, max_tokens=64, messages=user(question), stream=True)
        for event in events:
            if event.type in ("message_start", "message_delta"):
                call.record_usage(event)
            elif event.type == "content_block_delta":
                yield event.delta.text

    assert "".join(ask_raw("hi")) == DEFAULT_TEXT
    a = attrs(spans.one("rc.raw"))
    assert (a[INPUT], a[OUTPUT], a[CACHE_READ]) == (42, 7, 10)
    assert a[SPAN_KIND] == "LLM"


MISMATCH_CASES = [
    ("openai.chat", "gpt-4o-2024-08-06", False),
    ("openai.chat", "gpt-4o-mini-2024-07-18", True),
    ("openai.responses", "gpt-4o-2024-08-06", False),
    ("openai.responses", "gpt-4o-mini-2024-07-18", True),
    ("anthropic.messages", "claude-sonnet-4-20250514", False),
    ("anthropic.messages", "claude-3-5-haiku-20241022", True),
]


@pytest.mark.parametrize("client_span", [False, True], ids=["no-client-span", "client-span"])
@pytest.mark.parametrize(("api", "answered", "mismatch"), MISMATCH_CASES)
async def test_model_mismatch(
    build: Build, spans: SpanRecorder, standin: StandIn, api: Api, answered: str, mismatch: bool, client_span: bool
) -> None:
    """Declared gpt-4o answered by its snapshot is no mismatch; by gpt-4o-mini it is (with or without a client span)."""
    standin.response_model = answered
    await ask(build(api, "function", client_span=client_span), "function")
    a = attrs(spans.one("rc.ask"))
    assert a[RESPONSE_MODEL] == answered
    assert a[MISMATCH] is mismatch


@pytest.mark.parametrize("setup", WITHOUT_CLIENT_SPAN, ids=setup_id)
@pytest.mark.parametrize("kind", KINDS)
async def test_span_kind_llm_when_the_governed_span_is_the_only_record(
    build: Build, spans: SpanRecorder, kind: Kind, setup: tuple[Api, bool]
) -> None:
    """record_usage and no GenAI span beneath: the governed span is the model call for Phoenix (LLM)."""
    api, _ = setup
    await ask(build(api, kind, client_span=False), kind)
    assert attrs(spans.one("rc.ask"))[SPAN_KIND] == "LLM"


@pytest.mark.parametrize("setup", WITH_CLIENT_SPAN, ids=setup_id)
@pytest.mark.parametrize("kind", KINDS)
async def test_span_kind_chain_when_a_client_span_records_the_call(
    build: Build, spans: SpanRecorder, kind: Kind, setup: tuple[Api, bool]
) -> None:
    """A GenAI client span beneath: that span is the LLM call, the governed span a CHAIN around it."""
    api, _ = setup
    await ask(build(api, kind, client_span=True), kind)
    assert attrs(spans.one("rc.ask"))[SPAN_KIND] == "CHAIN"


def test_span_kind_chain_without_record_usage(spans: SpanRecorder) -> None:
    """A governed function that records no usage (no evidence of a model call) is a CHAIN, with no usage."""

    @tc.governed_call("rc.plain", model="gpt-4o", provider="openai")
    def summarise(text: str) -> str:
        return text[:10]

    summarise("nothing to see here")
    a = attrs(spans.one("rc.plain"))
    assert a[SPAN_KIND] == "CHAIN"
    assert not any(key in a for key in USAGE_KEYS)


def canned(question: str) -> str:
    """The deterministic answer while the surface is switched off."""
    return "A person will reply shortly."


@pytest.mark.parametrize("setup", WITH_CLIENT_SPAN + WITHOUT_CLIENT_SPAN, ids=setup_id)
@pytest.mark.parametrize("kind", KINDS)
async def test_kill_switch_fallback_records_no_model_call(
    build: Build,
    spans: SpanRecorder,
    standin: StandIn,
    monkeypatch: pytest.MonkeyPatch,
    kind: Kind,
    setup: tuple[Api, bool],
) -> None:
    """TOOLCHAIN_KILL names the surface: the fallback answers, no request is sent, no usage, not an LLM span."""
    api, client_span = setup
    monkeypatch.setenv("TOOLCHAIN_KILL", "rc.ask")
    fn = build(api, kind, client_span=client_span, fallback=canned)
    assert await ask(fn, kind) == "A person will reply shortly."
    assert standin.requests == []
    governed = spans.one("rc.ask")
    a = attrs(governed)
    assert a["toolchain.outcome"] == "fallback"
    assert not any(key in a for key in USAGE_KEYS)
    assert RESPONSE_MODEL not in a and MISMATCH not in a
    assert SPAN_KIND in a and a[SPAN_KIND] != "LLM"
    assert trace_of(spans, governed) == [governed]


@pytest.mark.parametrize("kind", ["generator", "async-generator"])
async def test_streaming_with_openai_instrumentation_counts_usage_once(
    build: Build, spans: SpanRecorder, standin: StandIn, kind: Kind
) -> None:
    """Generator pattern + include_usage under the instrumentation: the client span alone has the usage."""
    chunks = 0

    fn = build("openai.chat", kind, client_span=True)
    if kind == "generator":
        for _ in fn("hi"):
            chunks += 1
    else:
        async for _ in fn("hi"):
            chunks += 1
    assert chunks == 4
    assert standin.last.body["stream"] is True and standin.last.body["stream_options"] == {"include_usage": True}
    governed = spans.one("rc.ask")
    assert attrs(governed)["toolchain.stream.completed"] is True
    [child] = genai_descendants(spans, governed)
    assert_child_of(child, governed)
    assert attrs(child)[INPUT] == standin.usage.input_tokens
    assert INPUT not in attrs(governed) and OUTPUT not in attrs(governed)
    everything = trace_of(spans, governed)
    assert total(everything, INPUT) == standin.usage.input_tokens
    assert total(everything, OUTPUT) == standin.usage.output_tokens
    assert attrs(governed)[RESPONSE_MODEL] == answered_model("openai.chat")
