"""``toolchain prompts lock|verify|label|list|show|diff|log``: review and gate prompt files from a shell.

The directory is ``--dir``, else ``TOOLCHAIN_PROMPTS_DIR``, else ``prompts``. ``verify`` is the CI
gate (exit 1 on any problem); ``lock`` and ``label`` change only ``prompts.lock`` and append to
``prompts.log.jsonl``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from toolchain_sdk.errors import PromptError
from toolchain_sdk.prompts._changes import lock_versions, move_label
from toolchain_sdk.prompts._files import prompts_dir, scan
from toolchain_sdk.prompts._lock import LOCK_FILE, LOG_FILE, read_lock, read_log, verify
from toolchain_sdk.prompts._resolve import Found, find, natural

__all__ = ["add_commands"]


def _dir(args: argparse.Namespace) -> Path:
    return prompts_dir(args.dir)


def _cmd_lock(args: argparse.Namespace) -> int:
    directory = _dir(args)
    result = lock_versions(directory, by=args.by, reason=args.reason or "")
    if result.refused:
        for problem in result.refused:
            print(problem.line(), file=sys.stderr)
        print(f"toolchain: nothing locked; {result.lock_path} is unchanged", file=sys.stderr)
        return 1
    for file, entry in result.added:
        print(f"locked {file.ref}  sha256 {entry.sha256}  ({file.path})")
    for ref in result.missing:
        print(f"note: {ref} is locked but its file is gone (`toolchain prompts verify` will fail)", file=sys.stderr)
    if result.wrote:
        print(f"wrote {result.lock_path} ({len(result.added)} new; history: {directory / LOG_FILE})")
    else:
        print(f"nothing new to lock; {result.lock_path} is unchanged")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    directory = _dir(args)
    problems = verify(directory)
    if args.format == "json":
        print(json.dumps({"problems": [p.to_json() for p in problems]}, indent=2, sort_keys=True))
    else:
        for problem in problems:
            print(problem.line())
    if problems:
        print(f"toolchain prompts verify: {len(problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    if args.format != "json":
        lock = read_lock(directory)
        count = sum(len(v) for v in lock.prompts.values()) if lock else 0
        print(f"ok: {count} prompt version(s) in {directory} match {directory / LOCK_FILE}")
    return 0


def _cmd_label(args: argparse.Namespace) -> int:
    directory = _dir(args)
    try:
        move = move_label(directory, args.name, args.label, args.version, reason=args.reason, by=args.by)
    except PromptError as exc:
        print(f"toolchain: {exc}; nothing changed", file=sys.stderr)
        return 1
    if not move.changed:
        print(f"{move.name}@{move.label} already points at {move.after}; nothing changed")
        return 0
    was = f"was {move.before}" if move.before else "new label"
    print(f"{move.name}@{move.label} -> {move.after} ({was}) by {move.by}; wrote {directory / LOCK_FILE}")
    return 0


def _listing(directory: Path) -> dict[str, Any]:
    lock = read_lock(directory)
    found = scan(directory)
    names = (
        {f.name for f in found.files.values()} | set(lock.prompts if lock else ()) | set(lock.labels if lock else ())
    )
    out: dict[str, Any] = {}
    for name in sorted(names):
        locked = lock.prompts.get(name, {}) if lock else {}
        labels = lock.labels.get(name, {}) if lock else {}
        versions = {f.version for f in found.files.values() if f.name == name} | set(locked)
        rows: dict[str, Any] = {}
        for version in sorted(versions, key=natural):
            file = found.files.get(f"{name}@{version}")
            entry = locked.get(version)
            if lock is None:
                state = "no lock file"
            elif file is None:
                state = "deleted"
            elif entry is None:
                state = "not locked"
            else:
                state = "locked" if file.sha256() == entry.sha256 else "modified in place"
            rows[version] = {
                "state": state,
                "file": str(file.path) if file else str(directory / entry.file) if entry else None,
                "sha256": file.sha256() if file else entry.sha256 if entry else None,
                "labels": sorted(k for k, v in labels.items() if v == version),
            }
        dangling = {k: v for k, v in labels.items() if v not in locked}
        out[name] = {"versions": rows, "labels": dict(sorted(labels.items())), "labels_pointing_nowhere": dangling}
    return out


def _cmd_list(args: argparse.Namespace) -> int:
    directory = _dir(args)
    listing = _listing(directory)
    lock_path = directory / LOCK_FILE
    if args.format == "json":
        doc = {"directory": str(directory), "lock": str(lock_path) if lock_path.exists() else None, "prompts": listing}
        print(json.dumps(doc, indent=2, sort_keys=True))
        return 0
    print(f"prompts in {directory} (lock: {lock_path if lock_path.exists() else 'none'})")
    if not listing:
        print("  none: add files named <name>@<version>.md")
    for name, info in listing.items():
        print(name)
        for version, row in info["versions"].items():
            labels = f"  labels: {', '.join(row['labels'])}" if row["labels"] else ""
            print(f"  {version:<12} {row['state']:<18} {(row['sha256'] or '')[:12]}{labels}")
        for label, version in info["labels_pointing_nowhere"].items():
            print(f"  label {label} -> {version}: label points nowhere")
    return 0


def _found(directory: Path, ref: str) -> Found:
    return find(ref, directory)


def _cmd_show(args: argparse.Namespace) -> int:
    found = _found(_dir(args), args.ref)
    p = found.prompt
    print(f"prompt:      {p.ref}" + (f" (label {p.label})" if p.label else ""))
    print(f"file:        {p.source}")
    print(f"sha256:      {p.sha256}")
    if found.locked is None:
        print("locked:      no")
    else:
        e = found.locked
        print(f"locked:      {e.locked_at} by {e.by}" + (f": {e.reason}" if e.reason else ""))
        if found.drifted:
            print(f"drift:       modified in place (locked sha256 {e.sha256})")
    for key in ("description", "owner", "model"):
        value = getattr(p, key)
        if value:
            print(f"{key + ':':<12} {value}")
    print(f"placeholders: {', '.join(sorted(p.placeholders)) or 'none'}")
    print("---")
    sys.stdout.write(p.template if p.template.endswith("\n") or not p.template else p.template + "\n")
    return 0


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def _diff(a: Found, b: Found) -> Iterator[str]:
    def title(f: Found) -> str:
        via = f" (label {f.prompt.label})" if f.prompt.label else ""
        return f"{f.prompt.ref}{via} {f.prompt.source}"

    return difflib.unified_diff(_lines(a.prompt.template), _lines(b.prompt.template), title(a), title(b))


def _cmd_diff(args: argparse.Namespace) -> int:
    directory = _dir(args)
    a, b = _found(directory, args.a), _found(directory, args.b)
    for f in (a, b):
        if f.drifted:
            print(f"note: {f.prompt.source} was modified in place since it was locked", file=sys.stderr)
    text = "".join(_diff(a, b))
    if text:
        sys.stdout.write(text)
    else:
        print(f"{a.prompt.ref} and {b.prompt.ref} have the same template")
    return 0


def _cmd_log(args: argparse.Namespace) -> int:
    directory = _dir(args)
    records = read_log(directory, args.name)
    if args.format == "json":
        print(json.dumps(records, indent=2, sort_keys=True))
        return 0
    for r in records:
        if r.get("action") == "label":
            what = f"label {r.get('name')}@{r.get('label')} {r.get('from') or '(new)'} -> {r.get('to')}"
        else:
            what = f"lock  {r.get('name')}@{r.get('version')} sha256 {(r.get('sha256') or '')[:12]}"
        print(f"{r.get('at')}  {what}  by {r.get('by')}: {r.get('reason') or '(no reason)'}")
    if not records:
        print(f"no history{' for ' + args.name if args.name else ''} in {directory / LOG_FILE}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``prompts`` (with ``lock``, ``verify``, ``label``, ``list``, ``show``, ``diff``, ``log``)."""
    group = sub.add_parser(
        "prompts",
        help="lock, verify, label and inspect prompt files",
        description="Prompt files are prompts/<name>@<version>.md; prompts.lock records each version's "
        "SHA-256 and the labels. See docs/prompts.md.",
    )
    commands = group.add_subparsers(dest="prompts_command", required=True, metavar="COMMAND")

    def add(
        name: str, func: Callable[[argparse.Namespace], int], summary: str, description: str
    ) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=summary, description=description)
        p.add_argument("--dir", help="the prompts directory (default: $TOOLCHAIN_PROMPTS_DIR or prompts)")
        p.set_defaults(func=func)
        return p

    lock = add(
        "lock",
        _cmd_lock,
        "record the SHA-256 of every new prompt version in prompts.lock",
        "Add every prompt file not yet locked to prompts.lock (existing entries never change). "
        "Refuses, writing nothing, when a locked version's file was modified in place.",
    )
    lock.add_argument("--reason", help="why (goes to the lock entry and the history)")
    lock.add_argument("--by", help="who (default: git config user.name, else your login name)")
    check = add(
        "verify",
        _cmd_verify,
        "CI gate: fail when prompt files and prompts.lock disagree",
        "Exit 1, one line per problem, when a locked file was modified in place or deleted, a file is "
        "not locked, or a label points nowhere; exit 1 too when there is no lock file.",
    )
    check.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    label = add(
        "label",
        _cmd_label,
        "point a label (production, canary) at a locked version",
        "Move NAME@LABEL to VERSION in prompts.lock (one line) and log who, when and why. "
        "Rolling back is moving the label to the previous version.",
    )
    label.add_argument("name", help="the prompt name, e.g. support_refund_policy")
    label.add_argument("label", help="the label, e.g. production")
    label.add_argument("version", help="a locked version of NAME")
    label.add_argument("--reason", required=True, help="why (required; goes to the history)")
    label.add_argument("--by", help="who (default: git config user.name, else your login name)")
    listing = add(
        "list",
        _cmd_list,
        "list prompts: versions, labels, lock state",
        "List every prompt name with its versions, their lock state and the labels pointing at them.",
    )
    listing.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    show = add(
        "show",
        _cmd_show,
        "print a prompt's template and sha256",
        "Print NAME@VERSION or NAME@LABEL: file, sha256, lock entry, front matter, then the template.",
    )
    show.add_argument("ref", metavar="NAME@VERSION|NAME@LABEL")
    diff = add(
        "diff",
        _cmd_diff,
        "unified diff of two prompt templates",
        "Show how the template of B differs from A (versions or labels, e.g. x@production x@4).",
    )
    diff.add_argument("a", metavar="NAME@A")
    diff.add_argument("b", metavar="NAME@B")
    log = add(
        "log",
        _cmd_log,
        "the lock history: versions locked, labels moved, who, when, why",
        "Print prompts.log.jsonl (for NAME, or all prompts), oldest first.",
    )
    log.add_argument("name", nargs="?", help="only this prompt")
    log.add_argument("--format", choices=("text", "json"), default="text", help="output format")
