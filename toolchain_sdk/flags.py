"""Kill switches: which flag sources are read, and the gate that drops a surface to its fallback.

A surface is switched off when any of its flag sources says so. Sources are asked in order:

- ``EnvSource`` — ``TOOLCHAIN_KILL="support.*,billing.reply"``, the break-glass path;
- ``FileSource`` — the local flag file edited by ``toolchain kill`` / ``restore``;
- ``OpenFeatureSource`` — any OpenFeature provider (flagd, LaunchDarkly, Unleash, ...).

Each answers ``True`` (switched off), ``False`` (pinned on the model) or no opinion. The first
``True`` wins; otherwise any ``False`` keeps the model; with no opinion at all the surface's
``kill_default`` decides. A source that fails gives its last known answer, else
``kill_default`` — and the span records the error. Sources come from
``tc.configure(flags=[...])`` (default: environment, then the flag file), or per surface from
``@governed_call(..., flags=[...])``, which replaces the configured ones for that surface.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from toolchain_sdk import semconv
from toolchain_sdk._fallback_fit import fit
from toolchain_sdk._file_source import FileSource
from toolchain_sdk._flag_model import (
    REASON_DEFAULT,
    REASON_ERROR,
    REASON_STATIC,
    FlagEvaluation,
    FlagSource,
    FlagTarget,
    error_type_name,
)
from toolchain_sdk._safety import logger, warn_once
from toolchain_sdk.call import GovernedCall
from toolchain_sdk.errors import ConfigError, KillSwitchEngaged
from toolchain_sdk.flag_file import TOOLCHAIN_FLAGS_FILE, FlagFile
from toolchain_sdk.flag_sources import TOOLCHAIN_KILL, EnvSource, OpenFeatureSource

__all__ = [
    "REASON_DEFAULT",
    "REASON_ERROR",
    "REASON_STATIC",
    "TOOLCHAIN_FLAGS_FILE",
    "TOOLCHAIN_KILL",
    "EnvSource",
    "FileSource",
    "FlagEvaluation",
    "FlagFile",
    "FlagSource",
    "FlagTarget",
    "KillGate",
    "OpenFeatureSource",
    "SourceSpec",
    "build_kill_gate",
    "current_sources",
    "refresh",
    "set_sources",
]

SourceSpec = FlagSource | Literal["env", "file", "openfeature"]
"""A flag source object, or the name of a built-in one with its defaults."""

_FLAG_RE = re.compile(r"^[A-Za-z0-9_.\-:/]+$")


class _Sources:
    """An immutable list of sources with their async evaluators found once."""

    __slots__ = ("any_async", "asyncs", "items", "quick", "track")

    def __init__(self, items: tuple[FlagSource, ...]) -> None:
        self.items = items
        # built-in sources keep their own last known answers; others may raise, so the gate keeps them
        self.track = any(not getattr(s, "reports_errors", False) for s in items)
        self.asyncs: tuple[Callable[[FlagTarget], Awaitable[FlagEvaluation]] | None, ...] = tuple(
            getattr(s, "aevaluate", None) for s in items
        )
        self.any_async = any(a is not None for a in self.asyncs)
        # only cheap in-memory sources: asking them twice (fast path, then the full decision) is fine
        self.quick = all(type(s) in (EnvSource, FileSource) for s in items)


_BUILTIN: dict[str, Callable[[], FlagSource]] = {"env": EnvSource, "file": FileSource, "openfeature": OpenFeatureSource}
_file_sources: weakref.WeakSet[FileSource] = weakref.WeakSet()


def _build(specs: Sequence[SourceSpec], where: str) -> _Sources:
    if isinstance(specs, (str, bytes)) or not isinstance(specs, Sequence):
        raise ConfigError(
            f"{where}: flags must be a list of sources, e.g. ['env', 'file', tc.flags.OpenFeatureSource()]"
        )
    items: list[FlagSource] = []
    for spec in specs:
        if isinstance(spec, str):
            if spec not in _BUILTIN:
                raise ConfigError(
                    f"{where}: unknown flag source {spec!r}; use one of {', '.join(_BUILTIN)} or an object"
                )
            source = _BUILTIN[spec]()
        elif isinstance(spec, FlagSource):
            source = spec
        else:
            raise ConfigError(f"{where}: {spec!r} is not a flag source (it needs a `name` and `evaluate(target)`)")
        if isinstance(source, FileSource):
            _file_sources.add(source)
        items.append(source)
    return _Sources(tuple(items))


class _State:
    current: _Sources | None = None


_state = _State()
_lock = threading.Lock()


def set_sources(sources: Sequence[SourceSpec] | None) -> tuple[FlagSource, ...]:
    """Use ``sources``, in order, for every surface that declares none (``None``: the defaults).

    ``tc.configure(flags=...)`` calls this. The default is ``[EnvSource(), FileSource()]``; an
    explicit list replaces it entirely (keep ``"env"`` in it to keep the break-glass variable).

    Raises:
        ConfigError: an entry is neither a source nor ``"env"``, ``"file"``, ``"openfeature"``.
    """
    built = _build(sources, "configure()") if sources is not None else None
    with _lock:
        _state.current = built
    return current_sources()


def _defaults() -> _Sources:
    with _lock:
        if _state.current is None:
            _state.current = _build(("env", "file"), "defaults")
        return _state.current


def current_sources() -> tuple[FlagSource, ...]:
    """The sources surfaces without their own use, in the order they are asked."""
    current = _state.current
    return (current if current is not None else _defaults()).items


def refresh() -> None:
    """Make every flag-file source check its file at the next call (e.g. after writing it in-process)."""
    for source in list(_file_sources):
        source.refresh()


# --- the gate ----------------------------------------------------------------------------------------
class KillGate:
    """The kill-switch gate of one surface (first in its pipeline).

    Attributes:
        flag: the flag key.
        fallback: the fallback fitted to the surface — call it with the governed function's
            arguments to get what the surface returns (``None`` when no fallback is declared).
        fallback_name: the handler's qualified name, or ``None``.
        target: what the sources evaluate.
    """

    __slots__ = (
        "_default",
        "_engaged",
        "_kind",
        "_last",
        "_nothing",
        "_own",
        "fallback",
        "fallback_name",
        "flag",
        "target",
    )

    def __init__(
        self,
        target: FlagTarget,
        kind: str,
        fallback: Callable[..., Any] | None,
        fallback_name: str | None,
        own: _Sources | None,
    ) -> None:
        self.target = target
        self.flag = target.flag
        self.fallback = fallback
        self.fallback_name = fallback_name
        self._kind = kind
        self._own = own
        self._last: dict[FlagSource, FlagEvaluation] = {}
        self._default = FlagEvaluation(target.kill_default, REASON_DEFAULT, "default", "")
        self._nothing: tuple[bool, FlagEvaluation, FlagEvaluation | None] = (target.kill_default, self._default, None)
        self._engaged = False

    reviews = False  # the kill switch acts before the call only

    def _raised(self, source: FlagSource, exc: Exception) -> FlagEvaluation:
        previous = self._last.get(source)
        warn_once(f"flag-source:{self.flag}:{source.name}:{type(exc).__name__}",
                  "toolchain_sdk: flag %s: source %s raised %s: %s; using %s", self.flag, source.name,
                  type(exc).__name__, exc, "its last answer" if previous else "kill_default")  # fmt: skip
        return FlagEvaluation(
            previous.value if previous is not None else None,
            REASON_ERROR,
            getattr(source, "name", type(source).__name__),
            str(getattr(source, "provider_name", source.name)),
            error_type=error_type_name(exc),
            error_message=str(exc),
            stale=previous is not None,
        )

    def _settle(self, sources: _Sources, source: FlagSource, ev: FlagEvaluation) -> bool | None:
        """The value one answer counts for; a good answer becomes the source's last known one.

        A failed answer counts as its stale last known value, or as ``kill_default`` without one.
        """
        if ev.error_type is None:
            if sources.track and self._last.get(source) is not ev:
                self._last[source] = ev
            return ev.value
        return ev.value if ev.stale else self.target.kill_default

    def _decide(self, sources: _Sources) -> tuple[bool, FlagEvaluation, FlagEvaluation | None]:
        """(switched off?, the deciding answer, the first failed answer) — in source order."""
        allow: FlagEvaluation | None = None
        error: FlagEvaluation | None = None
        for source in sources.items:
            try:
                ev = source.evaluate(self.target)
            except Exception as exc:
                ev = self._raised(source, exc)
            value = self._settle(sources, source, ev)
            error = error or (ev if ev.error_type is not None else None)
            if value:
                return True, ev, error
            if value is False and allow is None:
                allow = ev
        return self._verdict(allow, error)

    async def _adecide(self, sources: _Sources) -> tuple[bool, FlagEvaluation, FlagEvaluation | None]:
        """``_decide`` awaiting the sources that evaluate asynchronously."""
        allow: FlagEvaluation | None = None
        error: FlagEvaluation | None = None
        for source, aevaluate in zip(sources.items, sources.asyncs, strict=True):
            try:
                ev = await aevaluate(self.target) if aevaluate is not None else source.evaluate(self.target)
            except Exception as exc:
                ev = self._raised(source, exc)
            value = self._settle(sources, source, ev)
            error = error or (ev if ev.error_type is not None else None)
            if value:
                return True, ev, error
            if value is False and allow is None:
                allow = ev
        return self._verdict(allow, error)

    def _verdict(
        self, allow: FlagEvaluation | None, error: FlagEvaluation | None
    ) -> tuple[bool, FlagEvaluation, FlagEvaluation | None]:
        """No source switched the surface off: pinned on by an ``allow``, else ``kill_default``."""
        if allow is not None:
            return False, allow, error
        return self._nothing if error is None else (self.target.kill_default, self._default, error)

    def check(self, call: GovernedCall) -> Callable[..., Any] | None:
        """The fallback when the switch is on (``KillSwitchEngaged`` without one), else ``None``."""
        sources = self._own or _state.current or _defaults()
        if sources.quick and not (self._engaged or self.target.kill_default):
            # the common case: env and file sources, none with an entry for this surface
            target = self.target
            for source in sources.items:
                try:
                    ev = source.evaluate(target)
                except Exception:
                    break
                if ev.value is not None or ev.error_type is not None:
                    break
            else:
                if call._span is not None:
                    attrs = call._attrs
                    attrs[semconv.KILL_SWITCH_ACTIVE] = False
                    attrs[semconv.FEATURE_FLAG_KEY] = self.flag
                return None
        engaged, ev, error = self._decide(sources)
        if engaged is False is self._engaged and error is None and call._span is None:
            return None
        return self._apply(call, engaged, ev, error)

    async def acheck(self, call: GovernedCall) -> Callable[..., Any] | None:
        """``check`` for async paths; async sources (OpenFeature) are awaited."""
        sources = self._own or _state.current or _defaults()
        engaged, ev, error = await self._adecide(sources) if sources.any_async else self._decide(sources)
        return self._apply(call, engaged, ev, error)

    def review(self, call: GovernedCall, output: object) -> object:
        return output

    async def areview(self, call: GovernedCall, output: object) -> object:
        return output

    def _apply(
        self, call: GovernedCall, engaged: bool, ev: FlagEvaluation, error: FlagEvaluation | None
    ) -> Callable[..., Any] | None:
        if engaged is not self._engaged:
            self._transition(engaged, ev)
        if not engaged:
            if call._span is not None:
                attrs = call._attrs
                attrs[semconv.KILL_SWITCH_ACTIVE] = False
                attrs[semconv.FEATURE_FLAG_KEY] = self.flag
                if error is not None:
                    self._record_error(attrs, error)
            return None
        attrs = call._attrs
        attrs[semconv.KILL_SWITCH_ACTIVE] = True
        attrs[semconv.FEATURE_FLAG_KEY] = self.flag
        attrs[semconv.FEATURE_FLAG_EVALUATION_REASON] = ev.reason
        attrs[semconv.KILL_SWITCH_SOURCE] = ev.source
        event: dict[str, Any] = {
            semconv.FEATURE_FLAG_KEY: self.flag,
            semconv.KILL_SWITCH_SOURCE: ev.source,
            semconv.FEATURE_FLAG_EVALUATION_REASON: ev.reason,
        }
        if ev.provider_name:
            attrs[semconv.FEATURE_FLAG_PROVIDER_NAME] = event[semconv.FEATURE_FLAG_PROVIDER_NAME] = ev.provider_name
        if ev.variant is not None:
            attrs[semconv.FEATURE_FLAG_VARIANT] = event[semconv.FEATURE_FLAG_VARIANT] = ev.variant
        if ev.rule is not None:
            attrs[semconv.KILL_SWITCH_RULE] = event[semconv.KILL_SWITCH_RULE] = ev.rule
        runs_fallback = self.fallback is not None and self._kind != "block"
        if runs_fallback:
            call.outcome = "fallback"
            attrs[semconv.FALLBACK_HANDLER] = event[semconv.FALLBACK_HANDLER] = str(self.fallback_name)
        if error is not None:
            self._record_error(attrs, error)
        call.add_event(semconv.EVENT_KILL_SWITCH_ENGAGED, event)
        if not runs_fallback:
            raise KillSwitchEngaged(self.target.surface, self.flag)
        return self.fallback

    def _record_error(self, attrs: dict[str, Any], error: FlagEvaluation) -> None:
        attrs[semconv.FEATURE_FLAG_EVALUATION_REASON] = REASON_ERROR
        attrs[semconv.KILL_SWITCH_ERROR_TYPE] = str(error.error_type)
        attrs[semconv.FEATURE_FLAG_ERROR_MESSAGE] = f"{error.source}: {error.error_message}"

    def _transition(self, engaged: bool, ev: FlagEvaluation) -> None:
        self._engaged = engaged
        where = f"{ev.source} entry {ev.rule!r}" if ev.rule else ev.source
        if engaged:
            answer = f"fallback {self.fallback_name} answers" if self.fallback_name else "calls raise KillSwitchEngaged"
            logger.warning(
                "toolchain_sdk: surface %s is switched off by %s (flag %s, reason %s); %s",
                self.target.surface, where, self.flag, ev.reason, answer,
            )  # fmt: skip
        else:
            logger.info("toolchain_sdk: surface %s is back on its model (flag %s)", self.target.surface, self.flag)


def build_kill_gate(
    *,
    surface: str,
    risk: str,
    flag: str | None,
    default: bool,
    fallback: Callable[..., Any] | None,
    func: Callable[..., Any],
    kind: str,
    owner: str | None = None,
    sources: Sequence[SourceSpec] | None = None,
) -> KillGate:
    """Validate a surface's kill-switch declaration and build its gate.

    Raises:
        ConfigError: a bad flag key or ``kill_default``, no fallback on a medium- or high-risk
            surface, a fallback of the wrong kind or with an incompatible signature, bad sources.
    """
    key = f"{surface}.kill" if flag is None else flag
    if not isinstance(key, str) or not _FLAG_RE.match(key):
        raise ConfigError(
            f"{surface}: kill_flag={flag!r} is not a flag key (letters, digits, '_', '-', '.', ':', '/'; "
            "no spaces, commas or wildcards)"
        )
    if not isinstance(default, bool):
        raise ConfigError(f"{surface}: kill_default must be True or False, not {default!r}")
    if fallback is None and risk in ("medium", "high"):
        raise ConfigError(
            f"{surface}: risk={risk!r} needs a deterministic fallback for when its kill switch is on: "
            "fallback=handler (same arguments), tc.fallbacks.template('...'), tc.fallbacks.static(...), "
            "or tc.fallbacks.raise_(exc) for an explicit refusal"
        )
    fitted = fit(surface, kind, func, fallback) if fallback is not None else None
    own = _build(sources, surface) if sources is not None else None
    target = FlagTarget(key, surface, owner, risk, default)
    return KillGate(target, kind, fitted.replacement if fitted else None, fitted.name if fitted else None, own)
