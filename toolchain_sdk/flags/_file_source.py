"""``FileSource``: kill switches from the local flag file, with no file I/O on the hot path.

A governed call costs one ``time.monotonic()`` and a dict lookup. At most every 250 ms one thread
``stat``s the file and re-reads it when its inode, size or times changed (or it was modified in
the last two seconds, when a second write could hide in the same clock tick), so an edit takes
effect within about a quarter of a second; a check stalled on a busy machine is overtaken by the
next one rather than holding the old entries in force. An entry whose TTL runs out lapses on time without a re-read.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic as _monotonic
from typing import Final

from toolchain_sdk import semconv
from toolchain_sdk._core.safety import logger
from toolchain_sdk.errors import ConfigError
from toolchain_sdk.flags._flag_file import FlagEntry, default_flags_path, parse_document, read_regular_file
from toolchain_sdk.flags._match import GlobMatcher, specificity
from toolchain_sdk.flags._model import (
    REASON_DEFAULT,
    REASON_ERROR,
    REASON_STATIC,
    FlagEvaluation,
    FlagTarget,
)

__all__ = ["FileSource"]


class _Snapshot:
    """The entries in force at one reading of the file, with each target's answer cached."""

    __slots__ = ("cache", "entries", "error", "matcher", "provider_name", "stale")

    def __init__(
        self,
        entries: list[FlagEntry],
        provider_name: str,
        error: tuple[str, str] | None = None,
        stale: bool = False,
    ) -> None:
        self.provider_name = provider_name
        self.entries = {e.target: e for e in entries}
        self.matcher = GlobMatcher(tuple(self.entries))
        self.error = error
        self.stale = stale
        self.cache: dict[FlagTarget, FlagEvaluation] = {}

    def resolve(self, target: FlagTarget) -> FlagEvaluation:
        """The most specific matching entry decides: exact names beat patterns, longer patterns beat
        shorter ones, and on a tie ``killed`` wins."""
        best: tuple[tuple[int, int, bool], FlagEntry] | None = None
        for pattern in self.matcher.matching(target.names):
            entry = self.entries[pattern]
            rank = (*specificity(pattern), entry.killed)
            if best is None or rank > best[0]:
                best = (rank, entry)
        error_type, message = self.error or (None, None)
        if best is None:
            answer = FlagEvaluation(None, REASON_ERROR if self.error else REASON_DEFAULT, "file", self.provider_name,
                                    error_type=error_type, error_message=message, stale=self.stale)  # fmt: skip
        else:
            answer = FlagEvaluation(best[1].killed, REASON_ERROR if self.error else REASON_STATIC, "file",
                                    self.provider_name, rule=best[1].target, error_type=error_type,
                                    error_message=message, stale=self.stale)  # fmt: skip
        self.cache[target] = answer
        return answer


READ_DEADLINE_S: Final = 1.0
"""The most a call waits for a flag-file read; past it the last known entries apply."""
MAX_PENDING_READS: Final = 4
"""Reads of one file in flight at once (a hung mount cannot pile up threads)."""


class _Reader:
    """A daemon thread that does a source's file I/O (a hand-off costs ~65 µs; starting a thread ~1 ms)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` on the reader thread (started again after ``fork()``, which keeps no threads)."""
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            self._jobs = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._loop, args=(self._jobs,), name="toolchain-flags", daemon=True)
            self._pid = os.getpid()
            self._thread.start()
        self._jobs.put(job)

    @staticmethod
    def _loop(jobs: queue.SimpleQueue[Callable[[], None]]) -> None:
        while True:
            jobs.get()()  # a job never raises: FileSource._read turns every error into an error answer


class FileSource:
    """Kill switches from the local flag file, re-read within about a second of each change.

    Per call: one ``time.monotonic()`` and a dict lookup. At most every ``check_interval_s`` one
    thread ``stat``s the file (the others go on with the current entries, and a check stalled
    longer than that is overtaken by the next) and re-reads it when it changed; an entry whose
    TTL runs out lapses on time without a re-read. A file that cannot be read or parsed keeps the
    last good entries in force and marks answers as errors; a missing file simply has no entries.

    Args:
        path: the flag file; default ``TOOLCHAIN_FLAGS_FILE``, else ``.toolchain/flags.json``
            (looked up again at each check, so it follows the variable and the working directory).
        check_interval_s: the most time between two ``stat`` calls (default 0.25 s).
    """

    name = "file"
    reports_errors = True  # never raises: failures come back as error answers
    provider_name = "toolchain-file"

    def __init__(self, path: str | os.PathLike[str] | None = None, *, check_interval_s: float = 0.25) -> None:
        if not 0 < check_interval_s <= 1:
            raise ConfigError(f"FileSource check_interval_s must be in (0, 1] seconds, not {check_interval_s!r}")
        self._path = Path(os.path.abspath(path)) if path is not None else None
        self.check_interval_s = check_interval_s
        self._snap = _Snapshot([], self.provider_name)
        self._good: list[FlagEntry] | None = None
        self._signature: object = None
        self._racy = False
        self._expiry = float("inf")
        self._due = 0.0
        self._tickets = 0  # checks claimed so far
        self._installed = 0  # the ticket of the last check whose result is in force
        self._lock = threading.Lock()
        self._pending: set[int] = set()  # tickets of the reads in flight
        self._reader = _Reader()
        self._pending_pid = 0

    @property
    def path(self) -> Path:
        """The file this source reads (resolved now when it follows ``TOOLCHAIN_FLAGS_FILE``)."""
        return self._path if self._path is not None else default_flags_path()

    def evaluate(self, target: FlagTarget) -> FlagEvaluation:
        """The most specific entry matching the surface name or flag key, else no opinion."""
        if _monotonic() >= self._due:
            self._check()
        snap = self._snap
        found = snap.cache.get(target)
        return found if found is not None else snap.resolve(target)

    def refresh(self) -> None:
        """Check the file on the next evaluation, whatever the interval (after a write in this process)."""
        self._signature = None
        self._due = 0.0

    def _check(self) -> None:
        """Claim the due check and read the file on a daemon thread, waiting for it at most 1 s.

        The lock only guards bookkeeping, never I/O: a thread claims the check by moving
        ``_due`` on, so other calls go on with the entries in force, and a read stalled on a
        busy machine is overtaken by the next check an interval later. The read runs on a daemon
        thread, so a FIFO or a file on a hung mount can hold neither a call (past
        ``READ_DEADLINE_S``) nor interpreter exit: past the deadline the last good entries stay in
        force and every span records the error, until a later read answers. At most
        ``MAX_PENDING_READS`` reads are in flight. Each claim gets a ticket; a result is installed
        only if no later-claimed check installed one first.
        """
        with self._lock:
            now = _monotonic()
            if now < self._due:
                return
            self._due = now + self.check_interval_s
            if self._pending_pid != os.getpid():  # forked: the parent's reads are not in flight here
                self._pending, self._pending_pid = set(), os.getpid()
            if len(self._pending) >= MAX_PENDING_READS:
                return
            self._tickets += 1
            ticket = self._tickets
            overtake = bool(self._pending)  # the reader is stuck on an earlier read: this one gets its own thread
            self._pending.add(ticket)
            job = (ticket, self._signature, self._racy, self._expiry, now)
        done = threading.Event()

        def read() -> None:
            try:
                self._read(*job)
            finally:
                done.set()

        if overtake:
            threading.Thread(target=read, name="toolchain-flag-file", daemon=True).start()
        else:
            self._reader.submit(read)
        if not done.wait(READ_DEADLINE_S):
            message = f"{self.path}: no answer from the file system within {READ_DEADLINE_S:g} s"
            self._fail(ticket, self.path, TimeoutError(message), now)

    def _read(self, ticket: int, known: object, racy_before: bool, expiry: float, now: float) -> None:
        """Stat the file and re-read it if it changed (on a reader thread); install what it holds."""
        try:
            self._read_into(ticket, self.path, known, racy_before, expiry, now)
        except Exception as exc:  # whatever went wrong, the entries in force stay and the spans say why
            self._fail(ticket, self.path, exc, now)
        finally:
            with self._lock:
                self._pending.discard(ticket)

    def _read_into(self, ticket: int, path: Path, known: object, racy_before: bool, expiry: float, now: float) -> None:
        try:
            st = os.stat(path)
            signature: object = (path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            # an mtime in the last 2 s may hide a second write in the same clock tick: read again
            racy = time.time() - st.st_mtime < 2.0
        except FileNotFoundError:
            signature, racy = (path, None), False
        except OSError as exc:
            self._fail(ticket, path, exc, now)
            return
        entries: list[FlagEntry] | None = None
        if signature != known or racy_before or now >= expiry:
            try:
                entries = list(parse_document(read_regular_file(path)).values())
            except FileNotFoundError:
                entries = []
            except (OSError, ConfigError) as exc:
                self._fail(ticket, path, exc, now)
                return
        with self._lock:
            if ticket < self._installed:
                return  # a check claimed later has already installed what it read
            self._installed = ticket
            self._racy = racy
            if entries is not None:
                if self._snap.error is not None:
                    logger.warning("toolchain_sdk: flag file %s is readable again", path)
                self._good = entries
                self._signature = signature
                self._install(entries, now, None)
            self._due = min(self._due, self._expiry)

    def _fail(self, ticket: int, path: Path, exc: Exception, now: float) -> None:
        with self._lock:
            if ticket < self._installed:
                return
            self._installed = ticket
            if self._snap.error is None:
                logger.warning(
                    "toolchain_sdk: flag file %s cannot be read (%s: %s); %s",
                    path, type(exc).__name__, exc,
                    "keeping its last good entries" if self._good is not None else "surfaces use their kill_default",
                )  # fmt: skip
            self._signature = None  # read again at the next check
            self._install(self._good or [], now, (semconv.error_type(exc), f"{path}: {exc}"))
            self._due = now + self.check_interval_s

    def _install(self, entries: list[FlagEntry], now: float, error: tuple[str, str] | None) -> None:
        wall = datetime.now(UTC)
        active = [e for e in entries if e.active(wall)]
        ends = [(e.until - wall).total_seconds() for e in active if e.until is not None]
        self._expiry = now + min(ends) if ends else float("inf")
        self._snap = _Snapshot(active, self.provider_name, error, stale=error is not None and self._good is not None)

    def __repr__(self) -> str:
        return f"FileSource({str(self._path) if self._path else None!r})"
