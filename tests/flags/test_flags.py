"""Kill-switch sources and the gate: env patterns, the flag file, combinations, broken sources, spans."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import toolchain_sdk as tc
from tests._subproc import run_python
from tests._wait import wait_for
from toolchain_sdk import flags, semconv
from toolchain_sdk.flags import FileSource, FlagEvaluation, FlagTarget
from toolchain_sdk.flags._env import EnvSource, parse_kill_list
from toolchain_sdk.flags._flag_file import FlagFile
from toolchain_sdk.flags._match import GlobMatcher
from toolchain_sdk.testing import SpanRecorder


@pytest.fixture(autouse=True)
def _default_sources(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No TOOLCHAIN_KILL from the outside; configured sources are put back after each test."""
    monkeypatch.delenv("TOOLCHAIN_KILL", raising=False)
    yield
    flags.set_sources(None)


def attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def surface(name: str, **kwargs: Any) -> Callable[[str], str]:
    """A sync surface answering ``model:<x>``, with fallback ``fallback:<x>`` unless told otherwise."""
    kwargs.setdefault("fallback", lambda x: f"fallback:{x}")

    @tc.governed_call(name, **kwargs)
    def fn(x: str) -> str:
        return f"model:{x}"

    return fn


class Fixed:
    """A custom source with a settable answer (or exception), counting its evaluations."""

    name = "fixed"
    provider_name = "fixed-provider"

    def __init__(self, value: bool | None = None) -> None:
        self.value: bool | None = value
        self.error: Exception | None = None
        self.calls = 0

    def evaluate(self, target: FlagTarget) -> FlagEvaluation:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return FlagEvaluation(self.value, "targeting_match", self.name, self.provider_name, variant="v")


# --- environment -----------------------------------------------------------------------------------
def test_env_switches_a_surface_to_its_fallback(spans: SpanRecorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """TOOLCHAIN_KILL naming a pattern switches the surface; the span says how, and the model is not called."""
    called: list[str] = []

    def handler(x: str) -> str:
        return f"fallback:{x}"

    @tc.governed_call("env.refund", owner="team", fallback=handler)
    def refund(x: str) -> str:
        called.append(x)
        return f"model:{x}"

    monkeypatch.setenv("TOOLCHAIN_KILL", "billing.x, env.*")
    assert refund("a") == "fallback:a"
    assert called == []
    span = spans.one("env.refund")
    a = attrs(span)
    assert a[semconv.KILL_SWITCH_ACTIVE] is True
    assert a[semconv.OUTCOME] == "fallback"
    assert a[semconv.FALLBACK_HANDLER].endswith("test_env_switches_a_surface_to_its_fallback.<locals>.handler")
    assert a[semconv.FEATURE_FLAG_KEY] == "env.refund.kill"
    assert a[semconv.FEATURE_FLAG_PROVIDER_NAME] == "toolchain-env:TOOLCHAIN_KILL"
    assert a[semconv.FEATURE_FLAG_RESULT_REASON] == "static"
    assert a[semconv.KILL_SWITCH_SOURCE] == "env"
    assert a[semconv.KILL_SWITCH_RULE] == "env.*"
    [event] = [e for e in span.events if e.name == semconv.EVENT_KILL_SWITCH_ENGAGED]
    assert dict(event.attributes or {})[semconv.KILL_SWITCH_RULE] == "env.*"


@pytest.mark.parametrize(
    ("value", "engaged"),
    [
        ("*", True),
        ("env2.*", True),
        ("env2.pat", True),
        ("env2.pat.kill", True),  # the flag key matches too
        ("other,env2.pat", True),
        ("  env2.pat  ,", True),
        ("env2.p?t", True),
        ("env2.[ps]at", True),
        ("env2.pa", False),
        ("ENV2.PAT", False),  # case-sensitive
        ("env2.pat.x", False),
        ("other.*", False),
        (",,", False),
        ("", False),
    ],
)
def test_env_patterns(value: str, engaged: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Names, flag keys and globs in TOOLCHAIN_KILL; case-sensitive; whitespace and empty items ignored."""
    fn = surface("env2.pat")
    monkeypatch.setenv("TOOLCHAIN_KILL", value)
    assert fn("x") == ("fallback:x" if engaged else "model:x")


def test_env_changes_take_effect_on_the_next_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Setting and unsetting the variable in-process is seen by the very next call."""
    fn = surface("env3.live")
    assert fn("x") == "model:x"
    monkeypatch.setenv("TOOLCHAIN_KILL", "env3.live")
    assert fn("x") == "fallback:x"
    monkeypatch.setenv("TOOLCHAIN_KILL", "nothing")
    assert fn("x") == "model:x"
    monkeypatch.setenv("TOOLCHAIN_KILL", "env3.*")
    assert fn("x") == "fallback:x"
    monkeypatch.delenv("TOOLCHAIN_KILL")
    assert fn("x") == "model:x"


def test_env_source_with_replaced_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """An os.environ replaced by a plain mapping still works (the public lookup path)."""
    source = EnvSource()
    target = FlagTarget("a.kill", "a", None, "low", False)
    monkeypatch.setattr(os, "environ", {"TOOLCHAIN_KILL": "a"})
    assert source.evaluate(target).value is True
    monkeypatch.setattr(os, "environ", {})
    assert source.evaluate(target).value is None


names = st.text(alphabet="ab.c_-", min_size=1, max_size=12)
patterns = st.text(alphabet="ab.c*?", min_size=1, max_size=8)


@given(st.lists(patterns, max_size=5), names)
def test_glob_matcher_agrees_with_fnmatch(pats: list[str], name: str) -> None:
    """The compiled matcher gives fnmatchcase's answer for every pattern set and name."""
    matcher = GlobMatcher(tuple(pats))
    assert matcher.match(name) == any(fnmatch.fnmatchcase(name, p) for p in pats)
    first = matcher.first((name,))
    assert first == next((p for p in pats if fnmatch.fnmatchcase(name, p)), None)


@given(st.text())
def test_parse_kill_list_never_fails(raw: str) -> None:
    """Any variable value parses to non-empty items free of separators (commas, semicolons, white space)."""
    items = parse_kill_list(raw)
    assert all(i and not any(c in ",;" or c.isspace() for c in i) for i in items)
    assert list(items) == [p for p in re.split(r"[,;\s]+", raw) if p]


# --- the flag file -----------------------------------------------------------------------------------
@pytest.fixture
def flag_file(tmp_path: Path) -> Iterator[tuple[FlagFile, FileSource]]:
    """A flag file in a temporary directory and a source reading it, configured for every surface."""
    path = tmp_path / "flags.json"
    source = FileSource(path)
    flags.set_sources([source])
    yield FlagFile(path), source


def test_file_kill_and_restore(flag_file: tuple[FlagFile, FileSource], spans: SpanRecorder) -> None:
    """A kill entry switches the surface to its fallback; restoring the entry brings the model back."""
    ff, source = flag_file
    fn = surface("file.one")
    assert fn("x") == "model:x"
    ff.kill("file.one", reason="bad answers", by="alice")
    source.refresh()
    assert fn("x") == "fallback:x"
    a = attrs(spans.spans("file.one")[-1])
    assert (a[semconv.KILL_SWITCH_SOURCE], a[semconv.KILL_SWITCH_RULE]) == ("file", "file.one")
    assert a[semconv.FEATURE_FLAG_PROVIDER_NAME] == "toolchain-file"
    assert ff.restore("file.one", reason="fixed") is not None
    tc.flags.refresh()
    assert fn("x") == "model:x"
    assert attrs(spans.spans("file.one")[-1])[semconv.KILL_SWITCH_ACTIVE] is False


def test_file_edit_is_seen_by_a_running_process_without_help(flag_file: tuple[FlagFile, FileSource]) -> None:
    """With no refresh(), a rewrite of the file takes effect on its own (rate-limited stat)."""
    ff, _ = flag_file
    fn = surface("file.auto")
    assert fn("x") == "model:x"
    ff.kill("file.*", reason="incident 42")
    assert wait_for(lambda: fn("x") == "fallback:x")
    ff.restore("file.*", reason="over")
    assert wait_for(lambda: fn("x") == "model:x")


def test_a_stalled_check_neither_freezes_nor_overrides_newer_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checker stuck in its read (a busy machine) is overtaken: another thread's later check puts
    the edit in force, and the stuck one's older result, when it finally lands, is discarded."""
    from toolchain_sdk.flags import _file_source

    path = tmp_path / "flags.json"
    ff = FlagFile(path)
    ff.kill("stall.*", reason="incident")
    source = FileSource(path, check_interval_s=0.05)
    target = FlagTarget("stall.one.kill", "stall.one", None, "low", False)
    assert source.evaluate(target).value is True
    stale_bytes = path.read_bytes()
    entered, release = threading.Event(), threading.Event()
    real_parse = _file_source.parse_document

    stalled: list[threading.Thread] = []

    def parse(data: bytes) -> Any:
        if not stalled:  # the first read after the patch stalls (it runs on its own reader thread)
            stalled.append(threading.current_thread())
            entered.set()
            release.wait(30)
            return real_parse(stale_bytes)  # what it read before the restore below
        return real_parse(data)

    monkeypatch.setattr(_file_source, "parse_document", parse)
    time.sleep(0.06)
    stuck = threading.Thread(target=source.evaluate, args=(target,))
    stuck.start()
    assert entered.wait(30)
    ff.restore("stall.*", reason="over")
    assert wait_for(lambda: source.evaluate(target).value is None), "the stuck check froze the entries"
    release.set()
    stuck.join(30)
    assert source.evaluate(target).value is None, "the stuck check's older result replaced the newer one"


def test_file_hot_path_does_no_file_io(flag_file: tuple[FlagFile, FileSource], monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of calls cost at most one stat per check interval and no reads while the file is unchanged."""
    ff, source = flag_file
    ff.kill("other.surface", reason="r")
    fn = surface("file.io")
    fn("warm")
    time.sleep(2.1)  # past the "recently modified" window, so an unchanged file is not read again
    fn("warm")
    stats: list[str] = []
    reads: list[str] = []
    real_stat, real_read = os.stat, Path.read_bytes
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: (stats.append(str(p)), real_stat(p, *a, **k))[1])
    monkeypatch.setattr(Path, "read_bytes", lambda self: (reads.append(str(self)), real_read(self))[1])
    started = time.monotonic()
    for _ in range(3000):
        fn("x")
    elapsed = time.monotonic() - started
    monkeypatch.undo()
    mine = [s for s in stats if s == str(ff.path)]
    assert len(mine) <= elapsed / source.check_interval_s + 2
    assert [r for r in reads if r == str(ff.path)] == []


def test_most_specific_entry_wins(flag_file: tuple[FlagFile, FileSource]) -> None:
    """Exact names beat patterns, longer patterns beat shorter, and a tie goes to killed."""
    ff, source = flag_file
    faq, refund, other = surface("spec.faq"), surface("spec.refund"), surface("spec.other.x")
    ff.kill("spec.*", reason="group off")
    ff.allow("spec.faq", reason="faq is fine")
    ff.allow("spec.other.*", reason="other fine")
    source.refresh()
    assert (faq("x"), refund("x"), other("x")) == ("model:x", "fallback:x", "model:x")
    ff.kill("spec.o?her.x", reason="tie with spec.other.*: same literal length, killed wins")
    source.refresh()
    assert other("x") == "fallback:x"


def test_ttl_lapses_on_time_without_a_file_change(flag_file: tuple[FlagFile, FileSource]) -> None:
    """An entry with a TTL switches the surface off, then lapses by itself."""
    ff, source = flag_file
    fn = surface("ttl.one")
    ff.kill("ttl.one", reason="short incident", ttl=timedelta(seconds=2))
    source.refresh()
    assert fn("x") == "fallback:x"
    assert wait_for(lambda: fn("x") == "model:x")


def test_expired_entry_is_ignored_and_swept_on_next_write(flag_file: tuple[FlagFile, FileSource]) -> None:
    """A hand-written entry whose 'until' is past has no effect; the next write logs its expiry."""
    ff, source = flag_file
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ff.path.write_text(json.dumps({"version": 1, "flags": {"ttl2.one": {"killed": True, "until": past}}}))
    source.refresh()
    assert surface("ttl2.one")("x") == "model:x"
    ff.kill("unrelated", reason="r")
    assert "ttl2.one" not in ff.entries()
    assert [r["action"] for r in ff.history()] == ["expire", "kill"]


def test_corrupt_file_keeps_last_known_answer(flag_file: tuple[FlagFile, FileSource], spans: SpanRecorder) -> None:
    """A file that stops parsing keeps the last good entries in force and records the error on the span."""
    ff, source = flag_file
    fn = surface("bad.file")
    ff.kill("bad.file", reason="r")
    source.refresh()
    assert fn("x") == "fallback:x"
    ff.path.write_text("{not json")
    source.refresh()
    assert fn("x") == "fallback:x"
    a = attrs(spans.spans("bad.file")[-1])
    assert a[semconv.FEATURE_FLAG_RESULT_REASON] == "error"
    assert a[semconv.KILL_SWITCH_ERROR_TYPE] == "toolchain_sdk.errors.ConfigError"
    assert "not valid JSON" in a[semconv.FEATURE_FLAG_ERROR_MESSAGE]
    ff.path.write_text(json.dumps({"version": 1, "flags": {}}))
    source.refresh()
    assert fn("x") == "model:x"
    assert semconv.KILL_SWITCH_ERROR_TYPE not in attrs(spans.spans("bad.file")[-1])


@pytest.mark.parametrize("kill_default", [False, True])
def test_corrupt_file_before_any_value_uses_kill_default(
    tmp_path: Path, spans: SpanRecorder, kill_default: bool
) -> None:
    """With no good reading yet, a broken file leaves the decision to kill_default (fail closed when True)."""
    path = tmp_path / "flags.json"
    path.write_text("[1, 2")
    flags.set_sources([FileSource(path)])
    fn = surface(f"bad.first.{kill_default}".lower(), kill_default=kill_default)
    assert fn("x") == ("fallback:x" if kill_default else "model:x")
    a = attrs(spans.spans(f"bad.first.{kill_default}".lower())[-1])
    assert a[semconv.FEATURE_FLAG_RESULT_REASON] == "error"
    assert a[semconv.KILL_SWITCH_ACTIVE] is kill_default


def test_unreadable_path_is_an_error_not_a_crash(tmp_path: Path, spans: SpanRecorder) -> None:
    """A path that cannot be stat'ed or read (a directory) is a source error; the call goes on."""
    (tmp_path / "dir.json").mkdir()
    flags.set_sources([FileSource(tmp_path / "dir.json")])
    assert surface("bad.dir")("x") == "model:x"
    assert attrs(spans.one("bad.dir"))[semconv.FEATURE_FLAG_RESULT_REASON] == "error"


def test_missing_file_is_no_opinion(tmp_path: Path, spans: SpanRecorder) -> None:
    """No flag file means no entries: the model answers and nothing is an error."""
    flags.set_sources([FileSource(tmp_path / "absent.json")])
    assert surface("no.file")("x") == "model:x"
    a = attrs(spans.one("no.file"))
    assert a[semconv.KILL_SWITCH_ACTIVE] is False
    assert semconv.FEATURE_FLAG_RESULT_REASON not in a


def test_kill_default_true_stays_off_until_a_flag_allows(
    flag_file: tuple[FlagFile, FileSource], spans: SpanRecorder
) -> None:
    """kill_default=True keeps a surface on its fallback until an entry pins it on the model."""
    ff, source = flag_file
    fn = surface("default.off", kill_default=True)
    assert fn("x") == "fallback:x"
    a = attrs(spans.one("default.off"))
    assert (a[semconv.FEATURE_FLAG_RESULT_REASON], a[semconv.KILL_SWITCH_SOURCE]) == ("default", "default")
    ff.allow("default.off", reason="reviewed, go live")
    source.refresh()
    assert fn("x") == "model:x"


# --- combinations, custom and broken sources ---------------------------------------------------------
def test_any_source_switching_off_wins(flag_file: tuple[FlagFile, FileSource], monkeypatch: pytest.MonkeyPatch) -> None:
    """Sources combine in order: one True switches off, even over another source's explicit False."""
    ff, source = flag_file
    custom = Fixed(None)
    flags.set_sources(["env", source, custom])
    fn = surface("combo.one")
    assert fn("x") == "model:x"
    ff.allow("combo.one", reason="pinned")
    source.refresh()
    custom.value = True
    assert fn("x") == "fallback:x"  # custom says off; the file's allow does not override another source
    custom.value = None
    assert fn("x") == "model:x"
    monkeypatch.setenv("TOOLCHAIN_KILL", "combo.*")
    calls = custom.calls
    assert fn("x") == "fallback:x"
    assert custom.calls == calls  # env decided first; later sources are not asked


def test_default_sources_are_env_then_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unconfigured, the SDK reads TOOLCHAIN_KILL and the flag file named by TOOLCHAIN_FLAGS_FILE."""
    monkeypatch.setenv("TOOLCHAIN_FLAGS_FILE", str(tmp_path / "f.json"))
    flags.set_sources(None)
    kinds = [type(s) for s in flags.current_sources()]
    assert kinds == [EnvSource, FileSource]
    fn = surface("defaults.one")
    FlagFile().kill("defaults.one", reason="r")
    tc.flags.refresh()
    assert fn("x") == "fallback:x"


def test_raising_source_uses_last_known_then_kill_default(spans: SpanRecorder, caplog: Any) -> None:
    """A source that raises: its last answer holds; before any answer, kill_default; the span records it."""
    broken = Fixed(None)
    broken.error = TimeoutError("flag service timed out")
    flags.set_sources([broken])
    fn, off = surface("raise.low"), surface("raise.off", kill_default=True)
    with caplog.at_level(logging.WARNING, logger="toolchain_sdk"):
        assert fn("x") == "model:x"
        assert off("x") == "fallback:x"
    a = attrs(spans.one("raise.low"))
    assert a[semconv.FEATURE_FLAG_RESULT_REASON] == "error"
    assert a[semconv.KILL_SWITCH_ERROR_TYPE] == "TimeoutError"
    assert "timed out" in a[semconv.FEATURE_FLAG_ERROR_MESSAGE]
    assert any("raised TimeoutError" in r.getMessage() for r in caplog.records)
    broken.error, broken.value = None, True
    assert fn("x") == "fallback:x"
    broken.error = ConnectionError("down")
    assert fn("x") == "fallback:x"  # last known: off
    broken.error, broken.value = None, False
    assert off("x") == "model:x"
    broken.error = ConnectionError("down")
    assert off("x") == "model:x"  # last known: explicitly on, despite kill_default=True


def test_custom_source_variant_and_provider_on_span(spans: SpanRecorder) -> None:
    """A custom source's reason, variant and provider name reach the span and its event."""
    flags.set_sources([Fixed(True)])
    assert surface("custom.one")("x") == "fallback:x"
    span = spans.one("custom.one")
    a = attrs(span)
    assert (a[semconv.FEATURE_FLAG_RESULT_VARIANT], a[semconv.FEATURE_FLAG_PROVIDER_NAME]) == ("v", "fixed-provider")
    assert a[semconv.FEATURE_FLAG_RESULT_REASON] == "targeting_match"
    assert semconv.KILL_SWITCH_RULE not in a


def test_per_surface_sources_replace_the_configured_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """flags= on the decorator replaces configure(flags=...) for that surface only."""
    own = Fixed(True)
    mine = surface("own.one", flags=[own])
    theirs = surface("own.two")
    assert (mine("x"), theirs("x")) == ("fallback:x", "model:x")
    own.value = None
    monkeypatch.setenv("TOOLCHAIN_KILL", "own.*")
    assert (mine("x"), theirs("x")) == ("model:x", "fallback:x")


def test_bad_sources_are_config_errors() -> None:
    """Unknown source names, non-lists and objects that are not sources fail clearly, changing nothing."""
    before = flags.current_sources()
    with pytest.raises(tc.ConfigError, match="unknown flag source 'launchdarkly'"):
        tc.configure(flags=["launchdarkly"])  # type: ignore[list-item]
    with pytest.raises(tc.ConfigError, match="list of sources"):
        tc.configure(flags="env")  # type: ignore[arg-type]
    with pytest.raises(tc.ConfigError, match="not a flag source"):
        flags.set_sources([object()])  # type: ignore[list-item]
    with pytest.raises(tc.ConfigError, match="not a flag source"):
        surface("bad.sources", flags=[42])
    assert flags.current_sources() == before


def test_configure_flags_in_a_fresh_process(tmp_path: Path) -> None:
    """tc.configure(flags=[...]) sets the sources an application's surfaces read."""
    proc = run_python(
        f"""
        import toolchain_sdk as tc
        tc.configure(exporter="none", flags=[tc.flags.FileSource({str(tmp_path / "f.json")!r})])
        @tc.governed_call("proc.one", fallback=lambda: "fallback")
        def one(): return "model"
        print(one())
        tc.flags.FlagFile({str(tmp_path / "f.json")!r}).kill("proc.*", reason="test")
        tc.flags.refresh()
        print(one(), [type(s).__name__ for s in tc.flags.current_sources()])
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["model", "fallback ['FileSource']"]


def test_no_sources_means_no_switch(spans: SpanRecorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty source list is an explicit opt-out: kill_default alone decides."""
    flags.set_sources([])
    monkeypatch.setenv("TOOLCHAIN_KILL", "*")
    assert surface("none.one")("x") == "model:x"
    assert surface("none.two", kill_default=True)("x") == "fallback:x"


def test_switching_is_logged_once_per_transition(caplog: Any) -> None:
    """The process log says when a surface is switched off and when it is back."""
    source = Fixed(True)
    flags.set_sources([source])
    fn = surface("log.one")
    with caplog.at_level(logging.INFO, logger="toolchain_sdk"):
        fn("x")
        fn("x")
        source.value = None
        fn("x")
    messages = [r.getMessage() for r in caplog.records]
    assert sum("log.one is switched off by fixed" in m for m in messages) == 1
    assert sum("log.one is back on its model" in m for m in messages) == 1


# --- async evaluation, blocks ----------------------------------------------------------------------
class AsyncFixed(Fixed):
    """A custom source that also evaluates asynchronously."""

    def __init__(self, value: bool | None) -> None:
        super().__init__(value)
        self.async_calls = 0

    async def aevaluate(self, target: FlagTarget) -> FlagEvaluation:
        self.async_calls += 1
        await asyncio.sleep(0)
        return self.evaluate(target)


async def test_async_surfaces_await_async_sources() -> None:
    """Async surfaces await aevaluate (the loop is never blocked); sync surfaces call evaluate."""
    source = AsyncFixed(True)
    flags.set_sources([source])

    @tc.governed_call("async.one", fallback=lambda x: f"fallback:{x}")
    async def one(x: str) -> str:
        return f"model:{x}"

    assert await one("x") == "fallback:x"
    assert surface("async.sync")("y") == "fallback:y"
    assert (source.async_calls, source.calls) == (1, 2)


async def test_async_raising_source_falls_back_to_kill_default() -> None:
    """An async source that raises is handled like a sync one."""
    source = AsyncFixed(None)
    source.error = RuntimeError("boom")
    flags.set_sources([source])

    @tc.governed_call("async.raise", kill_default=True, fallback=lambda: "fallback")
    async def one() -> str:
        return "model"

    assert await one() == "fallback"


def test_block_raises_kill_switch_engaged(spans: SpanRecorder) -> None:
    """A switched-off `with tc.governed(...)` block never runs its body: entering raises KillSwitchEngaged."""
    flags.set_sources([Fixed(True)])
    ran = []
    with (
        pytest.raises(tc.KillSwitchEngaged, match=r"block\.one") as info,
        tc.governed("block.one", risk="medium", fallback=lambda: "canned"),
    ):
        ran.append(1)
    assert ran == []
    assert (info.value.surface, info.value.flag) == ("block.one", "block.one.kill")
    a = attrs(spans.one("block.one"))
    assert a[semconv.KILL_SWITCH_ACTIVE] is True
    assert a[semconv.ERROR_TYPE] == "toolchain_sdk.errors.KillSwitchEngaged"
    assert semconv.FALLBACK_HANDLER not in a  # the SDK did not run it: the caller answers


async def test_async_block_raises_kill_switch_engaged() -> None:
    """`async with` behaves the same; a block that is not switched off runs normally."""
    source = Fixed(True)
    flags.set_sources([source])
    with pytest.raises(tc.KillSwitchEngaged):
        async with tc.governed("block.async"):
            pytest.fail("the body must not run")
    source.value = None
    async with tc.governed("block.async") as call:
        call.record_output("ok")


def test_low_risk_without_fallback_raises_with_surface_and_flag() -> None:
    """A low-risk surface may omit the fallback; switched off, it raises KillSwitchEngaged naming both."""
    flags.set_sources([Fixed(True)])

    @tc.governed_call("nofb.one", kill_flag="nofb.custom-flag")
    def one() -> str:
        return "model"

    with pytest.raises(tc.KillSwitchEngaged, match=r"'nofb\.one'.*'nofb\.custom-flag'"):
        one()


def test_tracing_off_fast_path_decides_the_same(tmp_path: Path) -> None:
    """With no tracer provider (the fast path), env and file decide exactly as with tracing on."""
    proc = run_python(
        f"""
        import os, toolchain_sdk as tc
        from toolchain_sdk.flags._flag_file import FlagFile
        path = {str(tmp_path / "flags.json")!r}
        os.environ["TOOLCHAIN_FLAGS_FILE"] = path
        def make(name, **kw):
            return tc.governed_call(name, fallback=lambda: "fallback", **kw)(lambda: "model")
        plain, grouped, pinned = make("fp.plain"), make("fp.g.one"), make("fp.g.pinned")
        off = make("fp.off", kill_default=True)
        ff = FlagFile(path)
        ff.kill("fp.g.*", reason="r"); ff.allow("fp.g.pinned", reason="r")
        tc.flags.refresh()
        print(plain(), grouped(), pinned(), off())
        os.environ["TOOLCHAIN_KILL"] = "fp.plain"
        print(plain())
        del os.environ["TOOLCHAIN_KILL"]
        ff.restore("fp.g.*", reason="r")
        tc.flags.refresh()
        print(plain(), grouped(), pinned(), off())
        with open(path, "w") as fh:
            fh.write("{{broken")
        tc.flags.refresh()
        print(plain(), grouped(), pinned(), off())
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "model fallback model fallback",
        "fallback",
        "model model model fallback",
        "model model model fallback",  # broken file: last good entries (none left) hold
    ]
