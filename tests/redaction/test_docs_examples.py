"""The Python examples of ``docs/redaction.md`` run, and each result shown under an expression is what it gives."""

from __future__ import annotations

import re

from tests._subproc import ROOT, run_python

CHECKER = r"""
import ast, re, sys
from pathlib import Path

text = Path("docs/redaction.md").read_text(encoding="utf-8")
blocks = re.findall(r"```python\n(.*?)```", text, re.S)
checked = 0
for number, block in enumerate(blocks, start=1):
    namespace = {}
    exec(compile(block, f"docs/redaction.md block {number}", "exec"), namespace)
    lines = block.splitlines()
    for line, shown in zip(lines, lines[1:]):
        shown = shown.strip()
        if not shown.startswith("# ") or not line.strip() or line.startswith(("#", " ")):
            continue
        try:
            expected = ast.literal_eval(shown[2:].split("   (")[0].strip())
        except (ValueError, SyntaxError):
            continue  # a comment, not a shown result
        got = eval(line.split("  #")[0], namespace)
        if got != expected:
            sys.exit(f"block {number}: {line.strip()} gives {got!r}, the page shows {expected!r}")
        checked += 1
print(len(blocks), checked)
"""


def test_the_redaction_page_examples_give_what_the_page_shows() -> None:
    """Every ```python block runs in a fresh process; every ``# 'result'`` line matches the expression above it."""
    result = run_python(CHECKER, cwd=ROOT)
    assert result.returncode == 0, result.stderr or result.stdout
    blocks, checked = map(int, result.stdout.split())
    page = (ROOT / "docs" / "redaction.md").read_text(encoding="utf-8")
    assert blocks == len(re.findall(r"```python\n", page)) and blocks >= 3
    assert checked >= 5
