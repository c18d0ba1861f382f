"""Governance metrics: the meter provider (``configure()``'s or the application's) and the instruments.

Instruments are made once per meter provider. ``instruments()`` is what the pipeline and the
controls ask on every call: with no meter provider installed it answers ``None`` for the cost of
one dict read and an identity check (the same trick as ``active_tracer()``: the public getter
re-reads an environment variable on every call while nothing is installed). Attributes are
bounded: surface, outcome, risk, owner, source, decision and the declared model, never ids or
user values.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Sequence

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from toolchain_sdk import semconv
from toolchain_sdk._core.safety import logger
from toolchain_sdk._version import version
from toolchain_sdk.config import OTEL_SDK_DISABLED, Settings

__all__ = ["Instruments", "install_metrics", "instruments", "shutdown_metrics"]

_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
"""The GenAI conventions' advisory buckets for ``gen_ai.client.token.usage``."""
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
"""The GenAI conventions' advisory buckets for ``gen_ai.client.operation.duration`` (seconds)."""
_WAIT_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 14400, 86400)
"""Approval waits: from a bot's sub-second answer to a reviewer's next morning."""


class Instruments:
    """The instruments the SDK records to (see ``docs/metrics.md``)."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.calls = meter.create_counter(
            semconv.METRIC_CALLS, unit="{call}", description="Governed calls by surface and outcome"
        )
        self.kill_switch_engaged = meter.create_counter(
            semconv.METRIC_KILL_SWITCH_ENGAGED, unit="{call}", description="Calls a kill switch sent to the fallback"
        )
        self.fallback_failed = meter.create_counter(
            semconv.METRIC_FALLBACK_FAILED, unit="{call}", description="Fallback handlers that raised"
        )
        self.approval_wait = meter.create_histogram(
            semconv.METRIC_APPROVAL_WAIT,
            unit="s",
            description="Time a call waited for its approval decision",
            explicit_bucket_boundaries_advisory=_WAIT_BUCKETS,
        )
        self.approval_pending = meter.create_up_down_counter(
            semconv.METRIC_APPROVAL_PENDING, unit="{request}", description="Approval requests waiting on an approver"
        )
        self.token_usage = meter.create_histogram(
            semconv.METRIC_GEN_AI_TOKEN_USAGE,
            unit="{token}",
            description="Tokens used by model calls no client instrumentation measured",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.operation_duration = meter.create_histogram(
            semconv.METRIC_GEN_AI_OPERATION_DURATION,
            unit="s",
            description="Duration of model calls no client instrumentation measured",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )


_NS = vars(importlib.import_module("opentelemetry.metrics._internal"))
_GLOBAL = "_METER_PROVIDER"
"""The module global behind ``metrics.get_meter_provider()`` (read directly: see the module docstring)."""
_FAST_READ = _GLOBAL in _NS
_UNSEEN = object()


class _State:
    def __init__(self) -> None:
        self.seen: tuple[object, Instruments | None] = (_UNSEEN, None)
        self.owned: MeterProvider | None = None
        self.lock = threading.Lock()


_state = _State()


def instruments() -> Instruments | None:
    """The instruments of the installed meter provider, or ``None`` when there is none."""
    seen = _state.seen
    if (_NS.get(_GLOBAL) if _FAST_READ else metrics.get_meter_provider()) is seen[0]:
        return seen[1]
    return _look_again()


def _look_again() -> Instruments | None:
    provider = metrics.get_meter_provider()
    found: Instruments | None = None
    if _installed(provider) and os.environ.get(OTEL_SDK_DISABLED, "").lower() != "true":
        found = Instruments(provider.get_meter(semconv.INSTRUMENTATION_NAME, version()))
    with _state.lock:
        _state.seen = (_NS.get(_GLOBAL) if _FAST_READ else provider, found)
    return found


def _installed(provider: object) -> bool:
    """Whether ``provider`` is a real one: not the API's proxy (nothing installed) or no-op provider."""
    return not isinstance(provider, metrics.NoOpMeterProvider) and provider is not _NS.get("_PROXY_METER_PROVIDER")


def _exporters(settings: Settings) -> list[MetricExporter]:
    made: list[MetricExporter] = []
    for name in settings.metrics_exporters:
        if name == "console":
            made.append(ConsoleMetricExporter())
        elif name == "otlp":
            made.append(_otlp_metric_exporter(settings))
    return made


def _otlp_metric_exporter(settings: Settings) -> MetricExporter:
    endpoint = settings.endpoint
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as Grpc

        return Grpc(endpoint=endpoint, insecure=True if endpoint and endpoint.startswith("http://") else None)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as Http

    return Http(endpoint=endpoint.rstrip("/") + "/v1/metrics" if endpoint is not None else None)


def install_metrics(settings: Settings, resource: Resource, readers: Sequence[MetricReader] = ()) -> None:
    """Set up a meter provider for ``settings`` unless one is installed (the application's is kept).

    A meter provider's readers are fixed when it is made, so a later ``configure()`` keeps the
    first one; it says so when asked for other readers.
    """
    if os.environ.get(OTEL_SDK_DISABLED, "").lower() == "true":
        return
    with _state.lock:
        current = metrics.get_meter_provider()
        if _installed(current):
            if readers or (current is _state.owned and settings.metrics_exporters):
                logger.warning(
                    "toolchain_sdk: a meter provider is already installed (%s); configure() keeps it and its "
                    "readers as they are",
                    "configure()'s first" if current is _state.owned else "the application's",
                )
            return
        all_readers = [*readers, *(PeriodicExportingMetricReader(e) for e in _exporters(settings))]
        if not all_readers:
            return
        provider = MeterProvider(metric_readers=all_readers, resource=resource, shutdown_on_exit=False)
        metrics.set_meter_provider(provider)
        _state.owned = provider
        _state.seen = (_UNSEEN, None)


def shutdown_metrics() -> None:
    """Flush and stop the meter provider ``configure()`` made (at exit, inside the exit bound)."""
    owned = _state.owned
    if owned is not None:
        owned.shutdown()
