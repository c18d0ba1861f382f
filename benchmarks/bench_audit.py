"""Appends per second of the audit sinks (JSONL and SQLite, with and without fsync), and what
verifying a chain and the pre-call ``check()`` cost.

One process, interleaved rounds (each round times every case in a shuffled order, on a fresh
chain), so drift on a shared machine hits every case alike; each figure is the median over rounds.
The record is a typical ``capture="hash"`` call record (hashes, no content). Prints one JSON
line last (what ``run.py --only audit`` keeps in ``results.json``):

    .venv/bin/python benchmarks/bench_audit.py
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from toolchain_sdk import audit

ROUNDS = 7
APPENDS = {False: 2000, True: 150}
"""Appends timed per round, without and with fsync."""
VERIFY_RECORDS = 20000
CASES = [("jsonl", False), ("jsonl", True), ("sqlite", False), ("sqlite", True)]


def sample_record() -> audit.AuditRecord:
    """A call record as a governed call with ``capture="hash"`` writes it."""
    return audit.AuditRecord(
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id="00f067aa0ba902b7",
        service="support-bot",
        surface="support.refund_reply",
        owner="support-platform",
        risk="high",
        data_class="internal",
        capture="hash",
        prompt_name="support_refund_policy",
        prompt_version="3",
        prompt_sha256="9f" * 32,
        model="gpt-4o-mini",
        provider="openai",
        input_sha256="1a" * 32,
        output_sha256="2b" * 32,
        hash_alg="sha256",
        kill_switch_active=False,
        approval_decision="approved",
        approval_approver="rita",
        approval_wait_ms=5321.0,
        approval_id="req-1",
        outcome="ok",
    )


def _sink(kind: str, fsync: bool, where: Path) -> audit.Sink:
    """A fresh sink of ``kind`` in ``where``."""
    return (
        audit.jsonl(where / "audit.jsonl", fsync=fsync)
        if kind == "jsonl"
        else audit.sqlite(where / "audit.db", fsync=fsync)
    )


def time_appends(kind: str, fsync: bool, where: Path, record: audit.AuditRecord) -> float:
    """Appends per second for ``APPENDS[fsync]`` appends to a fresh chain (after one warm-up append)."""
    sink = _sink(kind, fsync, where)
    count = APPENDS[fsync]
    records = [record.model_copy(update={"id": uuid.uuid4().hex}) for _ in range(count + 1)]
    sink.append(records[0])
    started = time.perf_counter()
    for one in records[1:]:
        sink.append(one)
    elapsed = time.perf_counter() - started
    sink.close()
    return count / elapsed


def _filesystem(path: Path) -> str:
    """The type of the filesystem holding ``path`` (fsync's cost depends on it)."""
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def main() -> None:
    """Run every case, verify a 20,000-record chain, time check(), and print the JSON line."""
    record = sample_record()
    rng = random.Random(13)
    samples: dict[str, list[float]] = {f"{k}_{'fsync' if f else 'nofsync'}": [] for k, f in CASES}
    with tempfile.TemporaryDirectory(prefix="bench-audit-", dir=os.getcwd()) as tmp:
        base = Path(tmp)
        for r in range(ROUNDS):
            order = CASES[:]
            rng.shuffle(order)
            for kind, fsync in order:
                where = base / f"r{r}-{kind}-{fsync}"
                where.mkdir()
                samples[f"{kind}_{'fsync' if fsync else 'nofsync'}"].append(time_appends(kind, fsync, where, record))
            print(f"round {r + 1}/{ROUNDS}", flush=True)
        chain = base / "verify" / "audit.jsonl"
        sink = audit.jsonl(chain)
        for _ in range(VERIFY_RECORDS):
            sink.append(record)
        started = time.perf_counter()
        result = audit.verify(chain)
        verify_s = time.perf_counter() - started
        assert result.status == "intact" and result.records == VERIFY_RECORDS
        calls = 20000
        started = time.perf_counter()
        for _ in range(calls):
            sink.check()
        check_us = (time.perf_counter() - started) / calls * 1e6
        sink.close()
        line_bytes = len(chain.read_bytes()) / VERIFY_RECORDS
        fs = _filesystem(base.resolve())
    out: dict[str, Any] = {
        "python": platform.python_version(),
        "rounds": ROUNDS,
        "appends": {str(k): v for k, v in APPENDS.items()},
        "filesystem": fs,
        "record_bytes": round(line_bytes),
        "appends_per_s": {case: round(statistics.median(values)) for case, values in samples.items()},
        "samples": {case: [round(v) for v in values] for case, values in samples.items()},
        "verify_records_per_s": round(VERIFY_RECORDS / verify_s),
        "check_us": round(check_us, 2),
    }
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
