"""The state of one routed call: which target is being tried, how many attempts so far, why it moved.

One ``RouteState`` per call. The runners update it before each attempt (so the function, reading
``call.model`` through the SDK's handle, sees the target being tried) and after each failure (the
``route.retry`` / ``route.fallback`` events). When the call is over it describes the target that
answered, or the last one tried when every attempt failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from toolchain_sdk import semconv
from toolchain_sdk._core.safety import report
from toolchain_sdk.routing._model import Route, Target

__all__ = ["AttemptHook", "EventHook", "RouteState"]


class EventHook(Protocol):
    """Receives the route's span events as they happen (``CallRecord.add_event`` fits)."""

    def __call__(self, name: str, attributes: Mapping[str, str | int], /) -> None: ...


class AttemptHook(Protocol):
    """Told the target of each attempt just before the function is called for it."""

    def __call__(self, target: Target, /) -> None: ...


class RouteState:
    """What a routed call is doing: the current target, the attempt count, the reason of the last move.

    Args:
        route: the route the call runs through.
        on_event: receives ``route.retry`` and ``route.fallback`` events (name, attributes).
        on_attempt: called with the target before every attempt.

    Hooks are the SDK's own observers: one that raises is logged once and the call goes on.
    """

    __slots__ = ("_attempt", "_fallback_reason", "_index", "_route", "_target_attempt", "on_attempt", "on_event")

    def __init__(
        self, route: Route, *, on_event: EventHook | None = None, on_attempt: AttemptHook | None = None
    ) -> None:
        self._route = route
        self._index = 0
        self._attempt = 0
        self._target_attempt = 0
        self._fallback_reason: str | None = None
        self.on_event = on_event
        self.on_attempt = on_attempt

    @property
    def route(self) -> Route:
        return self._route

    @property
    def target(self) -> Target:
        """The target being tried (before the first attempt: the primary; after the call: the last tried)."""
        return self._route.targets[self._index]

    @property
    def target_index(self) -> int:
        """0-based position of ``target`` in the route."""
        return self._index

    @property
    def model(self) -> str:
        return self.target.model

    @property
    def provider(self) -> str:
        return self.target.provider

    @property
    def params(self) -> Mapping[str, object]:
        """The current target's ``params`` (read-only), e.g. ``{"temperature": 0.2}``."""
        return MappingProxyType(self.target.params)

    @property
    def attempt(self) -> int:
        """Attempts made so far, the current one included (1-based over all targets; 0 before the first)."""
        return self._attempt

    @property
    def target_attempt(self) -> int:
        """Attempts made so far on the current target (1-based; 0 before the first)."""
        return self._target_attempt

    @property
    def fallback_reason(self) -> str | None:
        """``error.type`` of the error that caused the last move to another target (``None``: no move)."""
        return self._fallback_reason

    def attributes(self) -> dict[str, str | int]:
        """The span attributes that describe the call's routing now (set them when the call ends)."""
        attrs: dict[str, str | int] = {
            semconv.ROUTE_NAME: self._route.name,
            semconv.GEN_AI_REQUEST_MODEL: self.model,
            semconv.GEN_AI_PROVIDER_NAME: self.provider,
        }
        if self._attempt:
            attrs[semconv.ROUTE_ATTEMPT] = self._attempt
        if self._fallback_reason is not None:
            attrs[semconv.ROUTE_FALLBACK_REASON] = self._fallback_reason
        return attrs

    # --- driven by the runners ---------------------------------------------------------------
    def _begin(self, index: int, target_attempt: int, attempt: int) -> None:
        """Attempt number ``attempt`` (overall) is about to call target ``index`` for the ``target_attempt``-th time."""
        if attempt == 1:
            self._fallback_reason = None
        self._index, self._target_attempt, self._attempt = index, target_attempt, attempt
        if self.on_attempt is not None:
            try:
                self.on_attempt(self.target)
            except Exception as exc:
                report("routing.on_attempt", exc)

    def _failed(self, exc: BaseException, *, moving: bool) -> None:
        """The current attempt raised a retryable ``exc``; the next one retries (or ``moving`` on)."""
        error_type = semconv.error_type(exc)
        if moving:
            self._fallback_reason = error_type
        if self.on_event is None:
            return
        attributes: dict[str, str | int] = {
            semconv.GEN_AI_REQUEST_MODEL: self.model,
            semconv.GEN_AI_PROVIDER_NAME: self.provider,
            semconv.ROUTE_ATTEMPT: self._attempt,
            semconv.ERROR_TYPE: error_type,
        }
        try:
            self.on_event(semconv.EVENT_ROUTE_FALLBACK if moving else semconv.EVENT_ROUTE_RETRY, attributes)
        except Exception as hook_error:
            report("routing.on_event", hook_error)

    def __repr__(self) -> str:
        return (
            f"<RouteState route={self._route.name!r} target={self.target.describe()!r} "
            f"attempt={self._attempt} fallback_reason={self._fallback_reason!r}>"
        )
