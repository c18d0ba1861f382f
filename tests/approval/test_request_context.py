"""What a stored request says about its surface: owner, model and prompt version (for the reviewer console)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import pytest

import toolchain_sdk as tc
from tests._approval_support import FAST, off, wait_pending
from toolchain_sdk.approval import ApprovalRequest, ApprovalStore, open_store


def _request(rid: str, **context: str | None) -> ApprovalRequest:
    now = dt.datetime.now(dt.UTC)
    return ApprovalRequest(
        id=rid,
        surface="ctx.surface",
        risk="high",
        phase="before",
        arguments={"a": 1},
        arguments_sha256="a" * 64,
        created_at=now,
        expires_at=now + dt.timedelta(minutes=5),
        **context,  # type: ignore[arg-type]
    )


def test_owner_model_and_prompt_version_round_trip(store: ApprovalStore) -> None:
    """A submitted request reads back with the owner, model and prompt name/version it was written with."""
    store.submit(_request("c1", owner="support-platform", model="gpt-4o-mini", prompt_name="refund",
                          prompt_version="3"))  # fmt: skip
    request = store.get("c1").request  # type: ignore[union-attr]
    assert (request.owner, request.model, request.prompt_name, request.prompt_version) == (
        "support-platform",
        "gpt-4o-mini",
        "refund",
        "3",
    )


def test_a_request_without_them_reads_back_as_none(store: ApprovalStore) -> None:
    """A surface with no owner, model or prompt stores none (``None``, not an empty string)."""
    store.submit(_request("c2"))
    request = store.get("c2").request  # type: ignore[union-attr]
    assert (request.owner, request.model, request.prompt_name, request.prompt_version) == (None, None, None, None)


def test_the_gate_writes_the_surfaces_owner_model_and_prompt(store_url: str, store: ApprovalStore) -> None:
    """A gated call's stored request carries the surface's declared owner, model and prompt version."""
    prompt = tc.Prompt("refund_policy", "7", "Answer {{ q }}")

    @tc.governed_call("ctx.gated", owner="billing-team", model="claude-x", provider="anthropic", prompt=prompt,
                      risk="high", fallback=off,
                      approval=tc.approval.require(approver=tc.approval.queue(store_url, poll_interval=FAST),
                                                   timeout="30s"))  # fmt: skip
    def act(q: str) -> str:
        return "done"

    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(act("why?")))
    worker.start()
    [record] = wait_pending(store)
    req = record.request
    assert (req.owner, req.model, req.prompt_name, req.prompt_version) == ("billing-team", "claude-x",
                                                                            "refund_policy", "7")  # fmt: skip
    store.decide(req.approve(by="alice"))
    worker.join(30)
    assert result == ["done"]


# The table as the release before these columns wrote it (with the columns added up to then).
PREVIOUS_DDL = (
    "CREATE TABLE toolchain_approvals ("
    " id TEXT PRIMARY KEY, surface TEXT NOT NULL, risk TEXT NOT NULL, phase TEXT NOT NULL,"
    " arguments_json TEXT NOT NULL, arguments_sha256 TEXT NOT NULL,"
    " output_json TEXT, output_kind TEXT, output_sha256 TEXT, hash_alg TEXT NOT NULL,"
    " trace_id TEXT NOT NULL DEFAULT '', span_id TEXT NOT NULL DEFAULT '',"
    " created_at TEXT NOT NULL, expires_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',"
    " decided_by TEXT, decided_at TEXT, reason TEXT, decision_sha256 TEXT, edited_json TEXT,"
    " verdict TEXT, closed_at TEXT, close_reason TEXT, output_schema_json TEXT, owner TEXT, heartbeat_at TEXT)"
)


@pytest.mark.parametrize("create", [True, False], ids=["application", "reviewer"])
def test_a_queue_of_the_previous_release_gets_the_new_columns(store_url: str, create: bool) -> None:
    """A table without the owner/model/prompt columns is upgraded on first use; its rows read as ``None`` and
    new requests store the new fields."""
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    now = dt.datetime.now(dt.UTC)
    insert = (
        "INSERT INTO toolchain_approvals (id, surface, risk, phase, arguments_json, arguments_sha256, hash_alg, "
        "created_at, expires_at) VALUES ('old', 's', 'high', 'before', '{}', ?, 'sha256', ?, ?)"
    )
    params = ("a" * 64, now.strftime(fmt), (now + dt.timedelta(minutes=5)).strftime(fmt))
    if store_url.startswith("sqlite:///"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
            conn.execute(PREVIOUS_DDL)
            conn.execute(insert, params)
    else:
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as pg:
            pg.execute(PREVIOUS_DDL)
            pg.execute(insert.replace("?", "%s"), params)
    upgraded = open_store(store_url, create=create)
    [old] = upgraded.list()
    assert (old.request.owner, old.request.model, old.request.prompt_version) == (None, None, None)
    upgraded.submit(_request("new", owner="ops", model="m1", prompt_name="p", prompt_version="2"))
    new = upgraded.get("new").request  # type: ignore[union-attr]
    assert (new.owner, new.model, new.prompt_name, new.prompt_version) == ("ops", "m1", "p", "2")
    upgraded.close()
