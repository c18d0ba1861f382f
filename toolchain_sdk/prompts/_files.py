"""Prompt files: ``<dir>/<name>@<version>.md`` (or ``.txt``), their front matter, and finding them.

One file per version, in a directory resolved argument → ``TOOLCHAIN_PROMPTS_DIR`` → ``prompts``.
A file that begins with a ``---`` line has YAML front matter up to the next ``---`` line
(``description``, ``owner``, ``variables``, ``model``); the template is the text after it,
verbatim. A file's identity is the SHA-256 of its bytes, front matter included.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from toolchain_sdk.errors import PromptError
from toolchain_sdk.prompts._prompt import Prompt, check_name, check_version

__all__ = [
    "DEFAULT_DIR",
    "PromptFile",
    "SUFFIXES",
    "Scan",
    "TOOLCHAIN_PROMPTS_DIR",
    "file_for",
    "load_file",
    "prompts_dir",
    "scan",
    "version_files",
]

TOOLCHAIN_PROMPTS_DIR: Final = "TOOLCHAIN_PROMPTS_DIR"
"""Directory of ``<name>@<version>.md`` prompt files when none is passed (default ``prompts``)."""

DEFAULT_DIR: Final = "prompts"
"""The prompts directory when neither an argument nor ``TOOLCHAIN_PROMPTS_DIR`` names one."""

SUFFIXES: Final = (".md", ".txt")
"""The file endings of prompt files."""

_FRONT_OPEN = re.compile(r"\A---[ \t]*\r?\n")
_FRONT = re.compile(r"\A---[ \t]*\r?\n(?P<yaml>.*?)^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_FIELDS = ("description", "model", "owner", "variables")


def prompts_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The prompts directory: ``explicit``, else ``$TOOLCHAIN_PROMPTS_DIR``, else ``prompts`` (relative to the cwd)."""
    if explicit is not None and str(explicit):
        return Path(explicit)
    return Path(os.environ.get(TOOLCHAIN_PROMPTS_DIR) or DEFAULT_DIR)


@dataclass(frozen=True)
class PromptFile:
    """A file found in the prompts directory, named ``<name>@<version><suffix>``."""

    name: str
    version: str
    path: Path
    relative: str
    """The path inside the prompts directory, with ``/`` separators (as the lock records it)."""

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    def sha256(self) -> str:
        """SHA-256 of the file's bytes now."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Scan:
    """Every prompt file in a directory, and the files whose names are not valid prompt files."""

    files: dict[str, PromptFile]
    """By ``name@version``."""
    invalid: list[tuple[str, str]]
    """``(relative path, what is wrong)``."""


def _candidates(directory: Path) -> Iterator[tuple[Path, str]]:
    if not directory.is_dir():
        return
    for path in sorted(directory.rglob("*@*")):
        relative = path.relative_to(directory).as_posix()
        if path.suffix in SUFFIXES and path.is_file() and not any(p.startswith(".") for p in relative.split("/")):
            yield path, relative


def _split_file(relative: str) -> tuple[str, str]:
    """``support/refund@3.md`` → ``("support/refund", "3")`` (checked)."""
    stem = relative.rsplit(".", 1)[0]
    name, sep, version = stem.rpartition("@")
    if not sep or "@" in name:
        raise PromptError("the file name must be <name>@<version>.md (one '@')")
    return check_name(name), check_version(version, name=name)


def scan(directory: Path) -> Scan:
    """Find every ``<name>@<version>.md|.txt`` under ``directory`` (files without ``@`` are ignored)."""
    files: dict[str, PromptFile] = {}
    invalid: list[tuple[str, str]] = []
    for path, relative in _candidates(directory):
        try:
            name, version = _split_file(relative)
        except PromptError as exc:
            invalid.append((relative, f"invalid name: {exc}"))
            continue
        found = PromptFile(name, version, path, relative)
        other = files.get(found.ref)
        if other is not None:
            invalid.append((relative, f"same name@version as {other.relative}: keep one file per version"))
            continue
        files[found.ref] = found
    return Scan(files, invalid)


def version_files(directory: Path, name: str) -> dict[str, PromptFile]:
    """The files of one prompt, by version (looks only in the name's own folder)."""
    folder, _, base = f"{directory.as_posix()}/{name}".rpartition("/")
    found: dict[str, PromptFile] = {}
    here = Path(folder)
    if not here.is_dir():
        return found
    for path in sorted(here.glob(f"{base}@*")):
        if path.suffix not in SUFFIXES or not path.is_file():
            continue
        try:
            file_name, version = _split_file(path.relative_to(directory).as_posix())
        except PromptError:
            continue
        if file_name == name:
            found.setdefault(version, PromptFile(name, version, path, path.relative_to(directory).as_posix()))
    return found


def file_for(directory: Path, name: str, version: str) -> PromptFile | None:
    """The file of ``name@version``, or ``None``.

    Raises:
        PromptError: both a ``.md`` and a ``.txt`` exist for it.
    """
    hits = [directory / f"{name}@{version}{suffix}" for suffix in SUFFIXES]
    hits = [p for p in hits if p.is_file()]
    if len(hits) > 1:
        raise PromptError(f"prompt {name}@{version}: both {hits[0]} and {hits[1]} exist; keep one file per version")
    if not hits:
        return None
    return PromptFile(name, version, hits[0], hits[0].relative_to(directory).as_posix())


def _front_matter(text: str, where: str) -> tuple[dict[str, object], str]:
    """Split off YAML front matter; returns (fields, template)."""
    if not _FRONT_OPEN.match(text):
        return {}, text
    match = _FRONT.match(text)
    if match is None:
        raise PromptError(f"{where}: the front matter opened by the first '---' line has no closing '---' line")
    import yaml  # type: ignore[import-untyped, unused-ignore]  # PyYAML: only files with front matter need it

    try:
        data = yaml.safe_load(match["yaml"])
    except yaml.YAMLError as exc:
        raise PromptError(f"{where}: the front matter is not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PromptError(f"{where}: the front matter must be a mapping of {', '.join(_FIELDS)}")
    unknown = sorted(str(k) for k in data if k not in _FIELDS)
    if unknown:
        raise PromptError(f"{where}: unknown front matter field(s) {', '.join(unknown)} (known: {', '.join(_FIELDS)})")
    return data, text[match.end() :]


def _text_field(data: dict[str, object], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise PromptError(f"{where}: front matter {key!r} must be text, not {type(value).__name__}")


def _declared(data: dict[str, object], where: str) -> tuple[str, ...] | None:
    value = data.get("variables")
    if value is None:
        return None
    names = list(value) if isinstance(value, (list, dict)) else None
    if names is None or not all(isinstance(n, str) for n in names):
        raise PromptError(f"{where}: front matter 'variables' must be a list of names (or a mapping name: description)")
    return tuple(str(n) for n in names)


def load_file(file: PromptFile, *, label: str | None = None, drift: bool = False) -> Prompt:
    """Read ``file`` into a ``Prompt`` whose ``sha256`` is that of the bytes read.

    Raises:
        PromptError: the file is not UTF-8, its front matter is invalid, or its template is.
    """
    where = f"prompt file {file.path}"
    try:
        raw = file.path.read_bytes()
    except OSError as exc:
        raise PromptError(f"{where}: cannot be read: {exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PromptError(f"{where}: not UTF-8 text ({exc})") from None
    data, template = _front_matter(text, where)
    try:
        return Prompt(
            file.name,
            file.version,
            template,
            source=file.path,
            label=label,
            description=_text_field(data, "description", where),
            owner=_text_field(data, "owner", where),
            model=_text_field(data, "model", where),
            variables=_declared(data, where),
            drift=drift,
            sha256=hashlib.sha256(raw).hexdigest(),
        )
    except PromptError as exc:
        raise PromptError(f"{where}: {exc}") from None
