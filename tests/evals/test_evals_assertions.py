"""Every assertion kind passes what it should and fails what it should, with a reason a person can read."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolchain_sdk.evals import Assertion, Case, Checked, check, select, text_of
from toolchain_sdk.redaction import scrub_text

CASE = Case.model_validate({"id": "c1", "input": {}, "assert": [{"contains": "x"}]})


@pytest.fixture
def checks_module() -> Iterator[str]:
    """A module of python: checks, importable by name for the test."""
    module = types.ModuleType("evals_test_checks")
    module.polite = lambda out, case: "please" in str(out)  # type: ignore[attr-defined]
    module.score = lambda out, case: 0.7  # type: ignore[attr-defined]
    module.low = lambda out, case: 0.2  # type: ignore[attr-defined]
    module.explained = lambda out, case: (False, f"{case.id}: too curt")  # type: ignore[attr-defined]
    module.fine = lambda out, case: (True, "")  # type: ignore[attr-defined]

    def broken(out: object, case: Case) -> bool:
        """A check that raises."""
        raise ValueError("checker bug")

    module.broken = broken  # type: ignore[attr-defined]
    module.weird = lambda out, case: "yes"  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module.__name__
    del sys.modules[module.__name__]


def run(spec: dict[str, object], output: object, functions: dict[str, object] | None = None) -> Checked:
    """Check ``output`` against one assertion given as in a file."""
    assertion = Assertion.model_validate(spec)
    return check(assertion, output, CASE, functions or {})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "output"),
    [
        ({"equals": "ok"}, "ok"),
        ({"equals": {"a": 1}}, '{"a": 1}'),
        ({"equals": 3, "path": "n"}, {"n": 3}),
        ({"contains": "refund"}, "we will refund you"),
        ({"not_contains": "guarantee"}, "we will refund you"),
        ({"regex": "Reference [0-9a-f]{8}"}, "Thanks. Reference 0a1b2c3d."),
        ({"max_chars": 5}, "12345"),
        ({"one_of": ["shipped", "pending"]}, "pending\n"),
        ({"one_of": ["shipped", "pending"], "path": "status"}, '{"status": "shipped"}'),
        ({"json_schema": {"type": "object", "required": ["status"]}}, '{"status": "x"}'),
        ({"json_schema": {"type": "array", "items": {"type": "integer"}}}, [1, 2]),
        ({"no_pii": True}, "Your order ships on Monday."),
        ({"contains": "Ana", "path": "items.0.name"}, {"items": [{"name": "Ana"}]}),
        ({"contains": "abc"}, b"xxabcxx"),
    ],
)
def test_each_kind_passes_a_fitting_output(spec: dict[str, object], output: object) -> None:
    """A fitting output passes with score 1 and no reason."""
    result = run(spec, output)
    assert (result.passed, result.score, result.reason) == (True, 1.0, "")


@pytest.mark.parametrize(
    ("spec", "output", "reason"),
    [
        ({"equals": "ok"}, "not ok", "expected 'ok', got 'not ok'"),
        ({"contains": "refund"}, "no money back", "output does not contain 'refund' (output: 'no money back')"),
        ({"not_contains": "guarantee"}, "we guarantee it", "output contains 'guarantee' at character 3"),
        ({"regex": "Reference [0-9a-f]{8}"}, "Thanks.", "no match for regex 'Reference [0-9a-f]{8}' in 'Thanks.'"),
        ({"max_chars": 3}, "12345", "output is 5 characters, more than max_chars 3"),
        ({"one_of": ["shipped", "pending"]}, "lost", "output 'lost' is not one of 'shipped', 'pending'"),
        ({"json_schema": {"type": "object", "required": ["status"]}}, '{"state": 1}', "'status' is a required"),
        ({"json_schema": {"type": "object"}}, "not json", "output is not JSON: 'not json'"),
        (
            {"json_schema": {"type": "object", "properties": {"n": {"type": "integer"}}}},
            {"n": "x"},
            "JSON schema: at n: 'x' is not of type 'integer'",
        ),
        ({"contains": "x", "path": "status"}, '{"state": 1}', "path 'status' is not in the output"),
        ({"contains": "x", "path": "items.5"}, {"items": [1]}, "path 'items.5': index 5 is out of range"),
    ],
)
def test_each_kind_fails_with_a_readable_reason(spec: dict[str, object], output: object, reason: str) -> None:
    """A failing output fails with score 0 and a reason that says what was expected and what came."""
    result = run(spec, output)
    assert not result.passed and result.score == 0.0
    assert reason in result.reason


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("write to ana.lopez@example.com today", "email"),
        ("card 4111 1111 1111 1111 on file", "card"),
        ("key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD", "key"),
    ],
)
def test_no_pii_fails_on_personal_data_and_secrets_without_repeating_them(text: str, label: str) -> None:
    """no_pii uses the redaction detectors; the reason names what was found and where, never the value."""
    result = run({"no_pii": True}, text)
    assert not result.passed
    assert label in result.reason.lower() and " at " in result.reason  # the detector's label and the position
    assert "ana.lopez" not in result.reason and "4111" not in result.reason and "sk-proj" not in result.reason


def test_python_checks_return_bool_score_or_reason(checks_module: str) -> None:
    """A named callable may return a bool, a float in [0, 1] (passing at min_score) or (bool, reason)."""
    from toolchain_sdk.evals import load_callable

    def fns(*names: str) -> dict[str, object]:
        """The named checks, loaded."""
        return {f"{checks_module}:{n}": load_callable(f"{checks_module}:{n}") for n in names}

    functions = fns("polite", "score", "low", "explained", "fine", "broken", "weird")

    def py(name: str, output: object = "please wait", **extra: object) -> Checked:
        """Run one named check."""
        return run({"python": f"{checks_module}:{name}", **extra}, output, functions)

    assert py("polite").passed and not py("polite", "wait").passed
    assert py("polite", "wait").reason == f"{checks_module}:polite returned False"
    assert (py("score").passed, py("score").score) == (True, 0.7)
    assert not py("score", min_score=0.8).passed
    low = py("low")
    assert (low.passed, low.score) == (False, 0.2)
    assert "scored 0.2, below min_score 0.5" in low.reason
    assert py("explained").reason == "c1: too curt"
    assert py("fine").passed
    assert py("broken").reason == f"{checks_module}:broken raised ValueError: checker bug"
    assert "returned 'yes': a check returns a bool, a float in [0, 1] or (bool, reason)" in py("weird").reason


def test_an_unknown_python_check_is_a_config_error() -> None:
    """A python: reference that does not import or does not exist is a ConfigError naming it."""
    from toolchain_sdk.errors import ConfigError
    from toolchain_sdk.evals import load_callable

    with pytest.raises(ConfigError, match="cannot import no_such_module_here"):
        load_callable("no_such_module_here:f")
    with pytest.raises(ConfigError, match="has no 'nope'"):
        load_callable("json:nope")


def test_text_of_sees_json_for_structured_outputs() -> None:
    """Text assertions see canonical JSON for a dict, so `contains` works on a structured output."""
    assert text_of({"b": 1, "a": "x"}) == '{"a":"x","b":1}'
    assert run({"contains": '"a":"x"'}, {"b": 1, "a": "x"}).passed
    assert select('{"a": {"b": [5, 6]}}', "a.b.1") == 6


@given(st.text(max_size=40), st.text(min_size=1, max_size=5))
def test_contains_and_not_contains_always_disagree(output: str, needle: str) -> None:
    """For any text and needle, exactly one of contains / not_contains passes."""
    assert run({"contains": needle}, output).passed != run({"not_contains": needle}, output).passed


@given(st.text(max_size=60), st.integers(min_value=0, max_value=60))
def test_max_chars_counts_characters(output: str, limit: int) -> None:
    """max_chars passes exactly when the text has at most that many characters."""
    assert run({"max_chars": limit}, output).passed == (len(output) <= limit)


def test_reasons_quoting_the_output_have_secrets_scrubbed(checks_module: str) -> None:
    """A failure reason that quotes the output (it goes to CI logs and results) carries no key or card number."""
    from toolchain_sdk.evals import load_callable

    output = "your key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD and card 4111 1111 1111 1111"
    for spec in ({"contains": "refund"}, {"equals": "ok"}, {"one_of": ["a"]}, {"regex": "^x"}):
        reason = run(spec, output).reason  # type: ignore[arg-type]
        assert reason and "sk-proj-abc" not in reason and "4111 1111" not in reason, reason
    ref = f"{checks_module}:explained"
    functions = {ref: lambda out, case: (False, f"it said {out}")}
    reason = run({"python": ref}, output, functions).reason  # type: ignore[dict-item]
    assert reason.startswith("it said your key ") and "sk-proj-abc" not in reason
    assert load_callable(ref)  # the named check exists; the stand-in above is what ran
    not_contains = run({"not_contains": "card"}, output).reason
    assert (
        "at character 62 (…ey [OPENAI_KEY] and card [CARD]…)" in not_contains and "4111 1111" not in not_contains
    )  # the excerpt is scrubbed
    no_pii = run({"no_pii": True}, output).reason
    assert scrub_text(no_pii) == no_pii and "OPENAI_KEY at 9" in no_pii  # spans scrub it again: kinds survive
