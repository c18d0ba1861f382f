"""Deprecated since 0.2: the flag file lives in ``toolchain_sdk.flags`` (``FlagFile``, ``FlagEntry``).

Removed in 0.3.
"""

import warnings

from toolchain_sdk.flags._flag_file import *  # noqa: F403
from toolchain_sdk.flags._flag_file import __all__ as __all__

warnings.warn(
    "toolchain_sdk.flag_file is deprecated and will be removed in 0.3; import FlagFile and FlagEntry "
    "from toolchain_sdk.flags",
    DeprecationWarning,
    stacklevel=2,
)
