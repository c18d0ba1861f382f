"""Naming a sink: the ``jsonl``/``sqlite``/``otlp`` factories, ``open_sink(spec)``, and the
``TOOLCHAIN_AUDIT`` variable or ``[audit]`` table of ``toolchain.toml`` that name one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from toolchain_sdk.audit._jsonl import JsonlSink
from toolchain_sdk.audit._otlp import OtlpSink
from toolchain_sdk.audit._sink import Sink
from toolchain_sdk.audit._sqlite import SqliteSink
from toolchain_sdk.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry._logs import LoggerProvider

__all__ = ["TOOLCHAIN_AUDIT", "AuditTable", "jsonl", "open_sink", "otlp", "sink_from_env", "sqlite"]

TOOLCHAIN_AUDIT: Final = "TOOLCHAIN_AUDIT"
"""Where audit records go: ``path.jsonl``, ``sqlite:///path.db`` or ``otlp`` (options after ``?``:
``fsync=1``, ``max_bytes=N``). Unset: the ``[audit]`` table of ``toolchain.toml``, else audit is off."""

_FORMS = "a JSONL path (audit.jsonl), sqlite:///path.db or otlp, optionally followed by ?fsync=1&max_bytes=N"


def jsonl(path: str | os.PathLike[str], *, fsync: bool = False, max_bytes: int | None = None) -> Sink:
    """The embedded default sink: hash-chained JSON lines at ``path`` (never raises; see ``JsonlSink``)."""
    return JsonlSink(path, fsync=fsync, max_bytes=max_bytes)


def sqlite(path: str | os.PathLike[str], *, fsync: bool = False) -> Sink:
    """The local SQL sink: hash-chained rows in a SQLite file (never raises; see ``SqliteSink``)."""
    return SqliteSink(path, fsync=fsync)


def otlp(*, logger_provider: LoggerProvider | None = None) -> Sink:
    """Each record as an OpenTelemetry log record through the OTLP log exporter (see ``OtlpSink``)."""
    return OtlpSink(logger_provider=logger_provider)


class _Options(BaseModel):
    """The options a sink spec may carry after ``?``."""

    model_config = ConfigDict(extra="forbid")

    fsync: bool = False
    max_bytes: int | None = Field(default=None, gt=0)


def open_sink(spec: str, *, base: Path | None = None, fsync: bool = False, max_bytes: int | None = None) -> Sink:
    """The sink a text names: ``path.jsonl``, ``sqlite:///path.db`` (``sqlite:////abs/path.db``) or ``otlp``.

    Options may follow a ``?``: ``audit.jsonl?fsync=1&max_bytes=10000000``.

    Args:
        spec: the text (from ``TOOLCHAIN_AUDIT``, the config file or the command line).
        base: the directory a relative path is relative to (default: the working directory).
        fsync, max_bytes: defaults for the options ``spec`` does not set.

    Raises:
        ConfigError: ``spec`` is none of these forms, or an option is unknown or invalid.
    """
    text, _, query = spec.strip().partition("?")
    if not text:
        raise ConfigError(f"audit sink {spec!r}: empty; use {_FORMS}")
    raw: dict[str, object] = {"fsync": fsync, "max_bytes": max_bytes}
    raw.update(parse_qsl(query, keep_blank_values=True))
    try:
        options = _Options.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"audit sink {spec!r}: {problems}; use {_FORMS}") from None

    def resolve(path: str) -> Path:
        """A path from the spec, relative to ``base`` when given."""
        p = Path(path).expanduser()
        return p if p.is_absolute() or base is None else base / p

    if text == "otlp":
        return otlp()
    if text.startswith("sqlite:///"):
        if options.max_bytes is not None:
            raise ConfigError(f"audit sink {spec!r}: max_bytes applies to JSONL files only (SQLite does not rotate)")
        return sqlite(resolve(text.removeprefix("sqlite:///")), fsync=options.fsync)
    if "://" in text or text.startswith("sqlite:"):
        raise ConfigError(f"audit sink {spec!r}: unknown form; use {_FORMS}")
    if Path(text).suffix in (".db", ".sqlite", ".sqlite3"):
        raise ConfigError(f"audit sink {spec!r}: looks like a database; write sqlite:///{text} (or use a .jsonl path)")
    return jsonl(resolve(text), fsync=options.fsync, max_bytes=options.max_bytes)


class AuditTable(BaseModel):
    """The ``[audit]`` table of ``toolchain.toml``.

    Attributes:
        sink: where records go, as for ``TOOLCHAIN_AUDIT`` (a relative path is relative to the file).
        fsync: fsync every append.
        max_bytes: rotate a JSONL file at this size.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sink: str | None = None
    fsync: bool = False
    max_bytes: int | None = Field(default=None, gt=0)


def _table_name(source: str) -> str:
    """How messages name the audit table of the file ``source``."""
    return "[tool.toolchain.audit]" if source.endswith("pyproject.toml") else "[audit]"


def sink_from_env() -> Sink | None:
    """The sink ``TOOLCHAIN_AUDIT`` names, else ``sink = "..."`` in the ``[audit]`` table of
    ``toolchain.toml``, else ``None`` (audit off).

    Raises:
        ConfigError: the variable or the table is invalid; the message names the file, table and field.
    """
    spec = os.environ.get(TOOLCHAIN_AUDIT, "").strip()
    if spec:
        try:
            return open_sink(spec)
        except ConfigError as exc:
            raise ConfigError(f"{TOOLCHAIN_AUDIT}: {exc}") from None
    from toolchain_sdk.routing import current_config

    config = current_config()
    if config is None or not config.audit:
        return None
    where = f"{config.source}: {_table_name(config.source)}"
    try:
        table = AuditTable.model_validate(config.audit)
    except ValidationError as exc:
        problems = "; ".join(f"{where}.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(problems) from None
    if table.sink is None:
        return None
    try:
        return open_sink(table.sink, base=Path(config.source).parent, fsync=table.fsync, max_bytes=table.max_bytes)
    except ConfigError as exc:
        raise ConfigError(f"{where}.sink: {exc}") from None
