"""`toolchain console` and `toolchain console users ...` in real subprocesses: tokens, hashes, exit codes, binding."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests._subproc import run_cli, run_python
from tests.console._support import add_user
from toolchain_sdk.console import ConsoleSettings
from toolchain_sdk.errors import ConfigError


def test_users_add_prints_the_token_alone_on_the_last_line_and_stores_only_its_hash(tmp_path: Path) -> None:
    """The token is the last stdout line; the users file holds its SHA-256, never the token, and is private (0600)."""
    users = tmp_path / "users.json"
    run = run_cli("console", "users", "add", "alice", "--role", "reviewer", "--users", str(users))
    assert run.returncode == 0, run.stderr
    token = run.stdout.splitlines()[-1]
    assert token == token.strip() and len(token) >= 40 and " " not in token
    text = users.read_text()
    assert token not in text
    doc = json.loads(text)
    assert doc["users"]["alice"] == {"role": "reviewer", "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
                                     "created_at": doc["users"]["alice"]["created_at"]}  # fmt: skip
    assert users.stat().st_mode & 0o777 == 0o600


def test_adding_an_existing_name_is_exit_2_unless_rotate(tmp_path: Path) -> None:
    """A second `users add NAME` fails with exit 2 and changes nothing; `--rotate` issues a new token."""
    users = tmp_path / "users.json"
    first = add_user(users, "bob", "viewer")
    before = users.read_text()
    again = run_cli("console", "users", "add", "bob", "--users", str(users))
    assert again.returncode == 2 and "--rotate" in again.stderr
    assert users.read_text() == before
    second = add_user(users, "bob", "viewer", "--rotate")
    assert second != first
    assert json.loads(users.read_text())["users"]["bob"]["token_sha256"] == hashlib.sha256(second.encode()).hexdigest()


def test_rotate_keeps_the_role_unless_role_is_given(tmp_path: Path) -> None:
    """`users add NAME --rotate` keeps a reviewer a reviewer; `--rotate --role viewer` changes the role."""
    users = tmp_path / "users.json"
    add_user(users, "rita", "reviewer")
    rotated = run_cli("console", "users", "add", "rita", "--rotate", "--users", str(users))
    assert rotated.returncode == 0, rotated.stderr
    assert "(reviewer)" in rotated.stdout
    assert json.loads(users.read_text())["users"]["rita"]["role"] == "reviewer"
    add_user(users, "rita", "viewer", "--rotate")
    assert json.loads(users.read_text())["users"]["rita"]["role"] == "viewer"


def test_users_list_shows_names_and_roles_but_no_secrets(tmp_path: Path) -> None:
    """`users list` names every user with their role; neither tokens nor hashes are printed."""
    users = tmp_path / "users.json"
    token = add_user(users, "carol", "flag-owner")
    add_user(users, "dave", "viewer")
    run = run_cli("console", "users", "list", "--users", str(users))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["carol", "flag-owner"], ["dave", "viewer"]]
    digest = json.loads(users.read_text())["users"]["carol"]["token_sha256"]
    assert token not in run.stdout and digest not in run.stdout


def test_users_remove_and_removing_an_unknown_user(tmp_path: Path) -> None:
    """`users remove NAME` deletes the user; an unknown name is exit 2."""
    users = tmp_path / "users.json"
    add_user(users, "erin", "reviewer")
    assert run_cli("console", "users", "remove", "erin", "--users", str(users)).returncode == 0
    assert json.loads(users.read_text())["users"] == {}
    gone = run_cli("console", "users", "remove", "erin", "--users", str(users))
    assert gone.returncode == 2 and "erin" in gone.stderr


def test_an_unknown_role_is_a_usage_error(tmp_path: Path) -> None:
    """`--role admin` is refused by the parser (exit 2) and no user is written."""
    run = run_cli("console", "users", "add", "x", "--role", "admin", "--users", str(tmp_path / "u.json"))
    assert run.returncode == 2
    assert not (tmp_path / "u.json").exists()


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ((), "--allow-remote"),
        (("--allow-remote",), "--behind-proxy"),
        (("--allow-remote", "--tls-cert", "c.pem"), "--tls-key"),
    ],
)
def test_a_non_loopback_host_refuses_to_start_and_says_why(tmp_path: Path, extra: tuple[str, ...], says: str) -> None:
    """`--host 0.0.0.0` without --allow-remote, or without TLS or --behind-proxy, exits 2 naming the missing option."""
    run = run_cli("console", "--host", "0.0.0.0", "--users", str(tmp_path / "u.json"), *extra, timeout=60)
    assert run.returncode == 2
    assert says in run.stderr


@pytest.mark.parametrize(
    ("host", "options", "ok"),
    [
        ("127.0.0.1", {}, True),
        ("::1", {}, True),
        ("localhost", {}, True),
        ("10.0.0.5", {}, False),
        ("10.0.0.5", {"allow_remote": True}, False),
        ("10.0.0.5", {"allow_remote": True, "behind_proxy": True}, True),
        ("0.0.0.0", {"behind_proxy": True}, False),
    ],
)
def test_binding_rules(host: str, options: dict[str, bool], ok: bool) -> None:
    """Loopback needs nothing; any other host needs allow_remote and TLS or a proxy statement."""
    settings = ConsoleSettings(host=host, **options)
    if ok:
        settings.check()
    else:
        with pytest.raises(ConfigError):
            settings.check()


def test_remote_with_tls_files_is_accepted(tmp_path: Path) -> None:
    """allow_remote with both TLS files present passes the check (their content is uvicorn's to load)."""
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("x")
    ConsoleSettings(host="10.0.0.5", allow_remote=True, tls_cert=cert, tls_key=key).check()


def test_without_the_console_extra_the_command_names_the_install(tmp_path: Path) -> None:
    """With starlette missing, `toolchain console` exits 2 and prints pip install 'toolchain-sdk[console]'."""
    run = run_python(
        f"""
        import sys
        sys.modules["starlette"] = None  # as if the extra were not installed
        from toolchain_sdk.cli import main
        sys.exit(main(["console", "--users", {str(tmp_path / "u.json")!r}]))
        """
    )
    assert run.returncode == 2, run.stderr
    assert "pip install 'toolchain-sdk[console]'" in run.stderr


def test_users_commands_need_no_web_library(tmp_path: Path) -> None:
    """`toolchain console users add` works without the console extra (nothing web is imported)."""
    run = run_python(
        f"""
        import sys
        for name in ("starlette", "uvicorn", "jinja2", "multipart"):
            sys.modules[name] = None
        from toolchain_sdk.cli import main
        sys.exit(main(["console", "users", "add", "zoe", "--users", {str(tmp_path / "u.json")!r}]))
        """
    )
    assert run.returncode == 0, run.stderr
    assert "zoe" in (tmp_path / "u.json").read_text()


def test_a_port_in_use_is_exit_2_naming_the_option(tmp_path: Path) -> None:
    """When the port is taken, `toolchain console` exits 2 and says to choose another --port (no traceback)."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = run_cli("console", "--port", str(port), "--users", str(tmp_path / "u.json"), timeout=60)
    assert run.returncode == 2
    assert "--port" in run.stderr and "Traceback" not in run.stderr


def test_unreadable_tls_files_are_exit_2_naming_the_options(tmp_path: Path) -> None:
    """A certificate or key that is not PEM makes `toolchain console` exit 2 naming --tls-cert/--tls-key."""
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("not a certificate")
    key.write_text("not a key")
    run = run_cli("console", "--port", "1", "--users", str(tmp_path / "u.json"), "--tls-cert", str(cert),
                  "--tls-key", str(key), timeout=60)  # fmt: skip
    assert run.returncode == 2
    assert "--tls-cert" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("option", [("--port", "0"), ("--port", "70000"), ("--session-idle", "0"),
                                    ("--session-idle", "-5")])  # fmt: skip
def test_out_of_range_numbers_are_exit_2_naming_the_option(tmp_path: Path, option: tuple[str, str]) -> None:
    """A port outside 1-65535 or a session idle limit that is not above 0 is refused before serving."""
    run = run_cli("console", *option, "--users", str(tmp_path / "u.json"), timeout=60)
    assert run.returncode == 2
    assert option[0] in run.stderr
