"""``--changed-since REF``: the eval files whose surface's prompt or route changed since a git ref.

An eval file is selected when it changed itself, when a prompt version it depends on (those it
lists in ``prompts:``, and the one its target's prompt reference resolves to, labels followed
through ``prompts.lock``) has other bytes at ``REF`` than in the working tree or did not exist
there, or when its target's ``[routes.NAME]`` table in the configuration file differs. Prompts
compare by content hash, so a renamed but identical file selects nothing. Only the tree at
``REF`` is read (``git show``, ``git ls-tree``), so a shallow CI checkout works once ``REF`` is
fetched.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from toolchain_sdk import config, routing
from toolchain_sdk.errors import ConfigError
from toolchain_sdk.evals._model import EvalFile
from toolchain_sdk.evals._results import display_path
from toolchain_sdk.evals._target import Target, load_target
from toolchain_sdk.prompts import LOCK_FILE, prompts_dir

__all__ = ["GitTree", "Selected", "select_changed"]

_PROMPT_SUFFIXES = (".md", ".txt")


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run ``git ARGS`` in ``cwd`` (``ConfigError`` when git is not installed)."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise ConfigError("--changed-since needs git on PATH") from None


@dataclass
class GitTree:
    """The files of one commit, read without checking it out (works in a shallow clone)."""

    top: Path
    ref: str
    _listing: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def open(cls, ref: str, cwd: Path | None = None) -> GitTree:
        """The tree at ``ref`` of the repository around ``cwd``.

        Raises:
            ConfigError: not in a git repository, or ``ref`` is not present here (with the command
                that fetches it).
        """
        where = cwd or Path.cwd()
        top = _git(["rev-parse", "--show-toplevel"], where)
        if top.returncode != 0:
            raise ConfigError(f"--changed-since {ref}: {where} is not inside a git repository")
        found = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], where)
        if found.returncode != 0:
            branch = ref.removeprefix("origin/")
            raise ConfigError(
                f"--changed-since {ref}: {ref!r} is not present in this checkout (a shallow CI clone has only the "
                f"commit it built); fetch it first, e.g. `git fetch --depth=1 origin {branch}` (then use "
                f"origin/{branch}), or check out with full history (actions/checkout: fetch-depth: 0)"
            )
        return cls(Path(top.stdout.decode().strip()).resolve(), found.stdout.decode().strip())

    def relative(self, path: Path) -> str | None:
        """``path`` relative to the repository's top, ``/``-separated; ``None`` when outside it."""
        try:
            return path.resolve().relative_to(self.top).as_posix()
        except ValueError:
            return None

    def read(self, path: Path) -> bytes | None:
        """The bytes ``path`` had at ``REF``; ``None`` when it did not exist there."""
        rel = self.relative(path)
        if rel is None:
            return None
        shown = _git(["show", f"{self.ref}:{rel}"], self.top)
        return shown.stdout if shown.returncode == 0 else None

    def files_under(self, directory: Path) -> list[str]:
        """Paths (relative to ``directory``) of every file under it at ``REF``."""
        rel = self.relative(directory)
        if rel is None:
            return []
        if rel not in self._listing:
            listed = _git(["ls-tree", "-r", "--name-only", self.ref, "--", rel or "."], self.top)
            prefix = f"{rel}/" if rel and rel != "." else ""
            names = listed.stdout.decode().splitlines() if listed.returncode == 0 else []
            self._listing[rel] = [n[len(prefix) :] for n in names if n.startswith(prefix)]
        return self._listing[rel]


@dataclass(frozen=True)
class Selected:
    """An eval file chosen by ``--changed-since`` and why."""

    file: EvalFile
    reasons: tuple[str, ...]

    def describe(self) -> str:
        """``selected <file>: <reasons>``, as the run prints it."""
        return f"selected {display_path(self.file.path)}: {'; '.join(self.reasons)}"


def _version_file(names: list[str], name: str, version: str) -> str | None:
    """The file of ``name@version`` among ``names`` (``.md`` or ``.txt``), or ``None``."""
    stems = {f"{name}@{version}{suffix}" for suffix in _PROMPT_SUFFIXES}
    return next((n for n in sorted(names) if n in stems), None)


def _labels(lock_bytes: bytes | None) -> Mapping[str, Mapping[str, str]]:
    """The ``labels`` table of a ``prompts.lock`` (empty when absent or unreadable)."""
    if lock_bytes is None:
        return {}
    try:
        data = json.loads(lock_bytes)
    except ValueError:
        return {}
    labels = data.get("labels") if isinstance(data, dict) else None
    return labels if isinstance(labels, dict) else {}


def _digest(data: bytes | None) -> str | None:
    """SHA-256 (hex) of ``data``, or ``None`` when there is no file."""
    return hashlib.sha256(data).hexdigest() if data is not None else None


class _Side:
    """One side of the comparison: the working tree, or the tree at ``REF``."""

    def __init__(self, directory: Path, tree: GitTree | None) -> None:
        """Read the side's prompt file names and labels."""
        self.directory, self.tree = directory, tree
        if tree is None:
            self.names = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()) \
                if directory.is_dir() else []  # fmt: skip
            lock = directory / LOCK_FILE
            self.labels = _labels(lock.read_bytes() if lock.is_file() else None)
        else:
            self.names = tree.files_under(directory)
            self.labels = _labels(tree.read(directory / LOCK_FILE))

    def resolve(self, ref: str) -> tuple[str | None, str | None]:
        """``(version, sha256)`` of ``name@version`` or ``name@label`` on this side (``None`` when absent)."""
        name, _, wanted = ref.rpartition("@")
        version = wanted
        if _version_file(self.names, name, wanted) is None:
            version = self.labels.get(name, {}).get(wanted) or wanted
        file = _version_file(self.names, name, version)
        if file is None:
            return None, None
        path = self.directory / file
        data = path.read_bytes() if self.tree is None else self.tree.read(path)
        return version, _digest(data)


def _route_table(data: object, route: str, pyproject: bool) -> object:
    """The ``[routes.NAME]`` table of a parsed configuration file (``[tool.toolchain]`` in pyproject)."""
    if pyproject:
        data = data.get("tool", {}).get("toolchain", {}) if isinstance(data, dict) else None
    routes = data.get("routes", {}) if isinstance(data, dict) else None
    return routes.get(route) if isinstance(routes, dict) else None


def _parse_toml(data: bytes | None) -> object:
    """Parsed TOML, or ``None`` when absent or invalid (then it differs from a valid one)."""
    if data is None:
        return None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None


def _config_path() -> Path | None:
    """The configuration file in force (``configure(config=)``, ``TOOLCHAIN_CONFIG``, ``./toolchain.toml``, ...)."""
    settings = config.current_settings()
    if settings.config:
        return Path(settings.config)
    loaded = routing.loaded_config() or routing.current_config()
    if loaded is None:
        return None
    return Path(loaded.source)


def _prompt_reasons(file: EvalFile, target: Target, now: _Side, then: _Side) -> list[str]:
    """Changes of the prompt versions the file depends on: those it lists, and its target's own reference.

    The target's own reference (labels followed) counts even when the file lists versions: the
    surface's prompt changed, so its evals run (running one more file is safe; missing one is not).
    """
    refs = list(file.prompts)
    own = target.spec.prompt
    if own is not None:
        label = target.spec.prompt_label
        refs.append(f"{own.rpartition('@')[0]}@{label}" if label else own)
    reasons: list[str] = []
    for ref in dict.fromkeys(refs):
        version_now, sha_now = now.resolve(ref)
        version_then, sha_then = then.resolve(ref)
        if sha_now == sha_then:
            continue
        if sha_then is None:
            reasons.append(f"prompt {ref}: version {version_now} is new since {then.tree.ref[:12]}")  # type: ignore[union-attr]
        elif sha_now is None:
            reasons.append(f"prompt {ref}: version {version_then} is gone")
        elif version_now != version_then:
            reasons.append(f"prompt {ref}: now version {version_now}, was {version_then}")
        else:
            reasons.append(f"prompt {ref}: edited (sha256 {sha_then[:12]} -> {sha_now[:12]})")
    return reasons


def select_changed(files: list[EvalFile], tree: GitTree) -> list[Selected]:
    """The eval files whose own text, prompt versions or route changed between ``tree`` and the working tree.

    Only each file's target is loaded here (its surface's prompt and route), so a file that is not
    selected is not checked further: an eval written ahead of its prompt version waits for it.

    Raises:
        ConfigError: a target cannot be loaded (named with its file).
    """
    targets: dict[str, Target] = {}
    for file in files:  # first: importing them configures the prompts directory and the config file
        if file.target not in targets:
            try:
                targets[file.target] = load_target(file.target)
            except ConfigError as exc:
                raise ConfigError(f"{display_path(file.path)}: {exc}") from None
    directory = prompts_dir(config.current_settings().prompts_dir)
    now, then = _Side(directory, None), _Side(directory, tree)
    config_file = _config_path()
    chosen: list[Selected] = []
    for file in files:
        target = targets[file.target]
        reasons: list[str] = []
        before = tree.read(file.path)
        if before is None:
            reasons.append("eval file is new")
        elif before != file.path.read_bytes():
            reasons.append("eval file changed")
        reasons += _prompt_reasons(file, target, now, then)
        route = target.spec.route
        if route is not None and config_file is not None:
            pyproject = config_file.name == "pyproject.toml"
            current = _route_table(_parse_toml(config_file.read_bytes() if config_file.is_file() else None), route,
                                   pyproject)  # fmt: skip
            previous = _route_table(_parse_toml(tree.read(config_file)), route, pyproject)
            if current != previous:
                reasons.append(f"route {route} changed in {config_file.name}")
        if reasons:
            chosen.append(Selected(file, tuple(reasons)))
    return chosen
