"""Deprecated since 0.2: approval stores live in ``toolchain_sdk.approval`` (``open_store``, ``SQLiteStore``, ...).

Removed in 0.3.
"""

import warnings

from toolchain_sdk.approval.store import (
    DEFAULT_PATH,
    STATUSES,
    TOOLCHAIN_APPROVALS_URL,
    ApprovalRecord,
    ApprovalStore,
    DecisionRefused,
    PostgresStore,
    SQLiteStore,
    Status,
    open_store,
)

__all__ = [
    "DEFAULT_PATH",
    "STATUSES",
    "TOOLCHAIN_APPROVALS_URL",
    "ApprovalRecord",
    "ApprovalStore",
    "DecisionRefused",
    "PostgresStore",
    "SQLiteStore",
    "Status",
    "open_store",
]

warnings.warn(
    "toolchain_sdk.approval_store is deprecated and will be removed in 0.3; import open_store and the "
    "stores from toolchain_sdk.approval",
    DeprecationWarning,
    stacklevel=2,
)
