"""``toolchain console`` (serve the reviewer console) and ``toolchain console users add|list|remove``.

``users add`` prints the new token once, alone on the last line of stdout (``| tail -n1`` reads
it); the users file keeps only its hash. Exit status 2 for usage and configuration errors: an
existing name without ``--rotate``, an unknown user to remove, a host that would expose the
console unprotected, or the ``console`` extra missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from toolchain_sdk.console._extra import require_extra
from toolchain_sdk.console._settings import DEFAULT_HOST, DEFAULT_PORT, ConsoleSettings
from toolchain_sdk.console._users import DEFAULT_USERS_PATH, ROLES, Role, UserStore
from toolchain_sdk.errors import ConfigError

__all__ = ["add_commands"]


def _settings(args: argparse.Namespace) -> ConsoleSettings:
    return ConsoleSettings(
        host=args.host,
        port=args.port,
        store=args.store,
        flags=Path(args.flags) if args.flags else None,
        audit=Path(args.audit) if args.audit else None,
        users=Path(args.users) if args.users else None,
        scan=tuple(Path(p) for p in args.scan or ()),
        allow_remote=args.allow_remote,
        tls_cert=Path(args.tls_cert) if args.tls_cert else None,
        tls_key=Path(args.tls_key) if args.tls_key else None,
        behind_proxy=args.behind_proxy,
        session_idle_s=args.session_idle * 60.0,
    )


def _cmd_console(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.check()
    require_extra()
    from toolchain_sdk.console._serve import serve

    return serve(settings)


def _cmd_add(args: argparse.Namespace) -> int:
    users = UserStore(args.users)
    known = users.get(args.name)
    token = users.add(args.name, args.role, rotate=args.rotate)
    stored = users.get(args.name)
    role: Role = stored.role if stored is not None else args.role
    verb = "rotated the token of" if known is not None else "added"
    print(f"{verb} {args.name} ({role}) in {users.path}; only the token's hash is stored.")
    if known is not None:
        print("The old token and its sessions stopped working.")
    print("The token is shown once; log in with it at the console or send it as 'Authorization: Bearer <token>':")
    print(token)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    users = UserStore(args.users).users()
    if not users:
        where = UserStore(args.users).path
        print(f"no console users in {where}; add one: toolchain console users add NAME --role reviewer")
        return 0
    width = max(len(n) for n in users)
    for user in sorted(users.values(), key=lambda u: u.name):
        print(f"{user.name.ljust(width)}  {user.role:<10}  since {user.created_at}")
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    users = UserStore(args.users)
    if not users.remove(args.name):
        raise ConfigError(f"no console user {args.name!r} in {users.path}")
    print(f"removed {args.name} from {users.path}; their token and sessions stopped working")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``toolchain console`` and ``toolchain console users ...`` on the ``toolchain`` parser."""
    users_help = f"the console's users file (default {DEFAULT_USERS_PATH})"
    parser = sub.add_parser(
        "console",
        help="serve the reviewer console: approvals inbox, kill switches, control sheet, audit",
        description="Serve the reviewer console (needs the console extra: pip install 'toolchain-sdk[console]'). "
        "It binds to 127.0.0.1; a non-loopback --host needs --allow-remote and TLS (--tls-cert/--tls-key) or "
        "--behind-proxy. Log in with a token from `toolchain console users add`.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--store", help="the approval queue: a path, sqlite:///path or postgresql://... "
                        "(default: $TOOLCHAIN_APPROVALS_URL, else .toolchain/approvals.db)")  # fmt: skip
    parser.add_argument("--flags", help="the flag file (default: $TOOLCHAIN_FLAGS_FILE, else .toolchain/flags.json)")
    parser.add_argument("--audit", help="an audit chain to show on the audit page")
    parser.add_argument("--users", help=users_help)
    parser.add_argument("--scan", nargs="+", metavar="PATH", help="also list the surfaces a static scan finds here")
    parser.add_argument("--allow-remote", action="store_true", help="allow a --host other machines can reach")
    parser.add_argument("--tls-cert", metavar="PATH", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", metavar="PATH", help="... and this private key (PEM)")
    parser.add_argument(
        "--behind-proxy",
        action="store_true",
        help="a TLS-terminating proxy sits in front (Secure cookies; client = last X-Forwarded-For hop)",
    )
    parser.add_argument(
        "--session-idle",
        type=float,
        default=30.0,
        metavar="MINUTES",
        help="end a session unused this long (default 30; sessions end after 12 h regardless)",
    )
    parser.set_defaults(func=_cmd_console)

    cmds = parser.add_subparsers(dest="console_command", metavar="users")
    users = cmds.add_parser("users", help="add, list and remove console users",
                            description="Console users: one role each (viewer, reviewer, flag-owner); tokens are "
                            "shown once and stored as hashes.")  # fmt: skip
    users_cmds = users.add_subparsers(dest="users_command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--users", default=argparse.SUPPRESS, help=users_help)

    p = users_cmds.add_parser("add", parents=[common], help="add a user and print their token once")
    p.add_argument("name")
    p.add_argument(
        "--role",
        choices=ROLES,
        help="viewer reads; reviewer decides approvals; flag-owner flips kill switches "
        "(default viewer; with --rotate: the user's current role)",
    )
    p.add_argument("--rotate", action="store_true", help="issue a new token to an existing user (ends their sessions; "
                   "keeps their role unless --role is given)")  # fmt: skip
    p.set_defaults(func=_cmd_add)

    p = users_cmds.add_parser("list", parents=[common], help="list users and their roles (never tokens)")
    p.set_defaults(func=_cmd_list)

    p = users_cmds.add_parser("remove", parents=[common], help="remove a user; their sessions end at once")
    p.add_argument("name")
    p.set_defaults(func=_cmd_remove)
