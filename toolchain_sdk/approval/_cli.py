"""``toolchain approvals list|show|approve|deny|edit``: reviewers decide pending approval requests.

Works from any process or machine that reaches the queue: ``--store`` (a path, ``sqlite:///path``
or ``postgresql://...``), else ``TOOLCHAIN_APPROVALS_URL``, else ``.toolchain/approvals.db``.
The commands never create a queue: one that does not exist, is not a queue or cannot be reached
is a one-line error (no password in it). Exit status 2 for every refusal and error: unknown
request, already decided, expired, hash mismatch, an edit that does not fit the output's type,
a request whose caller is gone, or a decision the waiting call refused.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from toolchain_sdk.approval._events import decision_event
from toolchain_sdk.approval._values import ApprovalRequest, Decision, utcnow
from toolchain_sdk.approval.store import (
    DEFAULT_PATH,
    STATUSES,
    TOOLCHAIN_APPROVALS_URL,
    ApprovalRecord,
    ApprovalStore,
    open_store,
)
from toolchain_sdk.errors import ConfigError, DecisionRefused, ToolchainError
from toolchain_sdk.redaction import scrub_text

__all__ = ["add_commands", "record_json"]


def record_json(record: ApprovalRecord) -> dict[str, Any]:
    """A stored request as a JSON object (what ``--json`` prints)."""
    req = record.request
    out: dict[str, Any] = {
        "id": req.id,
        "surface": req.surface,
        "risk": req.risk,
        "phase": req.phase,
        "status": record.status,
        "created_at": req.created_at.isoformat(),
        "expires_at": req.expires_at.isoformat(),
        "arguments": dict(req.arguments),
        "arguments_sha256": req.arguments_sha256,
        "subject_sha256": req.subject_sha256,
        "hash_alg": req.hash_alg,
        "trace_id": req.trace_id,
        "span_id": req.span_id,
    }
    if req.phase == "after":
        out.update(output=req.output, output_kind=req.output_kind, output_sha256=req.output_sha256)
    if req.output_schema is not None:
        out["output_schema"] = dict(req.output_schema)
    if record.owner:
        out["caller"] = record.owner
    if record.heartbeat_at is not None:
        out["caller_seen_at"] = record.heartbeat_at.isoformat()
    if record.decision is not None:
        d = record.decision
        out["decision"] = {
            "verdict": d.verdict,
            "by": d.by,
            "reason": d.reason,
            "decided_at": d.decided_at.isoformat(),
            "subject_sha256": d.subject_sha256,
        }
        if d.verdict == "edited":
            out["decision"]["output"] = d.output if not isinstance(d.output, bytes) else d.output.decode("latin-1")
    if record.closed_at is not None:
        out["closed_at"] = record.closed_at.isoformat()
    if record.reason:
        out["reason"] = record.reason
    return out


def _where(args: argparse.Namespace) -> str:
    return str(args.store or os.environ.get(TOOLCHAIN_APPROVALS_URL) or DEFAULT_PATH)


def _store(args: argparse.Namespace) -> ApprovalStore:
    """The queue ``--store`` names; never created here (a mistyped path is an error, not a new queue)."""
    return open_store(_where(args), create=False)


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command so that any failure of the store (a file that is not a database, a table that
    is not a queue, a server that cannot be reached) is one line with exit status 2, and no
    password of the store's URL is ever printed."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (ToolchainError, OSError, ValueError) as exc:
            message = _one_line(str(exc), args)
            if message == str(exc):
                raise
            raise ConfigError(message) from None
        except Exception as exc:  # the database's own errors (sqlite3, psycopg)
            where = _one_line(_where(args), args)
            raise ConfigError(_one_line(f"approval store {where}: {type(exc).__name__}: {exc}", args)) from None

    return run


def _one_line(text: str, args: argparse.Namespace) -> str:
    """``text`` on one line, with the store URL's password (and any other credential) taken out."""
    where = _where(args)
    password = urlsplit(where).password if "://" in where else None
    if password:
        text = text.replace(password, "***")
    return scrub_text(" ".join(text.split()))


def _find(store: ApprovalStore, request_id: str) -> ApprovalRecord:
    record = store.get(request_id)
    if record is None:
        raise DecisionRefused(f"no approval request {request_id!r} in {store.url}")
    return record


def _left(record: ApprovalRecord) -> str:
    seconds = int(record.request.remaining())
    if record.status != "pending":
        return record.status
    if seconds <= 0:
        return "pending, expired"
    if record.caller_gone():
        return "pending, its caller is gone"
    return f"pending, {seconds // 60}m{seconds % 60:02d}s left"


def _cmd_list(args: argparse.Namespace) -> int:
    status = None if args.status == "all" else args.status
    records = _store(args).list(status=status, surface=args.surface, limit=args.limit)
    if args.json:
        print(json.dumps([record_json(r) for r in records], indent=2, ensure_ascii=False))
        return 0
    if not records:
        print(f"no {args.status if status else ''} approval requests".replace("  ", " "))
        return 0
    for r in records:
        decided = f" by {r.decision.by}" if r.decision else ""
        created = r.request.created_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{r.request.id}  {created}Z  {r.request.phase:<6}  {r.request.surface}  ({_left(r)}{decided})")
    return 0


def _pretty(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _cmd_show(args: argparse.Namespace) -> int:
    record = _find(_store(args), args.id)
    if args.json:
        print(json.dumps(record_json(record), indent=2, ensure_ascii=False))
        return 0
    req = record.request
    lines = [
        f"request    {req.id}  ({_left(record)})",
        f"surface    {req.surface}  risk={req.risk}  decide {req.phase} the call",
        f"created    {req.created_at.isoformat()}  expires {req.expires_at.isoformat()}",
    ]
    if req.trace_id:
        lines.append(f"trace      {req.trace_id}  span {req.span_id}")
    lines.append(f"arguments  {req.hash_alg}={req.arguments_sha256}  (secrets redacted)")
    lines.append(_pretty(dict(req.arguments)))
    if req.phase == "after":
        title = (req.output_schema or {}).get("title")
        kind = f"kind={req.output_kind}" + (f"  type={title}" if isinstance(title, str) else "")
        lines.append(f"output     {req.hash_alg}={req.output_sha256}  {kind}  (secrets redacted)")
        lines.append(_pretty(req.output))
    if record.owner:
        seen = f", last seen {record.heartbeat_at.isoformat()}" if record.heartbeat_at else ""
        lines.append(f"caller     {record.owner}{seen}")
    if record.decision is not None:
        d = record.decision
        lines.append(f"decision   {d.verdict} by {d.by} at {d.decided_at.isoformat()}: {d.reason or '(no reason)'}")
        if d.verdict == "edited":
            lines.append(_pretty(d.output if not isinstance(d.output, bytes) else repr(d.output)))
    if record.decision is not None and record.status != "error" and record.closed_at is not None:
        lines.append(f"taken      by the waiting call at {record.closed_at.isoformat()}")
    if record.status == "error" and record.closed_at is not None:
        lines.append(f"closed     error at {record.closed_at.isoformat()}: the waiting call refused the decision "
                     f"and was denied: {record.reason}")  # fmt: skip
    elif record.decision is None and record.closed_at is not None:
        why = f": {record.reason}" if record.reason else ""
        lines.append(f"closed     {record.status} at {record.closed_at.isoformat()} (the call was denied){why}")
    print("\n".join(lines))
    return 0


def _decide(args: argparse.Namespace, build: Callable[[ApprovalRequest], Decision]) -> int:
    store = _store(args)
    record = _find(store, args.id)
    request = record.request
    expected = getattr(args, "expect_sha256", None)
    if expected and expected != request.subject_sha256:
        raise DecisionRefused(
            f"request {request.id}: its {'output' if request.phase == 'after' else 'arguments'} hash is "
            f"{request.subject_sha256}, not the {expected} you reviewed; run `toolchain approvals show {request.id}`"
        )
    decision: Decision = build(request)
    stored = store.decide(decision)
    _audit(request, decision)
    if decision.verdict != "denied":  # what lets a call through is only done once the call took it
        stored = _settled(store, stored, args.wait)
    if stored.status == "error":
        raise DecisionRefused(
            f"{request.id} ({request.surface}): the waiting call refused the {_NOUNS[decision.verdict]} by "
            f"{decision.by} and was denied: {stored.reason}"
        )
    print(f"{stored.status} {request.id} ({request.surface}) by {decision.by} at {utcnow().isoformat()}")
    if stored.closed_at is None and decision.verdict != "denied":
        print(
            f"toolchain: the waiting call has not taken the decision yet; `toolchain approvals show {request.id}` "
            "says what it did",
            file=sys.stderr,
        )
    return 0


def _audit(request: ApprovalRequest, decision: Decision) -> None:
    """Append the decision to the audit chain ``TOOLCHAIN_AUDIT`` or ``toolchain.toml`` names (warn if it cannot)."""
    from toolchain_sdk import audit

    try:
        audit.append_event("approval_decision", **decision_event(request, decision))
    except ToolchainError as exc:
        print(f"toolchain: warning: the decision was made but not recorded in the audit trail: {exc}", file=sys.stderr)


_NOUNS: Final = {"approved": "approval", "denied": "denial", "edited": "edit"}


def _settled(store: ApprovalStore, record: ApprovalRecord, wait_s: float) -> ApprovalRecord:
    """``record`` once the waiting call has taken or refused its decision (at most ``wait_s`` later)."""
    deadline = time.monotonic() + max(wait_s, 0.0)
    while record.closed_at is None and time.monotonic() < deadline:
        time.sleep(0.05)
        record = store.get(record.request.id) or record
    return record


def _read_output(path: str, kind: str | None) -> object:
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    if kind == "bytes":
        return data
    text = data.decode("utf-8")
    if kind == "text":
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: the output under review is JSON, and this file is not JSON: {exc}") from None


def _cmd_approve(args: argparse.Namespace) -> int:
    return _decide(args, lambda r: r.approve(by=args.by, reason=args.reason or ""))


def _cmd_deny(args: argparse.Namespace) -> int:
    return _decide(args, lambda r: r.deny(by=args.by, reason=args.reason))


def _cmd_edit(args: argparse.Namespace) -> int:
    if not args.reason.strip():
        raise ValueError("an edit needs a non-empty --reason: the record must say why the output was changed")

    def build(request: ApprovalRequest) -> Decision:
        if request.phase != "after":
            raise DecisionRefused(f"request {request.id} is a before-call approval: there is no output to edit yet")
        return request.edit(_read_output(args.output_file, request.output_kind), by=args.by, reason=args.reason)

    return _decide(args, build)


def _nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``toolchain approvals ...`` on the ``toolchain`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store",
        default=None,
        help=f"the approval queue: a path, sqlite:///path or postgresql://... "
        f"(default: ${TOOLCHAIN_APPROVALS_URL}, else {DEFAULT_PATH})",
    )
    parser = sub.add_parser(
        "approvals",
        help="list and decide approval requests of gated surfaces",
        description="Reviewers' side of tc.approval.queue(): list pending requests, show one, and approve, "
        "deny or edit it. Each request is decided once; a decision is bound to the exact arguments or "
        "output shown.",
    )
    cmds = parser.add_subparsers(dest="approvals_command", required=True)

    p = cmds.add_parser("list", parents=[common], help="list requests (pending by default)")
    p.add_argument("--status", choices=[*STATUSES, "all"], default="pending")
    p.add_argument("--surface", help="only this surface")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_guarded(_cmd_list))

    p = cmds.add_parser("show", parents=[common], help="show one request: arguments, output, hashes, decision")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_guarded(_cmd_show))

    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("id", help="the request id (from `toolchain approvals list`)")
    who.add_argument("--by", required=True, type=_nonempty, help="who decides (recorded on the span)")
    who.add_argument(
        "--wait",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="approve/edit: wait this long for the waiting call to take the decision, and exit 2 if it refuses "
        "it (default 5)",
    )

    p = cmds.add_parser("approve", parents=[common, who], help="approve a pending request")
    p.add_argument("--reason", default="", help="why (recorded on the span)")
    p.add_argument(
        "--expect-sha256", help="refuse unless the request's arguments/output hash is this (what you reviewed)"
    )
    p.set_defaults(func=_guarded(_cmd_approve))

    p = cmds.add_parser("deny", parents=[common, who], help="deny a pending request")
    p.add_argument("--reason", required=True, type=_nonempty, help="why (recorded on the span)")
    p.set_defaults(func=_guarded(_cmd_deny))

    p = cmds.add_parser("edit", parents=[common, who], help="replace the output under review (after-mode requests)")
    p.add_argument("--output-file", required=True, help="the edited output ('-' for stdin): text, bytes or JSON")
    p.add_argument("--reason", required=True, help="why the output was changed (required, recorded on the span)")
    p.set_defaults(func=_guarded(_cmd_edit))
