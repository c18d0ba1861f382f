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

from toolchain_sdk import semconv, tracing
from toolchain_sdk._core.call import CallRecord
from toolchain_sdk._core.safety import logger, warn_once
from toolchain_sdk.errors import ConfigError, KillSwitchEngaged
from toolchain_sdk.fallbacks import fit
from toolchain_sdk.flags._model import REASON_DEFAULT, REASON_ERROR, FlagEvaluation, FlagSource, FlagTarget
from toolchain_sdk.flags._sources import Sources, SourceSpec, build_sources, defaults, state
from toolchain_sdk.redaction import scrub_text

__all__ = ["KillGate", "build_kill_gate"]

_FLAG_RE = re.compile(r"^[A-Za-z0-9_.\-:/]+$")


Decision = tuple[bool, FlagEvaluation, FlagEvaluation | None]
"""(switched off?, the deciding answer, the first failed answer)."""


class _Tally:
    """Sources' answers, in order, folded into one decision: the first ``True`` wins."""

    __slots__ = ("allow", "error", "gate", "off", "sources")

    def __init__(self, gate: KillGate, sources: Sources) -> None:
        self.gate, self.sources = gate, sources
        self.allow: FlagEvaluation | None = None
        self.error: FlagEvaluation | None = None
        self.off: FlagEvaluation | None = None

    def add(self, source: FlagSource, ev: FlagEvaluation) -> bool:
        """Count one answer; ``True`` once the surface is switched off (no need to ask further).

        A good answer becomes the source's last known one; a failed answer counts as its stale
        last known value, or as ``kill_default`` without one.
        """
        gate = self.gate
        if ev.error_type is None:
            if self.sources.track and gate.last.get(id(source)) is not ev:
                gate.last[id(source)] = ev
            value = ev.value
        else:
            self.error = self.error or ev
            value = ev.value if ev.stale else gate.target.kill_default
        if value:
            self.off = ev
            return True
        if value is False and self.allow is None:
            self.allow = ev
        return False

    def result(self) -> Decision:
        if self.off is not None:
            return True, self.off, self.error
        return self.gate.verdict(self.allow, self.error)


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
        "_nothing",
        "_own",
        "fallback",
        "fallback_name",
        "flag",
        "last",
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
        self.last: dict[int, FlagEvaluation] = {}  # by id(source): sources need not be hashable
        self._default = FlagEvaluation(target.kill_default, REASON_DEFAULT, "default", "")
        self._nothing: Decision = (target.kill_default, self._default, None)
        self._engaged = False

    reviews = False  # the kill switch acts before the call only

    def _ask(self, source: FlagSource, answer: object) -> FlagEvaluation:
        """A source's answer checked: anything but a ``FlagEvaluation`` counts as a failure of that source."""
        if isinstance(answer, FlagEvaluation):
            return answer
        return self._raised(source, TypeError(f"evaluate() returned {type(answer).__name__}, not a FlagEvaluation"))

    def _raised(self, source: FlagSource, exc: Exception) -> FlagEvaluation:
        previous = self.last.get(id(source))
        name = str(getattr(source, "name", type(source).__name__))
        fallback = "its last answer" if previous else "kill_default"
        warn_once(f"flag-source:{self.flag}:{name}:{type(exc).__name__}",
                  "toolchain_sdk: flag %s: source %s raised %s: %s; using %s", self.flag, name,
                  type(exc).__name__, scrub_text(str(exc)), fallback)  # fmt: skip
        return FlagEvaluation(
            previous.value if previous is not None else None,
            REASON_ERROR,
            name,
            str(getattr(source, "provider_name", name)),
            error_type=semconv.error_type(exc),
            error_message=str(exc),
            stale=previous is not None,
        )

    def _decide(self, sources: Sources) -> Decision:
        """(switched off?, the deciding answer, the first failed answer) — sources asked in order."""
        tally = _Tally(self, sources)
        for source in sources.items:
            try:
                answer: object = source.evaluate(self.target)
            except Exception as exc:
                answer = self._raised(source, exc)
            if tally.add(source, self._ask(source, answer)):
                break
        return tally.result()

    async def _adecide(self, sources: Sources) -> Decision:
        """``_decide`` awaiting the sources that evaluate asynchronously."""
        tally = _Tally(self, sources)
        for source, aevaluate in zip(sources.items, sources.asyncs, strict=True):
            try:
                answer: object = await aevaluate(self.target) if aevaluate is not None else source.evaluate(self.target)
            except Exception as exc:
                answer = self._raised(source, exc)
            if tally.add(source, self._ask(source, answer)):
                break
        return tally.result()

    def verdict(self, allow: FlagEvaluation | None, error: FlagEvaluation | None) -> Decision:
        """No source switched the surface off: pinned on by an ``allow``, else ``kill_default``."""
        if allow is not None:
            return False, allow, error
        return self._nothing if error is None else (self.target.kill_default, self._default, error)

    def _quiet(self, call: CallRecord, sources: Sources) -> bool:
        """The common case, decided cheaply: env and file sources, none with an entry for this surface."""
        if not sources.quick or self._engaged or self.target.kill_default:
            return False
        target = self.target
        for source in sources.items:
            try:
                ev = source.evaluate(target)
            except Exception:
                return False
            if ev.value is not None or ev.error_type is not None:
                return False
        if call.span is not None:
            attrs = call.attrs
            attrs[semconv.KILL_SWITCH_ACTIVE] = False
            attrs[semconv.FEATURE_FLAG_KEY] = self.flag
        return True

    def check(self, call: CallRecord) -> Callable[..., Any] | None:
        """The fallback when the switch is on (``KillSwitchEngaged`` without one), else ``None``."""
        sources = self._own or state.current or defaults()
        if self._quiet(call, sources):
            return None
        return self._apply(call, *self._decide(sources))

    async def acheck(self, call: CallRecord) -> Callable[..., Any] | None:
        """``check`` for async paths; async sources (OpenFeature) are awaited."""
        sources = self._own or state.current or defaults()
        if self._quiet(call, sources):
            return None
        return self._apply(call, *(await self._adecide(sources) if sources.any_async else self._decide(sources)))

    def review(self, call: CallRecord, output: object) -> object:
        return output

    async def areview(self, call: CallRecord, output: object) -> object:
        return output

    def _apply(
        self, call: CallRecord, engaged: bool, ev: FlagEvaluation, error: FlagEvaluation | None
    ) -> Callable[..., Any] | None:
        if engaged is False is self._engaged and error is None and call.span is None:
            return None  # tracing off and nothing to record
        if engaged is not self._engaged:
            self._transition(engaged, ev)
        if not engaged:
            if call.span is not None:
                attrs = call.attrs
                attrs[semconv.KILL_SWITCH_ACTIVE] = False
                attrs[semconv.FEATURE_FLAG_KEY] = self.flag
                if error is not None:
                    self._record_error(attrs, error)
                    self._evaluation_event(call, False, ev, error)
            return None
        attrs = call.attrs
        attrs[semconv.KILL_SWITCH_ACTIVE] = True
        attrs[semconv.FEATURE_FLAG_KEY] = self.flag
        attrs[semconv.FEATURE_FLAG_RESULT_REASON] = ev.reason
        attrs[semconv.KILL_SWITCH_SOURCE] = ev.source
        event: dict[str, Any] = {
            semconv.FEATURE_FLAG_KEY: self.flag,
            semconv.KILL_SWITCH_SOURCE: ev.source,
            semconv.FEATURE_FLAG_RESULT_REASON: ev.reason,
        }
        if ev.provider_name:
            attrs[semconv.FEATURE_FLAG_PROVIDER_NAME] = event[semconv.FEATURE_FLAG_PROVIDER_NAME] = ev.provider_name
        if ev.variant is not None:
            attrs[semconv.FEATURE_FLAG_RESULT_VARIANT] = event[semconv.FEATURE_FLAG_RESULT_VARIANT] = ev.variant
        if ev.rule is not None:
            attrs[semconv.KILL_SWITCH_RULE] = event[semconv.KILL_SWITCH_RULE] = ev.rule
        runs_fallback = self.fallback is not None and self._kind != "block"
        if runs_fallback:
            call.outcome = "fallback"
            attrs[semconv.FALLBACK_HANDLER] = event[semconv.FALLBACK_HANDLER] = str(self.fallback_name)
        if error is not None:
            self._record_error(attrs, error)
        call.add_event(semconv.EVENT_KILL_SWITCH_ENGAGED, event)
        self._evaluation_event(call, True, ev, error)
        meters = tracing.instruments()
        if meters is not None:
            meters.kill_switch_engaged.add(
                1, {semconv.SURFACE: self.target.surface, semconv.KILL_SWITCH_SOURCE: ev.source}
            )
        if not runs_fallback:
            call.refused = True
            raise KillSwitchEngaged(self.target.surface, self.flag, block=self._kind == "block")
        return self.fallback

    def _evaluation_event(
        self, call: CallRecord, engaged: bool, ev: FlagEvaluation, error: FlagEvaluation | None
    ) -> None:
        """The conventions' ``feature_flag.evaluation`` event, for an engaged switch or a failed source."""
        event: dict[str, Any] = {
            semconv.FEATURE_FLAG_KEY: self.flag,
            semconv.FEATURE_FLAG_RESULT_VALUE: engaged,
            semconv.FEATURE_FLAG_RESULT_REASON: REASON_ERROR if error is not None else ev.reason,
        }
        provider = (error or ev).provider_name
        if provider:
            event[semconv.FEATURE_FLAG_PROVIDER_NAME] = provider
        if ev.variant is not None:
            event[semconv.FEATURE_FLAG_RESULT_VARIANT] = ev.variant
        if error is not None:
            event[semconv.ERROR_TYPE] = str(error.error_type)
            event[semconv.FEATURE_FLAG_ERROR_MESSAGE] = scrub_text(f"{error.source}: {error.error_message}")
        call.add_event(semconv.EVENT_FEATURE_FLAG_EVALUATION, event)

    def _record_error(self, attrs: dict[str, Any], error: FlagEvaluation) -> None:
        attrs[semconv.FEATURE_FLAG_RESULT_REASON] = REASON_ERROR
        attrs[semconv.KILL_SWITCH_ERROR_TYPE] = str(error.error_type)
        attrs[semconv.FEATURE_FLAG_ERROR_MESSAGE] = scrub_text(f"{error.source}: {error.error_message}")

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
    if fallback is None and risk in ("medium", "high") and kind != "block":  # a block raises KillSwitchEngaged
        raise ConfigError(
            f"{surface}: risk={risk!r} needs a deterministic fallback for when its kill switch is on: "
            "fallback=handler (same arguments), tc.fallbacks.template('...'), tc.fallbacks.static(...), "
            "or tc.fallbacks.raise_(exc) for an explicit refusal"
        )
    fitted = fit(surface, kind, func, fallback) if fallback is not None else None
    own = build_sources(sources, surface) if sources is not None else None
    target = FlagTarget(key, surface, owner, risk, default)
    return KillGate(target, kind, fitted.replacement if fitted else None, fitted.name if fitted else None, own)
