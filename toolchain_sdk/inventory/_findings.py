"""What reading one file yields: governed surfaces as written, unmanaged model calls, parse errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from toolchain_sdk.inventory._module import ModuleFacts
from toolchain_sdk.inventory._values import Value

__all__ = ["FileFindings", "RawSurface", "ScanError", "Unmanaged"]


@dataclass(frozen=True)
class RawSurface:
    """A ``@governed_call(...)`` or ``governed(...)`` as written, its arguments not yet resolved across modules.

    ``form`` ``call`` is ``governed_call(...)(fn)`` applied by hand (to wrap a function defined elsewhere).
    """

    file: str
    line: int
    function: str
    form: Literal["decorator", "with", "async with", "call"]
    surface: Value
    options: tuple[tuple[str, Value], ...]
    fallback: str | None
    """The fallback handler as written (qualified through imports), ``None`` when not declared."""
    starred: bool = False
    """``**options`` was passed: any option not written out may be set at run time."""


@dataclass(frozen=True)
class Unmanaged:
    """A direct call to an LLM client library outside any governed function or block."""

    file: str
    line: int
    library: str
    call: str

    def to_json(self) -> dict[str, object]:
        """``{"file", "line", "library", "call"}``."""
        return {"file": self.file, "line": self.line, "library": self.library, "call": self.call}


@dataclass(frozen=True)
class ScanError:
    """A file the scan could not read or parse (listed, and the scan goes on)."""

    file: str
    line: int
    message: str

    def to_json(self) -> dict[str, object]:
        """``{"file", "line", "message"}``."""
        return {"file": self.file, "line": self.line, "message": self.message}


@dataclass
class FileFindings:
    """Everything one file contributed to the scan."""

    file: str
    facts: ModuleFacts | None = None
    surfaces: list[RawSurface] = field(default_factory=list)
    unmanaged: list[Unmanaged] = field(default_factory=list)
    audit: list[Value] = field(default_factory=list)
    """The ``audit=`` arguments of ``configure(...)`` calls in the file."""
    error: ScanError | None = None
