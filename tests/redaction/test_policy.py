"""Redaction policies: switching detectors off, adding them, versions, and the active policy."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.redaction import (
    BUILTIN_VERSION,
    DEFAULT_POLICY,
    Detector,
    Finding,
    Policy,
    active_policy,
    find,
    phone_detector,
    redact,
    use_policy,
)


@pytest.fixture(autouse=True)
def default_policy() -> Iterator[None]:
    yield
    use_policy(None)


def test_the_default_policy_has_a_stable_version() -> None:
    """Policy() is the built-in set, version builtin-1, and is what is active by default."""
    assert BUILTIN_VERSION == "builtin-1"
    assert Policy().version == DEFAULT_POLICY.version == "builtin-1"
    assert active_policy() is DEFAULT_POLICY


def test_disable_switches_detectors_off_by_name() -> None:
    """A disabled detector finds nothing; the others still run; the version changes."""
    policy = Policy(disable=["ip", "email"])
    assert redact("a@b.co from 203.0.113.9 card 4111111111111111", policy=policy) == (
        "a@b.co from 203.0.113.9 card [CARD]"
    )
    assert policy.version.startswith("custom-") and policy.version != Policy(disable=["ip"]).version
    assert Policy(disable=["ip", "email"]).version == policy.version  # stable for the same set


def test_disabling_an_unknown_detector_names_the_known_ones() -> None:
    """disable=["phones"] raises ConfigError listing the detector names that exist."""
    with pytest.raises(ConfigError, match=r"'phones'.*known detectors: .*\bphone\b"):
        Policy(disable=["phones"])


def test_extra_regex_string_and_pattern_become_secret_detectors() -> None:
    """A regex (text or compiled) in extra= is a secret detector labelled SECRET; a named group 'value' narrows it."""
    policy = Policy(extra=[r"CUST-\d{6}", re.compile(r"pin=(?P<value>\d{4})")], version="support-2025-03")
    assert policy.version == "support-2025-03"
    assert redact("ticket CUST-123456 pin=1234", policy=policy) == "ticket [SECRET] pin=[SECRET]"
    assert redact("ticket CUST-123456", policy=policy, secrets_only=True) == "ticket [SECRET]"


def test_extra_callable_may_return_spans_or_findings() -> None:
    """A callable in extra= returns (start, end) pairs or Findings; both are redacted."""

    def employee_ids(text: str) -> Iterator[tuple[int, int] | Finding]:
        for m in re.finditer(r"E\d{5}", text):
            yield m.span()
        if (i := text.find("badge")) != -1:
            yield Finding("badge", "SECRET", "secret", i, i + 5)

    policy = Policy(extra=[employee_ids])
    assert redact("E12345 has badge", policy=policy) == "[SECRET] has [SECRET]"
    assert [f.detector for f in find("E12345", policy=policy)] == ["employee_ids"]


def test_extra_detector_chooses_its_label_and_kind() -> None:
    """A Detector in extra= keeps its own label and kind (pii is kept by secrets_only)."""
    member = Detector("member_id", "MEMBER_ID", "pii", r"M-\d{4}")
    policy = Policy(extra=[member])
    assert redact("member M-0042", policy=policy) == "member [MEMBER_ID]"
    assert redact("member M-0042", policy=policy, secrets_only=True) == "member M-0042"


def test_detectors_replaces_the_builtin_set() -> None:
    """Policy(detectors=[...]) runs only those detectors."""
    policy = Policy(detectors=[Detector("digits", "NUMBER", "pii", r"\d+")])
    assert redact("a@b.co has 42", policy=policy) == "a@b.co has [NUMBER]"


def test_detectors_may_name_builtin_detectors_and_take_regexes_and_callables() -> None:
    """Policy(detectors=["email", "openai", r"CUST-\\d+", fn]) keeps those built-ins only and adds the rest."""

    def employee_ids(text: str) -> list[tuple[int, int]]:
        return [m.span() for m in re.finditer(r"E\d{5}", text)]

    policy = Policy(detectors=["email", "openai", r"CUST-\d+", employee_ids], version="v9")
    assert list(policy.names()) == ["email", "openai", "detectors-3", "employee_ids"]
    text = "ann@corp.io 4111 1111 1111 1111 CUST-123 E12345 sk-proj-4fGhT7kLmN9pQrS2tUvW5xYzA8bCdE1f"
    assert redact(text, policy=policy) == "[EMAIL] 4111 1111 1111 1111 [SECRET] [SECRET] [OPENAI_KEY]"
    assert policy.version == "v9"


def test_extra_callable_may_return_matches_or_matched_substrings() -> None:
    """A callable returning re.finditer(...) matches or re.findall(...) strings works as it is."""
    policy = Policy(
        extra=[lambda text: re.finditer(r"E\d{5}", text), lambda text: re.findall(r"CUST-\d+", text)],
    )
    assert redact("E12345 for CUST-1, again CUST-1 x", policy=policy) == "[SECRET] for [SECRET], again [SECRET] x"


def test_a_single_entry_is_taken_as_a_list() -> None:
    """disable="ip" and extra=r"..." mean disable=["ip"] and extra=[r"..."], not their characters."""
    policy = Policy(disable="ip", extra=r"CUST-\d+")  # type: ignore[arg-type]
    assert "ip" not in set(policy.names())
    assert redact("from 203.0.113.9 CUST-1", policy=policy) == "from 203.0.113.9 [SECRET]"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Detector("x", "lower", "pii", r"x"), "label 'lower'"),
        (lambda: Detector("x", "X", "other", r"x"), "kind must be"),  # type: ignore[arg-type]
        (lambda: Detector("x", "X", "pii"), "exactly one of pattern= or find="),
        (lambda: Detector("x", "X", "pii", r"("), "does not compile"),
        (lambda: Policy(extra=[Detector("email", "EMAIL", "pii", r"@")]), "used twice"),
        (lambda: Policy(extra=[42]), "extra\\[1\\] is a int"),  # type: ignore[list-item]
        (lambda: Policy(detectors=["email", 3.5]), "detectors\\[2\\] is a float"),  # type: ignore[list-item]
        (lambda: use_policy("strict"), "expected a toolchain_sdk.redaction.Policy"),  # type: ignore[arg-type]
    ],
)
def test_misconfiguration_raises_config_error(make: object, message: str) -> None:
    """Bad labels, kinds, patterns, duplicate names and wrong types raise ConfigError saying what to change."""
    with pytest.raises(ConfigError, match=message):
        make()  # type: ignore[operator]


def test_a_label_may_be_given_with_brackets() -> None:
    """Detector(label="[CUSTOMER]") is the same as label="CUSTOMER"."""
    assert Detector("c", "[CUSTOMER]", "pii", r"C\d+").label == "CUSTOMER"


def test_use_policy_makes_a_policy_active_and_none_restores_the_default() -> None:
    """use_policy(p) changes what redact() and find() use; use_policy(None) goes back to the default."""
    policy = Policy(disable=["email"], version="no-email")
    use_policy(policy)
    assert active_policy() is policy
    assert redact("a@b.co") == "a@b.co"
    use_policy(None)
    assert active_policy() is DEFAULT_POLICY
    assert redact("a@b.co") == "[EMAIL]"


def test_phone_detector_reads_national_numbers_of_another_region() -> None:
    """phone_detector("GB") in place of the built-in phone detector reads UK national numbers."""
    text = "call 07400 123456"
    assert redact(text) == text  # the default region is US
    policy = Policy(disable=["phone"], extra=[phone_detector("GB")])
    assert redact(text, policy=policy) == "call [PHONE]"


def test_a_failing_extra_detector_fails_closed() -> None:
    """A custom detector that raises makes redact() return the placeholder, never the raw text."""

    def broken(text: str) -> list[tuple[int, int]]:
        raise RuntimeError("boom")

    out = redact({"note": "ann@corp.io"}, policy=Policy(extra=[broken]))
    assert out == {"note": "[UNREDACTABLE]"}
    with pytest.raises(RuntimeError):
        find("x", policy=Policy(extra=[broken]))
