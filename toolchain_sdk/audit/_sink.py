"""What every audit sink provides: chained appends, a cheap health check, flush and close."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from toolchain_sdk.audit._record import AuditRecord

__all__ = ["Sink"]


@runtime_checkable
class Sink(Protocol):
    """A place audit records are appended to, each chained to the one before it.

    Building a sink never raises (not even for an unwritable path); failures show at ``check()``
    and ``append()`` as ``AuditUnavailable``. A sink may also have ``spool_path() -> str``: the file
    records it could not take go to (else ``.toolchain/audit-spool.jsonl``).
    """

    def append(self, record: AuditRecord) -> AuditRecord:
        """Chain and store ``record``; return it with ``seq``, ``prev_hash`` and ``hash`` filled.

        Raises:
            AuditUnavailable: the record could not be stored (chained to the cause).
        """
        ...

    def check(self) -> None:
        """Raise ``AuditUnavailable`` when a record could not be written now (cheap: called before
        every high-risk call)."""
        ...

    def flush(self) -> None:
        """Make every accepted record durable or delivered (no-op for sinks that do not buffer)."""
        ...

    def close(self) -> None:
        """Flush and release files, connections and exporters."""
        ...

    def describe(self) -> str:
        """Where records go, for the control sheet (``jsonl:/abs/path``, ``sqlite:///abs/path``, ``otlp``)."""
        ...
