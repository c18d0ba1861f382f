"""Pages that appear when their data exists: the control sheet (a console inside an app) and the audit trail;
the kill-switch page's surfaces and states; the history filters."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

import toolchain_sdk as tc
from tests.console._support import login_at, serving
from toolchain_sdk.approval import ApprovalRequest, open_store
from toolchain_sdk.console import ConsoleSettings, UserStore, create_app
from toolchain_sdk.flags import FlagFile


def _console(tmp_path: Path, **settings: object) -> tuple[object, str]:
    """A console app (as an application embeds it) and a reviewer's token."""
    users = UserStore(tmp_path / "users.json")
    token = users.add("alice", "reviewer")
    app = create_app(ConsoleSettings(users=users.path, store=f"sqlite:///{tmp_path / 'q.db'}",
                                     flags=tmp_path / "flags.json", **settings))  # type: ignore[arg-type]  # fmt: skip
    return app, token


def test_the_control_sheet_lists_the_apps_registered_surfaces(tmp_path: Path) -> None:
    """Inside an app, /sheet lists every registered surface with its declared controls."""

    @tc.governed_call("sheet.reply", owner="support", model="gpt-4o-mini", provider="openai", risk="medium",
                      fallback=lambda: "later")  # fmt: skip
    def reply() -> str:
        return "hi"

    app, token = _console(tmp_path)
    with serving(app) as url:
        client = login_at(url, token)
        assert 'href="/sheet"' in client.get("/inbox").text
        page = client.get("/sheet")
        assert page.status_code == 200
        head = page.text.split("<thead>")[1].split("</thead>")[0]
        for column in ("surface", "where", "owner", "risk", "model", "prompt", "approval", "kill switch", "audit",
                       "capture", "data class", "rollback", "gaps", "source"):  # fmt: skip
            assert f"<th>{column}</th>" in head  # the columns of `toolchain inventory`
        row = page.text.split('data-surface="sheet.reply"')[1].split("</tr>")[0]
        assert "support" in row and "medium" in row and "openai:gpt-4o-mini" in row
        assert "sheet.reply.kill" in row and "import" in row
        flags = client.get("/flags").text
        assert "sheet.reply" in flags and "registry" in flags


def test_without_surfaces_there_is_no_control_sheet(tmp_path: Path) -> None:
    """With nothing registered and no --scan, the sheet link is absent and /sheet says why (404)."""
    app, token = _console(tmp_path)
    with serving(app) as url:
        client = login_at(url, token)
        assert 'href="/sheet"' not in client.get("/inbox").text
        assert client.get("/sheet").status_code == 404
        assert client.get("/audit").status_code == 404


def test_the_kill_switch_page_shows_state_and_source(tmp_path: Path) -> None:
    """Surfaces from the flag file show killed/allowed with the entry that decides; patterns decide matches."""
    flags = FlagFile(tmp_path / "flags.json")
    flags.kill("pay.*", reason="outage", by="ops")
    flags.allow("pay.refund", reason="checked", by="ops")
    flags.kill("chat.answer", reason="bad", by="ops")

    @tc.governed_call("pay.capture", risk="low")
    def capture() -> str:
        return "ok"

    app, token = _console(tmp_path)
    with serving(app) as url:
        page = login_at(url, token).get("/flags").text
    rows = {name: page.split(f'data-surface="{name}"')[1].split("</tr>")[0] for name in
            ("pay.capture", "pay.refund", "chat.answer")}  # fmt: skip
    assert "killed" in rows["pay.capture"] and "flag file: pay.*" in rows["pay.capture"]
    assert "allowed" in rows["pay.refund"] and "flag file: pay.refund" in rows["pay.refund"]
    assert "killed" in rows["chat.answer"]


def test_history_filters_by_status_surface_and_decider(tmp_path: Path) -> None:
    """/history lists decided requests (timed out included) and narrows by status, surface and who decided."""
    app, token = _console(tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}")
    now = dt.datetime.now(dt.UTC)
    for rid, surface in (("h1", "a.one"), ("h2", "b.two"), ("h3", "a.one")):
        store.submit(ApprovalRequest(id=rid, surface=surface, risk="high", phase="before", arguments={},
                                     arguments_sha256="a" * 64, created_at=now,
                                     expires_at=now + dt.timedelta(minutes=5)))  # fmt: skip
    store.decide(store.get("h1").request.approve(by="bob", reason="fine"))  # type: ignore[union-attr]
    store.decide(store.get("h2").request.deny(by="carol", reason="no"))  # type: ignore[union-attr]
    store.close_request("h3", "timeout")
    with serving(app) as url:
        client = login_at(url, token)

        def ids(query: str) -> set[str]:
            html = client.get(f"/history{query}").text
            return {rid for rid in ("h1", "h2", "h3") if f"/approvals/{rid}" in html}

        assert ids("") == {"h1", "h2", "h3"}
        assert ids("?status=timeout") == {"h3"}
        assert ids("?surface=a.one") == {"h1", "h3"}
        assert ids("?by=carol") == {"h2"}


@pytest.fixture
def chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An audit chain with two flag changes recorded through the audit package."""
    audit = pytest.importorskip("toolchain_sdk.audit")
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("TOOLCHAIN_AUDIT", str(path))
    audit.append_event("flag_change", actor="ops", action="kill", pattern="pay.*", reason="outage",
                       surface="pay.capture", trace_id="a" * 32)  # fmt: skip
    audit.append_event("flag_change", actor="ops", action="kill", pattern="chat.*", reason="bad",
                       surface="chat.answer", trace_id="b" * 32)  # fmt: skip
    return path


def test_the_audit_page_searches_by_trace_and_surface_and_shows_the_chain_status(tmp_path: Path, chain: Path) -> None:
    """With --audit, /audit shows the records (filtered by trace id or surface) and says the chain is intact;
    after an edit in the file it says tampered."""
    app, token = _console(tmp_path, audit=chain)
    with serving(app) as url:
        client = login_at(url, token)
        page = client.get("/audit").text
        assert "intact" in page and "pay.capture" in page and "chat.answer" in page
        by_trace = client.get(f"/audit?trace_id={'b' * 32}").text
        assert "chat.answer" in by_trace and "pay.capture" not in by_trace
        by_surface = client.get("/audit?surface=pay.capture").text
        assert "pay.capture" in by_surface and "chat.answer" not in by_surface
        lines = chain.read_text().splitlines()
        first = json.loads(lines[0])
        first["reason"] = "nothing happened"
        chain.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
        assert "tampered" in client.get("/audit").text


def test_the_kill_switch_page_lists_the_surfaces_a_scan_finds(tmp_path: Path) -> None:
    """With --scan PATHS, surfaces declared in code that was never imported are listed, marked as from the scan."""
    code = tmp_path / "app"
    code.mkdir()
    (code / "bot.py").write_text(
        "import toolchain_sdk as tc\n\n"
        "@tc.governed_call('scan.only_in_code', owner='ops', risk='medium', fallback=lambda: 'x')\n"
        "def reply() -> str:\n    return 'model'\n"
    )
    app, token = _console(tmp_path, scan=(code,))
    with serving(app) as url:
        client = login_at(url, token)
        page = client.get("/flags").text
        sheet = client.get("/sheet")
    row = page.split('data-surface="scan.only_in_code"')[1].split("</tr>")[0]
    assert "scan" in row and "scan.only_in_code.kill" in row
    assert sheet.status_code == 200
    sheet_row = sheet.text.split('data-surface="scan.only_in_code"')[1].split("</tr>")[0]
    assert "bot.py:3" in sheet_row and "ops" in sheet_row and "static" in sheet_row
