"""Each built-in detector: what it takes out (whole tokens, with the issue's labels) and what it leaves."""

from __future__ import annotations

from itertools import pairwise

import pytest

from toolchain_sdk.redaction import BUILTIN_DETECTORS, DEFAULT_POLICY, Finding, find, redact, scrub_text

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = (
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oZhh6DUusKuSoAoGCCqGSM49\n"
    "-----END EC PRIVATE KEY-----"
)
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

CASES = [
    # (text, expected redaction)
    ("mail ann.lee@corp.io now", "mail [EMAIL] now"),
    ("call (415) 555-0132 today", "call [PHONE] today"),
    ("call +44 20 7946 0958.", "call [PHONE]."),
    ("card 4111 1111 1111 1111 exp", "card [CARD] exp"),
    ("card 4111-1111-1111-1111", "card [CARD]"),
    ("amex 3782 822463 10005", "amex [CARD]"),
    ("iban DE89 3704 0044 0532 0130 00 ok", "iban [IBAN] ok"),
    ("iban GB82WEST12345698765432", "iban [IBAN]"),
    ("ssn 536-22-1874", "ssn [SSN]"),
    ("from 203.0.113.42:443", "from [IP]:443"),
    ("v6 2001:db8:85a3::8a2e:370:7334 end", "v6 [IP] end"),
    ("k sk-proj-4fGhT7kLmN9pQrS2tUvW5xYzA8bCdE1f", "k [OPENAI_KEY]"),
    ("k sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv", "k [ANTHROPIC_KEY]"),
    ("id AKIAIOSFODNN7EXAMPLE", "id [AWS_KEY]"),
    (f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key = [AWS_KEY]"),
    (f"aws_secret_access_key='{AWS_SECRET}'", "aws_secret_access_key='[AWS_KEY]'"),
    (f'"SecretAccessKey": "{AWS_SECRET}"', '"SecretAccessKey": "[AWS_KEY]"'),
    ("t ghp_R8mK2xQ9vL4tN7pW1zY5cB3dF6gH0jS2aE8u", "t [GITHUB_TOKEN]"),
    ("t glpat-Ab12Cd34Ef56Gh78Ij90", "t [GITLAB_TOKEN]"),
    ("t xoxb-2958473610-7730192846-8kFqZr3TnWm0PcYv1LdXs9Ha", "t [SLACK_TOKEN]"),
    ("k AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "k [GOOGLE_KEY]"),
    ("k sk_live_51HqLyjWDarjtT1zdp7dcXYZ9", "k [STRIPE_KEY]"),
    (f"jwt {JWT} end", "jwt [JWT] end"),
    ("Authorization: Bearer 0a9f3c7e1b5d42f8a6c09e3b7d1f5a2c", "Authorization: Bearer [BEARER]"),
    ("Authorization: Basic YWRtaW46c3VwZXJzZWNyZXQ=", "Authorization: Basic [SECRET]"),
    ("redis://:r3d1sP@ssw0rd@cache:6379/0", "redis://[URL_CREDENTIALS]@cache:6379/0"),
    (f"key:\n{PEM}\ndone", "key:\n[PRIVATE_KEY]\ndone"),
    ("password=hunter2hunter2 user=bob", "password=[SECRET] user=bob"),
    ('{"client_secret": "Zx9-Qr Pl_4vK8"}', '{"client_secret": "[SECRET]"}'),
    ("- name: DB_PASSWORD\n  value: Kx7#pL2qR9mW", "- name: DB_PASSWORD\n  value: [SECRET]"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_each_kind_is_replaced_whole_by_its_label(text: str, expected: str) -> None:
    """The whole value goes (all three JWT parts, the whole PEM block, quoted or bare AWS secrets), labelled."""
    assert redact(text) == expected


REVIEW_CASES = [
    # found in the acceptance review of issue 13: common ways these values are written
    ("call 555-123-4567 now", "call [PHONE] now"),  # a fictional 555 number: not assigned, still a phone
    ("call (555) 123-4567", "call [PHONE]"),
    ("fax 555.123.4567", "fax [PHONE]"),
    ("tel 123-456-7890", "tel [PHONE]"),
    ("tel +1 555 123 4567 x12", "tel [PHONE]"),
    ("ssn 078-05-1120", "ssn [SSN]"),  # stdnum calls it advertised; it was a real person's number
    ("SSN: 123456789", "SSN: [SSN]"),  # nine digits, named
    ('{"ssn": "536221874"}', '{"ssn": "[SSN]"}'),
    ("social security number 536221874.", "social security number [SSN]."),
    ("curl -H 'Authorization: Bearer sk-abc'", "curl -H 'Authorization: Bearer [BEARER]'"),  # short, in a header
    ('headers = {"Authorization": "Bearer abc123"}', 'headers = {"Authorization": "Bearer [BEARER]"}'),
    (f"aws configure set aws_secret_access_key {AWS_SECRET}", "aws configure set aws_secret_access_key [AWS_KEY]"),
    (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", "AWS_SECRET_ACCESS_KEY=[AWS_KEY]"),
    ("secret=xyz token=abc password=hunter2", "secret=[SECRET] token=[SECRET] password=[SECRET]"),
]


@pytest.mark.parametrize(("text", "expected"), REVIEW_CASES)
def test_usual_spellings_are_replaced_whole(text: str, expected: str) -> None:
    """Fictional 555 numbers, unformatted named SSNs, short bearer headers, CLI-style AWS secrets, short passwords."""
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer $TOKEN", "Authorization: Bearer <token>", "the bearer of bad news",
        "order 123456789", "ssn 1234567890", "ORD-555-123-4567", "555-123-4567-rc1", "555-123.4567",
        "Not secrets: the list", "password: ab", "sizes 555 256 1024",
    ],
)  # fmt: skip
def test_review_near_misses_survive(text: str) -> None:
    """Placeholders after Bearer, unnamed nine-digit numbers, numbers inside codes, prose after a colon stay."""
    assert redact(text) == text


def test_a_pem_block_without_its_end_line_still_goes() -> None:
    """A private key block cut short (no END line) is removed to its last base64 line."""
    text = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHC\nozMxH2Mo4lgOEePzNm0t"
    assert redact(text) == "[PRIVATE_KEY]"


def test_a_jwt_inside_a_bearer_header_is_labelled_jwt() -> None:
    """Where a vendor detector and a generic one find the same span, the specific label wins."""
    assert redact(f"Authorization: Bearer {JWT}") == "Authorization: Bearer [JWT]"


@pytest.mark.parametrize(
    "text",
    [
        "ORD-2024-000123", "build 415-555-0132-rc1", "v1.2.3.4", "10.0.19045.3803", "2024-07-18 12:30:45",
        "isbn 978-3-16-148410-0", "uuid 3dab4845-5894-4384-9768-be89b627e1dd", "4111 1111 1111 1112",
        "sha 9fceb02d0ae598e95dc970b74767f19372d61af8", "the risk-assessment-document-v2", "max_tokens=256",
        "token_count: 1234", "password: ********", "api_key=<YOUR_KEY>", "token=${GITHUB_TOKEN}",
        "api_key = os.environ['OPENAI_API_KEY']", "stripeSecret: process.env.STRIPE_SECRET_KEY",
        "session: expired", "auth: failed.", "git@github.com:org/repo.git", "https://key@o0.ingest.sentry.io/0",
        "ping 127.0.0.1", "std::vector", "00:1a:2b:3c:4d:5e", "000-12-3456", "user@localhost",
    ],
)  # fmt: skip
def test_near_misses_survive(text: str) -> None:
    """Order numbers, versions, dates, ISBNs, UUIDs, SHAs, placeholders and references are not redacted."""
    assert redact(text) == text


def test_find_reports_sorted_non_overlapping_findings() -> None:
    """find() gives frozen Findings (detector, label, kind, start, end), sorted, never overlapping."""
    text = "mail a.b@corp.io key sk-proj-4fGhT7kLmN9pQrS2tUvW5xYzA8bCdE1f ip 203.0.113.9"
    found = find(text)
    assert [(f.detector, f.label, f.kind) for f in found] == [
        ("email", "EMAIL", "pii"), ("openai", "OPENAI_KEY", "secret"), ("ip", "IP", "pii")
    ]  # fmt: skip
    assert all(a.end <= b.start for a, b in pairwise(found))
    assert text[found[0].start : found[0].end] == "a.b@corp.io"
    assert isinstance(found[0], Finding)
    with pytest.raises(AttributeError):
        found[0].start = 0  # type: ignore[misc]


def test_secrets_only_keeps_personal_data_and_scrub_text_also_takes_cards() -> None:
    """secrets_only (capture="full") keeps addresses and cards; scrub_text (exported errors) also takes the card."""
    text = "ann@corp.io paid with 4111 1111 1111 1111 using AKIAIOSFODNN7EXAMPLE"
    assert [f.label for f in find(text, secrets_only=True)] == ["AWS_KEY"]
    assert redact(text, secrets_only=True) == "ann@corp.io paid with 4111 1111 1111 1111 using [AWS_KEY]"
    assert scrub_text(text) == "ann@corp.io paid with [CARD] using [AWS_KEY]"
    assert redact(text) == "[EMAIL] paid with [CARD] using [AWS_KEY]"


def test_the_builtin_detectors_have_unique_names_and_the_issues_labels() -> None:
    """Every built-in detector has a unique name; together they use exactly the labels issue 13 lists."""
    names = [d.name for d in BUILTIN_DETECTORS]
    assert len(names) == len(set(names))
    assert {d.label for d in BUILTIN_DETECTORS} == {
        "EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP", "OPENAI_KEY", "ANTHROPIC_KEY", "AWS_KEY", "GITHUB_TOKEN",
        "GITLAB_TOKEN", "SLACK_TOKEN", "GOOGLE_KEY", "STRIPE_KEY", "JWT", "BEARER", "URL_CREDENTIALS",
        "PRIVATE_KEY", "SECRET",
    }  # fmt: skip
    assert DEFAULT_POLICY.detectors == BUILTIN_DETECTORS
