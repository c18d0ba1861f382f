"""`toolchain routes` and `toolchain routes check`, run in real subprocesses.

Until cli.py registers them, each run builds the `toolchain` parser with only the routing
commands (``routing._cli.add_commands``), as cli.py will.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

RUN_CLI = (
    "import argparse,sys; from toolchain_sdk.routing import _cli; p=argparse.ArgumentParser(prog='toolchain'); "
    "s=p.add_subparsers(dest='command', required=True); _cli.add_commands(s); a=p.parse_args(sys.argv[1:]); "
    "sys.exit(a.func(a))"
)

VALID = """
[routes.answers]
retry_on = ["TimeoutError", "openai.RateLimitError"]
backoff = { initial_s = 0.5, max_s = 8.0, multiplier = 2.0, jitter = true }
[[routes.answers.targets]]
provider = "openai"
model = "gpt-4o-mini-2024-07-18"
attempts = 3
params = { temperature = 0.2 }
[[routes.answers.targets]]
provider = "anthropic"
model = "claude-3-5-haiku-20241022"
attempts = 2

[[routes.drafts.targets]]
provider = "openai"
model = "gpt-4o-mini"

[exposure]
pii = ["azure-openai", "anthropic:claude-*"]
public = ["*"]
"""

INVALID = """
[routes.answers]
retires = 3
[[routes.answers.targets]]
provider = "openai"
model = "gpt-4o-mini-2024-07-18"
attempts = 0
"""


def routes(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the routing commands in a fresh interpreter (timeout: a hang guard, not a speed assertion)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLCHAIN_", "OTEL_"))}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", RUN_CLI, *args], capture_output=True, text=True, cwd=cwd, env=full, timeout=60
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A working directory with the valid toolchain.toml."""
    (tmp_path / "toolchain.toml").write_text(textwrap.dedent(VALID), encoding="utf-8")
    return tmp_path


def test_routes_lists_every_route_with_its_targets(project: Path) -> None:
    """`toolchain routes` prints each route, its retry list, back-off, targets in order and the classes it may carry."""
    run = routes("routes", cwd=project)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.startswith("config: toolchain.toml\n")
    assert "route answers\n" in out and "route drafts\n" in out
    assert "  retry on: TimeoutError, openai.RateLimitError\n" in out
    assert "  back-off: 0.5s x2 per retry, at most 8s, full jitter\n" in out
    assert '  1. openai:gpt-4o-mini-2024-07-18  attempts=3  primary  params {"temperature": 0.2}\n' in out
    assert "  2. anthropic:claude-3-5-haiku-20241022  attempts=2  fallback\n" in out
    assert "(default)" in out.split("route drafts")[1]  # drafts keeps the default retry list
    assert out.split("route drafts")[0].count("may carry: public") == 1


def test_routes_json(project: Path) -> None:
    """`toolchain routes --json` gives the validated routes (defaults filled in) and the exposure table."""
    run = routes("routes", "--json", cwd=project)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["file"] == "toolchain.toml"
    assert [t["model"] for t in doc["routes"]["answers"]["targets"]] == [
        "gpt-4o-mini-2024-07-18",
        "claude-3-5-haiku-20241022",
    ]
    assert doc["routes"]["drafts"]["targets"][0]["attempts"] == 1
    assert doc["exposure"]["pii"] == ["azure-openai", "anthropic:claude-*"]


def test_check_passes_a_valid_file_with_notes_on_aliases(project: Path) -> None:
    """`routes check` exits 0 on a valid file and notes a model name that is not a pinned snapshot."""
    run = routes("routes", "check", cwd=project)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[-1] == "toolchain.toml: ok (2 route(s), 3 target(s); exposure: pii, public)"
    assert (
        "note: toolchain.toml: [routes.drafts.targets][0].model: 'gpt-4o-mini' looks like an alias; "
        "pin a dated snapshot" in lines
    )
    assert not any("gpt-4o-mini-2024-07-18" in line for line in lines if line.startswith("note"))


def test_check_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    """An invalid file: exit 2 and one stderr line per problem naming file, table and field."""
    config = tmp_path / "conf.toml"
    config.write_text(textwrap.dedent(INVALID), encoding="utf-8")
    run = routes("routes", "check", "--config", str(config), cwd=tmp_path)
    assert run.returncode == 2
    lines = run.stderr.splitlines()
    assert f"{config}: [routes.answers.targets][0].attempts: Input should be greater than or equal to 1" in lines
    assert f"{config}: [routes.answers].retires: Extra inputs are not permitted" in lines
    assert lines[-1] == "toolchain routes check: 2 problem(s); see docs/routing.md for the file format"
    assert run.stdout == ""


def test_config_may_be_given_before_the_check_subcommand(tmp_path: Path, project: Path) -> None:
    """`routes --config PATH check` reads PATH too (the subcommand does not reset it)."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[routes.x]\n", encoding="utf-8")
    run = routes("routes", "--config", str(bad), "check", cwd=project)
    assert run.returncode == 2
    assert f"{bad}: [routes.x].targets: Field required" in run.stderr


def test_the_env_var_names_the_file(tmp_path: Path, project: Path) -> None:
    """TOOLCHAIN_CONFIG wins over ./toolchain.toml for the CLI as for the SDK."""
    other = tmp_path / "elsewhere.toml"
    other.write_text("[[routes.only.targets]]\nprovider = 'p'\nmodel = 'm-2024-01-01'\n", encoding="utf-8")
    run = routes("routes", cwd=project, env={"TOOLCHAIN_CONFIG": str(other)})
    assert run.returncode == 0, run.stderr
    assert f"config: {other}" in run.stdout and "route only" in run.stdout and "route answers" not in run.stdout


def test_no_configuration_file_exits_2(tmp_path: Path) -> None:
    """With nothing to read, both commands say where they looked and exit 2."""
    for args in (("routes",), ("routes", "check")):
        run = routes(*args, cwd=tmp_path)
        assert run.returncode == 2
        assert "no configuration file found (looked at --config, $TOOLCHAIN_CONFIG, ./toolchain.toml" in run.stderr


def test_a_toml_syntax_error_exits_2(tmp_path: Path) -> None:
    """A file that is not TOML is reported with its line."""
    (tmp_path / "toolchain.toml").write_text("[routes.answers\n", encoding="utf-8")
    run = routes("routes", "check", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.startswith("toolchain.toml: not valid TOML: ")


def test_pyproject_configuration_is_listed(tmp_path: Path) -> None:
    """[tool.toolchain] of ./pyproject.toml is found and its errors name that table."""
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'app'\n[[tool.toolchain.routes.a.targets]]\nprovider = 'p'\nmodel = 'm'\nattempts = 0\n",
        encoding="utf-8",
    )
    run = routes("routes", "check", cwd=tmp_path)
    assert run.returncode == 2
    assert "pyproject.toml: [tool.toolchain.routes.a.targets][0].attempts: Input should be greater" in run.stderr
