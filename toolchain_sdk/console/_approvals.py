"""Approvals as the console shows and decides them: JSON shapes, listing, and one decide path.

A decision is built from the stored request exactly as ``toolchain approvals`` builds it
(``request.approve/deny/edit(by=...)``), with the logged-in user as ``by``, and recorded with the
same store call (``store.decide``), which refuses it unless the request is still pending, not
expired, and bound to the same subject hash. The page sends the hash it showed, so a page that is
stale (the request timed out, was decided, or changed) cannot decide.
"""

from __future__ import annotations

import base64
import datetime as _dt
import logging
import time
from collections.abc import Sequence
from typing import Any, Final, Literal

from toolchain_sdk import approval, audit
from toolchain_sdk.approval import ApprovalRecord, ApprovalStore, Decision, DecisionRefused
from toolchain_sdk.console._errors import ActionRefused
from toolchain_sdk.errors import ConfigError

__all__ = ["DECIDED", "Action", "approval_json", "decide", "find", "history", "no_queue_yet", "pending", "record_audit"]

Action = Literal["approve", "deny", "edit"]
DECIDED: Final = ("approved", "denied", "edited", "timeout", "cancelled", "error")
"""Every status but ``pending``: ``?status=decided`` includes timed-out and cancelled requests."""
_SETTLE_S: Final = 2.0
"""How long a decision waits for the waiting call to take it (as ``toolchain approvals --wait``)."""
_LIMIT: Final = 1000

_log = logging.getLogger("toolchain_sdk")


def _iso(moment: _dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def approval_json(record: ApprovalRecord) -> dict[str, Any]:
    """A stored request as the API returns it (and the pages show it)."""
    req = record.request
    out: dict[str, Any] = {
        "id": req.id,
        "surface": req.surface,
        "owner": req.owner,
        "risk": req.risk,
        "phase": req.phase,
        "status": record.status,
        "model": req.model,
        "prompt_name": req.prompt_name,
        "prompt_version": req.prompt_version,
        "created_at": req.created_at.isoformat(),
        "expires_at": req.expires_at.isoformat(),
        "seconds_left": max(0.0, round(req.remaining(), 3)) if record.status == "pending" else 0.0,
        "arguments": dict(req.arguments),
        "arguments_sha256": req.arguments_sha256,
        "subject_sha256": req.subject_sha256,
        "hash_alg": req.hash_alg,
        "trace_id": req.trace_id,
        "span_id": req.span_id,
        "output": req.output if req.phase == "after" else None,
        "output_kind": req.output_kind,
        "output_sha256": req.output_sha256,
        "decision": None,
        "closed_at": _iso(record.closed_at),
        "close_reason": record.reason or None,
    }
    if record.decision is not None:
        d = record.decision
        edited = d.output
        if isinstance(edited, (bytes, bytearray)):
            edited = base64.b64encode(bytes(edited)).decode("ascii")
        out["decision"] = {
            "verdict": d.verdict,
            "by": d.by,
            "reason": d.reason,
            "decided_at": d.decided_at.isoformat(),
            "subject_sha256": d.subject_sha256,
            "output": edited if d.verdict == "edited" else None,
        }
    return out


def no_queue_yet(exc: ConfigError) -> bool:
    """Whether ``exc`` says the approval queue does not exist yet: no application has asked for an
    approval there (the console never creates a queue, so a mistyped ``--store`` stays visible)."""
    return str(exc).startswith("no approval store at ")


def find(store: ApprovalStore, request_id: str) -> ApprovalRecord | None:
    """The request with this id, or ``None`` (none such, or no queue yet)."""
    try:
        return store.get(request_id)
    except ConfigError as exc:
        if no_queue_yet(exc):
            return None
        raise


def pending(store: ApprovalStore) -> list[ApprovalRecord]:
    """Pending requests, newest first."""
    records = list(store.list(status="pending", limit=_LIMIT))
    return sorted(records, key=lambda r: (r.request.created_at, r.request.id), reverse=True)


def history(
    store: ApprovalStore,
    *,
    status: str | None = None,
    surface: str | None = None,
    by: str | None = None,
    limit: int = 200,
) -> list[ApprovalRecord]:
    """Requests no longer pending, newest first, filtered by status, surface and decider."""
    statuses: Sequence[str] = (status,) if status in DECIDED else DECIDED
    found: list[ApprovalRecord] = []
    for one in statuses:
        found.extend(store.list(status=one, surface=surface or None, limit=_LIMIT))  # type: ignore[arg-type]
    if by:
        found = [r for r in found if r.decision is not None and r.decision.by == by]
    found.sort(key=lambda r: (r.request.created_at, r.request.id), reverse=True)
    return found[:limit]


def decide(
    store: ApprovalStore,
    request_id: str,
    action: Action,
    *,
    by: str,
    reason: str,
    subject_sha256: str | None = None,
    output: object = None,
) -> ApprovalRecord:
    """Decide one request as ``by`` (the logged-in user) and return it as stored afterwards.

    Args:
        subject_sha256: the hash the reviewer saw (the page always sends it; the API may); a
            request whose hash is another is refused.
        output: the edited output (``edit`` only), as the request's ``output_kind`` carries it
            (text; base64 text for bytes; any JSON value).

    Raises:
        ActionRefused: checked in this order: 404 unknown id; 409 the request is no longer
            pending, expired, changed, or its caller is gone; 422 a blank reason or an edit that
            does not fit.
    """
    record = find(store, request_id)
    if record is None:
        raise ActionRefused(404, f"no approval request {request_id!r}")
    request = record.request
    if record.status != "pending":
        who = f" by {record.decision.by}" if record.decision is not None else ""
        raise ActionRefused(409, f"request {request_id} is already {record.status}{who}; a request is decided once")
    if request.remaining() <= 0:
        raise ActionRefused(409, f"request {request_id} expired at {request.expires_at.isoformat()}")
    if subject_sha256 is not None and subject_sha256 != request.subject_sha256:
        raise ActionRefused(
            409,
            f"request {request_id} changed since it was shown (its hash is {request.subject_sha256[:12]}…, "
            f"the page showed {str(subject_sha256)[:12]}…): reload and decide on what it shows now",
        )
    if not isinstance(reason, str) or not reason.strip():
        raise ActionRefused(422, "a reason is required: say why (it is recorded with the decision)")
    decision = _decision(record, action, by=by, reason=reason.strip(), output=output)
    try:
        stored = store.decide(decision)
    except DecisionRefused as exc:
        now = store.get(request_id)
        still_open = now is not None and now.status == "pending" and now.request.remaining() > 0
        raise ActionRefused(422 if still_open and action == "edit" else 409, str(exc)) from None
    record_audit(stored, decision)
    if action != "deny":  # what lets a call through is done only once the waiting call took it
        deadline = time.monotonic() + _SETTLE_S
        while stored.closed_at is None and time.monotonic() < deadline:
            time.sleep(0.05)
            stored = store.get(request_id) or stored
    return stored


def _decision(record: ApprovalRecord, action: Action, *, by: str, reason: str, output: object) -> Decision:
    request = record.request
    if action == "approve":
        return request.approve(by=by, reason=reason)
    if action == "deny":
        return request.deny(by=by, reason=reason)
    if request.phase != "after":
        raise ActionRefused(409, f"request {request.id} is a before-call approval: there is no output to edit yet")
    if output is None:
        raise ActionRefused(422, "an edit needs the edited output")
    if request.output_kind == "text" and not isinstance(output, str):
        raise ActionRefused(422, f"the output under review is text; the edit must be text, not {type(output).__name__}")
    if request.output_kind == "bytes":
        try:
            output = base64.b64decode(str(output), validate=True)
        except ValueError:
            raise ActionRefused(422, "the output under review is bytes: send the edit as base64 text") from None
    return request.edit(output, by=by, reason=reason)


def record_audit(record: ApprovalRecord, decision: Decision) -> None:
    """Append an ``approval_decision`` record to the audit chain, when one is configured, with the
    fields ``toolchain approvals`` records (the approver is the logged-in user)."""
    request = record.request
    try:
        audit.append_event("approval_decision", **approval.decision_event(request, decision))
    except Exception as exc:  # the decision stands; the operator is told the trail missed it
        _log.warning("toolchain console: the decision on %s was made but not recorded in the audit trail: %s",
                     request.id, exc)  # fmt: skip
