"""The process-wide registry of governed surfaces, read by the control sheet and policy checks.

Every ``@governed_call`` decoration (and each distinct ``governed(...)`` block) registers its
``SurfaceSpec``. A surface name is one place in the product: registering it again with different
settings is a ``ConfigError``.
"""

from __future__ import annotations

import threading
from typing import Literal

from pydantic import BaseModel, ConfigDict

from toolchain_sdk.errors import ConfigError

__all__ = ["Capture", "Risk", "SurfaceSpec", "clear_registry", "get_surface", "register", "surfaces"]

Risk = Literal["low", "medium", "high"]
Capture = Literal["none", "hash", "redacted", "full"]

_PLACE = frozenset({"location", "file", "line", "function"})
"""Fields that say where a surface was declared, not how: they may differ between registrations."""


class SurfaceSpec(BaseModel):
    """The declared controls of one governed surface (what the control sheet prints)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    surface: str
    owner: str | None = None
    risk: Risk = "low"
    operation: str = "chat"
    model: str | None = None
    provider: str | None = None
    route: str | None = None
    prompt: str | None = None
    prompt_sha256: str | None = None
    capture: Capture = "hash"
    data_class: str = "internal"
    kill_flag: str | None = None
    kill_default: bool = False
    fallback: str | None = None
    approval: str | None = None
    exclude_args: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    """``provider:model`` of every model the surface may call (its route's targets, in order)."""
    exposure: tuple[str, ...] = ()
    """The ``[exposure]`` rules of its data class that allowed those targets."""
    prompt_label: str | None = None
    kind: Literal["function", "async", "generator", "async-generator", "block"] = "function"
    location: str | None = None
    file: str | None = None
    """The source file that declared the surface (the decorator's or the ``with`` statement's)."""
    line: int | None = None
    """The line of the decorator or ``with`` statement in ``file``."""
    function: str | None = None
    """The qualified name of the governed function, or of the function holding the ``with`` block."""

    def settings(self) -> dict[str, object]:
        """The fields that must agree when a surface is registered twice (all but where it was declared)."""
        return self.model_dump(exclude=set(_PLACE))


_lock = threading.Lock()
_registry: dict[str, SurfaceSpec] = {}


def register(spec: SurfaceSpec) -> SurfaceSpec:
    """Add ``spec`` to the registry; the same settings again is fine, different ones are not.

    Raises:
        ConfigError: the surface is already registered with other settings.
    """
    with _lock:
        known = _registry.get(spec.surface)
        if known is not None and known.settings() != spec.settings():
            diff = sorted(k for k, v in spec.settings().items() if known.settings()[k] != v)
            where = known.location or (f"{known.file}:{known.line}" if known.file else None)
            raise ConfigError(
                f"surface {spec.surface!r} is already registered at {where} with different "
                f"settings ({', '.join(diff)}); give this one its own surface name or use the same settings"
            )
        if known is None:
            _registry[spec.surface] = spec
        return _registry[spec.surface]


def surfaces() -> list[SurfaceSpec]:
    """Every registered surface, sorted by name."""
    with _lock:
        return [_registry[k] for k in sorted(_registry)]


def get_surface(name: str) -> SurfaceSpec | None:
    """The spec registered under ``name``, if any."""
    return _registry.get(name)


def clear_registry() -> None:
    """Empty the registry (for tests)."""
    with _lock:
        _registry.clear()
