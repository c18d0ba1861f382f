"""Prompt templates: the ``{{ name }}`` syntax, strict rendering, literal braces, identity of a Prompt built in code."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import toolchain_sdk as tc
from toolchain_sdk.errors import ConfigError, PromptDrift, PromptError
from toolchain_sdk.prompts import Prompt
from toolchain_sdk.prompts._template import escape


def test_prompt_errors_are_config_errors() -> None:
    """PromptError is a ConfigError (and so a ToolchainError); PromptDrift is a PromptError."""
    assert issubclass(PromptError, ConfigError) and issubclass(PromptError, tc.ToolchainError)
    assert issubclass(PromptDrift, PromptError)


@pytest.mark.parametrize("written", ["{{name}}", "{{ name }}", "{{  name\t}}", "{{ name}}"])
def test_spaces_inside_the_braces_are_optional(written: str) -> None:
    """`{{name}}`, `{{ name }}` and extra spaces or tabs inside the braces are the same placeholder."""
    p = Prompt("greet", "1", f"Hi {written}!")
    assert p.placeholders == {"name"}
    assert p.render(name="Ann") == "Hi Ann!"


def test_placeholder_names_are_letters_digits_underscores() -> None:
    """Names may mix letters, digits and `_`; the same name twice is one placeholder filled twice."""
    p = Prompt("mix", "1", "{{ a_1 }}/{{ B2 }}/{{ 3c }}/{{ a_1 }}")
    assert p.placeholders == {"a_1", "B2", "3c"}
    assert p.render(a_1="x", B2="y", **{"3c": "z"}) == "x/y/z/x"


def test_missing_values_raise_naming_them() -> None:
    """Rendering without a value for a placeholder raises PromptError naming every missing name."""
    p = Prompt("refund", "3", "Customer {{ customer }} asks {{ body }} on {{ channel }}")
    with pytest.raises(PromptError, match=r"missing value\(s\) for body, channel") as err:
        p.render(customer="Ann")
    assert "refund@3" in str(err.value)


def test_a_value_the_template_does_not_use_raises() -> None:
    """A value for a name that is not a placeholder is an error, not silently dropped."""
    p = Prompt("refund", "3", "Hello {{ customer }}")
    with pytest.raises(PromptError, match="no placeholder for costumer"):
        p.render(customer="Ann", costumer="Ann")
    with pytest.raises(PromptError, match="no placeholder for extra"):
        Prompt("plain", "1", "no placeholders").render(extra=1)


def test_values_are_inserted_as_text() -> None:
    """Non-text values are inserted as str(value)."""
    p = Prompt("n", "1", "{{ n }} items, ok={{ ok }}, none={{ nothing }}")
    assert p.render(n=3, ok=True, nothing=None) == "3 items, ok=True, none=None"


def test_unicode_templates_and_values() -> None:
    """Unicode text in the template and the values passes through unchanged; the hash is of the UTF-8 bytes."""
    template = "¿Qué pasó, {{ nombre }}? — 東京 🚀 {{ emoji }}"
    p = Prompt("unicode", "v1", template)
    assert p.render(nombre="José", emoji="✅") == "¿Qué pasó, José? — 東京 🚀 ✅"
    assert p.sha256 == hashlib.sha256(template.encode("utf-8")).hexdigest()


def test_single_braces_and_json_need_no_escaping() -> None:
    """A JSON example (single braces, and `}}` closing nested objects) is literal text next to placeholders."""
    example = {"refund": {"approved": True, "reasons": [{"code": "late"}]}, "text": "{x}"}
    template = f"Answer for {{{{ customer }}}} as JSON like:\n{json.dumps(example)}\n"
    p = Prompt("json", "1", template)
    out = p.render(customer="Ann")
    assert out == f"Answer for Ann as JSON like:\n{json.dumps(example)}\n"
    assert json.loads(out.splitlines()[1]) == example


def test_four_open_braces_are_a_literal_double_brace() -> None:
    """`{{{{` renders as `{{`, so `{{{{ name }}` is the literal text `{{ name }}`; `}}` needs no escape."""
    p = Prompt("escape", "1", "Jinja uses {{{{ name }}, we fill {{ name }}.")
    assert p.placeholders == {"name"}
    assert p.render(name="Bo") == "Jinja uses {{ name }}, we fill Bo."
    assert Prompt("only", "1", "{{{{").render() == "{{"


def test_a_brace_right_before_a_placeholder_is_literal() -> None:
    """`{{{ name }}}` is a literal `{`, the placeholder, and a literal `}`."""
    assert Prompt("wrap", "1", "{{{ name }}}").render(name="x") == "{x}"


@pytest.mark.parametrize("bad", ["{{ a-b }}", "{{}}", "{{ }}", "{{ name", "{{ two words }}", "{{ a.b }}", '{{"a": 1}}'])
def test_a_double_brace_that_opens_no_placeholder_is_an_error(bad: str) -> None:
    """A `{{` that is not a valid placeholder fails when the Prompt is built, naming line, column and the escape."""
    with pytest.raises(PromptError, match=r"line 2, column 5 .*'\{\{\{\{' for a literal") as err:
        Prompt("typo", "1", f"ok\nsee {bad} here")
    assert "typo@1" in str(err.value)


def test_a_value_is_never_expanded_again() -> None:
    """A value containing `{{ other }}` (or `{{{{`) is inserted literally, even when `other` is also a placeholder."""
    p = Prompt("inject", "1", "A={{ a }} B={{ b }}")
    assert p.render(a="{{ b }}", b="{{{{ a }}") == "A={{ b }} B={{{{ a }}"


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)


@given(value=_text, other=_text)
def test_rendering_never_re_expands_a_value(value: str, other: str) -> None:
    """For any values, the output is the template's text with each value inserted verbatim, once."""
    p = Prompt("prop", "1", "<{{ value }}|{{ other }}>")
    assert p.render(value=value, other=other) == f"<{value}|{other}>"


@given(text=_text.filter(lambda t: "{{" not in t))
def test_text_without_double_open_braces_renders_unchanged(text: str) -> None:
    """Any text with no `{{` is a template with no placeholders that renders as itself."""
    p = Prompt("plain", "1", text)
    assert p.placeholders == frozenset()
    assert p.render() == text


@given(text=_text)
def test_escaping_every_double_brace_renders_the_text(text: str) -> None:
    """Writing each `{{` of any text as `{{{{` gives a template that renders exactly that text."""
    assert Prompt("escaped", "1", escape(text)).render() == text


def test_a_prompt_built_in_code_hashes_its_template_text() -> None:
    """sha256 of a Prompt built in code is SHA-256 of the template's UTF-8 text; it has no source or label."""
    p = Prompt("support_refund_policy", "3", "Hello {{ name }}")
    assert p.sha256 == hashlib.sha256(b"Hello {{ name }}").hexdigest()
    assert (p.ref, p.source, p.label, p.drift) == ("support_refund_policy@3", None, None, False)
    with pytest.raises(PromptError, match="computed from the template"):
        Prompt("p", "1", "text", sha256="0" * 64)


def test_prompt_is_frozen() -> None:
    """A Prompt is a value: its fields cannot be reassigned."""
    p = Prompt("p", "1", "text")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.template = "other"  # type: ignore[misc]


@pytest.mark.parametrize("version", ["latest", "LATEST", "Latest"])
def test_latest_is_not_a_version(version: str) -> None:
    """'latest' is refused as a version, in code as in references."""
    with pytest.raises(PromptError, match="'latest' is not a version"):
        Prompt("p", version, "text")


@pytest.mark.parametrize(
    ("name", "version"), [("", "1"), ("a b", "1"), ("../x", "1"), ("p", ""), ("p", "1/2"), ("p", "@")]
)
def test_names_and_versions_are_checked(name: str, version: str) -> None:
    """Names and versions use letters, digits, '.', '_', '-' (names also '/'); anything else is a PromptError."""
    with pytest.raises(PromptError, match="not valid"):
        Prompt(name, version, "text")


def test_declared_variables_must_equal_the_placeholders() -> None:
    """variables=... (as front matter declares them) must list exactly the placeholders."""
    assert Prompt("v", "1", "{{ a }} {{ b }}", variables=("b", "a")).variables == ("b", "a")
    with pytest.raises(PromptError, match="declared but not in the template: c; in the template but not declared: b"):
        Prompt("v", "1", "{{ a }} {{ b }}", variables=("a", "c"))
