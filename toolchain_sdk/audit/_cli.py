"""``toolchain audit verify|show|replay``: check a chain, list its records, reproduce a call.

Exit statuses: ``verify`` 0 intact, 1 tampered, 3 torn last record; ``replay`` 0 when everything
recorded still matches, 1 when a part no longer does; 2 for usage and configuration errors
(no chain at PATH, no such record, a bad ``--since``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import re
import sys
from typing import cast

from toolchain_sdk.audit._record import AuditRecord
from toolchain_sdk.audit._replay import Resolver, replay
from toolchain_sdk.audit._source import read
from toolchain_sdk.audit._verify import verify
from toolchain_sdk.errors import ConfigError

__all__ = ["add_commands", "parse_since"]

_RELATIVE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?\Z")


def parse_since(text: str, *, now: _dt.datetime | None = None) -> _dt.datetime:
    """A ``--since`` value as an aware UTC time: RFC 3339 / ISO 8601 (``2026-11-30``,
    ``2026-11-30T12:00:00Z``) or a span back from now (``90m``, ``2h``, ``7d``, ``1d12h``).

    Raises:
        ConfigError: neither form.
    """
    text = text.strip()
    match = _RELATIVE.match(text)
    if text and match and any(match.groups()):
        d, h, m, s = (int(g or 0) for g in match.groups())
        return (now or _dt.datetime.now(_dt.UTC)) - _dt.timedelta(days=d, hours=h, minutes=m, seconds=s)
    try:
        when = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--since {text!r}: give an RFC 3339 time (2026-11-30T12:00:00Z), a date (2026-11-30) "
            "or a span back from now (90m, 2h, 7d)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=_dt.UTC)


def _record_time(record: AuditRecord) -> _dt.datetime:
    """The record's ``time`` as an aware datetime (for ``--since``)."""
    return _dt.datetime.fromisoformat(record.time.replace("Z", "+00:00"))


def _cmd_verify(args: argparse.Namespace) -> int:
    """``toolchain audit verify``: print the result; exit 0 intact, 1 tampered, 3 torn."""
    result = verify(args.path, anchor=args.anchor)
    if args.json:
        print(
            json.dumps(
                {
                    "status": result.status,
                    "exit_code": result.exit_code,
                    "records": result.records,
                    "problem": result.problem,
                    "file": result.file,
                    "line": result.line,
                    "id": result.record_id,
                    "message": result.message,
                    "side_files": list(result.side_files),
                    "head_seq": result.head_seq,
                    "head_hash": result.head_hash,
                    "keyed": result.keyed,
                }
            )
        )
    else:
        alg = "HMAC-SHA256" if result.keyed else "SHA-256"
        print(f"{result.status}: {result.message} ({alg})")
    return result.exit_code


def _selected(args: argparse.Namespace) -> list[AuditRecord]:
    """The records ``show``'s filters keep, oldest first."""
    since = parse_since(args.since) if args.since else None
    chosen = []
    for record in read(args.path):
        if args.surface is not None and record.surface != args.surface and record.pattern != args.surface:
            continue
        if args.trace_id is not None and record.trace_id != args.trace_id:
            continue
        if args.outcome is not None and record.outcome != args.outcome:
            continue
        if args.kind is not None and record.kind != args.kind:
            continue
        if since is not None and _record_time(record) < since:
            continue
        chosen.append(record)
    return chosen[-args.limit :] if args.limit else chosen


def _cmd_show(args: argparse.Namespace) -> int:
    """``toolchain audit show``: a rich table, or one stored record per line with ``--json``."""
    records = _selected(args)
    if args.json:
        for record in records:
            print(json.dumps(record.to_json_dict(), ensure_ascii=False, separators=(",", ":")))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.path}: {len(records)} record(s)", show_lines=False)
    for column in ("seq", "time", "kind", "surface", "outcome", "risk", "model", "detail", "trace", "id"):
        table.add_column(column, overflow="fold")
    for r in records:
        if r.kind == "flag_change":
            detail = f"{r.action} {r.pattern} by {r.actor}: {r.reason or '-'}"
        elif r.kind == "approval_decision":
            detail = f"{r.approval_decision} {r.approval_id} by {r.approval_approver}"
        else:
            detail = ", ".join(
                part
                for part in (
                    f"prompt {r.prompt_name}@{r.prompt_version}" if r.prompt_name else "",
                    f"approval {r.approval_decision}" if r.approval_decision else "",
                    "kill switch" if r.kill_switch_active else "",
                    r.error_type or "",
                )
                if part
            )
        table.add_row(
            str(r.seq),
            r.time,
            r.kind,
            r.surface or r.pattern or "-",
            r.outcome or "-",
            r.risk or "-",
            r.model or "-",
            detail or "-",
            r.trace_id[:16] or "-",
            r.id,
        )
    Console(width=max(Console().width, 160)).print(table)
    return 0


def _load_resolver(spec: str) -> Resolver:
    """Import the ``module:function`` given to ``--resolver`` (the working directory is importable)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"--resolver {spec!r}: write module:function (e.g. myapp.search:document_sha256)")
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        target: object = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"--resolver {spec!r}: {exc}") from None
    if not callable(target):
        raise ConfigError(f"--resolver {spec!r}: not callable")
    return cast(Resolver, target)


def _cmd_replay(args: argparse.Namespace) -> int:
    """``toolchain audit replay``: print the report; exit 1 (listing the parts on stderr) when one no longer matches."""
    if (args.record_id is None) == (args.trace_id is None):
        raise ConfigError("toolchain audit replay: give a RECORD_ID or --trace-id ID (exactly one)")
    resolver = _load_resolver(args.resolver) if args.resolver else None
    result = replay(
        args.path, record_id=args.record_id, trace_id=args.trace_id, prompts_dir=args.prompts_dir, resolver=resolver
    )
    print(result.text())
    if not result.ok:
        failed = [f"{c.part} ({c.detail})" for item in result.items for c in item.checks if c.status == "mismatch"]
        print(f"replay: no longer matches: {'; '.join(failed)}", file=sys.stderr)
    return result.exit_code


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``audit verify|show|replay`` on the ``toolchain`` parser."""
    parser = sub.add_parser(
        "audit",
        help="verify, list and replay the audit trail",
        description="The hash-chained audit trail: PATH is a JSONL chain (its rotated segments are found beside "
        "it) or sqlite:///PATH.db.",
    )
    cmds = parser.add_subparsers(dest="audit_command", required=True)

    p = cmds.add_parser(
        "verify",
        help="check every hash and link of a chain",
        description="Exit 0 when the chain is intact, 1 when a record was modified, deleted, inserted or "
        "reordered (naming the first by line and id), 3 when only the last record is torn. Set "
        "TOOLCHAIN_AUDIT_KEY when the chain was written with it.",
    )
    p.add_argument("path", help="the chain: audit.jsonl or sqlite:///audit.db")
    p.add_argument("--anchor", help="the prev_hash of the first record kept (after old segments were archived)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=_cmd_verify)

    p = cmds.add_parser("show", help="list records", description="List records, oldest first, filtered.")
    p.add_argument("path", help="the chain: audit.jsonl or sqlite:///audit.db")
    p.add_argument("--surface", help="only this surface (or flag pattern)")
    p.add_argument("--since", help="only records from this time on: 2026-11-30T12:00:00Z, 2026-11-30, 2h, 7d")
    p.add_argument("--trace-id", help="only records of this trace")
    p.add_argument("--outcome", choices=("ok", "fallback", "denied", "error"), help="only this outcome")
    p.add_argument("--kind", choices=("call", "flag_change", "approval_decision"), help="only this kind")
    p.add_argument("--limit", type=int, default=0, help="only the last N records that match")
    p.add_argument("--json", action="store_true", help="one record per line, as stored")
    p.set_defaults(func=_cmd_show)

    p = cmds.add_parser(
        "replay",
        help="print what is needed to reproduce a recorded call, and check it still matches",
        description="Print the prompt (checked against its recorded sha256), model, route, captured inputs, "
        "retrieval and the command that recomputes the output hash. Exit 0 when everything recorded still "
        "matches, 1 naming the part that no longer does.",
    )
    p.add_argument("path", help="the chain: audit.jsonl or sqlite:///audit.db")
    p.add_argument("record_id", nargs="?", help="the record's id")
    p.add_argument("--trace-id", help="every record of this trace instead")
    p.add_argument("--prompts-dir", help="where prompt files are (default: $TOOLCHAIN_PROMPTS_DIR or prompts)")
    p.add_argument(
        "--resolver", help="module:function(index, version, doc_id) -> current sha256 or text, to check documents"
    )
    p.set_defaults(func=_cmd_replay)
