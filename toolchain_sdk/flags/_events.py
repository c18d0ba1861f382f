"""A kill-switch change as the fields of its audit record: one place for ``toolchain kill`` and the console."""

from __future__ import annotations

from toolchain_sdk.flags._flag_file import Change, FlagFile, format_time

__all__ = ["change_event"]


def change_event(flags: FlagFile, change: Change, ttl: str | None) -> dict[str, object]:
    """The fields of the ``flag_change`` audit record of ``change`` made to ``flags`` (``ttl`` as given)."""
    after = change.after
    return {
        "time": change.at,
        "actor": change.by or None,
        "action": change.action,
        "pattern": change.target,
        "reason": change.reason,
        "ttl": ttl or None,
        "expires_at": format_time(after.until) if after is not None and after.until else None,
        "flags_file": str(flags.path),
    }
