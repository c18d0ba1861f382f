"""`toolchain eval --changed-since REF` on temporary git repositories (real git, real CLI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests._subproc import run_cli
from tests.evals._project import Project

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

GIT_ENV = {
    "GIT_AUTHOR_NAME": "evals", "GIT_AUTHOR_EMAIL": "evals@example.invalid",
    "GIT_COMMITTER_NAME": "evals", "GIT_COMMITTER_EMAIL": "evals@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent-home-for-git",
}  # fmt: skip

CASE = "cases:\n  - id: hello\n    input: {ticket: {id: T-1, body: hi}}\n    assert: [{contains: hi}]\n"


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity and no user or system config."""
    proc = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always", *args],
        cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_ENV}, check=True,
    )  # fmt: skip
    return proc.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Project:
    """A committed project: reply (prompt greet@production -> 1, route replies), status, and evals of both."""
    root = tmp_path / "repo"
    root.mkdir()
    project = Project(root, routed=True)
    project.eval_file("reply", CASE)
    project.eval_file("versions", "prompts: [greet@2]\n" + CASE)
    project.eval_file("next", "prompts: [greet@3]\n" + CASE)  # written ahead of its prompt version
    project.eval_file("status", "cases:\n  - id: odd\n    input: {order: 3}\n    assert: [{contains: shipped}]\n",
                      function="status")  # fmt: skip
    (root / "README.md").write_text("demo\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "tag", "base")
    return project


def changed(project: Project, ref: str = "base", cwd: Path | None = None) -> tuple[int, list[str], str]:
    """Run --changed-since; the eval files it ran and the printed output."""
    out_json = (cwd or project.root) / "results.json"
    proc = run_cli("eval", "evals", "--changed-since", ref, "--json-out", str(out_json), cwd=cwd or project.root)
    files = [f["file"] for f in json.loads(out_json.read_text())["files"]] if out_json.exists() else []
    return proc.returncode, files, proc.stdout + proc.stderr


def _drop_next(project: Project) -> None:
    """next.yaml names greet@3, which only some scenarios create: move it out of the way for the others."""
    (project.root / "evals" / "next.yaml").unlink()


def test_an_unrelated_change_selects_nothing_and_exits_0(repo: Project) -> None:
    """Editing a README (and a comment in toolchain.toml) selects no eval; the run says so and passes."""
    _drop_next(repo)
    (repo.root / "README.md").write_text("demo, edited\n")
    config = repo.root / "toolchain.toml"
    config.write_text("# a comment only\n" + config.read_text())
    git(repo.root, "commit", "-qam", "unrelated")  # committed or not: the working tree is compared
    code, files, out = changed(repo)
    assert code == 0, out
    assert files == []
    assert "nothing selected: no eval file, prompt or route of their surfaces changed since base" in out


def test_a_prompt_edited_in_place_selects_the_evals_of_its_surface(repo: Project) -> None:
    """greet@1 (what greet@production resolves to) edited: the reply surface's evals run, status.yaml does not."""
    _drop_next(repo)
    repo.write_prompt("greet", "1", "Hello there! {{ body }}")
    code, files, out = changed(repo)
    assert code == 0, out
    assert files == ["evals/reply.yaml", "evals/versions.yaml"]  # versions.yaml lists greet@2, but its surface changed
    assert "selected evals/reply.yaml: prompt greet@production: edited (sha256 " in out


def test_an_edit_to_a_listed_version_only_selects_the_files_that_list_it(repo: Project) -> None:
    """greet@2 edited in place: versions.yaml (prompts: [greet@2]) runs; reply.yaml (greet@production -> 1) not."""
    _drop_next(repo)
    repo.write_prompt("greet", "2", "Please, please: {{ body }}")
    code, files, out = changed(repo)
    assert code == 0, out
    assert files == ["evals/versions.yaml"]
    assert "selected evals/versions.yaml: prompt greet@2: edited (sha256 " in out


def test_a_new_version_file_selects_the_evals_that_name_it_or_resolve_to_it(repo: Project) -> None:
    """greet@3.md added: next.yaml (prompts: [greet@3]) runs; moving production to 3 selects reply.yaml too."""
    repo.write_prompt("greet", "3", "Hi {{ body }}")
    code, files, out = changed(repo)
    assert code == 0, out
    assert files == ["evals/next.yaml"]
    assert "prompt greet@3: version 3 is new since" in out
    repo.label("greet", "production", "3")
    code, files, out = changed(repo)
    assert files == ["evals/next.yaml", "evals/reply.yaml", "evals/versions.yaml"]  # the surface's prompt is new
    assert "selected evals/reply.yaml: prompt greet@production: now version 3, was 1" in out


def test_a_renamed_identical_prompt_file_selects_nothing(repo: Project) -> None:
    """greet@2.md renamed greet@2.txt with the same bytes: compared by content hash, nothing changed."""
    _drop_next(repo)
    git(repo.root, "mv", "prompts/greet@2.md", "prompts/greet@2.txt")
    git(repo.root, "mv", "prompts/greet@1.md", "prompts/greet@1.txt")
    code, files, out = changed(repo)
    assert code == 0, out
    assert files == []


def test_a_route_change_selects_the_evals_of_the_routed_surface(repo: Project) -> None:
    """The model of [routes.replies] changed: reply.yaml and versions.yaml (same surface) run; status.yaml not."""
    _drop_next(repo)
    config = repo.root / "toolchain.toml"
    config.write_text(config.read_text().replace('model = "gpt-4o-mini"', 'model = "gpt-4.1-mini"'))
    code, files, out = changed(repo)
    assert code == 0, out
    assert files == ["evals/reply.yaml", "evals/versions.yaml"]
    assert "selected evals/reply.yaml: route replies changed in toolchain.toml" in out


def test_an_eval_file_that_changed_selects_itself(repo: Project) -> None:
    """An edited eval file runs; a new one too."""
    _drop_next(repo)
    status = repo.root / "evals" / "status.yaml"
    status.write_text(status.read_text().replace("contains: shipped", "contains: ship"))
    repo.eval_file("fresh", CASE)
    code, files, out = changed(repo)
    assert code == 0, out
    assert files == ["evals/fresh.yaml", "evals/status.yaml"]
    assert (
        "selected evals/status.yaml: eval file changed" in out and "selected evals/fresh.yaml: eval file is new" in out
    )


def test_a_missing_ref_exits_2_with_a_hint_to_fetch_it(repo: Project) -> None:
    """A REF that is not in the checkout is a configuration error that says how to fetch it."""
    code, _, out = changed(repo, "origin/main")
    assert code == 2
    assert "'origin/main' is not present in this checkout" in out
    assert "git fetch --depth=1 origin main" in out


def test_a_shallow_clone_works_once_the_ref_is_fetched(repo: Project, tmp_path: Path) -> None:
    """In a depth-1 CI clone the base is missing (exit 2); after `git fetch --depth=1 origin tag base` it works."""
    _drop_next(repo)
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-qm", "drop next")
    repo.write_prompt("greet", "1", "Hello again! {{ body }}")
    git(repo.root, "commit", "-qam", "edit greet@1 in place")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth=1", "--no-tags", f"file://{repo.root}", str(clone))
    assert git(clone, "rev-parse", "--is-shallow-repository") == "true"
    code, _, out = changed(repo, "base", cwd=clone)
    assert code == 2 and "is not present in this checkout" in out
    git(clone, "fetch", "-q", "--depth=1", "origin", "tag", "base")
    code, files, out = changed(repo, "base", cwd=clone)
    assert code == 0, out
    assert files == ["evals/reply.yaml", "evals/versions.yaml"]
