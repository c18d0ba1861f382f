"""Eval files: YAML and TOML read alike, validated, with errors naming the file, the case and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.evals import EvalFile, is_eval_file, load_eval_file

YAML = """\
target: support_bot.replies:draft_refund_reply
prompts: [support_refund_policy@3, support_refund_policy@4]
threshold: 0.9
cases:
  - id: broken-item
    input: {ticket: "order 77 arrived broken"}
    assert:
      - contains: refund
      - not_contains: guarantee
      - regex: "Reference [0-9a-f]{8}"
      - max_chars: 400
      - no_pii: true
  - id: json-shape
    input: {ticket: "where is order 12?"}
    assert:
      - json_schema: {type: object, required: [status]}
      - one_of: ["shipped", "pending"]
        path: status
        weight: 2
      - python: support_bot.checks:is_polite
"""

TOML = """\
target = "support_bot.replies:draft_refund_reply"
prompts = ["support_refund_policy@3", "support_refund_policy@4"]
threshold = 0.9

[[cases]]
id = "broken-item"
input = { ticket = "order 77 arrived broken" }
assert = [
  { contains = "refund" },
  { not_contains = "guarantee" },
  { regex = "Reference [0-9a-f]{8}" },
  { max_chars = 400 },
  { no_pii = true },
]

[[cases]]
id = "json-shape"
input = { ticket = "where is order 12?" }
assert = [
  { json_schema = { type = "object", required = ["status"] } },
  { one_of = ["shipped", "pending"], path = "status", weight = 2 },
  { python = "support_bot.checks:is_polite" },
]
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``tmp_path/name``."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_issue_example_loads_and_its_toml_twin_is_the_same(tmp_path: Path) -> None:
    """The YAML of the issue and its TOML twin give the same eval file: each case per version, every assertion."""
    from_yaml = load_eval_file(_write(tmp_path, "refund.yaml", YAML))
    from_toml = load_eval_file(_write(tmp_path, "refund.toml", TOML))
    assert from_yaml.model_dump(exclude={"path"}) == from_toml.model_dump(exclude={"path"})
    assert [(c.id, p) for c, p in from_yaml.runs()] == [
        ("broken-item", "support_refund_policy@3"),
        ("broken-item", "support_refund_policy@4"),
        ("json-shape", "support_refund_policy@3"),
        ("json-shape", "support_refund_policy@4"),
    ]
    kinds = [a.kind for c in from_yaml.cases for a in c.assertions]
    assert kinds == ["contains", "not_contains", "regex", "max_chars", "no_pii", "json_schema", "one_of", "python"]
    one_of = from_yaml.cases[1].assertions[1]
    assert (one_of.path, one_of.weight, one_of.value) == ("status", 2.0, ["shipped", "pending"])
    assert from_yaml.threshold == 0.9 and from_yaml.eval_name == "refund"


@pytest.mark.parametrize(
    ("case_yaml", "expected"),
    [
        (
            "  - id: a\n    assert: [{regex: '('}]\n",
            "case 'a' (cases[0]), field assert[0].regex: regex: '(' is not a valid",
        ),
        (
            "  - id: b\n    assert: [{contain: x}]\n",
            "case 'b' (cases[0]), field assert[0]: an assertion names exactly one",
        ),
        (
            "  - id: c\n    assert: [{max_chars: -1}]\n",
            "case 'c' (cases[0]), field assert[0].max_chars: max_chars: give",
        ),
        ("  - id: d\n    assert: []\n", "case 'd' (cases[0]), field assert: Tuple should have at least 1 item"),
        ("  - id: e\n    assert: [{no_pii: false}]\n", "field assert[0].no_pii: no_pii: write `no_pii: true`"),
        ("  - id: f\n    assert: [{python: not-a-ref}]\n", "field assert[0].python: python: name a callable"),
        ("  - id: g\n    inputs: {}\n    assert: [{contains: x}]\n", "case 'g' (cases[0]), field inputs: Extra inputs"),
        ("  - assert: [{contains: x}]\n", "cases[0], field id: Field required"),
        ("  - id: h\n    assert: [{contains: 3}]\n", "case 'h' (cases[0]), field assert[0].contains: contains: give"),
    ],
)
def test_a_bad_case_names_file_case_and_field(tmp_path: Path, case_yaml: str, expected: str) -> None:
    """Each problem is reported as `<file>: case '<id>' (cases[i]), field <where>: <what to change>`."""
    path = _write(tmp_path, "bad.yaml", "target: m:f\ncases:\n" + case_yaml)
    with pytest.raises(ConfigError) as err:
        load_eval_file(path)
    assert str(err.value).startswith(f"{path}: ")
    assert expected in str(err.value)


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        ("target: not a target\n", "field target: Value error, target 'not a target' must be 'module:function'"),
        ("target: m:f\nthreshold: 1.5\n", "field threshold: Input should be less than or equal to 1"),
        ("target: m:f\nprompts: [greet]\n", "field prompts: Value error, prompts: 'greet' is not 'name@version'"),
        ("target: m:f\ncolour: red\n", "field colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_top_level_field_is_named(tmp_path: Path, top: str, expected: str) -> None:
    """File-level problems name the field."""
    path = _write(tmp_path, "bad.yaml", top + "cases:\n  - id: a\n    assert: [{contains: x}]\n")
    with pytest.raises(ConfigError) as err:
        load_eval_file(path)
    assert expected.replace("Value error, ", "") in str(err.value)


def test_duplicate_case_ids_are_refused(tmp_path: Path) -> None:
    """Two cases with one id would share a baseline entry: refused."""
    body = "target: m:f\ncases:\n  - id: a\n    assert: [{contains: x}]\n  - id: a\n    assert: [{contains: y}]\n"
    with pytest.raises(ConfigError, match="case id 'a' is used twice"):
        load_eval_file(_write(tmp_path, "dup.yaml", body))


def test_not_yaml_and_not_an_eval_file_are_config_errors(tmp_path: Path) -> None:
    """Unparsable YAML, and YAML without target/cases, are refused with the file named."""
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_eval_file(_write(tmp_path, "broken.yaml", "target: [unclosed\n"))
    with pytest.raises(ConfigError, match="not an eval file: it needs top-level `target:` and `cases:`"):
        load_eval_file(_write(tmp_path, "other.yaml", "name: ci\non: push\n"))


def test_an_eval_file_is_known_by_its_content(tmp_path: Path) -> None:
    """Only YAML/TOML with top-level target and cases is an eval file; other YAML, lists, bad YAML are not."""
    assert is_eval_file(_write(tmp_path, "a.yaml", YAML))
    assert is_eval_file(_write(tmp_path, "a.toml", TOML))
    assert is_eval_file(_write(tmp_path, "x.yml", "target: m:f\ncases: []\n"))  # by content; validation comes later
    assert not is_eval_file(_write(tmp_path, "workflow.yaml", "on: push\njobs: {}\n"))
    assert not is_eval_file(_write(tmp_path, "list.yaml", "- target\n- cases\n"))
    assert not is_eval_file(_write(tmp_path, "bad.yaml", "target: [\n"))  # unparseable, and no top-level cases
    assert not is_eval_file(_write(tmp_path, "cases.txt", YAML))
    assert not is_eval_file(_write(tmp_path, "pyproject.toml", "[project]\nname = 'x'\n"))


def test_runs_without_prompts_are_one_per_case() -> None:
    """Without `prompts:`, each case runs once with the surface's own prompt."""
    file = EvalFile.model_validate({"target": "m:f", "cases": [{"id": "a", "assert": [{"contains": "x"}]}]})
    assert [(c.id, p) for c, p in file.runs()] == [("a", None)]


def test_an_eval_file_with_a_syntax_error_is_still_an_eval_file(tmp_path: Path) -> None:
    """Broken YAML/TOML with top-level target and cases is reported when loaded, so its evals never silently vanish."""
    broken = _write(tmp_path, "refund.yaml", "target: m:f\ncases:\n  - id: a\n    input: {x: 1\n    assert: []\n")
    assert is_eval_file(broken)
    with pytest.raises(ConfigError, match=r"refund.yaml: not valid YAML"):
        load_eval_file(broken)
    broken_toml = _write(tmp_path, "refund.toml", 'target = "m:f"\n[[cases]]\nid = "a\n')
    assert is_eval_file(broken_toml)
    with pytest.raises(ConfigError, match=r"refund.toml: not valid TOML"):
        load_eval_file(broken_toml)
    helm = _write(tmp_path, "deployment.yaml", "kind: Deployment\nspec: {{ .Values.spec }}\n  target: x\n")
    assert not is_eval_file(helm)  # unparseable, but not an eval file: a template is left alone


_LINES = [
    "target: m:f", "target: 3", "cases:", "cases: x", "  - id: a", "  - id: [a]", "  - {}", "    input: {x: 1}",
    "    input: [1]", "    assert: [{contains: x}]", "    assert: [{regex: '('}]", "    assert: [{max_chars: -1}]",
    "    assert: [{one_of: x, path: ''}]", "    assert: [{python: 'x'}]", "    assert:", "      - weight: 0",
    "      - no_pii: false", "prompts: [a@1, a@1]", "threshold: 2", "name: n", "\t- bad", "{", "extra: 1",
    'target = "m:f"', "[[cases]]", 'id = "a"', 'assert = [{ contains = "x" }]',
]  # fmt: skip
CONTENT = st.one_of(st.text(max_size=200), st.lists(st.sampled_from(_LINES), max_size=12).map("\n".join))


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(CONTENT, st.sampled_from([".yaml", ".toml"]))
def test_any_file_content_either_loads_or_is_a_config_error(tmp_path: Path, text: str, suffix: str) -> None:
    """For any content, is_eval_file answers and load_eval_file returns or raises ConfigError naming the file."""
    path = tmp_path / f"any{suffix}"
    path.write_text(text, encoding="utf-8")
    assert is_eval_file(path) in (True, False)
    try:
        load_eval_file(path)
    except ConfigError as exc:
        assert str(path) in str(exc)
