"""Whether the ``console`` extra is installed, and the install command when it is not."""

from __future__ import annotations

import importlib.util
from typing import Final

from toolchain_sdk.errors import ConfigError

__all__ = ["INSTALL", "require_extra"]

INSTALL: Final = "pip install 'toolchain-sdk[console]'"
_MODULES: Final = ("starlette", "uvicorn", "jinja2", "multipart")


def require_extra() -> None:
    """Raise ``ConfigError`` naming the install command when a library of the extra is missing."""
    missing = [m for m in _MODULES if importlib.util.find_spec(m) is None]
    if missing:
        names = ", ".join("python-multipart" if m == "multipart" else m for m in missing)
        raise ConfigError(f"the console needs {names}: {INSTALL}")
