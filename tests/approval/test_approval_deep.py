"""Preparing an approval request never crashes the call: deep values are shown cut, and any failure is a denial."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

import toolchain_sdk as tc
from toolchain_sdk import config, semconv
from toolchain_sdk.approval import ApprovalRequest, Decision
from toolchain_sdk.approval._values import json_view
from toolchain_sdk.hashing import Hasher
from toolchain_sdk.redaction import MAX_DEPTH, TOO_DEEP
from toolchain_sdk.testing import SpanRecorder

MODES = ["sync", "async"]


def nested_lists(depth: int) -> list[Any]:
    root: list[Any] = []
    current = root
    for _ in range(depth):
        inner: list[Any] = []
        current.append(inner)
        current = inner
    return root


def nested_dicts(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    current = root
    for _ in range(depth):
        current["k"] = {}
        current = current["k"]
    return root


@dataclasses.dataclass
class Node:
    child: Node | None


def nested_nodes(depth: int) -> Node:
    node = Node(None)
    for _ in range(depth):
        node = Node(node)
    return node


class Fallen:
    """What the fallback answered, per surface."""

    def __init__(self) -> None:
        self.answers: list[str] = []

    def __call__(self, payload: object) -> str:
        self.answers.append("fallback")
        return "manual review"


def gated(mode: str, name: str, approval: object, fallback: Callable[..., Any], **options: Any) -> Callable[..., Any]:
    """A high-risk ``act(payload)`` surface, sync or async, returned as a plain function."""
    if mode == "sync":

        @tc.governed_call(name, risk="high", fallback=fallback, approval=approval, **options)
        def act(payload: object) -> str:
            return "ran"

        return act

    async def afallback(payload: object) -> str:
        return fallback(payload)  # type: ignore[no-any-return]

    @tc.governed_call(name, risk="high", fallback=afallback, approval=approval, **options)
    async def aact(payload: object) -> str:
        return "ran"

    return lambda payload: asyncio.run(aact(payload))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("build", "depth"), [(nested_lists, 500), (nested_dicts, 500), (nested_nodes, 200)], ids=["lists", "dicts", "nodes"]
)
def test_deep_arguments_reach_the_approver_cut_to_depth(mode: str, build: Callable[[int], object], depth: int) -> None:
    """Arguments hundreds of levels deep reach the approver cut at MAX_DEPTH ([TOO DEEP]); approval runs the call."""
    seen: list[ApprovalRequest] = []

    def decide(request: ApprovalRequest) -> Decision:
        seen.append(request)
        return request.approve(by="alice")

    act = gated(mode, "deep.ok", tc.approval.require(approver=tc.approval.callback(decide)), Fallen())
    assert act(build(depth)) == "ran"
    view: Any = seen[0].arguments["payload"]
    for _ in range(MAX_DEPTH - 1):
        view = view[0] if isinstance(view, list) else next(iter(view.values()))
    assert TOO_DEEP in str(view)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("depth", [500, 5000])
@pytest.mark.parametrize("build", [nested_lists, nested_dicts, nested_nodes], ids=["lists", "dicts", "dataclasses"])
def test_deep_arguments_with_on_deny_fallback_get_the_fallback(
    mode: str, depth: int, build: Callable[[int], object], spans: SpanRecorder
) -> None:
    """However deep the arguments (even past what JSON can encode), a denial honours on_deny='fallback'."""
    fallback = Fallen()
    gate = tc.approval.require(approver=tc.approval.deny_all(), on_deny="fallback")
    act = gated(mode, "deep.fallback", gate, fallback, capture="none")
    assert act(build(depth)) == "manual review"
    assert fallback.answers == ["fallback"]
    a = spans.one("deep.fallback").attributes or {}
    assert a[semconv.OUTCOME] == "denied"
    assert a[semconv.APPROVAL_DECISION] in ("denied", "error")  # error: too deep to hash (5000; 500 dataclasses)


@pytest.mark.parametrize("mode", MODES)
def test_arguments_too_deep_to_hash_are_denied_not_crashed(mode: str) -> None:
    """Arguments nested past what can be hashed deny the call (decision=error) instead of raising RecursionError."""
    asked: list[str] = []

    def approve(request: ApprovalRequest) -> Decision:
        asked.append(request.id)
        return request.approve(by="a")

    act = gated(mode, "deep.raise", tc.approval.require(approver=tc.approval.callback(approve)), Fallen())
    with pytest.raises(tc.ApprovalDenied, match="nested too deeply") as info:
        act(nested_lists(5000))
    assert info.value.decision == "error" and asked == []


@pytest.mark.parametrize("mode", MODES)
def test_deep_output_under_review_is_denied_to_the_fallback(mode: str) -> None:
    """An after-call whose output is too deep to hash is denied, and on_deny='fallback' answers."""
    fallback = Fallen()
    gate = tc.approval.require(when="after", approver=tc.approval.deny_all(), on_deny="fallback")
    if mode == "sync":

        @tc.governed_call("deep.after", risk="high", fallback=fallback, approval=gate, capture="none")
        def act(payload: object) -> object:
            return nested_lists(5000)

        assert act("x") == "manual review"
    else:

        async def afallback(payload: object) -> str:
            return fallback(payload)

        @tc.governed_call("deep.after", risk="high", fallback=afallback, approval=gate, capture="none")
        async def aact(payload: object) -> object:
            return nested_lists(5000)

        assert asyncio.run(aact("x")) == "manual review"
    assert fallback.answers == ["fallback"]


class BrokenHasher(Hasher):
    """A hasher that fails with an error that is neither TypeError nor ValueError (an HSM gone away)."""

    def hash_bytes(self, data: bytes) -> str:
        raise RuntimeError("hash service offline")


@pytest.mark.parametrize("mode", MODES)
def test_any_error_preparing_the_request_honours_on_deny(
    mode: str, spans: SpanRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever fails while the request is prepared, the call is denied (decision=error) and the fallback answers."""
    fallback = Fallen()
    gate = tc.approval.require(approver=tc.approval.deny_all(), on_deny="fallback")
    act = gated(mode, "deep.prepare", gate, fallback, capture="none")
    monkeypatch.setattr(config, "_hasher", BrokenHasher(None))
    assert act("payload") == "manual review"
    a = spans.one("deep.prepare").attributes or {}
    assert a[semconv.APPROVAL_DECISION] == "error" and "hash service offline" in str(a[semconv.APPROVAL_REASON])


def test_json_view_is_bounded_without_recursion() -> None:
    """The reviewer view of a value 100,000 levels deep is computed without recursion and cut at MAX_DEPTH."""
    view: Any = json_view({"a": nested_lists(100_000), "api_key": "sk-live-abc"})
    assert view["api_key"] == "[SECRET]"
    depth = 0
    item = view["a"]
    while isinstance(item, list):
        item, depth = item[0], depth + 1
    assert item == TOO_DEEP and depth == MAX_DEPTH - 1
