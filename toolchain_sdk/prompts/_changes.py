"""Changing the lock: locking new versions and moving labels, each change logged with who, when, why.

Both refuse rather than paper over a problem: ``lock`` writes nothing when a locked version's file
was modified in place (or a new file is not a valid prompt); ``move_label`` only points a label at
a locked version whose file still matches its hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from toolchain_sdk.errors import PromptError
from toolchain_sdk.prompts._files import PromptFile, file_for, load_file, scan, version_files
from toolchain_sdk.prompts._lock import (
    LOCK_FILE,
    LockEntry,
    LockFile,
    Problem,
    append_log,
    author,
    now,
    read_lock,
    write_lock,
)
from toolchain_sdk.prompts._prompt import check_label, check_name, check_version

__all__ = ["LabelMove", "LockResult", "lock_versions", "move_label"]


@dataclass(frozen=True)
class LockResult:
    """What ``lock_versions`` did: the versions it added, or the problems that stopped it."""

    lock_path: Path
    added: list[tuple[PromptFile, LockEntry]] = field(default_factory=list)
    refused: list[Problem] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Locked ``name@version``s whose file is gone (left in the lock; ``verify`` reports them)."""
    wrote: bool = False


def lock_versions(directory: Path, *, by: str | None = None, reason: str = "") -> LockResult:
    """Lock every prompt file in ``directory`` that is not locked yet; existing entries never change.

    Returns:
        The result; when ``refused`` is not empty, nothing was written.

    Raises:
        PromptError: there is no such directory, or the existing lock file cannot be read.
    """
    if not directory.is_dir():
        raise PromptError(f"no prompts directory {directory}: pass --dir or set TOOLCHAIN_PROMPTS_DIR")
    lock_path = directory / LOCK_FILE
    existing = read_lock(directory)
    lock = existing if existing is not None else LockFile()
    found = scan(directory)
    refused = [Problem(str(directory / rel), "invalid", why) for rel, why in found.invalid]
    new: list[tuple[PromptFile, str]] = []
    for ref, file in sorted(found.files.items()):
        entry = lock.entry(file.name, file.version)
        actual = file.sha256()
        if entry is not None:
            if actual != entry.sha256:
                refused.append(
                    Problem(
                        str(file.path),
                        "modified in place",
                        f"{ref} was locked as {entry.sha256[:12]}; restore it and add the change as a new version",
                    )
                )
            continue
        try:
            load_file(file)
        except PromptError as exc:
            refused.append(Problem(str(file.path), "invalid", str(exc)))
            continue
        new.append((file, actual))
    missing = sorted(
        f"{n}@{v}" for n, versions in lock.prompts.items() for v in versions if f"{n}@{v}" not in found.files
    )
    if refused:
        return LockResult(lock_path, refused=refused, missing=missing)
    who, when = author(by, directory), now()
    added = []
    for file, digest in new:
        entry = LockEntry(sha256=digest, file=file.relative, locked_at=when, by=who, reason=reason)
        lock.prompts.setdefault(file.name, {})[file.version] = entry
        added.append((file, entry))
    if not added and existing is not None:
        return LockResult(lock_path, missing=missing)
    write_lock(directory, lock)
    append_log(
        directory,
        [
            {
                "action": "lock",
                "at": when,
                "by": who,
                "name": f.name,
                "reason": reason,
                "sha256": e.sha256,
                "version": f.version,
                "file": f.relative,
            }
            for f, e in added
        ],
    )
    return LockResult(lock_path, added=added, missing=missing, wrote=True)


@dataclass(frozen=True)
class LabelMove:
    """A label moved (or not, when it already pointed there)."""

    name: str
    label: str
    before: str | None
    after: str
    by: str
    at: str

    @property
    def changed(self) -> bool:
        """Whether the label now points elsewhere than before."""
        return self.before != self.after


def move_label(
    directory: Path, name: str, label: str, version: str, *, reason: str, by: str | None = None
) -> LabelMove:
    """Point ``name@label`` at ``version`` in the lock (and log it); nothing else changes.

    Raises:
        PromptError: no lock, no reason, a bad label, or a version that is not locked, is deleted
            or was modified in place.
    """
    check_name(name)
    check_label(label, name=name)
    check_version(version, name=name)
    if not reason.strip():
        raise PromptError("moving a label needs --reason: it goes to the prompts history")
    lock = read_lock(directory)
    if lock is None:
        raise PromptError(f"no lock file in {directory}: run `toolchain prompts lock --reason ...` first")
    files = version_files(directory, name)
    if label in files or lock.entry(name, label) is not None:
        raise PromptError(f"{name}@{label} is a version: a label must not share a name with a version")
    entry = lock.entry(name, version)
    if entry is None:
        locked = ", ".join(sorted(lock.prompts.get(name, {}))) or "none"
        raise PromptError(
            f"{name}@{version} is not locked (locked versions: {locked}); "
            "lock it first with `toolchain prompts lock --reason ...`"
        )
    file = file_for(directory, name, version)
    if file is None:
        raise PromptError(f"{name}@{version} is locked but its file ({directory / entry.file}) is deleted")
    if file.sha256() != entry.sha256:
        raise PromptError(f"{file.path} was modified in place since it was locked; restore it before labelling it")
    who, when = author(by, directory), now()
    before = lock.labels.get(name, {}).get(label)
    move = LabelMove(name, label, before, version, who, when)
    if not move.changed:
        return move
    lock.labels.setdefault(name, {})[label] = version
    write_lock(directory, lock)
    append_log(
        directory,
        [
            {
                "action": "label",
                "at": when,
                "by": who,
                "name": name,
                "label": label,
                "from": before,
                "to": version,
                "reason": reason,
            }
        ],
    )
    return move
