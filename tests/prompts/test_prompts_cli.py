"""`toolchain prompts lock / verify / label / list / show / diff / log` in real subprocesses."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

_MAIN = """
import sys
from toolchain_sdk import cli
from toolchain_sdk.prompts import _cli as prompts_cli

assembled = cli._commands
if prompts_cli.add_commands not in assembled():  # until cli.py assembles the prompts commands itself
    cli._commands = lambda: [*assembled(), prompts_cli.add_commands]
raise SystemExit(cli.main(sys.argv[1:]))
"""

V2 = "Customer {{ customer }}: {{ body }}\n"
V3 = "---\nowner: support-platform\nvariables: [customer, body]\n---\nCustomer {{ customer }} asks: {{ body }}\n"


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `toolchain ARGS` through toolchain_sdk.cli.main in a fresh process, with no git identity but the repo's."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLCHAIN_", "OTEL_"))}
    full.update(
        HOME=str(cwd),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CEILING_DIRECTORIES=str(cwd.parent),
        LOGNAME="os-login",
    )
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", _MAIN, *args], capture_output=True, text=True, cwd=cwd, env=full, timeout=60
    )


def prompts(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return _cli("prompts", *args, cwd=cwd, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A project folder with prompts/ holding two versions of support_refund_policy and one sub-folder prompt."""
    (tmp_path / "prompts" / "support").mkdir(parents=True)
    (tmp_path / "prompts" / "support_refund_policy@2.md").write_text(V2, encoding="utf-8")
    (tmp_path / "prompts" / "support_refund_policy@3.md").write_text(V3, encoding="utf-8")
    (tmp_path / "prompts" / "support" / "greet@v1.txt").write_text("Hi {{ name }}", encoding="utf-8")
    (tmp_path / "prompts" / "README.md").write_text("not a prompt: no @ in the name", encoding="utf-8")
    return tmp_path


def lock(repo: Path, *extra: str) -> None:
    run = prompts("lock", "--reason", "initial review", "--by", "ann", *extra, cwd=repo)
    assert run.returncode == 0, run.stderr


def lock_doc(repo: Path) -> dict[str, Any]:
    return dict(json.loads((repo / "prompts" / "prompts.lock").read_text(encoding="utf-8")))


def test_lock_records_each_version_one_per_line_with_sorted_keys(repo: Path) -> None:
    """lock writes prompts.lock: sorted keys, one version entry per line, sha256 of the bytes, when, who, why."""
    lock(repo)
    text = (repo / "prompts" / "prompts.lock").read_text(encoding="utf-8")
    doc = json.loads(text)
    assert json.dumps(doc, sort_keys=True) == json.dumps(doc)  # keys already sorted as written
    assert list(doc) == sorted(doc)
    entry = doc["prompts"]["support_refund_policy"]["3"]
    assert entry["sha256"] == hashlib.sha256((repo / "prompts" / "support_refund_policy@3.md").read_bytes()).hexdigest()
    assert (entry["by"], entry["reason"], entry["file"]) == ("ann", "initial review", "support_refund_policy@3.md")
    assert entry["locked_at"].endswith("Z")
    assert doc["prompts"]["support/greet"]["v1"]["file"] == "support/greet@v1.txt"
    [line] = [ln for ln in text.splitlines() if entry["sha256"] in ln]
    assert json.loads(line.strip().split(": ", 1)[1]) == entry
    assert list(entry) == sorted(entry)
    assert doc["labels"] == {}


def test_lock_by_defaults_to_git_user_name(repo: Path) -> None:
    """Without --by, lock records `git config user.name` of the repository."""
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env={**os.environ, "HOME": str(repo)})
    subprocess.run(["git", "config", "user.name", "Pat Reviewer"], cwd=repo, check=True)
    run = prompts("lock", cwd=repo)
    assert run.returncode == 0, run.stderr
    entry = lock_doc(repo)["prompts"]["support_refund_policy"]["2"]
    assert entry["by"] == "Pat Reviewer"


def test_lock_by_falls_back_to_the_os_user(repo: Path) -> None:
    """Outside a git repository with no git identity, lock records the OS login name."""
    run = prompts("lock", "--reason", "r", cwd=repo)
    assert run.returncode == 0, run.stderr
    assert lock_doc(repo)["prompts"]["support_refund_policy"]["2"]["by"] == "os-login"


def test_lock_never_changes_existing_entries(repo: Path) -> None:
    """Locking a new version adds its line; every existing line stays byte for byte."""
    lock(repo)
    before = (repo / "prompts" / "prompts.lock").read_text(encoding="utf-8").splitlines()
    (repo / "prompts" / "support_refund_policy@4.md").write_text("v4 {{ customer }}", encoding="utf-8")
    run = prompts("lock", "--reason", "v4", "--by", "bo", cwd=repo)
    assert run.returncode == 0, run.stderr
    assert "locked support_refund_policy@4" in run.stdout
    after = (repo / "prompts" / "prompts.lock").read_text(encoding="utf-8").splitlines()
    assert len(after) == len(before) + 1  # one new line; the line before it gains only its JSON comma
    assert {ln.rstrip(",") for ln in before} <= {ln.rstrip(",") for ln in after}
    old_entry = json.loads("\n".join(before))["prompts"]["support_refund_policy"]["3"]
    assert lock_doc(repo)["prompts"]["support_refund_policy"]["3"] == old_entry
    again = prompts("lock", "--reason", "nothing", cwd=repo)
    assert again.returncode == 0 and "nothing new to lock" in again.stdout
    assert (repo / "prompts" / "prompts.lock").read_text(encoding="utf-8").splitlines() == after


def test_lock_refuses_a_version_modified_in_place(repo: Path) -> None:
    """A locked file whose bytes changed makes lock exit 1 naming it, and nothing is written."""
    lock(repo)
    lock_before = (repo / "prompts" / "prompts.lock").read_bytes()
    log_before = (repo / "prompts" / "prompts.log.jsonl").read_bytes()
    (repo / "prompts" / "support_refund_policy@2.md").write_text(V2 + "Be generous.\n", encoding="utf-8")
    (repo / "prompts" / "support_refund_policy@4.md").write_text("v4", encoding="utf-8")
    run = prompts("lock", "--reason", "sneaky", cwd=repo)
    assert run.returncode == 1
    assert "support_refund_policy@2.md: modified in place" in run.stderr
    assert (repo / "prompts" / "prompts.lock").read_bytes() == lock_before
    assert (repo / "prompts" / "prompts.log.jsonl").read_bytes() == log_before


def test_lock_refuses_an_invalid_new_file(repo: Path) -> None:
    """A new file that would not load (front matter variables mismatch) is not locked; nothing is written."""
    (repo / "prompts" / "bad@1.md").write_text("---\nvariables: [a]\n---\n{{ b }}", encoding="utf-8")
    run = prompts("lock", cwd=repo)
    assert run.returncode == 1 and "bad@1.md: invalid" in run.stderr
    assert not (repo / "prompts" / "prompts.lock").exists()


def test_verify_passes_on_a_locked_directory(repo: Path) -> None:
    """verify exits 0 when every file matches the lock, every locked version exists and labels point at them."""
    lock(repo)
    assert prompts("label", "support_refund_policy", "production", "3", "--reason", "ship", cwd=repo).returncode == 0
    run = prompts("verify", cwd=repo)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("ok: 3 prompt version(s)")
    as_json = prompts("verify", "--format", "json", cwd=repo)
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == {"problems": []}


def test_verify_reports_every_problem_one_line_each(repo: Path) -> None:
    """In-place edits, deletions, unlocked files and dangling labels each give one line naming the file; exit 1."""
    lock(repo)
    p = repo / "prompts"
    (p / "support_refund_policy@3.md").write_text(V3.replace("asks", "demands"), encoding="utf-8")
    (p / "support" / "greet@v1.txt").unlink()
    (p / "support_refund_policy@4.md").write_text("v4", encoding="utf-8")
    doc = lock_doc(repo)
    doc["labels"] = {"support_refund_policy": {"production": "9"}}
    (p / "prompts.lock").write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
    run = prompts("verify", cwd=repo)
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert len(lines) == 4, run.stdout
    expected = {
        "prompts/support_refund_policy@3.md: modified in place",
        "prompts/support/greet@v1.txt: deleted",
        "prompts/support_refund_policy@4.md: not locked",
        "prompts/prompts.lock: label points nowhere",
    }
    assert {next(e for e in expected if line.startswith(e)) for line in lines} == expected
    assert "support_refund_policy@production -> 9" in run.stdout
    as_json = prompts("verify", "--format", "json", cwd=repo)
    assert as_json.returncode == 1
    found = {(x["file"], x["problem"]) for x in json.loads(as_json.stdout)["problems"]}
    assert found == {tuple(e.split(": ", 1)) for e in expected}


def test_verify_without_a_lock_file(repo: Path) -> None:
    """No prompts.lock: verify exits 1 saying so and how to create it, in text and JSON."""
    run = prompts("verify", cwd=repo)
    assert run.returncode == 1
    assert "prompts/prompts.lock: no lock file" in run.stdout and "toolchain prompts lock" in run.stdout
    as_json = prompts("verify", "--format", "json", cwd=repo)
    assert as_json.returncode == 1
    [problem] = json.loads(as_json.stdout)["problems"]
    assert (problem["file"], problem["problem"]) == ("prompts/prompts.lock", "no lock file")


def test_dir_option_and_env_var(repo: Path) -> None:
    """--dir and TOOLCHAIN_PROMPTS_DIR choose the prompts directory."""
    (repo / "prompts").rename(repo / "elsewhere")
    assert prompts("lock", "--dir", "elsewhere", cwd=repo).returncode == 0
    assert prompts("verify", "--dir", "elsewhere", cwd=repo).returncode == 0
    assert prompts("verify", cwd=repo, env={"TOOLCHAIN_PROMPTS_DIR": "elsewhere"}).returncode == 0
    assert prompts("verify", cwd=repo).returncode == 1
    missing = prompts("lock", "--dir", "missing", cwd=repo)
    assert missing.returncode == 2 and "no prompts directory missing" in missing.stderr
    assert not (repo / "missing").exists()


def test_label_moves_one_line_and_logs_who_and_why(repo: Path) -> None:
    """label changes only the label's line in the lock; rolling back is the same one-line change; log shows both."""
    lock(repo)
    path = repo / "prompts" / "prompts.lock"
    assert prompts("label", "support_refund_policy", "production", "3", "--reason", "ship v3", cwd=repo).returncode == 0
    at_3 = path.read_text(encoding="utf-8").splitlines()
    run = prompts("label", "support_refund_policy", "production", "2", "--reason", "v3 over-refunds", "--by", "bo",
                  cwd=repo)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "-> 2 (was 3)" in run.stdout
    at_2 = path.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(at_3, at_2, strict=True) if a != b]
    assert changed == [('      "production": "3"', '      "production": "2"')]
    assert lock_doc(repo)["labels"] == {"support_refund_policy": {"production": "2"}}
    log = prompts("log", "support_refund_policy", cwd=repo)
    assert log.returncode == 0
    lines = log.stdout.splitlines()
    assert [ln for ln in lines if "label" in ln][-1].endswith("production 3 -> 2  by bo: v3 over-refunds")
    assert any("lock  support_refund_policy@3" in ln and "by ann: initial review" in ln for ln in lines)
    assert not any("greet" in ln for ln in lines)
    records = json.loads(prompts("log", "--format", "json", cwd=repo).stdout)
    assert [r["action"] for r in records] == ["lock", "lock", "lock", "label", "label"]


def test_label_refusals_change_nothing(repo: Path) -> None:
    """A label needs a lock, a reason, and a locked, unmodified version; a label may not be named like a version."""
    assert prompts("label", "support_refund_policy", "production", "3", "--reason", "x", cwd=repo).returncode == 1
    lock(repo)
    (repo / "prompts" / "support_refund_policy@4.md").write_text("v4", encoding="utf-8")
    before = (repo / "prompts" / "prompts.lock").read_bytes()
    cases = {
        ("support_refund_policy", "production", "4"): "not locked",
        ("support_refund_policy", "production", "9"): "not locked",
        ("support/greet", "v1", "v1"): "is a version",
        ("support_refund_policy", "latest", "3"): "'latest' cannot be a label",
        ("support_refund_policy", "2", "3"): "start with a letter",
    }
    for (name, label, version), message in cases.items():
        run = prompts("label", name, label, version, "--reason", "x", cwd=repo)
        assert run.returncode == 1 and message in run.stderr, run.stderr
    no_reason = prompts("label", "support_refund_policy", "production", "3", cwd=repo)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    (repo / "prompts" / "support_refund_policy@3.md").write_text("edited", encoding="utf-8")
    edited = prompts("label", "support_refund_policy", "production", "3", "--reason", "x", cwd=repo)
    assert edited.returncode == 1 and "modified in place" in edited.stderr
    assert (repo / "prompts" / "prompts.lock").read_bytes() == before


def test_list_shows_versions_labels_and_lock_state(repo: Path) -> None:
    """list prints each name with its versions, their lock state and labels (text and JSON)."""
    lock(repo)
    prompts("label", "support_refund_policy", "production", "3", "--reason", "ship", cwd=repo)
    (repo / "prompts" / "support_refund_policy@4.md").write_text("v4", encoding="utf-8")
    run = prompts("list", cwd=repo)
    assert run.returncode == 0, run.stderr
    rows = {ln.split()[0]: ln for ln in run.stdout.splitlines() if ln.startswith("  ")}
    assert "locked" in rows["3"] and "labels: production" in rows["3"]
    assert "not locked" in rows["4"] and "locked" in rows["v1"]
    doc = json.loads(prompts("list", "--format", "json", cwd=repo).stdout)
    versions = doc["prompts"]["support_refund_policy"]["versions"]
    assert {v: r["state"] for v, r in versions.items()} == {"2": "locked", "3": "locked", "4": "not locked"}
    assert versions["3"]["labels"] == ["production"]


def test_show_prints_the_template_and_sha256(repo: Path) -> None:
    """show NAME@LABEL prints the resolved version, its sha256, lock entry, front matter and template."""
    lock(repo)
    prompts("label", "support_refund_policy", "production", "3", "--reason", "ship", cwd=repo)
    run = prompts("show", "support_refund_policy@production", cwd=repo)
    assert run.returncode == 0, run.stderr
    digest = hashlib.sha256((repo / "prompts" / "support_refund_policy@3.md").read_bytes()).hexdigest()
    assert "support_refund_policy@3 (label production)" in run.stdout
    assert f"sha256:      {digest}" in run.stdout
    assert "owner:       support-platform" in run.stdout
    assert run.stdout.endswith("---\nCustomer {{ customer }} asks: {{ body }}\n")
    unknown = prompts("show", "support_refund_policy@staging", cwd=repo)
    assert unknown.returncode == 2 and "versions: 2, 3; labels: production -> 3" in unknown.stderr


def test_diff_is_a_unified_diff_of_templates(repo: Path) -> None:
    """diff A B prints a unified diff of the two templates (front matter excluded)."""
    lock(repo)
    prompts("label", "support_refund_policy", "production", "2", "--reason", "ship", cwd=repo)
    run = prompts("diff", "support_refund_policy@production", "support_refund_policy@3", cwd=repo)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("--- support_refund_policy@2 (label production)")
    assert lines[1].startswith("+++ support_refund_policy@3")
    assert "-Customer {{ customer }}: {{ body }}" in lines
    assert "+Customer {{ customer }} asks: {{ body }}" in lines
    assert not any("owner" in ln for ln in lines)
    same = prompts("diff", "support_refund_policy@2", "support_refund_policy@production", cwd=repo)
    assert "have the same template" in same.stdout
