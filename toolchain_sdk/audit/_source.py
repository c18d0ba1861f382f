"""Reading a chain where it is stored: the lines of a JSONL chain (rotated files in order) or the rows
of an audit database, each with where it sits, for ``verify``, ``read`` and ``replay``."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from toolchain_sdk.audit import _segments
from toolchain_sdk.audit._record import AuditRecord
from toolchain_sdk.audit._sqlite import iter_rows
from toolchain_sdk.errors import ConfigError

__all__ = ["Entry", "Location", "entries", "locate", "read"]

_log = logging.getLogger("toolchain_sdk.audit")


@dataclass(frozen=True)
class Location:
    """A stored chain: a JSONL file (with its rotated segments) or a SQLite database."""

    kind: str
    """``jsonl`` or ``sqlite``."""
    path: Path

    def side_files(self) -> list[Path]:
        """Torn-tail and spool files beside the chain that exist."""
        if self.kind == "jsonl":
            return _segments.side_files(self.path)
        spool = self.path.with_name(self.path.name + ".spool.jsonl")
        return [spool] if spool.exists() else []


@dataclass(frozen=True)
class Entry:
    """One stored record's text and where it is (``line``: 1-based line of ``file``, or row position)."""

    file: str
    line: int
    text: str
    terminated: bool
    """Whether the line ended with a newline (a database row always counts as terminated)."""


def locate(path_or_url: str | os.PathLike[str]) -> Location:
    """Where a chain is, from ``PATH`` (JSONL) or ``sqlite:///PATH``.

    Raises:
        ConfigError: nothing is stored there.
    """
    text = os.fspath(path_or_url)
    if text.startswith("sqlite:///"):
        path = Path(text.removeprefix("sqlite:///"))
        if not path.is_file():
            raise ConfigError(f"no audit database at {path}")
        return Location("sqlite", path)
    if "://" in text:
        raise ConfigError(f"audit chain {text!r}: give a JSONL path or sqlite:///path.db")
    path = Path(text)
    if path.suffix in (".db", ".sqlite", ".sqlite3") and path.is_file():
        return Location("sqlite", path)
    if not _segments.chain_files(path):
        raise ConfigError(f"no audit chain at {path} (no such file, and no rotated segments of it)")
    return Location("jsonl", path)


def entries(location: Location) -> Iterator[Entry]:
    """Every stored record of the chain, in chain order."""
    if location.kind == "sqlite":
        for number, text in enumerate(iter_rows(location.path), start=1):
            yield Entry(str(location.path), number, text, True)
        return
    for file in _segments.chain_files(location.path):
        with open(file, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                terminated = raw.endswith(b"\n")
                yield Entry(str(file), number, raw.rstrip(b"\n").decode("utf-8", errors="replace"), terminated)


def read(path_or_url: str | os.PathLike[str]) -> Iterator[AuditRecord]:
    """The records of a JSONL chain (rotated files included, in order) or an audit database.

    A torn last line is skipped; a line that is not a record is skipped with a warning (``verify``
    says what is wrong with it).

    Raises:
        ConfigError: nothing is stored there.
    """
    for entry in entries(locate(path_or_url)):
        if not entry.terminated:
            continue
        try:
            yield AuditRecord.model_validate_json(entry.text)
        except ValidationError:
            _log.warning("%s line %d is not an audit record; skipped", entry.file, entry.line)
