"""A real console server for the tests: ``toolchain console`` in a subprocess on a free 127.0.0.1 port,
with its own users file, approval queue and flag file, and one user per role."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests._subproc import ROOT, run_cli

GUARD_S = 30.0  # a hang guard, never a speed assertion


def free_port() -> int:
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def add_user(users: Path, name: str, role: str, *extra: str) -> str:
    """Run ``toolchain console users add`` and return the token (the last line of stdout)."""
    run = run_cli("console", "users", "add", name, "--role", role, "--users", str(users), *extra)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip().splitlines()[-1]


@dataclass
class Console:
    """A running console and what it serves."""

    url: str
    users: Path
    store: str
    flags: Path
    process: subprocess.Popen[str]
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, token: str | None = None) -> httpx.Client:
        """A plain HTTP client for the console (with ``Authorization: Bearer`` when given a token)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, follow_redirects=False, timeout=GUARD_S)

    def login(self, name: str) -> httpx.Client:
        """A client logged in as ``name`` through the login form (its cookie jar holds the session)."""
        client = self.client()
        page = client.get("/")
        csrf = _hidden(page.text, "login_csrf")
        done = client.post("/login", data={"token": self.tokens[name], "login_csrf": csrf})
        assert done.status_code == 303, done.text
        return client


def _hidden(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def csrf_of(client: httpx.Client, path: str = "/inbox") -> str:
    """The CSRF token the console put in this session's forms."""
    return _hidden(client.get(path).text, "csrf")


@contextmanager
def running_console(
    tmp: Path, *extra: str, env: dict[str, str] | None = None, scheme: str = "http"
) -> Iterator[Console]:
    """Start ``toolchain console`` with users alice (reviewer), vera (viewer) and fred (flag-owner)."""
    users, flags = tmp / "users.json", tmp / "flags.json"
    store = f"sqlite:///{tmp / 'approvals.db'}"
    tokens = {name: add_user(users, name, role) for name, role in
              (("alice", "reviewer"), ("vera", "viewer"), ("fred", "flag-owner"))}  # fmt: skip
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOOLCHAIN_"))}
    full_env.update(env or {})
    args = ["console", "--port", str(port), "--users", str(users), "--store", store, "--flags", str(flags), *extra]
    proc = subprocess.Popen([sys.executable, "-m", "toolchain_sdk", *args], cwd=ROOT, env=full_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    console = Console(f"{scheme}://127.0.0.1:{port}", users, store, flags, proc, tokens)
    try:
        _wait_ready(console)
        yield console
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=GUARD_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _wait_ready(console: Console) -> None:
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        if console.process.poll() is not None:
            out, err = console.process.communicate()
            raise AssertionError(f"the console exited with {console.process.returncode}: {out}{err}")
        try:
            if httpx.get(f"{console.url}/api/health", timeout=1, verify=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("the console did not become ready")


@contextmanager
def serving(app: object) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port in a thread; yields its base URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + GUARD_S
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(GUARD_S)


def login_at(url: str, token: str) -> httpx.Client:
    """A client logged in at ``url`` with ``token`` through the login form."""
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=GUARD_S)
    csrf = _hidden(client.get("/").text, "login_csrf")
    done = client.post("/login", data={"token": token, "login_csrf": csrf})
    assert done.status_code == 303, done.text
    return client
