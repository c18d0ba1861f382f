"""Bad configuration fails at decoration time with a ConfigError that says what to change."""

from __future__ import annotations

from typing import Any

import pytest

import toolchain_sdk as tc
from toolchain_sdk import inventory


@pytest.mark.parametrize("name", ["", " ", "a..b", ".a", "a.", "has space", "a/b", None, 3])
def test_bad_surface_names(name: Any) -> None:
    """Empty or malformed surface names are refused, with an example of a good one."""
    with pytest.raises(tc.ConfigError, match=r"support\.refund_reply"):
        tc.governed_call(name)


def test_unknown_risk() -> None:
    """An unknown risk names the accepted values."""
    with pytest.raises(tc.ConfigError, match="low, medium, high"):
        tc.governed_call("bad.risk", risk="critical")  # type: ignore[arg-type]


@pytest.mark.parametrize("capture", ["none", "hash", "redacted", "full"])
def test_every_capture_mode_is_accepted(capture: str) -> None:
    """The four capture modes decorate without error and land on the surface spec."""
    tc.governed_call(f"ok.capture_{capture}", capture=capture)(lambda: None)  # type: ignore[arg-type]
    spec = inventory.get_surface(f"ok.capture_{capture}")
    assert spec is not None and spec.capture == capture


def test_unknown_capture_mode() -> None:
    """An unknown capture mode is refused."""
    with pytest.raises(tc.ConfigError, match="none, hash"):
        tc.governed_call("bad.capture2", capture="everything")  # type: ignore[arg-type]


def test_positional_only_call_parameter() -> None:
    """A positional-only `call` cannot be injected: refused with the fix."""
    with pytest.raises(tc.ConfigError, match="positional-only"):

        @tc.governed_call("bad.call")
        def f(call: tc.GovernedCall, /) -> None:
            return None


def test_surface_registered_twice_with_different_settings() -> None:
    """The same surface name with other settings is refused, naming the differing fields."""

    @tc.governed_call("dup.surface", model="a")
    def f() -> None:
        return None

    with pytest.raises(tc.ConfigError, match="model"):

        @tc.governed_call("dup.surface", model="b")
        def g() -> None:
            return None


def test_same_surface_same_settings_is_fine() -> None:
    """Re-declaring a surface identically (e.g. a module reloaded) is allowed and keeps one entry."""
    for _ in range(2):

        @tc.governed_call("dup.same", model="a")
        def f() -> None:
            return None

    assert [s.surface for s in tc.surfaces()].count("dup.same") == 1


def test_unknown_prompt_file(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown prompt reference fails at decoration time, naming the file looked for."""
    monkeypatch.setenv("TOOLCHAIN_PROMPTS_DIR", str(tmp_path))
    with pytest.raises(tc.ConfigError, match="nope@1"):
        tc.governed_call("bad.prompt", prompt="nope@1")
    with pytest.raises(tc.ConfigError, match="name@version"):
        tc.governed_call("bad.prompt2", prompt="no-version")


def test_registry_records_the_spec() -> None:
    """Each decoration registers its spec (the inventory hook) with location and kind."""

    @tc.governed_call("inv.surface", owner="team", model="m", provider="p", risk="low")
    async def f() -> None:
        return None

    [spec] = [s for s in tc.surfaces() if s.surface == "inv.surface"]
    assert (spec.owner, spec.model, spec.provider, spec.kind) == ("team", "m", "p", "async")
    assert spec.location is not None and spec.location.endswith("test_registry_records_the_spec.<locals>.f")
    assert spec.kill_flag == "inv.surface.kill"


def test_configure_rejects_bad_values() -> None:
    """configure() names the bad setting and the accepted values."""
    with pytest.raises(tc.ConfigError, match="exporter"):
        tc.configure(exporter="zipkin")  # type: ignore[arg-type]
    with pytest.raises(tc.ConfigError, match="protocol"):
        tc.configure(protocol="thrift")  # type: ignore[arg-type]
