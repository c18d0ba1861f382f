"""Secrets never leave in what the SDK exports: the scrubber, exception text, events, attributes.

``scrub_text`` / ``scrub`` remove secrets only (exception messages keep personal data in every
capture mode, as issue 13 specifies); ``redact`` removes personal data too. The scrubber is checked
on open-ended text with hypothesis; the span checks run every function kind in both capture modes
and look at everything the span carries (``ReadableSpan.to_json``).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

import toolchain_sdk as tc
from toolchain_sdk import flags, semconv
from toolchain_sdk.flags import FlagEvaluation, FlagTarget
from toolchain_sdk.redaction import MAX_DEPTH, TOO_DEEP, redact, scrub, scrub_text
from toolchain_sdk.testing import SpanRecorder

API_KEY = "sk-proj4Xq9TzLmB7vKc2RwY8sD1nFh"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
SSN = "123-45-6789"
CARD = "4111 1111 1111 1111"
SECRETS = {"api key": (API_KEY, "[OPENAI_KEY]"), "aws key": (AWS_KEY, "[AWS_KEY]"), "jwt": (JWT, "[JWT]")}
"""Secrets as they appear in exception text, and the label each becomes."""


# --- what is generated -------------------------------------------------------------------------
def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass the Luhn check (written here, not taken from the SDK)."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # doubled: every second digit from the right of the full number
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return luhn_check_digit(number[:-1]) == number[-1]


def _card_like(n: int) -> bool:
    """An integer whose digits read as a payment card (13-19 digits, Luhn-valid): scrub takes it out."""
    digits = str(abs(n))
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


api_keys = st.from_regex(r"sk-[A-Za-z0-9]{20,48}", fullmatch=True)
ssns = st.builds(
    "{:03d}-{:02d}-{:04d}".format,
    st.integers(1, 899).filter(lambda a: a != 666),
    st.integers(1, 99),
    st.integers(1, 9999),
).filter(lambda n: n not in {"078-05-1120", "457-55-5462", "219-09-9999"})  # advertised fakes, never issued


@st.composite
def cards(draw: st.DrawFn) -> str:
    """A Luhn-valid 16-digit card number (issuer digit 2-6), written plain, in groups of four with spaces, or dashes."""
    payload = draw(st.sampled_from("23456")) + draw(st.text("0123456789", min_size=14, max_size=14))
    number = payload + luhn_check_digit(payload)
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


separators = st.sampled_from([" ", "\n", "\t", ": ", " (", ", ", ' "'])


@st.composite
def clean_text(draw: st.DrawFn) -> str:
    """Prose that holds none of the things the scrubber looks for: words, short numbers, plain punctuation."""
    words = st.text(st.characters(categories=["L"]), min_size=1, max_size=12)
    numbers = st.integers(0, 999_999).map(str)
    parts = draw(st.lists(st.tuples(words, st.none() | numbers), max_size=30))
    seps = [" ", ", ", "\n", "; ", "! ", "? "]
    out = []
    for word, number in parts:  # never two numbers in a row: a run of digit groups could read as a card
        out.append(word)
        out.append(draw(st.sampled_from(seps)))
        if number is not None:
            out.append(number)
            out.append(draw(st.sampled_from(seps)))
    return "".join(out)


# --- scrub_text ----------------------------------------------------------------------------------
@given(prefix=st.text(), key=api_keys, before=separators, after=separators, suffix=st.text())
def test_an_api_key_never_comes_out_of_scrub_text(prefix: str, key: str, before: str, after: str, suffix: str) -> None:
    """Any text holding an ``sk-`` key of 20+ characters as a word of its own comes out without it."""
    out = scrub_text(prefix + before + key + after + suffix)
    assert key not in out
    assert "[OPENAI_KEY]" in out


@given(prefix=st.text(), ssn=ssns, before=separators, after=separators, suffix=st.text())
def test_a_us_ssn_never_comes_out_of_redact(prefix: str, ssn: str, before: str, after: str, suffix: str) -> None:
    """Any text holding a valid-looking US SSN (NNN-NN-NNNN) as a word of its own comes out of redact() without it."""
    out = redact(prefix + before + ssn + after + suffix)
    assert isinstance(out, str) and ssn not in out


@given(prefix=st.text(), card=cards(), suffix=st.text())
def test_a_card_number_never_comes_out_of_redact(prefix: str, card: str, suffix: str) -> None:
    """Any text holding a Luhn-valid 16-digit card number (plain, spaced or dashed) comes out of redact() without it."""
    assert luhn_valid(card.replace(" ", "").replace("-", ""))
    out = redact(f"{prefix} card {card} expires {suffix}")
    assert isinstance(out, str)
    assert card not in out
    assert card.replace(" ", "").replace("-", "") not in out.replace(" ", "").replace("-", "")


@pytest.mark.parametrize(
    "text",
    [f"card {CARD} 12/27", f"card {CARD.replace(' ', '')} 123", f"qty 2 {CARD}"],
    ids=["expiry after", "cvv after", "count before"],
)
def test_a_card_number_next_to_another_number_is_redacted(text: str) -> None:
    """A card number followed by its expiry or CVV (or after a count), space-separated, is still taken out."""
    assert "1111" not in str(redact(text))


def test_scrub_text_removes_cards_and_ssns_but_keeps_other_personal_data() -> None:
    """scrub_text (every exported error text) removes card numbers and SSNs with the secrets; an address stays."""
    assert scrub_text(f"customer {SSN} paid with {CARD}") == "customer [SSN] paid with [CARD]"
    assert scrub_text("mail ann@example.com") == "mail ann@example.com"
    assert redact("mail ann@example.com") == "mail [EMAIL]"


@given(clean_text())
def test_text_without_secrets_comes_out_unchanged(text: str) -> None:
    """Text holding no key, SSN or card number is returned exactly as it was."""
    assert scrub_text(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "sk-short123",  # too short to be a key
        "the risk-assessment-document-v2 is ready",  # 'sk-' inside a word is not a key
        "order 4111111111111112 shipped",  # 16 digits, Luhn-invalid
        "ssn 000-12-3456 and 666-12-3456 are never issued",
        "at 2024-07-18 12:30:45 on gpt-4o-2024-08-06",
        "tokens: 1234 in, 56 out",
    ],
)
def test_near_misses_come_out_unchanged(text: str) -> None:
    """Things that resemble secrets or personal data but are not (short keys, Luhn-invalid numbers, dates) are kept."""
    assert redact(text) == text


@pytest.mark.parametrize(
    ("secret", "label"),
    [
        ("sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv", "ANTHROPIC_KEY"),
        ("AKIAIOSFODNN7EXAMPLE", "AWS_KEY"),
        ("ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2", "GITHUB_TOKEN"),
        ("glpat-" + "Ab12Cd34Ef56Gh78Ij90", "GITLAB_TOKEN"),
        ("xoxb-" + "123456789012-abcdefgh", "SLACK_TOKEN"),
        ("AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "GOOGLE_KEY"),
        (JWT, "JWT"),
        ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "STRIPE_KEY"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "PRIVATE_KEY"),
    ],
    ids=["anthropic", "aws", "github", "gitlab", "slack", "google", "jwt", "stripe", "private key"],
)
def test_vendor_secrets_are_scrubbed(secret: str, label: str) -> None:
    """Each documented key or token format is taken out of surrounding text and replaced by its label."""
    out = scrub_text(f"config: {secret} (from the vault)")
    assert out == f"config: [{label}] (from the vault)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abcdefghijklmnop0123456789", "Authorization: Bearer [BEARER]"),
        ("password=hunter2hunter2 user=bob", "password=[SECRET] user=bob"),
        ("postgres://admin:s3cr3tpass@db.internal:5432/app", "postgres://[URL_CREDENTIALS]@db.internal:5432/app"),
    ],
)
def test_credentials_in_assignments_headers_and_urls_are_scrubbed(text: str, expected: str) -> None:
    """Bearer tokens, ``password=`` assignments and user:password in URLs are taken out; the rest stays."""
    assert scrub_text(text) == expected


# --- scrub --------------------------------------------------------------------------------------
def test_scrub_walks_mappings_and_lists_and_replaces_secret_keys_whole() -> None:
    """Strings anywhere are scrubbed of secrets; values under secret-looking keys are replaced whole; others kept."""
    value = {
        "user": {"name": "Ann", "password": "hunter2", "api_key": {"nested": 1}, "note": f"key {API_KEY}"},
        "items": [SSN, 5, None, True, 2.5, ["deeper", CARD]],
        "Authorization": "Basic Zm9vOmJhcg==",
        "session_id": 42,
    }
    before = json.dumps(value)
    assert scrub(value) == {
        "user": {"name": "Ann", "password": "[SECRET]", "api_key": "[SECRET]", "note": "key [OPENAI_KEY]"},
        "items": ["[SSN]", 5, None, True, 2.5, ["deeper", "[CARD]"]],
        "Authorization": "[SECRET]",
        "session_id": "[SECRET]",
    }
    assert redact(value) == {
        "user": {"name": "Ann", "password": "[SECRET]", "api_key": "[SECRET]", "note": "key [OPENAI_KEY]"},
        "items": ["[SSN]", 5, None, True, 2.5, ["deeper", "[CARD]"]],
        "Authorization": "[SECRET]",
        "session_id": "[SECRET]",
    }
    assert json.dumps(value) == before  # a copy: the caller's value is not touched


@pytest.mark.parametrize(
    "key", ["password", "passwd", "PASSWORD", "api_key", "api-key", "apiKey", "token", "access_token",
            "secret", "client_secret", "private_key", "credentials", "cookie", "authorization"],
)  # fmt: skip
def test_scrub_secret_looking_keys(key: str) -> None:
    """Each secret-looking key name has its value replaced, whatever the value looks like."""
    assert scrub({key: "plain words", "model": "plain words"}) == {key: "[SECRET]", "model": "plain words"}


def nested_lists(depth: int, leaf: object) -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def test_scrub_keeps_nesting_up_to_max_depth() -> None:
    """MAX_DEPTH levels of nesting come back whole (the innermost string scrubbed)."""
    assert scrub(nested_lists(MAX_DEPTH, API_KEY)) == nested_lists(MAX_DEPTH, "[OPENAI_KEY]")


def test_scrub_replaces_what_is_deeper_than_max_depth() -> None:
    """One level more than MAX_DEPTH: the innermost container becomes ``[TOO DEEP]``, the rest stays."""
    assert scrub(nested_lists(MAX_DEPTH + 1, "x")) == nested_lists(MAX_DEPTH, TOO_DEEP)
    assert scrub({"a": nested_lists(MAX_DEPTH, {"b": 1})}) == {"a": nested_lists(MAX_DEPTH - 1, TOO_DEEP)}


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_scrub_never_raises_recursion_error(depth: int) -> None:
    """Nesting far past the interpreter's recursion limit is cut off, not a RecursionError."""
    mixed: object = API_KEY
    for i in range(depth):
        mixed = {"k": mixed} if i % 2 else [mixed]
    out = scrub(mixed)
    text = json.dumps(out) if depth < 5_000 else repr(out)[:10_000]
    assert TOO_DEEP in text and API_KEY not in text


json_leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
SECRET_SHAPE = re.compile(r"sk-[A-Za-z0-9]{16,48}|\d{3}-\d{2}-\d{4}|\d{4}([ -]?)\d{4}\1\d{4}\1\d{4}")


def strings_in(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)


@given(
    st.recursive(
        json_leaves | api_keys | ssns | cards(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=25,
    )
)
def test_no_secret_survives_anywhere_in_a_structure(value: object) -> None:
    """Keys, SSNs and card numbers placed anywhere in a JSON-like structure are gone after redact()."""
    flat = json.dumps(redact(value))
    for text in strings_in(value):
        if SECRET_SHAPE.fullmatch(text):
            assert json.dumps(text) not in flat


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers().filter(lambda n: not _card_like(n)) | clean_text(),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.sampled_from(["name", "model", "amount", "items", "note", "id"]), children, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_a_structure_without_secrets_comes_out_equal(value: object) -> None:
    """Lists, mappings and scalars holding no secret, card number or SSN (under no secret key) come back equal."""
    assert scrub(value) == value


# --- exception text on spans --------------------------------------------------------------------
class ProviderRejected(Exception):
    """A non-builtin exception (qualified error.type)."""

    class Quota(Exception):
        """A nested class: error.type carries the whole qualified name."""


KINDS = ["function", "async", "generator", "async-generator", "method", "block"]


def raise_through(kind: str, surface: str, capture: str, exc: BaseException) -> BaseException:
    """Declare a surface of ``kind`` whose body raises ``exc``, run it, and return what reached the caller."""
    declare = tc.governed_call(surface, capture=capture)  # type: ignore[arg-type]

    def function() -> object:
        @declare
        def f(prompt: str) -> str:
            raise exc

        return f("p")

    def coroutine() -> object:
        @declare
        async def f(prompt: str) -> str:
            await asyncio.sleep(0)
            raise exc

        return asyncio.run(f("p"))

    def generator() -> object:
        @declare
        def f(prompt: str) -> Iterator[str]:
            yield "partial"
            raise exc

        return list(f("p"))

    def async_generator() -> object:
        @declare
        async def f(prompt: str) -> AsyncIterator[str]:
            yield "partial"
            raise exc

        async def drain() -> list[str]:
            return [chunk async for chunk in f("p")]

        return asyncio.run(drain())

    def method() -> object:
        class Client:
            @declare
            def ask(self, prompt: str) -> str:
                raise exc

        return Client().ask("p")

    def block() -> object:
        with tc.governed(surface, capture=capture):  # type: ignore[arg-type]
            raise exc

    runs: dict[str, Callable[[], object]] = {
        "function": function,
        "async": coroutine,
        "generator": generator,
        "async-generator": async_generator,
        "method": method,
        "block": block,
    }
    with pytest.raises(type(exc)) as info:
        runs[kind]()
    return info.value


def exception_event(span: ReadableSpan) -> dict[str, Any]:
    [event] = [e for e in span.events if e.name == semconv.EVENT_EXCEPTION]
    return dict(event.attributes or {})


@pytest.mark.parametrize("capture", ["none", "hash"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("secret", "label"), list(SECRETS.values()), ids=list(SECRETS))
def test_exception_text_is_scrubbed_in_every_mode_and_kind(
    secret: str, label: str, kind: str, capture: str, spans: SpanRecorder
) -> None:
    """A key or token in the exception message: status, exception.message and stack trace carry its label."""
    exc = ValueError(f"provider rejected: {secret}")
    got = raise_through(kind, "scrub.exc", capture, exc)
    assert got is exc and secret in str(got)  # the caller's exception is not touched
    span = spans.one("scrub.exc")
    assert secret not in span.to_json()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == f"ValueError: provider rejected: {label}"
    event = exception_event(span)
    assert event[semconv.EXCEPTION_MESSAGE] == f"provider rejected: {label}"
    assert f"ValueError: provider rejected: {label}" in event[semconv.EXCEPTION_STACKTRACE]
    assert "Traceback (most recent call last)" in event[semconv.EXCEPTION_STACKTRACE]
    assert (span.attributes or {})[semconv.ERROR_TYPE] == "ValueError"


@pytest.mark.parametrize("capture", ["none", "hash"])
@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ValueError("x"), "ValueError"),
        (KeyError("x"), "KeyError"),
        (ProviderRejected("x"), f"{__name__}.ProviderRejected"),
        (ProviderRejected.Quota("x"), f"{__name__}.ProviderRejected.Quota"),
        (json.JSONDecodeError("bad", "doc", 0), "json.decoder.JSONDecodeError"),
    ],
    ids=["ValueError", "KeyError", "custom", "nested", "JSONDecodeError"],
)
def test_error_type_is_the_qualified_class_name(
    exc: BaseException, expected: str, capture: str, spans: SpanRecorder
) -> None:
    """error.type and exception.type: the class name for builtins, module.Qualname otherwise, in each mode."""
    raise_through("function", "scrub.errtype", capture, exc)
    span = spans.one("scrub.errtype")
    assert (span.attributes or {})[semconv.ERROR_TYPE] == expected
    assert exception_event(span)[semconv.EXCEPTION_TYPE] == expected


def test_chained_exception_text_is_scrubbed(spans: SpanRecorder) -> None:
    """A secret in the cause of a chained exception does not reach the stack trace."""

    @tc.governed_call("scrub.chained", capture="none")
    def f() -> None:
        try:
            raise ConnectionError(f"auth failed for {API_KEY}, session {JWT}")
        except ConnectionError as cause:
            raise RuntimeError("provider call failed") from cause

    with pytest.raises(RuntimeError):
        f()
    span = spans.one("scrub.chained")
    assert API_KEY not in span.to_json() and JWT not in span.to_json()
    trace_text = exception_event(span)[semconv.EXCEPTION_STACKTRACE]
    assert "ConnectionError: auth failed for [OPENAI_KEY], session [JWT]" in trace_text
    assert "RuntimeError: provider call failed" in trace_text


def test_password_in_a_dict_repr_in_exception_text_is_scrubbed(spans: SpanRecorder) -> None:
    """``raise ValueError(f"bad payload {payload}")`` with a ``password`` entry: the password does not leave."""
    payload = {"user": "ann", "password": "correct-horse-battery"}

    @tc.governed_call("scrub.dictrepr", capture="none")
    def f() -> None:
        raise ValueError(f"bad payload {payload}")

    with pytest.raises(ValueError):
        f()
    assert "correct-horse-battery" not in spans.one("scrub.dictrepr").to_json()


# --- other exported text ---------------------------------------------------------------------------
class RaisingSource:
    """A custom kill-switch source whose backend error quotes a credential."""

    name = "vault-flags"
    provider_name = "vault"

    def evaluate(self, target: FlagTarget) -> FlagEvaluation:
        raise RuntimeError(f"401 from flag service: token {API_KEY} rejected for {AWS_KEY}")


@pytest.fixture
def raising_source() -> Iterator[RaisingSource]:
    source = RaisingSource()
    flags.set_sources([source])
    yield source
    flags.set_sources(None)


def test_kill_switch_error_message_is_scrubbed(raising_source: RaisingSource, spans: SpanRecorder) -> None:
    """A flag source failing with keys in its message: the flag error message holds their labels."""

    @tc.governed_call("scrub.flagerr", capture="none")
    def f() -> str:
        return "model"

    assert f() == "model"  # kill_default (off) decides
    span = spans.one("scrub.flagerr")
    attrs = span.attributes or {}
    assert attrs[semconv.FEATURE_FLAG_RESULT_REASON] == "error"
    assert attrs[semconv.FEATURE_FLAG_ERROR_MESSAGE] == (
        "vault-flags: 401 from flag service: token [OPENAI_KEY] rejected for [AWS_KEY]"
    )
    assert API_KEY not in span.to_json() and AWS_KEY not in span.to_json()


@pytest.mark.parametrize("capture", ["none", "hash"])
def test_event_attributes_and_text_attributes_are_scrubbed(capture: str, spans: SpanRecorder) -> None:
    """call.add_event and call.set_attribute text holding a key or token is exported with its label."""

    @tc.governed_call("scrub.body", capture=capture)  # type: ignore[arg-type]
    def f(*, call: tc.GovernedCall) -> str:
        call.add_event("app.retry", {"app.reason": f"rejected key {API_KEY}", "app.attempt": 2})
        call.set_attribute("app.note", f"customer {AWS_KEY} paid with {JWT}")
        call.set_attribute("app.request", {"prompt": f"use {API_KEY}", "n": 1})
        return "ok"

    f()
    span = spans.one("scrub.body")
    attrs = span.attributes or {}
    assert attrs["app.note"] == "customer [AWS_KEY] paid with [JWT]"
    assert attrs["app.request"] == json.dumps({"n": 1, "prompt": "use [OPENAI_KEY]"}, separators=(",", ":"))
    [event] = [e for e in span.events if e.name == "app.retry"]
    assert dict(event.attributes or {}) == {"app.reason": "rejected key [OPENAI_KEY]", "app.attempt": 2}
    for secret, _ in SECRETS.values():
        assert secret not in span.to_json()


def test_lists_of_strings_in_attributes_and_events_are_scrubbed(spans: SpanRecorder) -> None:
    """A list of strings given to set_attribute or add_event has each string scrubbed."""

    @tc.governed_call("scrub.lists")
    def f(*, call: tc.GovernedCall) -> str:
        call.set_attribute("app.keys", ["primary", API_KEY])
        call.add_event("app.ids", {"app.keys": [AWS_KEY, "n/a"]})
        return "ok"

    f()
    span = spans.one("scrub.lists")
    assert API_KEY not in span.to_json() and AWS_KEY not in span.to_json()


def test_secret_keys_in_a_mapping_attribute_are_scrubbed(spans: SpanRecorder) -> None:
    """set_attribute with a mapping: values under secret-looking keys are replaced, as scrub() does."""

    @tc.governed_call("scrub.mapping")
    def f(*, call: tc.GovernedCall) -> str:
        call.set_attribute("app.client", {"base_url": "https://api.example", "api_key": "team-shared-0042"})
        return "ok"

    f()
    assert "team-shared-0042" not in spans.one("scrub.mapping").to_json()
