"""``toolchain kill`` / ``allow`` / ``restore`` / ``flags``: operate kill switches from a shell.

They edit the local flag file (``--file``, else ``TOOLCHAIN_FLAGS_FILE``, else
``.toolchain/flags.json``) through ``FlagFile``: locked, atomic, and logged with who, when and
why. Running processes that read the file pick a change up within about a second.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from toolchain_sdk.errors import ToolchainError
from toolchain_sdk.flags._env import TOOLCHAIN_KILL
from toolchain_sdk.flags._events import change_event
from toolchain_sdk.flags._flag_file import Change, FlagEntry, FlagFile, format_time, parse_duration

__all__ = ["add_commands"]

_TARGET_HELP = "a surface name (support.refund_reply), its flag key, or a glob pattern ('support.*', '*')"


def _file(args: argparse.Namespace) -> FlagFile:
    return FlagFile(args.file)


def _describe(entry: FlagEntry) -> str:
    until = f" until {format_time(entry.until)}" if entry.until else ""
    return f"{'killed' if entry.killed else 'allowed'} by {entry.by or '?'}{until}: {entry.reason or '(no reason)'}"


def _matching(flags: FlagFile, name: str) -> list[FlagEntry]:
    now = datetime.now(UTC)
    return [
        e
        for t, e in sorted(flags.entries().items())
        if t != name and e.active(now) and (fnmatch.fnmatchcase(name, t) or fnmatch.fnmatchcase(t, name))
    ]


def _audit(flags: FlagFile, change: Change, args: argparse.Namespace) -> None:
    """Append the change to the audit chain ``TOOLCHAIN_AUDIT`` or ``toolchain.toml`` names (warn if it cannot)."""
    from toolchain_sdk import audit

    try:
        audit.append_event("flag_change", **change_event(flags, change, getattr(args, "ttl", None)))
    except ToolchainError as exc:
        print(f"toolchain: warning: the change was made but not recorded in the audit trail: {exc}", file=sys.stderr)


def _cmd_set(args: argparse.Namespace) -> int:
    flags = _file(args)
    ttl = parse_duration(args.ttl) if args.ttl else None
    setter = flags.kill if args.command == "kill" else flags.allow
    change = setter(args.target, reason=args.reason, by=args.by, ttl=ttl)
    assert change.after is not None
    _audit(flags, change, args)
    verb = "updated" if change.before is not None else "set"
    print(f"{verb} {change.target}: {_describe(change.after)}")
    print(f"file: {flags.path} (running processes follow within about 1 s; change log: {flags.log_path})")
    if args.command == "allow":
        others = [e for e in _matching(flags, args.target) if e.killed]
        for entry in others:
            print(f"note: {entry.target!r} is also killed; the more specific entry wins where both match")
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    flags = _file(args)
    change = flags.restore(args.target, reason=args.reason, by=args.by)
    if change is None:
        print(f"toolchain: no entry named {args.target!r} in {flags.path}; nothing changed", file=sys.stderr)
        for entry in _matching(flags, args.target):
            print(f"  entry {entry.target!r} matches it: {_describe(entry)}", file=sys.stderr)
        print("  restore removes exactly the entry it names; see `toolchain flags`", file=sys.stderr)
        return 1
    assert change.before is not None
    _audit(flags, change, args)
    print(f"restored {change.target}: removed the entry ({_describe(change.before)})")
    for entry in _matching(flags, args.target):
        print(f"note: {entry.target!r} still applies where it matches: {_describe(entry)}")
    if os.environ.get(TOOLCHAIN_KILL):
        print(f"note: {TOOLCHAIN_KILL} is set in this shell; processes started with it stay switched off")
    return 0


def _cmd_flags(args: argparse.Namespace) -> int:
    flags = _file(args)
    now = datetime.now(UTC)
    if args.history is not None:
        records = flags.history(args.history or None)
        if args.json:
            print(json.dumps(records, indent=2))
            return 0
        for r in records:
            print(f"{r['at']}  {r['action']:<7}  {r['target']}  by {r['by']}: {r['reason']}")
        if not records:
            print(f"no changes logged in {flags.log_path}")
        return 0
    entries = sorted(flags.entries().values(), key=lambda e: e.target)
    env = os.environ.get(TOOLCHAIN_KILL)
    if args.json:
        doc: dict[str, Any] = {
            "file": str(flags.path),
            "entries": [{"target": e.target, "state": e.describe_state(now), **e.to_json()} for e in entries],
            "env": {TOOLCHAIN_KILL: env},
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(f"flag file: {flags.path}")
    if not entries:
        print("  no entries: every surface follows its other sources and its kill_default")
    else:
        rows = [("TARGET", "STATE", "BY", "SINCE", "UNTIL", "REASON")]
        rows += [
            (
                e.target,
                e.describe_state(now),
                e.by or "-",
                format_time(e.since) if e.since else "-",
                format_time(e.until) if e.until else "-",
                e.reason or "-",
            )
            for e in entries
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for row in rows:
            print("  " + "  ".join(c.ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5])
    print(f"{TOOLCHAIN_KILL} in this shell: {env!r}" if env else f"{TOOLCHAIN_KILL} is not set in this shell")
    return 0


def _positive(text: str) -> int:
    """A whole number of at least 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value} (leave N out for the whole log)")
    return value


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kill``, ``allow``, ``restore`` and ``flags`` on the ``toolchain`` parser."""

    def common(p: argparse.ArgumentParser, *, ttl: bool) -> None:
        p.add_argument("target", help=_TARGET_HELP)
        p.add_argument("--reason", required=True, help="why (required; goes to the change log)")
        p.add_argument("--by", help="who is making the change (default: your login name)")
        if ttl:
            p.add_argument("--ttl", help="lapse after this long, e.g. 30m, 2h, 1d, 1h30m (default: until restored)")
        p.add_argument("--file", help="the flag file (default: $TOOLCHAIN_FLAGS_FILE or .toolchain/flags.json)")

    changes = (
        ("kill", _cmd_set, True, "switch surfaces to their deterministic fallback",
         "Switch every surface matching TARGET to its fallback (calls stop reaching the model) until "
         "`toolchain restore TARGET` or the TTL runs out. Running processes follow within about 1 s."),
        ("allow", _cmd_set, True, "pin surfaces on their model (overrides a broader kill and kill_default=True)",
         "Write an entry that keeps matching surfaces on the model: it wins over a less specific killed "
         "pattern in the file and over kill_default=True. It cannot override TOOLCHAIN_KILL or another source."),
        ("restore", _cmd_restore, False, "remove the flag-file entry named TARGET",
         "Remove exactly the entry named TARGET (a surface, flag key or pattern) from the flag file."),
    )  # fmt: skip
    for name, func, ttl, summary, description in changes:
        p = sub.add_parser(name, help=summary, description=description)
        common(p, ttl=ttl)
        p.set_defaults(func=func)
    show = sub.add_parser(
        "flags",
        help="show the flag file: what is switched off, by whom, why, since and until when",
        description="List the flag file's entries and this shell's TOOLCHAIN_KILL; --history shows the change log.",
    )
    show.add_argument("--file", help="the flag file (default: $TOOLCHAIN_FLAGS_FILE or .toolchain/flags.json)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument(
        "--history",
        nargs="?",
        type=_positive,
        const=0,
        metavar="N",
        help="show the change log (all of it, or the last N changes; N >= 1)",
    )
    show.set_defaults(func=_cmd_flags)
