"""The JSON API against a real server: shapes (checked against the served OpenAPI schema), status codes, roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from tests.console._support import Console, running_console, serving
from toolchain_sdk.approval import ApprovalRequest, open_store
from toolchain_sdk.console import ConsoleSettings, UserStore, create_app


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """One console for the module's tests (users alice/reviewer, vera/viewer, fred/flag-owner)."""
    with running_console(tmp_path_factory.mktemp("api")) as running:
        yield running


@pytest.fixture(scope="module")
def spec(console: Console) -> dict[str, Any]:
    """The OpenAPI document the console serves."""
    return console.client().get("/api/openapi.json").json()  # type: ignore[no-any-return]


def check(spec: dict[str, Any], name: str, value: object) -> None:
    """Validate ``value`` against the served schema ``components.schemas[name]``."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    jsonschema.validate(value, schema)


def submit(console: Console, rid: str, *, phase: str = "before", output: object = None, seconds: float = 300,
           surface: str = "api.surface") -> None:  # fmt: skip
    """A pending request in the console's queue, as a waiting call in this process would write it."""
    now = dt.datetime.now(dt.UTC)
    store = open_store(console.store)
    store.submit(ApprovalRequest(
        id=rid, surface=surface, risk="high", phase=phase, arguments={"q": "why?"},  # type: ignore[arg-type]
        arguments_sha256="a" * 64, output=output, output_kind="text" if phase == "after" else None,
        output_sha256="b" * 64 if phase == "after" else None, created_at=now,
        expires_at=now + dt.timedelta(seconds=seconds), owner="team-x", model="m-1", prompt_name="p",
        prompt_version="4"))  # fmt: skip
    store.close()


def test_the_openapi_document_describes_every_route(spec: dict[str, Any]) -> None:
    """Every API route and its error shape are in the served OpenAPI 3.1 document."""
    assert spec["openapi"] == "3.1.0"
    assert set(spec["paths"]) == {
        "/api/health", "/api/openapi.json", "/api/approvals", "/api/approvals/{id}", "/api/approvals/{id}/approve",
        "/api/approvals/{id}/deny", "/api/approvals/{id}/edit", "/api/flags", "/api/flags/kill", "/api/flags/allow",
        "/api/flags/restore",
    }  # fmt: skip
    approve = spec["paths"]["/api/approvals/{id}/approve"]["post"]["responses"]
    assert {"200", "401", "403", "404", "409", "422", "429"} <= set(approve)


def test_pending_list_has_items_with_ids_newest_first(console: Console, spec: dict[str, Any]) -> None:
    """`GET /api/approvals` is {"items": [...]}, each with an id, owner, model and prompt version, newest first."""
    submit(console, "list-1")
    submit(console, "list-2")
    answer = console.client(console.tokens["vera"]).get("/api/approvals?status=pending")
    assert answer.status_code == 200
    body = answer.json()
    check(spec, "ApprovalList", body)
    ids = [item["id"] for item in body["items"]]
    assert ids.index("list-2") < ids.index("list-1")
    item = body["items"][ids.index("list-1")]
    assert (item["owner"], item["model"], item["prompt_version"], item["status"]) == ("team-x", "m-1", "4", "pending")


def test_one_request_and_an_unknown_id(console: Console, spec: dict[str, Any]) -> None:
    """`GET /api/approvals/{id}` returns the object; an unknown id is 404 {"error": ...}."""
    submit(console, "one")
    client = console.client(console.tokens["vera"])
    found = client.get("/api/approvals/one")
    assert found.status_code == 200 and found.json()["id"] == "one"
    check(spec, "Approval", found.json())
    missing = client.get("/api/approvals/nope")
    assert missing.status_code == 404
    check(spec, "Error", missing.json())


def test_approve_returns_the_updated_object_naming_the_token_user(console: Console, spec: dict[str, Any]) -> None:
    """A reviewer's approve is 200 with the request as stored: approved, by the token's user, with the reason."""
    submit(console, "approve-me")
    answer = console.client(console.tokens["alice"]).post("/api/approvals/approve-me/approve",
                                                          json={"reason": "looks right", "by": "mallory"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    check(spec, "Approval", body)
    assert body["status"] == "approved"
    assert body["decision"]["by"] == "alice" and body["decision"]["reason"] == "looks right"


def test_a_request_no_longer_pending_is_409(console: Console) -> None:
    """Deciding a request twice is 409, and so is deciding a timed-out one."""
    submit(console, "twice")
    client = console.client(console.tokens["alice"])
    assert client.post("/api/approvals/twice/deny", json={"reason": "no"}).status_code == 200
    again = client.post("/api/approvals/twice/approve", json={"reason": "changed my mind"})
    assert again.status_code == 409 and "already denied" in again.json()["error"]
    submit(console, "late")
    open_store(console.store).close_request("late", "timeout", reason="no decision before it expired")
    assert client.post("/api/approvals/late/approve", json={"reason": "too late"}).status_code == 409


def test_a_stale_subject_hash_is_409(console: Console) -> None:
    """A decision bound to another subject hash than the request's (it changed) is 409 and decides nothing."""
    submit(console, "stale")
    answer = console.client(console.tokens["alice"]).post(
        "/api/approvals/stale/approve", json={"reason": "ok", "subject_sha256": "c" * 64}
    )
    assert answer.status_code == 409
    assert open_store(console.store).get("stale").status == "pending"  # type: ignore[union-attr]


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": 5}])
def test_a_missing_or_blank_reason_is_422(console: Console, body: dict[str, object]) -> None:
    """Approve, deny and edit all need a non-blank reason (422 otherwise)."""
    rid = f"reason-{len(str(body))}-{abs(hash(str(body))) % 1000}"
    submit(console, rid)
    client = console.client(console.tokens["alice"])
    for action in ("approve", "deny"):
        answer = client.post(f"/api/approvals/{rid}/{action}", json=body)
        assert answer.status_code == 422 and "reason" in answer.json()["error"]
    assert open_store(console.store).get(rid).status == "pending"  # type: ignore[union-attr]


def test_edit_replaces_the_output_of_an_after_request(console: Console, spec: dict[str, Any]) -> None:
    """`edit` stores the new output with the reviewer and reason; a before-call request cannot be edited (409)."""
    submit(console, "edit-me", phase="after", output="draft")
    client = console.client(console.tokens["alice"])
    answer = client.post("/api/approvals/edit-me/edit", json={"reason": "tone", "output": "final"})
    assert answer.status_code == 200, answer.text
    check(spec, "Approval", answer.json())
    assert answer.json()["decision"]["output"] == "final" and answer.json()["status"] == "edited"
    submit(console, "edit-before")
    assert client.post("/api/approvals/edit-before/edit", json={"reason": "x", "output": "y"}).status_code == 409
    submit(console, "edit-type", phase="after", output="draft")
    wrong = client.post("/api/approvals/edit-type/edit", json={"reason": "x", "output": {"not": "text"}})
    assert wrong.status_code == 422


def test_decided_includes_timed_out_and_cancelled(console: Console, spec: dict[str, Any]) -> None:
    """`?status=decided` lists every request no longer pending: decided, timed out and cancelled."""
    for rid in ("dec-t", "dec-c"):
        submit(console, rid)
    store = open_store(console.store)
    store.close_request("dec-t", "timeout")
    store.close_request("dec-c", "cancelled")
    answer = console.client(console.tokens["vera"]).get("/api/approvals?status=decided")
    assert answer.status_code == 200
    check(spec, "ApprovalList", answer.json())
    statuses = {item["id"]: item["status"] for item in answer.json()["items"]}
    assert statuses["dec-t"] == "timeout" and statuses["dec-c"] == "cancelled"
    assert "pending" not in statuses.values()
    bad = console.client(console.tokens["vera"]).get("/api/approvals?status=whatever")
    assert bad.status_code == 422


def test_flags_kill_allow_restore(console: Console, spec: dict[str, Any]) -> None:
    """A flag owner kills (with a TTL), allows and restores through the API; each answer is the entry as stored."""
    client = console.client(console.tokens["fred"])
    killed = client.post("/api/flags/kill", json={"pattern": "api.*", "reason": "bad answers", "ttl": "2h"})
    assert killed.status_code == 200, killed.text
    check(spec, "FlagEntry", killed.json())
    assert killed.json()["state"] == "killed" and killed.json()["by"] == "fred" and killed.json()["until"]
    allowed = client.post("/api/flags/allow", json={"pattern": "api.safe", "reason": "checked"})
    assert allowed.status_code == 200 and allowed.json()["state"] == "allowed"
    listed = client.get("/api/flags")
    check(spec, "FlagList", listed.json())
    assert {e["pattern"] for e in listed.json()["items"]} >= {"api.*", "api.safe"}
    restored = client.post("/api/flags/restore", json={"pattern": "api.*", "reason": "fixed"})
    assert restored.status_code == 200 and restored.json()["state"] == "restored"
    assert client.post("/api/flags/restore", json={"pattern": "api.*", "reason": "again"}).status_code == 404
    log = (console.flags.parent / "flags.changes.jsonl").read_text()
    assert '"by": "fred"' in log and '"action": "restore"' in log


@pytest.mark.parametrize(
    "body",
    [
        {"pattern": "x"},
        {"pattern": "x", "reason": " "},
        {"reason": "why"},
        {"pattern": "x", "reason": "r", "ttl": "soon"},
    ],
)
def test_bad_flag_changes_are_422(console: Console, body: dict[str, object]) -> None:
    """A missing reason or pattern, or a TTL that is not a duration, is 422 and changes nothing."""
    answer = console.client(console.tokens["fred"]).post("/api/flags/kill", json=body)
    assert answer.status_code == 422 and "error" in answer.json()


def test_unknown_routes_and_methods_answer_json_errors(console: Console) -> None:
    """Under /api/ a path or method that does not exist is {"error": ...} (404 / 405), and 401 before a valid token."""
    anonymous = console.client().get("/api/nothing-here")
    assert anonymous.status_code == 401 and set(anonymous.json()) == {"error"}
    client = console.client(console.tokens["vera"])
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404 and set(missing.json()) == {"error"}
    wrong = client.get("/api/approvals/x/approve")
    assert wrong.status_code == 405 and set(wrong.json()) == {"error"} and "POST" in wrong.headers["allow"]


def test_an_unknown_id_is_404_and_a_decided_one_409_whatever_the_body(console: Console) -> None:
    """The request is looked up before the body is checked: no body on an unknown id is 404, on a decided one 409."""
    client = console.client(console.tokens["alice"])
    assert client.post("/api/approvals/never-asked/approve").status_code == 404
    submit(console, "done-already")
    assert client.post("/api/approvals/done-already/deny", json={"reason": "no"}).status_code == 200
    assert client.post("/api/approvals/done-already/approve", json={}).status_code == 409


def test_before_any_application_asked_the_lists_are_empty_and_no_queue_is_created(tmp_path: Path) -> None:
    """A console started before any application made the queue answers empty lists and 404s, and creates nothing."""
    users = UserStore(tmp_path / "users.json")
    token = users.add("alice", "reviewer")
    queue = tmp_path / "not-yet.db"
    app = create_app(ConsoleSettings(users=users.path, store=f"sqlite:///{queue}", flags=tmp_path / "flags.json"))
    with serving(app) as url:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert client.get("/api/approvals").json() == {"items": []}
        assert client.get("/api/approvals?status=decided").json() == {"items": []}
        assert client.get("/api/approvals/nope").status_code == 404
        assert client.post("/api/approvals/nope/approve", json={"reason": "ok"}).status_code == 404
    assert not queue.exists()
