"""`toolchain kill / allow / restore / flags` in real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import toolchain_sdk as tc
from tests._subproc import run_cli
from tests._wait import wait_for
from toolchain_sdk import flags
from toolchain_sdk.flags import FileSource
from toolchain_sdk.flags._flag_file import FlagFile


def toolchain(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m toolchain_sdk ARGS` in ``cwd`` (timeout is a hang guard, not a speed assertion)."""
    return run_cli(*args, env=env, timeout=timeout, cwd=cwd)


@pytest.fixture(autouse=True)
def _reset_sources() -> Iterator[None]:
    """Configured sources go back to the defaults after each test."""
    yield
    flags.set_sources(None)


def test_kill_flags_restore_round_trip(tmp_path: Path) -> None:
    """kill writes .toolchain/flags.json, flags shows who/why/since/until, restore removes the entry."""
    killed = toolchain("kill", "support.*", "--reason", "refunds quote the old policy", "--by", "alice", "--ttl", "2h",
                       cwd=tmp_path)  # fmt: skip
    assert killed.returncode == 0, killed.stderr
    assert "set support.*: killed by alice until" in killed.stdout
    assert (tmp_path / ".toolchain" / "flags.json").exists()
    shown = toolchain("flags", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if "support.*" in line)
    assert "killed" in row and "alice" in row and "refunds quote the old policy" in row and "Z" in row
    listing = json.loads(toolchain("flags", "--json", cwd=tmp_path).stdout)
    [entry] = listing["entries"]
    assert (entry["target"], entry["state"], entry["by"]) == ("support.*", "killed", "alice")
    assert entry["since"] and entry["until"]
    restored = toolchain("restore", "support.*", "--reason", "policy fixed", "--by", "bob", cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert "restored support.*" in restored.stdout
    assert json.loads(toolchain("flags", "--json", cwd=tmp_path).stdout)["entries"] == []
    history = toolchain("flags", "--history", cwd=tmp_path).stdout.splitlines()
    assert [line.split()[1] for line in history] == ["kill", "restore"]
    assert "by bob: policy fixed" in history[1]


def test_a_reason_is_required(tmp_path: Path) -> None:
    """A missing or blank reason is refused and nothing is written."""
    missing = toolchain("kill", "a.b", cwd=tmp_path)
    assert missing.returncode == 2 and "--reason" in missing.stderr
    blank = toolchain("restore", "a.b", "--reason", " ", cwd=tmp_path)
    assert blank.returncode == 2 and "reason is required" in blank.stderr
    assert not (tmp_path / ".toolchain").exists()


def test_bad_targets_and_ttls_are_refused(tmp_path: Path) -> None:
    """Targets with spaces or commas and malformed TTLs exit 2 with a message."""
    bad = toolchain("kill", "a b,c", "--reason", "r", cwd=tmp_path)
    assert bad.returncode == 2 and "glob pattern" in bad.stderr
    ttl = toolchain("kill", "a", "--reason", "r", "--ttl", "soon", cwd=tmp_path)
    assert ttl.returncode == 2 and "TTL 'soon'" in ttl.stderr


def test_restore_of_an_unknown_entry_points_at_what_matches(tmp_path: Path) -> None:
    """restore removes exactly the entry it names; otherwise it exits 1 and names the matching pattern."""
    assert toolchain("kill", "support.*", "--reason", "r", cwd=tmp_path).returncode == 0
    proc = toolchain("restore", "support.refund_reply", "--reason", "r", cwd=tmp_path)
    assert proc.returncode == 1
    assert "no entry named 'support.refund_reply'" in proc.stderr and "'support.*' matches it" in proc.stderr


def test_allow_pins_a_surface_inside_a_killed_group(tmp_path: Path) -> None:
    """allow writes killed=false and notes the broader kill it overrides."""
    toolchain("kill", "support.*", "--reason", "group off", cwd=tmp_path)
    proc = toolchain("allow", "support.faq", "--reason", "faq is safe", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "allowed by" in proc.stdout and "'support.*' is also killed" in proc.stdout
    states = {e["target"]: e["state"] for e in json.loads(toolchain("flags", "--json", cwd=tmp_path).stdout)["entries"]}
    assert states == {"support.*": "killed", "support.faq": "allowed"}


def test_file_option_and_env_variable_choose_the_file(tmp_path: Path) -> None:
    """--file wins; otherwise TOOLCHAIN_FLAGS_FILE; otherwise .toolchain/flags.json under the working directory."""
    chosen = tmp_path / "ops" / "kill.json"
    assert toolchain("kill", "a", "--reason", "r", "--file", str(chosen), cwd=tmp_path).returncode == 0
    assert (
        toolchain("kill", "b", "--reason", "r", cwd=tmp_path, env={"TOOLCHAIN_FLAGS_FILE": str(chosen)}).returncode == 0
    )
    assert set(FlagFile(chosen).entries()) == {"a", "b"}
    assert not (tmp_path / ".toolchain").exists()


def test_two_concurrent_kills_lose_nothing(tmp_path: Path) -> None:
    """Several `toolchain kill` processes started at once: every entry and every log line survives."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "toolchain_sdk", "kill", f"svc.s{i}", "--reason", f"incident {i}", "--by", f"op{i}"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    flag_file = FlagFile(tmp_path / ".toolchain" / "flags.json")
    assert set(flag_file.entries()) == {f"svc.s{i}" for i in range(6)}
    assert sorted(r["by"] for r in flag_file.history()) == [f"op{i}" for i in range(6)]


def test_expired_entries_show_and_are_swept_with_a_log_record(tmp_path: Path) -> None:
    """After its TTL an entry shows as expired; the next change removes it and logs 'expire'."""
    assert toolchain("kill", "ttl.one", "--reason", "brief", "--ttl", "1s", cwd=tmp_path).returncode == 0

    def state() -> str:
        entries = json.loads(toolchain("flags", "--json", cwd=tmp_path).stdout)["entries"]
        return str(entries[0]["state"])

    deadline = time.monotonic() + 20
    while state() != "expired" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert state() == "expired"
    assert toolchain("kill", "other", "--reason", "r", cwd=tmp_path).returncode == 0
    actions = [line.split()[1] for line in toolchain("flags", "--history", cwd=tmp_path).stdout.splitlines()]
    assert actions == ["kill", "expire", "kill"]


def test_corrupt_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    """With a broken flag file, kill and flags exit 2 and leave the file for a person to fix."""
    path = tmp_path / ".toolchain" / "flags.json"
    path.parent.mkdir()
    path.write_text("{oops")
    for args in (["kill", "a", "--reason", "r"], ["flags"]):
        proc = toolchain(*args, cwd=tmp_path)
        assert proc.returncode == 2 and "not valid JSON" in proc.stderr
    assert path.read_text() == "{oops"


def test_cli_kill_reaches_this_running_process(tmp_path: Path) -> None:
    """A kill and a restore from a separate CLI process switch a surface in this process, no restart."""
    flags.set_sources([FileSource(tmp_path / ".toolchain" / "flags.json")])

    @tc.governed_call("cli.live", fallback=lambda: "fallback")
    def live() -> str:
        return "model"

    assert live() == "model"
    assert toolchain("kill", "cli.live", "--reason", "incident", cwd=tmp_path).returncode == 0
    assert wait_for(lambda: live() == "fallback")
    assert toolchain("restore", "cli.live", "--reason", "over", cwd=tmp_path).returncode == 0
    assert wait_for(lambda: live() == "model")


def test_help_lists_the_commands(tmp_path: Path) -> None:
    """The top-level help names kill, allow, restore and flags."""
    out = toolchain("--help", cwd=tmp_path).stdout
    assert all(cmd in out for cmd in ("kill", "allow", "restore", "flags"))
