"""The kill-switch gate of one surface: ask the sources, drop to the fallback when switched off.

A surface is switched off when any of its sources says so. The first ``True`` wins; otherwise
any ``False`` keeps the model; with no opinion at all the surface's ``kill_default`` decides.
A source that fails gives its last known answer, else ``kill_default``, and the span records
the error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from toolchain_sdk import semconv
from toolchain_sdk._core.call import CallRecord
from toolchain_sdk._core.safety import logger, warn_once
from toolchain_sdk.errors import ConfigError, KillSwitchEngaged
from toolchain_sdk.fallbacks import fit
from toolchain_sdk.flags._model import REASON_DEFAULT, REASON_ERROR, FlagEvaluation, FlagSource, FlagTarget
from toolchain_sdk.flags._sources import Sources, SourceSpec, build_sources, defaults, state

__all__ = ["KillGate", "build_kill_gate"]

_FLAG_RE = re.compile(r"^[A-Za-z0-9_.\-:/]+$")


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
        own: Sources | None,
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
            error_type=semconv.error_type(exc),
            error_message=str(exc),
            stale=previous is not None,
        )

    def _settle(self, sources: Sources, source: FlagSource, ev: FlagEvaluation) -> bool | None:
        """The value one answer counts for; a good answer becomes the source's last known one.

        A failed answer counts as its stale last known value, or as ``kill_default`` without one.
        """
        if ev.error_type is None:
            if sources.track and self._last.get(source) is not ev:
                self._last[source] = ev
            return ev.value
        return ev.value if ev.stale else self.target.kill_default

    def _decide(self, sources: Sources) -> tuple[bool, FlagEvaluation, FlagEvaluation | None]:
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

    async def _adecide(self, sources: Sources) -> tuple[bool, FlagEvaluation, FlagEvaluation | None]:
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

    def check(self, call: CallRecord) -> Callable[..., Any] | None:
        """The fallback when the switch is on (``KillSwitchEngaged`` without one), else ``None``."""
        sources = self._own or state.current or defaults()
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
                if call.span is not None:
                    attrs = call.attrs
                    attrs[semconv.KILL_SWITCH_ACTIVE] = False
                    attrs[semconv.FEATURE_FLAG_KEY] = self.flag
                return None
        engaged, ev, error = self._decide(sources)
        if engaged is False is self._engaged and error is None and call.span is None:
            return None
        return self._apply(call, engaged, ev, error)

    async def acheck(self, call: CallRecord) -> Callable[..., Any] | None:
        """``check`` for async paths; async sources (OpenFeature) are awaited."""
        sources = self._own or state.current or defaults()
        engaged, ev, error = await self._adecide(sources) if sources.any_async else self._decide(sources)
        return self._apply(call, engaged, ev, error)

    def review(self, call: CallRecord, output: object) -> object:
        return output

    async def areview(self, call: CallRecord, output: object) -> object:
        return output

    def _apply(
        self, call: CallRecord, engaged: bool, ev: FlagEvaluation, error: FlagEvaluation | None
    ) -> Callable[..., Any] | None:
        if engaged is not self._engaged:
            self._transition(engaged, ev)
        if not engaged:
            if call.span is not None:
                attrs = call.attrs
                attrs[semconv.KILL_SWITCH_ACTIVE] = False
                attrs[semconv.FEATURE_FLAG_KEY] = self.flag
                if error is not None:
                    self._record_error(attrs, error)
            return None
        attrs = call.attrs
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
    own = build_sources(sources, surface) if sources is not None else None
    target = FlagTarget(key, surface, owner, risk, default)
    return KillGate(target, kind, fitted.replacement if fitted else None, fitted.name if fitted else None, own)
