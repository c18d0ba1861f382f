"""Resolving ``name@version`` or ``name@label`` to a ``Prompt``, and checking it against the lock.

A version is a file; a label is a pointer in ``prompts.lock``. When a lock file exists, a version
it records must still have the bytes it was locked with: otherwise ``PromptDrift`` (or, with
``drift="warn"`` / ``TOOLCHAIN_PROMPT_DRIFT=warn``, one warning and ``Prompt.drift=True``).
Without a lock file nothing is checked; a version the lock does not record yet is not drift
(``toolchain prompts verify`` reports it as ``not locked``).
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Literal

from toolchain_sdk.errors import PromptDrift, PromptError
from toolchain_sdk.prompts._files import file_for, load_file, prompts_dir, scan, version_files
from toolchain_sdk.prompts._lock import LockEntry, LockFile, read_lock
from toolchain_sdk.prompts._prompt import Prompt, split_ref

__all__ = [
    "DriftMode",
    "Found",
    "TOOLCHAIN_PROMPT_DRIFT",
    "drift_mode",
    "find",
    "load_prompt",
    "natural",
    "prompt",
    "resolve",
]

TOOLCHAIN_PROMPT_DRIFT: Final = "TOOLCHAIN_PROMPT_DRIFT"
"""``raise`` (default) or ``warn``: what a prompt file edited after it was locked does at load time."""

DriftMode = Literal["raise", "warn"]

_logger = logging.getLogger("toolchain_sdk")


def natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that puts ``v2`` before ``v10`` and ``9`` before ``10``."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


def drift_mode(drift: DriftMode | None) -> DriftMode:
    """``drift``, else ``$TOOLCHAIN_PROMPT_DRIFT``, else ``raise``.

    Raises:
        PromptError: the value is neither ``raise`` nor ``warn``.
    """
    value = drift if drift is not None else (os.environ.get(TOOLCHAIN_PROMPT_DRIFT) or "raise").strip().lower()
    if value == "raise":
        return "raise"
    if value == "warn":
        return "warn"
    source = "drift" if drift is not None else TOOLCHAIN_PROMPT_DRIFT
    raise PromptError(f"{source}={value!r} is not one of raise, warn")


@dataclass(frozen=True)
class Found:
    """A resolved prompt and what the lock says about it."""

    prompt: Prompt
    locked: LockEntry | None
    """The lock entry of its version (``None``: no lock file, or the version is not locked)."""
    drifted: bool
    """The file's bytes differ from ``locked.sha256``."""


def _unknown(directory: Path, name: str, wanted: str, lock: LockFile | None) -> PromptError:
    versions = set(version_files(directory, name))
    labels = dict((lock.labels.get(name) if lock else None) or {})
    if lock is not None:
        versions |= set(lock.prompts.get(name, {}))
    if not versions and not labels:
        names = sorted({f.name for f in scan(directory).files.values()} | set(lock.prompts if lock else ()))
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        known = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "") if names else "none"
        return PromptError(
            f"unknown prompt {name}@{wanted}: no prompt named {name!r} in {directory} "
            f"(prompts there: {known}){hint} — set TOOLCHAIN_PROMPTS_DIR or configure(prompts_dir=...), "
            "or pass a tc.Prompt"
        )
    shown_versions = ", ".join(sorted(versions, key=natural)) or "none"
    shown_labels = ", ".join(f"{k} -> {v}" for k, v in sorted(labels.items())) or "none"
    return PromptError(
        f"unknown prompt {name}@{wanted}: {name!r} has no version or label {wanted!r} in {directory} "
        f"(versions: {shown_versions}; labels: {shown_labels})"
    )


def find(ref: str, directory: str | os.PathLike[str] | None = None) -> Found:
    """Resolve ``ref`` without acting on drift (the CLI shows it; ``resolve`` decides what it means).

    Raises:
        PromptError: a malformed reference, ``latest``, an unknown name, version or label (the
            message lists what exists), a label whose version has no file, or an invalid file.
    """
    base = prompts_dir(directory)
    name, wanted = split_ref(ref)
    lock = read_lock(base)
    label: str | None = None
    file = file_for(base, name, wanted)
    if file is None:
        target = lock.labels.get(name, {}).get(wanted) if lock else None
        if target is None:
            raise _unknown(base, name, wanted, lock)
        label = wanted
        file = file_for(base, name, target)
        if file is None:
            raise PromptError(
                f"prompt {name}@{label} points at version {target}, which has no file in {base} "
                f"(restore {name}@{target} or move the label: `toolchain prompts label {name} {label} VERSION`)"
            )
    prompt = load_file(file, label=label)
    entry = lock.entry(name, file.version) if lock else None
    drifted = entry is not None and entry.sha256 != prompt.sha256
    if drifted:
        prompt = replace(prompt, drift=True)
    return Found(prompt, entry, drifted)


def resolve(ref: str, directory: str | os.PathLike[str] | None = None, *, drift: DriftMode | None = None) -> Prompt:
    """Load ``name@version`` or ``name@label`` from the prompts directory, checked against its lock.

    Args:
        ref: ``support_refund_policy@3`` (a version: a file) or ``support_refund_policy@production``
            (a label in ``prompts.lock``). ``latest`` is refused: pin a version or use a label.
        directory: the prompts directory (default: ``$TOOLCHAIN_PROMPTS_DIR``, else ``prompts``).
        drift: what a file edited after it was locked does: ``raise`` (default) or ``warn``
            (default: ``$TOOLCHAIN_PROMPT_DRIFT``).

    Returns:
        The ``Prompt``: its ``version`` is the resolved one, ``label`` the label used (if any),
        ``sha256`` the hash of the file's bytes, ``drift`` whether it differs from the lock.

    Raises:
        PromptDrift: the file's bytes differ from its locked hash and drift is ``raise``.
        PromptError: (a ``ConfigError``) anything else that makes ``ref`` unusable; an unknown
            name, version or label lists the versions and labels that exist.
    """
    mode = drift_mode(drift)
    found = find(ref, directory)
    if not found.drifted or found.locked is None:
        return found.prompt
    prompt, locked = found.prompt, found.locked
    via = f" (through label {prompt.label})" if prompt.label else ""
    message = (
        f"prompt {prompt.ref}{via}: {prompt.source} was edited after it was locked (locked sha256 "
        f"{locked.sha256[:12]}, file now {prompt.sha256[:12]}); restore it and add the change as a new version file"
    )
    if mode == "raise":
        raise PromptDrift(
            message + f" (or set {TOOLCHAIN_PROMPT_DRIFT}=warn to run on with a warning)",
            ref=prompt.ref,
            file=str(prompt.source),
            locked_sha256=locked.sha256,
            actual_sha256=prompt.sha256,
        )
    _logger.warning("%s; running on because drift is 'warn' (toolchain.prompt.drift=true)", message)
    return prompt


def prompt(ref: str, directory: str | os.PathLike[str] | None = None, *, drift: DriftMode | None = None) -> Prompt:
    """``tc.prompt("support_refund_policy@production")``: the prompt a reference names (see ``resolve``).

    Raises:
        PromptDrift: the file was edited after it was locked (unless drift is ``warn``).
        PromptError: the reference is malformed, unknown (the message lists what exists) or ``latest``.
    """
    return resolve(ref, directory, drift=drift)


def load_prompt(ref: str, directory: str | os.PathLike[str] | None = None, *, drift: DriftMode | None = None) -> Prompt:
    """The 0.1 name of ``prompt`` (same behaviour: versions, labels, drift check).

    Raises:
        PromptDrift: the file was edited after it was locked (unless drift is ``warn``).
        PromptError: the reference is malformed, unknown (the message lists what exists) or ``latest``.
    """
    return resolve(ref, directory, drift=drift)
