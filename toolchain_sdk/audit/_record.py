"""The audit record: one flat, versioned pydantic model per governed call or control change.

Flat on purpose: every field is a column a SQL sink can index and a ``toolchain audit show`` filter
can name. Every field is written in every record (``null`` when it does not apply), so the JSON a
reviewer hashes by hand is the line as it stands in the file.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from toolchain_sdk._version import version

__all__ = [
    "GENESIS",
    "SCHEMA_VERSION",
    "AuditRecord",
    "RecordKind",
    "RetrievedDocument",
    "Truncation",
    "now_rfc3339",
]

SCHEMA_VERSION: Final = 1
"""The version of ``AuditRecord``'s schema, written in every record as ``schema``."""
GENESIS: Final = "0" * 64
"""The ``prev_hash`` of the first record of a chain."""

RecordKind = Literal["call", "flag_change", "approval_decision"]
_FROZEN = ConfigDict(frozen=True, extra="forbid")


def now_rfc3339() -> str:
    """The current time as RFC 3339 UTC text with microseconds (``2026-11-30T12:00:00.123456Z``)."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Truncation(BaseModel):
    """A captured value that was cut at the size cap: which one, and how to check the whole of it.

    Attributes:
        field: the value's place in the record: ``input``, ``input.ARG`` (one bound argument),
            ``output``, ``prompt_rendered`` or ``error_message``.
        size: the full value's size in bytes (UTF-8 text or canonical JSON).
        sha256: the full value's hash (under the record's ``hash_alg``), as ``toolchain hash`` prints it.
    """

    model_config = _FROZEN

    field: str
    size: int = Field(ge=0)
    sha256: str


class RetrievedDocument(BaseModel):
    """One document that fed a call: its id in the index and, when the caller gave it, its hash.

    Attributes:
        id: the document's id in the retrieval index.
        sha256: hex SHA-256 of the document as retrieved, or ``None`` when not given.
    """

    model_config = _FROZEN

    id: str
    sha256: str | None = None


class AuditRecord(BaseModel):
    """One entry of the hash-chained audit trail (schema 1; every field documented in ``docs/audit.md``).

    ``seq``, ``prev_hash`` and ``hash`` are filled by the sink when it appends the record; build a
    record with the rest and pass it to ``toolchain_sdk.audit.write``.
    """

    model_config = _FROZEN

    # identity and chain
    schema_: Literal[1] = Field(default=1, alias="schema")
    """Schema version (``SCHEMA_VERSION``)."""
    kind: RecordKind = "call"
    """``call`` (a governed call), ``flag_change`` (``toolchain kill|allow|restore``) or
    ``approval_decision`` (``toolchain approvals approve|deny|edit``, the console)."""
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    """The record's id: 32 lower-case hex digits (a UUID4)."""
    seq: int = Field(default=0, ge=0)
    """Position in the chain, from 1 (assigned by the sink; 0 before appending)."""
    time: str = Field(default_factory=now_rfc3339)
    """RFC 3339 UTC with microseconds: when the call started or the action happened."""
    trace_id: str = ""
    """The call's trace id (32 hex digits), ``""`` when tracing is off."""
    span_id: str = ""
    """The governed span's id (16 hex digits), ``""`` when tracing is off."""

    # surface
    service: str | None = None
    surface: str | None = None
    owner: str | None = None
    risk: Literal["low", "medium", "high"] | None = None
    data_class: str | None = None
    capture: Literal["none", "hash", "redacted", "full"] | None = None
    redaction_policy: str | None = None
    """Version of the redaction policy that content was redacted with."""

    # prompt
    prompt_name: str | None = None
    prompt_version: str | None = None
    prompt_label: str | None = None
    prompt_sha256: str | None = None
    prompt_source: Literal["file", "code"] | None = None
    """Where the prompt came from: a prompt ``file`` (replay checks it against ``prompt_sha256``) or
    ``code`` (a ``tc.Prompt`` built in code: ``prompt_sha256`` is its template's hash)."""
    """SHA-256 of the prompt file's bytes."""

    # model and route
    model: str | None = None
    provider: str | None = None
    route: str | None = None
    route_attempt: int | None = None

    # hashes
    input_sha256: str | None = None
    output_sha256: str | None = None
    hash_alg: Literal["sha256", "hmac-sha256"] | None = None
    hash_key_id: str | None = None

    # content (per capture mode; null when not captured)
    input: JsonValue = None
    """The bound arguments (name → value) as captured, or ``null``."""
    output: JsonValue = None
    """The output (the concatenation, for streams) as captured, or ``null``."""
    prompt_rendered: str | None = None
    """The rendered prompt text as captured, or ``null``."""
    truncated: tuple[Truncation, ...] = ()
    """Captured values cut at the size cap, with the full values' sizes and hashes."""
    error_message: str | None = None
    """The exception message, secrets scrubbed (kept in every capture mode)."""

    # retrieval and output evidence
    retrieval_index: str | None = None
    retrieval_version: str | None = None
    retrieval_scope: str | None = None
    """The access scope the retrieval ran under (tenant, user group, ...)."""
    retrieval_documents: tuple[RetrievedDocument, ...] = ()
    citations: tuple[JsonValue, ...] = ()
    """The citations shown with the output (ids, URLs or objects, as the caller gave them)."""
    confidence: float | None = None

    # kill switch
    kill_switch_active: bool | None = None
    kill_switch_source: str | None = None
    fallback_handler: str | None = None

    # approval and override
    approval_decision: Literal["approved", "denied", "edited", "timeout", "error"] | None = None
    approval_approver: str | None = None
    approval_reason: str | None = None
    approval_wait_ms: float | None = None
    approval_id: str | None = None
    override_editor: str | None = None
    override_reason: str | None = None
    override_original_sha256: str | None = None

    # outcome
    outcome: Literal["ok", "fallback", "denied", "error"] | None = None
    error_type: str | None = None
    stream_completed: bool | None = None
    """For a streamed output: ``false`` when the consumer stopped early (the output is what was read)."""
    sdk_version: str = Field(default_factory=version)

    # flag_change (and the actor of an approval_decision)
    actor: str | None = None
    """Who made the change (``$USER`` or ``--actor``/the console's user)."""
    action: Literal["kill", "allow", "restore"] | None = None
    pattern: str | None = None
    """The surface or pattern the flag entry names."""
    reason: str | None = None
    ttl: str | None = None
    expires_at: str | None = None
    flags_file: str | None = None

    # chain (filled by the sink)
    prev_hash: str = ""
    """The previous record's ``hash`` (``GENESIS`` for the first record)."""
    hash: str = ""
    """SHA-256 (or HMAC-SHA256 under ``TOOLCHAIN_AUDIT_KEY``) of this record's canonical JSON without ``hash``."""

    @field_validator("time", mode="before")
    @classmethod
    def _rfc3339(cls, value: object) -> object:
        """Accept a ``datetime`` (naive means UTC) and write it as RFC 3339 UTC with microseconds."""
        if isinstance(value, _dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=_dt.UTC)
            return value.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return value

    @field_validator("prompt_version", "retrieval_version", mode="before")
    @classmethod
    def _version_text(cls, value: object) -> object:
        """Versions are text in the record (``3`` is written as ``"3"``)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    def to_json_dict(self) -> dict[str, JsonValue]:
        """The record as the JSON object written to a sink (field names as in the file: ``schema``)."""
        data: dict[str, JsonValue] = self.model_dump(mode="json", by_alias=True)
        return data
