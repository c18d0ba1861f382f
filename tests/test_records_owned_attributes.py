"""Body code cannot overwrite what the SDK records: ``call.set_attribute`` on an SDK-owned name is refused.

Under ``TOOLCHAIN_STRICT`` (the test suite) it raises ``ValueError``; in production it is ignored
with one warning and the span keeps what the controls recorded. Names of the application's own
(``app.*``, other ``gen_ai.*``) work as before.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace

import toolchain_sdk as tc
from toolchain_sdk import semconv
from toolchain_sdk.approval import ApprovalRequest, Decision
from toolchain_sdk.flags import FlagEvaluation, FlagTarget
from toolchain_sdk.testing import SpanRecorder

OWNED = sorted(semconv.SDK_OWNED)


def approve(request: ApprovalRequest) -> Decision:
    return request.approve(by="alice", reason="within policy")


def attrs(spans: SpanRecorder, surface: str) -> dict[str, Any]:
    return dict(spans.one(surface).attributes or {})


def owned_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "toolchain_sdk" and "written by the SDK only" in r.getMessage()]


@pytest.fixture
def lenient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production behaviour: TOOLCHAIN_STRICT unset."""
    monkeypatch.delenv("TOOLCHAIN_STRICT", raising=False)


# --- which names are the SDK's -----------------------------------------------------------------
def test_sdk_owned_covers_the_documented_namespaces() -> None:
    """Every toolchain.* and feature_flag.* name, error.type and the gen_ai.* names the SDK writes are owned."""
    for key in ("toolchain.approval.approver", "toolchain.anything.new", "feature_flag.key", "feature_flag.x",
                "error.type", "gen_ai.usage.input_tokens", "gen_ai.response.model", "gen_ai.request.model",
                "gen_ai.usage.cache_read.input_tokens", "gen_ai.response.id", "gen_ai.provider.name"):  # fmt: skip
        assert semconv.sdk_owned(key), key
    for key in (
        "app.x",
        "gen_ai.agent.name",
        "gen_ai.conversation.id",
        "error.detail",
        "toolchainx.y",
        "exception.message",
    ):
        assert not semconv.sdk_owned(key), key


class KillAll:
    """A custom kill-switch source that switches everything off, with a variant and a rule."""

    name = "killall"
    provider_name = "killall-provider"

    def evaluate(self, target: FlagTarget) -> FlagEvaluation:
        return FlagEvaluation(True, "targeting_match", self.name, self.provider_name, variant="off", rule="*")


def test_every_attribute_the_sdk_writes_is_owned(spans: SpanRecorder) -> None:
    """Each attribute the SDK writes (approval, usage, retrieval, kill switch, errors, streams) is SDK-owned."""
    gate = tc.approval.require(approver=tc.approval.callback(approve))

    @tc.governed_call("owned.rich", model="gpt-4o", provider="openai", owner="team", data_class="pii",
                      approval=gate, prompt=tc.Prompt("p", "1", "text"))  # fmt: skip
    def rich(q: str, *, call: tc.GovernedCall) -> str:
        call.record_retrieval("kb", 3)
        call.record_usage(
            {
                "id": "chatcmpl-1",
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [{"finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": 9,
                    "completion_tokens": 2,
                    "prompt_tokens_details": {"cached_tokens": 1},
                    "completion_tokens_details": {"reasoning_tokens": 1},
                },
            },
            cache_write_input_tokens=3,
        )
        return "ok"

    @tc.governed_call("owned.killed", fallback=lambda: "fallback", flags=[KillAll()])
    def killed() -> str:
        return "model"

    @tc.governed_call("owned.error")
    def error() -> None:
        raise ValueError("x")

    @tc.governed_call("owned.stream")
    def stream() -> Iterator[str]:
        yield "a"

    rich("q")
    assert killed() == "fallback"
    with pytest.raises(ValueError):
        error()
    assert list(stream()) == ["a"]
    written = set()
    for span in spans.spans():
        written |= set(span.attributes or {})
    expected_some = {semconv.APPROVAL_APPROVER, semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
                     semconv.FEATURE_FLAG_RESULT_VARIANT, semconv.ERROR_TYPE, semconv.STREAM_CHUNKS,
                     semconv.MODEL_MISMATCH, semconv.GEN_AI_RESPONSE_FINISH_REASONS}  # fmt: skip
    assert expected_some <= written  # the scenario did write these
    assert sorted(k for k in written if not semconv.sdk_owned(k)) == []


# --- strict: the write raises ----------------------------------------------------------------------
@pytest.mark.parametrize("key", [*OWNED, "toolchain.not.yet.used", "feature_flag.context.id"])
def test_setting_an_owned_attribute_raises_under_strict(key: str, spans: SpanRecorder) -> None:
    """Under TOOLCHAIN_STRICT, call.set_attribute on an SDK-owned name raises ValueError naming it."""

    @tc.governed_call("owned.strict")
    def f(*, call: tc.GovernedCall) -> str:
        call.set_attribute(key, "mallory")
        return "ok"

    with pytest.raises(ValueError, match=re.escape(repr(key))):
        f()
    assert "mallory" not in attrs(spans, "owned.strict").values()


def test_setting_an_owned_attribute_in_a_block_raises_under_strict(spans: SpanRecorder) -> None:
    """The same refusal applies to the handle of a governed() block."""
    with pytest.raises(ValueError, match="written by the SDK only"), tc.governed("owned.block") as call:
        call.set_attribute("toolchain.outcome", "ok")
    assert attrs(spans, "owned.block")[semconv.OUTCOME] == "error"


# --- lenient: ignored with one warning -------------------------------------------------------------
@pytest.mark.usefixtures("lenient")
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_overwriting_the_approver_is_ignored_with_one_warning(
    mode: str, spans: SpanRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    """Without strict mode, the body's approver is dropped, warned about once, and the span keeps alice."""
    gate = tc.approval.require(approver=tc.approval.callback(approve))
    caplog.set_level(logging.WARNING, logger="toolchain_sdk")

    def tamper(call: tc.GovernedCall) -> None:
        call.set_attribute("toolchain.approval.approver", "mallory")
        call.set_attribute("toolchain.approval.approver", "mallory")
        call.set_attribute("app.note", "kept")

    if mode == "sync":

        @tc.governed_call("owned.approver", approval=gate)
        def f(*, call: tc.GovernedCall) -> str:
            tamper(call)
            return "ok"

        assert f() == "ok"
        assert f() == "ok"
    else:

        @tc.governed_call("owned.approver", approval=gate)
        async def af(*, call: tc.GovernedCall) -> str:
            tamper(call)
            return "ok"

        assert asyncio.run(af()) == "ok"
        assert asyncio.run(af()) == "ok"
    for span in spans.spans("owned.approver"):
        assert (span.attributes or {})[semconv.APPROVAL_APPROVER] == "alice"
        assert (span.attributes or {})["app.note"] == "kept"
    [warning] = owned_warnings(caplog)
    assert warning.levelno == logging.WARNING
    assert "toolchain.approval.approver" in warning.getMessage() and "owned.approver" in warning.getMessage()


@pytest.mark.usefixtures("lenient")
def test_an_owned_attribute_the_sdk_did_not_record_stays_absent(
    spans: SpanRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    """On a surface with no approval, the body cannot add an approver either."""
    caplog.set_level(logging.WARNING, logger="toolchain_sdk")

    @tc.governed_call("owned.absent")
    def f(*, call: tc.GovernedCall) -> str:
        call.set_attribute("toolchain.approval.approver", "mallory")
        call.set_attribute(semconv.FEATURE_FLAG_RESULT_VARIANT, "forged")
        return "ok"

    assert f() == "ok"
    a = attrs(spans, "owned.absent")
    assert semconv.APPROVAL_APPROVER not in a and semconv.FEATURE_FLAG_RESULT_VARIANT not in a
    assert len(owned_warnings(caplog)) == 2  # one per name


@pytest.mark.usefixtures("lenient")
def test_no_owned_attribute_can_be_changed_from_the_body(spans: SpanRecorder, caplog: pytest.LogCaptureFixture) -> None:
    """Writing every SDK-owned name (twice) leaves the span exactly as an untouched call's, one warning per name."""
    caplog.set_level(logging.WARNING, logger="toolchain_sdk")
    tamper = {"on": False}

    @tc.governed_call("owned.all", model="gpt-4o", provider="openai", owner="team")
    def f(q: str, *, call: tc.GovernedCall) -> str:
        call.record_usage(input_tokens=5, output_tokens=2, response_model="gpt-4o-2024-08-06", response_id="r1")
        if tamper["on"]:
            for _ in range(2):
                for key in OWNED:
                    call.set_attribute(key, "mallory")
        return "ok"

    f("q")
    tamper["on"] = True
    f("q")
    untouched, tampered = (dict(s.attributes or {}) for s in spans.spans("owned.all"))
    assert tampered == untouched
    assert len(owned_warnings(caplog)) == len(OWNED)


def test_recorded_values_win_over_a_direct_write_on_the_span(spans: SpanRecorder) -> None:
    """Written straight on the current span, the approver and outcome are still what the SDK recorded."""
    gate = tc.approval.require(approver=tc.approval.callback(approve))

    @tc.governed_call("owned.raw", model="gpt-4o", approval=gate)
    def f(*, call: tc.GovernedCall) -> str:
        span = trace.get_current_span()
        assert span is call.span
        span.set_attribute(semconv.APPROVAL_APPROVER, "mallory")
        span.set_attribute(semconv.OUTCOME, "forged")
        return "ok"

    f()
    a = attrs(spans, "owned.raw")
    assert (a[semconv.APPROVAL_APPROVER], a[semconv.OUTCOME]) == ("alice", "ok")


@pytest.mark.xfail(
    strict=True,
    reason="beyond call.set_attribute: _core/pipeline.py Surface.begin puts static_attrs (toolchain.surface, "
    "gen_ai.request.model, toolchain.risk, ...) on the span at start only, and Surface._end re-applies only "
    "call.attrs, so a write on call.span / trace.get_current_span() replaces them",
)
def test_declared_values_win_over_a_direct_write_on_the_span(spans: SpanRecorder) -> None:
    """Written straight on the current span, the declared model and risk are kept."""

    @tc.governed_call("owned.raw_static", model="gpt-4o", risk="low")
    def f() -> str:
        span = trace.get_current_span()
        span.set_attribute(semconv.GEN_AI_REQUEST_MODEL, "forged")
        span.set_attribute(semconv.RISK, "forged")
        return "ok"

    f()
    a = attrs(spans, "owned.raw_static")
    assert (a[semconv.GEN_AI_REQUEST_MODEL], a[semconv.RISK]) == ("gpt-4o", "low")


# --- names of the application's own ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("app.x", "y", "y"),
        ("app.count", 3, 3),
        ("gen_ai.conversation.id", "conv-7", "conv-7"),
        ("error.detail", "timeout talking to the CRM", "timeout talking to the CRM"),
    ],
)
def test_custom_names_are_set(key: str, value: object, stored: object, spans: SpanRecorder) -> None:
    """Names the SDK does not own land on the span as given, under strict mode too."""

    @tc.governed_call("owned.custom")
    def f(*, call: tc.GovernedCall) -> str:
        call.set_attribute(key, value)
        return "ok"

    assert f() == "ok"
    assert attrs(spans, "owned.custom")[key] == stored
