"""Which kill-switch sources are read: the configured list (default: environment, then flag file).

``configure(flags=...)`` replaces the list; a surface's own ``flags=`` replaces it for that
surface. Built-in sources are named ``"env"``, ``"file"`` and ``"openfeature"``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.flags._env import EnvSource
from toolchain_sdk.flags._file_source import FileSource
from toolchain_sdk.flags._model import FlagEvaluation, FlagSource, FlagTarget
from toolchain_sdk.flags._openfeature import OpenFeatureSource

__all__ = [
    "SourceSpec",
    "Sources",
    "build_sources",
    "current_sources",
    "defaults",
    "refresh",
    "set_service_name",
    "set_sources",
    "state",
    "use_sources",
]

SourceSpec = FlagSource | Literal["env", "file", "openfeature"]
"""A flag source object, or the name of a built-in one with its defaults."""


class Sources:
    """An immutable list of sources with their async evaluators found once."""

    __slots__ = ("any_async", "asyncs", "items", "quick", "track")

    def __init__(self, items: tuple[FlagSource, ...]) -> None:
        self.items = items
        # built-in sources keep their own last known answers; others may raise, so the gate keeps them
        self.track = any(not getattr(s, "reports_errors", False) for s in items)
        self.asyncs: tuple[Callable[[FlagTarget], Awaitable[FlagEvaluation]] | None, ...] = tuple(
            getattr(s, "aevaluate", None) for s in items
        )
        self.any_async = any(a is not None for a in self.asyncs)
        # only cheap in-memory sources: asking them twice (fast path, then the full decision) is fine
        self.quick = all(type(s) in (EnvSource, FileSource) for s in items)


_BUILTIN: dict[str, Callable[[], FlagSource]] = {"env": EnvSource, "file": FileSource, "openfeature": OpenFeatureSource}
_file_sources: weakref.WeakSet[FileSource] = weakref.WeakSet()
_openfeature_sources: weakref.WeakSet[OpenFeatureSource] = weakref.WeakSet()


def build_sources(specs: Sequence[SourceSpec], where: str) -> Sources:
    if isinstance(specs, (str, bytes)) or not isinstance(specs, Sequence):
        raise ConfigError(
            f"{where}: flags must be a list of sources, e.g. ['env', 'file', tc.flags.OpenFeatureSource()]"
        )
    items: list[FlagSource] = []
    for spec in specs:
        if isinstance(spec, str):
            if spec not in _BUILTIN:
                raise ConfigError(
                    f"{where}: unknown flag source {spec!r}; use one of {', '.join(_BUILTIN)} or an object"
                )
            source = _BUILTIN[spec]()
        elif isinstance(spec, FlagSource):
            source = spec
        else:
            raise ConfigError(f"{where}: {spec!r} is not a flag source (it needs a `name` and `evaluate(target)`)")
        if isinstance(source, FileSource):
            _file_sources.add(source)
        if isinstance(source, OpenFeatureSource):
            _openfeature_sources.add(source)
            source.use_service_name(_state.service_name)
        items.append(source)
    return Sources(tuple(items))


class _State:
    current: Sources | None = None
    service_name: str | None = None


_state = state = _State()
_lock = threading.Lock()


def set_sources(sources: Sequence[SourceSpec] | None) -> tuple[FlagSource, ...]:
    """Use ``sources``, in order, for every surface that declares none (``None``: the defaults).

    ``tc.configure(flags=...)`` calls this. The default is ``[EnvSource(), FileSource()]``; an
    explicit list replaces it entirely (keep ``"env"`` in it to keep the break-glass variable).

    Raises:
        ConfigError: an entry is neither a source nor ``"env"``, ``"file"``, ``"openfeature"``.
    """
    built = build_sources(sources, "configure()") if sources is not None else None
    with _lock:
        _state.current = built
    return current_sources()


def use_sources(built: Sources) -> None:
    """Put sources already built by ``build_sources`` in force (``configure()`` validates first)."""
    with _lock:
        _state.current = built


def set_service_name(service: str | None) -> None:
    """Hand the configured service name to every OpenFeature source (its ``service`` context attribute)."""
    _state.service_name = service
    for source in list(_openfeature_sources):
        source.use_service_name(service)


def defaults() -> Sources:
    with _lock:
        if _state.current is None:
            _state.current = build_sources(("env", "file"), "defaults")
        return _state.current


def current_sources() -> tuple[FlagSource, ...]:
    """The sources surfaces without their own use, in the order they are asked."""
    current = _state.current
    return (current if current is not None else defaults()).items


def refresh() -> None:
    """Make every flag-file source check its file at the next call (e.g. after writing it in-process)."""
    for source in list(_file_sources):
        source.refresh()
