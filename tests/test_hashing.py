"""Hashes a reviewer can recompute: checked against hashlib/hmac computed independently."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

import toolchain_sdk as tc
from toolchain_sdk import config
from toolchain_sdk.hashing import Hasher, canonical_json, key_id
from toolchain_sdk.testing import SpanRecorder

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def independent_canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@given(st.text())
def test_text_hash_is_sha256_of_utf8(text: str) -> None:
    """A str hashes as SHA-256 of its UTF-8 bytes."""
    assert Hasher().hash_value(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()


@given(st.binary())
def test_bytes_hash_is_sha256_of_bytes(data: bytes) -> None:
    """bytes hash as themselves."""
    assert Hasher().hash_value(data) == hashlib.sha256(data).hexdigest()


@given(json_values.filter(lambda v: not isinstance(v, (str, bytes))))
def test_other_values_hash_as_canonical_json(value: Any) -> None:
    """Anything else hashes as its canonical JSON (sorted keys, no whitespace)."""
    assert Hasher().hash_value(value) == hashlib.sha256(independent_canonical(value)).hexdigest()


@given(st.dictionaries(st.text(max_size=5), st.integers(), max_size=6))
def test_canonical_json_ignores_key_order(d: dict[str, int]) -> None:
    """Dicts with the same items in another order have the same canonical form."""
    reordered = dict(reversed(list(d.items())))
    assert canonical_json(d) == canonical_json(reordered)


@given(st.text(), st.text(min_size=1))
def test_hmac_with_key(text: str, key: str) -> None:
    """With a key every hash is HMAC-SHA256 and the key id never contains the key."""
    h = Hasher(key.encode())
    assert h.hash_value(text) == hmac.new(key.encode(), text.encode("utf-8"), hashlib.sha256).hexdigest()
    assert h.alg == "hmac-sha256"
    assert h.key_id == key_id(key.encode()) and len(h.key_id) == 12


@given(st.lists(st.text(), max_size=8), st.sampled_from([None, b"k3y"]))
def test_text_stream_hash_equals_whole_text(chunks: list[str], key: bytes | None) -> None:
    """A stream of str chunks hashes like the concatenated text, keyed or not."""
    h = Hasher(key)
    stream = h.stream()
    for c in chunks:
        stream.update(c)
    assert stream.hexdigest() == h.hash_value("".join(chunks))
    assert stream.chunks == len(chunks)


@given(st.lists(st.dictionaries(st.text(max_size=3), st.integers(), max_size=3), min_size=1, max_size=6))
def test_object_stream_hash_is_canonical_json_list(chunks: list[dict[str, int]]) -> None:
    """A stream of non-text chunks hashes as the canonical JSON list of the chunks."""
    stream = Hasher().stream()
    for c in chunks:
        stream.update(c)
    assert stream.hexdigest() == hashlib.sha256(independent_canonical(chunks)).hexdigest()


def test_mixed_stream_is_refused() -> None:
    """Mixing text and object chunks has no defined hash and says so."""
    stream = Hasher().stream()
    stream.update("a")
    with pytest.raises(TypeError):
        stream.update({"b": 1})


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Ticket(pydantic.BaseModel):
    id: int
    body: str


def test_dataclasses_and_pydantic_hash_by_fields() -> None:
    """Dataclasses and pydantic models hash as the canonical JSON of their fields."""
    h = Hasher()
    assert h.hash_value(Point(1, 2)) == hashlib.sha256(b'{"x":1,"y":2}').hexdigest()
    assert h.hash_value(Ticket(id=3, body="é")) == hashlib.sha256('{"body":"é","id":3}'.encode()).hexdigest()


def test_unhashable_values_are_refused_clearly() -> None:
    """A value with no canonical form raises TypeError naming its type; NaN raises ValueError."""
    with pytest.raises(TypeError, match="object"):
        canonical_json(object())
    with pytest.raises(ValueError):
        canonical_json(float("nan"))


def test_span_uses_hmac_when_key_configured(monkeypatch: pytest.MonkeyPatch, spans: SpanRecorder) -> None:
    """With TOOLCHAIN_HASH_KEY the span says hmac-sha256 with the key id, and the hash is the HMAC."""
    monkeypatch.setenv("TOOLCHAIN_HASH_KEY", "s3cret")
    config._hasher = None  # re-read from the environment, as a fresh process would
    config._settings = None

    @tc.governed_call("hash.keyed")
    def f() -> str:
        return "alice@example.com"

    f()
    a = spans.one("hash.keyed").attributes or {}
    assert a["toolchain.hash.alg"] == "hmac-sha256"
    assert a["toolchain.hash.key_id"] == key_id(b"s3cret")
    assert a["toolchain.output.sha256"] == hmac.new(b"s3cret", b"alice@example.com", hashlib.sha256).hexdigest()
    assert "s3cret" not in json.dumps(dict(a))
    config._settings = None


def test_unhashable_argument_does_not_break_the_call(spans: SpanRecorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """An argument with no canonical form hashes as its type name (documented); the call still succeeds."""

    @tc.governed_call("hash.unhashable_arg")
    def f(client: object) -> str:
        return "ok"

    assert f(object()) == "ok"
    a = spans.one("hash.unhashable_arg").attributes or {}
    placeholder = b'{"client":"<unserialisable builtins.object>"}'
    assert a["toolchain.input.sha256"] == hashlib.sha256(placeholder).hexdigest()
    assert a["toolchain.output.sha256"] == hashlib.sha256(b"ok").hexdigest()
