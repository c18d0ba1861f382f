"""The fixture code base under tests/data/inventory and helpers to find lines in it."""

from __future__ import annotations

from pathlib import Path

from tests._subproc import ROOT

DATA = ROOT / "tests" / "data" / "inventory"
APP = DATA / "app"
PROMPTS = DATA / "prompts"
SHOWN = "tests/data/inventory/app"
"""How the scan shows the fixture's files when it is scanned from the repository root."""


def line_of(relative: str, text: str, nth: int = 1) -> int:
    """The 1-based line of the ``nth`` line of ``APP/relative`` containing ``text``."""
    hits = [i for i, line in enumerate((APP / relative).read_text().splitlines(), start=1) if text in line]
    assert len(hits) >= nth, f"{text!r} not in {relative}"
    return hits[nth - 1]


def write(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path → source) under ``root``; returns ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
