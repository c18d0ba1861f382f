"""Approval policies answer True or False, nothing else: any other answer asks, and async policies are refused."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toolchain_sdk as tc
from tests._approval_support import off
from toolchain_sdk import semconv
from toolchain_sdk.approval import ApprovalRequest, Decision
from toolchain_sdk.testing import SpanRecorder

MODES = ["sync", "async"]


class Asked:
    """A callback approver that records each request it was asked about, and denies it."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.approver = tc.approval.callback(self._decide, name="asked")

    def _decide(self, request: ApprovalRequest) -> Decision:
        self.ids.append(request.id)
        return request.deny(by="reviewer", reason="not this one")


def refund_surface(
    mode: str, name: str, policy: Any, approver: tc.approval.Approver
) -> tuple[Callable[..., Any], list[float]]:
    """A high-risk ``refund(amount)`` surface gated by ``policy``; returns a plain caller and what ran."""
    ran: list[float] = []
    gate = tc.approval.require(policy=policy, approver=approver)
    if mode == "sync":

        @tc.governed_call(name, risk="high", fallback=off, approval=gate)
        def refund(amount: float) -> str:
            ran.append(amount)
            return "refunded"

        return refund, ran

    @tc.governed_call(name, risk="high", fallback=off, approval=gate)
    async def arefund(amount: float) -> str:
        ran.append(amount)
        return "refunded"

    return lambda amount: asyncio.run(arefund(amount)), ran


def forgot_return(args: Mapping[str, object]) -> bool:  # the bug: the comparison is computed, never returned
    args["amount"] > 100  # type: ignore[operator]  # noqa: B015
    return None  # type: ignore[return-value]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "policy",
    [forgot_return, lambda args: 0, lambda args: "", lambda args: [], lambda args: 0.0, lambda args: "False"],
    ids=["no-return", "zero", "empty-text", "empty-list", "zero-float", "text-False"],
)
def test_a_policy_answering_anything_but_a_bool_asks(mode: str, policy: Any, spans: SpanRecorder) -> None:
    """A predicate returning None (forgotten return), 0 or another non-bool asks: the call never runs unapproved."""
    asked = Asked()
    call, ran = refund_surface(mode, "policy.nonbool", policy, asked.approver)
    with pytest.raises(tc.ApprovalDenied):
        call(5000.0)
    assert ran == [] and len(asked.ids) == 1
    assert spans.one("policy.nonbool").attributes[semconv.APPROVAL_REQUIRED] is True  # type: ignore[index]


def test_the_operator_is_told_once(caplog: pytest.LogCaptureFixture) -> None:
    """A policy answering a non-bool is reported with one warning per surface, naming what it returned."""
    asked = Asked()
    call, _ = refund_surface("sync", "policy.warned", forgot_return, asked.approver)
    with caplog.at_level(logging.WARNING, logger="toolchain_sdk"):
        for _ in range(3):
            with pytest.raises(tc.ApprovalDenied):
                call(5000.0)
    warned = [r.getMessage() for r in caplog.records if "not True or False" in r.getMessage()]
    assert len(warned) == 1 and "policy.warned" in warned[0] and "NoneType" in warned[0]
    assert len(asked.ids) == 3


@pytest.mark.parametrize("mode", MODES)
def test_a_bool_answer_still_decides(mode: str) -> None:
    """True asks, False lets the call through without asking: real bools keep working."""
    asked = Asked()
    call, ran = refund_surface(mode, "policy.bool", lambda args: args["amount"] > 100, asked.approver)
    assert call(20.0) == "refunded"
    with pytest.raises(tc.ApprovalDenied):
        call(500.0)
    assert ran == [20.0] and len(asked.ids) == 1


async def _async_policy(args: Mapping[str, object]) -> bool:
    return float(args["amount"]) > 100  # type: ignore[arg-type]


class _AsyncCallable:
    async def __call__(self, args: Mapping[str, object]) -> bool:
        return True


@pytest.mark.parametrize("policy", [_async_policy, _AsyncCallable()], ids=["async-def", "async-__call__"])
def test_an_async_policy_is_a_config_error(policy: Any) -> None:
    """An async def policy (whose coroutine is always truthy) is refused when declared, for any surface."""
    with pytest.raises(tc.ConfigError, match="async function"):
        tc.approval.require(policy=policy, approver=tc.approval.deny_all())


@pytest.mark.parametrize("mode", MODES)
def test_a_coroutine_answer_asks_without_a_never_awaited_warning(mode: str) -> None:
    """A policy that hides an async call (a lambda returning a coroutine) asks; the coroutine is closed, not leaked."""
    asked = Asked()
    call, ran = refund_surface(mode, "policy.coro", lambda args: _async_policy(args), asked.approver)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(tc.ApprovalDenied):
            call(5.0)
        gc.collect()
    assert ran == [] and len(asked.ids) == 1
    assert not [w for w in caught if "never awaited" in str(w.message)]


class _OddPolicy:
    """A custom Policy object (not a plain predicate) whose answer is not a bool."""

    def __call__(self, risk: str, arguments: Mapping[str, object], /) -> bool:
        return 1  # type: ignore[return-value]

    def describe(self) -> str:
        return "odd"


def test_a_custom_policy_object_is_held_to_the_same_rule() -> None:
    """The rule is the gate's, not the predicate wrapper's: a Policy object answering 1 asks too."""
    asked = Asked()
    call, ran = refund_surface("sync", "policy.custom", _OddPolicy(), asked.approver)
    with pytest.raises(tc.ApprovalDenied):
        call(5.0)
    assert ran == [] and len(asked.ids) == 1


class _Opaque:
    """An object whose truth and equality blow up: the gate must not need either."""

    def __bool__(self) -> bool:
        raise RuntimeError("no truth value")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no equality")

    __hash__ = object.__hash__


not_a_bool = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.tuples(st.booleans()),
    st.builds(object),
    st.builds(_Opaque),
    st.sampled_from([0, 1, "", "True", "False", [], {}, (), 0.0, NotImplemented, Ellipsis, [True], "yes"]),
).filter(lambda v: v is not True and v is not False)


@settings(max_examples=150, deadline=None)
@given(answer=not_a_bool, mode=st.sampled_from(MODES))
def test_no_answer_but_true_or_false_lets_a_high_risk_call_through_unasked(answer: object, mode: str) -> None:
    """Property: whatever a policy returns other than True/False, the approver is asked and a denial stops the call."""
    asked = Asked()
    name = f"policy.prop.{mode}"
    tc.inventory.clear_registry()
    call, ran = refund_surface(mode, name, lambda args: answer, asked.approver)
    with pytest.raises(tc.ApprovalDenied):
        call(1.0)
    assert ran == [] and len(asked.ids) == 1


@pytest.mark.parametrize("timeout", [1e9, "8d", 7 * 24 * 3600 + 1])
def test_a_timeout_over_seven_days_is_a_config_error(timeout: object) -> None:
    """timeout=1e9 (31 years) is refused when the surface is declared; 7 days is the bound."""
    with pytest.raises(tc.ConfigError, match="longer than 7 days"):
        tc.approval.require(timeout=timeout)  # type: ignore[arg-type]
    tc.approval.require(timeout=7 * 24 * 3600)  # the bound itself is fine
