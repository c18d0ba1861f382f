"""The policy gate: the rules, the ``[policy]`` table (validated), exceptions, and violations.

Each missing control is its own violation. ``[policy]`` may switch rules off (``disable``), allow
unmanaged call sites by path glob (``allow_unmanaged``) and list exceptions, each with a reason
(``[[policy.exceptions]] surface = "…" rule = "…" reason = "…"``). A rule name the tool does not
know is a configuration error, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, ValidationError

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.routing import ToolchainConfig

__all__ = ["RULES", "PolicyConfig", "PolicyException", "Violation", "load_policy"]

RULES: Final[Mapping[str, str]] = {
    "owner-required": "every surface has an owner",
    "high-risk-approval": "a high-risk surface has an approval gate (before or after)",
    "high-risk-kill-switch": "a high-risk surface has a kill flag with a fallback",
    "high-risk-pinned-prompt": "a high-risk surface uses a pinned prompt version (a label only with a lock file)",
    "high-risk-audit": "a high-risk surface has an audit sink",
    "medium-risk-kill-switch": "a medium-risk surface has a kill flag with a fallback",
    "full-capture-high-risk": 'capture="full" on a high-risk surface only as an exception with a reason',
    "unmanaged-call": "every direct LLM client call is governed, or its path is allowed",
    "dynamic-control": "owner and risk are readable without running the code (not <dynamic>)",
}
"""Every rule ``toolchain check`` knows, by name, with what it requires."""

NonEmpty = Annotated[StrictStr, Field(min_length=1)]


def _known_rule(name: str) -> str:
    if name not in RULES:
        raise ValueError(f"unknown rule {name!r}; the rules are: {', '.join(RULES)}")
    return name


RuleName = Annotated[StrictStr, AfterValidator(_known_rule)]


class PolicyException(BaseModel):
    """One reasoned exception: ``rule`` does not apply to ``surface`` (a name or a glob)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    surface: NonEmpty
    rule: RuleName
    reason: NonEmpty


class PolicyConfig(BaseModel):
    """``[policy]`` of ``toolchain.toml``: rules switched off, unmanaged paths allowed, exceptions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    disable: tuple[RuleName, ...] = ()
    allow_unmanaged: tuple[NonEmpty, ...] = ()
    exceptions: tuple[PolicyException, ...] = ()

    def enabled(self, rule: str) -> bool:
        """Whether ``rule`` is checked."""
        return rule not in self.disable

    def allowed(self, file: str, *also: str) -> bool:
        """Whether unmanaged calls in ``file`` are allowed: a glob of ``allow_unmanaged`` matches it as shown,
        or one of the other names it goes by (``also``: relative to the project root or a scanned directory)."""
        return any(fnmatchcase(name, pattern) for pattern in self.allow_unmanaged for name in (file, *also))

    def exception_for(self, surface: str, rule: str) -> PolicyException | None:
        """The exception that waives ``rule`` for ``surface``, if one does."""
        for exc in self.exceptions:
            if exc.rule == rule and (exc.surface == surface or fnmatchcase(surface, exc.surface)):
                return exc
        return None


def load_policy(config: ToolchainConfig | None) -> PolicyConfig:
    """Validate the ``[policy]`` table of ``config`` (no file: the defaults, every rule on).

    Raises:
        ConfigError: a key or rule name is unknown, or a value has the wrong type; the message names
            the file, the table and the field (``toolchain.toml: [policy].disable[0]: unknown rule ...``).
    """
    if config is None:
        return PolicyConfig()
    try:
        return PolicyConfig.model_validate(config.policy)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
            msg = str(e["msg"]).removeprefix("Value error, ")
            lines.append(f"{config.source}: {config.table('policy')}{field}: {msg}")
        raise ConfigError("\n".join(lines)) from None


@dataclass(frozen=True)
class Violation:
    """One missing control: where, which surface, which rule, what is wrong and how to fix it."""

    file: str
    line: int
    surface: str
    rule: str
    message: str
    fix: str

    def line_text(self) -> str:
        """``file:line: surface: rule: how to fix``."""
        return f"{self.file}:{self.line}: {self.surface}: {self.rule}: {self.message}; {self.fix}"

    def to_json(self) -> dict[str, object]:
        """``{"file", "line", "surface", "rule", "message", "fix"}``."""
        return {"file": self.file, "line": self.line, "surface": self.surface, "rule": self.rule,
                "message": self.message, "fix": self.fix}  # fmt: skip
