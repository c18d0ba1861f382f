"""Tracing: the tracer provider the SDK installs (or the application's), its exporters, the exit flush.

Until ``configure()`` or the application installs an OpenTelemetry SDK ``TracerProvider``,
governed calls do no span work at all (``active_tracer()`` is ``None``). Export failures are
counted (``dropped_spans()``) and warned about once; they never reach the application.
"""

from toolchain_sdk.tracing._exporters import OtlpJsonFileExporter, SafeExporter
from toolchain_sdk.tracing._instrument import instrument
from toolchain_sdk.tracing._metrics import Instruments, install_metrics, instruments
from toolchain_sdk.tracing._provider import (
    active_tracer,
    active_watcher,
    dropped_spans,
    install,
    resource_for,
    shutdown,
)
from toolchain_sdk.tracing._watch import ChildWatcher

__all__ = [
    "ChildWatcher",
    "Instruments",
    "OtlpJsonFileExporter",
    "SafeExporter",
    "active_tracer",
    "active_watcher",
    "dropped_spans",
    "install",
    "install_metrics",
    "instrument",
    "instruments",
    "resource_for",
    "shutdown",
]
