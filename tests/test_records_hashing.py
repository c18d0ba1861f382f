"""What the input and output hashes cover: ``exclude_args``, unserialisable arguments, ``capture="none"`` streams.

Expected hashes are computed here with ``hashlib`` and ``json.dumps`` (the documented canonical
form), not with the SDK's own hasher.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import toolchain_sdk as tc
from toolchain_sdk import semconv
from toolchain_sdk.approval import ApprovalRequest, Decision
from toolchain_sdk.testing import SpanRecorder


def canonical_sha(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def attrs(spans: SpanRecorder, surface: str) -> dict[str, Any]:
    return dict(spans.spans(surface)[-1].attributes or {})


class Client:
    """A model client: no canonical form, so it must be excluded or stand in as its type name."""

    class Session:
        """A nested class (its placeholder carries the whole qualified name)."""


# --- exclude_args ----------------------------------------------------------------------------------
def test_excluded_argument_is_left_out_of_the_input_hash(spans: SpanRecorder) -> None:
    """exclude_args=("client",): the input hash is sha256 of the canonical JSON of the other arguments only."""

    @tc.governed_call("hashing.exclude", exclude_args=("client",))
    def ask(client: Client, prompt: str, temperature: float = 0.2, *, tags: tuple[str, ...] = ()) -> str:
        assert isinstance(client, Client)  # still passed to the function
        return "ok"

    expected = canonical_sha({"prompt": "¿qué?", "temperature": 0.2, "tags": []})
    ask(Client(), "¿qué?")
    assert attrs(spans, "hashing.exclude")[semconv.INPUT_SHA256] == expected
    ask(client=Client(), prompt="¿qué?", temperature=0.2)
    assert attrs(spans, "hashing.exclude")[semconv.INPUT_SHA256] == expected
    ask(Client(), "¿qué?", 0.7, tags=("a",))
    assert attrs(spans, "hashing.exclude")[semconv.INPUT_SHA256] == canonical_sha(
        {"prompt": "¿qué?", "temperature": 0.7, "tags": ["a"]}
    )


def test_excluded_argument_of_a_method_and_an_async_function(spans: SpanRecorder) -> None:
    """On a method (self left out too) and an async function, the excluded argument is not hashed."""

    class Service:
        @tc.governed_call("hashing.exclude_method", exclude_args=("client", "session"))
        def ask(self, client: Client, session: Client.Session, prompt: str) -> str:
            return prompt

    @tc.governed_call("hashing.exclude_async", exclude_args=["client"])
    async def aask(client: Client, prompt: str) -> str:
        return prompt

    Service().ask(Client(), Client.Session(), "hi")
    asyncio.run(aask(Client(), "hi"))
    assert attrs(spans, "hashing.exclude_method")[semconv.INPUT_SHA256] == canonical_sha({"prompt": "hi"})
    assert attrs(spans, "hashing.exclude_async")[semconv.INPUT_SHA256] == canonical_sha({"prompt": "hi"})


def test_excluded_argument_is_not_shown_to_approvers(spans: SpanRecorder) -> None:
    """The approver's view of the arguments, and the hash it is bound to, leave the excluded argument out."""
    seen: list[ApprovalRequest] = []

    def decide(request: ApprovalRequest) -> Decision:
        seen.append(request)
        return request.approve(by="alice", reason="fine")

    @tc.governed_call(
        "hashing.exclude_approval",
        exclude_args=("client",),
        approval=tc.approval.require(approver=tc.approval.callback(decide)),
    )
    def ask(client: Client, prompt: str) -> str:
        return "ok"

    assert ask(Client(), "refund 20") == "ok"
    [request] = seen
    assert dict(request.arguments) == {"prompt": "refund 20"}
    assert request.arguments_sha256 == canonical_sha({"prompt": "refund 20"})
    assert attrs(spans, "hashing.exclude_approval")[semconv.INPUT_SHA256] == request.arguments_sha256


@pytest.mark.parametrize(
    ("exclude", "match"),
    [
        (("clinet",), "clinet"),
        (("client", "missing"), "missing"),
        (("call",), "call"),
        ("client", "tuple of parameter names"),
        ((1,), "tuple of parameter names"),
    ],
)
def test_bad_exclude_args_is_a_config_error_at_decoration(exclude: Any, match: str) -> None:
    """A name that is not a parameter (or `call`, or not a tuple of names) fails when the function is decorated."""
    with pytest.raises(tc.ConfigError, match=match):

        @tc.governed_call("hashing.bad_exclude", exclude_args=exclude)
        def ask(client: Client, prompt: str, *, call: tc.GovernedCall) -> str:
            return "ok"


def test_exclude_args_on_a_block_is_a_config_error() -> None:
    """A governed() block has no arguments to exclude: ConfigError when the block is created."""
    with pytest.raises(tc.ConfigError, match="exclude_args"):
        tc.governed("hashing.block_exclude", exclude_args=("client",))


# --- unserialisable arguments --------------------------------------------------------------------------
def test_unserialisable_argument_hashes_as_its_type_name(spans: SpanRecorder) -> None:
    """An argument with no canonical form stands in as "<unserialisable module.QualName>"; the others as they are."""

    @tc.governed_call("hashing.placeholder")
    def ask(client: Client, session: Client.Session, prompt: str, opts: dict[str, int]) -> str:
        return "ok"

    assert ask(Client(), Client.Session(), "hi", {"n": 1}) == "ok"
    expected = canonical_sha(
        {
            "client": f"<unserialisable {__name__}.Client>",
            "session": f"<unserialisable {__name__}.Client.Session>",
            "prompt": "hi",
            "opts": {"n": 1},
        }
    )
    assert attrs(spans, "hashing.placeholder")[semconv.INPUT_SHA256] == expected


def test_unserialisable_value_inside_an_argument_replaces_that_argument(spans: SpanRecorder) -> None:
    """An argument holding something unserialisable deep inside stands in whole, by its own type."""

    @tc.governed_call("hashing.nested_placeholder")
    def ask(messages: list[object], prompt: str) -> str:
        return "ok"

    ask([{"role": "user"}, object()], "hi")
    expected = canonical_sha({"messages": "<unserialisable builtins.list>", "prompt": "hi"})
    assert attrs(spans, "hashing.nested_placeholder")[semconv.INPUT_SHA256] == expected


def test_nan_argument_hashes_as_its_type_name(spans: SpanRecorder) -> None:
    """A float NaN has no canonical JSON: it stands in as the float placeholder, and the call goes on."""

    @tc.governed_call("hashing.nan")
    def ask(score: float, prompt: str) -> str:
        return "ok"

    assert ask(float("nan"), "hi") == "ok"
    expected = canonical_sha({"score": "<unserialisable builtins.float>", "prompt": "hi"})
    assert attrs(spans, "hashing.nan")[semconv.INPUT_SHA256] == expected


# --- capture="none" streams --------------------------------------------------------------------------
def stream_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "toolchain_sdk" and "hash" in r.getMessage()]


CHUNKS: dict[str, list[object]] = {
    "text": ["a", "b", "c"],
    "objects": [object(), object(), object(), object()],
    "mixed": ["a", {"delta": 1}, b"raw", object()],
    "empty": [],
}


@pytest.mark.parametrize("chunks", sorted(CHUNKS))
@pytest.mark.parametrize("mode", ["generator", "async-generator"])
def test_capture_none_stream_counts_chunks_and_hashes_nothing(
    mode: str, chunks: str, spans: SpanRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    """capture="none" stream: toolchain.stream.chunks counts what was yielded; no hashes; no warning."""
    caplog.set_level(logging.DEBUG, logger="toolchain_sdk")
    items = CHUNKS[chunks]

    if mode == "generator":

        @tc.governed_call("hashing.stream_none", capture="none")
        def gen(prompt: str) -> Iterator[object]:
            yield from items

        assert list(gen("p")) == items
    else:

        @tc.governed_call("hashing.stream_none", capture="none")
        async def agen(prompt: str) -> AsyncIterator[object]:
            for item in items:
                yield item

        async def drain() -> list[object]:
            return [c async for c in agen("p")]

        assert asyncio.run(drain()) == items
    a = attrs(spans, "hashing.stream_none")
    assert a[semconv.STREAM_CHUNKS] == len(items)
    assert a[semconv.STREAM_COMPLETED] is True
    assert semconv.OUTPUT_SHA256 not in a and semconv.INPUT_SHA256 not in a and semconv.HASH_ALG not in a
    assert stream_warnings(caplog) == []


def test_capture_none_stream_closed_early_counts_what_was_taken(spans: SpanRecorder) -> None:
    """Breaking out of a capture="none" stream after two chunks: two chunks, not completed, no hash."""

    @tc.governed_call("hashing.stream_break", capture="none")
    def gen() -> Iterator[object]:
        while True:
            yield object()

    for i, _ in enumerate(gen()):
        if i == 1:
            break
    a = attrs(spans, "hashing.stream_break")
    assert (a[semconv.STREAM_CHUNKS], a[semconv.STREAM_COMPLETED]) == (2, False)
    assert semconv.OUTPUT_SHA256 not in a


def test_hash_mode_stream_of_objects_warns_once_and_has_no_output_hash(
    spans: SpanRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    """The same object stream under capture="hash" has no output hash and says so once (the contrast)."""
    caplog.set_level(logging.WARNING, logger="toolchain_sdk")

    @tc.governed_call("hashing.stream_hash")
    def gen() -> Iterator[object]:
        yield from [object(), object()]

    for _ in range(2):
        assert len(list(gen())) == 2
    for span in spans.spans("hashing.stream_hash"):
        assert semconv.OUTPUT_SHA256 not in (span.attributes or {})
    assert len(stream_warnings(caplog)) == 1


def test_hash_mode_stream_of_objects_still_counts_chunks(spans: SpanRecorder) -> None:
    """Under capture="hash", a stream whose chunks cannot be hashed still records how many were yielded."""

    @tc.governed_call("hashing.stream_hash_count")
    def gen() -> Iterator[object]:
        yield from ["text first", object(), object()]

    assert len(list(gen())) == 3
    assert attrs(spans, "hashing.stream_hash_count").get(semconv.STREAM_CHUNKS) == 3
