"""``toolchain approvals list|show|approve|deny|edit``: reviewers decide pending approval requests.

Works from any process or machine that reaches the queue: ``--store`` (a path, ``sqlite:///path``
or ``postgresql://...``), else ``TOOLCHAIN_APPROVALS_URL``, else ``.toolchain/approvals.db``.
A refused decision (unknown, already decided, expired, hash mismatch) exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolchain_sdk.approval._values import ApprovalRequest, Decision, utcnow
from toolchain_sdk.approval.store import (
    DEFAULT_PATH,
    STATUSES,
    TOOLCHAIN_APPROVALS_URL,
    ApprovalRecord,
    ApprovalStore,
    open_store,
)
from toolchain_sdk.errors import DecisionRefused

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
    return out


def _store(args: argparse.Namespace) -> ApprovalStore:
    return open_store(args.store)


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
        lines.append(f"output     {req.hash_alg}={req.output_sha256}  kind={req.output_kind}  (secrets redacted)")
        lines.append(_pretty(req.output))
    if record.decision is not None:
        d = record.decision
        lines.append(f"decision   {d.verdict} by {d.by} at {d.decided_at.isoformat()}: {d.reason or '(no reason)'}")
        if d.verdict == "edited":
            lines.append(_pretty(d.output if not isinstance(d.output, bytes) else repr(d.output)))
    elif record.closed_at is not None:
        lines.append(f"closed     {record.status} at {record.closed_at.isoformat()} (the call was denied)")
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
    print(f"{stored.status} {request.id} ({request.surface}) by {decision.by} at {utcnow().isoformat()}")
    return 0


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
    p.set_defaults(func=_cmd_list)

    p = cmds.add_parser("show", parents=[common], help="show one request: arguments, output, hashes, decision")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_show)

    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("id", help="the request id (from `toolchain approvals list`)")
    who.add_argument("--by", required=True, type=_nonempty, help="who decides (recorded on the span)")

    p = cmds.add_parser("approve", parents=[common, who], help="approve a pending request")
    p.add_argument("--reason", default="", help="why (recorded on the span)")
    p.add_argument(
        "--expect-sha256", help="refuse unless the request's arguments/output hash is this (what you reviewed)"
    )
    p.set_defaults(func=_cmd_approve)

    p = cmds.add_parser("deny", parents=[common, who], help="deny a pending request")
    p.add_argument("--reason", required=True, type=_nonempty, help="why (recorded on the span)")
    p.set_defaults(func=_cmd_deny)

    p = cmds.add_parser("edit", parents=[common, who], help="replace the output under review (after-mode requests)")
    p.add_argument("--output-file", required=True, help="the edited output ('-' for stdin): text, bytes or JSON")
    p.add_argument("--reason", required=True, help="why the output was changed (required, recorded on the span)")
    p.set_defaults(func=_cmd_edit)
