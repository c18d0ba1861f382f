"""Helpers for the audit tests: build a chain, read and rewrite its lines, re-chain it by hand."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from toolchain_sdk import audit


def build_chain(path: Path, count: int = 6, **fields: object) -> list[audit.AuditRecord]:
    """Append ``count`` call records to a fresh JSONL chain at ``path`` and return them chained."""
    sink = audit.jsonl(path)
    try:
        return [
            sink.append(audit.AuditRecord(surface="support.reply", outcome="ok", input={"n": n}, **fields))  # type: ignore[arg-type]
            for n in range(count)
        ]
    finally:
        sink.close()


def lines(path: Path) -> list[str]:
    """The file's lines without their newlines (split at ``\n`` only: U+2028 may sit inside a record)."""
    return path.read_text(encoding="utf-8").removesuffix("\n").split("\n")


def write_lines(path: Path, rows: list[str]) -> None:
    """Rewrite the file with these lines, each newline-terminated."""
    path.write_text("".join(row + "\n" for row in rows), encoding="utf-8")


def by_hand_hash(data: dict[str, object], key: bytes | None = None) -> str:
    """The record hash as docs/audit.md tells a reviewer to compute it, without the SDK."""
    body = json.dumps(
        {k: v for k, v in data.items() if k != "hash"}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    return hmac.new(key, body, hashlib.sha256).hexdigest() if key else hashlib.sha256(body).hexdigest()


def rechain(rows: list[str], key: bytes | None = None) -> list[str]:
    """Recompute every ``seq``/``prev_hash``/``hash`` (what someone who can rewrite the file could do)."""
    out, prev = [], audit.GENESIS
    for seq, row in enumerate(rows, start=1):
        data = json.loads(row)
        data["seq"], data["prev_hash"] = seq, prev
        data["hash"] = by_hand_hash(data, key)
        prev = data["hash"]
        out.append(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return out
