"""Building the control sheet: the static scan, the live registry (``--import``), or both, then the policy."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

from toolchain_sdk.inventory._policy import load_policy
from toolchain_sdk.inventory._registry import surfaces
from toolchain_sdk.inventory._row import SurfaceRow
from toolchain_sdk.inventory._scan import scan_paths
from toolchain_sdk.inventory._sheet import ControlSheet, SheetContext, rows_from_registry, rows_from_scan
from toolchain_sdk.prompts import prompts_dir as _prompts_dir
from toolchain_sdk.routing import load_config, use_config

__all__ = ["control_sheet", "import_modules"]


def import_modules(modules: Sequence[str]) -> None:
    """Import each module (from the working directory first), so its surfaces register."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    for name in modules:
        importlib.import_module(name)


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


def control_sheet(
    paths: Sequence[str | os.PathLike[str]] = (),
    *,
    imports: Sequence[str] = (),
    config: str | os.PathLike[str] | None = None,
    prompts_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> ControlSheet:
    """The control sheet of ``paths`` (scanned statically) and/or ``imports`` (the live registry).

    Args:
        paths: files or directories to scan without importing them (default: ``.`` when no
            ``imports`` are given either).
        imports: modules to import; the surfaces they register are read from the registry.
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
    targets = [str(p) for p in paths] or ([] if imports else ["."])
    rows: list[SurfaceRow] = []
    unmanaged, errors = [], []
    if targets:
        scan = scan_paths(targets, workers=workers)
        rows, unmanaged, errors = rows_from_scan(scan, context), scan.unmanaged, scan.errors
    if imports:
        import_modules(imports)
        rows = _merge(rows, rows_from_registry(surfaces(), context))
    shown = targets + [f"import:{m}" for m in imports]
    return ControlSheet.build(rows, unmanaged, errors, shown, policy)
