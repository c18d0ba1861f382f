"""The values every kill-switch flag source shares: what is evaluated, and what a source answers.

Kept apart from ``flags`` so the sources (``flag_sources``, ``flag_file``) and the gate can all
import them without a cycle; ``toolchain_sdk.flags`` re-exports the public names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

__all__ = [
    "NO_OPINION_REASON",
    "REASON_DEFAULT",
    "REASON_ERROR",
    "REASON_STATIC",
    "FlagEvaluation",
    "FlagSource",
    "FlagTarget",
    "pattern_problem",
    "valid_pattern",
]

# OpenTelemetry's well-known values for feature_flag.result.reason (lowercase snake_case;
# OpenFeature's uppercase reasons are lowered to these, as the OpenFeature spec's appendix D says).
REASON_STATIC: Final = "static"
"""An entry in the environment or the flag file decided (no dynamic evaluation)."""
REASON_DEFAULT: Final = "default"
"""No source had an entry for the flag: the surface's ``kill_default`` decided."""
REASON_ERROR: Final = "error"
"""A source failed: its last known answer, else ``kill_default``, decided."""
NO_OPINION_REASON: Final = REASON_DEFAULT

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:/")
"""Every character a surface name or flag key may hold."""


def pattern_problem(text: str) -> str | None:
    """Why ``text`` cannot match any surface name or flag key, or ``None`` when it is a usable entry.

    Names are letters, digits, ``_ . - : /``; a pattern adds ``*``, ``?`` and ``[...]`` / ``[!...]``
    classes. ``'['``, ``'a b'`` or ``'sup.*;other.*'`` can never match: they are errors, not
    silently dead entries.
    """
    if not text:
        return "an empty entry"
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "[":
            end = text.find("]", i + 2 if text[i + 1 : i + 2] == "!" else i + 1)
            if end < 0:
                return f"{text!r} opens a '[' class it never closes"
            inner = text[i + 1 : end].removeprefix("!")
            if not inner or set(inner) - _NAME_CHARS:
                return f"{text!r} has a class [{inner}] that matches no name character"
            i = end + 1
            continue
        if c not in _NAME_CHARS and c not in "*?":
            return f"{text!r} holds {c!r}, which no surface name or flag key can (separate entries with ',')"
        i += 1
    return None


def valid_pattern(text: str) -> bool:
    """Whether ``text`` is a surface name, flag key or glob pattern the env and file sources accept."""
    return pattern_problem(text) is None


@dataclass(frozen=True, eq=False, slots=True)
class FlagTarget:
    """What a kill switch is evaluated for: one surface and its flag key.

    Built once per surface at decoration time and hashed by identity, so sources can cache
    their answer per target in a plain dict.

    Attributes:
        flag: the flag key (``kill_flag``, default ``<surface>.kill``).
        surface: the surface name.
        owner, risk: as declared on the surface (OpenFeature evaluation-context attributes).
        kill_default: the switch state assumed when no source knows better.
    """

    flag: str
    surface: str
    owner: str | None
    risk: str
    kill_default: bool

    @property
    def names(self) -> tuple[str, str]:
        """The names an env or file entry may match: the surface name and the flag key."""
        return (self.surface, self.flag)


@dataclass(frozen=True, slots=True)
class FlagEvaluation:
    """One source's answer for one target.

    Attributes:
        value: ``True`` switched off (fallback), ``False`` explicitly on the model, ``None`` no
            opinion (the source has no entry for this flag).
        reason: ``feature_flag.result.reason`` (``static``, ``default``, ``error``,
            ``targeting_match``, ... — OpenTelemetry's lowercase values).
        source: short name of the source kind (``env``, ``file``, ``openfeature``, or a custom name).
        provider_name: ``feature_flag.provider.name``.
        variant: ``feature_flag.result.variant``, where the source knows one.
        rule: the entry that matched (a surface name, flag key or glob pattern), where known.
        error_type: set when the source failed; then ``value`` is its last known answer if
            ``stale`` is true, else unknown (the gate uses ``kill_default``).
        error_message: what went wrong, for the span.
        stale: the source failed but ``value`` is the last answer it gave.
    """

    value: bool | None
    reason: str
    source: str
    provider_name: str
    variant: str | None = None
    rule: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    stale: bool = False


@runtime_checkable
class FlagSource(Protocol):
    """A place kill switches are read from (environment, flag file, OpenFeature, your own).

    ``evaluate`` is called on every governed call, so it must be cheap (cache, never do I/O per
    call) and should not block. Raising is allowed: the gate then uses the last answer this
    source gave for the target, else the surface's ``kill_default``, and records the error on
    the span. A source may also define ``async def aevaluate(target)``, used on async surfaces.

    Attributes:
        name: short name recorded as ``toolchain.kill_switch.source``.
    """

    name: str

    def evaluate(self, target: FlagTarget) -> FlagEvaluation:
        """This source's answer for ``target``."""
        ...
