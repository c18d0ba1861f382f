"""The record schema and canonical hashing: defaults, validation, and any JSON-able record round-trips."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.audit._chains import by_hand_hash
from toolchain_sdk import audit

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
TEXT = st.text(max_size=40)


def test_a_new_record_has_an_identity_a_time_and_the_schema_version() -> None:
    """Defaults: schema 1, kind call, a uuid4-hex id, RFC 3339 UTC microsecond time, empty trace ids."""
    record = audit.AuditRecord()
    data = record.to_json_dict()
    assert (data["schema"], data["kind"], data["seq"], data["trace_id"], data["span_id"]) == (1, "call", 0, "", "")
    assert re.fullmatch(r"[0-9a-f]{32}", record.id)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record.time)
    assert data["sdk_version"]
    assert audit.SCHEMA_VERSION == 1 and audit.GENESIS == "0" * 64


def test_every_field_is_written_and_read_back_unchanged() -> None:
    """to_json_dict writes every field; validating that JSON gives an equal record."""
    record = audit.AuditRecord(
        surface="support.reply",
        risk="high",
        capture="redacted",
        prompt_version=3,
        retrieval_documents=[{"id": "kb-1", "sha256": "a" * 64}, {"id": "kb-2"}],  # type: ignore[list-item]
        citations=["kb-1", {"url": "https://example.com/a"}],
        confidence=0.82,
        truncated=[audit.Truncation(field="output", size=40000, sha256="b" * 64)],
        time=dt.datetime(2026, 1, 2, 3, 4, 5, 6),
    )
    data = record.to_json_dict()
    assert data["prompt_version"] == "3" and data["time"] == "2026-01-02T03:04:05.000006Z"
    assert data["retrieval_documents"] == [{"id": "kb-1", "sha256": "a" * 64}, {"id": "kb-2", "sha256": None}]
    assert set(data) == {f.alias or name for name, f in audit.AuditRecord.model_fields.items()}
    assert audit.AuditRecord.model_validate(json.loads(json.dumps(data))) == record


def test_records_are_frozen_and_strict() -> None:
    """A record cannot be changed after it is built, and unknown fields or values are refused."""
    record = audit.AuditRecord()
    with pytest.raises(ValidationError):
        record.surface = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        audit.AuditRecord(colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        audit.AuditRecord(risk="extreme")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        audit.AuditRecord(schema=2)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    input_=JSON,
    output=JSON,
    surface=TEXT,
    citations=st.lists(JSON, max_size=3),
    reason=st.none() | TEXT,
    key=st.none() | st.text(st.characters(min_codepoint=1, exclude_categories=("Cs",)), min_size=1, max_size=10),
)
def test_any_json_record_round_trips_and_verifies(
    tmp_path_factory: pytest.TempPathFactory,
    input_: object,
    output: object,
    surface: str,
    citations: list[object],
    reason: str | None,
    key: str | None,
) -> None:
    """Whatever JSON content a record holds (Unicode, nesting, floats), its line hashes by hand as
    documented, reads back equal, and the chain verifies (with and without a key)."""
    import os

    path = tmp_path_factory.mktemp("chain") / "audit.jsonl"
    if key is None:
        os.environ.pop("TOOLCHAIN_AUDIT_KEY", None)
    else:
        os.environ["TOOLCHAIN_AUDIT_KEY"] = key
    try:
        sink = audit.jsonl(path)
        record = audit.AuditRecord(input=input_, output=output, surface=surface, citations=citations, reason=reason)  # type: ignore[arg-type]
        chained = sink.append(record)
        sink.append(audit.AuditRecord())
        sink.close()
        first = json.loads(Path(path).read_bytes().split(b"\n")[0])  # lines end at \n only (not U+2028, U+0085)
        assert first["hash"] == chained.hash == by_hand_hash(first, key.encode() if key else None)
        assert next(iter(audit.read(path))) == chained
        assert audit.verify(path).status == "intact"
    finally:
        os.environ.pop("TOOLCHAIN_AUDIT_KEY", None)


@given(data=st.dictionaries(st.text(max_size=6), JSON, max_size=6))
def test_record_hash_ignores_key_order_and_only_the_hash_member(data: dict[str, object]) -> None:
    """The canonical form sorts keys and leaves out ``hash`` alone: reordering keys or changing
    ``hash`` keeps the digest; the digest is the by-hand one."""
    reordered = dict(reversed(list(data.items())))
    assert audit.record_hash(data, None) == audit.record_hash(reordered, None) == by_hand_hash(data)
    assert audit.record_hash({**data, "hash": "x"}, b"k") == audit.record_hash({**data, "hash": "y"}, b"k")
