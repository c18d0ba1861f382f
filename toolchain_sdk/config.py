"""``configure()``: settings resolved argument → environment variable → default (pydantic).

Importing the package reads no environment variable; ``configure()`` (or the first governed
call, for the hash key) does. Env var names are the constants below.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Literal

from opentelemetry.sdk.trace.export import SpanExporter
from pydantic import BaseModel, ConfigDict, Field, SecretBytes, ValidationError, field_validator

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.hashing import Hasher

if TYPE_CHECKING:
    from toolchain_sdk.flags import SourceSpec

__all__ = ["Settings", "configure", "current_settings", "hasher", "reset"]

TOOLCHAIN_HASH_KEY: Final = "TOOLCHAIN_HASH_KEY"
"""Key for HMAC-SHA256 hashes of inputs and outputs (any string; keep it in a secret store)."""
TOOLCHAIN_EXIT_FLUSH_S: Final = "TOOLCHAIN_EXIT_FLUSH_S"
"""Seconds to wait at interpreter exit for spans to be exported (default 5)."""
TOOLCHAIN_TRACES_FILE: Final = "TOOLCHAIN_TRACES_FILE"
"""Path of the OTLP-JSON-lines file written when the exporter is ``file``."""
OTEL_TRACES_EXPORTER: Final = "OTEL_TRACES_EXPORTER"
OTEL_EXPORTER_OTLP_PROTOCOL: Final = "OTEL_EXPORTER_OTLP_PROTOCOL"
OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Final = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
OTEL_SDK_DISABLED: Final = "OTEL_SDK_DISABLED"

ExporterName = Literal["otlp", "console", "file", "none"]
Protocol = Literal["http/protobuf", "grpc"]


class Settings(BaseModel):
    """The resolved configuration of the SDK (see ``docs/configuration.md``)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")

    service_name: str | None = None
    exporter: ExporterName = "otlp"
    endpoint: str | None = None
    protocol: Protocol = "http/protobuf"
    traces_file: str = ".toolchain/traces.jsonl"
    span_exporter: SpanExporter | None = None
    batch: bool = True
    resource_attributes: dict[str, str] = Field(default_factory=dict)
    hash_key: SecretBytes | None = None
    exit_flush_s: float = Field(default=5.0, ge=0)

    @field_validator("exporter", mode="before")
    @classmethod
    def _lower_exporter(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _resolve(**given: object) -> Settings:
    """Merge explicit arguments over env vars over defaults; raise ConfigError on bad values."""
    values: dict[str, object] = {k: v for k, v in given.items() if v is not None}
    if "exporter" not in values and (name := _env(OTEL_TRACES_EXPORTER)):
        values["exporter"] = name.split(",")[0]
    if "protocol" not in values:
        proto = _env(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) or _env(OTEL_EXPORTER_OTLP_PROTOCOL)
        if proto:
            values["protocol"] = proto
    if "hash_key" not in values and (key := _env(TOOLCHAIN_HASH_KEY)):
        values["hash_key"] = key
    if "exit_flush_s" not in values and (flush := _env(TOOLCHAIN_EXIT_FLUSH_S)):
        values["exit_flush_s"] = flush
    if "traces_file" not in values and (path := _env(TOOLCHAIN_TRACES_FILE)):
        values["traces_file"] = path
    if isinstance(values.get("hash_key"), str):
        values["hash_key"] = str(values["hash_key"]).encode("utf-8")
    if "span_exporter" in values and "exporter" not in values:
        values["exporter"] = "otlp"  # ignored: an explicit exporter object wins
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(
            f"invalid toolchain_sdk configuration ({problems}); see docs/configuration.md for the "
            "accepted values (e.g. OTEL_TRACES_EXPORTER=otlp|console|file|none, "
            "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf|grpc)"
        ) from None


_lock = threading.Lock()
_settings: Settings | None = None
_hasher: Hasher | None = None


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
    flags: Sequence[SourceSpec] | None = None,
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
            ``FileSource``, ``OpenFeatureSource``, your own ``FlagSource``). Omitted: ``["env", "file"]``.
            A surface's own ``flags=`` replaces these for that surface.

    Returns:
        The resolved settings.

    Raises:
        ConfigError: a value is not accepted; the message names it and the accepted values.
    """
    from toolchain_sdk import flags as flag_sources
    from toolchain_sdk import tracing

    settings = _resolve(
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
    )
    flag_sources.set_sources(flags)  # validates first: a bad source raises before anything changes
    global _settings, _hasher
    with _lock:
        _settings = settings
        _hasher = Hasher(settings.hash_key.get_secret_value() if settings.hash_key else None)
    tracing.install(settings, add_to_existing=exporter is not None or span_exporter is not None)
    return settings


def current_settings() -> Settings:
    """The settings from the last ``configure()``, or env/defaults when it was never called."""
    global _settings
    if _settings is None:
        with _lock:
            if _settings is None:
                _settings = _resolve()
    return _settings


def hasher() -> Hasher:
    """The process-wide hasher (HMAC when a key is configured)."""
    global _hasher
    h = _hasher
    if h is None:
        settings = current_settings()
        h = _hasher = Hasher(settings.hash_key.get_secret_value() if settings.hash_key else None)
    return h


def reset() -> None:
    """Forget the configuration (tests); tracing already installed stays installed."""
    global _settings, _hasher
    with _lock:
        _settings = None
        _hasher = None
