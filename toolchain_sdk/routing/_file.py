"""Finding, reading and validating ``toolchain.toml``, with errors that name the file, table and field.

Where the configuration comes from, first found wins:

1. the path given (``configure(config=PATH)``, ``toolchain routes --config PATH``);
2. the file named by ``TOOLCHAIN_CONFIG``;
3. ``./toolchain.toml``;
4. the ``[tool.toolchain]`` table of ``./pyproject.toml``.

A path that is given (1, 2) must exist; a ``pyproject.toml`` given as a path is read through its
``[tool.toolchain]`` table. Nothing is read at import: only when ``load_config`` is called.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.routing._model import Route, ToolchainConfig

__all__ = ["TOOLCHAIN_CONFIG", "get_route", "load_config", "parse_config", "read_config"]

TOOLCHAIN_CONFIG: Final = "TOOLCHAIN_CONFIG"
"""Path of the configuration file to use when ``configure(config=...)`` does not give one."""

_PYPROJECT_TABLE: Final = ("tool", "toolchain")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_WORDING = (("a valid dictionary", "a table"), ("a valid tuple", "an array"), ("a valid list", "an array"))


@dataclass(frozen=True)
class _Found:
    path: Path
    shown: str  # how messages name it: as given, or the bare file name when found in the working directory
    pyproject: bool


def _locate(path: str | PathLike[str] | None) -> _Found | None:
    if path is not None:
        given = Path(path)
        if not given.is_file():
            raise ConfigError(f"{os.fspath(path)}: no such configuration file")
        return _Found(given, os.fspath(path), given.name == "pyproject.toml")
    env = os.environ.get(TOOLCHAIN_CONFIG, "")
    if env:
        given = Path(env)
        if not given.is_file():
            raise ConfigError(f"{env}: no such configuration file (named by {TOOLCHAIN_CONFIG})")
        return _Found(given, env, given.name == "pyproject.toml")
    local = Path("toolchain.toml")
    if local.is_file():
        return _Found(local, "toolchain.toml", False)
    pyproject = Path("pyproject.toml")
    if pyproject.is_file():
        return _Found(pyproject, "pyproject.toml", True)
    return None


def _read_toml(found: _Found) -> dict[str, object]:
    try:
        with found.path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{found.shown}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{found.shown}: cannot be read: {exc.strerror or exc}") from None


def read_config(path: str | PathLike[str] | None = None) -> tuple[ToolchainConfig | None, list[str]]:
    """Find and validate the configuration, returning every problem instead of raising on the first.

    Returns:
        ``(config, [])`` when valid, ``(None, problems)`` when not, ``(None, [])`` when no file
        was found (a ``pyproject.toml`` without ``[tool.toolchain]`` counts as none, unless given).
    """
    try:
        found = _locate(path)
        if found is None:
            return None, []
        document = _read_toml(found)
    except ConfigError as exc:
        return None, [str(exc)]
    if not found.pyproject:
        return _validate(document, found.shown, ())
    table: object = document
    for key in _PYPROJECT_TABLE:
        table = table.get(key) if isinstance(table, dict) else None
    if table is None:
        if path is None and not os.environ.get(TOOLCHAIN_CONFIG):
            return None, []  # ./pyproject.toml without [tool.toolchain]: no configuration
        return None, [f"{found.shown}: has no [tool.toolchain] table"]
    if not isinstance(table, dict):
        return None, [f"{found.shown}: [tool.toolchain] must be a table"]
    return _validate(table, found.shown, _PYPROJECT_TABLE)


def _validate(
    data: Mapping[str, object], source: str, prefix: Sequence[str]
) -> tuple[ToolchainConfig | None, list[str]]:
    try:
        config = ToolchainConfig.model_validate(dict(data))
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            message = error["msg"].removeprefix("Value error, ")
            for pydantic_words, toml_words in _WORDING:
                message = message.replace(pydantic_words, toml_words)
            problems.append(f"{source}: {_where(error['loc'], data, prefix)}: {message}")
        return None, problems
    config._source = source
    config._prefix = "".join(f"{_key(k)}." for k in prefix)
    return config, []


def parse_config(data: Mapping[str, object], *, source: str = "toolchain.toml") -> ToolchainConfig:
    """Validate an already-parsed ``toolchain.toml`` document (a dict from ``tomllib``).

    Raises:
        ConfigError: every problem, one a line, each naming ``source``, the table and the field.
    """
    config, problems = _validate(data, source, ())
    if config is None:
        raise ConfigError("\n".join(problems))
    return config


def load_config(path: str | PathLike[str] | None = None) -> ToolchainConfig | None:
    """Find, read and validate the configuration file (see the module docstring for the order).

    Args:
        path: an explicit file (``configure(config=PATH)``); it must exist.

    Returns:
        The validated configuration, or ``None`` when no file was found.

    Raises:
        ConfigError: a given file is missing or unreadable, is not TOML, or does not validate; the
            message has one line per problem, e.g. ``toolchain.toml: [routes.answers.targets][1].attempts:
            Input should be greater than or equal to 1``.
    """
    config, problems = read_config(path)
    if problems:
        raise ConfigError("\n".join(problems))
    return config


def get_route(config: ToolchainConfig | None, name: str) -> Route:
    """The route a surface names with ``route="NAME"``.

    Raises:
        ConfigError: no configuration was found, or it has no ``[routes.NAME]``; the message lists
            the routes it has.
    """
    if config is None:
        raise ConfigError(
            f"route {name!r}: no configuration file was found (looked for configure(config=...), "
            f"${TOOLCHAIN_CONFIG}, ./toolchain.toml, [tool.toolchain] in ./pyproject.toml); "
            f"define [routes.{_key(name)}] in one of them"
        )
    route = config.routes.get(name)
    if route is None:
        known = ", ".join(sorted(config.routes)) or "none"
        table = config.table(f"routes.{_key(name)}")
        raise ConfigError(
            f"route {name!r} is not defined in {config.source} (routes: {known}); add {table} or fix the name"
        )
    return route


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


def _where(loc: Sequence[int | str], data: object, prefix: Sequence[str]) -> str:
    """Write a pydantic error location the way the TOML file reads: ``[routes.a.targets][1].attempts``.

    The table header is the longest run of keys naming tables (an array of tables closes it with
    its index); what is left are keys and indexes inside that table.
    """
    header = [_key(k) for k in prefix]
    index = ""
    node = data
    i = 0
    while i < len(loc) and not index:
        key = loc[i]
        value = node.get(key) if isinstance(node, dict) and isinstance(key, str) else None
        if isinstance(value, dict):
            header.append(_key(str(key)))
            node, i = value, i + 1
        elif (
            isinstance(value, list)
            and i + 1 < len(loc)
            and isinstance(pos := loc[i + 1], int)
            and 0 <= pos < len(value)
            and isinstance(value[pos], dict)
        ):
            header.append(_key(str(key)))
            index = f"[{pos}]"
            node, i = value[pos], i + 2
        else:
            break
    rest = "".join(f"[{part}]" if isinstance(part, int) else f".{_key(part)}" for part in loc[i:])
    if not header:
        return rest.removeprefix(".") or "(top level)"
    return f"[{'.'.join(header)}]{index}{rest}"
