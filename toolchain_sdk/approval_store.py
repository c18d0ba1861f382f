"""Deprecated since 0.2: approval stores live in ``toolchain_sdk.approval`` (``open_store``, ``SQLiteStore``, ...).

Removed in 0.3.
"""

import warnings

from toolchain_sdk.approval.store import *  # noqa: F403
from toolchain_sdk.approval.store import __all__ as __all__

warnings.warn(
    "toolchain_sdk.approval_store is deprecated and will be removed in 0.3; import open_store and the "
    "stores from toolchain_sdk.approval",
    DeprecationWarning,
    stacklevel=2,
)
