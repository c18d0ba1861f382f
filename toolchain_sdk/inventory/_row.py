"""One row of the control sheet: a surface, where it is declared, and the controls it has."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Literal

__all__ = ["FIELDS", "RISK_ORDER", "SurfaceRow"]

FIELDS = ("surface", "file", "line", "function", "owner", "risk", "model", "provider", "route", "prompt",
          "prompt_version", "capture", "data_class", "kill_flag", "fallback", "approval", "approval_reason",
          "audit", "rollback", "gaps", "source")  # fmt: skip
"""The columns, in the order every format prints them."""

RISK_ORDER = {"high": 0, "medium": 1, "low": 2}
"""Sort order of risk levels (high first); anything else (``<dynamic>``) sorts first of all."""


@dataclass(frozen=True)
class SurfaceRow:
    """A governed surface on the control sheet.

    Text fields hold the declared value, ``None`` when not declared, or ``"<dynamic>"`` when the
    static scan cannot read it without running the code.
    """

    surface: str
    file: str | None
    line: int | None
    function: str | None
    owner: str | None = None
    risk: str = "low"
    model: str | None = None
    provider: str | None = None
    route: str | None = None
    prompt: str | None = None
    prompt_version: str | None = None
    capture: str = "hash"
    data_class: str = "internal"
    kill_flag: str | None = None
    fallback: str | None = None
    approval: str = "none"
    """``before``, ``after``, ``not_required`` (see ``approval_reason``), ``none`` or ``<dynamic>``."""
    approval_reason: str | None = None
    audit: str = "none"
    """The audit sink's kind (``jsonl``, ``sqlite``, ``otlp``), ``none`` or ``<dynamic>``."""
    rollback: str | None = None
    gaps: tuple[str, ...] = field(default_factory=tuple)
    source: Literal["static", "import"] = "static"
    prompt_pinned: bool = field(default=False, compare=False)
    """The prompt is a version, or a label moved only through a lock file (for the pinned-prompt rule)."""

    def to_json(self) -> dict[str, object]:
        """The row as the JSON format prints it (the public columns, in order)."""
        raw = asdict(self)
        return {k: list(raw[k]) if k == "gaps" else raw[k] for k in FIELDS}

    def with_gaps(self, gaps: tuple[str, ...]) -> SurfaceRow:
        """The same row listing the policy rules it breaks."""
        return replace(self, gaps=gaps)
