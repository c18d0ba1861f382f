"""Capture modes on spans and audit records: ``redacted`` and ``full`` carry content (OpenInference
``input.value`` / ``output.value``), ``hash`` and ``none`` do not, and no mode exports a secret."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import toolchain_sdk as tc
from tests._subproc import run_python
from toolchain_sdk import audit, config, semconv
from toolchain_sdk.testing import SpanRecorder

EMAIL = "ann.lee@corp-mail.net"
KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"  # an OpenAI-shaped key (not a real one)
TICKET = f"Refund order 77 for {EMAIL}; my key is {KEY}"


def test_redacted_mode_records_arguments_and_output_with_pii_and_secrets_out(spans: SpanRecorder) -> None:
    """capture="redacted": input.value is the bound arguments as JSON, output.value the text, both redacted."""

    @tc.governed_call("cap.redacted", capture="redacted")
    def reply(ticket: str, priority: int = 2) -> str:
        return f"Dear customer ({EMAIL}), refund issued. Key: {KEY}"

    reply(TICKET)
    attrs = spans.one("cap.redacted").attributes or {}
    assert attrs[semconv.INPUT_MIME_TYPE] == "application/json"
    arguments = json.loads(str(attrs[semconv.INPUT_VALUE]))
    assert arguments["priority"] == 2
    assert "[EMAIL]" in arguments["ticket"] and "[OPENAI_KEY]" in arguments["ticket"]
    assert attrs[semconv.OUTPUT_MIME_TYPE] == "text/plain"
    output = str(attrs[semconv.OUTPUT_VALUE])
    assert output.startswith("Dear customer ([EMAIL])") and "[OPENAI_KEY]" in output
    assert attrs[semconv.REDACTION_POLICY] == tc.redaction.active_policy().version
    exported = json.dumps(dict(attrs))
    assert EMAIL not in exported and KEY not in exported
    # the hashes are still of the values as given: a reviewer holding the real text can check it
    assert attrs[semconv.OUTPUT_SHA256] == config.hasher().hash_value(
        f"Dear customer ({EMAIL}), refund issued. Key: {KEY}"
    )


def test_full_mode_keeps_personal_data_but_never_secrets(spans: SpanRecorder) -> None:
    """capture="full": content as given (the e-mail stays), but the API key is still removed."""

    @tc.governed_call("cap.full", capture="full")
    def reply(ticket: str) -> dict[str, str]:
        return {"to": EMAIL, "note": f"uses {KEY}"}

    reply(TICKET)
    attrs = spans.one("cap.full").attributes or {}
    assert EMAIL in str(attrs[semconv.INPUT_VALUE])
    assert attrs[semconv.OUTPUT_MIME_TYPE] == "application/json"
    output = json.loads(str(attrs[semconv.OUTPUT_VALUE]))
    assert output["to"] == EMAIL and KEY not in output["note"] and "[OPENAI_KEY]" in output["note"]
    assert KEY not in json.dumps(dict(attrs))


@pytest.mark.parametrize("mode", ["hash", "none"])
def test_hash_and_none_carry_no_content(spans: SpanRecorder, mode: str) -> None:
    """capture="hash" and "none" write no input.value/output.value and no redaction policy."""

    @tc.governed_call(f"cap.{mode}", capture=mode)  # type: ignore[call-overload]
    def reply(ticket: str) -> str:
        return "ok " + EMAIL

    reply(TICKET)
    attrs = spans.one(f"cap.{mode}").attributes or {}
    for key in (semconv.INPUT_VALUE, semconv.OUTPUT_VALUE, semconv.REDACTION_POLICY, semconv.PROMPT_RENDERED):
        assert key not in attrs
    assert EMAIL not in json.dumps(dict(attrs))


@pytest.mark.parametrize("mode", ["none", "hash", "redacted", "full"])
def test_exception_messages_are_kept_with_secrets_scrubbed_in_every_mode(spans: SpanRecorder, mode: str) -> None:
    """Every mode keeps the exception message on the span, with the key taken out."""

    @tc.governed_call(f"cap.err.{mode}", capture=mode)  # type: ignore[call-overload]
    def reply(ticket: str) -> str:
        raise RuntimeError(f"upstream refused key {KEY} for order 77")

    with pytest.raises(RuntimeError):
        reply("t")
    span = spans.one(f"cap.err.{mode}")
    (event,) = [e for e in span.events if e.name == "exception"]
    message = str((event.attributes or {})[semconv.EXCEPTION_MESSAGE])
    assert "upstream refused key" in message and "order 77" in message and KEY not in message
    assert KEY not in str(span.status.description)


def test_generator_output_is_the_concatenation(spans: SpanRecorder) -> None:
    """A streamed output is captured as the concatenation, redacted as a whole (a value split across chunks too)."""

    @tc.governed_call("cap.stream", capture="redacted")
    def stream(ticket: str) -> Iterator[str]:
        yield "Write to ann.lee@"
        yield "corp-mail.net today"

    assert "".join(stream("t")) == f"Write to {EMAIL} today"
    attrs = spans.one("cap.stream").attributes or {}
    assert attrs[semconv.OUTPUT_VALUE] == "Write to [EMAIL] today"


async def test_async_generator_output_is_the_concatenation(spans: SpanRecorder) -> None:
    """The async generator path captures the same way."""

    @tc.governed_call("cap.astream", capture="full")
    async def stream(ticket: str) -> AsyncIterator[str]:
        yield "token "
        yield KEY

    assert [c async for c in stream("t")] == ["token ", KEY]
    attrs = spans.one("cap.astream").attributes or {}
    assert attrs[semconv.OUTPUT_VALUE] == "token [OPENAI_KEY]"


def test_rendered_prompt_is_captured(spans: SpanRecorder) -> None:
    """The prompt rendered with call.prompt.render is recorded (redacted) as toolchain.prompt.rendered."""
    prompt = tc.Prompt("cap_prompt", "1", "Answer {{ customer }} about {{ topic }}")

    @tc.governed_call("cap.prompt", capture="redacted", prompt=prompt)
    def reply(customer: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
        assert call.prompt is not None
        return call.prompt.render(customer=customer, topic="refunds")

    reply(EMAIL)
    attrs = spans.one("cap.prompt").attributes or {}
    assert attrs[semconv.PROMPT_RENDERED] == "Answer [EMAIL] about refunds"


def test_hash_mode_does_not_keep_the_rendered_prompt(spans: SpanRecorder) -> None:
    """Without a content mode, rendering records nothing."""
    prompt = tc.Prompt("cap_prompt_h", "1", "Answer {{ customer }}")

    @tc.governed_call("cap.prompt_hash", prompt=prompt)
    def reply(customer: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
        assert call.prompt is not None
        return call.prompt.render(customer=customer)

    reply(EMAIL)
    assert semconv.PROMPT_RENDERED not in (spans.one("cap.prompt_hash").attributes or {})


def test_values_over_the_cap_are_truncated_with_size_and_hash(spans: SpanRecorder) -> None:
    """A value over capture_max_bytes is cut, marked with its full size and hash, and flagged on the span."""
    config.install_settings(config.resolve(capture_max_bytes=512))  # as configure(capture_max_bytes=512) does
    try:

        @tc.governed_call("cap.big", capture="full")
        def reply(ticket: str) -> str:
            return "é" * 1000  # 2,000 UTF-8 bytes

        reply("short")
        attrs = spans.one("cap.big").attributes or {}
        text = str(attrs[semconv.OUTPUT_VALUE])
        assert len(text.encode("utf-8")) <= 512
        assert text.startswith("é" * 10) and "[truncated: 2000 bytes, sha256 " in text
        assert text.rstrip("]").endswith(config.hasher().hash_value("é" * 1000))
        assert attrs[semconv.OUTPUT_TRUNCATED] is True
        assert semconv.INPUT_TRUNCATED not in attrs
    finally:
        config.reset()


def test_a_bad_cap_is_a_config_error() -> None:
    """capture_max_bytes below 256 is refused with a message naming the setting."""
    with pytest.raises(tc.ConfigError, match="capture_max_bytes"):
        tc.configure(capture_max_bytes=10)


def test_pseudonyms_correlate_across_calls_under_a_hash_key(
    spans: SpanRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a hash key, the same e-mail gets the same pseudonym in two calls, and another e-mail another one."""
    config._hasher = config.Hasher(b"k1")
    monkeypatch.setenv("TOOLCHAIN_HASH_KEY", "k1")

    @tc.governed_call("cap.pseudo", capture="redacted")
    def reply(ticket: str) -> str:
        return ticket

    reply(f"from {EMAIL}")
    reply(f"again {EMAIL} and bob@corp-mail.net")
    first, second = (str((s.attributes or {})[semconv.OUTPUT_VALUE]) for s in spans.spans("cap.pseudo"))
    pseudonym = first.removeprefix("from ")
    assert pseudonym.startswith("[EMAIL:") and len(pseudonym) == len("[EMAIL:12345678]")
    assert second.startswith(f"again {pseudonym} and [EMAIL:") and second.count(pseudonym) == 1


def test_the_body_cannot_forge_content_attributes(spans: SpanRecorder) -> None:
    """input.value and output.value belong to the SDK: set_attribute refuses them (strict mode raises)."""

    @tc.governed_call("cap.forge", capture="redacted")
    def reply(ticket: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
        call.set_attribute(semconv.OUTPUT_VALUE, "forged")
        return "real"

    with pytest.raises(ValueError, match="written by the SDK only"):
        reply("t")


def test_a_custom_policy_changes_what_is_redacted_and_the_recorded_version(spans: SpanRecorder) -> None:
    """configure(redaction=Policy(...)) applies to captured content and its version is on the span."""
    policy = tc.redaction.Policy(disable=["email"], extra=[r"ORDER-\d+"], version="acme-7")
    tc.redaction.use_policy(policy)  # what configure(redaction=policy) does
    try:

        @tc.governed_call("cap.policy", capture="redacted")
        def reply(ticket: str) -> str:
            return f"{EMAIL} asked about ORDER-991"

        reply("t")
        attrs = spans.one("cap.policy").attributes or {}
        assert attrs[semconv.REDACTION_POLICY] == "acme-7"
        output = str(attrs[semconv.OUTPUT_VALUE])
        assert EMAIL in output and "ORDER-991" not in output
    finally:
        tc.redaction.use_policy(None)


def test_configure_refuses_a_policy_of_the_wrong_type() -> None:
    """A redaction argument that is not a Policy is a ConfigError naming the expected type."""
    with pytest.raises(tc.ConfigError, match=r"tc\.redaction\.Policy"):
        tc.configure(redaction="strict")  # type: ignore[arg-type]


# --- capture modes on audit records ------------------------------------------------------------------
CARD = "4111 1111 1111 1111"


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[Path]:
    """A JSONL audit sink in force for the test (configure(audit=...) would replace the suite's exporter)."""
    path = tmp_path / "audit.jsonl"
    audit.use_sink(audit.jsonl(path))
    yield path
    audit.use_sink(None)


def _only_record(path: Path) -> audit.AuditRecord:
    (record,) = list(audit.read(path))
    return record


@pytest.mark.parametrize("mode", ["none", "hash", "redacted", "full"])
def test_every_mode_on_the_record_agrees_with_the_span(spans: SpanRecorder, trail: Path, mode: str) -> None:
    """The record holds what the span holds: nothing (none/hash), redacted content, or content with secrets out."""

    @tc.governed_call(f"cap.rec.{mode}", capture=mode, exclude_args=["client"])  # type: ignore[call-overload]
    def reply(ticket: str, client: str = "", *, call: tc.GovernedCall = tc.INJECTED) -> str:
        return f"Sent to {EMAIL} with {KEY}"

    reply(TICKET, client="client-object-zz91")
    record = _only_record(trail)
    attrs = spans.one(f"cap.rec.{mode}").attributes or {}
    assert record.capture == mode
    exported = trail.read_text(encoding="utf-8") + json.dumps(dict(attrs))
    assert KEY not in exported and "client-object-zz91" not in exported  # secrets and excluded arguments: never
    if mode in ("none", "hash"):
        assert record.input is None and record.output is None and record.redaction_policy is None
        assert EMAIL not in exported
        return
    assert record.redaction_policy == attrs[semconv.REDACTION_POLICY] == tc.redaction.active_policy().version
    assert record.input == json.loads(str(attrs[semconv.INPUT_VALUE]))
    assert record.output == attrs[semconv.OUTPUT_VALUE]
    assert isinstance(record.input, dict) and set(record.input) == {"ticket"}  # not call, not client
    if mode == "redacted":
        assert record.output == "Sent to [EMAIL] with [OPENAI_KEY]" and EMAIL not in exported
    else:
        assert record.output == f"Sent to {EMAIL} with [OPENAI_KEY]"
        assert record.input["ticket"] == f"Refund order 77 for {EMAIL}; my key is [OPENAI_KEY]"


def test_a_stream_and_its_rendered_prompt_are_on_the_record(trail: Path) -> None:
    """A streamed output is recorded as the concatenation; the rendered prompt as prompt_rendered, redacted."""
    prompt = tc.Prompt("cap_rec_prompt", "1", "Write to {{ customer }}")

    @tc.governed_call("cap.rec.stream", capture="redacted", prompt=prompt)
    def stream(customer: str, *, call: tc.GovernedCall = tc.INJECTED) -> Iterator[str]:
        assert call.prompt is not None
        call.prompt.render(customer=customer)
        yield "Dear ann.lee@"
        yield "corp-mail.net, done"

    assert "".join(stream(EMAIL)) == f"Dear {EMAIL}, done"
    record = _only_record(trail)
    assert record.output == "Dear [EMAIL], done"
    assert record.prompt_rendered == "Write to [EMAIL]"


def test_a_value_over_the_cap_is_cut_on_the_record_with_its_size_and_hash(trail: Path) -> None:
    """The record's truncated list names the cut value, its full size and the hash of the whole of it."""
    config.install_settings(config.resolve(capture_max_bytes=300))
    try:

        @tc.governed_call("cap.rec.big", capture="full")
        def reply(ticket: str) -> str:
            return "x" * 5000

        reply("short")
    finally:
        config.reset()
    record = _only_record(trail)
    assert isinstance(record.output, str) and len(record.output.encode("utf-8")) <= 300
    assert [(t.field, t.size, t.sha256) for t in record.truncated] == [
        ("output", 5000, config.hasher().hash_value("x" * 5000))
    ]


def test_the_cap_is_read_from_the_environment() -> None:
    """TOOLCHAIN_CAPTURE_MAX_BYTES sets the cap for a process (a real subprocess, as a deployment sets it)."""
    result = run_python(
        """
        import toolchain_sdk as tc
        from toolchain_sdk import semconv
        from toolchain_sdk.testing import SpanRecorder
        spans = SpanRecorder.install(service_name="cap-env")

        @tc.governed_call("cap.env", capture="redacted")
        def reply(ticket: str) -> str:
            return "y" * 4000

        reply("t")
        attrs = spans.one("cap.env").attributes
        print(len(attrs[semconv.OUTPUT_VALUE].encode()), attrs[semconv.OUTPUT_TRUNCATED])
        """,
        env={"TOOLCHAIN_CAPTURE_MAX_BYTES": "1024"},
    )
    assert result.returncode == 0, result.stderr
    size, truncated = result.stdout.split()
    assert int(size) <= 1024 and truncated == "True"


def test_redacted_mode_takes_personal_data_out_of_exception_messages(spans: SpanRecorder, trail: Path) -> None:
    """capture="redacted" keeps personal data out of exception messages too (event, status, trace, record)."""

    @tc.governed_call("cap.err.pii", capture="redacted")
    def reply(ticket: str) -> str:
        raise ValueError(f"no account for {EMAIL} (key {KEY})")

    with pytest.raises(ValueError):
        reply("t")
    span = spans.one("cap.err.pii")
    (event,) = [e for e in span.events if e.name == "exception"]
    message = str((event.attributes or {})[semconv.EXCEPTION_MESSAGE])
    assert message == "no account for [EMAIL] (key [OPENAI_KEY])"
    assert EMAIL not in str(span.status.description)
    assert EMAIL not in str((event.attributes or {})[semconv.EXCEPTION_STACKTRACE])
    record = _only_record(trail)
    assert record.error_message == "no account for [EMAIL] (key [OPENAI_KEY])"


@pytest.mark.parametrize("mode", ["redacted", "full"])
def test_an_argument_named_as_a_secret_is_never_captured(spans: SpanRecorder, trail: Path, mode: str) -> None:
    """An argument called api_key/password is replaced whole, whatever it holds, in both content modes."""

    @tc.governed_call(f"cap.named.{mode}", capture=mode)  # type: ignore[call-overload]
    def reply(ticket: str, api_key: str, password: str) -> str:
        return "ok"

    reply("hello", api_key="plain-words-key", password="hunter2")
    record = _only_record(trail)
    assert record.input == {"ticket": "hello", "api_key": "[SECRET]", "password": "[SECRET]"}
    exported = trail.read_text(encoding="utf-8") + json.dumps(dict(spans.one(f"cap.named.{mode}").attributes or {}))
    assert "plain-words-key" not in exported and "hunter2" not in exported
