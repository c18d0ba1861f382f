"""``EnvSource``: kill switches from the ``TOOLCHAIN_KILL`` environment variable, the break-glass path.

Read on every governed call, so the per-call work is a lookup: the variable's patterns are
compiled once per distinct value and each surface's answer is cached.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, Final

from toolchain_sdk._core.safety import warn_once
from toolchain_sdk.errors import ConfigError
from toolchain_sdk.flags._match import GlobMatcher
from toolchain_sdk.flags._model import (
    REASON_DEFAULT,
    REASON_ERROR,
    REASON_STATIC,
    FlagEvaluation,
    FlagTarget,
    pattern_problem,
)

__all__ = ["TOOLCHAIN_KILL", "EnvSource", "parse_kill_list"]

TOOLCHAIN_KILL: Final = "TOOLCHAIN_KILL"
"""Comma-separated surface names, flag keys or glob patterns (``support.*``, ``*``) to switch off."""


def parse_kill_list(raw: str) -> tuple[str, ...]:
    """The entries of a ``TOOLCHAIN_KILL`` value: split on commas, semicolons and whitespace, empties dropped.

    No surface name holds any of them, so ``'sup.* other.*'`` and ``'sup.*;other.*'`` are two entries.
    """
    return tuple(part for part in _SEPARATORS.split(raw) if part)


_SEPARATORS = re.compile(r"[,;\s]+")


class _EnvSnapshot:
    """One compiled value of the variable, with each target's answer cached."""

    __slots__ = ("cache", "matcher", "patterns", "problem", "raw")

    def __init__(self, raw: object, text: str) -> None:
        self.raw = raw
        entries = parse_kill_list(text)
        problems = [p for p in map(pattern_problem, entries) if p is not None]
        self.patterns = tuple(e for e in entries if pattern_problem(e) is None)  # the valid ones stay in force
        self.problem = "; ".join(problems) or None
        self.matcher = GlobMatcher(self.patterns)
        self.cache: dict[FlagTarget, FlagEvaluation] = {}


class EnvSource:
    """Kill switches from an environment variable (default ``TOOLCHAIN_KILL``): the break-glass path.

    ``TOOLCHAIN_KILL="support.*,billing.reply"`` switches off every surface whose name (or flag
    key) matches one of the comma-separated names or glob patterns; ``*`` switches off
    everything. The variable can only switch off, never on. It is read on every call without
    parsing: patterns are compiled once per distinct value.
    """

    name = "env"
    reports_errors = True  # never raises: failures come back as error answers

    def __init__(self, var: str = TOOLCHAIN_KILL) -> None:
        if not var or not isinstance(var, str):
            raise ConfigError("EnvSource needs the name of an environment variable")
        self.var = var
        self.provider_name = f"toolchain-env:{var}"
        self._no_opinion = FlagEvaluation(None, REASON_DEFAULT, self.name, self.provider_name)
        self._env: object = None
        self._get: Callable[[Any], Any] = os.environ.get
        self._key: object = var
        self._snap: _EnvSnapshot | None = None

    def _bind(self, env: object) -> None:
        # os.environ.get() costs ~1.4 us when the variable is unset (Mapping.get catches a
        # KeyError). CPython's os.environ keeps its contents in the dict ``_data`` (bytes keys on
        # POSIX), updated by every os.environ[...] = ...; reading it directly costs ~60 ns and
        # sees every change. Anything else (Windows, a replaced os.environ) uses the public API.
        data = getattr(env, "_data", None)
        if os.name == "posix" and type(env) is os._Environ and isinstance(data, dict):
            self._get, self._key = data.get, os.fsencode(self.var)
        elif isinstance(env, dict):
            self._get, self._key = env.get, self.var
        else:
            self._get, self._key = env.get, self.var  # type: ignore[attr-defined]
        self._env = env

    def evaluate(self, target: FlagTarget) -> FlagEvaluation:
        """``True`` with the matching pattern as ``rule`` when the variable names this surface, else no opinion."""
        env = os.environ
        if env is not self._env:
            self._bind(env)
        raw = self._get(self._key)
        if not raw:
            return self._no_opinion
        snap = self._snap
        if snap is None or (raw is not snap.raw and raw != snap.raw):
            text = os.fsdecode(raw) if isinstance(raw, bytes) else str(raw)
            snap = self._snap = _EnvSnapshot(raw, text)
            if snap.problem is not None:
                warn_once(
                    f"env-pattern:{self.var}:{text}",
                    "toolchain_sdk: %s: %s; that entry can switch nothing off (the valid entries beside it "
                    "are in force)",
                    self.var,
                    snap.problem,
                )
        found = snap.cache.get(target)
        if found is None:
            found = snap.cache[target] = self._answer(snap, snap.matcher.first(target.names))
        return found

    def _answer(self, snap: _EnvSnapshot, rule: str | None) -> FlagEvaluation:
        """This source's answer for a target ``rule`` matched (or none did), with any bad entry as an error."""
        if snap.problem is None:
            if rule is None:
                return self._no_opinion
            return FlagEvaluation(True, REASON_STATIC, self.name, self.provider_name, rule=rule)
        # a bad entry is an error on every span while the variable holds it; the valid entries still count
        return FlagEvaluation(
            True if rule is not None else None,
            REASON_ERROR,
            self.name,
            self.provider_name,
            rule=rule,
            error_type="invalid_pattern",
            error_message=f"{self.var}: {snap.problem}",
            stale=True,
        )

    def __repr__(self) -> str:
        return f"EnvSource({self.var!r})"
