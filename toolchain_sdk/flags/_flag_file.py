"""The local flag file: its format, safe concurrent writes with a change log, and the source reading it.

``.toolchain/flags.json`` (or ``TOOLCHAIN_FLAGS_FILE``) holds one entry per surface name, flag
key or glob pattern::

    {"version": 1,
     "flags": {"support.*": {"killed": true, "reason": "refund replies quote wrong policy",
                             "by": "alice", "since": "2026-11-26T10:00:00Z",
                             "until": "2026-11-26T12:00:00Z"}}}

``killed: false`` pins a surface on the model (it overrides a broader pattern and a
``kill_default=True``). A hand-written ``"name": true`` is accepted too. Writers (``toolchain
kill`` / ``allow`` / ``restore`` or ``FlagFile``) take an exclusive ``flock`` on
``flags.json.lock``, write a temporary file and ``os.replace`` it, then append one JSON line per
change to ``flags.changes.jsonl`` beside it: who, when, why, before and after.

``tc.flags.FileSource`` (in ``_file_source``) reads it without touching the file on the hot path.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.flags._model import pattern_problem

__all__ = [
    "DEFAULT_FLAGS_FILE",
    "TOOLCHAIN_FLAGS_FILE",
    "Change",
    "FlagEntry",
    "FlagFile",
    "default_flags_path",
    "format_time",
    "parse_duration",
    "read_regular_file",
]

TOOLCHAIN_FLAGS_FILE: Final = "TOOLCHAIN_FLAGS_FILE"
"""Path of the local flag file (default ``.toolchain/flags.json`` under the working directory)."""
DEFAULT_FLAGS_FILE: Final = ".toolchain/flags.json"
_VERSION = 1
_GLOB_CHARS = frozenset("*?[")
Action = Literal["kill", "allow", "restore", "expire"]


def default_flags_path() -> Path:
    """``TOOLCHAIN_FLAGS_FILE``, else ``.toolchain/flags.json``, made absolute against the working directory."""
    return Path(os.path.abspath(os.environ.get(TOOLCHAIN_FLAGS_FILE) or DEFAULT_FLAGS_FILE))


def format_time(moment: datetime) -> str:
    """UTC ISO 8601 to the second with a ``Z``, as the flag file stores times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _whole_second_after(moment: datetime) -> datetime:
    """``moment`` rounded up to the second, as the file stores it: a TTL never ends early."""
    return moment if moment.microsecond == 0 else moment.replace(microsecond=0) + timedelta(seconds=1)


def _parse_time(text: object, what: str) -> datetime:
    if not isinstance(text, str):
        raise ConfigError(f"{what} must be an ISO 8601 time string, not {text!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{what} {text!r} is not an ISO 8601 time such as 2026-11-26T12:00:00Z") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    """Parse a TTL such as ``2h``, ``90m``, ``1d12h`` or ``1h30m15s`` (units d, h, m, s; in that order).

    Raises:
        ValueError: not a positive duration in that form.
    """
    match = _DURATION_RE.match(text.strip().lower()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"TTL {text!r} is not a duration such as 30m, 2h, 1d or 1h30m")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    try:
        ttl = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(f"TTL {text!r} is too long") from None
    if ttl <= timedelta(0):
        raise ValueError(f"TTL {text!r} must be longer than zero")
    return ttl


@dataclass(frozen=True)
class FlagEntry:
    """One entry of the flag file.

    Attributes:
        target: a surface name, flag key or glob pattern.
        killed: ``True`` switches matching surfaces to their fallback; ``False`` pins them on the model.
        reason, by: why and by whom.
        since: when it was set; until: when it lapses (``None``: until restored).
    """

    target: str
    killed: bool
    reason: str = ""
    by: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def active(self, now: datetime) -> bool:
        """Whether the entry is in force at ``now`` (its TTL has not run out)."""
        return self.until is None or now < self.until

    def to_json(self) -> dict[str, object]:
        """The entry as stored under its target in the file."""
        return {
            "killed": self.killed,
            "reason": self.reason,
            "by": self.by,
            "since": format_time(self.since) if self.since else None,
            "until": format_time(self.until) if self.until else None,
        }

    @classmethod
    def from_json(cls, target: str, value: object) -> FlagEntry:
        """Parse one stored entry (``true``/``false`` shorthand or an object). Raises ConfigError."""
        problem = pattern_problem(target) if isinstance(target, str) else "not text"
        if problem is not None:
            raise ConfigError(f"flag file entry {target!r} is not a surface name, flag key or glob pattern: {problem}")
        if isinstance(value, bool):
            return cls(target, value)
        if not isinstance(value, dict):
            raise ConfigError(f"flag file entry {target!r} must be true, false or an object")
        killed = value.get("killed", True)
        if not isinstance(killed, bool):
            raise ConfigError(f"flag file entry {target!r}: 'killed' must be true or false")
        reason, by = value.get("reason") or "", value.get("by") or ""
        if not isinstance(reason, str) or not isinstance(by, str):
            raise ConfigError(f"flag file entry {target!r}: 'reason' and 'by' must be strings")
        since = value.get("since")
        until = value.get("until")
        return cls(
            target,
            killed,
            reason,
            by,
            _parse_time(since, f"{target}.since") if since is not None else None,
            _parse_time(until, f"{target}.until") if until is not None else None,
        )

    def describe_state(self, now: datetime) -> str:
        """``killed``, ``allowed`` or ``expired``."""
        if not self.active(now):
            return "expired"
        return "killed" if self.killed else "allowed"


def read_regular_file(path: Path) -> bytes:
    """The bytes of the flag file, refusing anything but a regular file.

    Opened non-blocking, so a FIFO at the path (which would wait for a writer) is refused at once
    with a ``ConfigError`` rather than holding the reader; ``FileNotFoundError`` passes through.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a directory" if stat.S_ISDIR(mode) else "not a plain file"
            raise ConfigError(f"{path} is not a regular file ({kind}); the flag file must be a plain JSON file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


_EXAMPLE = '{"version": 1, "flags": {"support.refund_reply": {"killed": true, "reason": "..."}}}'
"""The smallest valid flag file, quoted in error messages."""


def parse_document(text: str | bytes) -> dict[str, FlagEntry]:
    """Parse the flag file's content into entries by target. Raises ConfigError with what is wrong."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"flag file is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"flag file must hold a JSON object with 'version' and 'flags', e.g. {_EXAMPLE}")
    unknown = sorted(set(doc) - {"version", "flags"})
    if unknown:
        raise ConfigError(
            f"flag file has top-level key(s) {', '.join(map(repr, unknown))}; only 'version' and 'flags' are "
            f"allowed and entries go under 'flags', e.g. {_EXAMPLE}"
        )
    if doc.get("version", _VERSION) != _VERSION:
        raise ConfigError(f"flag file version {doc.get('version')!r} is not supported (expected {_VERSION})")
    flags = doc.get("flags", {})
    if not isinstance(flags, dict):
        raise ConfigError("flag file 'flags' must be an object of entries")
    return {target: FlagEntry.from_json(target, value) for target, value in flags.items()}


def render_document(entries: dict[str, FlagEntry]) -> str:
    """The file content for ``entries`` (sorted, indented for people editing it by hand)."""
    doc = {"version": _VERSION, "flags": {t: entries[t].to_json() for t in sorted(entries)}}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Change:
    """One change to the flag file, as appended to the change log."""

    at: datetime
    action: Action
    target: str
    by: str
    reason: str
    before: FlagEntry | None
    after: FlagEntry | None

    def to_json(self, path: Path) -> dict[str, object]:
        """The change-log record (one JSON line)."""
        return {
            "at": format_time(self.at),
            "action": self.action,
            "target": self.target,
            "by": self.by,
            "reason": self.reason,
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json() if self.after else None,
            "file": str(path),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }


def _default_by() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment
        return "unknown"


class FlagFile:
    """Read and change a flag file safely (what ``toolchain kill`` / ``allow`` / ``restore`` use).

    Every change runs under an exclusive lock on ``<file>.lock``: read, change, write a temporary
    file, ``fsync``, ``os.replace``, then append the change (and any TTL expiries it swept away)
    to the change log — so concurrent writers lose nothing and readers see whole files only.

    Args:
        path: the flag file (default ``default_flags_path()``).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(os.path.abspath(path)) if path is not None else default_flags_path()
        self.log_path = self.path.with_name(self.path.stem + ".changes.jsonl")
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def entries(self) -> dict[str, FlagEntry]:
        """The entries now in the file (expired ones included); empty when there is no file."""
        try:
            return parse_document(read_regular_file(self.path))
        except FileNotFoundError:
            return {}

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The last ``limit`` change-log records (all by default), oldest first."""
        try:
            lines = self.log_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        records = [json.loads(line) for line in lines if line.strip()]
        return records[-limit:] if limit else records

    def kill(self, target: str, *, reason: str, by: str | None = None, ttl: timedelta | None = None) -> Change:
        """Switch ``target`` (surface, flag key or pattern) to its fallback, until restored or ``ttl`` runs out."""
        return self._set(target, killed=True, reason=reason, by=by, ttl=ttl, action="kill")

    def allow(self, target: str, *, reason: str, by: str | None = None, ttl: timedelta | None = None) -> Change:
        """Pin ``target`` on the model: overrides a broader killed pattern and ``kill_default=True``."""
        return self._set(target, killed=False, reason=reason, by=by, ttl=ttl, action="allow")

    def restore(self, target: str, *, reason: str, by: str | None = None) -> Change | None:
        """Remove exactly the entry named ``target``; ``None`` (and nothing logged) when there is none."""
        reason, who = _check_reason(reason), by or _default_by()

        def change(entries: dict[str, FlagEntry], now: datetime) -> Change | None:
            before = entries.pop(target, None)
            return None if before is None else Change(now, "restore", target, who, reason, before, None)

        return self._mutate(change)

    def _set(
        self, target: str, *, killed: bool, reason: str, by: str | None, ttl: timedelta | None, action: Action
    ) -> Change:
        problem = pattern_problem(target) if isinstance(target, str) else "not text"
        if problem is not None:
            raise ConfigError(
                f"{target!r} is not a surface name, flag key or glob pattern: {problem} (letters, digits, "
                "'_', '-', '.', ':', '/', '*', '?', '[...]')"
            )
        reason, who = _check_reason(reason), by or _default_by()
        if ttl is not None and ttl <= timedelta(0):
            raise ConfigError("ttl must be longer than zero")

        def change(entries: dict[str, FlagEntry], now: datetime) -> Change:
            after = FlagEntry(target, killed, reason, who, now, _whole_second_after(now + ttl) if ttl else None)
            before = entries.get(target)
            entries[target] = after
            return Change(now, action, target, who, reason, before, after)

        result = self._mutate(change)
        assert result is not None
        return result

    def _mutate(self, change: Callable[[dict[str, FlagEntry], datetime], Change | None]) -> Change | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            entries = self.entries()
            now = datetime.now(UTC).replace(microsecond=0)
            log = [
                Change(now, "expire", t, "toolchain (ttl)", "TTL ran out", e, None)
                for t, e in sorted(entries.items())
                if not e.active(now)
            ]
            for record in log:
                del entries[record.target]
            result = change(entries, now)
            if result is not None:
                log.append(result)
            if log:
                self._write(render_document(entries))
                self._append_log(log)
            return result

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl  # POSIX only; imported here so the package imports everywhere

        with open(self.lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _write(self, text: str) -> None:
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def _append_log(self, changes: list[Change]) -> None:
        lines = "".join(json.dumps(c.to_json(self.path), sort_keys=True) + "\n" for c in changes)
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(lines)
            fh.flush()
            os.fsync(fh.fileno())


def _check_reason(reason: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError("a reason is required for every flag change (say why, for the change log)")
    return reason.strip()
