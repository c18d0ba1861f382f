"""The JSONL sink: rotation that keeps one chain, torn-tail repair, failures that spool and raise."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import pytest

from tests.audit._chains import build_chain, lines
from toolchain_sdk import audit
from toolchain_sdk.errors import AuditUnavailable


def test_rotation_keeps_one_chain_across_files(tmp_path: Path) -> None:
    """With max_bytes, the live file rolls to numbered segments, every file stays under the cap, and
    the files verify (and read) as one chain in order."""
    path = tmp_path / "audit.jsonl"
    sink = audit.jsonl(path, max_bytes=4000)
    written = [sink.append(audit.AuditRecord(surface="s", input={"n": n})) for n in range(12)]
    sink.close()
    segments = sorted(p.name for p in tmp_path.glob("audit.0*.jsonl"))
    assert segments[0] == "audit.000001.jsonl" and len(segments) >= 3
    assert all((tmp_path / name).stat().st_size <= 4000 for name in [*segments, "audit.jsonl"])
    first_live = json.loads(lines(path)[0])
    assert first_live["prev_hash"] != audit.GENESIS  # the live file continues the chain
    assert audit.verify(path).status == "intact"
    assert [r.id for r in audit.read(path)] == [r.id for r in written]
    assert [r.seq for r in audit.read(path)] == list(range(1, 13))


def test_a_deleted_segment_breaks_the_rotated_chain(tmp_path: Path) -> None:
    """Removing a middle segment is caught like deleting records."""
    path = tmp_path / "audit.jsonl"
    sink = audit.jsonl(path, max_bytes=3000)
    for n in range(10):
        sink.append(audit.AuditRecord(surface="s", input={"n": n}))
    sink.close()
    (tmp_path / "audit.000002.jsonl").unlink()
    result = audit.verify(path)
    assert (result.status, result.problem) == ("tampered", "deleted")
    assert result.file is not None and result.file.endswith("audit.000003.jsonl")


def test_two_sinks_on_one_file_continue_each_others_chain(tmp_path: Path) -> None:
    """A sink re-reads the tail when another writer appended, so interleaved appends form one chain."""
    path = tmp_path / "audit.jsonl"
    a, b = audit.jsonl(path), audit.jsonl(path, max_bytes=2500)
    for n in range(6):
        (a if n % 2 else b).append(audit.AuditRecord(surface="s", input={"n": n}))
    a.close()
    b.close()
    assert audit.verify(path).status == "intact"
    assert [r.input for r in audit.read(path)] == [{"n": n} for n in range(6)]


def test_a_torn_tail_is_moved_aside_and_the_chain_continues(tmp_path: Path) -> None:
    """Opening a torn file for appending moves the torn bytes (kept, not deleted) to PATH.torn and
    chains the next record to the last intact one; verify then exits 0 and names the side file."""
    path = tmp_path / "audit.jsonl"
    records = build_chain(path, 3)
    torn = b'{"schema":1,"kind":"call","id":"0123'
    with path.open("ab") as handle:
        handle.write(torn)
    assert audit.verify(path).exit_code == 3
    sink = audit.jsonl(path)
    new = sink.append(audit.AuditRecord(surface="after"))
    sink.close()
    assert (new.seq, new.prev_hash) == (4, records[-1].hash)
    side = tmp_path / "audit.jsonl.torn"
    assert side.read_bytes() == torn + b"\n"
    result = audit.verify(path)
    assert (result.status, result.exit_code) == ("intact", 0)
    assert result.side_files == (str(side),) and "audit.jsonl.torn" in result.message


def test_configuring_an_unwritable_path_does_not_raise_but_check_and_write_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sink whose directory cannot be created (a file is in the way, so even root cannot) builds
    fine; check() raises AuditUnavailable and write() spools the record before raising."""
    (tmp_path / "afile").write_text("not a directory")
    sink = audit.jsonl(tmp_path / "afile" / "audit.jsonl")
    with pytest.raises(AuditUnavailable, match="cannot be written"):
        sink.check()
    audit.use_sink(sink)
    record = audit.AuditRecord(surface="s", risk="high")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AuditUnavailable, match="spooled to") as caught:
        audit.write(record)
    assert isinstance(caught.value.__cause__, OSError)
    spool = tmp_path / ".toolchain" / "audit-spool.jsonl"
    assert json.loads(spool.read_text().splitlines()[-1])["id"] == record.id


def test_the_spool_sits_beside_the_sink_when_that_directory_is_writable(tmp_path: Path) -> None:
    """When only the chain file is unusable, the record goes to PATH.spool.jsonl next to it."""
    path = tmp_path / "audit.jsonl"
    path.mkdir()  # a directory where the file should be: appends fail, the directory is writable
    sink = audit.jsonl(path)
    audit.use_sink(sink)
    record = audit.AuditRecord(surface="s")
    with pytest.raises(AuditUnavailable):
        audit.write(record)
    spooled = (tmp_path / "audit.jsonl.spool.jsonl").read_text().splitlines()
    assert [json.loads(row)["id"] for row in spooled] == [record.id]


def test_check_is_quiet_for_a_healthy_sink_and_recovers_after_a_failure(tmp_path: Path) -> None:
    """check() passes on a writable path, raises right after a failed append, and passes again once
    the path works (a failure is trusted for about a second, then probed)."""
    path = tmp_path / "audit.jsonl"
    sink = audit.jsonl(path)
    sink.check()
    path.parent.joinpath("blocker").mkdir()
    bad = audit.jsonl(tmp_path / "blocker")
    with pytest.raises(AuditUnavailable):
        bad.append(audit.AuditRecord())
    with pytest.raises(AuditUnavailable):
        bad.check()
    sink.append(audit.AuditRecord())
    sink.check()
    assert sink.describe() == f"jsonl:{path}"


def test_a_forked_child_appends_to_the_same_chain(tmp_path: Path) -> None:
    """A child process forked after the parent appended reopens its handles and continues the chain."""
    path = tmp_path / "audit.jsonl"
    sink = audit.jsonl(path)
    sink.append(audit.AuditRecord(surface="parent"))
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            sink.append(audit.AuditRecord(surface="child"))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    sink.append(audit.AuditRecord(surface="parent-again"))
    sink.close()
    assert [r.surface for r in audit.read(path)] == ["parent", "child", "parent-again"]
    assert audit.verify(path).status == "intact"


def test_spooled_records_can_be_appended_once_the_chain_works_again(tmp_path: Path) -> None:
    """The docs' recipe: records read back from the spool file append to the chain, which verifies."""
    path = tmp_path / "audit.jsonl"
    path.mkdir()
    audit.use_sink(audit.jsonl(path))
    lost = [audit.AuditRecord(surface="s", input={"n": n}) for n in range(3)]
    for record in lost:
        with pytest.raises(AuditUnavailable):
            audit.write(record)
    path.rmdir()
    sink = audit.jsonl(path)
    for record in audit.read(tmp_path / "audit.jsonl.spool.jsonl"):
        sink.append(record)
    sink.close()
    assert [r.id for r in audit.read(path)] == [r.id for r in lost]
    assert audit.verify(path).status == "intact"


def test_a_writer_stuck_holding_the_lock_makes_the_append_fail_not_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When another holder keeps PATH.lock past the timeout, append raises AuditUnavailable."""
    import toolchain_sdk.audit._jsonl as jsonl_module

    monkeypatch.setattr(jsonl_module, "LOCK_TIMEOUT_S", 0.2)
    path = tmp_path / "audit.jsonl"
    sink = audit.jsonl(path)
    sink.append(audit.AuditRecord())
    with open(tmp_path / "audit.jsonl.lock", "w") as other:  # a separate open file: a separate lock
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        with pytest.raises(AuditUnavailable, match="stayed locked"):
            sink.append(audit.AuditRecord())
    sink.append(audit.AuditRecord())
    assert audit.verify(path).records == 2


@pytest.mark.parametrize("fsync", [False, True])
def test_fsync_true_syncs_every_append_and_only_then(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    """With fsync=True each append calls os.fsync on the chain file before returning, and the
    directory is synced when the file is created and at each rotation; without it, nothing is synced."""
    path = tmp_path / "audit.jsonl"
    files: list[int] = []
    directories: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        """Note whether a chain file or the directory was synced, then sync it."""
        stat = os.fstat(fd)
        if os.path.samestat(stat, os.stat(tmp_path)):
            directories.append(fd)
        elif str(os.readlink(f"/proc/self/fd/{fd}")).startswith(str(tmp_path / "audit.")):
            files.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    sink = audit.jsonl(path, fsync=fsync, max_bytes=3000)
    for _ in range(5):
        sink.append(audit.AuditRecord(input={"pad": "x" * 1000}))
    sink.close()
    segments = sorted(tmp_path.glob("audit.0*.jsonl"))
    assert len(segments) >= 2  # the cap made it rotate
    assert len(files) == (5 if fsync else 0)
    assert len(directories) == (1 + len(segments) if fsync else 0)


def test_check_reports_a_chain_another_writer_keeps_locked(tmp_path: Path) -> None:
    """While another holder keeps PATH.lock (a stopped writer), check() raises AuditUnavailable, so a
    high-risk call does not run only to fail at its record; once the lock is free, check() passes again."""
    path = tmp_path / "audit.jsonl"
    sink = audit.jsonl(path)
    sink.append(audit.AuditRecord())
    sink.check()
    with open(tmp_path / "audit.jsonl.lock", "w") as other:  # a separate open file: a separate lock
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        with pytest.raises(AuditUnavailable, match="stayed locked"):
            sink.check()
    deadline = time.monotonic() + 30  # a failure is reported for about a second, then probed again
    while True:
        try:
            sink.check()
            break
        except AuditUnavailable:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    sink.append(audit.AuditRecord())
    sink.close()
    assert audit.verify(path).records == 2
