"""The OpenFeature source: in-memory provider, evaluation context, errors, timeouts, and real flagd in file mode."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openfeature import api
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata
from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

import toolchain_sdk as tc
from tests._wait import wait_for
from toolchain_sdk import config, flags, semconv
from toolchain_sdk.testing import SpanRecorder


@pytest.fixture(autouse=True)
def _clean_providers() -> Iterator[None]:
    """Each test registers its providers under its own domain; all are shut down afterwards."""
    yield
    api.shutdown()
    api.clear_providers()
    flags.set_sources(None)


def attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def make(name: str, **kwargs: Any) -> Callable[[str], str]:
    kwargs.setdefault("fallback", lambda x: f"fallback:{x}")

    @tc.governed_call(name, **kwargs)
    def fn(x: str) -> str:
        return f"model:{x}"

    return fn


def test_in_memory_provider_switches_with_context(spans: SpanRecorder, request: pytest.FixtureRequest) -> None:
    """The flag is evaluated with surface, flag, owner, risk and service in its context; the span names the provider."""
    seen: list[EvaluationContext] = []

    def by_owner(flag: InMemoryFlag[bool], ctx: EvaluationContext) -> FlagResolutionDetails[bool]:
        seen.append(ctx)
        variant = "on" if ctx.attributes.get("owner") == "payments" else "off"
        return FlagResolutionDetails(flag.variants[variant], variant=variant, reason=Reason.TARGETING_MATCH)

    provider = InMemoryProvider(
        {
            "of.pay.kill": InMemoryFlag("off", {"on": True, "off": False}, context_evaluator=by_owner),
            "of.support.kill": InMemoryFlag("off", {"on": True, "off": False}, context_evaluator=by_owner),
        }
    )
    api.set_provider_and_wait(provider, domain="test-inmem")
    flags.set_service_name("svc-a")  # what configure(service_name="svc-a") hands to OpenFeature sources
    request.addfinalizer(lambda: flags.set_service_name(config.current_settings().service_name))
    flags.set_sources([tc.flags.OpenFeatureSource(domain="test-inmem")])
    pay = make("of.pay", owner="payments", risk="medium")
    support = make("of.support", owner="support")
    assert (pay("x"), support("x")) == ("fallback:x", "model:x")
    ctx = seen[0]
    assert ctx.targeting_key == "of.pay"
    assert ctx.attributes == {
        "surface": "of.pay",
        "flag": "of.pay.kill",
        "owner": "payments",
        "risk": "medium",
        "service": "svc-a",
    }
    a = attrs(spans.one("of.pay"))
    assert a[semconv.FEATURE_FLAG_PROVIDER_NAME] == "In-Memory Provider"
    assert (a[semconv.FEATURE_FLAG_RESULT_VARIANT], a[semconv.FEATURE_FLAG_RESULT_REASON]) == ("on", "targeting_match")
    assert a[semconv.KILL_SWITCH_SOURCE] == "openfeature"


def test_flag_not_found_is_no_opinion(spans: SpanRecorder) -> None:
    """A flag the provider does not define leaves the surface alone (and kill_default decides)."""
    api.set_provider_and_wait(InMemoryProvider({}), domain="test-nf")
    flags.set_sources([tc.flags.OpenFeatureSource(domain="test-nf")])
    assert make("nf.one")("x") == "model:x"
    assert make("nf.two", kill_default=True)("x") == "fallback:x"
    assert semconv.KILL_SWITCH_ERROR_TYPE not in attrs(spans.one("nf.one"))


def test_provider_errors_use_last_known_then_kill_default(spans: SpanRecorder) -> None:
    """A non-boolean flag or a broken provider is an error: last known value, else kill_default, on the span."""
    flag_set: dict[str, InMemoryFlag[Any]] = {"err.one.kill": InMemoryFlag("on", {"on": True})}
    provider = InMemoryProvider(flag_set)
    api.set_provider_and_wait(provider, domain="test-err")
    flags.set_sources([tc.flags.OpenFeatureSource(domain="test-err")])
    fn, fresh = make("err.one"), make("err.two")
    assert fn("x") == "fallback:x"
    provider._flags["err.one.kill"] = InMemoryFlag("on", {"on": "yes"})
    provider._flags["err.two.kill"] = InMemoryFlag("on", {"on": "yes"})
    assert fn("x") == "fallback:x"  # last known: on
    assert fresh("x") == "model:x"  # nothing known: kill_default=False
    a = attrs(spans.spans("err.two")[-1])
    assert a[semconv.FEATURE_FLAG_RESULT_REASON] == "error"
    assert a[semconv.KILL_SWITCH_ERROR_TYPE] == "type_mismatch"


class SlowProvider(AbstractProvider):
    """A provider that takes far longer than the source's timeout to answer."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.release = threading.Event()

    def get_metadata(self) -> Metadata:
        return Metadata(name="slow")

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        self.release.wait(self.delay)
        return FlagResolutionDetails(True, variant="on", reason=Reason.STATIC)

    def resolve_string_details(self, *a: Any, **k: Any) -> FlagResolutionDetails[str]:
        raise NotImplementedError

    def resolve_integer_details(self, *a: Any, **k: Any) -> FlagResolutionDetails[int]:
        raise NotImplementedError

    def resolve_float_details(self, *a: Any, **k: Any) -> FlagResolutionDetails[float]:
        raise NotImplementedError

    def resolve_object_details(self, *a: Any, **k: Any) -> FlagResolutionDetails[Any]:
        raise NotImplementedError


async def test_timeout_counts_as_a_failure(spans: SpanRecorder) -> None:
    """With timeout_s, a provider that hangs is an error (kill_default), sync and async."""
    provider = SlowProvider(delay=30)
    api.set_provider_and_wait(provider, domain="test-slow")
    source = tc.flags.OpenFeatureSource(domain="test-slow", timeout_s=0.05)
    flags.set_sources([source])
    try:
        assert make("slow.sync")("x") == "model:x"
        assert attrs(spans.one("slow.sync"))[semconv.KILL_SWITCH_ERROR_TYPE] == "timeout"

        @tc.governed_call("slow.async", kill_default=True, fallback=lambda: "fallback")
        async def one() -> str:
            return "model"

        assert await one() == "fallback"
    finally:
        provider.release.set()
    with pytest.raises(tc.ConfigError, match="timeout_s"):
        tc.flags.OpenFeatureSource(timeout_s=0)


async def test_async_surface_uses_the_async_api() -> None:
    """Async surfaces evaluate through the provider's async API."""
    api.set_provider_and_wait(
        InMemoryProvider({"as.one.kill": InMemoryFlag("on", {"on": True, "off": False})}), domain="test-async"
    )
    flags.set_sources([tc.flags.OpenFeatureSource(domain="test-async")])

    @tc.governed_call("as.one", fallback=lambda: "fallback")
    async def one() -> str:
        return "model"

    assert await one() == "fallback"


# --- real flagd, in-process file mode ------------------------------------------------------------
def write_flagd(path: Path, default_variant: str, targeting: dict[str, Any] | None = None) -> None:
    """Write a flagd flag-definition file atomically (flagd keeps the last good flags while a write is torn)."""
    flag: dict[str, Any] = {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": default_variant,
    }
    if targeting is not None:
        flag["targeting"] = targeting
    doc = {"flags": {"fd.refund.kill": flag, "fd.group.kill": {**flag, "defaultVariant": "off"}}}
    if targeting is not None:
        doc["flags"]["fd.group.kill"]["targeting"] = targeting
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


def test_flagd_file_edit_engages_the_switch_in_a_running_process(tmp_path: Path, spans: SpanRecorder) -> None:
    """An edit of flagd's flag file switches the surface off in this running process, then back on."""
    path = tmp_path / "flagd.json"
    write_flagd(path, "off")
    provider = FlagdProvider(resolver_type=ResolverType.FILE, offline_flag_source_path=str(path), deadline_ms=100)
    api.set_provider_and_wait(provider, domain="test-flagd")
    flags.set_sources(["env", tc.flags.OpenFeatureSource(domain="test-flagd")])
    refund = make("fd.refund", owner="support", risk="medium")
    assert refund("x") == "model:x"
    a = attrs(spans.one("fd.refund"))
    assert (a[semconv.KILL_SWITCH_ACTIVE], a[semconv.FEATURE_FLAG_KEY]) == (False, "fd.refund.kill")

    write_flagd(path, "on")
    assert wait_for(lambda: refund("x") == "fallback:x", timeout=15.0)
    a = attrs(spans.spans("fd.refund")[-1])
    assert a[semconv.FEATURE_FLAG_PROVIDER_NAME] == "FlagdProvider"
    assert (a[semconv.FEATURE_FLAG_RESULT_VARIANT], a[semconv.FEATURE_FLAG_RESULT_REASON]) == ("on", "static")
    [event] = [e for e in spans.spans("fd.refund")[-1].events if e.name == semconv.EVENT_KILL_SWITCH_ENGAGED]
    assert dict(event.attributes or {})[semconv.FEATURE_FLAG_RESULT_VARIANT] == "on"

    write_flagd(path, "off")
    assert wait_for(lambda: refund("x") == "model:x", timeout=15.0)


def test_flagd_targeting_switches_a_group_by_owner(tmp_path: Path) -> None:
    """A flagd targeting rule on the evaluation context switches off only the surfaces of one owner."""
    path = tmp_path / "flagd.json"
    rule = {"if": [{"==": [{"var": "owner"}, "payments"]}, "on", "off"]}
    write_flagd(path, "off", targeting=rule)
    provider = FlagdProvider(resolver_type=ResolverType.FILE, offline_flag_source_path=str(path), deadline_ms=100)
    api.set_provider_and_wait(provider, domain="test-flagd-group")
    source = tc.flags.OpenFeatureSource(domain="test-flagd-group")
    pay = make("fd.pay", kill_flag="fd.group.kill", owner="payments", flags=[source])
    other = make("fd.other", kill_flag="fd.group.kill", owner="support", flags=[source])
    assert (pay("x"), other("x")) == ("fallback:x", "model:x")
