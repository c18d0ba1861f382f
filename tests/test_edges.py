"""Rough edges a new user hits: hashing Mocks and deep values, shared hashes, bad decoration, CLI, configuration."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from unittest.mock import MagicMock, Mock

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toolchain_sdk as tc
from tests._subproc import ROOT, run_cli, run_python
from toolchain_sdk.flags import FlagFile
from toolchain_sdk.hashing import Hasher, canonical_json
from toolchain_sdk.testing import SpanRecorder


# --- hashing ---------------------------------------------------------------------------------------
def test_a_mock_argument_hashes_as_its_type_name_without_calling_into_it(spans: SpanRecorder) -> None:
    """A Mock argument (common in users' tests) stands in as its type name; nothing is called on it."""
    mock = Mock()

    @tc.governed_call("edge.mock")
    def f(client: object, q: str) -> str:
        return "ok"

    assert f(mock, "q") == "ok"
    expected = b'{"client":"<unserialisable unittest.mock.Mock>","q":"q"}'
    assert (spans.one("edge.mock").attributes or {})["toolchain.input.sha256"] == hashlib.sha256(expected).hexdigest()
    assert mock.mock_calls == []  # never called into: no model_dump(), no __iter__


def test_a_mock_output_has_no_hash_and_is_never_called(spans: SpanRecorder) -> None:
    """A MagicMock output: no output hash (one warning), and its methods are never called."""
    out = MagicMock()

    @tc.governed_call("edge.mock_out")
    def f() -> object:
        return out

    assert f() is out
    assert "toolchain.output.sha256" not in (spans.one("edge.mock_out").attributes or {})
    assert out.model_dump.call_count == 0


def test_models_dataclasses_still_hash_by_their_fields() -> None:
    """Recognised by type: pydantic models and dataclasses hash as their fields."""

    class M(pydantic.BaseModel):
        a: int

    @dataclasses.dataclass
    class D:
        a: int

    assert canonical_json(M(a=1)) == canonical_json(D(a=1)) == b'{"a":1}'


@settings(max_examples=5, deadline=None)
@given(st.integers(min_value=50_000, max_value=100_000))
def test_deep_values_are_a_type_error_not_a_recursion_error(depth: int) -> None:
    """A value nested past the encoder's limit is refused with TypeError (callers treat it as 'no hash')."""
    value: object = "x"
    for _ in range(depth):
        value = [value]
    with pytest.raises(TypeError, match="nested too deeply"):
        canonical_json(value)


class Colour(enum.Enum):
    RED = "red"


SHARED = [
    ({1: "a"}, {"1": "a"}),
    ((1, 2), [1, 2]),
    ({"b": b"\x00\xff"}, {"b": "AP8="}),
    ({3, 1, 2}, ["1", "2", "3"]),
    (Decimal("1.5"), "1.5"),
    (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    (dt.date(2026, 11, 30), "2026-11-30"),
    (Colour.RED, "red"),
]


@pytest.mark.parametrize(("value", "json_form"), SHARED)
def test_documented_shared_hashes_hold(value: object, json_form: object) -> None:
    """The pairs docs/span-attributes.md lists as sharing a hash do, so what a reviewer gives --json is right."""
    hasher = Hasher()
    assert hasher.hash_arguments({"v": value}) == hasher.hash_arguments({"v": json_form})


# --- decoration --------------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["owner", "model", "provider", "route", "data_class"])
def test_wrong_types_are_config_errors_naming_the_surface(field: str) -> None:
    """owner=123 (and the like) is a ConfigError naming the surface and the field, not pydantic's ValidationError."""
    with pytest.raises(tc.ConfigError, match=rf"edge\.types: {field} must be a string"):

        @tc.governed_call("edge.types", **{field: 123})  # type: ignore[arg-type]
        def f() -> None: ...


def test_a_trailing_newline_is_not_a_valid_surface_name() -> None:
    """'a.nl\\n' is refused ($ used to match before the newline)."""
    with pytest.raises(tc.ConfigError, match="is not valid"):
        tc.governed_call("a.nl\n")


def test_a_bare_decorator_says_a_name_is_needed() -> None:
    """@tc.governed_call without a name: a ConfigError showing how to write it."""
    with pytest.raises(tc.ConfigError, match=r"needs a surface name: write @tc.governed_call\(\"support"):

        @tc.governed_call  # type: ignore[arg-type]
        def f() -> None: ...


def test_a_partial_can_be_governed(spans: SpanRecorder) -> None:
    """functools.partial objects have no __qualname__: decorating one works and is registered readably."""

    def add(a: int, b: int) -> int:
        return a + b

    governed = tc.governed_call("edge.partial")(functools.partial(add, 1))
    assert governed(2) == 3
    [spec] = [s for s in tc.surfaces() if s.surface == "edge.partial"]
    assert "functools.partial(" in str(spec.location)


def test_an_async_fallback_on_a_sync_surface_says_why() -> None:
    """The message names both kinds in words and says what to change."""

    async def later(q: str) -> str:
        return q

    with pytest.raises(tc.ConfigError, match="is an async function, but the surface is a plain function"):

        @tc.governed_call("edge.asyncfb", risk="medium", fallback=later)
        def f(q: str) -> str:
            return q


def test_recursion_through_a_governed_surface_costs_three_levels() -> None:
    """Each governed level costs about 3 of the recursion limit, with or without an injected `call`."""
    proc = run_python(
        """
        import sys, toolchain_sdk as tc
        sys.setrecursionlimit(1000)
        @tc.governed_call("rec.inject")
        def g(n, *, call=tc.INJECTED):
            return 0 if n == 0 else 1 + g(n - 1)
        print(g(300))
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "300"


# --- CLI ---------------------------------------------------------------------------------------------
def test_hash_with_a_terminal_on_stdin_says_what_to_pass() -> None:
    """`toolchain hash` with no value and a terminal on stdin explains instead of hashing the empty string."""
    leader, follower = os.openpty()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOOLCHAIN_"))}
        proc = subprocess.run(
            [sys.executable, "-m", "toolchain_sdk", "hash"],
            stdin=follower,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert proc.returncode == 2
    assert "--json" in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("n", ["0", "-1", "x"])
def test_history_needs_a_positive_count(tmp_path: Path, n: str) -> None:
    """`toolchain flags --history 0` (or -1) is refused."""
    proc = run_cli("flags", "--file", str(tmp_path / "f.json"), f"--history={n}")
    assert proc.returncode == 2


def test_a_ttl_never_ends_early(tmp_path: Path) -> None:
    """--ttl 2s lasts at least 2 s: the stored 'until' is rounded up to the second."""
    change = FlagFile(tmp_path / "f.json").kill("edge.*", reason="r", ttl=dt.timedelta(seconds=2))
    assert change.after is not None and change.after.since is not None and change.after.until is not None
    assert change.after.until - change.after.since >= dt.timedelta(seconds=2)


# --- configuration -------------------------------------------------------------------------------------
def test_every_exporter_in_otel_traces_exporter_gets_the_spans(tmp_path: Path) -> None:
    """OTEL_TRACES_EXPORTER=console,file exports to both (none in a list is ignored)."""
    traces = tmp_path / "traces.jsonl"
    proc = run_python(
        """
        import toolchain_sdk as tc
        tc.configure(batch=False)
        @tc.governed_call("edge.two_exporters")
        def f(): return "ok"
        f()
        tc.shutdown()
        """,
        env={"OTEL_TRACES_EXPORTER": "console,none,file", "TOOLCHAIN_TRACES_FILE": str(traces)},
    )
    assert proc.returncode == 0, proc.stderr
    assert '"name": "edge.two_exporters"' in proc.stdout  # the console exporter
    assert "edge.two_exporters" in traces.read_text()  # the file exporter
