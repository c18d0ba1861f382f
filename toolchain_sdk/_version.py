"""The package version, read once from the installed distribution's metadata (``pyproject.toml`` is its only source)."""

from __future__ import annotations

import functools
from importlib import metadata

__all__ = ["DISTRIBUTION", "version"]

DISTRIBUTION = "toolchain-sdk"


@functools.cache
def version() -> str:
    """The installed ``toolchain-sdk`` version (``0+unknown`` when run from a tree that was never installed)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"
