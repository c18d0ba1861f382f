"""Whose call a request is: the waiting process (host and pid) and its heartbeat.

A request is only worth deciding while its caller still waits for it. The waiting call records
its host and process id when it submits the request and refreshes ``heartbeat_at`` every
``HEARTBEAT_S`` while it waits; a decision is refused when the caller is known to be gone: its
process no longer exists on this host, or (any host) it has not been seen for ``STALE_S``.
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
from pathlib import Path
from typing import Final

__all__ = ["HEARTBEAT_S", "STALE_S", "caller_gone", "this_process"]

HEARTBEAT_S: Final = 5.0
"""How often a waiting call tells the queue it is still waiting."""
STALE_S: Final = 30.0
"""How long without a heartbeat before a request's caller counts as gone (six missed beats)."""


def this_process() -> str:
    """``host:pid`` of the current process, as recorded on the requests it submits."""
    return f"{socket.gethostname()}:{os.getpid()}"


def caller_gone(owner: str, heartbeat_at: _dt.datetime | None, now: _dt.datetime) -> str | None:
    """Why the caller waiting on a request is known to be gone, or ``None`` (alive, or not known)."""
    host, _, pid = owner.rpartition(":")
    if host and host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
        return f"its caller (process {pid} on {host}) is gone"
    if heartbeat_at is not None and (now - heartbeat_at).total_seconds() > STALE_S:
        return (
            f"its caller{f' ({owner})' if owner else ''} has not been seen since {heartbeat_at.isoformat()} "
            f"(it checks in every {HEARTBEAT_S:g}s): it is gone, or cannot reach the queue"
        )
    return None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (``True`` when that cannot be told)."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate it on Windows: rely on the heartbeat
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, under another user
        return True
    try:  # a zombie (exited, not yet reaped) is gone too
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])
