"""The audit page's data: the chain's records, filtered by trace id and surface, with its
verification status (``intact``, ``tampered`` or ``torn``) — through the audit package's own
``read`` and ``verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from toolchain_sdk import audit

__all__ = ["audit_view"]

_SHOWN: Final = 500


def _field(record: object, name: str) -> Any:
    if isinstance(record, dict):
        return record.get(name)
    return getattr(record, name, None)


def _as_dict(record: object) -> dict[str, Any]:
    if isinstance(record, dict):
        return record
    dump = getattr(record, "model_dump", None)
    if callable(dump):
        found = dump(mode="json")
        return found if isinstance(found, dict) else {"record": str(record)}
    return dict(getattr(record, "__dict__", {})) or {"record": str(record)}


def audit_view(path: Path, *, trace_id: str = "", surface: str = "") -> dict[str, Any]:
    """The chain's verification and its records (newest first, at most 500) matching the filters.

    Returns a mapping with ``status`` and ``message`` (from ``verify``), ``records`` (each a
    mapping of its fields), ``total`` (how many matched) and ``problem`` (why nothing could be read).
    """
    try:
        result = audit.verify(path)
        status = str(_field(result, "status") or "unknown")
        message = str(_field(result, "message") or "")
    except Exception as exc:
        status, message = "unknown", f"could not verify: {type(exc).__name__}: {exc}"
    matched: list[dict[str, Any]] = []
    try:
        for record in audit.read(path):
            if trace_id and str(_field(record, "trace_id") or "") != trace_id:
                continue
            if surface and str(_field(record, "surface") or "") != surface:
                continue
            matched.append(_as_dict(record))
    except Exception as exc:
        return {"status": status, "message": message, "records": matched[::-1][:_SHOWN], "total": len(matched),
                "problem": f"could not read {path}: {type(exc).__name__}: {exc}"}  # fmt: skip
    return {"status": status, "message": message, "records": matched[::-1][:_SHOWN], "total": len(matched),
            "problem": None}  # fmt: skip
