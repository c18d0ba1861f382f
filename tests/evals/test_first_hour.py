"""docs/first-hour.md end to end on a scratch copy of the demo: inventory, check, lock, evals, label and rollback."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests._subproc import ROOT, run_cli

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

GIT_ENV = {
    "GIT_AUTHOR_NAME": "lead", "GIT_AUTHOR_EMAIL": "lead@example.invalid",
    "GIT_COMMITTER_NAME": "lead", "GIT_COMMITTER_EMAIL": "lead@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent-home-for-git",
}  # fmt: skip
OWNER = '    owner="support-platform",'


def _git(cwd: Path, *args: str) -> None:
    """Run git with a fixed identity and no user or system config."""
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env={**os.environ, **GIT_ENV},
                   check=True, capture_output=True)  # fmt: skip


def _cli(cwd: Path, *args: str) -> tuple[int, str]:
    """``toolchain ARGS`` in ``cwd``: exit status and stdout + stderr."""
    proc = run_cli(*args, cwd=cwd)
    return proc.returncode, proc.stdout + proc.stderr


def _demo(cwd: Path) -> str:
    """``python examples/quickstart.py``'s output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOOLCHAIN_"))}
    proc = subprocess.run([sys.executable, "examples/quickstart.py"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_the_first_hour_runs_as_written(tmp_path: Path) -> None:
    """Every step of docs/first-hour.md gives the result the page shows (the prompt file is taken from the page)."""
    page = (ROOT / "docs/first-hour.md").read_text(encoding="utf-8")
    shutil.copytree(
        ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__", ".toolchain")
    )
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "the demo as shipped")

    code, out = _cli(tmp_path, "inventory", "examples/quickstart.py")  # 1. map every model call
    assert code == 0 and all(s in out for s in ("support.refund_reply", "support.summarise_thread", "support.classify"))

    quickstart = tmp_path / "examples/quickstart.py"  # 2. owners until `toolchain check` passes
    source = quickstart.read_text(encoding="utf-8")
    quickstart.write_text(source.replace(OWNER, "    # " + OWNER.strip(), 1), encoding="utf-8")
    code, out = _cli(tmp_path, "check", "examples/quickstart.py")
    assert code == 1 and "support.refund_reply: owner-required: no owner" in out and "owner-required" in page
    quickstart.write_text(source, encoding="utf-8")
    code, out = _cli(tmp_path, "check", "examples/quickstart.py")
    assert code == 0, out

    heredoc = re.search(r"support_refund_policy@4\.md <<'EOF'\n(.*?)\nEOF\n", page, re.S)  # 3. lock a new version
    assert heredoc is not None, "the page writes support_refund_policy@4.md with a heredoc"
    (tmp_path / "examples/prompts/support_refund_policy@4.md").write_text(heredoc.group(1) + "\n", encoding="utf-8")
    code, out = _cli(tmp_path, "prompts", "lock", "--dir", "examples/prompts", "--reason", "shorter", "--by", "lead")
    assert code == 0 and "locked support_refund_policy@4  sha256 5f8ec8c90b3c" in out and "sha256 5f8ec8c90b3c" in page
    assert _cli(tmp_path, "prompts", "verify", "--dir", "examples/prompts")[0] == 0

    evals = tmp_path / "examples/evals/refund_reply.yaml"  # 4. add its evals
    evals.write_text(
        re.sub(r"(?m)^prompts: .*$", "prompts: [support_refund_policy@3, support_refund_policy@4]", evals.read_text()),
        encoding="utf-8",
    )
    baseline = "examples/evals/baseline.json"
    code, out = _cli(tmp_path, "eval", "examples/evals", "--changed-since", "HEAD", "--baseline", baseline,
                     "--update-baseline")  # fmt: skip
    assert code == 0, out
    assert re.search(r"selected examples/evals/refund_reply.yaml: eval file changed; prompt support_refund_policy@4: "
                     r"version 4 is new since [0-9a-f]{12}", out), out  # fmt: skip
    assert "examples/evals/refund_reply.yaml: 4 passed, 0 failed, 0 skipped" in out
    assert "summarise_thread" not in out  # nothing it depends on changed
    assert _cli(tmp_path, "eval", "examples/evals", "--baseline", baseline)[0] == 0

    for version, was in (("4", "3"), ("3", "4")):  # 5. ship with a label, then move it back
        code, out = _cli(tmp_path, "prompts", "label", "support_refund_policy", "production", version,
                         "--dir", "examples/prompts", "--reason", "first hour", "--by", "lead")  # fmt: skip
        assert code == 0 and f"support_refund_policy@production -> {version} (was {was}) by lead" in out, out
        shown = _demo(tmp_path)
        assert f"gen_ai.prompt.version = {version}" in shown and "toolchain.prompt.label = production" in shown
