"""`toolchain approvals ...` run as a real subprocess deciding calls that wait, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import toolchain_sdk as tc
from tests._approval_support import FAST, GUARD_S, await_pending, cli, off, store_for, wait_pending
from toolchain_sdk import semconv
from toolchain_sdk.approval import ApprovalStore
from toolchain_sdk.testing import SpanRecorder


class Waiting:
    """A sync call running on a thread, waiting for approval; ``result()`` joins it."""

    def __init__(self, fn: Callable[[], object]) -> None:
        self.value: object = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,))
        self._thread.start()

    def _run(self, fn: Callable[[], object]) -> None:
        try:
            self.value = fn()
        except BaseException as exc:
            self.error = exc

    def result(self) -> object:
        self._thread.join(GUARD_S)
        assert not self._thread.is_alive(), "the call is still waiting"
        if self.error is not None:
            raise self.error
        return self.value


def refund_surface(store_url: str, name: str, when: str = "before") -> Callable[..., str]:
    @tc.governed_call(name, risk="high", fallback=off, approval=tc.approval.require(
        when=when, approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=GUARD_S))  # type: ignore[arg-type]  # fmt: skip
    def refund(order: str, amount: float, api_key: str = "sk-live-0123456789abcdefghij") -> str:
        return f"Refund of {amount} for {order} approved."

    return refund


def test_cli_approve_while_a_sync_call_waits(store_url: str, store: ApprovalStore, spans: SpanRecorder) -> None:
    """`toolchain approvals approve ID --by --reason` in another process lets the waiting call run."""
    waiting = Waiting(lambda: refund_surface(store_url, "cli.approve")("o-17", 40.0))
    [pending] = wait_pending(store)
    proc = cli("approve", pending.request.id, "--by", "alice", "--reason", "customer is eligible", store=store_url)
    assert proc.returncode == 0, proc.stderr
    assert f"approved {pending.request.id}" in proc.stdout
    assert waiting.result() == "Refund of 40.0 for o-17 approved."
    a = spans.one("cli.approve").attributes or {}
    assert a[semconv.APPROVAL_APPROVER] == "alice"
    assert a[semconv.APPROVAL_REASON] == "customer is eligible"
    assert a[semconv.APPROVAL_DECISION] == "approved"


async def test_cli_deny_while_an_async_call_waits(store_url: str, store: ApprovalStore) -> None:
    """A CLI denial reaches an async call waiting on the event loop; it raises ApprovalDenied with the reason."""

    @tc.governed_call("cli.adeny", risk="high", fallback=off, approval=tc.approval.require(
        approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=GUARD_S))  # fmt: skip
    async def ban(account: str) -> str:
        return f"banned {account}"

    task = asyncio.create_task(ban("acct-9"))
    [pending] = await await_pending(store)
    proc = await asyncio.to_thread(
        cli, "deny", pending.request.id, "--by", "bob", "--reason", "false positive", store=store_url
    )
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(tc.ApprovalDenied, match="false positive") as info:
        await asyncio.wait_for(task, GUARD_S)
    assert info.value.decision == "denied" and info.value.request_id == pending.request.id


def test_cli_list_and_show(store_url: str, store: ApprovalStore) -> None:
    """list shows pending requests; show prints the redacted arguments and their hash; --json parses."""
    waiting = Waiting(lambda: refund_surface(store_url, "cli.show")("o-5", 12.0))
    [pending] = wait_pending(store)
    rid = pending.request.id
    listed = cli("list", store=store_url)
    assert listed.returncode == 0 and rid in listed.stdout and "cli.show" in listed.stdout
    shown = cli("show", rid, store=store_url)
    assert shown.returncode == 0, shown.stderr
    assert pending.request.arguments_sha256 in shown.stdout
    assert '"order": "o-5"' in shown.stdout
    assert "sk-live" not in shown.stdout and "[SECRET]" in shown.stdout
    data = json.loads(cli("show", rid, "--json", store=store_url).stdout)
    assert data["status"] == "pending" and data["arguments"]["amount"] == 12.0
    assert json.loads(cli("list", "--json", store=store_url).stdout)[0]["id"] == rid
    assert cli("approve", rid, "--by", "carol", store=store_url).returncode == 0
    waiting.result()
    assert cli("list", store=store_url).stdout.startswith("no pending")
    assert "approved by carol" in cli("list", "--status", "all", store=store_url).stdout


def test_cli_edit_needs_a_reason_then_returns_the_edit(store_url: str, store: ApprovalStore, tmp_path: Path) -> None:
    """edit without a reason is refused (request stays pending); with one, the caller gets the file's text."""
    waiting = Waiting(lambda: refund_surface(store_url, "cli.edit", when="after")("o-2", 900.0))
    [pending] = wait_pending(store)
    rid = pending.request.id
    assert pending.request.output == "Refund of 900.0 for o-2 approved."
    edited = tmp_path / "reply.txt"
    edited.write_text("Refund of 100.0 for o-2 approved; the rest needs a manager.", encoding="utf-8")
    for reason in ("", "   "):
        proc = cli("edit", rid, "--output-file", str(edited), "--by", "dave", "--reason", reason, store=store_url)
        assert proc.returncode == 2 and "non-empty --reason" in proc.stderr
    missing = cli("edit", rid, "--output-file", str(edited), "--by", "dave", store=store_url)
    assert missing.returncode == 2 and "--reason" in missing.stderr
    assert store.get(rid).status == "pending"  # type: ignore[union-attr]
    proc = cli("edit", rid, "--output-file", str(edited), "--by", "dave", "--reason", "cap at 100", store=store_url)
    assert proc.returncode == 0, proc.stderr
    assert waiting.result() == "Refund of 100.0 for o-2 approved; the rest needs a manager."


def test_cli_refuses_second_decision_unknown_id_and_wrong_hash(store_url: str, store: ApprovalStore) -> None:
    """Deciding twice, an unknown id, a hash other than the request's, or editing a before-call: exit 2."""
    waiting = Waiting(lambda: refund_surface(store_url, "cli.refuse")("o-3", 5.0))
    [pending] = wait_pending(store)
    rid = pending.request.id
    assert cli("approve", "0000000000000000", "--by", "eve", store=store_url).returncode == 2
    wrong = cli("approve", rid, "--by", "eve", "--expect-sha256", "0" * 64, store=store_url)
    assert wrong.returncode == 2 and "not the" in wrong.stderr
    before_edit = cli("edit", rid, "--output-file", "-", "--by", "eve", "--reason", "x", store=store_url, stdin="y")
    assert before_edit.returncode == 2 and "no output to edit" in before_edit.stderr
    ok = cli("approve", rid, "--by", "eve", "--expect-sha256", pending.request.subject_sha256, store=store_url)
    assert ok.returncode == 0, ok.stderr
    again = cli("deny", rid, "--by", "mallory", "--reason", "changed my mind", store=store_url)
    assert again.returncode == 2 and "already approved by eve" in again.stderr
    assert waiting.result() == "Refund of 5.0 for o-3 approved."


def test_cli_finds_the_queue_from_the_environment(tmp_path: Path) -> None:
    """Without --store the CLI uses TOOLCHAIN_APPROVALS_URL."""
    url = f"sqlite:///{tmp_path / 'env.db'}"
    store = store_for(url)
    waiting = Waiting(lambda: refund_surface(url, "cli.env")("o-4", 1.0))
    [pending] = wait_pending(store)
    env = {**os.environ, "TOOLCHAIN_APPROVALS_URL": url}
    proc = subprocess.run(
        [sys.executable, "-m", "toolchain_sdk", "approvals", "approve", pending.request.id, "--by", "frank"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert waiting.result() == "Refund of 1.0 for o-4 approved."


# --- edits the waiting call would refuse ---------------------------------------------------------------
def amount_surface(store_url: str, name: str) -> Callable[..., int]:
    @tc.governed_call(name, risk="high", fallback=off, approval=tc.approval.require(
        when="after", approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=GUARD_S))  # fmt: skip
    def amount(order: str) -> int:
        return 900

    return amount


def when_surface(store_url: str, name: str) -> Callable[..., dt.datetime]:
    @tc.governed_call(name, risk="high", fallback=off, approval=tc.approval.require(
        when="after", approver=tc.approval.queue(store_url, poll_interval=FAST), timeout=GUARD_S))  # fmt: skip
    def when(order: str) -> dt.datetime:
        return dt.datetime(2026, 5, 9, 7, 41, tzinfo=dt.UTC)

    return when


def test_cli_refuses_an_edit_of_the_wrong_type_at_once(store_url: str, store: ApprovalStore, tmp_path: Path) -> None:
    """An edit that does not fit the output's recorded type exits 2 without being stored; a fitting one is returned."""
    waiting = Waiting(lambda: amount_surface(store_url, "cli.edit.type")("o-9"))
    [pending] = wait_pending(store)
    rid = pending.request.id
    for text in ('"five"', '"100"', "100.5", "[100]"):
        (tmp_path / "edit.json").write_text(text, encoding="utf-8")
        proc = cli("edit", rid, "--output-file", str(tmp_path / "edit.json"), "--by", "c", "--reason", "cap",
                   store=store_url)  # fmt: skip
        assert proc.returncode == 2, (text, proc.stdout)
        assert "does not fit the output's type" in proc.stderr and "expected integer" in proc.stderr
        assert store.get(rid).status == "pending"  # type: ignore[union-attr]
    proc = cli("edit", rid, "--output-file", "-", "--by", "c", "--reason", "cap", store=store_url, stdin="100")
    assert proc.returncode == 0, proc.stderr
    assert f"edited {rid}" in proc.stdout
    assert waiting.result() == 100


def test_cli_reports_an_edit_the_waiting_call_refused(store_url: str, store: ApprovalStore) -> None:
    """An edit the CLI cannot fully check (a datetime's format) but the call refuses: exit 2; the queue says error."""
    waiting = Waiting(lambda: when_surface(store_url, "cli.edit.refused")("o-7"))
    [pending] = wait_pending(store)
    rid = pending.request.id
    proc = cli("edit", rid, "--output-file", "-", "--by", "c", "--reason", "later", store=store_url,
               stdin='"next tuesday"')  # fmt: skip
    assert proc.returncode == 2, proc.stdout
    assert "refused the edit by c" in proc.stderr and "malformed edit" in proc.stderr
    assert "edited" not in proc.stdout
    with pytest.raises(tc.ApprovalDenied) as info:
        waiting.result()
    assert info.value.decision == "error"
    listed = cli("list", "--status", "all", store=store_url)
    assert f"{rid}" in listed.stdout and "(error by c)" in listed.stdout
    assert cli("list", "--status", "edited", store=store_url).stdout.startswith("no edited")
    shown = json.loads(cli("show", rid, "--json", store=store_url).stdout)
    assert shown["status"] == "error" and "malformed edit" in shown["reason"]
    assert shown["decision"]["verdict"] == "edited" and shown["decision"]["by"] == "c"


# --- stores that are missing, broken or unreachable ------------------------------------------------------
def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The CLI failed the documented way: exit 2, one line on stderr, no traceback."""
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolchain: error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [["list"], ["list", "--json"], ["show", "4a0ceb5d987f6865"], ["approve", "4a0ceb5d987f6865", "--by", "a"]],
)
def test_cli_never_creates_a_store(command: list[str], tmp_path: Path) -> None:
    """A mistyped --store is an error (exit 2, 'no approval store at'), and nothing is created there."""
    where = tmp_path / "nonexistent" / "dir" / "x.db"
    message = one_line_error(cli(*command, store=str(where)))
    assert "no approval store at" in message and str(where) in message
    assert not (tmp_path / "nonexistent").exists()
    message = one_line_error(cli(*command, store=f"sqlite:///{where}"))
    assert "no approval store at" in message
    assert not (tmp_path / "nonexistent").exists()


def test_cli_default_store_is_not_created_either(tmp_path: Path) -> None:
    """Without --store or TOOLCHAIN_APPROVALS_URL, a folder with no queue is an error too, not a new queue."""
    env = {k: v for k, v in os.environ.items() if k != "TOOLCHAIN_APPROVALS_URL"}
    proc = subprocess.run([sys.executable, "-m", "toolchain_sdk", "approvals", "list"], capture_output=True,
                          text=True, env=env, timeout=120, cwd=tmp_path)  # fmt: skip
    assert "no approval store at" in one_line_error(proc)
    assert not (tmp_path / ".toolchain").exists()


def test_cli_garbage_and_foreign_databases(tmp_path: Path) -> None:
    """A file that is not a database, a database without the queue, or a table without its columns: one line, exit 2."""
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    assert "not a database" in one_line_error(cli("list", store=str(garbage)))
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert "no approval store at" in one_line_error(cli("show", "abc", store=str(empty)))
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE toolchain_approvals (x TEXT)")
    message = one_line_error(cli("list", store=str(foreign)))
    assert "not an approval queue" in message and "no column id" in message


@pytest.mark.parametrize("command", [["list"], ["show", "abc"], ["deny", "abc", "--by", "b", "--reason", "no"]])
def test_cli_unreachable_postgres_keeps_the_password_out(command: list[str]) -> None:
    """An unreachable PostgreSQL is one line, exit 2, and the URL's password appears nowhere."""
    pytest.importorskip("psycopg")
    proc = cli(*command, store="postgresql://user:secret@127.0.0.1:1/db?connect_timeout=2")
    message = one_line_error(proc)
    assert "secret" not in proc.stderr and "secret" not in proc.stdout
    assert "@127.0.0.1:1/db" in message  # which store it was, with the credentials taken out
