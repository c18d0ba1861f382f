"""Peer workers: the tracing decorators users would pick instead, on the same trivial function.

Each peer runs in its own process (several of them install or wrap the global tracer provider),
in its default configuration except that it is fully offline: its spans go to the same
discarding exporter behind a ``BatchSpanProcessor`` as ours (through each SDK's own public
knob where it has one), every endpoint it might reach is a closed port on 127.0.0.1, and its
telemetry / phone-home is switched off by its documented env var.

* Langfuse ``@observe()`` — ``Langfuse(span_exporter=...)``, its own TracerProvider.
* Traceloop / OpenLLMetry ``@task`` — ``Traceloop.init(exporter=..., telemetry_enabled=False)``.
* Logfire ``@logfire.instrument`` — ``logfire.configure(send_to_logfire=False, console=False,
  additional_span_processors=[BatchSpanProcessor(discard)])``.
* MLflow ``@mlflow.trace`` (the ``mlflow-tracing`` package) — MLflow's OTLP destination
  (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, an ``OtelSpanProcessor``, itself a
  ``BatchSpanProcessor``) with its exporter factory pointed at the discarding exporter, since
  its default destination is an MLflow tracking server; ``MLFLOW_TRACKING_URI`` is a closed
  local port (without one, ``mlflow-tracing`` retries its provider set-up on every call, ~3 ms).
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import DiscardExporter, Worker, serve, sync_loop, trivial

CLOSED = "http://127.0.0.1:9"
"""The discard port: nothing listens, so anything that tries the network fails at once, locally."""

PEERS = {
    "langfuse": "langfuse",
    "traceloop": "traceloop-sdk",
    "logfire": "logfire",
    "mlflow": "mlflow-tracing",
}
"""Peer worker name → the distribution that provides it (for the version in the report)."""

os.environ.update(
    {
        "DO_NOT_TRACK": "1",
        "TRACELOOP_TELEMETRY": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "LOGFIRE_SEND_TO_LOGFIRE": "false",
        "LANGFUSE_HOST": CLOSED,
        "LANGFUSE_BASE_URL": CLOSED,
    }
)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(PEERS[name])
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _worker(
    name: str, decorated: Callable[[str], object], settle: Callable[[], Any], exporter: DiscardExporter
) -> Worker:
    return Worker(
        {f"peer_{name}": sync_loop(decorated)},
        settle=settle,
        info={"package": PEERS[name], "version": _version(name), "exported": lambda: exporter.exported},
    )


def langfuse() -> Worker:
    """Langfuse ``@observe()`` with its defaults (input and output captured)."""
    from langfuse import Langfuse, observe

    exporter = DiscardExporter()
    client = Langfuse(public_key="pk-lf-bench", secret_key="sk-lf-bench", host=CLOSED, span_exporter=exporter)

    @observe()
    def reply(question: str) -> str:
        return trivial(question)

    return _worker("langfuse", reply, client.flush, exporter)


def traceloop() -> Worker:
    """Traceloop ``@task`` with its defaults (content capture on, default instrumentations)."""
    from opentelemetry import trace
    from traceloop.sdk import Traceloop
    from traceloop.sdk.decorators import task

    exporter = DiscardExporter()
    Traceloop.init(app_name="bench", api_endpoint=CLOSED, exporter=exporter, telemetry_enabled=False)

    @task(name="reply")
    def reply(question: str) -> str:
        return trivial(question)

    provider = trace.get_tracer_provider()
    return _worker("traceloop", reply, getattr(provider, "force_flush", lambda: None), exporter)


def logfire() -> Worker:
    """Logfire ``@logfire.instrument`` with its defaults (arguments extracted)."""
    import logfire as lf
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = DiscardExporter()
    lf.configure(
        send_to_logfire=False,
        console=False,
        service_name="bench",
        additional_span_processors=[BatchSpanProcessor(exporter)],
    )

    @lf.instrument("reply")
    def reply(question: str) -> str:
        return trivial(question)

    return _worker("logfire", reply, lf.force_flush, exporter)


def mlflow() -> Worker:
    """MLflow ``@mlflow.trace`` with its defaults (inputs and outputs captured) and its OTLP destination."""
    os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = CLOSED + "/v1/traces"
    os.environ["MLFLOW_TRACKING_URI"] = CLOSED  # else mlflow-tracing retries its set-up on every call
    import mlflow as ml
    from mlflow.tracing import provider as ml_provider

    exporter = DiscardExporter()
    ml_provider.get_otlp_exporter = lambda: exporter  # type: ignore[attr-defined]

    @ml.trace
    def reply(question: str) -> str:
        return trivial(question)

    return _worker("mlflow", reply, lambda: None, exporter)


if __name__ == "__main__":
    serve(globals()[sys.argv[1]])
