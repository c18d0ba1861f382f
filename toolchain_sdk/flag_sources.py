"""Deprecated since 0.2: kill-switch sources live in ``toolchain_sdk.flags`` (``EnvSource``, ``OpenFeatureSource``).

Removed in 0.3.
"""

import warnings

from toolchain_sdk.flags._env import TOOLCHAIN_KILL, EnvSource, parse_kill_list
from toolchain_sdk.flags._match import GlobMatcher
from toolchain_sdk.flags._openfeature import OpenFeatureSource

__all__ = ["TOOLCHAIN_KILL", "EnvSource", "GlobMatcher", "OpenFeatureSource", "parse_kill_list"]

warnings.warn(
    "toolchain_sdk.flag_sources is deprecated and will be removed in 0.3; import EnvSource and "
    "OpenFeatureSource from toolchain_sdk.flags",
    DeprecationWarning,
    stacklevel=2,
)
