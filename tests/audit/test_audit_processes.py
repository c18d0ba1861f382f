"""Appends from several real processes, and writers killed with SIGKILL in the middle of an append."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests._subproc import ROOT, run_cli
from toolchain_sdk import audit

WRITER = """
import os, sys, time
from toolchain_sdk import audit
spec, go, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
sink = audit.open_sink(spec)
while not os.path.exists(go):
    time.sleep(0.001)
for n in range(count):
    sink.append(audit.AuditRecord(surface="load", input={"pid": os.getpid(), "n": n}))
sink.close()
"""


def _env() -> dict[str, str]:
    """This environment without OTEL_*/TOOLCHAIN_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOOLCHAIN_"))}
    return env


def _spawn(code: str, *args: str, stdout: int | None = None) -> subprocess.Popen[str]:
    """Start ``code`` in a fresh interpreter with ``args``."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        env=_env(),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
def test_four_processes_append_8000_records_into_one_intact_chain(tmp_path: Path, kind: str) -> None:
    """4 processes x 2,000 concurrent appends give exactly 8,000 records, every seq once, intact."""
    spec = str(tmp_path / "audit.jsonl") if kind == "jsonl" else f"sqlite:///{tmp_path / 'audit.db'}"
    go = tmp_path / "go"
    writers = [_spawn(WRITER, spec, str(go), "2000") for _ in range(4)]
    time.sleep(0.5)  # let every writer import and wait at the gate
    go.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=600)
        assert writer.returncode == 0, err
    records = list(audit.read(spec))
    assert len(records) == 8000
    assert [r.seq for r in records] == list(range(1, 8001))
    per_writer: dict[object, int] = {}
    for r in records:
        assert isinstance(r.input, dict)
        per_writer[r.input["pid"]] = per_writer.get(r.input["pid"], 0) + 1
    assert sorted(per_writer.values()) == [2000] * 4
    result = audit.verify(spec)
    assert (result.status, result.records) == ("intact", 8000)


def test_processes_rotating_one_chain_keep_it_continuous(tmp_path: Path) -> None:
    """3 processes appending with max_bytes: the live file rolls over many times while they race,
    and the segments plus the live file still verify as one chain with every record once."""
    path = tmp_path / "audit.jsonl"
    go = tmp_path / "go"
    writers = [_spawn(WRITER, f"{path}?max_bytes=20000", str(go), "400") for _ in range(3)]
    time.sleep(0.5)
    go.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=600)
        assert writer.returncode == 0, err
    segments = sorted(tmp_path.glob("audit.0*.jsonl"))
    assert len(segments) > 10 and all(p.stat().st_size <= 20000 for p in [*segments, path])
    records = list(audit.read(path))
    assert [r.seq for r in records] == list(range(1, 1201))
    assert len({r.id for r in records}) == 1200
    result = audit.verify(path)
    assert (result.status, result.records) == ("intact", 1200)


@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
def test_threads_sharing_a_sink_or_with_their_own_form_one_chain(tmp_path: Path, kind: str) -> None:
    """8 threads on one shared sink and 4 threads with a sink each, all at once: 2,400 records, intact."""
    spec = str(tmp_path / "audit.jsonl") if kind == "jsonl" else f"sqlite:///{tmp_path / 'audit.db'}"
    shared = audit.open_sink(spec)
    own = [audit.open_sink(spec) for _ in range(4)]
    gate = threading.Barrier(12)

    def append(sink: audit.Sink, name: str) -> None:
        """Wait for every thread, then append 200 records."""
        gate.wait()
        for n in range(200):
            sink.append(audit.AuditRecord(surface=name, input={"n": n}))

    threads = [threading.Thread(target=append, args=(shared, f"shared.{i}")) for i in range(8)]
    threads += [threading.Thread(target=append, args=(sink, f"own.{i}")) for i, sink in enumerate(own)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for sink in (shared, *own):
        sink.close()
    records = list(audit.read(spec))
    assert [r.seq for r in records] == list(range(1, 2401))
    assert sorted({r.surface for r in records}) == sorted(
        {f"shared.{i}" for i in range(8)} | {f"own.{i}" for i in range(4)}
    )
    assert audit.verify(spec).status == "intact"


TORN_WRITER = """
import os, sys, time
from toolchain_sdk import audit
import toolchain_sdk.audit._jsonl as jsonl_module
sink = audit.jsonl(sys.argv[1])
for n in range(5):
    sink.append(audit.AuditRecord(surface="crash", input={"n": n}))

def half_then_hang(fd, data):
    os.write(fd, data[: len(data) // 2])
    print("HALF", flush=True)
    time.sleep(600)

jsonl_module._write_all = half_then_hang
sink.append(audit.AuditRecord(surface="crash", input={"n": 5}))
"""


def test_a_writer_killed_mid_record_leaves_a_torn_tail_that_repairs(tmp_path: Path) -> None:
    """SIGKILL while a record is half written: verify exits 3 naming line 6; the next process that
    appends moves the torn bytes to audit.jsonl.torn and continues; verify then exits 0."""
    path = tmp_path / "audit.jsonl"
    writer = _spawn(TORN_WRITER, str(path), stdout=subprocess.PIPE)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "HALF"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    checked = run_cli("audit", "verify", str(path))
    assert checked.returncode == 3, checked.stdout + checked.stderr
    assert "line 6" in checked.stdout and "torn" in checked.stdout
    appended = run_cli(
        "kill",
        "support.*",
        "--reason",
        "after the crash",
        "--file",
        str(tmp_path / "flags.json"),
        env={"TOOLCHAIN_AUDIT": str(path)},
    )
    assert appended.returncode == 0, appended.stderr
    repaired = run_cli("audit", "verify", str(path))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "audit.jsonl.torn" in repaired.stdout
    assert (tmp_path / "audit.jsonl.torn").read_bytes().startswith(b'{"action":null,')  # the half-written record
    assert [r.seq for r in audit.read(path)] == [1, 2, 3, 4, 5, 6]


LOOP_WRITER = """
import sys
from toolchain_sdk import audit
sink = audit.jsonl(sys.argv[1])
print("STARTED", flush=True)
n = 0
while True:
    sink.append(audit.AuditRecord(surface="loop", output="x" * 20000, input={"n": n}))
    n += 1
"""


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.4])
def test_a_writer_killed_at_any_moment_leaves_a_chain_that_verifies_or_repairs(tmp_path: Path, delay: float) -> None:
    """SIGKILL at an arbitrary moment of a tight append loop: the file is intact (exit 0) or torn
    (exit 3), never tampered; after the next append it is intact with every whole record kept."""
    path = tmp_path / "audit.jsonl"
    writer = _spawn(LOOP_WRITER, str(path), stdout=subprocess.PIPE)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "STARTED"
    time.sleep(delay)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    first = audit.verify(path)
    assert first.status in ("intact", "torn")
    whole = first.records
    sink = audit.jsonl(path)
    sink.append(audit.AuditRecord(surface="after"))
    sink.close()
    after = audit.verify(path)
    assert (after.status, after.records) == ("intact", whole + 1)
