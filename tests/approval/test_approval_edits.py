"""Edits of after-call outputs must be of the return type (strictly); the queue records the gate's verdict."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable
from typing import Any, TypedDict

import pydantic
import pytest

import toolchain_sdk as tc
from tests._approval_support import FAST, GUARD_S, off, wait_pending
from tests._wait import wait_for
from toolchain_sdk import semconv
from toolchain_sdk.approval import ApprovalRequest, ApprovalStore, Decision, DecisionRefused
from toolchain_sdk.testing import SpanRecorder

MODES = ["sync", "async"]


@dataclasses.dataclass(frozen=True)
class Reply:
    text: str
    amount: int


class Refund(TypedDict):
    order: str
    amount: int


class Quote(pydantic.BaseModel):
    total: int
    currency: str


def editing(edit: object) -> tc.approval.Requirement:
    """An after-gate whose approver edits every output to ``edit``."""
    return tc.approval.require(when="after", approver=tc.approval.callback(
        lambda r: r.edit(edit, by="carol", reason="fixed it")))  # fmt: skip


def surface(
    mode: str, name: str, gate: tc.approval.Requirement, body: Callable[[], Any], returns: str
) -> Callable[[], Any]:
    """A sync or async surface returning ``body()``, annotated ``-> returns`` (a name this module defines)."""
    namespace: dict[str, Any] = {**globals(), "body": body}
    prefix = "async " if mode == "async" else ""
    exec(f"{prefix}def fn() -> {returns}:\n    return body()", namespace)
    governed = tc.governed_call(name, risk="high", fallback=off, approval=gate)(namespace["fn"])
    return governed if mode == "sync" else lambda: asyncio.run(governed())


def unannotated(mode: str, name: str, gate: tc.approval.Requirement, value: object) -> Callable[[], Any]:
    if mode == "sync":

        @tc.governed_call(name, risk="high", fallback=off, approval=gate)
        def fn():  # type: ignore[no-untyped-def]
            return value

        return fn

    @tc.governed_call(name, risk="high", fallback=off, approval=gate)
    async def afn():  # type: ignore[no-untyped-def]
        return value

    return lambda: asyncio.run(afn())


BAD_EDITS = [
    ("int", lambda: 3, "five"),
    ("int", lambda: 3, "5"),  # a coercion: strict, refused
    ("int", lambda: 3, 5.5),
    ("int", lambda: 3, True),
    ("dict[str, int]", lambda: {"a": 1}, [1, 2]),
    ("dict[str, int]", lambda: {"a": 1}, {"a": "one"}),
    ("Reply", lambda: Reply("hi", 3), {"text": "hi", "amount": "lots"}),
    ("Reply", lambda: Reply("hi", 3), Reply(text="hi", amount="lots")),  # type: ignore[arg-type]
    ("Reply", lambda: Reply("hi", 3), {"text": "hi"}),
    ("Reply", lambda: Reply("hi", 3), {"text": "hi", "amount": 2, "amout": 1}),  # a typo'd field is not dropped
    ("Refund", lambda: {"order": "o1", "amount": 3}, {"order": "o1", "amount": "3"}),
    ("Quote", lambda: Quote(total=3, currency="EUR"), {"total": "lots", "currency": "EUR"}),
    ("list[int]", lambda: [1, 2], {"0": 1}),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("returns", "body", "edit"), BAD_EDITS, ids=[f"{r}<-{e!r}" for r, _, e in BAD_EDITS])
def test_an_edit_that_is_not_the_return_type_is_denied(
    mode: str, returns: str, body: Callable[[], Any], edit: object, spans: SpanRecorder
) -> None:
    """An edit that does not fit the return annotation denies the call (decision=error); nothing is coerced."""
    call = surface(mode, "edit.bad", editing(edit), body, returns)
    with pytest.raises(tc.ApprovalDenied, match="malformed edit") as info:
        call()
    assert info.value.decision == "error"
    a = spans.one("edit.bad").attributes or {}
    assert a[semconv.APPROVAL_DECISION] == "error" and a[semconv.OUTCOME] == "denied"
    assert semconv.OVERRIDE_EDITOR not in a


GOOD_EDITS = [
    ("int", lambda: 3, 5, 5),
    ("float", lambda: 3.0, 2, 2.0),
    ("dict[str, int]", lambda: {"a": 1}, {"a": 2, "b": 3}, {"a": 2, "b": 3}),
    ("Reply", lambda: Reply("hi", 3), {"text": "ok", "amount": 2}, Reply("ok", 2)),
    ("Reply", lambda: Reply("hi", 3), Reply("ok", 2), Reply("ok", 2)),
    ("Refund", lambda: {"order": "o1", "amount": 3}, {"order": "o1", "amount": 1}, {"order": "o1", "amount": 1}),
    ("Quote", lambda: Quote(total=3, currency="EUR"), {"total": 2, "currency": "EUR"}, Quote(total=2, currency="EUR")),
    ("str", lambda: "draft", "final", "final"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("returns", "body", "edit", "expected"), GOOD_EDITS, ids=[g[0] for g in GOOD_EDITS])
def test_an_edit_of_the_return_type_is_returned_as_that_type(
    mode: str, returns: str, body: Callable[[], Any], edit: object, expected: object, spans: SpanRecorder
) -> None:
    """An edit that fits is what the caller gets, rebuilt as the annotated type."""
    call = surface(mode, "edit.good", editing(edit), body, returns)
    result = call()
    assert result == expected and type(result) is type(expected)
    assert spans.one("edit.good").attributes[semconv.APPROVAL_DECISION] == "edited"  # type: ignore[index]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("original", "edit"), [(3, "five"), ({"a": 1}, [1]), ([1, 2], {"a": 1}), (b"raw", "text"), ("text", 5)]
)
def test_without_an_annotation_the_original_output_type_holds(mode: str, original: object, edit: object) -> None:
    """A function without a return annotation: the edit must be of the original output's type."""
    call = unannotated(mode, "edit.unannotated", editing(edit), original)
    with pytest.raises(tc.ApprovalDenied) as info:
        call()
    assert info.value.decision == "error"


def test_an_annotation_that_does_not_resolve_falls_back_to_the_output_type() -> None:
    """A return annotation naming a class local to a function (unresolvable) falls back to the output's type."""

    @dataclasses.dataclass(frozen=True)
    class Local:
        n: int

    @tc.governed_call("edit.local", risk="high", fallback=off, approval=editing({"n": "x"}))
    def fn() -> Local:
        return Local(1)

    with pytest.raises(tc.ApprovalDenied, match="malformed edit"):
        fn()


def test_the_after_request_records_the_output_schema() -> None:
    """An after-request carries the JSON Schema of the return type, for reviewers' tools."""
    seen: list[ApprovalRequest] = []

    def decide(request: ApprovalRequest) -> Decision:
        seen.append(request)
        return request.approve(by="carol")

    call = surface("sync", "edit.schema", tc.approval.require(when="after", approver=tc.approval.callback(decide)),
                   lambda: Reply("hi", 3), "Reply")  # fmt: skip
    assert call() == Reply("hi", 3)
    schema = seen[0].output_schema
    assert schema is not None and schema["title"] == "Reply"
    assert schema["properties"]["amount"] == {"title": "Amount", "type": "integer"}  # type: ignore[index]


# --- through the queue: the store ends in the gate's verdict ----------------------------------------
class Waiting:
    """A sync call on a thread; ``result()`` joins it and returns its value or the exception it raised."""

    def __init__(self, fn: Callable[[], object]) -> None:
        self.outcome: list[object] = []
        self._thread = threading.Thread(target=self._run, args=(fn,))
        self._thread.start()

    def _run(self, fn: Callable[[], object]) -> None:
        try:
            self.outcome.append(fn())
        except BaseException as exc:
            self.outcome.append(exc)

    def result(self) -> object:
        self._thread.join(GUARD_S)
        assert not self._thread.is_alive()
        return self.outcome[0]


def queued(store_url: str, name: str) -> Callable[[], Any]:
    gate = tc.approval.require(when="after", approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=GUARD_S)
    return surface("sync", name, gate, lambda: 3, "int")


def wait_settled(store: ApprovalStore, request_id: str) -> Any:
    """The request once the waiting call has recorded what it did with the decision."""
    assert wait_for(lambda: store.get(request_id).closed_at is not None, GUARD_S)  # type: ignore[union-attr]
    return store.get(request_id)


def test_a_refused_edit_leaves_the_store_in_error(store_url: str, store: ApprovalStore) -> None:
    """An edit the gate refuses (stored by a tool that could not check it) ends as status=error with the reason."""
    waiting = Waiting(queued(store_url, "edit.q.bad"))
    [pending] = wait_pending(store)
    unchecked = Decision(request_id=pending.request.id, subject_sha256=pending.request.subject_sha256,
                         verdict="edited", by="c", reason="rounder", output=5.5)  # fmt: skip
    store._rows(  # type: ignore[attr-defined]  # an earlier version's request: no schema recorded to check with
        "UPDATE toolchain_approvals SET output_schema_json = NULL WHERE id = ?", (pending.request.id,)
    )
    store.decide(unchecked)
    denied = waiting.result()
    assert isinstance(denied, tc.ApprovalDenied) and denied.decision == "error"
    record = wait_settled(store, pending.request.id)
    assert record.status == "error" and "malformed edit" in record.reason
    assert record.decision is not None and record.decision.verdict == "edited" and record.decision.by == "c"
    assert [r.request.id for r in store.list(status="error")] == [pending.request.id]
    assert store.list(status="edited") == []


def test_an_accepted_edit_is_marked_taken(store_url: str, store: ApprovalStore) -> None:
    """An edit the gate takes stays edited, with the time the call took it."""
    waiting = Waiting(queued(store_url, "edit.q.good"))
    [pending] = wait_pending(store)
    store.decide(pending.request.edit(5, by="c", reason="five it is"))
    assert waiting.result() == 5
    record = wait_settled(store, pending.request.id)
    assert record.status == "edited" and record.closed_at is not None and record.reason == ""


def test_the_store_refuses_an_edit_that_misses_the_recorded_schema(store_url: str, store: ApprovalStore) -> None:
    """store.decide() checks an edit against the request's recorded schema and refuses a misfit at once."""
    waiting = Waiting(queued(store_url, "edit.q.schema"))
    [pending] = wait_pending(store)
    assert pending.request.output_schema == {"type": "integer"}
    with pytest.raises(DecisionRefused, match="does not fit the output's type"):
        store.decide(pending.request.edit("five", by="c", reason="words"))
    assert store.get(pending.request.id).status == "pending"  # type: ignore[union-attr]
    store.decide(pending.request.approve(by="c"))
    assert waiting.result() == 3
