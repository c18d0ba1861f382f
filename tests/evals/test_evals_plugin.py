"""The pytest plugin, run with pytester: eval files become modules, each case with each prompt version becomes tests."""

from __future__ import annotations

from importlib import metadata

import pytest

from tests.evals._project import Project

pytest_plugins = ["pytester"]

REGISTERED = any(ep.value == "toolchain_sdk.evals._plugin" for ep in metadata.entry_points(group="pytest11"))
PLUGIN_ARGS = () if REGISTERED else ("-p", "toolchain_sdk.evals._plugin")  # a source tree not installed yet


def _project(pytester: pytest.Pytester) -> Project:
    """A project with two eval files and two YAML files that are not eval files."""
    project = Project(pytester.path)
    project.eval_file("reply", """\
        prompts: [greet@1, greet@2]
        cases:
          - id: polite
            input: {ticket: {id: T-1, body: "order 77"}}
            assert:
              - contains: Please
              - regex: "order [0-9]+"
        """)  # fmt: skip
    project.eval_file("refund", "cases:\n  - id: small\n    input: {amount: 5}\n    assert: [{equals: refunded 5}]\n",
                      function="refund")  # fmt: skip
    (pytester.path / "evals" / "workflow.yaml").write_text("on: push\njobs: {test: {runs-on: x}}\n")
    (pytester.path / "evals" / "data.yaml").write_text("target: only-a-target\n")  # no cases: not an eval file
    return project


def test_the_plugin_is_registered_through_pytest11() -> None:
    """The installed distribution names the plugin under the pytest11 entry point group."""
    assert REGISTERED, "pip install -e '.[test]' registers [project.entry-points.pytest11]"


def test_each_case_and_prompt_version_is_one_test_and_other_yaml_is_not_collected(pytester: pytest.Pytester) -> None:
    """`pytest evals/` collects eval files by content only: reply.yaml with 2 versions and refund.yaml's case."""
    _project(pytester)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS, "evals", "--collect-only", "-q")
    ids = sorted(line for line in result.outlines if "::" in line)
    assert ids == [
        "evals/refund.yaml::small",
        "evals/reply.yaml::polite[greet@1]",
        "evals/reply.yaml::polite[greet@2]",
    ]


def test_failures_show_the_assertions_reasons_and_gated_cases_skip(pytester: pytest.Pytester) -> None:
    """greet@1 fails with its reason as the failure text; greet@2 passes; the approval-gated case is skipped."""
    _project(pytester)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS, "evals", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    out = result.stdout.str()
    assert "eval case polite[greet@1] failed:\n- output does not contain 'Please' (output: 'Hello! order 77" in out
    assert "SKIPPED [1] " in out and "needs approval" in out and "--eval-approve-as NAME" in out
    assert "Traceback" not in result.stdout.str()


def test_eval_approve_as_runs_the_gated_case(pytester: pytest.Pytester) -> None:
    """--eval-approve-as NAME approves the gated surface's requests, so its case runs and passes."""
    _project(pytester)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS, "evals/refund.yaml", "--eval-approve-as", "ci-evals")
    result.assert_outcomes(passed=1)


def test_a_broken_eval_file_is_a_collection_error_naming_the_field(pytester: pytest.Pytester) -> None:
    """An eval file that does not validate fails collection with the file, case and field in the message."""
    project = Project(pytester.path)
    project.eval_file("bad", "cases:\n  - id: a\n    assert: [{max_chars: many}]\n")
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS, "evals")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert (
        "evals/bad.yaml: case 'a' (cases[0]), field assert[0].max_chars: max_chars: give a whole" in result.stdout.str()
    )
    assert "Traceback" not in result.stdout.str()


def test_an_eval_file_with_a_yaml_error_is_a_collection_error(pytester: pytest.Pytester) -> None:
    """Broken YAML with top-level target and cases is reported, never silently left out of the run."""
    project = Project(pytester.path)
    (pytester.path / "evals" / "broken.yaml").write_text(
        f"target: {project.target('reply')}\ncases:\n  - id: a\n    input: {{x: 1\n    assert: [{{contains: x}}]\n"
    )
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS, "evals")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "evals/broken.yaml: not valid YAML" in result.stdout.str()


def test_a_file_that_cannot_run_fails_each_case_with_the_configuration_error(pytester: pytest.Pytester) -> None:
    """An unknown target fails every case of its file with the configuration error as the text, no traceback."""
    project = Project(pytester.path)
    (pytester.path / "evals" / "gone.yaml").write_text(
        "target: no_such_module_for_plugin:f\ncases:\n"
        "  - id: a\n    assert: [{contains: x}]\n  - id: b\n    assert: [{contains: x}]\n"
    )
    project.eval_file("ok", "cases:\n  - id: fine\n    input: {amount: 5}\n    assert: [{equals: refunded 5}]\n",
                      function="refund")  # fmt: skip
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS, "evals", "--eval-approve-as", "ci-evals")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    reported = [line for line in out.splitlines() if line.startswith("eval file cannot run (configuration error)")]
    assert len(reported) == 2 and all("evals/gone.yaml: unknown target module" in line for line in reported)
    assert "FAILED evals/gone.yaml::a - eval file cannot run (configuration error)" in out
    assert "Traceback" not in out and "_runner.py" not in out
