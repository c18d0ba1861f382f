"""Every policy rule, one by one, with `[policy]` disable, allow_unmanaged and reasoned exceptions."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.inventory._fixture import write
from toolchain_sdk.errors import ConfigError
from toolchain_sdk.inventory import RULES, control_sheet

HEAD = "import toolchain_sdk as tc\n\ndef fb(*a):\n    return 'fallback'\n\n"
GOOD_HIGH = (
    "@tc.governed_call('x.high', owner='o', risk='high', approval=tc.approval.require(when='after'), "
    "fallback=fb, prompt='p@1')\ndef f():\n    pass\n"
)
AUDIT = "tc.configure(audit=tc.audit.sqlite('audit.db'))\n"


def _project(tmp_path: Path, code: str, toml: str = "", prompt: bool = True) -> Path:
    files = {"app/m.py": HEAD + code, "toolchain.toml": toml}
    if prompt:
        files["prompts/p@1.md"] = "Hello {{ name }}\n"
    return write(tmp_path, files)


def _check(root: Path) -> list[tuple[str, str]]:
    sheet = control_sheet([root / "app"], config=root / "toolchain.toml", prompts_dir=root / "prompts", workers=1)
    return [(v.surface, v.rule) for v in sheet.violations]


def test_a_fully_controlled_high_risk_surface_passes(tmp_path: Path) -> None:
    """Owner, approval, kill flag with fallback, pinned prompt and an audit sink: no violation."""
    assert _check(_project(tmp_path, GOOD_HIGH + AUDIT)) == []


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("@tc.governed_call('x.s')\ndef f():\n    pass\n", "owner-required"),
        (GOOD_HIGH.replace("approval=tc.approval.require(when='after')", "approval=None") + AUDIT,
         "high-risk-approval"),
        (GOOD_HIGH.replace("approval=tc.approval.require(when='after')",
                           "approval=tc.approval.not_required(reason='r')") + AUDIT, "high-risk-approval"),
        (GOOD_HIGH.replace("fallback=fb, ", "kill_flag='x.off', ") + AUDIT, "high-risk-kill-switch"),
        (GOOD_HIGH.replace("prompt='p@1'", "prompt='p@production'") + AUDIT, "high-risk-pinned-prompt"),
        (GOOD_HIGH.replace(", prompt='p@1'", "") + AUDIT, "high-risk-pinned-prompt"),
        (GOOD_HIGH, "high-risk-audit"),
        ("@tc.governed_call('x.m', owner='o', risk='medium')\ndef f():\n    pass\n", "medium-risk-kill-switch"),
        (GOOD_HIGH.replace("prompt='p@1'", "prompt='p@1', capture='full'") + AUDIT, "full-capture-high-risk"),
        ("import os\n@tc.governed_call('x.d', owner=os.environ['O'])\ndef f():\n    pass\n", "dynamic-control"),
        ("import openai\nc = openai.OpenAI()\ndef g():\n    return c.responses.create()\n", "unmanaged-call"),
    ],
)  # fmt: skip
def test_each_rule_reports_its_missing_control(tmp_path: Path, code: str, rule: str) -> None:
    """A declaration lacking exactly one control gives exactly that rule's violation."""
    found = _check(_project(tmp_path, code))
    assert [r for _, r in found] == [rule]


def test_each_missing_control_is_its_own_violation(tmp_path: Path) -> None:
    """A bare high-risk surface breaks four rules at once, one line each."""
    code = "@tc.governed_call('x.bare', owner='o', risk='high')\ndef f():\n    pass\n"
    assert sorted(r for _, r in _check(_project(tmp_path, code))) == [
        "high-risk-approval", "high-risk-audit", "high-risk-kill-switch", "high-risk-pinned-prompt"]  # fmt: skip


def test_a_label_is_pinned_when_the_lock_file_exists(tmp_path: Path) -> None:
    """prompt='p@production' passes once prompts.lock records the label (its moves are reviewed)."""
    root = _project(tmp_path, GOOD_HIGH.replace("prompt='p@1'", "prompt='p@production'") + AUDIT)
    import hashlib

    sha = hashlib.sha256((root / "prompts/p@1.md").read_bytes()).hexdigest()
    (root / "prompts/prompts.lock").write_text(
        '{"format": 1, "labels": {"p": {"production": "1"}}, "prompts": {"p": {"1": {"by": "t", "file": "p@1.md", '
        f'"locked_at": "2026-11-30T00:00:00Z", "reason": "r", "sha256": "{sha}"}}}}}}}}\n'
    )
    assert _check(root) == []


def test_audit_sink_from_toolchain_toml_counts(tmp_path: Path) -> None:
    """[audit] sink in toolchain.toml satisfies high-risk-audit when the code configures none."""
    assert _check(_project(tmp_path, GOOD_HIGH, '[audit]\nsink = "sqlite:///audit.db"\n')) == []


def test_disable_switches_a_rule_off(tmp_path: Path) -> None:
    """[policy] disable = ["owner-required"] drops that rule and only that rule."""
    code = "@tc.governed_call('x.s', risk='medium')\ndef f():\n    pass\n"
    root = _project(tmp_path, code, '[policy]\ndisable = ["owner-required"]\n')
    assert _check(root) == [("x.s", "medium-risk-kill-switch")]


def test_allow_unmanaged_by_path_glob(tmp_path: Path) -> None:
    """An unmanaged call in a file matching allow_unmanaged is not a violation; elsewhere it is."""
    code = "import litellm\ndef g():\n    return litellm.completion()\n"
    write(tmp_path, {"app/scripts/one_off.py": code})
    root = _project(tmp_path, code, '[policy]\nallow_unmanaged = ["*/scripts/*"]\n')
    sheet = control_sheet([root / "app"], config=root / "toolchain.toml", workers=1)
    assert [v.file.rsplit("/", 2)[-2:] for v in sheet.violations] == [["app", "m.py"]]
    assert len(sheet.unmanaged) == 2  # still on the sheet


def test_exceptions_waive_a_rule_for_a_surface_and_are_listed(tmp_path: Path) -> None:
    """A [[policy.exceptions]] entry moves the violation to the exceptions, with its reason."""
    code = GOOD_HIGH.replace("prompt='p@1'", "prompt='p@1', capture='full'") + AUDIT
    toml = '[[policy.exceptions]]\nsurface = "x.high"\nrule = "full-capture-high-risk"\nreason = "legal hold"\n'
    root = _project(tmp_path, code, toml)
    sheet = control_sheet([root / "app"], config=root / "toolchain.toml", prompts_dir=root / "prompts", workers=1)
    assert sheet.violations == []
    assert [(e.violation.rule, e.exception.reason) for e in sheet.exceptions] == [
        ("full-capture-high-risk", "legal hold")
    ]
    assert sheet.surfaces[0].gaps == ()


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[policy]\ndisable = ["owner-requird"]\n', "[policy].disable[0]: unknown rule 'owner-requird'"),
        ('[[policy.exceptions]]\nsurface = "x"\nrule = "nope"\nreason = "r"\n', "[policy].exceptions[0].rule"),
        ('[[policy.exceptions]]\nsurface = "x"\nrule = "owner-required"\n', "[policy].exceptions[0].reason"),
        ('[policy]\nallow_unmanaged = "tests/*"\n', "[policy].allow_unmanaged"),
        ('[policy]\nblock = true\n', "[policy].block"),
    ],
)  # fmt: skip
def test_a_bad_policy_table_is_a_config_error_naming_file_table_and_field(
    tmp_path: Path, toml: str, expected: str
) -> None:
    """Unknown rule names, exceptions without a reason and unknown keys are ConfigErrors, never ignored."""
    root = _project(tmp_path, "", toml)
    with pytest.raises(ConfigError) as err:
        control_sheet([root / "app"], config=root / "toolchain.toml", workers=1)
    assert "toolchain.toml" in str(err.value) and expected in str(err.value)


def test_the_rule_names_are_the_documented_ones() -> None:
    """The gate knows exactly the rules the issue and docs/policy.md name."""
    assert sorted(RULES) == sorted([
        "owner-required", "high-risk-approval", "high-risk-kill-switch", "high-risk-pinned-prompt",
        "high-risk-audit", "medium-risk-kill-switch", "full-capture-high-risk", "unmanaged-call", "dynamic-control",
    ])  # fmt: skip


def test_a_scan_leaves_the_configuration_in_force_alone(tmp_path: Path) -> None:
    """Reading toolchain.toml for the sheet does not make it the process's configuration (only --import does)."""
    from toolchain_sdk.routing import loaded_config

    before = loaded_config()
    root = _project(tmp_path, GOOD_HIGH + AUDIT, '[policy]\ndisable = ["owner-required"]\n')
    control_sheet([root / "app"], config=root / "toolchain.toml", workers=1)
    assert loaded_config() is before


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    risk=st.sampled_from(["low", "medium", "high", None]),
    owner=st.booleans(),
    approval=st.sampled_from(["before", "after", "not_required", None]),
    fallback=st.booleans(),
    prompt=st.sampled_from(["p@1", "p@production", None]),
    audit=st.booleans(),
    capture=st.sampled_from(["hash", "redacted", "full", "none"]),
)
def test_the_violations_are_exactly_the_missing_controls(
    tmp_path: Path,
    risk: str | None,
    owner: bool,
    approval: str | None,
    fallback: bool,
    prompt: str | None,
    audit: bool,
    capture: str,
) -> None:
    """For any mix of declared controls, each missing one is one violation of its rule, and nothing else."""
    args = ["'x.any'"]
    args += [f"risk={risk!r}"] if risk else []
    args += ["owner='o'"] if owner else []
    if approval == "not_required":
        args.append("approval=tc.approval.not_required(reason='r')")
    elif approval:
        args.append(f"approval=tc.approval.require(when={approval!r})")
    args += ["fallback=fb"] if fallback else []
    args += [f"prompt={prompt!r}"] if prompt else []
    args.append(f"capture={capture!r}")
    code = f"@tc.governed_call({', '.join(args)})\ndef f():\n    pass\n" + (AUDIT if audit else "")
    expected = [] if owner else ["owner-required"]
    if risk == "high":
        expected += [] if approval in ("before", "after") else ["high-risk-approval"]
        expected += [] if fallback else ["high-risk-kill-switch"]
        expected += [] if prompt == "p@1" else ["high-risk-pinned-prompt"]  # no prompts.lock: a label moves freely
        expected += [] if audit else ["high-risk-audit"]
        expected += ["full-capture-high-risk"] if capture == "full" else []
    elif risk == "medium":
        expected += [] if fallback else ["medium-risk-kill-switch"]
    assert sorted(rule for _, rule in _check(_project(tmp_path, code))) == sorted(expected)


@pytest.mark.parametrize("pattern", ["app/scripts/*", "scripts/*", "*/scripts/one_off.py"])
def test_allow_unmanaged_globs_are_relative_to_the_project_or_the_scanned_directory(
    tmp_path: Path, pattern: str
) -> None:
    """Scanned by absolute path, a glob matches the file relative to toolchain.toml's directory or the scan root."""
    code = "import litellm\ndef g():\n    return litellm.completion()\n"
    write(tmp_path, {"app/scripts/one_off.py": code})
    root = _project(tmp_path, code, f'[policy]\nallow_unmanaged = ["{pattern}"]\n')
    sheet = control_sheet([root / "app"], config=root / "toolchain.toml", workers=1)
    assert [v.file.rsplit("/", 1)[-1] for v in sheet.violations] == ["m.py"]
