"""The tracer provider: install it (or keep the application's), the cheap "is tracing on?" check, exit flush.

A library depends on the OpenTelemetry API: until ``configure()`` or the application installs an
SDK ``TracerProvider``, governed calls do no span work at all. ``configure()`` never replaces a
provider the application installed; it adds its exporter to it only when asked explicitly.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, SynchronousMultiSpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from toolchain_sdk import semconv
from toolchain_sdk._core.safety import logger, warn_once
from toolchain_sdk._version import version
from toolchain_sdk.config import OTEL_SDK_DISABLED, Settings
from toolchain_sdk.tracing._exporters import QUEUE_FULL, SDK_QUEUE_LOGGER, SafeExporter, build_exporters
from toolchain_sdk.tracing._metrics import shutdown_metrics
from toolchain_sdk.tracing._watch import ChildWatcher

__all__ = ["active_tracer", "active_watcher", "dropped_spans", "install", "resource_for", "shutdown"]

_UNSEEN = object()
"""No provider looked at yet: makes ``active_tracer()`` look again."""

_API_NAMESPACE = vars(trace)
_PROVIDER_GLOBAL = "_TRACER_PROVIDER"
"""The module global behind ``opentelemetry.trace.get_tracer_provider()``.

While no provider is installed that getter tests ``OTEL_PYTHON_TRACER_PROVIDER in os.environ`` on
every call, and ``os.environ`` answers a missing key by raising and catching ``KeyError``: about
0.8 µs here, a quarter of the tracing-off budget (docs/performance.md). So ``active_tracer()``
reads the global itself and calls the public getter only when it changed (the getter still does
its own lazy env-var loading then). If a later OpenTelemetry drops the global, every call uses
the public getter again.
"""
_FAST_READ = _PROVIDER_GLOBAL in _API_NAMESPACE


class _Swappable(SpanProcessor):
    """The one processor ``configure()`` adds to a provider; a later ``configure()`` swaps what is inside.

    A provider cannot drop a processor once added, so re-configuring used to leave the old one
    attached (and shut down: "Processor is already shutdown" on every span). Now the new
    exporter's processor replaces the old one here, and the old one is flushed and shut down.
    The inner processor's ``on_start`` / ``on_end`` are bound onto this object, so a span pays no
    extra call for the indirection.
    """

    def __init__(self) -> None:
        self.inner: SpanProcessor | None = None
        self._bind(None)

    def swap(self, inner: SpanProcessor | None) -> SpanProcessor | None:
        """Put ``inner`` in place; returns the processor it replaced (for the caller to shut down)."""
        old, self.inner = self.inner, inner
        self._bind(inner)
        return old

    def _bind(self, inner: SpanProcessor | None) -> None:
        self.on_start = inner.on_start if inner is not None else _ignore_start  # type: ignore[method-assign]
        self.on_end = inner.on_end if inner is not None else _ignore_end  # type: ignore[method-assign]

    def shutdown(self) -> None:
        old = self.swap(None)
        if old is not None:
            old.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        inner = self.inner
        return inner.force_flush(timeout_millis) if inner is not None else True


def _ignore_start(span: Span, parent_context: Context | None = None) -> None:
    return None


def _ignore_end(span: ReadableSpan) -> None:
    return None


class _State:
    """What ``install`` set up; replaced wholesale so readers need no lock."""

    def __init__(self) -> None:
        self.seen: tuple[object, trace.Tracer | None, ChildWatcher | None] = (_UNSEEN, None, None)
        self.watchers: dict[int, ChildWatcher] = {}  # by id(provider): the child-span watcher on each SDK provider
        self.owned: TracerProvider | None = None
        self.slots: dict[int, _Swappable] = {}  # by id(provider): our one processor on each provider
        self.exporters: list[SafeExporter] = []
        self.exit_flush_s = 5.0


_state = _State()
_install_lock = threading.Lock()
_atexit_registered = False


def resource_for(settings: Settings) -> Resource:
    """The resource ``configure()`` gives the providers it makes (``OTEL_RESOURCE_ATTRIBUTES`` merged in)."""
    return Resource.create(_resource_attributes(settings))


def _resource_attributes(settings: Settings) -> dict[str, str]:
    attrs: dict[str, str] = dict(settings.resource_attributes)
    if settings.service_name:
        attrs["service.name"] = settings.service_name
    return attrs


def _check_resource(provider: TracerProvider, settings: Settings, owned: bool) -> None:
    """Warn when ``configure()`` asks for resource attributes the provider does not have (a resource is fixed)."""
    wanted = _resource_attributes(settings)
    have = provider.resource.attributes
    differ = {k: v for k, v in wanted.items() if have.get(k) != v}
    if not differ:
        return
    whose = (
        "the tracer provider configure() installed first keeps the resource it was made with"
        if owned
        else "the resource belongs to the application's TracerProvider"
    )
    logger.warning(
        "toolchain_sdk: configure() asked for resource attributes %s, but %s (%s); set them where that "
        "provider is made (or call configure() once, at start-up)",
        differ,
        whose,
        {k: have.get(k) for k in differ},
    )


def install(settings: Settings, *, add_to_existing: bool = False) -> None:
    """Install tracing for ``settings`` (called by ``configure()``).

    An SDK provider the application installed is kept; our exporter is added to it only with
    ``add_to_existing`` (an exporter passed to ``configure()`` explicitly). A provider that is
    not the OpenTelemetry SDK's is used as it is (no exporter can be added to it). A second
    ``install`` replaces the exporter the first one added.
    """
    global _atexit_registered
    with _install_lock:
        _state.exit_flush_s = settings.exit_flush_s
        current = trace.get_tracer_provider()
        built = build_exporters(settings)
        provider: TracerProvider | None
        if isinstance(current, TracerProvider):
            provider = current
            _check_resource(provider, settings, owned=current is _state.owned)
            if current is not _state.owned and not add_to_existing:
                logger.info("toolchain_sdk: using the application's TracerProvider as it is")
                built = []
        elif not isinstance(current, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
            provider = None  # the application's own (non-SDK) provider: governed spans go to it
            if add_to_existing:
                logger.warning(
                    "toolchain_sdk: the application's tracer provider %s is not the OpenTelemetry SDK's, so "
                    "configure() cannot add an exporter to it; governed spans go wherever it sends them",
                    type(current).__qualname__,
                )
            built = []
        else:
            if os.environ.get(OTEL_SDK_DISABLED, "").lower() == "true":
                return
            provider = TracerProvider(resource=resource_for(settings), shutdown_on_exit=False)
            trace.set_tracer_provider(provider)
            _state.owned = provider
        if provider is not None:
            slot = _state.slots.get(id(provider))
            if slot is None and built:
                slot = _state.slots[id(provider)] = _Swappable()
                provider.add_span_processor(slot)
            old = slot.swap(_processor(built, settings) if built else None) if slot is not None else None
            if old is not None:
                old.shutdown()  # flushes what it still holds
        _state.seen = (_UNSEEN, None, None)  # force active_tracer() to look again
        if not _atexit_registered:
            atexit.register(_flush_at_exit)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_flush_at_exit_of_child)
            _atexit_registered = True


def _processor(built: list[tuple[SpanExporter, str]], settings: Settings) -> SpanProcessor:
    """One processor per exporter (each behind ``SafeExporter``); several are fanned out to in order."""
    processors: list[SpanProcessor] = []
    for exporter, label in built:
        safe = SafeExporter(exporter, label)
        _state.exporters.append(safe)
        processors.append(BatchSpanProcessor(safe) if settings.batch else SimpleSpanProcessor(safe))
    if settings.batch:
        sdk_logger = logging.getLogger(SDK_QUEUE_LOGGER)
        if QUEUE_FULL not in sdk_logger.filters:
            sdk_logger.filters.insert(0, QUEUE_FULL)  # before the SDK's own filter, which drops repeats
    if len(processors) == 1:
        return processors[0]
    fan_out = SynchronousMultiSpanProcessor()  # type: ignore[no-untyped-call]
    for processor in processors:
        fan_out.add_span_processor(processor)
    return fan_out


def active_tracer() -> trace.Tracer | None:
    """The tracer to use, or ``None`` when no provider is installed (tracing is off).

    Cheap enough for every call: one dict lookup and an identity check (see ``_PROVIDER_GLOBAL``).
    """
    seen = _state.seen
    if (_API_NAMESPACE.get(_PROVIDER_GLOBAL) if _FAST_READ else trace.get_tracer_provider()) is seen[0]:
        return seen[1]
    return _look_again()


def active_watcher() -> ChildWatcher | None:
    """The child-span watcher on the provider ``active_tracer()`` found (``None``: not an SDK provider)."""
    return _state.seen[2]


def _watcher_for(provider: TracerProvider) -> ChildWatcher:
    """The provider's child-span watcher, added the first time the SDK sees the provider."""
    with _install_lock:
        watcher = _state.watchers.get(id(provider))
        if watcher is None:
            watcher = _state.watchers[id(provider)] = ChildWatcher()
            provider.add_span_processor(watcher)
        return watcher


def _look_again() -> trace.Tracer | None:
    """Resolve the global provider through the public getter and remember the answer.

    Any provider but OpenTelemetry's proxy (nothing installed) and no-op one counts as on, the
    SDK's or another (a vendor distribution, a wrapper). One that hands out no-op tracers
    (``OTEL_SDK_DISABLED=true``) is off; one that fails to give a tracer is off, with a warning.
    """
    provider = trace.get_tracer_provider()  # loads OTEL_PYTHON_TRACER_PROVIDER when set
    tracer: trace.Tracer | None = None
    if not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        try:
            candidate = provider.get_tracer(semconv.INSTRUMENTATION_NAME, version())
        except Exception as exc:
            warn_once(
                "tracer-provider",
                "toolchain_sdk: the tracer provider %s gave no tracer (%s: %s); governed calls are not traced",
                type(provider).__qualname__,
                type(exc).__name__,
                exc,
            )
        else:
            if not isinstance(candidate, (trace.NoOpTracer, trace.ProxyTracer)):
                tracer = candidate
    watcher = _watcher_for(provider) if tracer is not None and isinstance(provider, TracerProvider) else None
    _state.seen = (_API_NAMESPACE.get(_PROVIDER_GLOBAL) if _FAST_READ else provider, tracer, watcher)
    return tracer


def dropped_spans() -> int:
    """Spans lost in this process: failed exports of our exporters plus spans a full batch queue turned away."""
    return sum(e.dropped for e in _state.exporters) + QUEUE_FULL.dropped


def _shutdown_owned() -> None:
    shutdown_metrics()
    if _state.owned is not None:
        _state.owned.shutdown()
    else:
        for slot in _state.slots.values():
            slot.shutdown()


def shutdown(timeout_s: float | None = None) -> bool:
    """Flush and stop what ``configure()`` installed, waiting at most ``timeout_s``.

    Returns whether it finished in time. Runs in a daemon thread so a dead collector cannot hold
    the caller (or interpreter exit) longer than the bound.
    """
    limit = _state.exit_flush_s if timeout_s is None else timeout_s
    worker = threading.Thread(target=_shutdown_owned, name="toolchain-flush", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        warn_once("exit-flush", "toolchain_sdk: spans not flushed within %.1f s; exiting anyway", limit)
        return False
    return True


def _flush_at_exit() -> None:
    with contextlib.suppress(Exception):  # never fail interpreter exit
        shutdown()


def _flush_at_exit_of_child() -> None:
    """In a forked child: flush at exit even where ``atexit`` does not run.

    The SDK's BatchSpanProcessor restarts its worker in the child by itself, and a child that
    exits normally runs the inherited ``atexit`` flush. A ``multiprocessing`` child leaves
    through ``os._exit`` after running only multiprocessing's finalizers, and its bootstrap
    clears the finalizers it inherited, so the flush is registered from multiprocessing's own
    after-fork hook (a second flush is a no-op).
    """
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is None:
        return
    with contextlib.suppress(Exception):
        mp_util.Finalize(None, _flush_at_exit, exitpriority=0)
        mp_util.register_after_fork(_state, lambda _: mp_util.Finalize(None, _flush_at_exit, exitpriority=0))
