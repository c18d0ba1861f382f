"""The hash chain: canonical bytes of a record and the (keyed) SHA-256 that links it to the previous one.

``hash`` is the lower-case hex SHA-256 of the record's canonical JSON without ``hash`` (sorted keys,
separators ``(",", ":")``, ``ensure_ascii=False``, UTF-8), or HMAC-SHA256 with the UTF-8 bytes of
``TOOLCHAIN_AUDIT_KEY`` when it is set. It works on plain JSON objects, so a chain can be checked
without this package and records written by a later schema still verify.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Final

from toolchain_sdk.audit._record import AuditRecord

__all__ = ["TOOLCHAIN_AUDIT_KEY", "audit_key", "canonical_bytes", "record_hash", "seal"]

TOOLCHAIN_AUDIT_KEY: Final = "TOOLCHAIN_AUDIT_KEY"
"""Key (any string, used as its UTF-8 bytes) that makes each record's ``hash`` an HMAC-SHA256."""


def audit_key() -> bytes | None:
    """The chain key from ``TOOLCHAIN_AUDIT_KEY``, or ``None`` when it is unset or empty."""
    key = os.environ.get(TOOLCHAIN_AUDIT_KEY, "")
    return key.encode("utf-8") if key else None


def canonical_bytes(data: Mapping[str, object]) -> bytes:
    """The canonical JSON of ``data`` without its ``hash`` member, as UTF-8 bytes.

    Raises:
        TypeError, ValueError: the object holds a value JSON cannot express (NaN, a set, ...).
    """
    body = {k: v for k, v in data.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def record_hash(data: Mapping[str, object], key: bytes | None) -> str:
    """The ``hash`` a record (as a JSON object) must carry: SHA-256, or HMAC-SHA256 under ``key``."""
    body = canonical_bytes(data)
    if key:
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


def seal(record: AuditRecord, *, seq: int, prev_hash: str, key: bytes | None) -> tuple[AuditRecord, str]:
    """Chain ``record`` after ``prev_hash`` at position ``seq``.

    Returns:
        The chained record (``seq``, ``prev_hash`` and ``hash`` filled) and its JSON line (no
        newline): the canonical JSON the hash covers, with ``"hash"`` added as its last member.
    """
    data = record.to_json_dict()
    del data["hash"]
    data["seq"] = seq
    data["prev_hash"] = prev_hash
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    digest = hmac.new(key, body, hashlib.sha256).hexdigest() if key else hashlib.sha256(body).hexdigest()
    line = body[:-1].decode("utf-8") + ',"hash":"' + digest + '"}'
    return record.model_copy(update={"seq": seq, "prev_hash": prev_hash, "hash": digest}), line
