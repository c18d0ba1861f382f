"""Take the screenshots of the reviewer console for the docs: the approvals inbox and the kill-switch page.

Run from the repository root (needs the console extra, Playwright and Debian's chromium)::

    .venv/bin/python scripts/console_screenshots.py            # writes docs/img/console-inbox.png, console-flags.png

It serves a console in this process on a free 127.0.0.1 port with demo data in a temporary folder
(three registered surfaces, two pending requests, a few flag-file entries), logs in as a reviewer and
as a flag owner in headless Chromium, and saves the pages. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402

import toolchain_sdk as tc  # noqa: E402
from toolchain_sdk import config  # noqa: E402
from toolchain_sdk.approval import ApprovalRequest, open_store  # noqa: E402
from toolchain_sdk.console import ConsoleSettings, UserStore, create_app  # noqa: E402
from toolchain_sdk.flags import FlagFile  # noqa: E402
from toolchain_sdk.redaction import scrub  # noqa: E402


def _demo_surfaces() -> None:
    """Surfaces registered in this process, as an application embedding the console would have them."""

    def template(*args: object, **kwargs: object) -> str:
        return "We have received your request and will reply within one working day."

    @tc.governed_call("support.refund_reply", owner="support-platform", model="gpt-4o-mini", provider="openai",
                      risk="high", fallback=template, approval=tc.approval.require(when="after"))  # fmt: skip
    def refund_reply(ticket: str) -> str:
        return ticket

    @tc.governed_call("billing.issue_refund", owner="billing", model="claude-x", provider="anthropic", risk="high",
                      fallback=template, approval=tc.approval.require(when="before"))  # fmt: skip
    def issue_refund(order_id: str, amount: float) -> str:
        return order_id

    @tc.governed_call("sales.security_answer", owner="sales-eng", model="gpt-4o", provider="openai", risk="medium",
                      fallback=template)  # fmt: skip
    def security_answer(question: str) -> str:
        return question


def _demo_requests(store_url: str) -> None:
    """Two pending requests: one before a refund is issued, one reviewing a drafted reply."""
    store = open_store(store_url)
    now = dt.datetime.now(dt.UTC)
    hasher = config.hasher()  # the hashes a real gate would bind the decision to
    refund_args = {"order_id": "A-10442", "amount": 249.0, "card": "4111 1111 1111 1111"}
    ticket_args = {"ticket": "My order A-10442 arrived broken, can I get my money back?"}
    draft = ("Hello, I'm sorry your order arrived damaged. We will refund the full amount of 249.00 EUR to your "
             "card within 5 working days.")  # fmt: skip
    store.submit(ApprovalRequest(
        id="3f9c2a7be1d04c55", surface="billing.issue_refund", risk="high", phase="before",
        arguments=scrub(refund_args),  # type: ignore[arg-type]  # what a reviewer sees: the card number scrubbed
        arguments_sha256=hasher.hash_arguments(refund_args),
        created_at=now - dt.timedelta(seconds=40), expires_at=now + dt.timedelta(minutes=14, seconds=20),
        owner="billing", model="claude-x", prompt_name="refund_policy", prompt_version="3"))  # fmt: skip
    store.submit(ApprovalRequest(
        id="8a1e77c0d2b94f1a", surface="support.refund_reply", risk="high", phase="after",
        arguments=ticket_args, arguments_sha256=hasher.hash_arguments(ticket_args),
        output=draft, output_kind="text", output_sha256=hasher.hash_value(draft),
        created_at=now - dt.timedelta(seconds=5), expires_at=now + dt.timedelta(minutes=9, seconds=55),
        owner="support-platform", model="gpt-4o-mini", prompt_name="support_refund_policy",
        prompt_version="3"))  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"), help="where to write the PNG files")
    parser.add_argument("--chromium", default=os.environ.get("TOOLCHAIN_CHROMIUM") or shutil.which("chromium"))
    args = parser.parse_args()
    if not args.chromium:
        print("no chromium: apt-get install -y chromium (or set TOOLCHAIN_CHROMIUM)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="console-shots-") as tmp:
        work = Path(tmp)
        store_url = f"sqlite:///{work / 'approvals.db'}"
        users = UserStore(work / "users.json")
        tokens = {"alice": users.add("alice", "reviewer"), "fred": users.add("fred", "flag-owner")}
        flags = FlagFile(work / "flags.json")
        flags.kill("support.refund_reply", reason="quotes the old refund policy", by="fred",
                   ttl=dt.timedelta(hours=2))  # fmt: skip
        flags.kill("sales.*", reason="security review of answers pending", by="dana")
        flags.allow("sales.security_answer", reason="answers checked by legal", by="dana")
        _demo_surfaces()
        _demo_requests(store_url)
        app = create_app(ConsoleSettings(store=store_url, flags=flags.path, users=users.path))
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
                for name, path, png in (("alice", "/inbox", "console-inbox.png"),
                                        ("fred", "/flags", "console-flags.png")):  # fmt: skip
                    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                    page.goto(url + "/")
                    page.fill("#token", tokens[name])
                    page.click("button[type=submit]")
                    page.wait_for_url(url + "/inbox")
                    page.goto(url + path)
                    if path == "/inbox":
                        page.locator("article.request details summary").first.click()
                    page.screenshot(path=str(out / png), full_page=True)
                    print(f"wrote {out / png}")
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
