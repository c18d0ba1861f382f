"""End to end in headless Chromium (Debian's, driven by Playwright): a reviewer approves, denies and edits a
call that a separate process is waiting on, and a flag owner switches a running app to its fallback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._subproc import ROOT
from tests.console._support import GUARD_S, Console, running_console

pytestmark = pytest.mark.browser

# A separate application process: one governed call waits on the console's queue; it prints what happened.
APP = """
import json, sys
import toolchain_sdk as tc
from toolchain_sdk import semconv
from toolchain_sdk.testing import SpanRecorder

recorder = SpanRecorder.install(service_name="console-e2e")
phase = sys.argv[1]

@tc.governed_call("e2e.refund", owner="billing-team", model="gpt-4o-mini", provider="openai", risk="high",
                  fallback=lambda note: "switched off",
                  approval=tc.approval.require(when=phase, timeout="90s",
                                               approver=tc.approval.queue(sys.argv[2], poll_interval=(0.02, 0.2))))
def refund(note: str) -> str:
    return "draft reply"

try:
    result = {"output": refund(sys.argv[3])}
except tc.ApprovalDenied as exc:
    result = {"denied": str(exc)}
span = recorder.one("e2e.refund")
attrs = dict(span.attributes or {})
result.update(approver=attrs.get(semconv.APPROVAL_APPROVER), decision=attrs.get(semconv.APPROVAL_DECISION),
              editor=attrs.get(semconv.OVERRIDE_EDITOR), reason=attrs.get(semconv.APPROVAL_REASON))
tc.shutdown()
print(json.dumps(result), flush=True)
"""


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOOLCHAIN_"))}
    env.update(extra)
    return env


def start_app(console: Console, phase: str, note: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """The waiting application, in a process of its own."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(APP), phase, console.store, note], cwd=ROOT,
                            env=_env(env), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def finish(app: subprocess.Popen[str]) -> dict[str, Any]:
    """What the waiting call printed once it went on."""
    out, err = app.communicate(timeout=GUARD_S)
    assert app.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def audited(tmp_path: Path) -> Iterator[tuple[Console, Path]]:
    """A console whose decisions go to an audit chain, and that chain's path."""
    chain = tmp_path / "audit.jsonl"
    with running_console(tmp_path, "--audit", str(chain), env={"TOOLCHAIN_AUDIT": str(chain)}) as console:
        yield console, chain


def login(browser: Any, console: Console, name: str) -> Any:
    """A fresh browser page logged in as ``name`` through the login form."""
    page = browser.new_context().new_page()
    page.goto(console.url + "/")
    page.fill("#token", console.tokens[name])
    page.click("button[type=submit]")
    page.wait_for_url(console.url + "/inbox")
    return page


def audit_records(chain: Path) -> list[dict[str, Any]]:
    """Every record in the chain (empty when nothing was written)."""
    if not chain.exists():
        return []
    return [json.loads(line) for line in chain.read_text().splitlines() if line.strip()]


def decide_in_browser(browser: Any, console: Console, chain: Path, action: str, note: str, phase: str = "before",
                      edit: str | None = None) -> tuple[dict[str, Any], str]:  # fmt: skip
    """Log in as alice, let a waiting call appear live in the inbox, decide it; the app's result and request id."""
    page = login(browser, console, "alice")
    app = start_app(console, phase, note, {"TOOLCHAIN_AUDIT": str(chain)})
    try:
        card = page.locator("article.request", has_text="e2e.refund")
        card.wait_for(timeout=GUARD_S * 1000)  # appears without a reload: the inbox updates live
        rid = card.get_attribute("data-id")
        assert rid
        text = card.inner_text()
        assert "billing-team" in text and "gpt-4o-mini" in text
        card.locator("input[name=reason]").fill(f"{action} in the browser")
        if edit is not None:
            card.locator("summary").click()
            card.locator("textarea[name=output]").fill(edit)
            card.locator("button[value=edit]").click()
        else:
            card.locator(f"button[value={action}]").click()
        page.wait_for_selector(".done, .error")
        assert page.locator(".error").count() == 0, page.locator(".error").inner_text()
        return finish(app), rid
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()


def test_a_reviewer_approves_in_the_browser_and_the_call_proceeds(browser: Any, audited: tuple[Console, Path]) -> None:
    """The waiting call goes on once approved in the page; its span and the audit trail name the reviewer."""
    console, chain = audited
    result, rid = decide_in_browser(browser, console, chain, "approve", "order 17")
    assert result["output"] == "draft reply"
    assert (result["approver"], result["decision"]) == ("alice", "approved")
    assert result["reason"] == "approve in the browser"
    decisions = [r for r in audit_records(chain) if r.get("approval_id") == rid]
    assert decisions and all(r["approval_approver"] == "alice" for r in decisions)
    assert any(r["kind"] == "approval_decision" and r["actor"] == "alice" for r in decisions)


def test_a_reviewer_denies_in_the_browser_and_the_call_fails_closed(
    browser: Any, audited: tuple[Console, Path]
) -> None:
    """A denial in the page makes the waiting call raise ApprovalDenied; the span names the reviewer."""
    console, chain = audited
    result, rid = decide_in_browser(browser, console, chain, "deny", "order 18")
    assert "denied" in result and "output" not in result
    assert (result["approver"], result["decision"]) == ("alice", "denied")
    assert any(r.get("approval_id") == rid and r["approval_approver"] == "alice" for r in audit_records(chain))


def test_a_reviewer_edits_the_output_in_the_browser(browser: Any, audited: tuple[Console, Path]) -> None:
    """An edit in the page replaces the output the waiting call returns; the span names the reviewer as editor."""
    console, chain = audited
    result, rid = decide_in_browser(browser, console, chain, "edit", "order 19", phase="after",
                                    edit="final reply, checked")  # fmt: skip
    assert result["output"] == "final reply, checked"
    assert (result["approver"], result["decision"], result["editor"]) == ("alice", "edited", "alice")
    assert any(r.get("approval_id") == rid and r.get("override_editor") == "alice" for r in audit_records(chain))


def test_a_script_argument_is_shown_as_text_in_the_browser(browser: Any, audited: tuple[Console, Path]) -> None:
    """`<script>alert(1)</script>` as an argument is displayed verbatim and never runs."""
    console, _chain = audited
    page = login(browser, console, "alice")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    app = start_app(console, "before", "<script>alert(1)</script>", {})
    try:
        card = page.locator("article.request", has_text="e2e.refund")
        card.wait_for(timeout=GUARD_S * 1000)
        assert "<script>alert(1)</script>" in card.locator("pre.value").first.inner_text()
        page.reload()
        assert "<script>alert(1)</script>" in page.locator("article.request pre.value").first.inner_text()
        assert dialogs == []
    finally:
        app.kill()
        app.communicate()


KILL_APP = """
import sys, time
import toolchain_sdk as tc

tc.configure(exporter="none")

@tc.governed_call("e2e.answer", risk="medium", fallback=lambda: "fallback")
def answer() -> str:
    return "model"

while True:
    started = time.time()
    print(f"{started:.3f} {answer()}", flush=True)
    time.sleep(0.05)
"""


def test_a_flag_owner_kills_a_surface_and_the_running_app_falls_back(browser: Any, tmp_path: Path) -> None:
    """After a kill in the page, every call the running app starts more than a second later answers from its
    fallback (waited for with a hang guard, not timed)."""
    with running_console(tmp_path) as console:
        app = subprocess.Popen([sys.executable, "-u", "-c", textwrap.dedent(KILL_APP)], cwd=ROOT,
                               env=_env({"TOOLCHAIN_FLAGS_FILE": str(console.flags)}), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        try:
            assert app.stdout is not None
            first = app.stdout.readline().split()
            assert first[1] == "model", first
            page = login(browser, console, "fred")
            page.goto(console.url + "/flags")
            form = page.locator("form.flag.wide")
            form.locator("input[name=pattern]").fill("e2e.answer")
            form.locator("input[name=reason]").fill("wrong refund policy quoted")
            form.locator("button[value=kill]").click()
            page.wait_for_selector(".done")
            changed = time.time()  # the flag file was written before the page answered
            assert "killed" in page.locator("tr[data-surface='e2e.answer']").inner_text()
            deadline = time.monotonic() + GUARD_S
            switched_at = None
            while True:
                assert time.monotonic() < deadline, "the app did not make a call a second after the kill"
                started, output = app.stdout.readline().split()
                if output == "fallback" and switched_at is None:
                    switched_at = float(started)
                if float(started) > changed + 1.0:
                    assert output == "fallback"
                    break
            assert switched_at is not None and switched_at - changed < 1.0
            log = (console.flags.parent / "flags.changes.jsonl").read_text()
            assert '"by": "fred"' in log and '"reason": "wrong refund policy quoted"' in log
        finally:
            app.kill()
            app.communicate()
