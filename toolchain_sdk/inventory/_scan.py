"""The static scan of a code base: find the files, read them in parallel, resolve constants across them.

A file is parsed only when its bytes mention ``governed``, an LLM client library, or ``configure``
and ``audit`` together (a substring test, far cheaper than parsing). Every other file is still
known by its module name: when a surface's argument names a constant from it (``from app.constants
import OWNER``), it is parsed then, once. Files to parse go to a process pool in chunks when there are
enough of them to pay for it. When the skipped files are small in total (``SYNTAX_CHECK_BYTES``), they
are parsed too, only so that a syntax error anywhere in a small code base is listed.
"""

from __future__ import annotations

import ast
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from toolchain_sdk.inventory._clients import TOKENS
from toolchain_sdk.inventory._findings import FileFindings, RawSurface, ScanError, Unmanaged
from toolchain_sdk.inventory._module import ModuleFacts, read_module
from toolchain_sdk.inventory._resolve import Resolver
from toolchain_sdk.inventory._values import Value
from toolchain_sdk.inventory._walk import walk_file

__all__ = ["SKIP_DIRS", "SYNTAX_CHECK_BYTES", "SourceFile", "StaticScan", "find_files", "scan_paths"]

SKIP_DIRS: Final = frozenset({"__pycache__", "node_modules", "site-packages", "venv", "build", "dist"})
"""Directories never scanned (besides hidden ones such as ``.git`` and ``.venv``)."""

_MARKERS: Final = (b"governed", *TOKENS)
"""A file is parsed only if it holds one of these (or ``configure`` with ``audit``: an audit sink set in code)."""
_PARALLEL_FROM: Final = 200
"""Fewer files to parse than this are parsed in this process: starting workers would cost more than it saves."""
_CHUNK: Final = 64
SYNTAX_CHECK_BYTES: Final = 1 << 20
"""Files the pre-filter skips are still parsed for syntax errors when they add up to at most this many bytes.

They declare no surface and call no model, so a large code base does not pay for parsing them; in a
small one, listing a file that does not parse costs next to nothing and is what a reader expects.
"""


@dataclass(frozen=True)
class SourceFile:
    """A Python file to scan: where it is, how it is shown, and its module name."""

    path: str
    shown: str
    module: str
    is_package: bool


@dataclass
class StaticScan:
    """The scan's findings, with the resolver that turns their arguments into values."""

    surfaces: list[RawSurface] = field(default_factory=list)
    unmanaged: list[Unmanaged] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    audit: list[Value] = field(default_factory=list)
    resolver: Resolver = field(default_factory=lambda: Resolver(lambda _m: None))
    files: int = 0
    read: int = 0
    """How many files the pre-filter let through to the parser."""
    workers: int = 0
    """How many worker processes parsed them (0: this process)."""


def _module_of(path: Path, packages: dict[Path, bool]) -> tuple[str, bool]:
    """The dotted module name, walking up while the directory is a package (``packages`` caches the answer)."""
    is_package = path.name == "__init__.py"
    parts = [] if is_package else [path.stem]
    parent = path.parent
    while True:
        known = packages.get(parent)
        if known is None:
            known = packages[parent] = (parent / "__init__.py").is_file()
        if not known:
            break
        parts.insert(0, parent.name)
        if parent.parent == parent:
            break
        parent = parent.parent
    return ".".join(parts), is_package


def _dotted(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _walk_dir(root: Path) -> Iterator[Path]:
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(here, name)


def find_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[SourceFile], dict[str, str], list[ScanError]]:
    """The files under ``paths``, every module name each may be imported as, and paths that do not exist."""
    found: list[SourceFile] = []
    modules: dict[str, str] = {}
    missing: list[ScanError] = []
    seen: set[str] = set()
    packages: dict[Path, bool] = {}
    for given in paths:
        root = Path(given)
        if root.is_file():
            candidates: Iterable[Path] = [root]
            base = root.parent
        elif root.is_dir():
            candidates, base = _walk_dir(root), root
        else:
            missing.append(ScanError(str(given), 0, "no such file or directory"))
            continue
        base_name = Path(base.resolve().name)
        for path in candidates:
            key = os.path.normpath(os.path.abspath(path))
            if key in seen:
                continue
            seen.add(key)
            shown = os.path.normpath(path).replace(os.sep, "/")
            module, is_package = _module_of(path, packages)
            found.append(SourceFile(str(path), shown, module, is_package))
            rel = path.relative_to(base) if root.is_dir() else Path(path.name)
            for name in (module, _dotted(rel), _dotted(base_name / rel)):
                if name:
                    modules.setdefault(name, str(path))
    return found, modules, missing


def _parse(data: bytes, source: SourceFile) -> ast.Module | ScanError:
    try:
        return ast.parse(data, filename=source.shown)
    except SyntaxError as exc:
        return ScanError(source.shown, exc.lineno or 0, f"{type(exc).__name__}: {exc.msg}")
    except (ValueError, UnicodeDecodeError) as exc:
        return ScanError(source.shown, 0, f"cannot be parsed: {exc}")


def _mentions(source: SourceFile) -> tuple[bool, int] | ScanError:
    """The pre-filter: whether the file's bytes mention the SDK or a client library, and its size (or why it
    cannot be read)."""
    try:
        with open(source.path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return ScanError(source.shown, 0, f"cannot be read: {exc.strerror}")
    wanted = any(marker in data for marker in _MARKERS) or (b"configure" in data and b"audit" in data)
    return wanted, len(data)


def _syntax_errors(skipped: Sequence[SourceFile]) -> list[FileFindings]:
    """The skipped files that do not parse (only their errors: they declare and call nothing)."""
    found = []
    for source in skipped:
        try:
            data = Path(source.path).read_bytes()
        except OSError as exc:
            error = ScanError(source.shown, 0, f"cannot be read: {exc.strerror}")
            found.append(FileFindings(source.shown, error=error))
            continue
        tree = _parse(data, source)
        if isinstance(tree, ScanError):
            found.append(FileFindings(source.shown, error=tree))
    return found


def _read_one(source: SourceFile) -> FileFindings:
    """A file's findings (one the pre-filter let through)."""
    try:
        data = Path(source.path).read_bytes()
    except OSError as exc:
        return FileFindings(source.shown, error=ScanError(source.shown, 0, f"cannot be read: {exc.strerror}"))
    tree = _parse(data, source)
    if isinstance(tree, ScanError):
        return FileFindings(source.shown, error=tree)
    calls = any(token in data for token in TOKENS)
    return walk_file(tree, source.shown, source.module, is_package=source.is_package, calls=calls)


def _read_chunk(chunk: Sequence[SourceFile]) -> list[FileFindings]:
    return [_read_one(f) for f in chunk]


def _read_all(files: Sequence[SourceFile], workers: int | None) -> tuple[list[FileFindings], int, int]:
    """Pre-filter every file here (a substring test), then parse the rest, in a process pool when there are many.

    Returns the findings, how many files passed the pre-filter, and how many worker processes parsed
    them (0: this process).
    """
    wanted: list[SourceFile] = []
    unreadable: list[FileFindings] = []
    skipped: list[SourceFile] = []
    skipped_bytes = 0
    for source in files:
        verdict = _mentions(source)
        if isinstance(verdict, ScanError):
            unreadable.append(FileFindings(source.shown, error=verdict))
        elif verdict[0]:
            wanted.append(source)
        else:
            skipped.append(source)
            skipped_bytes += verdict[1]
    if skipped_bytes <= SYNTAX_CHECK_BYTES:
        unreadable += _syntax_errors(skipped)
    count = workers if workers is not None else min(os.cpu_count() or 1, 8)
    if count <= 1 or len(wanted) < _PARALLEL_FROM:
        return unreadable + _read_chunk(wanted), len(wanted), 0
    size = max(8, min(_CHUNK, len(wanted) // (count * 4) or 1))
    chunks = [wanted[i : i + size] for i in range(0, len(wanted), size)]
    import multiprocessing  # only when a pool is worth it
    from concurrent.futures import ProcessPoolExecutor

    if "fork" not in multiprocessing.get_all_start_methods():
        return unreadable + _read_chunk(wanted), len(wanted), 0
    # Forked workers only: a spawned or forkserver worker re-imports the caller's __main__, which
    # would re-run a script that calls the scan without an `if __name__ == "__main__"` guard. The
    # workers run nothing but the parser on their chunk (no logging, no I/O but reading the files),
    # so a lock another thread of this process held at fork time is never waited on; Python 3.12's
    # warning about forking a threaded process is about exactly that risk.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("fork")) as pool:
            return unreadable + [f for batch in pool.map(_read_chunk, chunks) for f in batch], len(wanted), count


class _Modules:
    """Module facts by name: those the scan read, and others parsed on first use (constants only).

    A module parsed on first use that cannot be read or parsed is added to ``errors`` (once per file,
    and not when the scan already listed it): the constants it should have given stay ``<dynamic>``.
    """

    def __init__(
        self, modules: dict[str, str], read: dict[str, ModuleFacts], shown: dict[str, str], errors: list[ScanError]
    ) -> None:
        self.paths = modules
        self.facts: dict[str, ModuleFacts | None] = dict(read)
        self.shown = shown
        self.errors = errors
        self.reported = {e.file for e in errors}

    def __call__(self, module: str) -> ModuleFacts | None:
        if module in self.facts:
            return self.facts[module]
        path = self.paths.get(module)
        facts: ModuleFacts | None = None
        if path is not None:
            source = SourceFile(path, self.shown.get(path, path), module, path.endswith("__init__.py"))
            try:
                parsed: ast.Module | ScanError = _parse(Path(path).read_bytes(), source)
            except OSError as exc:
                parsed = ScanError(source.shown, 0, f"cannot be read: {exc.strerror}")
            if isinstance(parsed, ScanError):
                if parsed.file not in self.reported:
                    self.reported.add(parsed.file)
                    self.errors.append(parsed)
            else:
                facts = read_module(parsed, module, is_package=source.is_package)
        self.facts[module] = facts
        return facts


def scan_paths(paths: Sequence[str | os.PathLike[str]], *, workers: int | None = None) -> StaticScan:
    """Scan ``paths`` (files or directories) without importing anything.

    Args:
        paths: what to scan; a directory is walked (hidden directories and ``__pycache__``,
            ``venv``, ``node_modules``, ``build``, ``dist``, ``site-packages`` are skipped).
        workers: processes to read files with (default: the CPU count, at most 8; ``1``: this
            process only). Small code bases are always read in this process.
    """
    files, module_paths, missing = find_files(paths)
    findings, parsed, pooled = _read_all(files, workers)
    shown = {f.path: f.shown for f in files}
    facts_by_file = {f.file: f.facts for f in findings if f.facts is not None}
    by_module: dict[str, ModuleFacts] = {}
    for name, path in module_paths.items():
        facts = facts_by_file.get(shown[path])
        if facts is not None:
            by_module[name] = facts
    result = StaticScan(errors=list(missing))
    result.files, result.read, result.workers = len(files), parsed, pooled
    for f in findings:
        result.surfaces += f.surfaces
        result.unmanaged += f.unmanaged
        result.audit += f.audit
        if f.error is not None:
            result.errors.append(f.error)
    # Constants of skipped files are parsed while rows are built; their errors join this same list.
    result.resolver = Resolver(_Modules(module_paths, by_module, shown, result.errors))
    return result
