"""Kill-switch sources that need no file: the ``TOOLCHAIN_KILL`` environment variable and OpenFeature.

Both are read on every governed call, so both keep the per-call work to a lookup: the env
source compiles the variable's patterns once per distinct value and caches each surface's
answer; the OpenFeature source does exactly one boolean evaluation per call (providers such as
flagd in-process, LaunchDarkly or Unleash answer from their local cache).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fnmatch
import os
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from toolchain_sdk import config
from toolchain_sdk._flag_model import REASON_DEFAULT, REASON_ERROR, REASON_STATIC, FlagEvaluation, FlagTarget
from toolchain_sdk._safety import warn_once
from toolchain_sdk.errors import ConfigError

if TYPE_CHECKING:
    from openfeature.client import OpenFeatureClient
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.flag_evaluation import FlagEvaluationDetails

__all__ = ["TOOLCHAIN_KILL", "EnvSource", "GlobMatcher", "OpenFeatureSource", "parse_kill_list"]

TOOLCHAIN_KILL: Final = "TOOLCHAIN_KILL"
"""Comma-separated surface names, flag keys or glob patterns (``support.*``, ``*``) to switch off."""

_GLOB_CHARS = frozenset("*?[")


def parse_kill_list(raw: str) -> tuple[str, ...]:
    """The entries of a ``TOOLCHAIN_KILL`` value: split on commas, whitespace stripped, empties dropped."""
    return tuple(part for part in (p.strip() for p in raw.split(",")) if part)


class GlobMatcher:
    """Case-sensitive glob matching of names against many patterns (``*`` also matches dots).

    Literal names go to a set; patterns are joined into one compiled regular expression.
    """

    __slots__ = ("_exact", "_regex")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self._exact = frozenset(p for p in patterns if not _GLOB_CHARS & set(p))
        globs = [p for p in patterns if _GLOB_CHARS & set(p)]
        self._regex = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in globs)) if globs else None

    def match(self, name: str) -> bool:
        """Whether any pattern matches ``name`` entirely."""
        if name in self._exact:
            return True
        return self._regex is not None and self._regex.match(name) is not None

    def first(self, names: tuple[str, ...], patterns: tuple[str, ...]) -> str | None:
        """The first of ``patterns`` (in order) matching any of ``names``, or ``None``."""
        if not any(self.match(n) for n in names):
            return None
        return next(p for p in patterns if any(fnmatch.fnmatchcase(n, p) for n in names))


class _EnvSnapshot:
    """One compiled value of the variable, with each target's answer cached."""

    __slots__ = ("cache", "matcher", "patterns", "raw")

    def __init__(self, raw: object, text: str) -> None:
        self.raw = raw
        self.patterns = parse_kill_list(text)
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
        self._lock = threading.Lock()

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
        found = snap.cache.get(target)
        if found is None:
            rule = snap.matcher.first(target.names, snap.patterns)
            found = (
                self._no_opinion
                if rule is None
                else FlagEvaluation(True, REASON_STATIC, self.name, self.provider_name, rule=rule)
            )
            snap.cache[target] = found
        return found

    def __repr__(self) -> str:
        return f"EnvSource({self.var!r})"


# --- OpenFeature ---------------------------------------------------------------------------------
_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="toolchain-flags")
        return _POOL


class OpenFeatureSource:
    """Kill switches from any OpenFeature provider (flagd, LaunchDarkly, Unleash, ...).

    One boolean evaluation of the surface's flag key per call, with an evaluation context whose
    targeting key is the surface name and whose attributes are ``surface``, ``flag``, ``owner``,
    ``risk`` and ``service`` (the configured service name), so provider-side targeting rules can
    switch off groups of surfaces. A flag the provider does not know (``FLAG_NOT_FOUND``) is no
    opinion; any other error is a failure (last known answer, else ``kill_default``).

    Args:
        client: an ``OpenFeatureClient``; default ``openfeature.api.get_client(domain)``.
        domain: the OpenFeature domain whose provider to use (default: the default provider).
        timeout_s: the most to wait for one evaluation; past it the evaluation counts as failed.
            ``None`` (default) relies on the provider's own deadline (flagd's ``deadline_ms``).

    Raises:
        ConfigError: ``openfeature-sdk`` is not installed (``pip install 'toolchain-sdk[openfeature]'``).
    """

    name = "openfeature"
    reports_errors = True  # never raises: failures come back as error answers

    def __init__(
        self, client: OpenFeatureClient | None = None, *, domain: str | None = None, timeout_s: float | None = None
    ) -> None:
        try:
            from openfeature import api
            from openfeature.evaluation_context import EvaluationContext
            from openfeature.exception import ErrorCode
        except ImportError as exc:  # pragma: no cover - the test environment has the extra
            raise ConfigError(
                "the OpenFeature flag source needs openfeature-sdk: pip install 'toolchain-sdk[openfeature]'"
            ) from exc
        if timeout_s is not None and not timeout_s > 0:
            raise ConfigError(f"OpenFeatureSource timeout_s must be positive, not {timeout_s!r}")
        self._client = client if client is not None else api.get_client(domain)
        self._context_cls = EvaluationContext
        self._not_found = ErrorCode.FLAG_NOT_FOUND
        self.timeout_s = timeout_s
        self._contexts: dict[FlagTarget, tuple[str | None, EvaluationContext]] = {}
        self._last: dict[FlagTarget, bool | None] = {}
        self._provider: object = None
        self._provider_name = "unknown"

    def _context(self, target: FlagTarget) -> EvaluationContext:
        service = config.current_settings().service_name
        known = self._contexts.get(target)
        if known is not None and known[0] == service:
            return known[1]
        attrs: dict[str, Any] = {"surface": target.surface, "flag": target.flag, "risk": target.risk}
        if target.owner is not None:
            attrs["owner"] = target.owner
        if service is not None:
            attrs["service"] = service
        ctx = self._context_cls(targeting_key=target.surface, attributes=attrs)
        self._contexts[target] = (service, ctx)
        return ctx

    def _current_provider_name(self) -> str:
        provider = self._client.provider
        if provider is not self._provider:
            try:
                self._provider_name = str(provider.get_metadata().name)
            except Exception:  # a provider's metadata is informative only
                self._provider_name = type(provider).__name__
            self._provider = provider
        return self._provider_name

    def _answer(self, target: FlagTarget, details: FlagEvaluationDetails[bool]) -> FlagEvaluation:
        provider_name = self._current_provider_name()
        code = details.error_code
        reason = str(details.reason).lower() if details.reason is not None else "unknown"
        if code is None:
            value = details.value
            if not isinstance(value, bool):
                return self._failed(target, "type_mismatch", f"flag {target.flag!r} is not a boolean")
            if self._last.get(target, ...) is not value:
                self._last[target] = value
            return FlagEvaluation(value, reason, self.name, provider_name, variant=details.variant)
        if code == self._not_found:
            self._last[target] = None
            return FlagEvaluation(None, REASON_DEFAULT, self.name, provider_name)
        return self._failed(target, str(code).lower(), details.error_message or str(code))

    def _failed(self, target: FlagTarget, error_type: str, message: str) -> FlagEvaluation:
        stale = target in self._last
        warn_once(f"openfeature:{target.flag}:{error_type}", "toolchain_sdk: flag %s: OpenFeature %s: %s; using %s",
                  target.flag, error_type, message, "its last known value" if stale else "kill_default")  # fmt: skip
        return FlagEvaluation(
            self._last.get(target) if stale else None,
            REASON_ERROR,
            self.name,
            self._current_provider_name(),
            error_type=error_type,
            error_message=message,
            stale=stale,
        )

    def evaluate(self, target: FlagTarget) -> FlagEvaluation:
        """One boolean evaluation of ``target.flag`` (bounded by ``timeout_s`` when set)."""
        ctx = self._context(target)
        if self.timeout_s is None:
            details = self._client.get_boolean_details(target.flag, target.kill_default, ctx)
        else:
            future = _pool().submit(self._client.get_boolean_details, target.flag, target.kill_default, ctx)
            try:
                details = future.result(timeout=self.timeout_s)
            except concurrent.futures.TimeoutError:
                future.cancel()  # still queued behind hung evaluations: drop it, so the queue cannot grow
                return self._failed(target, "timeout", f"no answer within {self.timeout_s} s")
        return self._answer(target, details)

    async def aevaluate(self, target: FlagTarget) -> FlagEvaluation:
        """``evaluate`` for async surfaces: the provider's async API, or with ``timeout_s`` a worker
        thread (many providers' async API runs their sync code on the loop, where no timeout can cut it)."""
        ctx = self._context(target)
        if self.timeout_s is None:
            details = await self._client.get_boolean_details_async(target.flag, target.kill_default, ctx)
            return self._answer(target, details)
        future = _pool().submit(self._client.get_boolean_details, target.flag, target.kill_default, ctx)
        try:
            details = await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_s)
        except TimeoutError:
            future.cancel()
            return self._failed(target, "timeout", f"no answer within {self.timeout_s} s")
        return self._answer(target, details)

    def __repr__(self) -> str:
        return f"OpenFeatureSource(domain={self._client.domain!r})"
