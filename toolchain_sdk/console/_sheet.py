"""The control sheet page's rows: the same columns as ``toolchain inventory`` (``SurfaceRow``), for the
surfaces registered in the process the console runs in and those the static scan of ``--scan`` finds,
each with the gaps the policy in force finds — built through the inventory's public API."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from toolchain_sdk import inventory
from toolchain_sdk.errors import ConfigError

if TYPE_CHECKING:
    from toolchain_sdk.inventory import SurfaceRow

__all__ = ["COLUMNS", "sheet_rows"]

COLUMNS: Final = ("surface", "where", "function", "owner", "risk", "model", "prompt", "approval", "kill switch",
                  "audit", "capture", "data class", "rollback", "gaps", "source")  # fmt: skip
"""The columns, as ``toolchain inventory --format html`` prints them."""


def _cells(row: SurfaceRow) -> dict[str, Any]:
    """One row as the page shows it, keyed by ``COLUMNS``."""
    model = f"route {row.route}" if row.route else ":".join(x for x in (row.provider, row.model) if x)
    prompt = row.prompt or ""
    if row.prompt and row.prompt_version and not row.prompt.endswith(f"@{row.prompt_version}"):
        prompt += f" (v{row.prompt_version})"
    approval = row.approval if row.approval != "not_required" else f"not required: {row.approval_reason or ''}"
    return {
        "surface": row.surface,
        "where": f"{row.file}:{row.line}" if row.file else None,
        "function": row.function,
        "owner": row.owner,
        "risk": row.risk,
        "model": model or None,
        "prompt": prompt or None,
        "approval": approval,
        "kill switch": f"{row.kill_flag} \u2192 {row.fallback}" if row.fallback else "none (no fallback)",
        "audit": row.audit,
        "capture": row.capture,
        "data class": row.data_class,
        "rollback": row.rollback,
        "gaps": ", ".join(row.gaps) or None,
        "source": row.source,
    }


def sheet_rows(scan: Sequence[Path]) -> tuple[list[dict[str, Any]], str | None]:
    """Every surface registered in this process and found by the scan of ``scan``, as sheet rows sorted
    by name (a registered surface replaces the scanned row of the same name), with the policy's gaps;
    and a note when the sheet could not be built (a bad ``[policy]`` table, an unreadable path)."""
    try:
        sheet = inventory.control_sheet([str(p) for p in scan], registry=True)  # as `toolchain inventory` builds it
    except (ConfigError, OSError) as exc:
        return [], f"the control sheet could not be built: {exc}"
    return [_cells(row) for row in sorted(sheet.surfaces, key=lambda r: r.surface)], None
