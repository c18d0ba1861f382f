#!/usr/bin/env python3
"""Regenerate docs/img/control-sheet.png: the HTML control sheet of the fixture code base in Chromium.

    .venv/bin/python scripts/control_sheet_screenshot.py

Builds the sheet of ``tests/data/inventory/app`` (the code base the inventory tests scan: every
decorator form, dynamic values, unmanaged calls, a file that does not parse) exactly as
``toolchain inventory tests/data/inventory/app --prompts-dir tests/data/inventory/prompts --format html``
does, sorts it by risk (high first, one click on the header as a reader would) and saves a
screenshot with headless Chromium (Debian's ``/usr/bin/chromium``, or ``$TOOLCHAIN_CHROMIUM``)
driven by Playwright. Every request but the page's own file is refused: the page is self-contained.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img" / "control-sheet.png"
WINDOW = {"width": 1500, "height": 900}
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    from playwright.sync_api import sync_playwright

    from toolchain_sdk.inventory import control_sheet, render

    chromium = os.environ.get("TOOLCHAIN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("no Chromium: apt-get install -y chromium (or set $TOOLCHAIN_CHROMIUM)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="control-sheet-") as tmp:
        config = Path(tmp) / "toolchain.toml"
        config.write_text("")
        sheet = control_sheet(["tests/data/inventory/app"], prompts_dir="tests/data/inventory/prompts", config=config)
        page_file = Path(tmp) / "control-sheet.html"
        page_file.write_text(render(sheet, "html"), encoding="utf-8")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
            context = browser.new_context(viewport=WINDOW, device_scale_factor=1)
            context.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
            page = context.new_page()
            page.goto(page_file.as_uri())
            page.click("#surfaces thead th:has-text('risk')")
            OUT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(OUT), full_page=True)
            browser.close()
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
