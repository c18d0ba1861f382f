"""``governed()`` blocks: medium/high risk needs no fallback (a killed block raises), and the compiled-block cache.

The cache is swapped for an empty one per test (``governed_module._BLOCKS``), so counts do not
depend on which blocks earlier tests compiled.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from typing import Any

import pytest

import toolchain_sdk as tc
from toolchain_sdk import semconv
from toolchain_sdk.testing import SpanRecorder

governed_module = importlib.import_module("toolchain_sdk.governed")


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An empty block cache of the real size, in place of the process-wide one, and a count of compilations."""
    fresh = governed_module._BlockCache(governed_module._BLOCKS.size)
    monkeypatch.setattr(governed_module, "_BLOCKS", fresh)
    compiled: list[str] = []
    real_compile = governed_module._compile

    def counting(declaration: Any, kind: str, func: Any) -> Any:
        compiled.append(declaration.surface)
        return real_compile(declaration, kind, func)

    monkeypatch.setattr(governed_module, "_compile", counting)
    fresh.compiled = compiled
    yield fresh


@pytest.fixture(autouse=True)
def _no_kill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLCHAIN_KILL", raising=False)


# --- risk without a fallback -----------------------------------------------------------------------
def test_medium_risk_block_needs_no_fallback(spans: SpanRecorder) -> None:
    """A medium-risk block without a fallback is accepted and runs its body."""
    ran = []
    with tc.governed("blocks.medium", risk="medium") as call:
        ran.append(call.risk)
    assert ran == ["medium"]
    assert (spans.one("blocks.medium").attributes or {})[semconv.OUTCOME] == "ok"


def test_high_risk_block_needs_no_fallback(spans: SpanRecorder) -> None:
    """A high-risk block with its approval declaration (but no fallback) is accepted."""
    with tc.governed("blocks.high", risk="high", approval=tc.approval.not_required(reason="read-only")):
        pass
    assert (spans.one("blocks.high").attributes or {})[semconv.RISK] == "high"


def test_medium_risk_function_still_needs_a_fallback() -> None:
    """The exemption is for blocks only: a medium-risk decorated function without a fallback is a ConfigError."""
    with pytest.raises(tc.ConfigError, match="needs a deterministic fallback"):

        @tc.governed_call("blocks.medium_fn", risk="medium")
        def f() -> str:
            return "x"


@pytest.mark.parametrize("mode", ["with", "async with"])
def test_killed_medium_risk_block_raises_and_skips_its_body(
    mode: str, spans: SpanRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed: entering raises KillSwitchEngaged(block=True) telling to catch it; the body never runs."""
    monkeypatch.setenv("TOOLCHAIN_KILL", "blocks.killed")
    ran: list[str] = []

    def sync() -> None:
        with tc.governed("blocks.killed", risk="medium"):
            ran.append("body")

    async def asynchronous() -> None:
        async with tc.governed("blocks.killed", risk="medium"):
            ran.append("body")

    with pytest.raises(tc.KillSwitchEngaged) as info:
        sync() if mode == "with" else asyncio.run(asynchronous())
    assert ran == []
    err = info.value
    assert err.block is True
    assert (err.surface, err.flag) == ("blocks.killed", "blocks.killed.kill")
    assert "catch tc.KillSwitchEngaged" in str(err)
    span = spans.one("blocks.killed")
    a = span.attributes or {}
    assert a[semconv.KILL_SWITCH_ACTIVE] is True
    assert a[semconv.ERROR_TYPE] == "toolchain_sdk.errors.KillSwitchEngaged"
    names = [e.name for e in span.events]
    assert names.count(semconv.EVENT_KILL_SWITCH_ENGAGED) == 1 and names.count(semconv.EVENT_EXCEPTION) == 1


def test_killed_function_without_fallback_raises_with_block_false(monkeypatch: pytest.MonkeyPatch) -> None:
    """A low-risk function with no fallback raises KillSwitchEngaged with block=False and the fallback hint."""

    @tc.governed_call("blocks.fn_killed")
    def f() -> str:
        return "model"

    monkeypatch.setenv("TOOLCHAIN_KILL", "blocks.fn_killed")
    with pytest.raises(tc.KillSwitchEngaged) as info:
        f()
    assert info.value.block is False
    assert "fallback=" in str(info.value)


# --- the compiled-block cache ------------------------------------------------------------------
def test_block_cache_is_bounded(cache: Any, spans: SpanRecorder) -> None:
    """1,100 blocks each with a new inline fallback lambda leave at most 1,024 compiled entries."""
    for i in range(1100):
        with tc.governed("blocks.inline", fallback=lambda: None) as call:
            call.record_output(i)
    assert len(cache.compiled) == 1100  # each was a new declaration
    assert 0 < len(cache) <= 1024
    assert len(spans.spans("blocks.inline")) == 1100


def test_recently_used_blocks_stay_compiled(cache: Any) -> None:
    """An entry used again and again is not the one evicted when new declarations keep arriving."""

    def hot() -> None:
        with tc.governed("blocks.hot", model="m"):
            pass

    hot()
    for _ in range(cache.size + 50):
        with tc.governed("blocks.cold", fallback=lambda: None):
            pass
        hot()
    assert cache.compiled.count("blocks.hot") == 1


def test_equal_declarations_share_one_entry(cache: Any) -> None:
    """The same declaration twice, or with its keywords in another order, compiles once."""
    for _ in range(2):
        with tc.governed("blocks.same", model="m"):
            pass
    assert (len(cache), cache.compiled) == (1, ["blocks.same"])
    with tc.governed("blocks.order", model="m", owner="team", risk="medium"):
        pass
    with tc.governed("blocks.order", risk="medium", owner="team", model="m"):
        pass
    assert len(cache) == 2
    assert cache.compiled == ["blocks.same", "blocks.order"]
    with tc.governed("blocks.other", model="m"):  # a different declaration is a new entry
        pass
    assert len(cache) == 3


def test_defaults_spelled_out_are_the_same_declaration(cache: Any) -> None:
    """Passing an option's default explicitly is the same declaration as leaving it out."""
    with tc.governed("blocks.defaults"):
        pass
    with tc.governed("blocks.defaults", risk="low", capture="hash", operation="chat", fallback=None):
        pass
    assert cache.compiled == ["blocks.defaults"]


def test_flag_source_lists_with_equal_content_share_an_entry(cache: Any) -> None:
    """``flags=`` given as a new list each time, with the same sources, is the same declaration."""
    for _ in range(3):
        with tc.governed("blocks.listed", flags=["env", "file"]):
            pass
    assert cache.compiled == ["blocks.listed"]
