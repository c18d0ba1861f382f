"""The flag file: format, TTL parsing, locked atomic writes, the change log."""

from __future__ import annotations

import contextlib
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toolchain_sdk as tc
from toolchain_sdk.flags._flag_file import FlagEntry, FlagFile, parse_document, parse_duration, render_document


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("90m", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        (" 2H ", timedelta(hours=2)),
    ],
)
def test_parse_duration_accepts_units(text: str, expected: timedelta) -> None:
    """TTLs are d/h/m/s components in that order."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "0s", "0h0m", "1m2h", "1.5h", "-1h", "2 hours", "1w"])
def test_parse_duration_rejects_others(text: str) -> None:
    """Bare numbers, zero, wrong order, fractions and unknown units are refused."""
    with pytest.raises(ValueError, match="TTL"):
        parse_duration(text)


@given(st.integers(0, 400), st.integers(0, 48), st.integers(0, 120), st.integers(0, 120))
def test_parse_duration_round_trips(d: int, h: int, m: int, s: int) -> None:
    """Any combination of components parses to the matching timedelta (zero is refused)."""
    text = "".join(f"{n}{u}" for n, u in ((d, "d"), (h, "h"), (m, "m"), (s, "s")) if n)
    expected = timedelta(days=d, hours=h, minutes=m, seconds=s)
    if not text:
        return
    assert parse_duration(text) == expected


@given(st.text(max_size=20))
def test_parse_duration_never_fails_otherwise(text: str) -> None:
    """Arbitrary text gives a positive duration or ValueError, nothing else."""
    with contextlib.suppress(ValueError):
        assert parse_duration(text) > timedelta(0)


moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC)
)
entries = st.builds(
    FlagEntry,
    target=st.text(alphabet="abc.*?-_", min_size=1, max_size=10),
    killed=st.booleans(),
    reason=st.text(max_size=30),
    by=st.text(max_size=10),
    since=st.none() | moments,
    until=st.none() | moments,
)


@settings(max_examples=200)
@given(st.lists(entries, max_size=6, unique_by=lambda e: e.target))
def test_document_round_trips(items: list[FlagEntry]) -> None:
    """What render_document writes, parse_document reads back identically."""
    by_target = {e.target: e for e in items}
    assert parse_document(render_document(by_target)) == by_target


def test_hand_written_shorthand_is_accepted() -> None:
    """People may write "name": true / false by hand."""
    parsed = parse_document('{"flags": {"a.b": true, "c.*": false}}')
    assert (parsed["a.b"].killed, parsed["c.*"].killed) == (True, False)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"version": 2}', "version"),
        ('{"flags": []}', "object of entries"),
        ('{"flags": {"a": 1}}', "true, false or an object"),
        ('{"flags": {"a": {"killed": "yes"}}}', "'killed'"),
        ('{"flags": {"a": {"until": "tomorrow"}}}', "ISO 8601"),
        ('{"flags": {"a b": true}}', "not a surface name"),
        ('{"flags": {"a": {"reason": 3}}}', "strings"),
    ],
)
def test_bad_documents_say_what_is_wrong(text: str, problem: str) -> None:
    """Every malformed file is a ConfigError naming the problem."""
    with pytest.raises(tc.ConfigError, match=problem):
        parse_document(text)


def test_changes_are_logged_with_who_when_why_before_after(tmp_path: Path) -> None:
    """kill, allow and restore each append one record; restore of an unknown entry changes nothing."""
    flags = FlagFile(tmp_path / "flags.json")
    flags.kill("s.one", reason="wrong refunds", by="alice", ttl=timedelta(hours=2))
    flags.allow("s.one", reason="fixed prompt", by="bob")
    assert flags.restore("s.nope", reason="oops", by="carol") is None
    flags.restore("s.one", reason="clean up", by="dave")
    log = flags.history()
    assert [(r["action"], r["by"], r["reason"]) for r in log] == [
        ("kill", "alice", "wrong refunds"),
        ("allow", "bob", "fixed prompt"),
        ("restore", "dave", "clean up"),
    ]
    assert log[0]["before"] is None and log[0]["after"]["killed"] is True and log[0]["after"]["until"]
    assert log[1]["before"]["killed"] is True and log[1]["after"]["killed"] is False
    assert log[2]["after"] is None and log[2]["before"]["by"] == "bob"
    assert {"at", "file", "host", "pid", "target"} <= set(log[0])
    assert flags.entries() == {}
    assert flags.history(1) == log[-1:]


def test_writes_refuse_missing_reasons_and_bad_targets(tmp_path: Path) -> None:
    """A change needs a reason and a valid target; nothing is written otherwise."""
    flags = FlagFile(tmp_path / "flags.json")
    with pytest.raises(tc.ConfigError, match="reason"):
        flags.kill("a", reason="  ")
    with pytest.raises(tc.ConfigError, match="glob pattern"):
        flags.kill("a,b", reason="r")
    assert not flags.path.exists()


def test_corrupt_file_is_not_overwritten(tmp_path: Path) -> None:
    """A writer refuses to replace a file it cannot parse (a person must fix it)."""
    flags = FlagFile(tmp_path / "flags.json")
    flags.path.write_text("{broken")
    with pytest.raises(tc.ConfigError, match="not valid JSON"):
        flags.kill("a", reason="r")
    assert flags.path.read_text() == "{broken"


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    """Eight threads writing at once: every entry and every log record survives; readers only see whole files."""
    flags = FlagFile(tmp_path / "flags.json")
    torn: list[Exception] = []
    stop = threading.Event()

    def read_loop() -> None:
        while not stop.is_set():
            try:
                flags.entries()
            except Exception as exc:
                torn.append(exc)

    def write(i: int) -> None:
        for j in range(10):
            FlagFile(flags.path).kill(f"w{i}.s{j}", reason=f"writer {i}", by=f"t{i}")

    reader = threading.Thread(target=read_loop)
    reader.start()
    writers = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert torn == []
    assert len(flags.entries()) == 80
    lines = flags.log_path.read_text().splitlines()
    assert len(lines) == 80 and all(json.loads(line)["action"] == "kill" for line in lines)
