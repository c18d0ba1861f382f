"""The tamper-evident audit trail: one hash-chained record per governed call or control change.

- ``AuditRecord`` is the record (flat, versioned: ``schema`` 1);
- ``jsonl(path)`` (the embedded default), ``sqlite(path)`` and ``otlp()`` are sinks; ``open_sink``
  reads ``path.jsonl`` / ``sqlite:///path.db``; ``TOOLCHAIN_AUDIT`` or the ``[audit]`` table of
  ``toolchain.toml`` name one, ``use_sink`` (``configure(audit=...)``) installs one;
- ``write`` appends through the sink in force (spooling and raising ``AuditUnavailable`` when it
  cannot); ``append_event`` records kill-switch changes and approval decisions;
- ``read``, ``verify`` and ``replay`` are what ``toolchain audit show|verify|replay`` run.

``docs/audit.md`` documents every field, the chain and how to check it by hand.
"""

from toolchain_sdk.audit._active import active_sink, append_event, use_sink, write
from toolchain_sdk.audit._chain import TOOLCHAIN_AUDIT_KEY, canonical_bytes, record_hash
from toolchain_sdk.audit._jsonl import JsonlSink
from toolchain_sdk.audit._open import TOOLCHAIN_AUDIT, AuditTable, jsonl, open_sink, otlp, sink_from_env, sqlite
from toolchain_sdk.audit._otlp import OtlpSink
from toolchain_sdk.audit._record import (
    GENESIS,
    SCHEMA_VERSION,
    AuditRecord,
    RecordKind,
    RetrievedDocument,
    Truncation,
)
from toolchain_sdk.audit._replay import Replay, ReplayCheck, ReplayItem, Resolver, replay
from toolchain_sdk.audit._sink import Sink
from toolchain_sdk.audit._source import read
from toolchain_sdk.audit._sqlite import SqliteSink
from toolchain_sdk.audit._verify import Verification, verify

__all__ = [
    "AuditRecord",
    "AuditTable",
    "GENESIS",
    "JsonlSink",
    "OtlpSink",
    "RecordKind",
    "Replay",
    "ReplayCheck",
    "ReplayItem",
    "Resolver",
    "RetrievedDocument",
    "SCHEMA_VERSION",
    "Sink",
    "SqliteSink",
    "TOOLCHAIN_AUDIT",
    "TOOLCHAIN_AUDIT_KEY",
    "Truncation",
    "Verification",
    "active_sink",
    "append_event",
    "canonical_bytes",
    "jsonl",
    "open_sink",
    "otlp",
    "read",
    "record_hash",
    "replay",
    "sink_from_env",
    "sqlite",
    "use_sink",
    "verify",
    "write",
]
