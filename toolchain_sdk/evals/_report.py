"""The results table and summary ``toolchain eval`` prints (rich), readable in a CI log."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from toolchain_sdk.evals._results import RunResult

__all__ = ["print_report"]

_STYLE = {"pass": "green", "fail": "bold red", "skipped": "yellow"}


def print_report(run: RunResult, out: TextIO, *, width: int = 160) -> None:
    """Print the selection, one row per case, each file's pass rate, skipped cases and regressions."""
    console = Console(file=out, width=width, soft_wrap=False, highlight=False)
    for line in run.selection:
        console.print(line, markup=False)
    table = Table(title="toolchain eval", show_lines=False, expand=False)
    for column in ("file", "case", "prompt", "result", "score", "reason"):
        table.add_column(column, overflow="fold")
    for case in run.cases:
        score = "" if case.score is None else f"{case.score:.2f}"
        table.add_row(  # Text, not markup: outputs quoted in reasons may hold [brackets]
            Text(case.file),
            Text(case.case),
            Text(case.prompt or ""),
            Text(case.status, style=_STYLE[case.status]),
            Text(score),
            Text("; ".join(case.reasons)),
        )
    if run.cases:
        console.print(table)
    for f in run.files:
        rate = "n/a (all skipped)" if f.pass_rate is None else f"{f.pass_rate:.0%}"
        verdict = "ok" if f.meets_threshold else "BELOW THRESHOLD"
        console.print(
            f"{f.file}: {f.passed} passed, {f.failed} failed, {f.skipped} skipped; pass rate {rate}, "
            f"threshold {f.threshold:.0%}: {verdict}",
            markup=False,
        )
    for case in run.cases:
        if case.status == "skipped":
            console.print(f"skipped: {case.file} {case.key}: {'; '.join(case.reasons)}", markup=False)
    for reg in run.regressions:
        prefix = "accepted (baseline updated)" if run.baseline_updated else "REGRESSION"
        console.print(f"{prefix}: {reg.describe()}", markup=False)
