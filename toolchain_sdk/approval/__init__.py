"""Approval gates: a person approves a high-risk call before it runs, or its output after.

::

    @tc.governed_call("billing.refund", risk="high", fallback=manual_review,
                      approval=tc.approval.require(when="before", timeout="15m"))
    def issue_refund(order_id: str, amount: float) -> str: ...

* ``require(...)`` gates a surface; ``not_required(reason=...)`` says on the record why a
  high-risk surface is not gated (without either, a high-risk surface is a ``ConfigError``).
* Approvers: ``queue(store)`` (durable SQLite/PostgreSQL queue, decided with ``toolchain
  approvals``; the default), ``callback(fn)``, ``deny_all()``, ``auto_approve()`` (test/dev only).
* Decisions are bound to their request (id + hash of the exact arguments or output); anything
  but an explicit, well-formed, bound approval denies the call (``ApprovalDenied``).

See ``docs/approvals.md``.
"""

from toolchain_sdk.approval._approvers import (
    TOOLCHAIN_ENV,
    Approver,
    CallbackApprover,
    approving_as,
    auto_approve,
    callback,
    deny_all,
    refusing_approvals,
)
from toolchain_sdk.approval._declare import (
    NotRequired,
    PolicySpec,
    Requirement,
    build_approval_gate,
    not_required,
    require,
)
from toolchain_sdk.approval._events import decision_event
from toolchain_sdk.approval._policies import Policy
from toolchain_sdk.approval._queue import QueueApprover, queue
from toolchain_sdk.approval._values import ApprovalRequest, Decision, Phase, Verdict
from toolchain_sdk.approval.store import (
    TOOLCHAIN_APPROVALS_URL,
    ApprovalRecord,
    ApprovalStore,
    PostgresStore,
    SQLiteStore,
    Status,
    open_store,
)
from toolchain_sdk.errors import DecisionRefused

__all__ = [
    "ApprovalRecord",
    "ApprovalRequest",
    "ApprovalStore",
    "Approver",
    "CallbackApprover",
    "Decision",
    "DecisionRefused",
    "NotRequired",
    "Phase",
    "Policy",
    "PolicySpec",
    "PostgresStore",
    "QueueApprover",
    "Requirement",
    "SQLiteStore",
    "Status",
    "TOOLCHAIN_APPROVALS_URL",
    "TOOLCHAIN_ENV",
    "Verdict",
    "approving_as",
    "auto_approve",
    "build_approval_gate",
    "callback",
    "decision_event",
    "deny_all",
    "not_required",
    "open_store",
    "queue",
    "refusing_approvals",
    "require",
]
