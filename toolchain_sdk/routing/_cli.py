"""``toolchain routes`` / ``toolchain routes check``: list the configured routes, validate the file.

Both read the configuration the way the SDK does (``--config PATH``, else ``TOOLCHAIN_CONFIG``,
``./toolchain.toml``, ``[tool.toolchain]`` in ``./pyproject.toml``) and exit 2 when there is no
file or it does not validate, printing every problem on its own line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from toolchain_sdk.routing._exposure import rule_allows
from toolchain_sdk.routing._file import TOOLCHAIN_CONFIG, read_config
from toolchain_sdk.routing._model import DEFAULT_RETRY_ON, Route, ToolchainConfig

__all__ = ["add_commands"]

_LOOKED = f"--config, ${TOOLCHAIN_CONFIG}, ./toolchain.toml, [tool.toolchain] in ./pyproject.toml"
_PINNED = re.compile(r"(19|20)\d\d-?[01]\d-?[0-3]\d|-\d{3}$|-v\d+(:\d+)?$")
"""A dated snapshot (``-2024-07-18``, ``-20241022``), a numbered release (``-002``) or a versioned id (``-v1:0``)."""


def _load(args: argparse.Namespace, command: str) -> ToolchainConfig | None:
    config, problems = read_config(args.config)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{command}: {len(problems)} problem(s); see docs/routing.md for the file format", file=sys.stderr)
    elif config is None:
        print(f"{command}: no configuration file found (looked at {_LOOKED})", file=sys.stderr)
    return config


def _classes(config: ToolchainConfig, route: Route) -> list[str]:
    """The data classes whose exposure rules allow every target of ``route``."""
    return [
        cls
        for cls, rules in (config.exposure or {}).items()
        if all(any(rule_allows(r, t.provider, t.model) for r in rules) for t in route.targets)
    ]


def _cmd_routes(args: argparse.Namespace) -> int:
    config = _load(args, "toolchain routes")
    if config is None:
        return 2
    if args.json:
        doc = {
            "file": config.source,
            "routes": {n: r.model_dump(mode="json", exclude={"name"}) for n, r in config.routes.items()},
            "exposure": config.exposure,
        }
        print(json.dumps(doc, indent=2, default=str))
        return 0
    print(f"config: {config.source}")
    if not config.routes:
        print(f"  no routes: add a {config.table('routes.NAME')} table")
    for name, route in config.routes.items():
        b = route.backoff
        print(f"route {name}")
        default = " (default)" if route.retry_on == DEFAULT_RETRY_ON else ""
        print(f"  retry on: {', '.join(route.retry_on) or 'nothing'}{default}")
        jitter = "full jitter" if b.jitter else "no jitter"
        print(f"  back-off: {b.initial_s:g}s x{b.multiplier:g} per retry, at most {b.max_s:g}s, {jitter}")
        for i, t in enumerate(route.targets, start=1):
            role = "primary" if i == 1 else "fallback"
            params = f"  params {json.dumps(t.params, sort_keys=True, default=str)}" if t.params else ""
            print(f"  {i}. {t.describe()}  attempts={t.attempts}  {role}{params}")
        if config.exposure is not None:
            print(f"  may carry: {', '.join(_classes(config, route)) or 'no data class in [exposure]'}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    config = _load(args, "toolchain routes check")
    if config is None:
        return 2
    targets = 0
    for name, route in config.routes.items():
        for i, t in enumerate(route.targets):
            targets += 1
            if "latest" in t.model or not _PINNED.search(t.model):
                where = f"{config.table(f'routes.{name}.targets')}[{i}].model"
                print(f"note: {config.source}: {where}: {t.model!r} looks like an alias; pin a dated snapshot")
        if config.exposure is not None and not _classes(config, route):
            print(f"note: {config.source}: route {name!r}: no data class in [exposure] allows all its targets")
    exposure = f"; exposure: {', '.join(config.exposure) or 'none'}" if config.exposure is not None else ""
    print(f"{config.source}: ok ({len(config.routes)} route(s), {targets} target(s){exposure})")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``routes`` (list) and ``routes check`` (validate) on the ``toolchain`` parser."""
    config_help = f"the configuration file (default: ${TOOLCHAIN_CONFIG}, ./toolchain.toml, or pyproject.toml)"
    p = sub.add_parser(
        "routes",
        help="list the model routes of toolchain.toml",
        description="List every route with its targets (provider:model, attempts, params), what it retries and "
        "its back-off, and which data classes may use it. `toolchain routes check` validates the file.",
    )
    p.add_argument("--config", help=config_help)
    p.add_argument("--json", action="store_true", help="print the routes as JSON")
    p.set_defaults(func=_cmd_routes)
    routes_sub = p.add_subparsers(dest="routes_command", metavar="{check}")
    check = routes_sub.add_parser(
        "check",
        help="validate toolchain.toml (exit 2 with every problem)",
        description="Validate the configuration file: exit 0 when it is valid (with notes on unpinned model "
        "names), 2 with one line per problem naming the file, the table and the field.",
    )
    check.add_argument("--config", default=argparse.SUPPRESS, help=config_help)
    check.set_defaults(func=_cmd_check)
