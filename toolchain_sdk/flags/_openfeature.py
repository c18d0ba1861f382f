"""``OpenFeatureSource``: kill switches from any OpenFeature provider (flagd, LaunchDarkly, Unleash, ...).

Exactly one boolean evaluation per call: providers such as flagd in-process, LaunchDarkly or
Unleash answer from their local cache. ``openfeature-sdk`` is imported only when a source is built.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import TYPE_CHECKING, Any

from toolchain_sdk._core.safety import warn_once
from toolchain_sdk.errors import ConfigError
from toolchain_sdk.flags._model import REASON_DEFAULT, REASON_ERROR, FlagEvaluation, FlagTarget

if TYPE_CHECKING:
    from openfeature.client import OpenFeatureClient
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.flag_evaluation import FlagEvaluationDetails

__all__ = ["OpenFeatureSource"]

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
        service: the ``service`` context attribute; default the service name ``configure()`` was
            given (handed over by ``configure()``, never looked up per call).

    Raises:
        ConfigError: ``openfeature-sdk`` is not installed (``pip install 'toolchain-sdk[openfeature]'``).
    """

    name = "openfeature"
    reports_errors = True  # never raises: failures come back as error answers

    def __init__(
        self,
        client: OpenFeatureClient | None = None,
        *,
        domain: str | None = None,
        timeout_s: float | None = None,
        service: str | None = None,
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
        self._service_fixed = service is not None
        self.service = service

    def use_service_name(self, service: str | None) -> None:
        """Take the configured service name, unless one was given to the constructor."""
        if not self._service_fixed:
            self.service = service

    def _context(self, target: FlagTarget) -> EvaluationContext:
        service = self.service
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
