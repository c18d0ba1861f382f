"""An approval decision as the fields of its audit record: one place for ``toolchain approvals`` and the console."""

from __future__ import annotations

from toolchain_sdk import config
from toolchain_sdk.approval._values import ApprovalRequest, Decision

__all__ = ["decision_event"]


def decision_event(request: ApprovalRequest, decision: Decision) -> dict[str, object]:
    """The fields of the ``approval_decision`` audit record of ``decision`` on ``request``.

    The approver (and, for an edit, the editor) is ``decision.by``; an edit records the original
    output's hash and the edited output's, under the configured hasher.
    """
    edited = decision.verdict == "edited"
    hasher = config.hasher()
    return {
        "time": decision.decided_at,
        "actor": decision.by,
        "surface": request.surface,
        "risk": request.risk,
        "trace_id": request.trace_id,
        "span_id": request.span_id,
        "approval_id": request.id,
        "approval_decision": decision.verdict,
        "approval_approver": decision.by,
        "approval_reason": decision.reason or None,
        "override_editor": decision.by if edited else None,
        "override_reason": decision.reason if edited else None,
        "override_original_sha256": request.output_sha256 if edited else None,
        "output_sha256": hasher.hash_value(decision.output) if edited else None,
        "hash_alg": hasher.alg if edited else None,
        "hash_key_id": hasher.key_id if edited else None,
    }
