"""``toolchain inventory [PATHS...]`` (the control sheet) and ``toolchain check [PATHS...]`` (the policy gate).

Both scan the paths statically (default ``.``) and/or import ``--import MODULE`` and read its live
registry. ``inventory`` always exits 0 once the sheet is written (files that do not parse are listed
under ``errors``); ``check`` exits 0 without violations, 1 with one line per violation, 2 on a
configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from toolchain_sdk.inventory._build import control_sheet
from toolchain_sdk.inventory._render import FORMATS, render
from toolchain_sdk.inventory._sheet import ControlSheet

__all__ = ["add_commands"]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATHS", help="files or directories to scan (default: .)")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE and read the surfaces it registers (repeatable; with PATHS: both)")  # fmt: skip
    p.add_argument("--config", help="toolchain.toml to read (default: $TOOLCHAIN_CONFIG, ./toolchain.toml, ...)")
    p.add_argument("--prompts-dir", help="prompt files and prompts.lock (default: [prompts] dir, "
                   "$TOOLCHAIN_PROMPTS_DIR, prompts)")  # fmt: skip
    p.add_argument("--workers", type=int, help="processes for the scan (default: CPU count, at most 8)")


def _sheet(args: argparse.Namespace) -> ControlSheet | None:
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"toolchain: error: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return None
    try:
        return control_sheet(args.paths, imports=args.imports, config=args.config,
                             prompts_dir=args.prompts_dir, workers=args.workers)  # fmt: skip
    except ImportError as exc:
        print(f"toolchain: error: --import: {exc}", file=sys.stderr)
        return None


def _write(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    Path(output).write_text(text, encoding="utf-8")


def _cmd_inventory(args: argparse.Namespace) -> int:
    sheet = _sheet(args)
    if sheet is None:
        return 2
    color = None if args.output is None and sys.stdout.isatty() else False
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS") or 200)
    _write(render(sheet, args.format, width=width, color=color), args.output)
    if args.output not in (None, "-"):
        print(f"toolchain inventory: wrote {args.output} ({len(sheet.surfaces)} surfaces)", file=sys.stderr)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    sheet = _sheet(args)
    if sheet is None:
        return 2
    if args.format == "json":
        doc = {"violations": [v.to_json() for v in sheet.violations],
               "exceptions": [e.to_json() for e in sheet.exceptions]}  # fmt: skip
        _write(json.dumps(doc, indent=2) + "\n", args.output)
    else:
        lines = [v.line_text() for v in sheet.violations]
        lines += [f"{e.violation.file}:{e.violation.line}: {e.violation.surface}: {e.violation.rule}: "
                  f"excepted: {e.exception.reason}" for e in sheet.exceptions]  # fmt: skip
        _write("".join(f"{line}\n" for line in lines), args.output)
    for e in sheet.errors:
        print(f"toolchain check: not parsed: {e.file}:{e.line}: {e.message}", file=sys.stderr)
    for x in sheet.unused_exceptions:
        print(f"toolchain check: warning: the exception for surface {x.surface!r}, rule {x.rule} waived no "
              "violation; remove it from [[policy.exceptions]] if the gap is closed", file=sys.stderr)  # fmt: skip
    print(
        f"toolchain check: {len(sheet.surfaces)} surfaces, {len(sheet.unmanaged)} unmanaged call sites: "
        f"{len(sheet.violations)} violations, {len(sheet.exceptions)} exceptions",
        file=sys.stderr,
    )
    return 1 if sheet.violations else 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``toolchain inventory`` and ``toolchain check``."""
    inv = sub.add_parser(
        "inventory",
        help="print the control sheet: every governed surface, its owner and controls, unmanaged model calls",
        description="Find every governed surface without importing the code (or from --import MODULE), "
        "with owner, risk, model, prompt, approval, kill switch, audit, rollback path and policy gaps, "
        "plus the direct LLM client calls nobody governs. See docs/control-sheet.md.",
    )
    _common(inv)
    inv.add_argument("--format", default="table", choices=list(FORMATS), help="output format (default: table)")
    inv.add_argument("--output", "-o", metavar="PATH", help="write to PATH instead of stdout")
    inv.set_defaults(func=_cmd_inventory)
    chk = sub.add_parser(
        "check",
        help="fail (exit 1) when a surface lacks a control the policy requires",
        description="Check every surface and unmanaged call site against the rules and [policy] of "
        "toolchain.toml: exit 0 without violations, 1 with one line per violation "
        "(file:line: surface: rule: how to fix), 2 on a configuration error. See docs/policy.md.",
    )
    _common(chk)
    chk.add_argument("--format", default="text", choices=["text", "json"], help="output format (default: text)")
    chk.add_argument("--output", "-o", metavar="PATH", help="write to PATH instead of stdout")
    chk.set_defaults(func=_cmd_check)
