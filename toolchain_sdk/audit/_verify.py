"""Verifying a chain: every record's hash, every link, and what kind of change broke it first."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from toolchain_sdk.audit._chain import audit_key, record_hash
from toolchain_sdk.audit._record import GENESIS
from toolchain_sdk.audit._source import Entry, Location, entries, locate

__all__ = ["Problem", "Verification", "verify"]

Problem = Literal["modified", "deleted", "inserted", "reordered", "malformed", "torn"]


@dataclass(frozen=True)
class Verification:
    """The result of ``verify``.

    Attributes:
        status: ``intact``, ``tampered`` (a record was modified, deleted, inserted or reordered, or
            a line is not a record) or ``torn`` (intact except an incomplete last record).
        records: how many records were checked and found intact.
        problem: what broke the chain first (``None`` when intact).
        file, line, record_id: the first bad record: its file, 1-based line (row position for a
            database) and id (``None`` when intact or unreadable).
        message: one sentence for people.
        side_files: torn-tail and spool files beside the chain.
        head_seq, head_hash: the last intact record's ``seq`` and ``hash`` (anchor them elsewhere to
            detect a cut-off tail later).
        keyed: whether hashes were checked as HMAC-SHA256 (``TOOLCHAIN_AUDIT_KEY`` set).
    """

    status: Literal["intact", "tampered", "torn"]
    records: int
    message: str
    problem: Problem | None = None
    file: str | None = None
    line: int | None = None
    record_id: str | None = None
    side_files: tuple[str, ...] = field(default=())
    head_seq: int = 0
    head_hash: str = GENESIS
    keyed: bool = False

    @property
    def exit_code(self) -> int:
        """``toolchain audit verify``'s exit status: 0 intact, 1 tampered, 3 torn."""
        return {"intact": 0, "tampered": 1, "torn": 3}[self.status]


@dataclass
class _Seen:
    """A parsed record and where it is stored."""

    entry: Entry
    data: dict[str, object]

    @property
    def id(self) -> str | None:
        """The record's id, if it has a text one."""
        value = self.data.get("id")
        return value if isinstance(value, str) else None

    @property
    def seq(self) -> int:
        """The record's ``seq`` (-1 when missing)."""
        value = self.data.get("seq")
        return value if isinstance(value, int) else -1

    def where(self) -> str:
        """``file line N (id X)`` for messages."""
        return f"{os.path.basename(self.entry.file)} line {self.entry.line} (id {self.id})"


def _parse(entry: Entry) -> dict[str, object] | None:
    """The JSON object of a stored line, or ``None`` when it is not a record with a hash."""
    try:
        data = json.loads(entry.text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("hash"), str):
        return None
    return data


def _later(rest: Iterator[Entry], *, hash_: object, prev: object, own: object) -> tuple[bool, bool, Entry | None]:
    """Scan the records after the first bad one: whether one has ``hash == hash_`` (its
    predecessor), whether one has ``prev_hash == prev`` (the expected successor), and the first
    one whose hash is ``own`` (it is a copy)."""
    has_hash = has_prev = False
    copy: Entry | None = None
    for entry in rest:
        data = _parse(entry)
        if data is None:
            continue
        has_hash = has_hash or data.get("hash") == hash_
        has_prev = has_prev or data.get("prev_hash") == prev
        if copy is None and data.get("hash") == own:
            copy = entry
    return has_hash, has_prev, copy


def _earlier(location: Location, count: int, own: object) -> Entry | None:
    """The first of the first ``count`` stored records whose hash is ``own`` (the original of a copy)."""
    for index, entry in enumerate(entries(location)):
        if index >= count:
            return None
        data = _parse(entry)
        if data is not None and data.get("hash") == own:
            return entry
    return None


def _key_hint(data: dict[str, object], key: bytes | None) -> str:
    """A hint when a hash fails because of the key: plain SHA-256 under a key, or no key set."""
    if key is not None and record_hash(data, None) == data.get("hash"):
        return (
            " Its hash is plain SHA-256: the chain was written without TOOLCHAIN_AUDIT_KEY, or re-chained by "
            "someone without the key."
        )
    if key is None:
        return " If the chain was written with TOOLCHAIN_AUDIT_KEY, set it before verifying."
    return ""


def verify(path_or_url: str | os.PathLike[str], *, anchor: str | None = None) -> Verification:
    """Check a JSONL chain (rotated files as one chain) or an audit database.

    Args:
        path_or_url: ``PATH`` of the live JSONL file, or ``sqlite:///PATH``.
        anchor: the ``prev_hash`` the first stored record must have (default: 64 zeros); give the
            last hash of archived segments to verify what remains after retention removed them.

    Raises:
        ConfigError: nothing is stored there.
    """
    location = locate(path_or_url)
    key = audit_key()
    sides = tuple(str(p) for p in location.side_files())
    mention = f"; side files: {', '.join(sides)}" if sides else ""
    expected_prev = anchor or GENESIS
    expected_seq: int | None = None if anchor else 1
    before: _Seen | None = None
    last: _Seen | None = None
    count = 0

    def result(status: Literal["tampered", "torn"], problem: Problem, bad: _Seen | Entry, message: str) -> Verification:
        """A failed ``Verification`` naming ``bad``."""
        entry = bad.entry if isinstance(bad, _Seen) else bad
        return Verification(
            status=status,
            records=count,
            message=message + mention,
            problem=problem,
            file=entry.file,
            line=entry.line,
            record_id=bad.id if isinstance(bad, _Seen) else None,
            side_files=sides,
            head_seq=last.seq if last else 0,
            head_hash=str(last.data["hash"]) if last else expected_prev,
            keyed=key is not None,
        )

    stream = entries(location)
    for index, entry in enumerate(stream):
        data = _parse(entry)
        place = f"{os.path.basename(entry.file)} line {entry.line}"
        if not entry.terminated:
            # Bytes after the last newline were never accepted (the append writes the record and its
            # newline at once, and the next append moves them aside), even when they parse as a record.
            if next(stream, None) is None:
                return result(
                    "torn",
                    "torn",
                    entry,
                    f"{place}: torn last record (an incomplete write, e.g. a crash); the {count} records before "
                    "it are intact. The next append moves it to a side file and continues the chain",
                )
            message = f"{place}: a rotated file does not end with a newline (tampered or corrupted)"
            return result("tampered", "malformed", _Seen(entry, data) if data else entry, message)
        if data is None:
            return result("tampered", "malformed", entry, f"{place}: not an audit record (tampered or corrupted)")
        seen = _Seen(entry, data)
        if record_hash(data, key) != data["hash"]:
            return result(
                "tampered",
                "modified",
                seen,
                f"{seen.where()}: modified: its hash does not match its content." + _key_hint(data, key),
            )
        if data.get("prev_hash") != expected_prev:
            own = data["hash"]
            original = _earlier(location, index, own)
            found_pred, found_succ, copy = _later(stream, hash_=data.get("prev_hash"), prev=expected_prev, own=own)
            if original is not None or copy is not None:
                other = original or copy
                assert other is not None
                message = f"{seen.where()}: inserted: a copy of {os.path.basename(other.file)} line {other.line}"
                return result("tampered", "inserted", seen, message)
            if before is not None and last is not None and data.get("prev_hash") == before.data["hash"]:
                message = f"{last.where()}: inserted: the record after it chains to the one before it"
                return result("tampered", "inserted", last, message)
            if found_pred or (expected_seq is not None and 0 < seen.seq < expected_seq):
                message = f"{seen.where()}: reordered: it comes before the record it chains to (seq {seen.seq})"
                return result("tampered", "reordered", seen, message)
            if found_succ:
                message = f"{seen.where()}: inserted: the record that follows the one before it comes later"
                return result("tampered", "inserted", seen, message)
            if expected_seq is not None and seen.seq > expected_seq:
                missing = seen.seq - expected_seq
                message = f"{seen.where()}: {missing} record(s) deleted before it (seq {expected_seq}-{seen.seq - 1})"
                return result("tampered", "deleted", seen, message)
            if last is not None:
                message = f"{last.where()}: modified and re-hashed: the record after it no longer chains to it"
                return result("tampered", "modified", last, message)
            return result("tampered", "deleted", seen, f"{seen.where()}: the chain does not start at this record")
        before, last = last, seen
        expected_prev = str(data["hash"])
        expected_seq = seen.seq + 1
        count += 1
    message = f"{count} records"
    if last is not None:
        message += f", head seq {last.seq} hash {last.data['hash']}"
    return Verification(
        status="intact",
        records=count,
        message=message + mention,
        side_files=sides,
        head_seq=last.seq if last else 0,
        head_hash=expected_prev,
        keyed=key is not None,
    )
