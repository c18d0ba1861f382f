"""Deprecated since 0.2: the flag file lives in ``toolchain_sdk.flags`` (``FlagFile``, ``FlagEntry``).

Removed in 0.3.
"""

import warnings

from toolchain_sdk.flags._flag_file import (
    DEFAULT_FLAGS_FILE,
    TOOLCHAIN_FLAGS_FILE,
    Change,
    FlagEntry,
    FlagFile,
    default_flags_path,
    format_time,
    parse_duration,
)

__all__ = [
    "DEFAULT_FLAGS_FILE",
    "TOOLCHAIN_FLAGS_FILE",
    "Change",
    "FlagEntry",
    "FlagFile",
    "default_flags_path",
    "format_time",
    "parse_duration",
]

warnings.warn(
    "toolchain_sdk.flag_file is deprecated and will be removed in 0.3; import FlagFile and FlagEntry "
    "from toolchain_sdk.flags",
    DeprecationWarning,
    stacklevel=2,
)
