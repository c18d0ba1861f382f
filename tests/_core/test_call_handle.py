"""The GovernedCall handle: injection, current_call(), usage, retrieval, custom attributes, blocks."""

from __future__ import annotations

import asyncio
import hashlib
from types import SimpleNamespace
from typing import Any

import pytest

import toolchain_sdk as tc
from toolchain_sdk.testing import SpanRecorder


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_call_is_injected_and_is_current(spans: SpanRecorder) -> None:
    """A declared `call` parameter receives the handle, the same object current_call() returns."""
    seen: list[Any] = []

    @tc.governed_call("handle.inject", model="gpt-x", provider="openai", owner="o")
    def f(q: str, *, call: tc.GovernedCall) -> str:
        seen.append((call, tc.current_call()))
        return q

    f("hi")
    call, current = seen[0]
    assert call is current
    assert (call.surface, call.model, call.provider, call.owner, call.risk) == (
        "handle.inject",
        "gpt-x",
        "openai",
        "o",
        "low",
    )
    assert tc.current_call() is None
    assert (spans.one("handle.inject").attributes or {})["toolchain.input.sha256"] == sha('{"q":"hi"}')


def test_passing_call_is_a_type_error() -> None:
    """Callers cannot pass `call`, by keyword or by position."""

    @tc.governed_call("handle.nopass")
    def f(q: str, call: tc.GovernedCall | None = None) -> str:
        return q

    with pytest.raises(TypeError, match="injected"):
        f("x", call=None)
    with pytest.raises(TypeError, match="injected"):
        f("x", None)  # type: ignore[misc]


def test_method_call_injection_counts_self() -> None:
    """On a method, one positional argument after self is not mistaken for `call`."""

    class Svc:
        @tc.governed_call("handle.method")
        def run(self, q: str, call: tc.GovernedCall | None = None) -> str:
            assert call is tc.current_call()
            return q

    assert Svc().run("ok") == "ok"
    with pytest.raises(TypeError):
        Svc().run("ok", None)  # type: ignore[misc]


def test_current_call_crosses_await_and_nested_functions() -> None:
    """current_call() is the same handle after awaits, in helpers and in child tasks; None outside."""

    async def helper() -> tc.GovernedCall | None:
        await asyncio.sleep(0)
        return tc.current_call()

    @tc.governed_call("handle.async")
    async def f(*, call: tc.GovernedCall) -> list[Any]:
        a = await helper()
        b = await asyncio.create_task(helper())
        return [call, a, b]

    call, a, b = asyncio.run(f())
    assert call is a is b
    assert tc.current_call() is None


def test_current_call_is_none_when_tracing_has_no_span() -> None:
    """Outside any governed call there is no current call."""
    assert tc.current_call() is None


OPENAI_STYLE = SimpleNamespace(
    id="chatcmpl-1", model="gpt-4o-mini-2024-07-18", usage=SimpleNamespace(prompt_tokens=11, completion_tokens=7)
)
ANTHROPIC_STYLE = {"id": "msg_1", "model": "claude-x-2", "usage": {"input_tokens": 5, "output_tokens": 3}}
RESPONSES_STYLE = {"id": "resp_1", "model": "gpt-4o-mini", "usage": {"input_tokens": 2, "output_tokens": 9}}


@pytest.mark.parametrize(
    ("model", "response", "expected"),
    [
        ("gpt-4o-mini", OPENAI_STYLE, (11, 7, "gpt-4o-mini-2024-07-18", "chatcmpl-1", False)),
        ("claude-x-2", ANTHROPIC_STYLE, (5, 3, "claude-x-2", "msg_1", False)),
        ("claude-x", ANTHROPIC_STYLE, (5, 3, "claude-x-2", "msg_1", True)),  # "-2" is not a date snapshot
        ("gpt-4o-mini", RESPONSES_STYLE, (2, 9, "gpt-4o-mini", "resp_1", False)),
        ("gpt-4o", RESPONSES_STYLE, (2, 9, "gpt-4o-mini", "resp_1", True)),  # a prefix is not the same model
        ("claude-y", ANTHROPIC_STYLE, (5, 3, "claude-x-2", "msg_1", True)),
    ],
)
def test_record_usage_reads_openai_and_anthropic_shapes(
    model: str, response: object, expected: tuple[Any, ...], spans: SpanRecorder
) -> None:
    """record_usage extracts tokens, response model and id from vendor-shaped objects and dicts."""

    @tc.governed_call("handle.usage", model=model)
    def f(*, call: tc.GovernedCall) -> str:
        call.record_usage(response)
        return "ok"

    f()
    a = spans.one("handle.usage").attributes or {}
    got = (
        a["gen_ai.usage.input_tokens"],
        a["gen_ai.usage.output_tokens"],
        a["gen_ai.response.model"],
        a["gen_ai.response.id"],
        a["toolchain.model.mismatch"],
    )
    assert got == expected


def test_record_usage_explicit_values_win(spans: SpanRecorder) -> None:
    """Explicit token counts override what the response object says."""

    @tc.governed_call("handle.usage2")
    def f(*, call: tc.GovernedCall) -> str:
        call.record_usage(ANTHROPIC_STYLE, input_tokens=100)
        call.record_usage(output_tokens=1)
        return "ok"

    f()
    a = spans.one("handle.usage2").attributes or {}
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (100, 1)


def test_retrieval_and_custom_attributes(spans: SpanRecorder) -> None:
    """record_retrieval and set_attribute land on the span; non-OTel values are stored as canonical JSON."""

    @tc.governed_call("handle.attrs")
    def f(*, call: tc.GovernedCall) -> str:
        call.record_retrieval("kb-articles", 42)
        call.set_attribute("app.ticket", {"id": 7, "tier": "gold"})
        call.set_attribute("app.tags", ["a", "b"])
        call.set_attribute("app.unserialisable", object())
        return "ok"

    f()
    a = spans.one("handle.attrs").attributes or {}
    assert a["toolchain.retrieval.index"] == "kb-articles"
    assert a["toolchain.retrieval.version"] == "42"
    assert a["gen_ai.data_source.id"] == "kb-articles"
    assert a["app.ticket"] == '{"id":7,"tier":"gold"}'
    assert tuple(a["app.tags"]) == ("a", "b")  # type: ignore[arg-type]
    assert "app.unserialisable" not in a


def test_record_output_overrides_return_value(spans: SpanRecorder) -> None:
    """An explicit record_output() is what gets hashed, not the wrapper object returned."""

    @tc.governed_call("handle.output")
    def f(*, call: tc.GovernedCall) -> dict[str, str]:
        call.record_output("the text")
        return {"wrapped": "the text"}

    f()
    assert (spans.one("handle.output").attributes or {})["toolchain.output.sha256"] == sha("the text")


def test_context_manager_records_output(spans: SpanRecorder) -> None:
    """`with tc.governed(...)` emits one span with the recorded output's hash and the declared model."""
    with tc.governed("blocks.answer", model="claude-x", provider="anthropic") as call:
        assert tc.current_call() is call
        call.record_output({"answer": "yes", "score": 1})
    assert tc.current_call() is None
    a = spans.one("blocks.answer").attributes or {}
    assert a["gen_ai.request.model"] == "claude-x"
    assert a["toolchain.output.sha256"] == sha('{"answer":"yes","score":1}')
    assert "toolchain.input.sha256" not in a  # a block has no arguments


def test_context_manager_without_output_has_no_output_hash(spans: SpanRecorder) -> None:
    """A block that records nothing has no output hash (not the hash of None)."""
    with tc.governed("blocks.silent"):
        pass
    assert "toolchain.output.sha256" not in (spans.one("blocks.silent").attributes or {})


def test_context_manager_error_propagates(spans: SpanRecorder) -> None:
    """An exception leaving the block propagates unchanged and marks the span."""
    err = RuntimeError("x")
    with pytest.raises(RuntimeError) as info, tc.governed("blocks.error"):
        raise err
    assert info.value is err
    assert (spans.one("blocks.error").attributes or {})["toolchain.outcome"] == "error"


def test_async_context_manager(spans: SpanRecorder) -> None:
    """`async with tc.governed(...)` works across awaits."""

    async def main() -> None:
        async with tc.governed("blocks.async") as call:
            await asyncio.sleep(0)
            assert tc.current_call() is call
            call.record_output("done")

    asyncio.run(main())
    assert (spans.one("blocks.async").attributes or {})["toolchain.output.sha256"] == sha("done")


def test_capture_none_records_no_hashes(spans: SpanRecorder) -> None:
    """capture='none' keeps metadata only: no input or output hash."""

    @tc.governed_call("capture.none", capture="none")
    def f(x: str) -> str:
        return x

    f("secret")
    a = spans.one("capture.none").attributes or {}
    assert a["toolchain.capture.mode"] == "none"
    assert "toolchain.input.sha256" not in a and "toolchain.output.sha256" not in a


def test_prompt_object_on_span_and_handle(spans: SpanRecorder) -> None:
    """A Prompt's name, version and template hash are on the span and render through call.prompt."""
    prompt = tc.Prompt("refund_policy", "3", "Refund for {{ customer }}?")

    @tc.governed_call("prompt.obj", prompt=prompt)
    def f(customer: str, *, call: tc.GovernedCall) -> str:
        assert call.prompt is not None
        return call.prompt.render(customer=customer)

    assert f("Ann") == "Refund for Ann?"
    a = spans.one("prompt.obj").attributes or {}
    assert (a["gen_ai.prompt.name"], a["gen_ai.prompt.version"]) == ("refund_policy", "3")
    assert a["toolchain.prompt.sha256"] == sha("Refund for {{ customer }}?")


def test_prompt_file_reference(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, spans: SpanRecorder) -> None:
    """prompt='name@version' loads prompts/<name>@<version>.txt at decoration time."""
    (tmp_path / "greet@2.txt").write_text("Hello {{ name }}", encoding="utf-8")
    monkeypatch.setenv("TOOLCHAIN_PROMPTS_DIR", str(tmp_path))

    @tc.governed_call("prompt.file", prompt="greet@2")
    def f(*, call: tc.GovernedCall) -> str:
        assert call.prompt is not None
        return call.prompt.render(name="Bo")

    assert f() == "Hello Bo"
    assert (spans.one("prompt.file").attributes or {})["gen_ai.prompt.version"] == "2"
