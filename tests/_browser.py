"""Headless Chromium for the page tests: Debian's ``chromium`` driven by Playwright (no browser download).

``python3 dev.py test`` installs Chromium when it is missing and names it in ``$TOOLCHAIN_CHROMIUM``.
Without one the browser tests skip, except under CI (``CI=true``), where a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM_ENV = "TOOLCHAIN_CHROMIUM"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


def chromium_path() -> str | None:
    """The Chromium binary to drive, or ``None`` when this machine has none."""
    return os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")


def launch() -> Iterator[object]:
    """Yield a Playwright ``Browser`` on headless Chromium; skip (fail under CI) when there is none."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no Chromium: install Debian's chromium (dev.py test does) or set $TOOLCHAIN_CHROMIUM")
        pytest.skip("no Chromium on this machine (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
