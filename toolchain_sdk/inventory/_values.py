"""What the static scan knows about one argument: a literal, a reference still to follow, or ``<dynamic>``.

A file is read on its own (in a worker process), so a name imported from another module is kept as
a ``Ref`` and followed once every module's constants are known. Anything else the scan cannot
prove is ``DYNAMIC``: it is reported as ``"<dynamic>"``, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["DYNAMIC", "Call", "Concat", "Const", "Dynamic", "Ref", "Scalar", "Value", "is_dynamic"]

DYNAMIC: Final = "<dynamic>"
"""How a value the scan cannot resolve statically is shown."""

Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class Const:
    """A value known from the source: a literal, or a constant it was assigned from."""

    value: Scalar


@dataclass(frozen=True)
class Ref:
    """A dotted name to follow in another module (``myapp.constants.OWNER``)."""

    dotted: str


@dataclass(frozen=True)
class Concat:
    """String pieces joined (``PREFIX + ".refund"``, an f-string of constants)."""

    parts: tuple[Value, ...]


@dataclass(frozen=True)
class Call:
    """A call the scan recognises by its callee (``tc.approval.require(when="after")``)."""

    func: str
    """The callee's dotted name after import aliases (``toolchain_sdk.approval.require``)."""
    args: tuple[Value, ...]
    kwargs: tuple[tuple[str, Value], ...]
    text: str
    """The call as written, for the sheet."""

    def kw(self, name: str) -> Value | None:
        """The keyword argument ``name``, if given."""
        for key, value in self.kwargs:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class Dynamic:
    """A value only known when the program runs."""

    why: Literal["expression", "unresolved", "starred"] = "expression"


Value = Const | Ref | Concat | Call | Dynamic


def is_dynamic(value: object) -> bool:
    """Whether a resolved field holds the ``<dynamic>`` marker."""
    return value == DYNAMIC
