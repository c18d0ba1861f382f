"""`toolchain inventory` and `toolchain check` in real subprocesses: every format, -o, exit codes, --import."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

import pytest

from tests._subproc import run_cli
from tests.inventory._fixture import DATA, SHOWN, line_of, write

FIXTURE = ("tests/data/inventory/app", "--prompts-dir", "tests/data/inventory/prompts", "--config", "/dev/null")


@pytest.fixture
def no_config(tmp_path: Path) -> str:
    """An empty toolchain.toml (so the repository's own configuration is not read)."""
    path = tmp_path / "toolchain.toml"
    path.write_text("")
    return str(path)


def _inventory(*args: str, config: str) -> str:
    run = run_cli("inventory", "tests/data/inventory/app", "--prompts-dir", "tests/data/inventory/prompts",
                  "--config", config, *args)  # fmt: skip
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_json_has_the_documented_shape(no_config: str) -> None:
    """--format json: surfaces, unmanaged {file, line, library, call}, errors {file, line, message}, time, paths."""
    doc = json.loads(_inventory("--format", "json", config=no_config))
    assert set(doc) == {"surfaces", "unmanaged", "errors", "generated_at", "paths"}
    assert doc["paths"] == [SHOWN]
    assert len(doc["surfaces"]) == 7 and len(doc["unmanaged"]) == 9
    assert set(doc["unmanaged"][0]) == {"file", "line", "library", "call"}
    assert doc["errors"] == [{"file": f"{SHOWN}/broken.py", "line": doc["errors"][0]["line"],
                              "message": doc["errors"][0]["message"]}]  # fmt: skip
    refund = next(s for s in doc["surfaces"] if s["surface"] == "support.refund_reply")
    keys = ("file", "line", "owner", "risk", "prompt_version", "approval", "audit", "source")
    assert {k: refund[k] for k in keys} == {
        "file": f"{SHOWN}/support/replies.py", "line": line_of("support/replies.py", "@tc.governed_call("),
        "owner": "support-platform", "risk": "high", "prompt_version": "3", "approval": "before", "audit": "jsonl",
        "source": "static",
    }  # fmt: skip
    assert refund["gaps"] == ["full-capture-high-risk"]


def test_csv_has_one_row_per_surface_with_every_column(no_config: str) -> None:
    """--format csv: a header of every field, then one row per surface."""
    rows = list(csv.DictReader(io.StringIO(_inventory("--format", "csv", config=no_config))))
    assert len(rows) == 7
    assert {"surface", "owner", "risk", "prompt_version", "kill_flag", "fallback", "approval", "audit", "rollback",
            "gaps", "source"} <= set(rows[0])  # fmt: skip
    assert {r["surface"]: r["risk"] for r in rows}["sales.dynamic"] == "<dynamic>"


def test_markdown_lists_surfaces_unmanaged_calls_and_errors(no_config: str) -> None:
    """--format markdown: a table row per surface, an unmanaged section, a not-parsed section."""
    text = _inventory("--format", "markdown", config=no_config)
    assert text.startswith("# Control sheet")
    assert text.count("\n| `") == 7 + 9 + 1
    assert "## Unmanaged call sites" in text and "## Files not parsed" in text
    assert "**full-capture-high-risk**" in text


def test_text_is_a_printable_sheet_with_owners_controls_rollback_and_gaps(no_config: str) -> None:
    """--format text: high risk first, its minimum controls, rollback path and gaps, then unmanaged calls."""
    text = _inventory("--format", "text", config=no_config)
    assert text.startswith("CONTROL SHEET")
    high = text.index("support.refund_reply  [HIGH]  owner: support-platform")
    assert high < text.index("support.triage  [MEDIUM]") < text.index("sales.pitch  [LOW]")
    block = text[high : text.index("\n\n", high)]
    assert "needs     owner, approval gate, kill flag with fallback, pinned prompt, audit sink" in block
    assert "rollback  move label support_refund_policy@production" in block
    assert "gaps      full-capture-high-risk" in block
    assert "UNMANAGED CALL SITES" in text and f"{SHOWN}/chains.py" in text


def test_default_table_and_output_file(no_config: str, tmp_path: Path) -> None:
    """The default is a terminal table (with each row's source); -o writes the chosen format to a file instead."""
    table = _inventory(config=no_config)
    assert "support.refund_reply" in table
    header = next(line for line in table.splitlines() if "surface" in line)
    assert "source" in header and "static" in table
    out = tmp_path / "sheet.html"
    assert _inventory("--format", "html", "-o", str(out), config=no_config) == ""
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "support.refund_reply" in page


def test_html_is_self_contained(no_config: str) -> None:
    """No external script, stylesheet, font or URL: the page works offline."""
    page = _inventory("--format", "html", config=no_config)
    for needle in ("<script src", "<link", "http://", "https://", "@import", "url("):
        assert needle not in page


def test_check_exits_1_with_one_line_per_violation(no_config: str) -> None:
    """`toolchain check` prints file:line: surface: rule: fix for each violation and exits 1."""
    run = run_cli("check", *FIXTURE[:3], "--config", no_config)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 14  # 2 dynamic-control, owner, medium kill switch, full capture, 9 unmanaged
    line = line_of("support/replies.py", "@tc.governed_call(")
    want = f"{SHOWN}/support/replies.py:{line}: support.refund_reply: full-capture-high-risk: "
    assert any(line.startswith(want) for line in lines)
    assert "not parsed" in run.stderr


def test_check_json_and_exceptions(tmp_path: Path) -> None:
    """--format json gives violations with every field and the exceptions applied, with reasons."""
    config = tmp_path / "toolchain.toml"
    config.write_text(textwrap.dedent("""
        [policy]
        allow_unmanaged = ["tests/data/inventory/app/chains.py"]
        disable = ["dynamic-control"]
        [[policy.exceptions]]
        surface = "support.refund_reply"
        rule = "full-capture-high-risk"
        reason = "legal hold until 2027"
    """))  # fmt: skip
    run = run_cli("check", *FIXTURE[:3], "--config", str(config), "--format", "json")
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    assert sorted(v["rule"] for v in doc["violations"]) == [
        "medium-risk-kill-switch", "owner-required", "unmanaged-call", "unmanaged-call"]  # fmt: skip
    assert set(doc["violations"][0]) == {"file", "line", "surface", "rule", "message", "fix"}
    assert [(e["surface"], e["rule"], e["reason"]) for e in doc["exceptions"]] == [
        ("support.refund_reply", "full-capture-high-risk", "legal hold until 2027")]  # fmt: skip


def test_check_exits_0_when_clean(tmp_path: Path) -> None:
    """A code base whose surfaces have their controls passes."""
    write(
        tmp_path, {"ok.py": "import toolchain_sdk as tc\n@tc.governed_call('a.b', owner='team')\ndef f():\n    pass\n"}
    )
    run = run_cli("check", str(tmp_path), "--config", str(write(tmp_path, {"t.toml": ""}) / "t.toml"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == ""


def test_check_exits_2_on_an_unknown_rule(tmp_path: Path) -> None:
    """A rule the tool does not know is a configuration error (exit 2), naming the file, table and field."""
    config = write(tmp_path, {"toolchain.toml": '[policy]\ndisable = ["no-such-rule"]\n'}) / "toolchain.toml"
    run = run_cli("check", *FIXTURE[:3], "--config", str(config))
    assert run.returncode == 2
    assert "[policy].disable[0]: unknown rule 'no-such-rule'" in run.stderr


def test_import_reads_the_live_registry(tmp_path: Path) -> None:
    """--import MODULE lists the surfaces the module registers, with file, line and source import."""
    write(tmp_path, {"toolchain.toml": "", "live_app.py": textwrap.dedent("""
        import os
        import toolchain_sdk as tc

        def template(q):
            return "later"

        @tc.governed_call("live.answer", owner=os.environ.get("TEAM", "ops"), risk="medium", fallback=template)
        def answer(q):
            return q

        def block():
            with tc.governed("live.block", owner="ops"):
                pass

        block()
    """)})  # fmt: skip
    run = run_cli("inventory", "--import", "live_app", "--format", "json", "--config", "toolchain.toml",
                  cwd=tmp_path, env={"TEAM": "payments"})  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = {s["surface"]: s for s in json.loads(run.stdout)["surfaces"]}
    answer, block = rows["live.answer"], rows["live.block"]
    assert (answer["owner"], answer["source"], answer["file"], answer["line"]) == (
        "payments",
        "import",
        "live_app.py",
        8,
    )
    assert answer["fallback"] == "template" or answer["fallback"].endswith("template")
    assert answer["gaps"] == []
    assert (block["function"], block["line"]) == ("block", 13)


def test_import_and_paths_together_prefer_the_live_values(tmp_path: Path) -> None:
    """With PATHS and --import, a surface found both ways shows the live (resolved) values, source import."""
    write(tmp_path, {"toolchain.toml": "", "both.py": textwrap.dedent("""
        import os
        import toolchain_sdk as tc

        @tc.governed_call("both.s", owner=os.environ.get("TEAM", "ops"))
        def f():
            pass
    """)})  # fmt: skip
    static = json.loads(
        run_cli("inventory", ".", "--format", "json", "--config", "toolchain.toml", cwd=tmp_path).stdout
    )
    assert static["surfaces"][0]["owner"] == "<dynamic>"
    run = run_cli("inventory", ".", "--import", "both", "--format", "json", "--config", "toolchain.toml", cwd=tmp_path)
    doc = json.loads(run.stdout)
    assert [(s["surface"], s["owner"], s["source"]) for s in doc["surfaces"]] == [("both.s", "ops", "import")]


def test_an_import_that_fails_exits_2(tmp_path: Path) -> None:
    """--import of a module that does not exist is a usage error."""
    run = run_cli("inventory", "--import", "no_such_module_xyz", "--config", str(DATA / "README.md"), cwd=tmp_path)
    assert run.returncode == 2


def test_a_path_that_does_not_exist_is_a_usage_error(no_config: str) -> None:
    """A mistyped path exits 2 (a gate that scanned nothing must not pass)."""
    run = run_cli("check", "no/such/dir", "--config", no_config)
    assert run.returncode == 2 and "no/such/dir" in run.stderr


def test_import_asks_the_process_for_its_audit_sink(tmp_path: Path) -> None:
    """TOOLCHAIN_AUDIT is invisible to the scan (audit none) but the live registry's process has it (jsonl)."""
    module = "import toolchain_sdk as tc\n@tc.governed_call('a.s', owner='o', fallback=print)\ndef f():\n    pass\n"
    write(tmp_path, {"toolchain.toml": "", "aud_mod.py": module})
    env = {"TOOLCHAIN_AUDIT": str(tmp_path / "audit.jsonl")}
    static = run_cli("inventory", ".", "--format", "json", "--config", "toolchain.toml", cwd=tmp_path, env=env)
    live = run_cli("inventory", "--import", "aud_mod", "--format", "json", "--config", "toolchain.toml",
                   cwd=tmp_path, env=env)  # fmt: skip
    assert live.returncode == 0, live.stderr
    (s,), (i,) = json.loads(static.stdout)["surfaces"], json.loads(live.stdout)["surfaces"]
    assert (s["audit"], s["source"], s["fallback"]) == ("none", "static", "builtins.print")
    assert (i["audit"], i["source"], i["fallback"]) == ("jsonl", "import", "builtins.print")


@pytest.mark.parametrize("command", ["inventory", "check"])
def test_an_import_whose_code_raises_exits_2_naming_the_error(tmp_path: Path, command: str) -> None:
    """A module whose top-level code raises is a failed --import (exit 2, one line), never a traceback or exit 1."""
    write(tmp_path, {"toolchain.toml": "", "raising_mod.py": "raise RuntimeError('needs DATABASE_URL')\n"})
    run = run_cli(command, "--import", "raising_mod", "--config", "toolchain.toml", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "importing raising_mod raised RuntimeError: needs DATABASE_URL" in run.stderr
    assert "Traceback" not in run.stderr


def test_check_text_lines_carry_the_json_fields_and_go_to_output(tmp_path: Path) -> None:
    """Each text line is file:line: surface: rule: message; fix, the same violations --format json gives; -o works."""
    config = write(tmp_path, {"toolchain.toml": ""}) / "toolchain.toml"
    out = tmp_path / "violations.txt"
    text = run_cli("check", *FIXTURE[:3], "--config", str(config), "-o", str(out))
    assert text.returncode == 1 and text.stdout == ""
    doc = json.loads(run_cli("check", *FIXTURE[:3], "--config", str(config), "--format", "json").stdout)
    want = [f"{v['file']}:{v['line']}: {v['surface']}: {v['rule']}: {v['message']}; {v['fix']}"
            for v in doc["violations"]]  # fmt: skip
    assert out.read_text().splitlines() == want
    assert all(v["fix"] and v["message"] for v in doc["violations"])


def test_check_warns_about_an_exception_that_waives_nothing(tmp_path: Path) -> None:
    """A stale [[policy.exceptions]] entry is named on stderr; it does not change the exit status."""
    write(tmp_path, {
        "ok.py": "import toolchain_sdk as tc\n@tc.governed_call('a.b', owner='team')\ndef f():\n    pass\n",
        "toolchain.toml": '[[policy.exceptions]]\nsurface = "gone.*"\nrule = "owner-required"\nreason = "old"\n',
    })  # fmt: skip
    run = run_cli("check", "ok.py", "--config", "toolchain.toml", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "exception for surface 'gone.*', rule owner-required waived no violation" in run.stderr


def test_inventory_lists_a_broken_file_and_exits_0(tmp_path: Path) -> None:
    """A file that does not parse is under errors with its line, the other files are still scanned, exit 0."""
    write(tmp_path, {
        "toolchain.toml": "",
        "good.py": "import toolchain_sdk as tc\n@tc.governed_call('g.s', owner='o')\ndef f():\n    pass\n",
        "bad.py": "def broken(:\n    pass\n",
    })  # fmt: skip
    run = run_cli("inventory", ".", "--format", "json", "--config", "toolchain.toml", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert [(e["file"], e["line"]) for e in doc["errors"]] == [("bad.py", 1)]
    assert [s["surface"] for s in doc["surfaces"]] == ["g.s"]
