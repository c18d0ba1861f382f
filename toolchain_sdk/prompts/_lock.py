"""``prompts.lock``: the reviewed SHA-256 of every prompt version, the labels, and their history.

The lock is JSON with sorted keys and one entry per line (a version, a label), so a review diff
shows exactly what was locked or moved. Locking never changes an existing version's entry; moving
a label changes one line. Every change is also appended to ``prompts.log.jsonl`` beside the lock
(who, when, why), which nothing rewrites.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from toolchain_sdk.errors import PromptError
from toolchain_sdk.prompts._files import PromptFile, load_file, prompts_dir, scan

__all__ = [
    "LOCK_FILE",
    "LOG_FILE",
    "LockEntry",
    "LockFile",
    "Problem",
    "append_log",
    "author",
    "dumps",
    "now",
    "read_lock",
    "read_log",
    "verify",
    "write_lock",
]

LOCK_FILE: Final = "prompts.lock"
"""The lock's file name, inside the prompts directory."""

LOG_FILE: Final = "prompts.log.jsonl"
"""The append-only history of locks and label moves, beside the lock."""

FORMAT: Final = 1

ProblemKind = Literal["modified in place", "deleted", "not locked", "label points nowhere", "invalid", "no lock file"]


@dataclass(frozen=True)
class LockEntry:
    """What the lock records for one version: its hash, its file, and who locked it when and why."""

    sha256: str
    file: str
    locked_at: str
    by: str
    reason: str


@dataclass
class LockFile:
    """The lock's content: entries by name and version, and labels by name (label → version)."""

    prompts: dict[str, dict[str, LockEntry]] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def entry(self, name: str, version: str) -> LockEntry | None:
        """The lock entry of ``name@version``, if it is locked."""
        return self.prompts.get(name, {}).get(version)


@dataclass(frozen=True)
class Problem:
    """One reason ``toolchain prompts verify`` fails: a file and what is wrong with it."""

    file: str
    problem: ProblemKind
    detail: str = ""

    def line(self) -> str:
        """``prompts/x@3.md: modified in place (detail)``."""
        return f"{self.file}: {self.problem}" + (f" ({self.detail})" if self.detail else "")

    def to_json(self) -> dict[str, str]:
        """The JSON form (``detail`` only when there is one)."""
        return {k: v for k, v in asdict(self).items() if v}


def now() -> str:
    """The current UTC time as the lock and log write it (``2026-11-30T09:15:00Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def author(by: str | None, where: Path) -> str:
    """Who makes a change: ``by``, else ``git config user.name`` (run in ``where``), else the OS user."""
    if by:
        return by
    cwd = where if where.is_dir() else Path.cwd()
    try:
        found = subprocess.run(
            ["git", "config", "user.name"], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _text(value: object, what: str, path: Path) -> str:
    if not isinstance(value, str):
        raise PromptError(f"{path}: {what} must be text; fix the lock file (or restore it from version control)")
    return value


def read_lock(directory: Path) -> LockFile | None:
    """The lock in ``directory``, or ``None`` when there is no lock file.

    Raises:
        PromptError: the lock file is not valid JSON or not shaped like a lock.
    """
    path = directory / LOCK_FILE
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PromptError(f"{path}: cannot be read: {exc}") from None
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PromptError(f"{path}: not valid JSON ({exc}); restore it from version control") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PromptError(f"{path}: not a prompts lock of format {FORMAT}")
    lock = LockFile()
    prompts, labels = doc.get("prompts", {}), doc.get("labels", {})
    if not isinstance(prompts, dict) or not isinstance(labels, dict):
        raise PromptError(f"{path}: 'prompts' and 'labels' must be objects")
    for name, versions in prompts.items():
        if not isinstance(versions, dict):
            raise PromptError(f"{path}: prompts.{name} must be an object of versions")
        for version, entry in versions.items():
            if not isinstance(entry, dict):
                raise PromptError(f"{path}: prompts.{name}.{version} must be an object")
            fields = {
                k: _text(entry.get(k, ""), f"prompts.{name}.{version}.{k}", path) for k in LockEntry.__annotations__
            }
            if len(fields["sha256"]) != 64:
                raise PromptError(f"{path}: prompts.{name}.{version}.sha256 is not a SHA-256 hex digest")
            lock.prompts.setdefault(name, {})[version] = LockEntry(**fields)
    for name, moved in labels.items():
        if not isinstance(moved, dict):
            raise PromptError(f"{path}: labels.{name} must be an object of label: version")
        lock.labels[name] = {label: _text(v, f"labels.{name}.{label}", path) for label, v in moved.items()}
    return lock


def _block(value: object, indent: int, levels: int) -> str:
    """JSON with sorted keys, objects expanded ``levels`` deep, deeper values on one line each."""
    if not isinstance(value, Mapping) or levels == 0 or not value:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    pad = "  " * (indent + 1)
    items = [
        f"{pad}{json.dumps(k, ensure_ascii=False)}: {_block(v, indent + 1, levels - 1)}"
        for k, v in sorted(value.items())
    ]
    return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"


def dumps(lock: LockFile) -> str:
    """The lock as written: sorted keys, one version entry or label per line."""
    doc = {
        "format": FORMAT,
        "labels": lock.labels,
        "prompts": {n: {v: asdict(e) for v, e in versions.items()} for n, versions in lock.prompts.items()},
    }
    return _block(doc, 0, 3) + "\n"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_lock(directory: Path, lock: LockFile) -> Path:
    """Replace the lock file atomically (a reader sees the old or the new lock, never half of one)."""
    path = directory / LOCK_FILE
    _atomic_write(path, dumps(lock))
    return path


def append_log(directory: Path, records: list[dict[str, str | None]]) -> None:
    """Append records to ``prompts.log.jsonl`` (one JSON object per line, sorted keys)."""
    if not records:
        return
    with (directory / LOG_FILE).open("a", encoding="utf-8", newline="\n") as log:
        for record in records:
            log.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")


def read_log(directory: Path, name: str | None = None) -> list[dict[str, str | None]]:
    """The history, oldest first (only ``name``'s records when given).

    Raises:
        PromptError: a line is not a JSON object.
    """
    path = directory / LOG_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PromptError(f"{path}:{number}: not a JSON line ({exc})") from None
        if not isinstance(record, dict):
            raise PromptError(f"{path}:{number}: not a JSON object")
        if name is None or record.get("name") == name:
            records.append(record)
    return records


def _check_file(file: PromptFile, lock: LockFile, shown: str) -> Problem | None:
    entry = lock.entry(file.name, file.version)
    if entry is None:
        return Problem(shown, "not locked", "run `toolchain prompts lock --reason ...`")
    actual = file.sha256()
    if actual != entry.sha256:
        return Problem(
            shown,
            "modified in place",
            f"locked {entry.sha256[:12]}, now {actual[:12]}: restore it and add a new version file instead",
        )
    return None


def verify(directory: str | os.PathLike[str] | None = None) -> list[Problem]:
    """Every reason the prompts in ``directory`` do not match their lock (empty when they all do).

    The check behind ``toolchain prompts verify`` (the CI gate), for use from Python too.

    Checks: each version file matches its locked hash, each locked version's file exists, each
    file is locked (and is a valid prompt), each label points at a locked version. A missing
    lock file is one problem, ``no lock file``.

    Args:
        directory: the prompts directory (default: ``$TOOLCHAIN_PROMPTS_DIR``, else ``prompts``).

    Raises:
        PromptError: the lock file exists but cannot be read as a lock.
    """
    directory = prompts_dir(directory)
    lock = read_lock(directory)
    if lock is None:
        return [Problem(str(directory / LOCK_FILE), "no lock file", "run `toolchain prompts lock --reason ...`")]
    found = scan(directory)
    problems = [Problem(str(directory / rel), "invalid", why) for rel, why in found.invalid]
    for file in found.files.values():
        shown = str(file.path)
        problem = _check_file(file, lock, shown)
        if problem is not None:
            problems.append(problem)
            continue
        try:
            load_file(file)
        except PromptError as exc:
            problems.append(Problem(shown, "invalid", str(exc)))
    for name, versions in sorted(lock.prompts.items()):
        for version, entry in sorted(versions.items()):
            if f"{name}@{version}" not in found.files:
                problems.append(Problem(str(directory / entry.file), "deleted", f"{name}@{version} is locked"))
    for name, labels in sorted(lock.labels.items()):
        for label, version in sorted(labels.items()):
            if lock.entry(name, version) is None:
                problems.append(
                    Problem(
                        str(directory / LOCK_FILE),
                        "label points nowhere",
                        f"{name}@{label} -> {version}, which is not a locked version",
                    )
                )
    return problems
