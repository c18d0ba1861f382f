"""The embedded default sink: one JSON record per line, hash-chained, locked, optionally fsynced and rotated.

Appends hold an ``fcntl`` lock on ``PATH.lock`` (and a thread lock) around reading the chain's
tail and writing the new line, so threads and processes interleave whole records. A torn tail
(bytes after the last newline, left by a crash) is moved to ``PATH.torn`` before the next append,
and the chain continues from the last intact record.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import threading
import time
from pathlib import Path

from toolchain_sdk.audit import _segments
from toolchain_sdk.audit._chain import audit_key, seal
from toolchain_sdk.audit._record import GENESIS, AuditRecord
from toolchain_sdk.errors import AuditUnavailable

__all__ = ["JsonlSink"]

_RETRY_AFTER_S = 1.0
"""How long ``check()`` trusts a failure before probing the file again."""
LOCK_TIMEOUT_S = 30.0
"""How long an append waits for another writer's lock before giving up (``AuditUnavailable``)."""
_MIN_FREE_BYTES = 1 << 20
"""``check()`` reports a full disk below this much free space."""
_CHECK_LOCK_TIMEOUT_S = 1.0
"""How long ``check()`` waits for another writer's lock before reporting the chain locked."""


class _Tail:
    """What the sink knows about the end of the chain it last wrote (to skip re-reading it)."""

    __slots__ = ("hash", "inode", "seq", "size")

    def __init__(self, inode: int, size: int, seq: int, hash_: str) -> None:
        """Remember the settings; nothing is opened until the first append or check."""
        self.inode = inode
        self.size = size
        self.seq = seq
        self.hash = hash_


class JsonlSink:
    """Appends hash-chained records to a JSON-lines file (see the module docstring).

    Args:
        path: the live file; its directory is created on first use.
        fsync: ``os.fsync`` the file after every append, and its directory when the file is created or
            rotated (durable across power loss; slower).
        max_bytes: rotate the live file to the next numbered segment before an append would make
            it larger than this (``None``: never rotate).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False, max_bytes: int | None = None) -> None:
        """Remember the settings; nothing is opened until the first append or check."""
        self.path = Path(path).absolute()
        self.fsync = fsync
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._tail: _Tail | None = None
        self._failure: tuple[float, BaseException] | None = None

    def describe(self) -> str:
        """``jsonl:/abs/path``."""
        return f"jsonl:{self.path}"

    def spool_path(self) -> str:
        """``PATH.spool.jsonl``."""
        return str(_segments.spool_path(self.path))

    def __repr__(self) -> str:
        """The sink as its constructor call."""
        return f"JsonlSink({str(self.path)!r}, fsync={self.fsync}, max_bytes={self.max_bytes})"

    # file handles -------------------------------------------------------------------------------

    def _forget_handles(self) -> None:
        """Close the file and lock handles and forget the cached tail (the next append reopens)."""
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._lock_fd = None
        self._tail = None

    def _open(self) -> None:
        """Open (or, after a fork, reopen) the lock file and the live file."""
        if self._pid != os.getpid():  # a forked child must not share the parent's lock description
            self._forget_handles()
            self._pid = os.getpid()
        if self._lock_fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(_segments.lock_path(self.path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            if self.fsync:
                _sync_dir(self.path.parent)  # the file's name must survive a power cut as well as its bytes

    def _current_fd(self) -> int:
        """The live file's descriptor, reopened if another process rotated it away (call locked)."""
        assert self._fd is not None
        try:
            on_disk = os.stat(self.path).st_ino
        except FileNotFoundError:
            on_disk = -1
        if on_disk != os.fstat(self._fd).st_ino:
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._tail = None
        return self._fd

    # chain tail ---------------------------------------------------------------------------------

    def _read_tail(self, fd: int) -> _Tail:
        """Find the last intact record (repairing a torn tail) of the live file or the segment before it."""
        stat = os.fstat(fd)
        line, end = _segments.last_line(fd, stat.st_size)
        if end < stat.st_size:
            self._move_torn(fd, end, stat.st_size)
        if line is None:
            seq, hash_ = self._previous_segment_tail()
            return _Tail(stat.st_ino, end, seq, hash_)
        try:
            data = json.loads(line)
            seq, hash_ = int(data["seq"]), str(data["hash"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditUnavailable(
                f"the last line of {self.path} is not an audit record, so the chain cannot continue: "
                f"run `toolchain audit verify {self.path}`"
            ) from exc
        return _Tail(stat.st_ino, end, seq, hash_)

    def _previous_segment_tail(self) -> tuple[int, str]:
        """The last record's ``seq`` and ``hash`` in the newest rotated segment (genesis when there is none)."""
        files = [p for p in _segments.chain_files(self.path) if p != self.path]
        if not files:
            return 0, GENESIS
        with open(files[-1], "rb") as handle:
            line, _ = _segments.last_line(handle.fileno(), os.fstat(handle.fileno()).st_size)
        if line is None:
            return 0, GENESIS
        data = json.loads(line)
        return int(data["seq"]), str(data["hash"])

    def _move_torn(self, fd: int, end: int, size: int) -> None:
        """Append the bytes after the last newline to ``PATH.torn``, then cut them off the chain."""
        torn = os.pread(fd, size - end, end)
        side = os.open(_segments.torn_path(self.path), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            _write_all(side, torn + b"\n")
            os.fsync(side)
        finally:
            os.close(side)
        os.ftruncate(fd, end)

    def _rotate(self) -> int:
        """Rename the live file to the next segment and open a fresh one (call locked)."""
        assert self._fd is not None
        os.rename(self.path, _segments.next_segment(self.path))
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        if self.fsync:
            _sync_dir(self.path.parent)  # the rename and the new live file, before records go into it
        return self._fd

    # Sink ---------------------------------------------------------------------------------------

    def append(self, record: AuditRecord) -> AuditRecord:
        """Chain ``record`` after the last intact record and write it as one line.

        Raises:
            AuditUnavailable: the file cannot be opened, locked or written (chained to the cause).
        """
        key = audit_key()
        with self._lock:
            try:
                self._open()
                assert self._lock_fd is not None
                _lock_file(self._lock_fd, self.path)
                try:
                    chained = self._append_locked(record, key)
                finally:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            except AuditUnavailable as exc:
                self._failure = (time.monotonic(), exc)
                raise
            except (OSError, ValueError) as exc:
                self._failure = (time.monotonic(), exc)
                self._forget_handles()
                raise AuditUnavailable(f"cannot append to the audit chain {self.path}: {exc}") from exc
            self._failure = None
            return chained

    def _append_locked(self, record: AuditRecord, key: bytes | None) -> AuditRecord:
        """Chain and write one record, rotating first when it would pass ``max_bytes`` (call with both locks held)."""
        fd = self._current_fd()
        stat = os.fstat(fd)
        tail = self._tail
        if tail is None or tail.inode != stat.st_ino or tail.size != stat.st_size:
            tail = self._read_tail(fd)
        chained, line = seal(record, seq=tail.seq + 1, prev_hash=tail.hash, key=key)
        data = (line + "\n").encode("utf-8")
        if self.max_bytes is not None and tail.size > 0 and tail.size + len(data) > self.max_bytes:
            fd = self._rotate()
            tail = _Tail(os.fstat(fd).st_ino, 0, tail.seq, tail.hash)
        _write_all(fd, data)
        if self.fsync:
            os.fsync(fd)
        self._tail = _Tail(tail.inode, tail.size + len(data), chained.seq, chained.hash)
        return chained

    def check(self) -> None:
        """Raise ``AuditUnavailable`` if the file cannot be opened for appending, its disk has less than
        1 MiB free, another writer has held the append lock for a second, or an append failed within
        the last second (the handles are kept open)."""
        with self._lock:
            failure = self._failure
            if failure is not None and time.monotonic() - failure[0] < _RETRY_AFTER_S:
                cause = failure[1]
                raise AuditUnavailable(f"the audit chain {self.path} cannot be written: {cause}") from cause
            try:
                self._open()
                assert self._fd is not None
                if failure is not None:
                    self._current_fd()
                    if not os.access(self.path, os.W_OK):
                        raise PermissionError(f"{self.path} is not writable")
                space = os.fstatvfs(self._fd)
                if space.f_bavail * space.f_frsize < _MIN_FREE_BYTES:
                    raise OSError(errno.ENOSPC, f"no space left on the device holding {self.path}")
                assert self._lock_fd is not None
                _lock_file(self._lock_fd, self.path, timeout=_CHECK_LOCK_TIMEOUT_S)  # a stuck writer: do not run
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            except OSError as exc:
                self._failure = (time.monotonic(), exc)
                self._forget_handles()
                raise AuditUnavailable(f"the audit chain {self.path} cannot be written: {exc}") from exc
            self._failure = None

    def flush(self) -> None:
        """Nothing is buffered: every append is one ``write`` (and ``fsync`` when asked)."""

    def close(self) -> None:
        """Close the file and lock handles (a later append reopens them)."""
        with self._lock:
            self._forget_handles()


def _lock_file(fd: int, path: Path, *, timeout: float | None = None) -> None:
    """Take the exclusive append lock, waiting at most ``timeout`` (default ``LOCK_TIMEOUT_S``) for a
    writer that holds it.

    Raises:
        TimeoutError: another process held the lock all that time (stuck, or stopped while appending).
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    wait = LOCK_TIMEOUT_S if timeout is None else timeout
    deadline = time.monotonic() + wait
    pause = 0.0002
    while True:
        time.sleep(pause)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{_segments.lock_path(path)} stayed locked for {wait:g} s") from None
            pause = min(pause * 2, 0.01)


def _sync_dir(directory: Path) -> None:
    """``fsync`` a directory, so the names created or renamed in it are durable (``fsync=True``)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # filesystems that cannot sync a directory
            raise
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte (``os.write`` may write fewer on a full disk or a signal)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written == 0:
            raise OSError("the audit file took no bytes (disk full?)")
        view = view[written:]
