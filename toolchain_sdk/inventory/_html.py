"""The control sheet as one self-contained HTML page: inline CSS and JS, no network, no fonts to fetch.

The table sorts by any column (risk sorts high → medium → low) and filters as you type; rows with
gaps are highlighted; a summary counts surfaces by risk, surfaces with gaps and unmanaged calls.
"""

from __future__ import annotations

from html import escape
from typing import Final

from toolchain_sdk.inventory._row import RISK_ORDER, SurfaceRow
from toolchain_sdk.inventory._sheet import ControlSheet

__all__ = ["render_html"]

_CSS: Final = """
:root { --bg:#fff; --fg:#1b1f24; --muted:#57606a; --line:#d0d7de; --gap:#fff1f0; --gapfg:#a40e26;
        --high:#cf222e; --medium:#9a6700; --low:#1a7f37; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg);
       margin: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: var(--muted); margin-bottom: 16px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 16px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 130px; }
.card b { display: block; font-size: 22px; } .card span { color: var(--muted); font-size: 12px; }
.card.bad b { color: var(--gapfg); }
#filter { width: 100%; max-width: 480px; padding: 7px 10px; font-size: 14px; border: 1px solid var(--line);
          border-radius: 6px; margin-bottom: 10px; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after { content: " \\25BC"; }
td code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
tr.has-gaps td { background: var(--gap); }
td.gaps { color: var(--gapfg); font-weight: 600; min-width: 13em; }
.risk-high { color: var(--high); font-weight: 700; } .risk-medium { color: var(--medium); font-weight: 600; }
.risk-low { color: var(--low); }
.none { color: var(--muted); }
#count { color: var(--muted); margin-left: 8px; }
"""

_JS: Final = """
(function () {
  const table = document.getElementById("surfaces");
  const body = table.tBodies[0];
  const filter = document.getElementById("filter");
  const count = document.getElementById("count");
  function visible() { return Array.from(body.rows).filter(r => !r.hidden).length; }
  function update() {
    const q = filter.value.trim().toLowerCase();
    for (const row of body.rows) { row.hidden = q !== "" && !row.textContent.toLowerCase().includes(q); }
    count.textContent = visible() + " of " + body.rows.length + " surfaces";
  }
  filter.addEventListener("input", update);
  Array.from(table.tHead.rows[0].cells).forEach((th, i) => {
    th.addEventListener("click", () => {
      const asc = th.getAttribute("aria-sort") !== "ascending";
      for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      const key = r => { const c = r.cells[i]; return c.dataset.sort !== undefined ? c.dataset.sort : c.textContent; };
      const num = Array.from(body.rows).every(r => key(r) !== "" && !isNaN(Number(key(r))));
      const rows = Array.from(body.rows).sort((a, b) => {
        const x = key(a), y = key(b);
        const d = num ? Number(x) - Number(y) : x.localeCompare(y, undefined, {numeric: true});
        return asc ? d : -d;
      });
      rows.forEach(r => body.appendChild(r));
    });
  });
  update();
})();
"""

_COLUMNS: Final = ("surface", "where", "function", "owner", "risk", "model", "prompt", "approval", "kill switch",
                   "audit", "capture", "data class", "rollback", "gaps", "source")  # fmt: skip


def _cell(value: str | None, sort: str | None = None, cls: str = "") -> str:
    attrs = (f' data-sort="{escape(sort)}"' if sort is not None else "") + (f' class="{cls}"' if cls else "")
    if value in (None, ""):
        return f'<td{attrs}><span class="none">-</span></td>'
    return f"<td{attrs}>{escape(str(value))}</td>"


def _row(r: SurfaceRow) -> str:
    model = f"route {r.route}" if r.route else ":".join(x for x in (r.provider, r.model) if x)
    prompt = r.prompt or ""
    if r.prompt and r.prompt_version and not r.prompt.endswith(f"@{r.prompt_version}"):
        prompt += f" (v{r.prompt_version})"
    approval = r.approval if r.approval != "not_required" else f"not required: {r.approval_reason or ''}"
    kill = f"{r.kill_flag} \u2192 {r.fallback}" if r.fallback else "none (no fallback)"
    where = f"{r.file}:{r.line}" if r.file else ""
    cells = [
        f"<td><code>{escape(r.surface)}</code></td>",
        _cell(where, sort=f"{r.file or ''}:{(r.line or 0):08d}", cls="mono"),
        _cell(r.function),
        _cell(r.owner, sort=r.owner or ""),
        _cell(r.risk, sort=str(RISK_ORDER.get(r.risk, -1)), cls=f"risk-{escape(r.risk)}"),
        _cell(model),
        _cell(prompt),
        _cell(approval),
        _cell(kill),
        _cell(r.audit),
        _cell(r.capture),
        _cell(r.data_class),
        _cell(r.rollback),
        _cell(", ".join(r.gaps) or None, sort=str(len(r.gaps)), cls="gaps" if r.gaps else ""),
        _cell(r.source),
    ]
    cls = ' class="has-gaps"' if r.gaps else ""
    return f'<tr{cls} data-surface="{escape(r.surface)}">' + "".join(cells) + "</tr>"


def render_html(sheet: ControlSheet, counts: dict[str, object]) -> str:
    """The whole page (``counts`` is the renderer's summary: surfaces by risk, with gaps, unmanaged)."""
    by_risk = counts["by_risk"]
    assert isinstance(by_risk, dict)
    cards = [(str(counts["surfaces"]), "surfaces", "")]
    cards += [(str(n), f"{risk} risk", "") for risk, n in by_risk.items()]
    cards += [
        (str(counts["with_gaps"]), "surfaces with gaps", "bad" if counts["with_gaps"] else ""),
        (str(counts["unmanaged"]), "unmanaged call sites", "bad" if counts["unmanaged"] else ""),
        (str(counts["errors"]), "files not parsed", "bad" if counts["errors"] else ""),
    ]
    card_html = "".join(
        f'<div class="card {cls}" data-kind="{escape(label)}"><b>{escape(n)}</b><span>{escape(label)}</span></div>'
        for n, label, cls in cards
    )
    head = "".join(f"<th>{escape(c)}</th>" for c in _COLUMNS)
    rows = "\n".join(_row(r) for r in sheet.surfaces)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Control sheet</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Control sheet</h1>",
        f'<div class="meta">Generated {escape(sheet.generated_at)} from {escape(", ".join(sheet.paths))}</div>',
        f'<section class="cards" id="summary">{card_html}</section>',
        '<input id="filter" type="search" placeholder="Filter: surface, owner, risk, gap, file..." '
        'aria-label="Filter surfaces"><span id="count"></span>',
        f'<table id="surfaces"><thead><tr>{head}</tr></thead><tbody>\n{rows}\n</tbody></table>',
    ]
    if sheet.unmanaged:
        parts.append("<h2>Unmanaged call sites</h2>")
        parts.append('<table id="unmanaged"><thead><tr><th>where</th><th>library</th><th>call</th></tr></thead><tbody>')
        parts += [
            f'<tr><td class="mono">{escape(u.file)}:{u.line}</td><td>{escape(u.library)}</td>'
            f"<td><code>{escape(u.call)}</code></td></tr>"
            for u in sheet.unmanaged
        ]
        parts.append("</tbody></table>")
    if sheet.errors:
        parts.append('<h2>Files not parsed</h2><ul id="errors">')
        parts += [f'<li class="mono">{escape(e.file)}:{e.line}: {escape(e.message)}</li>' for e in sheet.errors]
        parts.append("</ul>")
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"
