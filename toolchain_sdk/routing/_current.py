"""The configuration file in force: ``configure(config=PATH)``'s, else the one discovery finds.

Read at most once per path (decoration asks for it only for surfaces that declare ``route=`` or
``data_class=``, so decorating anything else reads no file and no environment variable).
"""

from __future__ import annotations

import threading
from os import PathLike

from toolchain_sdk.routing._file import load_config
from toolchain_sdk.routing._model import ToolchainConfig

__all__ = ["current_config", "loaded_config", "use_config"]

_UNREAD = object()


class _State:
    def __init__(self) -> None:
        self.path: str | PathLike[str] | None = None
        self.config: object = _UNREAD
        self.lock = threading.Lock()


_state = _State()


def use_config(path: str | PathLike[str] | None) -> ToolchainConfig | None:
    """Read and validate ``path`` (``None``: discovery) now, and make it the configuration in force."""
    config = load_config(path)
    with _state.lock:
        _state.path, _state.config = path, config
    return config


def current_config() -> ToolchainConfig | None:
    """The configuration in force, reading it on first use."""
    config = _state.config
    if config is _UNREAD:
        loaded = load_config(_state.path)
        with _state.lock:
            if _state.config is _UNREAD:
                _state.config = loaded
            config = _state.config
    return config  # type: ignore[return-value]


def loaded_config() -> ToolchainConfig | None:
    """The configuration if it has been read already, else ``None`` (no I/O)."""
    config = _state.config
    return None if config is _UNREAD else config  # type: ignore[return-value]
