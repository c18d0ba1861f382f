"""Kill-switch sources in error states: a bad flag file, an unmatchable TOOLCHAIN_KILL entry, a FIFO at the path.

In every error state the source keeps its last known value (before any, the surface's kill_default),
the span records the error, the operator is warned once, and nothing blocks.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import toolchain_sdk as tc
from tests._subproc import run_cli
from tests._wait import wait_for
from toolchain_sdk import flags
from toolchain_sdk.flags import FileSource, FlagFile
from toolchain_sdk.flags._model import pattern_problem
from toolchain_sdk.testing import SpanRecorder

BAD_DOCUMENTS = {
    "entries at the top": {"sup.refund_reply": True},
    "misspelled key": {"Flags": {"sup.refund_reply": True}},
    "extra key": {"version": 1, "flags": {}, "note": "x"},
}


@pytest.fixture
def file_source(tmp_path: Path) -> Iterator[tuple[Path, FileSource]]:
    """A flag file and a source reading it, for every surface of the test."""
    path = tmp_path / "flags.json"
    source = FileSource(path, check_interval_s=0.05)
    flags.set_sources([source])
    yield path, source
    flags.set_sources(None)


def _surface(name: str, **options: object) -> object:
    @tc.governed_call(name, risk="medium", fallback=lambda q: "fallback", **options)  # type: ignore[arg-type]
    def reply(q: str) -> str:
        return "model"

    return reply


def _write(path: Path, doc: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    os.replace(tmp, path)


@pytest.mark.parametrize("bad", list(BAD_DOCUMENTS))
def test_entries_outside_flags_make_the_file_invalid(
    bad: str, file_source: tuple[Path, FileSource], spans: SpanRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    """A hand-edited file with entries outside "flags" keeps the last good entries, errs on spans, warns once."""
    path, source = file_source
    FlagFile(path).kill("sup.*", reason="incident")
    reply = _surface("sup.refund_reply")
    assert reply("q") == "fallback"
    _write(path, BAD_DOCUMENTS[bad])
    source.refresh()
    with caplog.at_level(logging.WARNING, logger="toolchain_sdk"):
        assert reply("q") == "fallback"  # the last good entry (killed) stays in force
        assert reply("q") == "fallback"
    attrs = spans.spans("sup.refund_reply")[-1].attributes or {}
    assert attrs["feature_flag.result.reason"] == "error"
    assert "only 'version' and 'flags' are allowed" in str(attrs["feature_flag.error.message"])
    assert sum("cannot be read" in r.getMessage() for r in caplog.records) == 1


def test_a_bad_file_before_any_good_read_uses_kill_default(file_source: tuple[Path, FileSource]) -> None:
    """With no good read yet, an invalid file leaves each surface at its kill_default."""
    path, _ = file_source
    _write(path, {"sup.x": True})
    assert _surface("bad.default_off")("q") == "model"
    assert _surface("bad.default_on", kill_default=True)("q") == "fallback"


@pytest.mark.parametrize("bad", list(BAD_DOCUMENTS))
def test_cli_flags_exits_2_with_the_reason(tmp_path: Path, bad: str) -> None:
    """`toolchain flags` on such a file says why and exits 2 (it used to say "no entries" and exit 0)."""
    path = tmp_path / "flags.json"
    _write(path, BAD_DOCUMENTS[bad])
    proc = run_cli("flags", "--file", str(path))
    assert proc.returncode == 2
    assert "only 'version' and 'flags' are allowed" in proc.stderr


@pytest.mark.parametrize("raw", ["sup.* other.*", "sup.*;other.*", "sup.*,\tother.*"])
def test_spaces_and_semicolons_separate_kill_entries(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """TOOLCHAIN_KILL takes commas, semicolons and white space as separators: both patterns work."""
    monkeypatch.setenv("TOOLCHAIN_KILL", raw)
    assert _surface("sup.a")("q") == "fallback"
    assert _surface("other.b")("q") == "fallback"
    assert _surface("third.c")("q") == "model"


@pytest.mark.parametrize("bad", ["[", "!", "sup.[", "a]b", "[!]", "sup.*|x"])
def test_unmatchable_patterns_are_errors(bad: str) -> None:
    """A pattern no surface name could match is reported, not kept as a dead entry."""
    assert pattern_problem(bad) is not None
    assert pattern_problem("sup.[ab]*") is None and pattern_problem("svc:flag/x") is None


def test_bad_kill_entry_errs_on_every_span_and_the_valid_one_stays(
    monkeypatch: pytest.MonkeyPatch, spans: SpanRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    """`TOOLCHAIN_KILL='[,sup.*'`: sup.* still switches off; every governed span records the bad entry; one warning."""
    monkeypatch.setenv("TOOLCHAIN_KILL", "[,sup.*")
    with caplog.at_level(logging.WARNING, logger="toolchain_sdk"):
        assert _surface("sup.k")("q") == "fallback"
        assert _surface("other.k")("q") == "model"
        assert _surface("other.k2")("q") == "model"
    for name in ("sup.k", "other.k"):
        attrs = spans.one(name).attributes or {}
        assert attrs["feature_flag.result.reason"] == "error"
        assert "'['" in str(attrs["feature_flag.error.message"])
    assert sum("TOOLCHAIN_KILL" in r.getMessage() for r in caplog.records) == 1


def test_cli_kill_refuses_an_unmatchable_pattern(tmp_path: Path) -> None:
    """`toolchain kill '['` refuses (exit 2) and writes nothing."""
    path = tmp_path / "flags.json"
    proc = run_cli("kill", "[", "--reason", "x", "--file", str(path))
    assert proc.returncode == 2
    assert "'['" in proc.stderr
    assert not path.exists()


def test_a_fifo_at_the_flag_path_never_blocks_a_call(tmp_path: Path) -> None:
    """A FIFO where the flag file should be: calls go on (kill_default) and the span says why."""
    path = tmp_path / "flags.json"
    os.mkfifo(path)
    source = FileSource(path)
    flags.set_sources([source])
    try:
        done = threading.Event()
        answers: list[object] = []

        def call() -> None:
            answers.append(_surface("fifo.one")("q"))
            done.set()

        threading.Thread(target=call, daemon=True).start()
        assert done.wait(10), "a call hung on the FIFO"
        assert answers == ["model"]
        answer = source.evaluate(flags.FlagTarget("fifo.one.kill", "fifo.one", None, "medium", False))
        assert answer.error_type is not None and "not a regular file" in str(answer.error_message)
    finally:
        flags.set_sources(None)


def test_cli_flags_on_a_fifo_exits_2_at_once(tmp_path: Path) -> None:
    """`toolchain flags` on a FIFO exits 2 saying it is not a regular file (it used to hang)."""
    path = tmp_path / "flags.json"
    os.mkfifo(path)
    proc = run_cli("flags", "--file", str(path), timeout=20)
    assert proc.returncode == 2
    assert "not a regular file" in proc.stderr


def test_a_hung_read_is_cut_off_and_keeps_the_last_value(
    file_source: tuple[Path, FileSource], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that never answers (a hung mount) holds a call at most ~1 s; the last known value (killed) applies."""
    from toolchain_sdk.flags import _file_source

    path, source = file_source
    FlagFile(path).kill("hang.*", reason="incident")
    reply = _surface("hang.one")
    assert reply("q") == "fallback"
    never = threading.Event()
    monkeypatch.setattr(_file_source, "read_regular_file", lambda p: (never.wait(60), b"")[1])
    FlagFile(path).restore("hang.*", reason="over")  # a change the hung read can never deliver
    source.refresh()
    started = time.monotonic()
    assert reply("q") == "fallback"  # still the last known value: killed
    assert time.monotonic() - started < 10  # bounded by the read deadline, not by the hung read
    assert wait_for(
        lambda: (
            source.evaluate(flags.FlagTarget("hang.one.kill", "hang.one", None, "medium", False)).error_type is not None
        )
    )
    never.set()


@pytest.mark.parametrize("state", ["bad format", "unmatchable pattern", "fifo"])
def test_no_error_state_turns_a_killed_surface_back_on(
    state: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever error a source is in, a surface whose last known value was "killed" stays killed."""
    path = tmp_path / "flags.json"
    FlagFile(path).kill("state.*", reason="incident")
    source = FileSource(path, check_interval_s=0.05)
    flags.set_sources(["env", source])
    try:
        reply = _surface("state.one")
        assert reply("q") == "fallback"
        if state == "bad format":
            _write(path, {"state.one": False})
        elif state == "unmatchable pattern":
            monkeypatch.setenv("TOOLCHAIN_KILL", "[")
        else:
            path.unlink()
            os.mkfifo(path)
        source.refresh()
        assert [reply("q") for _ in range(5)] == ["fallback"] * 5
    finally:
        flags.set_sources(None)


def test_a_kill_without_fallback_reads_as_a_guardrail_not_a_model_call(
    monkeypatch: pytest.MonkeyPatch, spans: SpanRecorder
) -> None:
    """KillSwitchEngaged: status ERROR, outcome error, kind GUARDRAIL, and no usage or response model."""
    monkeypatch.setenv("TOOLCHAIN_KILL", "nofb.one")

    @tc.governed_call("nofb.one", model="gpt-4o")
    def f() -> str:
        return "model"

    with pytest.raises(tc.KillSwitchEngaged):
        f()
    attrs = spans.one("nofb.one").attributes or {}
    assert attrs["toolchain.outcome"] == "error"
    assert attrs["openinference.span.kind"] == "GUARDRAIL"
    assert not any(k.startswith(("gen_ai.usage.", "gen_ai.response.")) for k in attrs)
