"""``call.record_usage``: tokens, cache and reasoning counts, response model and id from each client's shape.

Shapes are given as plain dicts / namespaces (what the SDK reads by duck typing), and as the real
``openai`` / ``anthropic`` types where those packages are installed. Also ``toolchain.model.mismatch``.
"""

from __future__ import annotations

import json
import logging
import re
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import toolchain_sdk as tc
from tests._subproc import run_python
from toolchain_sdk import config, semconv
from toolchain_sdk._core.response import model_mismatch
from toolchain_sdk.testing import SpanRecorder

IN, OUT = semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS
CACHE_READ, CACHE_WRITE = semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS
REASONING = semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
MODEL, RESPONSE_ID = semconv.GEN_AI_RESPONSE_MODEL, semconv.GEN_AI_RESPONSE_ID
FINISH = semconv.GEN_AI_RESPONSE_FINISH_REASONS
USAGE_KEYS = (IN, OUT, CACHE_READ, CACHE_WRITE, REASONING, MODEL, RESPONSE_ID, FINISH, semconv.MODEL_MISMATCH)


def recorded(
    spans: SpanRecorder, *responses: object, model: str | None = None, surface: str = "usage.x"
) -> dict[str, Any]:
    """Run a surface whose body passes ``responses`` to record_usage; the usage attributes of its span."""

    @tc.governed_call(surface, model=model)
    def f(*, call: tc.GovernedCall) -> str:
        for response in responses:
            call.record_usage(response)
        return "ok"

    f()
    attrs = dict(spans.spans(surface)[-1].attributes or {})
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in attrs.items() if k in USAGE_KEYS}


# --- LangChain messages --------------------------------------------------------------------------
LANGCHAIN_USAGE = {
    "input_tokens": 10,
    "output_tokens": 4,
    "total_tokens": 14,
    "input_token_details": {"cache_read": 3},
    "output_token_details": {"reasoning": 2},
}


class AIMessageLike:
    """A LangChain AIMessage look-alike (a class with attributes, not a dict)."""

    def __init__(self, response_metadata: dict[str, object]) -> None:
        self.id = "run-123"
        self.content = "hello"
        self.usage_metadata = LANGCHAIN_USAGE
        self.response_metadata = response_metadata


@pytest.mark.parametrize("make", [AIMessageLike, lambda meta: SimpleNamespace(id="run-123", content="hello",
                                  usage_metadata=LANGCHAIN_USAGE, response_metadata=meta)],
                         ids=["class", "namespace"])  # fmt: skip
def test_langchain_message(make: Any, spans: SpanRecorder) -> None:
    """A LangChain message: tokens with cache and reasoning, the provider's model and id, never the run id."""
    message = make({"model_name": "gpt-4o-2024-08-06", "id": "chatcmpl-9", "finish_reason": "stop"})
    assert recorded(spans, message, model="gpt-4o") == {
        IN: 10,
        OUT: 4,
        CACHE_READ: 3,
        REASONING: 2,
        MODEL: "gpt-4o-2024-08-06",
        RESPONSE_ID: "chatcmpl-9",
        FINISH: ["stop"],
        semconv.MODEL_MISMATCH: False,
    }
    assert "run-123" not in spans.one("usage.x").to_json()


def test_langchain_message_without_provider_id_has_no_response_id(spans: SpanRecorder) -> None:
    """Without an id in response_metadata, gen_ai.response.id is absent (the message's run id is not used)."""
    message = AIMessageLike({"model_name": "gpt-4o-2024-08-06"})
    got = recorded(spans, message)
    assert RESPONSE_ID not in got
    assert (got[IN], got[OUT], got[MODEL]) == (10, 4, "gpt-4o-2024-08-06")
    assert "run-123" not in spans.one("usage.x").to_json()


# --- provider shapes as dicts ---------------------------------------------------------------------
OPENAI_CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
    "usage": {
        "prompt_tokens": 11,
        "completion_tokens": 7,
        "total_tokens": 18,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    },
}
OPENAI_CHAT_FINAL_CHUNK = {
    "id": "chatcmpl-2",
    "object": "chat.completion.chunk",
    "model": "gpt-4o-2024-08-06",
    "choices": [],
    "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42},
}
RESPONSES_COMPLETED = {
    "type": "response.completed",
    "sequence_number": 9,
    "response": {
        "id": "resp_1",
        "model": "gpt-4o-2024-08-06",
        "usage": {
            "input_tokens": 20,
            "output_tokens": 5,
            "total_tokens": 25,
            "input_tokens_details": {"cached_tokens": 8},
            "output_tokens_details": {"reasoning_tokens": 1},
        },
    },
}
ANTHROPIC_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-20250514",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 5, "output_tokens": 3, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20},
}
OPENAI_CHAT_EXPECTED = {IN: 11, OUT: 7, CACHE_READ: 4, REASONING: 2, MODEL: "gpt-4o-2024-08-06",
                        RESPONSE_ID: "chatcmpl-1", FINISH: ["stop"]}  # fmt: skip
RESPONSES_EXPECTED = {IN: 20, OUT: 5, CACHE_READ: 8, REASONING: 1, MODEL: "gpt-4o-2024-08-06", RESPONSE_ID: "resp_1"}
ANTHROPIC_EXPECTED = {IN: 125, OUT: 3, CACHE_READ: 100, CACHE_WRITE: 20, MODEL: "claude-sonnet-4-20250514",
                      RESPONSE_ID: "msg_1", FINISH: ["end_turn"]}  # fmt: skip


def namespace(value: object) -> object:
    """``value`` with every dict turned into an object with attributes (what client SDK types look like)."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: namespace(v) for k, v in value.items()})
    if isinstance(value, list):
        return [namespace(v) for v in value]
    return value


@pytest.mark.parametrize("as_object", [False, True], ids=["dict", "object"])
@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (OPENAI_CHAT, OPENAI_CHAT_EXPECTED),
        (OPENAI_CHAT_FINAL_CHUNK, {IN: 30, OUT: 12, MODEL: "gpt-4o-2024-08-06", RESPONSE_ID: "chatcmpl-2"}),
        (RESPONSES_COMPLETED, RESPONSES_EXPECTED),
        (RESPONSES_COMPLETED["response"], RESPONSES_EXPECTED),
        (ANTHROPIC_MESSAGE, ANTHROPIC_EXPECTED),
    ],
    ids=["openai-chat", "openai-chat-final-chunk", "openai-responses-completed", "openai-response", "anthropic"],
)
def test_provider_shapes(
    response: dict[str, Any], expected: dict[str, Any], as_object: bool, spans: SpanRecorder
) -> None:
    """Chat Completions, Responses (and its response.completed event) and Anthropic messages, dict or object."""
    assert recorded(spans, namespace(response) if as_object else response) == expected


def test_anthropic_stream_events(spans: SpanRecorder) -> None:
    """message_start gives input (cache folded in) and id; message_delta adds the output count and stop reason."""
    first = {**ANTHROPIC_MESSAGE, "stop_reason": None, "usage": {**ANTHROPIC_MESSAGE["usage"], "output_tokens": 1}}
    start = {"type": "message_start", "message": first}
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 30}}
    assert recorded(spans, start, delta) == {**ANTHROPIC_EXPECTED, OUT: 30}


def test_anthropic_without_cache_fields_counts_plain_input(spans: SpanRecorder) -> None:
    """An Anthropic usage with cache counts of zero: input tokens are the plain count."""
    message = {**ANTHROPIC_MESSAGE, "usage": {"input_tokens": 7, "output_tokens": 2, "cache_read_input_tokens": 0,
                                              "cache_creation_input_tokens": 0}}  # fmt: skip
    got = recorded(spans, message)
    assert (got[IN], got[OUT], got[CACHE_READ], got[CACHE_WRITE]) == (7, 2, 0, 0)


# --- the real client types ---------------------------------------------------------------------------
def test_real_openai_chat_completion(spans: SpanRecorder) -> None:
    """An ``openai`` ChatCompletion with cached and reasoning token details."""
    openai_chat = pytest.importorskip("openai.types.chat")
    response = openai_chat.ChatCompletion.model_validate({**OPENAI_CHAT, "created": 1})
    assert recorded(spans, response) == OPENAI_CHAT_EXPECTED


def test_real_openai_chat_final_stream_chunk(spans: SpanRecorder) -> None:
    """The last ``openai`` ChatCompletionChunk of a stream with include_usage."""
    openai_chat = pytest.importorskip("openai.types.chat")
    chunk = openai_chat.ChatCompletionChunk.model_validate({**OPENAI_CHAT_FINAL_CHUNK, "created": 1})
    assert recorded(spans, chunk) == {IN: 30, OUT: 12, MODEL: "gpt-4o-2024-08-06", RESPONSE_ID: "chatcmpl-2"}


def real_response(openai_responses: Any) -> Any:
    usage = RESPONSES_COMPLETED["response"]["usage"]  # type: ignore[index]
    body = {
        **RESPONSES_COMPLETED["response"],  # type: ignore[dict-item]
        # newer openai releases require cache_write_tokens here; 0 keeps the expected counts the same
        "usage": {**usage, "input_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 0}},
        "object": "response",
        "created_at": 1,
        "output": [],
        "parallel_tool_calls": False,
        "tool_choice": "auto",
        "tools": [],
    }
    return openai_responses.Response.model_validate(body)


def test_real_openai_response_and_completed_event(spans: SpanRecorder) -> None:
    """An ``openai`` Responses Response, and the ResponseCompletedEvent that carries it at the end of a stream."""
    openai_responses = pytest.importorskip("openai.types.responses")
    response = real_response(openai_responses)
    event = openai_responses.ResponseCompletedEvent(type="response.completed", sequence_number=9, response=response)
    assert recorded(spans, response, surface="usage.response") == RESPONSES_EXPECTED
    assert recorded(spans, event, surface="usage.event") == RESPONSES_EXPECTED


def test_real_anthropic_message_and_stream_events(spans: SpanRecorder) -> None:
    """An ``anthropic`` Message, and its message_start / message_delta stream events."""
    anthropic_types = pytest.importorskip("anthropic.types")
    message = anthropic_types.Message.model_validate({**ANTHROPIC_MESSAGE, "stop_sequence": None})
    assert recorded(spans, message, surface="usage.message") == ANTHROPIC_EXPECTED
    start = anthropic_types.RawMessageStartEvent.model_validate(
        {"type": "message_start", "message": {**ANTHROPIC_MESSAGE, "stop_reason": None, "stop_sequence": None}}
    )
    delta = anthropic_types.RawMessageDeltaEvent.model_validate(
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 30}}
    )  # fmt: skip
    assert recorded(spans, start, delta, surface="usage.stream") == {**ANTHROPIC_EXPECTED, OUT: 30}


# --- nothing found -------------------------------------------------------------------------------------
def usage_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "toolchain_sdk" and "found no token usage" in r.getMessage()
    ]


@pytest.mark.parametrize("unknown", [object(), {"foo": 1}, "a plain string", SimpleNamespace(text="hi")],
                         ids=["object", "dict", "str", "namespace"])  # fmt: skip
def test_unknown_object_records_nothing_and_warns_once_per_surface(
    unknown: object, spans: SpanRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    """An object with no usage: no gen_ai.usage/response attribute, one warning per surface however often."""
    caplog.set_level(logging.WARNING, logger="toolchain_sdk")
    for _ in range(3):
        assert recorded(spans, unknown, unknown, model="gpt-4o", surface="usage.unknown_a") == {}
    assert len(usage_warnings(caplog)) == 1
    assert "usage.unknown_a" in usage_warnings(caplog)[0]
    assert recorded(spans, unknown, surface="usage.unknown_b") == {}
    assert len(usage_warnings(caplog)) == 2  # another surface warns on its own


def test_explicit_counts_with_a_response_do_not_warn(spans: SpanRecorder, caplog: pytest.LogCaptureFixture) -> None:
    """Explicit token counts alongside an unknown object are recorded, and nothing is warned."""
    caplog.set_level(logging.WARNING, logger="toolchain_sdk")

    @tc.governed_call("usage.explicit")
    def f(*, call: tc.GovernedCall) -> str:
        call.record_usage(object(), input_tokens=3, output_tokens=1)
        return "ok"

    f()
    a = spans.one("usage.explicit").attributes or {}
    assert (a[IN], a[OUT]) == (3, 1)
    assert usage_warnings(caplog) == []


# --- toolchain.model.mismatch ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("requested", "answered", "aliases", "mismatch"),
    [
        ("gpt-4o", "gpt-4o", {}, False),
        ("gpt-4o", "gpt-4o-2024-08-06", {}, False),
        ("gpt-4o", "gpt-4o-mini-2024-07-18", {}, True),
        ("gpt-4o", "gpt-4o-mini", {}, True),
        ("gpt-4o-2024-08-06", "gpt-4o-2024-08-06", {}, False),
        ("gpt-4o-2024-08-06", "gpt-4o-2024-05-13", {}, True),
        ("gpt-4o-2024-08-06", "gpt-4o", {}, True),
        ("claude-sonnet-4-20250514", "claude-sonnet-4-20250514", {}, False),
        ("claude-sonnet-4", "claude-sonnet-4-20250514", {}, False),
        ("claude-sonnet-4-0", "claude-sonnet-4-20250514", {}, True),
        ("claude-sonnet-4-0", "claude-sonnet-4-20250514", {"claude-sonnet-4-0": "claude-sonnet-4-20250514"}, False),
        ("claude-sonnet-4-0", "claude-opus-4-20250514", {"claude-sonnet-4-0": "claude-sonnet-4-20250514"}, True),
        ("claude-3-5-sonnet", "claude-3-5-sonnet@20240620", {}, False),
        ("claude-3-5-sonnet", "claude-3-5-haiku@20241022", {}, True),
        ("claude-3-5-sonnet@20240620", "claude-3-5-sonnet@20240620", {}, False),
        ("claude-3-5-sonnet@20240620", "claude-3-5-sonnet@20241022", {}, True),
        ("claude-x", "claude-x-2", {}, True),  # "-2" is not a date snapshot
    ],
)
def test_model_mismatch_rule(requested: str, answered: str, aliases: dict[str, str], mismatch: bool) -> None:
    """Same name plus a date snapshot matches; a pinned request must match exactly; aliases resolve."""
    assert model_mismatch(requested, answered, aliases) is mismatch


DATED = re.compile(r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8})$")
model_names = st.from_regex(r"[a-z][a-z0-9]{1,8}(-[a-z0-9]{1,6}){0,3}", fullmatch=True).filter(
    lambda m: not DATED.search(m)
)
snapshots = st.one_of(
    st.dates().map(lambda d: "-" + d.isoformat()),
    st.dates().map(lambda d: "-" + d.strftime("%Y%m%d")),
    st.dates().map(lambda d: "@" + d.strftime("%Y%m%d")),
).filter(lambda s: len(s) in (9, 11))


@given(model=model_names, snapshot=snapshots, other=model_names)
def test_model_mismatch_properties(model: str, snapshot: str, other: str) -> None:
    """Any name matches itself and itself plus a date snapshot; a different name never matches."""
    assert not model_mismatch(model, model, {})
    assert not model_mismatch(model, model + snapshot, {})
    assert model_mismatch(model + snapshot, model, {})  # a pinned request is not answered by the bare name
    if other != model:
        assert model_mismatch(model, other + snapshot, {})
        assert not model_mismatch(model, other, {model: other})


@pytest.mark.parametrize(
    ("declared", "answered", "mismatch"),
    [
        ("gpt-4o", "gpt-4o-mini-2024-07-18", True),
        ("gpt-4o", "gpt-4o-2024-08-06", False),
        ("gpt-4o-2024-08-06", "gpt-4o-2024-05-13", True),
        ("claude-sonnet-4-0", "claude-sonnet-4-20250514", True),
    ],
)
def test_record_usage_sets_model_mismatch(declared: str, answered: str, mismatch: bool, spans: SpanRecorder) -> None:
    """record_usage compares the response model with the surface's declared model."""
    got = recorded(spans, {**OPENAI_CHAT, "model": answered}, model=declared)
    assert got[semconv.MODEL_MISMATCH] is mismatch


def test_model_aliases_from_settings_are_used(spans: SpanRecorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """With model_aliases in the settings, an alias answered by what it resolves to is no mismatch."""
    aliased = config.current_settings().model_copy(
        update={"model_aliases": {"claude-sonnet-4-0": "claude-sonnet-4-20250514"}}
    )
    monkeypatch.setattr(config, "_settings", aliased)
    assert recorded(spans, ANTHROPIC_MESSAGE, model="claude-sonnet-4-0")[semconv.MODEL_MISMATCH] is False
    assert recorded(spans, {**ANTHROPIC_MESSAGE, "model": "claude-opus-4-20250514"}, model="claude-sonnet-4-0",
                    surface="usage.y")[semconv.MODEL_MISMATCH] is True  # fmt: skip


def test_no_mismatch_without_a_declared_model_or_a_response_model(spans: SpanRecorder) -> None:
    """No declared model, or no model in the response: toolchain.model.mismatch is not set."""
    assert semconv.MODEL_MISMATCH not in recorded(spans, OPENAI_CHAT)
    no_model = {k: v for k, v in OPENAI_CHAT.items() if k != "model"}
    assert semconv.MODEL_MISMATCH not in recorded(spans, no_model, model="gpt-4o", surface="usage.y")


def test_configure_model_aliases_in_a_process() -> None:
    """tc.configure(model_aliases=...) is what record_usage uses for toolchain.model.mismatch."""
    code = """
    import json, toolchain_sdk as tc
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    exporter = InMemorySpanExporter()
    tc.configure(span_exporter=exporter, batch=False,
                 model_aliases={"claude-sonnet-4-0": "claude-sonnet-4-20250514"})

    @tc.governed_call("usage.alias", model="claude-sonnet-4-0")
    def f(answered, *, call):
        call.record_usage({"model": answered, "usage": {"input_tokens": 1, "output_tokens": 1}})

    f("claude-sonnet-4-20250514")
    f("claude-sonnet-4-20250601")
    print(json.dumps([s.attributes["toolchain.model.mismatch"] for s in exporter.get_finished_spans()]))
    """
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [False, True]
