"""``approval.approving_as``: an eval run's named approver, on the record, only inside its block."""

from __future__ import annotations

import asyncio

import pytest

import toolchain_sdk as tc
from toolchain_sdk import semconv
from toolchain_sdk.errors import ApprovalDenied, ConfigError
from toolchain_sdk.testing import SpanRecorder


def test_approves_inside_the_block_only_and_names_the_approver(spans: SpanRecorder) -> None:
    @tc.governed_call(
        "t.acting", risk="high", fallback=lambda: "fb",
        approval=tc.approval.require(when="before", approver=tc.approval.deny_all()),
    )  # fmt: skip
    def act() -> str:
        return "done"

    with pytest.raises(ApprovalDenied):
        act()
    with tc.approval.approving_as("ci-evals"):
        assert act() == "done"
    with pytest.raises(ApprovalDenied):
        act()
    denied, approved, _ = spans.spans("t.acting")
    assert approved.attributes[semconv.APPROVAL_APPROVER] == "ci-evals"
    assert approved.attributes[semconv.APPROVAL_DECISION] == "approved"
    assert denied.attributes[semconv.APPROVAL_DECISION] == "denied"


async def test_async_calls_see_the_block() -> None:
    @tc.governed_call(
        "t.acting_async", risk="high", fallback=lambda: "fb",
        approval=tc.approval.require(when="after", approver=tc.approval.deny_all()),
    )  # fmt: skip
    async def act() -> str:
        await asyncio.sleep(0)
        return "done"

    with tc.approval.approving_as("ci-evals"):
        assert await act() == "done"


def test_a_blank_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="approver's name"), tc.approval.approving_as("  "):
        pass


def test_refusing_approvals_denies_at_once_and_lists_what_asked(spans: SpanRecorder) -> None:
    """Inside the block every request is denied without asking the surface's approver, and listed; outside, not."""
    asked_own = []

    def own(request: tc.approval.ApprovalRequest) -> tc.approval.Decision:
        asked_own.append(request)
        return request.approve(by="own", reason="fine")

    @tc.governed_call(
        "t.refusing", risk="high", fallback=lambda: "fb",
        approval=tc.approval.require(when="before", approver=tc.approval.callback(own)),
    )  # fmt: skip
    def act() -> str:
        return "done"

    with tc.approval.refusing_approvals("no approver in this run") as asked, pytest.raises(ApprovalDenied):
        act()
    assert len(asked) == 1 and asked_own == []
    assert act() == "done" and len(asked_own) == 1
    refused = spans.spans("t.refusing")[0]
    assert (refused.attributes or {})[semconv.APPROVAL_APPROVER] == "refusing_approvals"
