"""Kill switches: which flag sources are read, and the gate that drops a surface to its fallback.

A surface is switched off when any of its flag sources says so. Sources are asked in order:

- ``EnvSource`` — ``TOOLCHAIN_KILL="support.*,billing.reply"``, the break-glass path;
- ``FileSource`` — the local flag file edited by ``toolchain kill`` / ``restore``;
- ``OpenFeatureSource`` — any OpenFeature provider (flagd, LaunchDarkly, Unleash, ...).

Each answers ``True`` (switched off), ``False`` (pinned on the model) or no opinion. The first
``True`` wins; otherwise any ``False`` keeps the model; with no opinion at all the surface's
``kill_default`` decides. A source that fails gives its last known answer, else
``kill_default`` — and the span records the error. Sources come from
``tc.configure(flags=[...])`` (default: environment, then the flag file), or per surface from
``@governed_call(..., flags=[...])``, which replaces the configured ones for that surface.
"""

from toolchain_sdk.flags._env import TOOLCHAIN_KILL, EnvSource
from toolchain_sdk.flags._events import change_event
from toolchain_sdk.flags._file_source import FileSource
from toolchain_sdk.flags._flag_file import TOOLCHAIN_FLAGS_FILE, FlagEntry, FlagFile, parse_duration
from toolchain_sdk.flags._gate import KillGate, build_kill_gate
from toolchain_sdk.flags._model import (
    REASON_DEFAULT,
    REASON_ERROR,
    REASON_STATIC,
    FlagEvaluation,
    FlagSource,
    FlagTarget,
)
from toolchain_sdk.flags._openfeature import OpenFeatureSource
from toolchain_sdk.flags._sources import (
    SourceSpec,
    build_sources,
    current_sources,
    refresh,
    set_service_name,
    set_sources,
    use_sources,
)

__all__ = [
    "EnvSource",
    "FileSource",
    "FlagEntry",
    "FlagEvaluation",
    "FlagFile",
    "FlagSource",
    "FlagTarget",
    "KillGate",
    "OpenFeatureSource",
    "REASON_DEFAULT",
    "REASON_ERROR",
    "REASON_STATIC",
    "SourceSpec",
    "TOOLCHAIN_FLAGS_FILE",
    "TOOLCHAIN_KILL",
    "build_kill_gate",
    "build_sources",
    "change_event",
    "current_sources",
    "parse_duration",
    "refresh",
    "set_service_name",
    "set_sources",
    "use_sources",
]
