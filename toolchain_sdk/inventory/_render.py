"""The control sheet as JSON, Markdown, CSV, a printable one-page text, or a terminal table (rich)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from typing import Final

from toolchain_sdk.inventory._row import FIELDS, RISK_ORDER, SurfaceRow
from toolchain_sdk.inventory._sheet import ControlSheet
from toolchain_sdk.inventory._values import DYNAMIC

__all__ = ["FORMATS", "MINIMUM_CONTROLS", "render", "summary"]

MINIMUM_CONTROLS: Final = {
    "high": "owner, approval gate, kill flag with fallback, pinned prompt, audit sink",
    "medium": "owner, kill flag with fallback",
    "low": "owner",
}
"""What each risk level needs, as the text sheet prints it."""


def summary(sheet: ControlSheet) -> dict[str, object]:
    """Counts for the sheet's header: surfaces by risk, surfaces with gaps, unmanaged call sites, errors."""
    by_risk = Counter(r.risk for r in sheet.surfaces)
    return {
        "surfaces": len(sheet.surfaces),
        "by_risk": {k: by_risk.get(k, 0) for k in (*RISK_ORDER, DYNAMIC) if by_risk.get(k) or k in RISK_ORDER},
        "with_gaps": sum(1 for r in sheet.surfaces if r.gaps),
        "unmanaged": len(sheet.unmanaged),
        "errors": len(sheet.errors),
    }


def _headline(sheet: ControlSheet) -> str:
    s = summary(sheet)
    risks = ", ".join(f"{k} {v}" for k, v in s["by_risk"].items())  # type: ignore[attr-defined]
    return (
        f"{s['surfaces']} surfaces ({risks}); {s['with_gaps']} with gaps; "
        f"{s['unmanaged']} unmanaged call sites; files not parsed: {s['errors']}"
    )


def _where(row: SurfaceRow) -> str:
    return f"{row.file}:{row.line}" if row.file else "-"


def _model(row: SurfaceRow) -> str:
    if row.route:
        return f"route {row.route}"
    return ":".join(x for x in (row.provider, row.model) if x) or "-"


def _prompt(row: SurfaceRow) -> str:
    if not row.prompt:
        return "-"
    if row.prompt_version and not row.prompt.endswith(f"@{row.prompt_version}"):
        return f"{row.prompt} (v{row.prompt_version})"
    return row.prompt


def _approval(row: SurfaceRow) -> str:
    if row.approval == "not_required":
        return f"not required ({row.approval_reason})" if row.approval_reason else "not required"
    return row.approval


def _kill(row: SurfaceRow) -> str:
    if row.fallback is None:
        return "none (no fallback)"
    return f"{row.kill_flag} -> {row.fallback}"


def _json(sheet: ControlSheet) -> str:
    return json.dumps(sheet.to_json(), indent=2) + "\n"


def _csv(sheet: ControlSheet) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; it also quotes a field holding a lone \r
    writer.writerow(FIELDS)
    for row in sheet.surfaces:
        data = row.to_json()
        writer.writerow([" ".join(v) if isinstance(v, list) else ("" if v is None else v) for v in data.values()])
    return out.getvalue()


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown(sheet: ControlSheet) -> str:
    lines = [
        "# Control sheet",
        "",
        f"Generated {sheet.generated_at} from {', '.join(sheet.paths)}: {_headline(sheet)}.",
        "",
        "| surface | where | function | owner | risk | model | prompt | approval | kill switch | audit | capture "
        "| data class | rollback | gaps | source |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in sheet.surfaces:
        gaps = ", ".join(f"**{g}**" for g in r.gaps) or "none"
        cells = [f"`{r.surface}`", f"`{_where(r)}`", r.function or "-", r.owner or "**none**", r.risk, _model(r),
                 _prompt(r), _approval(r), _kill(r), r.audit, r.capture, r.data_class, r.rollback or "-", gaps,
                 r.source]  # fmt: skip
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    if sheet.unmanaged:
        lines += ["", "## Unmanaged call sites", "", "| file | line | library | call |", "| --- | ---: | --- | --- |"]
        lines += [f"| `{u.file}` | {u.line} | {u.library} | `{_md_cell(u.call)}` |" for u in sheet.unmanaged]
    if sheet.errors:
        lines += ["", "## Files not parsed", "", "| file | line | error |", "| --- | ---: | --- |"]
        lines += [f"| `{e.file}` | {e.line} | {_md_cell(e.message)} |" for e in sheet.errors]
    return "\n".join(lines) + "\n"


def _text(sheet: ControlSheet) -> str:
    rule = "=" * 78
    lines = ["CONTROL SHEET", rule, f"generated {sheet.generated_at}  paths: {', '.join(sheet.paths)}",
             _headline(sheet), ""]  # fmt: skip
    for r in sorted(sheet.surfaces, key=lambda r: (RISK_ORDER.get(r.risk, -1), r.surface)):
        lines.append(f"{r.surface}  [{r.risk.upper()}]  owner: {r.owner or 'NONE'}")
        lines.append(f"  where     {_where(r)} ({r.function or '-'}), {r.source}")
        lines.append(f"  model     {_model(r)}; prompt {_prompt(r)}")
        lines.append(f"  needs     {MINIMUM_CONTROLS.get(r.risk, 'owner and a readable risk')}")
        lines.append(f"  controls  approval {_approval(r)}; kill switch {_kill(r)}; audit {r.audit}; "
                     f"capture {r.capture}")  # fmt: skip
        lines.append(f"  rollback  {r.rollback or 'none declared'}")
        lines.append(f"  gaps      {', '.join(r.gaps) if r.gaps else 'none'}")
        lines.append("")
    if sheet.unmanaged:
        lines += ["UNMANAGED CALL SITES (models called outside any governed surface)", rule]
        lines += [f"  {u.file}:{u.line}  {u.library}  {u.call}" for u in sheet.unmanaged]
        lines.append("")
    if sheet.errors:
        lines += ["FILES NOT PARSED", rule]
        lines += [f"  {e.file}:{e.line}  {e.message}" for e in sheet.errors]
        lines.append("")
    return "\n".join(lines)


_RISK_STYLE = {"high": "bold red", "medium": "yellow", "low": "green"}


def _table(sheet: ControlSheet, width: int | None = None, color: bool | None = None) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Control sheet", caption=_headline(sheet), show_lines=False, expand=False)
    table.add_column("surface", no_wrap=True)
    for name in ("where", "owner", "risk", "model", "prompt", "approval", "kill switch", "audit", "gaps", "source"):
        table.add_column(name, overflow="fold")
    for r in sheet.surfaces:
        table.add_row(
            r.surface, _where(r), r.owner or "[red]none[/red]", f"[{_RISK_STYLE.get(r.risk, 'magenta')}]{r.risk}[/]",
            _model(r), _prompt(r), _approval(r),
            f"{r.kill_flag} -> {r.fallback.rsplit('.', 1)[-1]}" if r.fallback else "[red]none[/red]", r.audit,
            f"[bold red]{', '.join(r.gaps)}[/]" if r.gaps else "[green]none[/green]", r.source,
        )  # fmt: skip
    out = io.StringIO()
    console = Console(file=out, width=width or 200, force_terminal=color, no_color=color is False, highlight=False)
    console.print(table)
    if sheet.unmanaged:
        unmanaged = Table(title="Unmanaged call sites")
        for name in ("where", "library", "call"):
            unmanaged.add_column(name, overflow="fold")
        for u in sheet.unmanaged:
            unmanaged.add_row(f"{u.file}:{u.line}", u.library, u.call)
        console.print(unmanaged)
    for e in sheet.errors:
        console.print(f"[red]not parsed[/red] {e.file}:{e.line}: {e.message}", markup=True)
    return out.getvalue()


def _html(sheet: ControlSheet) -> str:
    from toolchain_sdk.inventory._html import render_html

    return render_html(sheet, summary(sheet))


FORMATS: Final[dict[str, Callable[[ControlSheet], str]]] = {
    "table": _table,
    "json": _json,
    "markdown": _markdown,
    "csv": _csv,
    "text": _text,
    "html": _html,
}
"""Every output format by name (``table`` is the default terminal table)."""


def render(sheet: ControlSheet, fmt: str = "table", *, width: int | None = None, color: bool | None = None) -> str:
    """The sheet in ``fmt`` (``table``, ``json``, ``markdown``, ``csv``, ``text``, ``html``).

    Raises:
        ValueError: an unknown format.
    """
    if fmt == "table":
        return _table(sheet, width, color)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return FORMATS[fmt](sheet)
