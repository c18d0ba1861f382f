"""The sink in force, ``write`` with its fallback spool, and ``append_event`` for the CLIs and console.

A record that a sink cannot take is never dropped silently: it goes to the sink's spool file
(``PATH.spool.jsonl``), else ``.toolchain/audit-spool.jsonl``, else a file in the temporary
directory, else the ``toolchain_sdk.audit`` log at ERROR, and ``AuditUnavailable`` is raised.
"""

from __future__ import annotations

import atexit
import getpass
import json
import logging
import os
import tempfile
import threading
from pathlib import Path

from pydantic import ValidationError

from toolchain_sdk.audit._open import sink_from_env
from toolchain_sdk.audit._record import AuditRecord
from toolchain_sdk.audit._sink import Sink
from toolchain_sdk.errors import AuditUnavailable, ConfigError

__all__ = ["active_sink", "append_event", "spool", "use_sink", "write", "write_to"]

_log = logging.getLogger("toolchain_sdk.audit")


class _State:
    """The installed sink, and whether ``TOOLCHAIN_AUDIT`` was resolved yet."""

    def __init__(self) -> None:
        """Nothing installed, nothing resolved yet."""
        self.lock = threading.Lock()
        self.sink: Sink | None = None
        self.resolved = False
        self.exit_hook = False


_state = _State()


def _flush_at_exit() -> None:
    """Flush and close the sink in force, so nothing accepted is lost at normal exit."""
    sink = _state.sink
    if sink is None:
        return
    try:
        sink.close()
    except Exception:  # exit must go on; say what happened
        _log.warning("audit sink %s did not close cleanly at exit", sink.describe(), exc_info=True)


def _install(sink: Sink | None) -> None:
    """Set the sink in force (call with the state lock held) and register the exit flush once."""
    _state.sink = sink
    _state.resolved = True
    if sink is not None and not _state.exit_hook:
        atexit.register(_flush_at_exit)
        _state.exit_hook = True


def use_sink(sink: Sink | None) -> None:
    """Make ``sink`` the one governed calls write to (``None``: audit off); ``configure(audit=...)`` calls it.

    The previous sink is flushed and closed.
    """
    with _state.lock:
        previous = _state.sink
        _install(sink)
    if previous is not None and previous is not sink:
        try:
            previous.close()
        except Exception:  # replacing a broken sink must work
            _log.warning("audit sink %s did not close cleanly", previous.describe(), exc_info=True)


class _Misconfigured:
    """Stands in for the sink an invalid ``TOOLCHAIN_AUDIT`` or ``[audit]`` table meant to name.

    Audit was asked for, so it must not be silently off: every check and append raises
    ``AuditUnavailable`` naming the setting to fix (high-risk calls do not run; other calls warn
    once and their records go to the spool file).
    """

    def __init__(self, problem: ConfigError) -> None:
        """Keep the configuration error to report at every call."""
        self.problem = problem

    def _unavailable(self) -> AuditUnavailable:
        """The error a call sees."""
        return AuditUnavailable(f"audit is misconfigured, so no record can be written: {self.problem}")

    def append(self, record: AuditRecord) -> AuditRecord:
        """Refuse the record (``write`` spools it)."""
        raise self._unavailable() from self.problem

    def check(self) -> None:
        """Always unavailable: the setting must be fixed."""
        raise self._unavailable() from self.problem

    def flush(self) -> None:
        """Nothing is held."""

    def close(self) -> None:
        """Nothing is open."""

    def describe(self) -> str:
        """``misconfigured: PROBLEM``."""
        return f"misconfigured: {self.problem}"


def active_sink() -> Sink | None:
    """The sink in force: the one installed by ``use_sink``, else (resolved once, lazily) the one
    ``TOOLCHAIN_AUDIT`` or the ``[audit]`` table names, else ``None``.

    An invalid variable or table is logged once at ERROR and does not turn audit off: calls see
    ``AuditUnavailable`` naming the setting (high risk does not run, lower risk spools and warns).
    """
    if _state.resolved:
        return _state.sink
    with _state.lock:
        if not _state.resolved:
            found: Sink | None
            try:
                found = sink_from_env()
            except ConfigError as exc:
                _log.error("audit is misconfigured; high-risk calls will not run until it is fixed: %s", exc)
                found = _Misconfigured(exc)
            _install(found)
        return _state.sink


def spool(record: AuditRecord, sink: Sink | None) -> str | None:
    """Append ``record`` (unchained) to the first writable spool file; return its path, or ``None``
    when none could be written (then the record is logged at ERROR)."""
    line = json.dumps(record.to_json_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
    own = getattr(sink, "spool_path", None)
    candidates = [Path(str(own()))] if callable(own) else []
    candidates.append(Path(".toolchain", "audit-spool.jsonl").absolute())
    candidates.append(Path(tempfile.gettempdir(), f"toolchain-audit-spool-{os.getuid()}.jsonl"))
    for path in candidates:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            continue
        return str(path)
    _log.error("audit record could not be written or spooled anywhere: %s", line.rstrip())
    return None


def write_to(sink: Sink, record: AuditRecord) -> AuditRecord:
    """Append ``record`` to ``sink``; on failure spool it and raise.

    Raises:
        AuditUnavailable: the sink could not take the record (chained to the cause); the message
            says where the record was spooled.
    """
    try:
        return sink.append(record)
    except Exception as exc:
        where = spool(record, sink)
        kept = f"the record was spooled to {where}" if where else "the record was logged at ERROR (no spool writable)"
        cause = exc.__cause__ if isinstance(exc, AuditUnavailable) and exc.__cause__ is not None else exc
        raise AuditUnavailable(f"audit record {record.id} not appended to {sink.describe()}: {exc}; {kept}") from cause


def write(record: AuditRecord) -> AuditRecord:
    """Append ``record`` through the sink in force; return it chained (``seq``, ``prev_hash``, ``hash``).

    With audit off (no sink), the record is returned unchanged and nothing is written.

    Raises:
        AuditUnavailable: the sink could not take it; it went to the spool file (see ``spool``).
    """
    sink = active_sink()
    if sink is None:
        return record
    return write_to(sink, record)


def append_event(kind: str, **fields: object) -> AuditRecord | None:
    """Record a control change (``flag_change``, ``approval_decision``) in the chain that
    ``TOOLCHAIN_AUDIT`` or the ``[audit]`` table names; ``None`` when audit is not configured.

    ``actor`` defaults to the login name.

    Raises:
        ConfigError: the fields do not fit ``AuditRecord``.
        AuditUnavailable: the chain could not take the record, or the sink setting is invalid (the
            message names it); the record was spooled.
    """
    if fields.get("actor") is None:
        fields["actor"] = _login()
    try:
        record = AuditRecord.model_validate({"kind": kind, **fields})
    except ValidationError as exc:
        raise ConfigError(f"audit event {kind!r}: {exc}") from None
    sink: Sink | None
    try:
        sink = sink_from_env()
    except ConfigError as exc:  # audit was asked for: keep the record in the spool, say what to fix
        sink = _Misconfigured(exc)
    if sink is None:
        return None
    try:
        return write_to(sink, record)
    finally:
        sink.close()


def _login() -> str | None:
    """The login name for ``actor``, or ``None`` when the system cannot say."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None
