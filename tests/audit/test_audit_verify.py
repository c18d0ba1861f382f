"""Verification: intact chains pass, and each kind of tampering is named at the first bad record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.audit._chains import build_chain, by_hand_hash, lines, rechain, write_lines
from toolchain_sdk import audit

KEYS = [pytest.param(None, id="sha256"), pytest.param("chain-key", id="hmac")]


@pytest.fixture(params=KEYS)
def key(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """Run the test without and with TOOLCHAIN_AUDIT_KEY."""
    if request.param is None:
        monkeypatch.delenv("TOOLCHAIN_AUDIT_KEY", raising=False)
    else:
        monkeypatch.setenv("TOOLCHAIN_AUDIT_KEY", request.param)
    return request.param  # type: ignore[no-any-return]


def test_an_intact_chain_verifies(tmp_path: Path, key: str | None) -> None:
    """A chain written by the sink verifies intact, with its head hash and the algorithm reported."""
    path = tmp_path / "audit.jsonl"
    records = build_chain(path)
    result = audit.verify(path)
    assert (result.status, result.exit_code, result.records) == ("intact", 0, 6)
    assert result.head_hash == records[-1].hash and result.head_seq == 6
    assert result.keyed is (key is not None)


def test_the_hash_is_recomputable_by_hand(tmp_path: Path, key: str | None) -> None:
    """Each line's hash is SHA-256 (or HMAC-SHA256) of its canonical JSON without ``hash``; the first
    prev_hash is 64 zeros and each later one is the previous hash."""
    path = tmp_path / "audit.jsonl"
    build_chain(path, 3)
    prev = "0" * 64
    for row in lines(path):
        data = json.loads(row)
        assert data["prev_hash"] == prev
        assert data["hash"] == by_hand_hash(data, key.encode() if key else None)
        assert data["schema"] == 1
        prev = data["hash"]


def test_a_modified_record_is_named(tmp_path: Path, key: str | None) -> None:
    """Changing one value of line 3 fails verification at line 3, naming its id."""
    path = tmp_path / "audit.jsonl"
    records = build_chain(path)
    rows = lines(path)
    data = json.loads(rows[2])
    data["outcome"] = "error"
    rows[2] = json.dumps(data, separators=(",", ":"))
    write_lines(path, rows)
    result = audit.verify(path)
    assert (result.status, result.exit_code, result.problem) == ("tampered", 1, "modified")
    assert (result.line, result.record_id) == (3, records[2].id)


def test_a_modified_and_rehashed_record_is_caught_by_the_next_link(tmp_path: Path) -> None:
    """Without a key, re-hashing a modified record still breaks the link from the next record."""
    path = tmp_path / "audit.jsonl"
    records = build_chain(path)
    rows = lines(path)
    data = json.loads(rows[2])
    data["output"] = "forged"
    data["hash"] = by_hand_hash(data)
    rows[2] = json.dumps(data, separators=(",", ":"))
    write_lines(path, rows)
    result = audit.verify(path)
    assert (result.status, result.problem, result.line, result.record_id) == ("tampered", "modified", 3, records[2].id)


def test_a_deleted_record_is_named(tmp_path: Path, key: str | None) -> None:
    """Deleting line 3 fails at the record now on line 3 (the old line 4), saying records were deleted."""
    path = tmp_path / "audit.jsonl"
    records = build_chain(path)
    rows = lines(path)
    del rows[2]
    write_lines(path, rows)
    result = audit.verify(path)
    assert (result.status, result.problem, result.line, result.record_id) == ("tampered", "deleted", 3, records[3].id)
    assert "deleted" in result.message


def test_deleting_the_first_record_is_caught(tmp_path: Path, key: str | None) -> None:
    """A chain whose first record is gone does not start at 64 zeros: tampered at line 1."""
    path = tmp_path / "audit.jsonl"
    records = build_chain(path)
    write_lines(path, lines(path)[1:])
    result = audit.verify(path)
    assert (result.status, result.problem, result.line, result.record_id) == ("tampered", "deleted", 1, records[1].id)


@pytest.mark.parametrize(("copied", "at"), [(4, 2), (1, 2), (0, 4)], ids=["later", "adjacent", "earlier"])
def test_an_inserted_copy_is_named(tmp_path: Path, key: str | None, copied: int, at: int) -> None:
    """A copy of a record inserted anywhere (of a later one, right after itself, of an earlier one)
    is named as inserted at its own line, with the line of the original."""
    path = tmp_path / "audit.jsonl"
    records = build_chain(path)
    rows = lines(path)
    rows.insert(at, rows[copied])
    write_lines(path, rows)
    result = audit.verify(path)
    assert (result.status, result.problem, result.line, result.record_id) == (
        "tampered",
        "inserted",
        at + 1,
        records[copied].id,
    )
    assert "a copy of audit.jsonl line" in result.message


def test_a_forged_record_chained_in_is_named_as_inserted(tmp_path: Path) -> None:
    """Without a key, a forged record that links correctly to line 2 is named as inserted at line 3,
    because line 4 still chains to line 2."""
    path = tmp_path / "audit.jsonl"
    build_chain(path)
    rows = lines(path)
    forged = json.loads(rows[2])
    forged.update(id="f" * 32, output="forged")
    forged["hash"] = by_hand_hash(forged)
    rows.insert(2, json.dumps(forged, separators=(",", ":")))
    write_lines(path, rows)
    result = audit.verify(path)
    assert (result.status, result.problem, result.line, result.record_id) == ("tampered", "inserted", 3, "f" * 32)


def test_reordered_records_are_named(tmp_path: Path, key: str | None) -> None:
    """Swapping lines 3 and 4 fails at line 3 as reordered."""
    path = tmp_path / "audit.jsonl"
    records = build_chain(path)
    rows = lines(path)
    rows[2], rows[3] = rows[3], rows[2]
    write_lines(path, rows)
    result = audit.verify(path)
    assert (result.status, result.problem, result.line, result.record_id) == (
        "tampered",
        "reordered",
        3,
        records[3].id,
    )


def test_a_line_that_is_not_a_record_is_tampering(tmp_path: Path) -> None:
    """Garbage in the middle of the file (a complete line) is tampering, not a torn tail."""
    path = tmp_path / "audit.jsonl"
    build_chain(path)
    rows = lines(path)
    rows.insert(1, "not json")
    write_lines(path, rows)
    result = audit.verify(path)
    assert (result.status, result.problem, result.line) == ("tampered", "malformed", 2)


def test_a_chain_rewritten_with_plain_sha256_fails_under_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone without the key can re-chain a modified file with SHA-256; under the key it fails at line 1."""
    monkeypatch.setenv("TOOLCHAIN_AUDIT_KEY", "the-real-key")
    path = tmp_path / "audit.jsonl"
    records = build_chain(path)
    rows = lines(path)
    data = json.loads(rows[3])
    data["output"] = "forged"
    rows[3] = json.dumps(data)
    write_lines(path, rechain(rows))
    result = audit.verify(path)
    assert (result.status, result.problem, result.line, result.record_id) == ("tampered", "modified", 1, records[0].id)
    assert "plain SHA-256" in result.message
    monkeypatch.delenv("TOOLCHAIN_AUDIT_KEY")
    assert audit.verify(path).status == "intact"  # which is exactly why the key matters


def test_a_keyed_chain_needs_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chain written under a key does not verify under another key or none."""
    monkeypatch.setenv("TOOLCHAIN_AUDIT_KEY", "k1")
    path = tmp_path / "audit.jsonl"
    build_chain(path, 2)
    monkeypatch.setenv("TOOLCHAIN_AUDIT_KEY", "k2")
    assert audit.verify(path).status == "tampered"
    monkeypatch.delenv("TOOLCHAIN_AUDIT_KEY")
    result = audit.verify(path)
    assert result.status == "tampered" and "TOOLCHAIN_AUDIT_KEY" in result.message


def test_a_torn_last_record_exits_3_and_names_it(tmp_path: Path) -> None:
    """Half a line at the end (no newline) is a torn tail: status torn, the records before it intact."""
    path = tmp_path / "audit.jsonl"
    build_chain(path, 4)
    with path.open("ab") as handle:
        handle.write(b'{"schema":1,"kind":"call","id":"ab')
    result = audit.verify(path)
    assert (result.status, result.exit_code, result.problem, result.line, result.records) == ("torn", 3, "torn", 5, 4)


def test_a_whole_record_without_its_newline_is_a_torn_tail_the_writer_moves_aside(tmp_path: Path) -> None:
    """A last record missing only its newline was never accepted: verify says torn (as read() skips
    it), and the next append moves it to the side file and chains to the record before it."""
    path = tmp_path / "audit.jsonl"
    records = build_chain(path, 3)
    path.write_bytes(path.read_bytes().removesuffix(b"\n"))
    result = audit.verify(path)
    assert (result.status, result.exit_code, result.line, result.records) == ("torn", 3, 3, 2)
    assert [r.id for r in audit.read(path)] == [r.id for r in records[:2]]
    sink = audit.jsonl(path)
    appended = sink.append(audit.AuditRecord(surface="after.crash"))
    sink.close()
    assert (appended.seq, appended.prev_hash) == (3, records[1].hash)
    assert records[2].id in (tmp_path / "audit.jsonl.torn").read_text()
    result = audit.verify(path)
    assert result.status == "intact" and result.records == 3 and "audit.jsonl.torn" in result.message


def test_a_rotated_file_cut_short_is_tampering(tmp_path: Path) -> None:
    """A segment that does not end with a newline (only an edit can do that) fails as malformed at its last line."""
    path = tmp_path / "audit.jsonl"
    sink = audit.jsonl(path, max_bytes=4000)
    for n in range(12):
        sink.append(audit.AuditRecord(surface="s", input={"n": n, "pad": "x" * 500}))
    sink.close()
    first = tmp_path / "audit.000001.jsonl"
    first.write_bytes(first.read_bytes().removesuffix(b"\n"))
    result = audit.verify(path)
    assert (result.status, result.problem, result.file) == ("tampered", "malformed", str(first))
    assert result.line == len(first.read_bytes().split(b"\n")) and result.record_id is not None


def test_verify_with_an_anchor_checks_what_retention_left(tmp_path: Path) -> None:
    """After the oldest records are archived away, ``anchor`` (their last hash) lets the rest verify."""
    path = tmp_path / "audit.jsonl"
    records = build_chain(path)
    write_lines(path, lines(path)[3:])
    assert audit.verify(path).status == "tampered"
    assert audit.verify(path, anchor=records[2].hash).status == "intact"
    assert audit.verify(path, anchor=records[1].hash).status == "tampered"


@pytest.mark.parametrize("change", ["modify", "delete", "swap"])
def test_sqlite_tampering_is_caught(tmp_path: Path, change: str, key: str | None) -> None:
    """Editing, deleting or swapping rows of the SQLite sink fails verification at that row."""
    import sqlite3

    db_path = tmp_path / "audit.db"
    sink = audit.sqlite(db_path)
    records = [sink.append(audit.AuditRecord(surface="s", input={"n": n})) for n in range(5)]
    sink.close()
    assert audit.verify(f"sqlite:///{db_path}").status == "intact"
    db = sqlite3.connect(db_path)
    with db:
        if change == "modify":
            text = db.execute("SELECT record FROM audit_records WHERE seq = 3").fetchone()[0]
            db.execute("UPDATE audit_records SET record = ? WHERE seq = 3", (text.replace('"n":2', '"n":9'),))
        elif change == "delete":
            db.execute("DELETE FROM audit_records WHERE seq = 3")
        else:
            db.execute("UPDATE audit_records SET seq = -3 WHERE seq = 3")
            db.execute("UPDATE audit_records SET seq = 3 WHERE seq = 4")
            db.execute("UPDATE audit_records SET seq = 4 WHERE seq = -3")
    db.close()
    result = audit.verify(f"sqlite:///{db_path}")
    assert (result.status, result.line) == ("tampered", 3)
    expected = {"modify": ("modified", 2), "delete": ("deleted", 3), "swap": ("reordered", 3)}[change]
    assert (result.problem, result.record_id) == (expected[0], records[expected[1]].id)
