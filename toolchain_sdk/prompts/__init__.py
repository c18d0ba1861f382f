"""Versioned prompt templates: a ``Prompt`` value, and ``name@version`` files under ``prompts/``.

A prompt's identity on the span is its name, version and the SHA-256 of its template text, so a
reviewer can tell exactly which wording a call used. (The lock file and eval runner build on this.)
"""

from __future__ import annotations

import hashlib
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from toolchain_sdk.errors import ConfigError

__all__ = ["Prompt", "load_prompt"]

TOOLCHAIN_PROMPTS_DIR: Final = "TOOLCHAIN_PROMPTS_DIR"
"""Directory holding ``<name>@<version>.txt`` prompt files (default ``prompts``)."""

_REF = re.compile(r"^(?P<name>[A-Za-z0-9_.\-/]+)@(?P<version>[A-Za-z0-9_.\-]+)$")


@dataclass(frozen=True)
class Prompt:
    """One version of a prompt template; ``render`` fills ``{placeholders}`` strictly."""

    name: str
    version: str
    template: str
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.template.encode("utf-8")).hexdigest())

    @property
    def placeholders(self) -> frozenset[str]:
        """The names the template expects."""
        return frozenset(f for _, f, _, _ in string.Formatter().parse(self.template) if f)

    def render(self, **values: object) -> str:
        """Fill the template; a missing or unexpected name is a ``KeyError``/``ConfigError``."""
        missing = self.placeholders - values.keys()
        if missing:
            raise KeyError(f"prompt {self.ref} needs {sorted(missing)}")
        return self.template.format(**values)

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"


def load_prompt(ref: str, directory: str | os.PathLike[str] | None = None) -> Prompt:
    """Load ``name@version`` from ``<dir>/<name>@<version>.txt`` (or ``.md``).

    Raises:
        ConfigError: the reference is malformed or no such file exists.
    """
    match = _REF.match(ref)
    if not match:
        raise ConfigError(f"prompt reference {ref!r} is not of the form 'name@version' (e.g. 'refund_policy@3')")
    base = Path(directory or os.environ.get(TOOLCHAIN_PROMPTS_DIR) or "prompts")
    for suffix in (".txt", ".md"):
        path = base / f"{ref}{suffix}"
        if path.is_file():
            return Prompt(match["name"], match["version"], path.read_text(encoding="utf-8"))
    raise ConfigError(
        f"unknown prompt {ref!r}: no file {base / (ref + '.txt')} (set TOOLCHAIN_PROMPTS_DIR or pass a tc.Prompt)"
    )
