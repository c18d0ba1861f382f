"""The console's security model over plain HTTP against a real server: login, sessions, CSRF, origins,
roles, escaping, hashed tokens and rate limits."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._subproc import run_cli
from tests.console._support import Console, csrf_of, running_console
from toolchain_sdk.approval import ApprovalRequest, open_store

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """One console for the module's tests (users alice/reviewer, vera/viewer, fred/flag-owner)."""
    with running_console(tmp_path_factory.mktemp("console")) as running:
        yield running


def submit(console: Console, rid: str, *, arguments: dict[str, object] | None = None, seconds: float = 300) -> None:
    """Put a pending request into the console's queue, as a waiting call would (owned by this process)."""
    now = dt.datetime.now(dt.UTC)
    store = open_store(console.store)
    store.submit(ApprovalRequest(id=rid, surface="sec.surface", risk="high", phase="before",
                                 arguments=arguments or {"order": "o-1"}, arguments_sha256="a" * 64,
                                 created_at=now, expires_at=now + dt.timedelta(seconds=seconds)))  # fmt: skip
    store.close()


PAGES = ["/inbox", "/history", "/flags", "/inbox/rows", "/approvals/anything", "/sheet", "/audit"]


@pytest.mark.parametrize("path", PAGES)
def test_unauthenticated_pages_get_the_login_form_and_nothing_else(console: Console, path: str) -> None:
    """Without a session every page answers 401 with the login form and no data."""
    submit(console, f"unauth-{path.strip('/').replace('/', '-')}")
    page = console.client().get(path)
    assert page.status_code == 401
    assert 'name="token"' in page.text
    assert "sec.surface" not in page.text and "unauth-" not in page.text


def test_an_unknown_page_shows_the_login_form_without_a_session(console: Console) -> None:
    """A path that does not exist answers like every page: the login form (401) without a session, 404 with one."""
    page = console.client().get("/no/such/page")
    assert page.status_code == 401 and 'name="token"' in page.text
    assert console.login("vera").get("/no/such/page").status_code == 404


def test_a_missing_file_does_not_break_an_open_login_form(console: Console) -> None:
    """The browser's request for /favicon.ico (a 404 answered with the login form) keeps the login form's CSRF
    cookie, so the form shown first still logs in."""
    client = console.client()
    csrf = client.get("/").text.split('name="login_csrf" value="')[1].split('"')[0]
    assert client.get("/favicon.ico").status_code == 401
    done = client.post("/login", data={"token": console.tokens["vera"], "login_csrf": csrf})
    assert done.status_code == 303, done.text


def test_home_without_a_session_shows_the_login_form(console: Console) -> None:
    """`GET /` without a session is the login form with a single token field."""
    page = console.client().get("/")
    assert page.status_code == 200
    assert page.text.count("<input") == 2 and 'name="token"' in page.text  # the token and the form's own CSRF field


@pytest.mark.parametrize("path", ["/api/approvals", "/api/approvals/x", "/api/flags"])
def test_api_without_a_token_is_401_json(console: Console, path: str) -> None:
    """API calls without a bearer token are 401 with {"error": ...}."""
    answer = console.client().get(path)
    assert answer.status_code == 401
    assert set(answer.json()) == {"error"}


def test_a_session_cookie_grants_nothing_under_api(console: Console) -> None:
    """A logged-in browser's cookie does not authenticate API calls."""
    client = console.login("alice")
    assert client.get("/inbox").status_code == 200
    assert client.get("/api/approvals").status_code == 401


def test_login_sets_a_strict_httponly_session_cookie(console: Console) -> None:
    """The session cookie is HttpOnly and SameSite=Strict (not Secure over plain HTTP on loopback)."""
    client = console.client()
    page = client.get("/")
    csrf = page.text.split('name="login_csrf" value="')[1].split('"')[0]
    done = client.post("/login", data={"token": console.tokens["vera"], "login_csrf": csrf})
    cookie = next(v for k, v in done.headers.multi_items() if k == "set-cookie" and v.startswith("tc_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie


def test_a_wrong_token_fails_login_and_api(console: Console) -> None:
    """A token nobody holds neither logs in nor authenticates an API call."""
    client = console.client()
    page = client.get("/")
    csrf = page.text.split('name="login_csrf" value="')[1].split('"')[0]
    assert client.post("/login", data={"token": "not-a-token", "login_csrf": csrf}).status_code == 401
    assert "tc_session" not in client.cookies
    assert console.client("not-a-token").get("/api/approvals").status_code == 401


def test_login_without_its_form_token_is_refused(console: Console) -> None:
    """A login POST without the login form's CSRF token (a forged login) is refused."""
    client = console.client()
    client.get("/")
    answer = client.post("/login", data={"token": console.tokens["vera"]})
    assert answer.status_code == 403 and "tc_session" not in client.cookies


def test_post_without_csrf_is_refused(console: Console) -> None:
    """A decision form posted without the session's CSRF token is 403 and decides nothing."""
    submit(console, "nocsrf")
    client = console.login("alice")
    answer = client.post("/approvals/nocsrf/decide", data={"action": "approve", "reason": "ok",
                                                           "subject_sha256": "a" * 64})  # fmt: skip
    assert answer.status_code == 403
    assert open_store(console.store).get("nocsrf").status == "pending"  # type: ignore[union-attr]


def test_post_with_another_sessions_csrf_is_refused(console: Console) -> None:
    """A CSRF token of another session (even the same user's) does not work in this one."""
    submit(console, "othercsrf")
    mine, other = console.login("alice"), console.login("alice")
    answer = mine.post("/approvals/othercsrf/decide", data={"action": "approve", "reason": "ok",
                       "subject_sha256": "a" * 64, "csrf": csrf_of(other)})  # fmt: skip
    assert answer.status_code == 403
    assert open_store(console.store).get("othercsrf").status == "pending"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://evil.example"}, {"Referer": "http://evil.example/page"}, {"Sec-Fetch-Site": "cross-site"}],
)
def test_post_from_another_origin_is_refused(console: Console, headers: dict[str, str]) -> None:
    """A form posted from another origin is 403 even with the right CSRF token."""
    rid = f"origin-{len(headers)}-{next(iter(headers))}"
    submit(console, rid)
    client = console.login("alice")
    answer = client.post(f"/approvals/{rid}/decide", headers=headers, data={"action": "approve", "reason": "ok",
                         "subject_sha256": "a" * 64, "csrf": csrf_of(client)})  # fmt: skip
    assert answer.status_code == 403
    assert open_store(console.store).get(rid).status == "pending"  # type: ignore[union-attr]


def test_the_same_origin_post_with_csrf_decides(console: Console) -> None:
    """The control case: the reviewer's own form, with its CSRF token and origin, decides the request as them."""
    submit(console, "sameorigin")
    client = console.login("alice")
    answer = client.post("/approvals/sameorigin/decide", headers={"Origin": console.url}, data={
        "action": "deny", "reason": "not today", "subject_sha256": "a" * 64, "csrf": csrf_of(client),
        "by": "mallory"})  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/inbox?decided=sameorigin", answer.text
    record = open_store(console.store).get("sameorigin")
    assert record is not None and record.status == "denied"
    assert record.decision is not None and record.decision.by == "alice"  # never a form field


def test_a_viewer_cannot_decide(console: Console) -> None:
    """A viewer's decision is 403 on the page and the API; the request stays pending."""
    submit(console, "viewer")
    client = console.login("vera")
    page = client.post("/approvals/viewer/decide", data={"action": "approve", "reason": "ok",
                       "subject_sha256": "a" * 64, "csrf": csrf_of(client)})  # fmt: skip
    assert page.status_code == 403
    api = console.client(console.tokens["vera"]).post("/api/approvals/viewer/approve", json={"reason": "ok"})
    assert api.status_code == 403 and "error" in api.json()
    assert open_store(console.store).get("viewer").status == "pending"  # type: ignore[union-attr]


def test_a_flag_owner_cannot_decide_and_a_reviewer_cannot_flip_flags(console: Console) -> None:
    """Roles are one each: flag owners do not decide approvals, reviewers do not change kill switches."""
    submit(console, "flagowner")
    fred = console.client(console.tokens["fred"])
    assert fred.post("/api/approvals/flagowner/approve", json={"reason": "ok"}).status_code == 403
    alice = console.client(console.tokens["alice"])
    assert alice.post("/api/flags/kill", json={"pattern": "sec.surface", "reason": "x"}).status_code == 403
    browser = console.login("alice")
    page = browser.post("/flags", data={"action": "kill", "pattern": "sec.surface", "reason": "x",
                                        "csrf": csrf_of(browser, "/flags")})  # fmt: skip
    assert page.status_code == 403
    assert not console.flags.exists() or "sec.surface" not in console.flags.read_text()


def test_a_script_argument_is_shown_verbatim_as_text(console: Console) -> None:
    """An argument `<script>alert(1)</script>` reaches the page only HTML-escaped, never as markup."""
    submit(console, "xss", arguments={"note": SCRIPT, SCRIPT: "key"})
    client = console.login("alice")
    for path in ("/inbox", "/inbox/rows", "/approvals/xss"):
        html = client.get(path).text
        assert SCRIPT not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    csp = client.get("/inbox").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_removing_a_user_ends_their_token_and_sessions_at_once(console: Console) -> None:
    """After `users remove`, the running console refuses the user's token and their open session."""
    token = run_cli("console", "users", "add", "gone", "--role", "reviewer", "--users", str(console.users))
    console.tokens["gone"] = token.stdout.splitlines()[-1]
    browser = console.login("gone")
    api = console.client(console.tokens["gone"])
    assert browser.get("/inbox").status_code == 200 and api.get("/api/approvals").status_code == 200
    assert run_cli("console", "users", "remove", "gone", "--users", str(console.users)).returncode == 0
    assert browser.get("/inbox").status_code == 401
    assert api.get("/api/approvals").status_code == 401


def test_rotating_a_token_ends_the_old_one(console: Console) -> None:
    """`users add --rotate` makes the old token and its sessions fail; the new token works."""
    old = run_cli("console", "users", "add", "rot", "--role", "viewer", "--users", str(console.users))
    console.tokens["rot"] = old.stdout.splitlines()[-1]
    browser = console.login("rot")
    new = run_cli("console", "users", "add", "rot", "--rotate", "--users", str(console.users)).stdout.splitlines()[-1]
    assert browser.get("/inbox").status_code == 401
    assert console.client(console.tokens["rot"]).get("/api/flags").status_code == 401
    assert console.client(new).get("/api/flags").status_code == 200


def test_the_token_store_holds_hashes_only(console: Console) -> None:
    """No token issued to a user appears anywhere in the users file."""
    text = console.users.read_text()
    for token in console.tokens.values():
        assert token not in text
    assert all(len(u["token_sha256"]) == 64 for u in json.loads(text)["users"].values())


def test_logout_ends_the_session(console: Console) -> None:
    """Logging out (a CSRF-protected POST) makes the session cookie worthless."""
    client = console.login("vera")
    cookie = client.cookies["tc_session"]
    assert client.post("/logout", data={"csrf": csrf_of(client)}).status_code == 303
    stale = console.client()
    stale.cookies.set("tc_session", cookie)
    assert stale.get("/inbox").status_code == 401


def test_health_and_openapi_need_no_login_and_hold_no_data(console: Console) -> None:
    """/api/health and /api/openapi.json answer without a token and carry no requests or users."""
    submit(console, "nodata")
    health = console.client().get("/api/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    spec = console.client().get("/api/openapi.json")
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")
    assert "nodata" not in spec.text and "alice" not in spec.text


def test_failed_logins_and_tokens_are_rate_limited_per_client(tmp_path: Path) -> None:
    """After 10 failures in a minute a client gets 429 (even with a valid token) on logins and the API."""
    with running_console(tmp_path) as console:
        bad = console.client("wrong")
        codes = [bad.get("/api/approvals").status_code for _ in range(10)]
        assert codes == [401] * 10
        blocked = console.client(console.tokens["alice"]).get("/api/approvals")
        assert blocked.status_code == 429 and "Retry-After" in blocked.headers and "error" in blocked.json()
        client = console.client()
        page = client.get("/")
        csrf = page.text.split('name="login_csrf" value="')[1].split('"')[0]
        login = client.post("/login", data={"token": console.tokens["alice"], "login_csrf": csrf})
        assert login.status_code == 429
        assert console.client().get("/api/health").status_code == 200  # readiness is never limited


def test_failed_logins_alone_are_rate_limited(tmp_path: Path) -> None:
    """Ten wrong tokens in the login form within a minute make the eleventh login 429, a valid token included."""
    with running_console(tmp_path) as console:
        client = console.client()
        codes = []
        for token in [f"wrong-{i}" for i in range(10)] + [console.tokens["alice"]]:
            csrf = client.get("/").text.split('name="login_csrf" value="')[1].split('"')[0]
            codes.append(client.post("/login", data={"token": token, "login_csrf": csrf}).status_code)
        assert codes == [401] * 10 + [429]
        assert "tc_session" not in client.cookies
        assert console.client(console.tokens["alice"]).get("/api/approvals").status_code == 429  # per client


def test_tls_serves_secure_cookies(tmp_path: Path) -> None:
    """Served over TLS (--tls-cert/--tls-key), the session cookie is also Secure."""
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                           str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], capture_output=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip("no openssl to make a test certificate")
    with running_console(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key), scheme="https") as console:
        client = httpx.Client(base_url=console.url, verify=False, timeout=30)
        page = client.get("/")
        csrf = page.text.split('name="login_csrf" value="')[1].split('"')[0]
        done = client.post("/login", data={"token": console.tokens["vera"], "login_csrf": csrf},
                           headers={"Origin": console.url})  # fmt: skip
        assert done.status_code == 303, done.text
        cookie = next(v for k, v in done.headers.multi_items() if k == "set-cookie" and v.startswith("tc_session="))
        assert "Secure" in cookie and "HttpOnly" in cookie


def test_sessions_expire_when_idle(tmp_path: Path) -> None:
    """A session works while used and is gone once unused for longer than the idle limit."""
    from toolchain_sdk.console import UserStore
    from toolchain_sdk.console._sessions import SessionStore

    users = UserStore(tmp_path / "users.json")
    users.add("ivy", "viewer")
    store = SessionStore(users, idle_s=0.2, max_s=60)
    session = store.start(users.get("ivy"))  # type: ignore[arg-type]
    assert store.find(session.id) is not None
    time.sleep(0.3)
    assert store.find(session.id) is None


def test_sessions_end_at_their_maximum_age_even_when_used(tmp_path: Path) -> None:
    """A session in constant use still ends at its maximum age."""
    from toolchain_sdk.console import UserStore
    from toolchain_sdk.console._sessions import SessionStore

    users = UserStore(tmp_path / "users.json")
    users.add("ivy", "viewer")
    store = SessionStore(users, idle_s=60, max_s=0.3)
    session = store.start(users.get("ivy"))  # type: ignore[arg-type]
    deadline = time.monotonic() + 5
    while store.find(session.id) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize("change", ["timeout", "decided", "other hash"])
def test_a_stale_page_cannot_decide(console: Console, change: str) -> None:
    """A form shown before the request timed out, was decided elsewhere, or changed is refused with 409."""
    rid = f"stale-{change.replace(' ', '-')}"
    submit(console, rid)
    client = console.login("alice")
    csrf = csrf_of(client)
    store = open_store(console.store)
    shown = "a" * 64
    if change == "timeout":
        store.close_request(rid, "timeout", reason="no decision before it expired")
    elif change == "decided":
        store.decide(store.get(rid).request.deny(by="bob", reason="cli"))  # type: ignore[union-attr]
    else:
        shown = "f" * 64  # what an out-of-date page showed
    answer = client.post(f"/approvals/{rid}/decide", data={"action": "approve", "reason": "ok",
                         "subject_sha256": shown, "csrf": csrf})  # fmt: skip
    assert answer.status_code == 409
    assert 'class="error"' in answer.text
    record = store.get(rid)
    assert record is not None and record.status != "approved"
