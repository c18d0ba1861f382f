"""File naming of a JSONL chain: the live file, its rotated segments and its side files.

For ``audit.jsonl`` the live file is ``audit.jsonl``; rotation renames it to the next numbered
segment ``audit.000001.jsonl``, ``audit.000002.jsonl``, ... (oldest first) and starts a new live
file that continues the chain. Beside it: ``audit.jsonl.lock`` (the append lock),
``audit.jsonl.torn`` (torn tails moved aside on repair) and ``audit.jsonl.spool.jsonl`` (records
that could not be appended).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = [
    "chain_files",
    "last_line",
    "lock_path",
    "next_segment",
    "side_files",
    "spool_path",
    "torn_path",
]

_TAIL_CHUNK = 65536


def _split(path: Path) -> tuple[str, str]:
    """``(stem, suffix)`` of the live file's name (``audit``, ``.jsonl``)."""
    return (path.stem, path.suffix) if path.suffix else (path.name, "")


def _segments(path: Path) -> list[tuple[int, Path]]:
    """The rotated segments beside ``path`` as ``(number, path)``, oldest first."""
    stem, suffix = _split(path)
    pattern = re.compile(re.escape(stem) + r"\.(\d{6,})" + re.escape(suffix) + r"\Z")
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    found = [(int(m.group(1)), path.parent / name) for name in names if (m := pattern.match(name))]
    return sorted(found)


def chain_files(path: Path) -> list[Path]:
    """Every file of the chain at ``path`` in chain order: rotated segments, then the live file."""
    files = [p for _, p in _segments(path)]
    if path.exists():
        files.append(path)
    return files


def next_segment(path: Path) -> Path:
    """The name the live file gets when it is rotated now."""
    segments = _segments(path)
    number = segments[-1][0] + 1 if segments else 1
    stem, suffix = _split(path)
    return path.with_name(f"{stem}.{number:06d}{suffix}")


def lock_path(path: Path) -> Path:
    """The lock file held while appending (never rotated, so every process locks the same inode)."""
    return path.with_name(path.name + ".lock")


def torn_path(path: Path) -> Path:
    """The side file that torn tails are moved to (appended to, never deleted)."""
    return path.with_name(path.name + ".torn")


def spool_path(path: Path) -> Path:
    """The fallback file records go to when the chain cannot take them."""
    return path.with_name(path.name + ".spool.jsonl")


def side_files(path: Path) -> list[Path]:
    """The torn-tail and spool files beside the chain that exist (``verify`` mentions them)."""
    return [p for p in (torn_path(path), spool_path(path)) if p.exists()]


def last_line(fd: int, size: int) -> tuple[bytes | None, int]:
    """The last complete line of an open file and where the bytes after it (a torn tail) start.

    Returns:
        ``(line, end)``: the last newline-terminated line without its newline (``None`` when there
        is none) and the offset just past its newline (``size`` when the file ends cleanly).
    """
    end = size
    buffer = b""
    position = size
    newline_at = -1
    while position > 0:
        start = max(0, position - _TAIL_CHUNK)
        buffer = os.pread(fd, position - start, start) + buffer
        position = start
        newline_at = buffer.rfind(b"\n")
        if newline_at >= 0:
            break
    if newline_at < 0:
        return None, 0
    end = position + newline_at + 1
    body = buffer[:newline_at]
    while True:
        previous = body.rfind(b"\n")
        if previous >= 0 or position == 0:
            return body[previous + 1 :], end
        start = max(0, position - _TAIL_CHUNK)
        body = os.pread(fd, position - start, start) + body
        position = start
