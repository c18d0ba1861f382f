"""Custom kill-switch sources: unhashable ones work; a wrong answer or an exception counts as a failed source.

A failed source gives its last known answer, else the surface's ``kill_default``, and the span
records the reason ``error`` (``semconv.FEATURE_FLAG_RESULT_REASON``). Checked on sync and async surfaces.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import toolchain_sdk as tc
from toolchain_sdk import flags, semconv
from toolchain_sdk.flags import FlagEvaluation, FlagTarget
from toolchain_sdk.testing import SpanRecorder

MODES = ["sync", "async"]


@pytest.fixture(autouse=True)
def _sources(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No TOOLCHAIN_KILL from outside; the configured sources are put back after each test."""
    monkeypatch.delenv("TOOLCHAIN_KILL", raising=False)
    yield
    flags.set_sources(None)


@dataclass(frozen=True)
class Raw:
    """What a broken source returns instead of a FlagEvaluation."""

    value: object


class Unhashable:
    """A custom source that is not hashable (defines __eq__, sets __hash__ to None), with a settable answer.

    ``answer`` says what ``evaluate`` does: ``True``/``False``/``None`` answer with a
    ``FlagEvaluation``, a ``Raw`` returns its value as it is (a wrong type), an exception is raised.
    """

    __hash__ = None  # type: ignore[assignment]
    name = "x"
    provider_name = "x-provider"

    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.calls = 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unhashable) and other.answer == self.answer

    def evaluate(self, target: FlagTarget) -> FlagEvaluation:
        self.calls += 1
        answer = self.answer
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, Raw):
            return answer.value  # type: ignore[return-value]
        assert isinstance(answer, bool) or answer is None
        return FlagEvaluation(answer, "targeting_match", self.name, self.provider_name, variant="v1")


def surface(name: str, mode: str, **kwargs: Any) -> Callable[[], str]:
    """A surface answering ``model`` (``fallback`` when switched off), called synchronously either way."""
    if mode == "sync":

        def fallback() -> str:
            return "fallback"

        @tc.governed_call(name, **{**kwargs, "fallback": fallback})
        def f() -> str:
            return "model"

        return f

    async def afallback() -> str:
        return "fallback"

    @tc.governed_call(name, **{**kwargs, "fallback": afallback})
    async def af() -> str:
        await asyncio.sleep(0)
        return "model"

    return lambda: asyncio.run(af())


def attrs(spans: SpanRecorder, name: str) -> dict[str, Any]:
    return dict(spans.spans(name)[-1].attributes or {})


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("per_surface", [False, True], ids=["set_sources", "surface flags="])
def test_an_unhashable_source_switches_a_surface(mode: str, per_surface: bool, spans: SpanRecorder) -> None:
    """An unhashable source saying "off" switches the surface to its fallback; the span names the source."""
    source = Unhashable(True)
    with pytest.raises(TypeError):
        hash(source)
    if per_surface:
        f = surface("flags.unhashable", mode, flags=[source])
    else:
        flags.set_sources([source])
        f = surface("flags.unhashable", mode)
    assert f() == "fallback"
    source.answer = False
    assert f() == "model"
    source.answer = True
    assert f() == "fallback"
    a = attrs(spans, "flags.unhashable")
    assert a[semconv.KILL_SWITCH_ACTIVE] is True
    assert a[semconv.KILL_SWITCH_SOURCE] == "x"
    assert a[semconv.FEATURE_FLAG_PROVIDER_NAME] == "x-provider"
    assert a[semconv.FEATURE_FLAG_RESULT_REASON] == "targeting_match"
    assert semconv.KILL_SWITCH_ERROR_TYPE not in a


FAILURES: dict[str, Callable[[], object]] = {
    "returns True": lambda: Raw(True),
    "returns a string": lambda: Raw("off"),
    "returns None": lambda: Raw(None),
    "raises": lambda: ConnectionError("flag service down"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("kill_default", [False, True])
def test_a_failing_source_without_a_last_answer_uses_kill_default(
    mode: str, failure: str, kill_default: bool, spans: SpanRecorder
) -> None:
    """A source that never answered properly: kill_default decides (a bare True is not taken as "off")."""
    flags.set_sources([Unhashable(FAILURES[failure]())])
    f = surface("flags.failing", mode, kill_default=kill_default)
    assert f() == ("fallback" if kill_default else "model")
    a = attrs(spans, "flags.failing")
    assert a[semconv.KILL_SWITCH_ACTIVE] is kill_default
    assert a[semconv.FEATURE_FLAG_RESULT_REASON] == "error"
    expected_type = "ConnectionError" if failure == "raises" else "TypeError"
    assert a[semconv.KILL_SWITCH_ERROR_TYPE] == expected_type
    assert a[semconv.FEATURE_FLAG_ERROR_MESSAGE].startswith("x: ")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("last", [False, True], ids=["last said on", "last said off"])
def test_a_failing_source_uses_its_last_known_answer(mode: str, failure: str, last: bool, spans: SpanRecorder) -> None:
    """After a good answer, a failure keeps that answer, even against kill_default; the span says error."""
    source = Unhashable(last)
    flags.set_sources([source])
    f = surface("flags.stale", mode, kill_default=not last)
    expected = "fallback" if last else "model"
    assert f() == expected
    source.answer = FAILURES[failure]()
    assert f() == expected
    assert f() == expected
    a = attrs(spans, "flags.stale")
    assert a[semconv.KILL_SWITCH_ACTIVE] is last
    assert a[semconv.FEATURE_FLAG_RESULT_REASON] == "error"
    assert source.calls >= 3


def test_two_equal_unhashable_sources_keep_their_own_last_answers(spans: SpanRecorder) -> None:
    """Last known answers are per source object, even for sources that compare equal."""
    on, off = Unhashable(True), Unhashable(False)
    f = surface("flags.pair_a", "sync", flags=[on], kill_default=False)
    g = surface("flags.pair_b", "sync", flags=[off], kill_default=True)
    assert (f(), g()) == ("fallback", "model")
    on.answer = off.answer = RuntimeError("down")
    assert on == off  # equal, and neither hashable
    assert (f(), g()) == ("fallback", "model")


def test_a_wrong_answer_warns_once(spans: SpanRecorder, caplog: pytest.LogCaptureFixture) -> None:
    """A source returning a non-FlagEvaluation is warned about once, not on every call."""
    caplog.set_level(logging.WARNING, logger="toolchain_sdk")
    flags.set_sources([Unhashable(Raw(True))])
    f = surface("flags.warn", "sync")
    for _ in range(5):
        assert f() == "model"
    warnings = [r.getMessage() for r in caplog.records if "not a FlagEvaluation" in r.getMessage()]
    assert len(warnings) == 1
    assert "flags.warn.kill" in warnings[0]


def test_configure_style_list_with_an_unhashable_source_and_env(
    spans: SpanRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unhashable source next to "env": either one switching the surface off is enough."""
    source = Unhashable(None)
    flags.set_sources(["env", source])
    f = surface("flags.mixed", "sync")
    assert f() == "model"
    monkeypatch.setenv("TOOLCHAIN_KILL", "flags.mixed")
    assert f() == "fallback"
    monkeypatch.delenv("TOOLCHAIN_KILL")
    source.answer = True
    assert f() == "fallback"
    assert attrs(spans, "flags.mixed")[semconv.KILL_SWITCH_SOURCE] == "x"
