"""`toolchain eval` in a real subprocess: the table, the JSON results, baselines and the exit status 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

from tests._subproc import run_cli
from tests.evals._project import Project, project_fixture  # noqa: F401 - the `project` fixture

PASSING = """\
cases:
  - id: hello
    input: {ticket: {id: T-1, body: "order 77"}}
    assert:
      - contains: Hello
      - regex: "order [0-9]+"
"""


def _eval(project: Project, *args: str) -> tuple[int, str, str]:
    """Run ``toolchain eval ARGS`` in the project: exit status, stdout, stderr."""
    proc = run_cli("eval", *args, cwd=project.root)
    return proc.returncode, proc.stdout, proc.stderr


def test_a_passing_run_exits_0_prints_the_table_and_writes_the_default_json(project: Project) -> None:
    """Every case passes: exit 0, one table row per case, results in .toolchain/evals/last-run.json."""
    project.eval_file("reply", PASSING)
    code, out, err = _eval(project)  # default: the evals/ directory
    assert code == 0, out + err
    assert "evals/reply.yaml" in out and "hello" in out and "greet@1" in out and "pass" in out
    assert "evals/reply.yaml: 1 passed, 0 failed, 0 skipped; pass rate 100%, threshold 100%: ok" in out
    results = json.loads((project.root / ".toolchain/evals/last-run.json").read_text())
    assert results["schema"] == "toolchain.eval.results/1"
    assert results["exit_status"] == 0
    [case] = results["cases"]
    assert {k: case[k] for k in ("file", "case", "key", "prompt", "status", "score")} == {
        "file": "evals/reply.yaml", "case": "hello", "key": "hello", "prompt": "greet@1",
        "status": "pass", "score": 1.0,
    }  # fmt: skip
    assert [a["kind"] for a in case["assertions"]] == ["contains", "regex"]
    [file] = results["files"]
    assert (file["pass_rate"], file["meets_threshold"], file["surface"]) == (1.0, True, project.surface("reply"))


def test_a_failing_case_exits_1_with_its_reason(project: Project) -> None:
    """A case that fails its assertion fails the file (threshold 1.0): exit 1, the reason in the table."""
    project.eval_file("reply", PASSING.replace("contains: Hello", 'contains: "[bold]Goodbye"'))
    out_json = project.root / "out" / "r.json"
    code, out, err = _eval(project, "evals/reply.yaml", "--json-out", str(out_json))
    assert code == 1, out + err
    assert "does not contain '[bold]Goodbye'" in out and "BELOW THRESHOLD" in out  # shown as written, not as markup
    assert json.loads(out_json.read_text())["cases"][0]["status"] == "fail"
    assert not (project.root / ".toolchain/evals/last-run.json").exists()


def test_configuration_errors_exit_2(project: Project) -> None:
    """A bad file, an unknown target and a missing path exit 2 with the problem named."""
    bad = project.root / "evals" / "bad.yaml"
    bad.write_text("target: m:f\ncases:\n  - id: a\n    assert: [{regex: '('}]\n")
    code, _, err = _eval(project, "evals/bad.yaml")
    assert code == 2 and "evals/bad.yaml: case 'a' (cases[0]), field assert[0].regex" in err
    bad.write_text("target: nowhere_module:f\ncases:\n  - id: a\n    assert: [{contains: x}]\n")
    code, _, err = _eval(project, "evals/bad.yaml")
    assert code == 2 and "unknown target module 'nowhere_module'" in err
    code, _, err = _eval(project, "no/such/dir")
    assert code == 2 and "no/such/dir: no such file or directory" in err
    code, _, err = _eval(project, "evals/bad.yaml", "--update-baseline")
    assert code == 2 and "--update-baseline needs --baseline PATH" in err
    code, _, err = _eval(project, "evals/bad.yaml", "--approve-as", " ")
    assert code == 2 and "--approve-as needs the approver's name" in err


def test_baseline_update_then_regression_fails_naming_the_case(project: Project) -> None:
    """--update-baseline writes sorted, stable JSON; a case that passed there and fails now exits 1, named."""
    body = PASSING.replace("cases:\n", "threshold: 0.5\ncases:\n") + (
        "  - id: second\n    input: {ticket: {id: T-2, body: x}}\n    assert: [{contains: Hello}]\n"
    )
    path = project.eval_file("reply", body)
    baseline = project.root / "evals" / "baseline.json"
    code, out, err = _eval(project, "evals/reply.yaml", "--baseline", str(baseline), "--update-baseline")
    assert code == 0, out + err
    first = baseline.read_text()
    assert json.loads(first) == {
        "files": {"evals/reply.yaml": {"cases": {"hello": "pass", "second": "pass"}, "pass_rate": 1.0}},
        "schema": "toolchain.eval.baseline/1",
    }
    assert first == json.dumps(json.loads(first), indent=2, sort_keys=True) + "\n"
    code, out, err = _eval(project, "evals/reply.yaml", "--baseline", str(baseline), "--update-baseline")
    assert code == 0 and baseline.read_text() == first  # stable across runs: diffs only when results change

    path.write_text(path.read_text().replace("contains: Hello}]", "contains: Nope}]"))
    code, out, err = _eval(project, "evals/reply.yaml", "--baseline", str(baseline))
    assert code == 1, out + err  # the threshold (0.5) is still met: the regression alone fails the run
    assert "REGRESSION: evals/reply.yaml second: passed in the baseline, fails now" in out
    assert "REGRESSION: evals/reply.yaml pass rate: 100% in the baseline, 50% now" in out
    results = json.loads((project.root / ".toolchain/evals/last-run.json").read_text())
    assert {r["case"] for r in results["regressions"]} == {"second", None}

    code, out, err = _eval(project, "evals/reply.yaml", "--baseline", str(baseline), "--update-baseline")
    assert code == 0 and "accepted (baseline updated)" in out
    assert json.loads(baseline.read_text())["files"]["evals/reply.yaml"]["cases"]["second"] == "fail"


def test_a_missing_baseline_without_update_is_a_config_error(project: Project) -> None:
    """--baseline naming no file (and no --update-baseline) exits 2 saying how to write one."""
    project.eval_file("reply", PASSING)
    code, _, err = _eval(project, "--baseline", "evals/none.json")
    assert code == 2 and "no baseline yet; write it with --baseline evals/none.json --update-baseline" in err


def test_approval_gated_target_skips_without_approve_as_and_passes_with_it(project: Project) -> None:
    """Without --approve-as the gated case is listed as skipped and exits 0; with it the case runs and passes."""
    project.eval_file("refund", "cases:\n  - id: small\n    input: {amount: 5}\n    assert: [{equals: refunded 5}]\n",
                      function="refund")  # fmt: skip
    code, out, err = _eval(project)
    assert code == 0, out + err
    assert "skipped: evals/refund.yaml small:" in out and "--approve-as NAME" in out
    assert "pass rate n/a (all skipped)" in out
    code, out, err = _eval(project, "--approve-as", "ci-evals")
    assert code == 0, out + err
    assert "1 passed, 0 failed, 0 skipped" in out


def test_jobs_and_toml_twins_and_directories(project: Project) -> None:
    """A directory is searched for eval files by content (YAML and TOML); --jobs 3 runs them all."""
    project.eval_file("reply", PASSING)
    (project.root / "evals" / "status.toml").write_text(
        f'target = "{project.target("status")}"\n[[cases]]\nid = "odd"\ninput = {{ order = 3 }}\n'
        'assert = [{ equals = "shipped", path = "status" }]\n'
    )
    (project.root / "evals" / "workflow.yaml").write_text("on: push\njobs: {}\n")  # not an eval file: ignored
    code, out, err = _eval(project, "evals", "--jobs", "3")
    assert code == 0, out + err
    results = json.loads(Path(project.root / ".toolchain/evals/last-run.json").read_text())
    assert [f["file"] for f in results["files"]] == ["evals/reply.yaml", "evals/status.toml"]


def test_a_killed_surface_is_evaluated_on_its_fallbacks_answer(project: Project) -> None:
    """The kill switch applies in an eval run: with TOOLCHAIN_KILL naming the surface, its fallback is judged."""
    project.eval_file("killable", "cases:\n  - id: k\n    input: {text: hi}\n    assert: [{equals: fallback}]\n",
                      function="killable")  # fmt: skip
    code, out, err = _eval(project, "evals/killable.yaml")
    assert code == 1 and "expected 'fallback', got 'the model says hi'" in out, out + err
    proc = run_cli("eval", "evals/killable.yaml", cwd=project.root, env={"TOOLCHAIN_KILL": project.surface("killable")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 0 failed, 0 skipped" in proc.stdout


def test_an_input_the_function_cannot_take_exits_2_naming_it(project: Project) -> None:
    """A case whose input names no parameter of the target is a bad file (exit 2), not a failing case."""
    project.eval_file("typo", "cases:\n  - id: t\n    input: {tikcet: {id: T, body: x}}\n    assert: [{contains: x}]\n")
    code, out, err = _eval(project, "evals/typo.yaml")
    assert code == 2, out + err
    assert f"evals/typo.yaml: case 't': input.tikcet: no such parameter ({project.target('reply')} takes ticket)" in err
    assert not (project.root / ".toolchain/evals/last-run.json").exists()


def test_an_eval_file_with_a_yaml_error_in_a_directory_exits_2(project: Project) -> None:
    """A syntax error in one eval file of a directory stops the run (exit 2) instead of silently dropping its cases."""
    project.eval_file("reply", PASSING)
    (project.root / "evals" / "broken.yaml").write_text(
        f"target: {project.target('reply')}\ncases:\n  - id: a\n    input: {{ticket: x\n    assert: [{{contains: x}}]\n"
    )
    code, out, err = _eval(project, "evals")
    assert code == 2, out + err
    assert "evals/broken.yaml: not valid YAML" in err
