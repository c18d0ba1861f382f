#!/usr/bin/env python3
"""Time the static scan behind ``toolchain inventory`` / ``toolchain check`` on a generated code base.

The code base has 2,000 modules (about 200,000 lines): one ``constants.py`` that the others import
from, 5 % of modules declaring governed surfaces (some with unmanaged OpenAI calls beside them), and
the rest plain code that mentions neither the SDK nor a client library, so the pre-filter skips it.
Prints one JSON object on its last line (``run.py --only scan`` puts it into docs/performance.md).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODULES = 2000
GOVERNED_EVERY = 20
REPEATS = 3
ROOT = Path(__file__).resolve().parent.parent

PLAIN_FUNC = '''

def helper_{i}_{j}(items: list[int], factor: int = {j}) -> list[int]:
    """Scale and filter the items (plain code: no model call)."""
    out = []
    for item in items:
        if item % 3 == {k}:
            out.append(item * factor)
        else:
            out.append(item - factor)
    return sorted(out)
'''

GOVERNED = '''"""Module {i}: governed surfaces and an unmanaged call."""

import toolchain_sdk as tc
from openai import OpenAI

from app.constants import OWNER, RISK

client = OpenAI()


def template_{i}(text: str) -> str:
    return "fallback"


@tc.governed_call("bench.s{i}", owner=OWNER, risk=RISK, fallback=template_{i}, model="gpt-4o-mini")
def answer_{i}(text: str) -> str:
    return str(client.chat.completions.create(model="gpt-4o-mini", messages=[]))


def unmanaged_{i}(text: str) -> str:
    return str(client.responses.create(model="gpt-4o-mini", input=text))
'''


DENSE = """import toolchain_sdk as tc


@tc.governed_call("bench.d{i}", owner="bench-team")
def surface_{i}(text: str) -> str:
    return text
"""


def generate(root: Path, dense: bool = False) -> int:
    """Write the code base under ``root``; returns its line count (``dense``: every module declares a surface)."""
    app = root / "app"
    app.mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "constants.py").write_text('OWNER = "bench-team"\nRISK = "medium"\n')
    lines = 2
    for i in range(MODULES - 2):
        pkg = app / f"pkg{i // 100:02d}"
        if not pkg.exists():
            pkg.mkdir()
            (pkg / "__init__.py").write_text("")
        if i % GOVERNED_EVERY == 0:
            text = GOVERNED.format(i=i)
            text += "".join(PLAIN_FUNC.format(i=i, j=j, k=j % 3) for j in range(8))
        else:
            text = (
                f'"""Module {i}: plain code."""\n'
                + (DENSE.format(i=i) if dense else "")
                + "".join(PLAIN_FUNC.format(i=i, j=j, k=j % 3) for j in range(9))
            )
        (pkg / f"mod_{i:04d}.py").write_text(text)
        lines += text.count("\n")
    return lines


def _time(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    from toolchain_sdk.inventory import control_sheet
    from toolchain_sdk.inventory._scan import scan_paths

    with tempfile.TemporaryDirectory(prefix="toolchain-scan-") as tmp:
        root = Path(tmp)
        lines = generate(root)
        (root / "toolchain.toml").write_text("")
        config = root / "toolchain.toml"
        app = root / "app"
        scan = scan_paths([app], workers=1)
        sheet = control_sheet([app], config=config, workers=1)
        parallel = [_time(lambda: control_sheet([app], config=config)) for _ in range(REPEATS)]
        serial = [_time(lambda: control_sheet([app], config=config, workers=1)) for _ in range(REPEATS)]
        cli = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            run = subprocess.run(
                [sys.executable, "-m", "toolchain_sdk", "check", str(app), "--config", str(config)],
                capture_output=True, text=True, cwd=root, env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip
            cli.append(time.perf_counter() - start)
            assert run.returncode == 1, run.stderr  # the unmanaged calls are violations
        dense_root = root / "dense"
        generate(dense_root, dense=True)
        dense_app = dense_root / "app"
        dense_parallel = [_time(lambda: control_sheet([dense_app], config=config)) for _ in range(REPEATS)]
        dense_serial = [_time(lambda: control_sheet([dense_app], config=config, workers=1)) for _ in range(REPEATS)]
        print(json.dumps({
            "modules": scan.files,
            "lines": lines,
            "read": scan.read,
            "surfaces": len(sheet.surfaces),
            "unmanaged": len(sheet.unmanaged),
            "owners_resolved": sum(1 for r in sheet.surfaces if r.owner == "bench-team"),
            "cpus": os.cpu_count(),
            "parallel_s": statistics.median(parallel),
            "serial_s": statistics.median(serial),
            "cli_check_s": statistics.median(cli),
            "dense_read": scan_paths([dense_app], workers=1).read,
            "dense_parallel_s": statistics.median(dense_parallel),
            "dense_serial_s": statistics.median(dense_serial),
            "repeats": REPEATS,
            "load": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
        }))  # fmt: skip


if __name__ == "__main__":
    main()
