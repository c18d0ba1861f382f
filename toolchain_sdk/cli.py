"""The ``toolchain`` command: operator tools that need no running server.

Each subject's subcommands live in their own module (``_cli_flags``, ``_cli_approvals``) with an
``add_commands`` function; this module only assembles them beside ``hash``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from toolchain_sdk import config
from toolchain_sdk._version import version
from toolchain_sdk.errors import ToolchainError

__all__ = ["main"]


def _cmd_hash(args: argparse.Namespace) -> int:
    hasher = config.hasher()
    if args.file is not None:
        value: object = Path(args.file).read_bytes()
    elif args.json is not None:
        value = json.loads(args.json)
    elif args.text is not None:
        value = args.text
    elif sys.stdin is None or sys.stdin.isatty():
        print(
            "toolchain hash: give the value: toolchain hash TEXT, --file PATH, --json JSON, or pipe it on stdin "
            "(e.g. `echo -n text | toolchain hash`)",
            file=sys.stderr,
        )
        return 2
    else:
        value = sys.stdin.buffer.read()
    print(hasher.hash_value(value))
    if args.verbose:
        print(f"alg={hasher.alg}" + (f" key_id={hasher.key_id}" if hasher.key_id else ""), file=sys.stderr)
    return 0


def _add_hash(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "hash",
        help="print the hash a span would carry for a value",
        description="Print toolchain.output.sha256 / input.sha256 as the SDK computes it: SHA-256 of "
        "UTF-8 text, of raw file bytes, or of canonical JSON; HMAC-SHA256 when TOOLCHAIN_HASH_KEY is set.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("text", nargs="?", help="the text to hash (UTF-8)")
    src.add_argument("--file", "-f", help="hash this file's bytes")
    src.add_argument("--json", help="hash this JSON value canonically (for non-text outputs and inputs)")
    p.add_argument("--verbose", "-v", action="store_true", help="also print the algorithm and key id")
    p.set_defaults(func=_cmd_hash)


def _commands() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    from toolchain_sdk.approval import _cli as approvals_cli
    from toolchain_sdk.audit import _cli as audit_cli
    from toolchain_sdk.console import _cli as console_cli
    from toolchain_sdk.evals import _cli as evals_cli
    from toolchain_sdk.flags import _cli as flags_cli
    from toolchain_sdk.inventory import _cli as inventory_cli
    from toolchain_sdk.prompts import _cli as prompts_cli
    from toolchain_sdk.routing import _cli as routes_cli

    return [
        _add_hash,
        flags_cli.add_commands,
        approvals_cli.add_commands,
        prompts_cli.add_commands,
        routes_cli.add_commands,
        inventory_cli.add_commands,
        audit_cli.add_commands,
        console_cli.add_commands,
        evals_cli.add_commands,
    ]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="toolchain", description="Operate governed model calls.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _commands():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 for usage or configuration errors)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ToolchainError, OSError, ValueError) as exc:
        print(f"toolchain: error: {exc}", file=sys.stderr)
        return 2
