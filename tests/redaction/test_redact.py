"""redact() on nested values, keyed pseudonyms, and failing closed on odd input."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import hashlib
import hmac
from collections.abc import Iterator

import pydantic
import pytest

from toolchain_sdk import config
from toolchain_sdk.hashing import Hasher
from toolchain_sdk.redaction import CYCLE, MAX_DEPTH, TOO_DEEP, TOO_LARGE, UNREDACTABLE, redact, scrub, scrub_text

EMAIL = "ann.lee@corp.io"
KEY = "sk-proj-4fGhT7kLmN9pQrS2tUvW5xYzA8bCdE1f"


@pytest.fixture
def hash_key() -> Iterator[bytes]:
    """A configured hash key (as configure(hash_key=...) would install it)."""
    config.install_settings(config.resolve(hash_key="rotating-key-1"))
    yield b"rotating-key-1"
    config.reset()


@dataclasses.dataclass
class Ticket:
    subject: str
    customer: dict[str, object]


class Reply(pydantic.BaseModel):
    to: str
    body: str
    api_key: str = "k-123"


class Colour(enum.Enum):
    RED = "ann@corp.io"


def test_text_in_text_out() -> None:
    """A str gives a str with each finding replaced by its label; text without findings is the same object's value."""
    assert redact(f"write to {EMAIL}") == "write to [EMAIL]"
    assert redact("nothing here") == "nothing here"


def test_structures_keep_their_keys_and_shape() -> None:
    """Dicts, lists, tuples, sets, dataclasses and pydantic models come back as dicts and lists, values redacted."""
    value = {
        "ticket": Ticket("refund", {"email": EMAIL, "n": 2}),
        "reply": Reply(to=EMAIL, body=f"use {KEY}"),
        "tags": (EMAIL, "vip"),
        "seen": {EMAIL},
        "when": datetime.date(2024, 7, 18),
        "colour": Colour.RED,
    }
    assert redact(value) == {
        "ticket": {"subject": "refund", "customer": {"email": "[EMAIL]", "n": 2}},
        "reply": {"to": "[EMAIL]", "body": "use [OPENAI_KEY]", "api_key": "[SECRET]"},
        "tags": ["[EMAIL]", "vip"],
        "seen": ["[EMAIL]"],
        "when": "2024-07-18",
        "colour": "[EMAIL]",
    }


def test_the_callers_value_is_not_touched() -> None:
    """redact() returns a copy; the input keeps its secrets."""
    value = {"a": [EMAIL], "password": "hunter2"}
    redact(value)
    assert value == {"a": [EMAIL], "password": "hunter2"}


def test_numbers_that_are_cards_or_phones_are_redacted() -> None:
    """An int holding a card number becomes the label; other ints, floats and bools stay as they are."""
    assert redact({"card": 4111111111111111, "qty": 3, "price": 9.5, "ok": True, "big": 10**400, "huge": 10**5000}) == {
        "card": "[CARD]", "qty": 3, "price": 9.5, "ok": True, "big": 10**400, "huge": TOO_LARGE,
    }  # fmt: skip


def test_bytes_are_decoded_and_redacted() -> None:
    """bytes, bytearray and memoryview come back as redacted text (undecodable bytes replaced)."""
    assert redact(b"mail ann.lee@corp.io \xff") == "mail [EMAIL] \ufffd"
    assert redact([bytearray(b"x"), memoryview(b"y")]) == ["x", "y"]


def test_cycles_and_depth_are_bounded() -> None:
    """A container inside itself is shown as [CYCLE]; nesting past MAX_DEPTH as [TOO DEEP]; no RecursionError."""
    loop: list[object] = [EMAIL]
    loop.append(loop)
    assert redact(loop) == ["[EMAIL]", CYCLE]
    deep: object = EMAIL
    for _ in range(MAX_DEPTH + 5):
        deep = {"k": deep}
    out = redact(deep)
    for _ in range(MAX_DEPTH):
        assert isinstance(out, dict)
        out = out["k"]
    assert out == TOO_DEEP


def test_shared_references_do_not_blow_up() -> None:
    """A value shared 2**60 ways (a DAG, not a cycle) is cut off at MAX_NODES, not walked forever."""
    node: object = [EMAIL]
    for _ in range(60):
        node = [node, node]
    out = redact(node)
    assert "ann.lee" not in repr(out)


def test_broken_str_and_repr_fail_closed() -> None:
    """An object whose __str__ and __repr__ raise becomes a placeholder naming its type, never its content."""

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError(EMAIL)

        def __repr__(self) -> str:
            raise RuntimeError(EMAIL)

    assert redact({"x": Broken()}) == {"x": "<test_broken_str_and_repr_fail_closed.<locals>.Broken>"}
    assert redact({Broken(), Broken()}) != UNREDACTABLE  # a set of them cannot be sorted by repr: order kept


def test_other_objects_are_redacted_as_their_text() -> None:
    """An object JSON cannot hold is shown as its str(), redacted."""

    class Client:
        def __str__(self) -> str:
            return f"Client(api_key={KEY})"

    assert redact(Client()) == "Client(api_key=[OPENAI_KEY])"


def test_pseudonyms_with_a_hash_key(hash_key: bytes) -> None:
    """With a hash key each label carries the first 8 hex digits of HMAC-SHA256(key, value): stable, distinct."""
    tag = hmac.new(hash_key, EMAIL.encode(), hashlib.sha256).hexdigest()[:8]
    assert redact(f"from {EMAIL} to bob@corp.io, cc {EMAIL}") == (
        f"from [EMAIL:{tag}] to [EMAIL:{hmac.new(hash_key, b'bob@corp.io', hashlib.sha256).hexdigest()[:8]}], "
        f"cc [EMAIL:{tag}]"
    )
    assert scrub_text(f"key {KEY}").startswith("[OPENAI_KEY:") is False
    assert scrub_text(f"key {KEY}").startswith("key [OPENAI_KEY:")
    assert scrub({"password": "hunter2", "pin": 7}) == {
        "password": f"[SECRET:{hmac.new(hash_key, b'hunter2', hashlib.sha256).hexdigest()[:8]}]", "pin": 7,
    }  # fmt: skip


def test_the_hash_key_is_read_at_redaction_time(hash_key: bytes) -> None:
    """A key configured after import (or removed) takes effect at the next redaction."""
    assert str(redact(EMAIL)).startswith("[EMAIL:")
    config.reset()
    config._hasher = Hasher(None)
    assert redact(EMAIL) == "[EMAIL]"


@pytest.mark.parametrize("keyed", [False, True])
def test_redacting_twice_changes_nothing(keyed: bool, hash_key: bytes) -> None:
    """Markers, pseudonyms included, are never detected again."""
    if not keyed:
        config._hasher = Hasher(None)
    text = f"password={KEY} mail {EMAIL} card 4111 1111 1111 1111 Authorization: Bearer 0a9f3c7e1b5d42f8a6c09e3b"
    once = redact(text)
    assert redact(once) == once and scrub_text(str(once)) == once


def test_a_secret_written_inside_brackets_is_still_found() -> None:
    """Only this policy's labels count as markers: [AKIA...] in text is a key, not a marker."""
    assert redact("[AKIAIOSFODNN7EXAMPLE]") == "[[AWS_KEY]]"
    assert redact("[sk-proj-4fGhT7kLmN9pQrS2tUvW5xYzA8bCdE1f]") == "[[OPENAI_KEY]]"
