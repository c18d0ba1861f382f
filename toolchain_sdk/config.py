"""Settings resolved argument → environment variable → default (pydantic), and the ones in force.

A leaf: it imports no subsystem. ``configure()`` (in ``_setup``) resolves settings here and
hands them to tracing and the kill switch. Importing the package reads no environment variable;
``configure()`` (or the first governed call, for the hash key) does. Env var names are the
constants below.
"""

from __future__ import annotations

import os
import threading
from typing import Final, Literal

from opentelemetry.sdk.trace.export import SpanExporter
from pydantic import BaseModel, ConfigDict, Field, SecretBytes, ValidationError, field_validator

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.hashing import Hasher

__all__ = ["Settings", "current_settings", "hasher", "install_settings", "reset", "resolve"]

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
TOOLCHAIN_INSTRUMENT: Final = "TOOLCHAIN_INSTRUMENT"
TOOLCHAIN_CAPTURE_MAX_BYTES: Final = "TOOLCHAIN_CAPTURE_MAX_BYTES"
"""The most UTF-8 bytes of one captured value (arguments, output, rendered prompt); longer values are
truncated with a marker that names the full value's length and hash. Default 32768 (32 KiB)."""
"""Comma-separated model clients to instrument (``openai,anthropic``) when ``configure(instrument=)`` is not given."""
OTEL_METRICS_EXPORTER: Final = "OTEL_METRICS_EXPORTER"
"""Comma-separated metric exporters: ``otlp``, ``console``, ``none`` (default: ``otlp`` when traces go to OTLP)."""

ExporterName = Literal["otlp", "console", "file", "none"]
Protocol = Literal["http/protobuf", "grpc"]


class Settings(BaseModel):
    """The resolved configuration of the SDK (see ``docs/configuration.md``)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")

    service_name: str | None = None
    exporter: ExporterName = "otlp"
    extra_exporters: tuple[ExporterName, ...] = ()
    """More exporters named by ``OTEL_TRACES_EXPORTER=console,otlp`` (every one gets the spans)."""
    endpoint: str | None = None
    protocol: Protocol = "http/protobuf"
    traces_file: str = ".toolchain/traces.jsonl"
    span_exporter: SpanExporter | None = None
    batch: bool = True
    resource_attributes: dict[str, str] = Field(default_factory=dict)
    hash_key: SecretBytes | None = None
    exit_flush_s: float = Field(default=5.0, ge=0)
    model_aliases: dict[str, str] = Field(default_factory=dict)
    metrics_exporters: tuple[Literal["otlp", "console"], ...] = ()
    instrument: tuple[str, ...] = ()
    prompts_dir: str | None = None
    config: str | None = None
    capture_max_bytes: int = Field(default=32768, ge=256)
    """The size cap of one captured value (capture ``redacted`` / ``full``), in UTF-8 bytes."""

    @field_validator("exporter", mode="before")
    @classmethod
    def _lower_exporter(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def resolve(**given: object) -> Settings:
    """Merge explicit arguments over env vars over defaults; raise ConfigError on bad values."""
    values: dict[str, object] = {k: v for k, v in given.items() if v is not None}
    if "exporter" not in values and (name := _env(OTEL_TRACES_EXPORTER)):
        names = [n.strip().lower() for n in name.split(",") if n.strip().lower() not in ("", "none")]
        values["exporter"] = names[0] if names else "none"
        values["extra_exporters"] = tuple(dict.fromkeys(names[1:]))
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
    if "metrics_exporters" not in values:
        raw = _env(OTEL_METRICS_EXPORTER)
        if raw is not None:
            values["metrics_exporters"] = tuple(
                n.strip().lower() for n in raw.split(",") if n.strip() not in ("", "none")
            )
        elif values.get("exporter", "otlp") == "otlp" and "span_exporter" not in values:
            values["metrics_exporters"] = ("otlp",)  # metrics follow traces to the collector
    if "capture_max_bytes" not in values and (cap := _env(TOOLCHAIN_CAPTURE_MAX_BYTES)):
        values["capture_max_bytes"] = cap
    if "instrument" not in values and (clients := _env(TOOLCHAIN_INSTRUMENT)):
        values["instrument"] = tuple(c.strip().lower() for c in clients.split(",") if c.strip())
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


def install_settings(settings: Settings) -> None:
    """Make ``settings`` the ones in force (``configure()`` calls this)."""
    global _settings, _hasher
    with _lock:
        _settings = settings
        _hasher = Hasher(settings.hash_key.get_secret_value() if settings.hash_key else None)


def current_settings() -> Settings:
    """The settings from the last ``configure()``, or env/defaults when it was never called."""
    global _settings
    if _settings is None:
        with _lock:
            if _settings is None:
                _settings = resolve()
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
