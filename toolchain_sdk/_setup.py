"""``configure()`` and ``shutdown()``: the one place that wires settings, tracing and the kill switch together.

It sits above every subsystem (config, tracing, flags) and below only the package root, so no
subsystem needs to import another to be set up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence

from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.trace.export import SpanExporter

from toolchain_sdk import audit as _audit
from toolchain_sdk import config as _config
from toolchain_sdk import flags as _flags
from toolchain_sdk import inventory, routing, tracing
from toolchain_sdk import redaction as _redaction
from toolchain_sdk.config import ExporterName, Protocol, Settings
from toolchain_sdk.errors import ConfigError

__all__ = ["configure", "shutdown"]

_lock = threading.Lock()


def configure(
    *,
    service_name: str | None = None,
    exporter: ExporterName | None = None,
    endpoint: str | None = None,
    protocol: Protocol | None = None,
    traces_file: str | None = None,
    span_exporter: SpanExporter | None = None,
    batch: bool | None = None,
    resource_attributes: dict[str, str] | None = None,
    hash_key: str | bytes | None = None,
    exit_flush_s: float | None = None,
    flags: Sequence[_flags.SourceSpec] | None = None,
    model_aliases: Mapping[str, str] | None = None,
    metric_readers: Sequence[MetricReader] = (),
    instrument: Sequence[str] | None = None,
    prompts_dir: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
    audit: _audit.Sink | str | None = None,
    redaction: _redaction.Policy | None = None,
    capture_max_bytes: int | None = None,
) -> Settings:
    """Set the SDK up: resolve settings and install tracing (unless the app already did).

    Args:
        service_name: ``service.name`` of the resource (else ``OTEL_SERVICE_NAME``).
        exporter: ``otlp`` (default), ``console``, ``file`` or ``none`` (else ``OTEL_TRACES_EXPORTER``).
        endpoint: OTLP base endpoint, e.g. ``http://127.0.0.1:4318`` (else the ``OTEL_EXPORTER_OTLP_*`` vars).
        protocol: ``http/protobuf`` (default) or ``grpc`` (else ``OTEL_EXPORTER_OTLP_PROTOCOL``).
        traces_file: where the ``file`` exporter writes OTLP JSON lines.
        span_exporter: an exporter object to use instead (e.g. ``InMemorySpanExporter`` in tests).
        batch: export in a background batch (default) or synchronously per span (tests).
        resource_attributes: extra resource attributes (merged over ``OTEL_RESOURCE_ATTRIBUTES``).
        hash_key: key for HMAC-SHA256 hashes (else ``TOOLCHAIN_HASH_KEY``).
        exit_flush_s: the most to wait at exit for pending spans (else ``TOOLCHAIN_EXIT_FLUSH_S``, 5 s).
        flags: the kill-switch flag sources, asked in order: ``"env"`` (``TOOLCHAIN_KILL``),
            ``"file"`` (``TOOLCHAIN_FLAGS_FILE``, else ``.toolchain/flags.json``), ``"openfeature"``
            (the default OpenFeature provider), or objects from ``tc.flags`` (``EnvSource``,
            ``FileSource``, ``OpenFeatureSource``, your own ``FlagSource``). Default ``["env", "file"]``.
            A surface's own ``flags=`` replaces these for that surface. Omitted on a later
            ``configure()``: the sources in force stay.
        model_aliases: model names that resolve to another, for ``toolchain.model.mismatch``
            (alias → the model it resolves to, e.g. ``{"claude-sonnet-4-0": "claude-sonnet-4-20250514"}``);
            a trailing date snapshot needs no entry.
        metric_readers: metric readers for the meter provider ``configure()`` makes (e.g. an
            ``InMemoryMetricReader`` in tests), besides the exporters ``OTEL_METRICS_EXPORTER`` names
            (default: OTLP when traces go to OTLP). A meter provider the application installed is
            used as it is.
        instrument: model clients whose own instrumentation to turn on: ``"openai"`` (the official
            OTel OpenAI instrumentation, extra ``[openai]``), ``"anthropic"`` (its built-in tracing,
            extra ``[anthropic]``); else ``TOOLCHAIN_INSTRUMENT``. Their spans nest under governed
            spans and carry the usage (counted once).
        prompts_dir: the directory of ``name@version.md`` prompt files (else ``TOOLCHAIN_PROMPTS_DIR``,
            else ``prompts``); surfaces decorated after ``configure()`` use it.
        config: the ``toolchain.toml`` to use (else ``TOOLCHAIN_CONFIG``, ``./toolchain.toml``,
            ``[tool.toolchain]`` in ``./pyproject.toml``): routes, exposure rules. It is read and
            validated now, and every surface already declared is checked against its exposure rules.
        audit: the audit sink every governed call appends its record to: ``tc.audit.jsonl(path)``,
            ``tc.audit.sqlite(path)``, ``tc.audit.otlp()``, or a spec string (``path.jsonl``,
            ``sqlite:///path.db``); else ``TOOLCHAIN_AUDIT``, else ``[audit] sink`` of ``toolchain.toml``.
            Audit is off until one names a sink. Never raises for an unwritable path: the failure
            shows at the call (a high-risk call does not run: ``AuditUnavailable``).
        redaction: the redaction policy (``tc.redaction.Policy(...)``) for captured content and
            every exported text; its version is recorded as ``toolchain.redaction.policy``.
        capture_max_bytes: the size cap of one captured value (capture ``redacted`` / ``full``), in
            UTF-8 bytes (else ``TOOLCHAIN_CAPTURE_MAX_BYTES``, else 32768).

    Returns:
        The resolved settings.

    Raises:
        ConfigError: a value is not accepted; the message names it and the accepted values.
    """
    settings = _config.resolve(
        service_name=service_name,
        exporter=exporter,
        endpoint=endpoint,
        protocol=protocol,
        traces_file=traces_file,
        span_exporter=span_exporter,
        batch=batch,
        resource_attributes=resource_attributes,
        hash_key=hash_key,
        exit_flush_s=exit_flush_s,
        model_aliases=dict(model_aliases) if model_aliases is not None else None,
        instrument=tuple(instrument) if instrument is not None else None,
        prompts_dir=os.fspath(prompts_dir) if prompts_dir is not None else None,
        config=os.fspath(config) if config is not None else None,
        capture_max_bytes=capture_max_bytes,
    )
    if redaction is not None and not isinstance(redaction, _redaction.Policy):
        raise ConfigError(f"configure(redaction=...) takes a tc.redaction.Policy, not {type(redaction).__name__}")
    if audit is not None and not isinstance(audit, (str, _audit.Sink)):
        raise ConfigError(
            f"configure(audit=...) takes a sink (tc.audit.jsonl(path), tc.audit.sqlite(path), tc.audit.otlp()) "
            f"or a spec string ('audit.jsonl', 'sqlite:///audit.db'), not {type(audit).__name__}"
        )
    sink = _audit.open_sink(audit) if isinstance(audit, str) else audit
    toolchain_config = routing.use_config(settings.config) if config is not None else None
    if toolchain_config is not None:
        _check_declared_surfaces(toolchain_config)
    if sink is None:
        _audit.sink_from_env()  # a bad TOOLCHAIN_AUDIT or [audit] table is a ConfigError now (touches no file)
    if flags is not None:
        built = _flags.build_sources(flags, "configure()")  # validates first: nothing changes on a bad source
    with _lock:
        if flags is not None:
            _flags.use_sources(built)
        _flags.set_service_name(settings.service_name)
        _config.install_settings(settings)
        if redaction is not None:
            _redaction.use_policy(redaction)
        if sink is not None:
            _audit.use_sink(sink)
        tracing.install(settings, add_to_existing=exporter is not None or span_exporter is not None)
        tracing.install_metrics(settings, tracing.resource_for(settings), metric_readers)
        tracing.instrument(settings.instrument)
    return settings


def _check_declared_surfaces(toolchain_config: routing.ToolchainConfig) -> None:
    """Hold the surfaces declared before ``configure()`` to the file's exposure rules (one error lists all)."""
    problems = []
    for spec in inventory.surfaces():
        pairs: list[tuple[str | None, str | None]] = [(p, m) for p, _, m in (t.partition(":") for t in spec.targets)]
        try:
            routing.check_exposure(
                toolchain_config, spec.surface, spec.data_class, pairs or [(spec.provider, spec.model)]
            )
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems))


def shutdown(timeout_s: float | None = None) -> bool:
    """Flush and stop what ``configure()`` installed, waiting at most ``timeout_s`` (default: the exit bound).

    Returns whether it finished in time. A dead collector cannot hold the caller longer than the bound.
    """
    return tracing.shutdown(timeout_s)
