"""Building the control sheet: the static scan, the live registry (``--import``), or both, then the policy."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from toolchain_sdk.inventory._policy import load_policy
from toolchain_sdk.inventory._registry import surfaces
from toolchain_sdk.inventory._row import SurfaceRow
from toolchain_sdk.inventory._scan import scan_paths
from toolchain_sdk.inventory._sheet import ControlSheet, SheetContext, rows_from_registry, rows_from_scan
from toolchain_sdk.prompts import prompts_dir as _prompts_dir
from toolchain_sdk.routing import load_config, use_config

__all__ = ["control_sheet", "import_modules"]


def import_modules(modules: Sequence[str]) -> None:
    """Import each module (from the working directory first), so its surfaces register.

    Raises:
        ImportError: a module is not found, or its top-level code raised (the error names the
            module and what it raised, so ``--import`` fails as a usage error, not a crash).
    """
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            raise
        except Exception as exc:  # its top-level code failed: say so instead of a traceback
            raise ImportError(f"importing {name} raised {type(exc).__name__}: {exc}", name=name) from exc


def _merge(static: list[SurfaceRow], live: list[SurfaceRow]) -> list[SurfaceRow]:
    """Static rows, each replaced by the live row of the same surface (which knows dynamic values)."""
    by_name = {r.surface: r for r in live}
    merged = []
    for row in static:
        found = by_name.pop(row.surface, None)
        if found is None:
            merged.append(row)
        else:
            merged.append(replace(found, file=found.file or row.file, line=found.line or row.line,
                                  function=found.function or row.function))  # fmt: skip
    return merged + list(by_name.values())


def _other_names(targets: Sequence[str], config_source: str | None) -> Callable[[str], list[str]]:
    """A file's paths relative to the configuration file's directory and to each scanned directory.

    ``allow_unmanaged = ["scripts/*"]`` in ``toolchain.toml`` then means the project's ``scripts/``
    whether the scan was given ``.``, ``src``, or an absolute path.
    """
    roots = [Path(t).resolve() for t in targets if Path(t).is_dir()]
    if config_source is not None and Path(config_source).is_file():
        roots.insert(0, Path(config_source).resolve().parent)

    def names(file: str) -> list[str]:
        path = Path(file).resolve()
        return [path.relative_to(root).as_posix() for root in roots if path.is_relative_to(root)]

    return names


def control_sheet(
    paths: Sequence[str | os.PathLike[str]] = (),
    *,
    imports: Sequence[str] = (),
    registry: bool = False,
    config: str | os.PathLike[str] | None = None,
    prompts_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> ControlSheet:
    """The control sheet of ``paths`` (scanned statically) and/or ``imports`` (the live registry).

    Args:
        paths: files or directories to scan without importing them (default: ``.`` when neither
            ``imports`` nor ``registry`` is given).
        imports: modules to import; the surfaces they register are read from the registry.
        registry: also read the surfaces already registered in this process (an application, or
            the reviewer console running inside one), importing nothing.
        config: ``toolchain.toml`` to read (default: discovery, as ``configure()`` does).
        prompts_dir: where prompt files and ``prompts.lock`` live (default: ``[prompts] dir``,
            ``$TOOLCHAIN_PROMPTS_DIR``, then ``prompts``).
        workers: processes for the scan (default: CPU count, at most 8).

    Raises:
        ConfigError: the configuration file or its ``[policy]`` table is invalid (an unknown rule).
    """
    # Importing modules decorates surfaces, which read the configuration in force: make it this one.
    # A scan alone leaves the process's configuration as it was.
    loaded = use_config(config) if imports else load_config(config)
    policy = load_policy(loaded)
    directory = prompts_dir or (loaded.prompts.dir if loaded is not None else None)
    context = SheetContext(_prompts_dir(directory), loaded)
    targets = [str(p) for p in paths] or ([] if imports or registry else ["."])
    rows: list[SurfaceRow] = []
    unmanaged, errors = [], []
    if targets:
        scan = scan_paths(targets, workers=workers)
        rows, unmanaged, errors = rows_from_scan(scan, context), scan.unmanaged, scan.errors
    if imports or registry:
        if imports:
            import_modules(imports)
        rows = _merge(rows, rows_from_registry(surfaces(), context))
    shown = targets + [f"import:{m}" for m in imports] + (["registry"] if registry and not imports else [])
    names = _other_names(targets, loaded.source if loaded is not None else None)
    return ControlSheet.build(rows, unmanaged, errors, shown, policy, names)
