"""The built-in secret detectors: vendor API keys and tokens, JWTs, bearer tokens, URL credentials,
PEM private keys and ``password=``-style assignments.

Patterns follow Yelp's detect-secrets plugins where they exist (vendor prefixes, the keyword list
and its quoting rules, the JWT shape check, the PEM headers, basic-auth URLs) and are widened where
detect-secrets is stricter than a redactor can afford: a redactor must take the whole token out, so
lengths are lower bounds, not exact. Vendor tokens need no word boundary on the left (a key glued
to other text still goes); each has a literal hint so text without it costs one substring search.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator
from typing import Final

from toolchain_sdk.redaction._model import Detector, Span
from toolchain_sdk.redaction._names import is_secret_name, is_weak_secret_name

__all__ = ["SECRET_DETECTORS"]

_ALNUM_RUN_RE: Final = re.compile(r"[A-Za-z0-9]+")


def _openai_shaped(token: str) -> bool:
    """An ``sk-`` token that is a key, not English (``risk-assessment-document-v2``): a 20+ character
    alphanumeric run, or 20+ characters mixing upper case and digits."""
    body = token[3:]
    if len(body) < 20:
        return False
    if max((len(run) for run in _ALNUM_RUN_RE.findall(body)), default=0) >= 20:
        return True
    return any(c.isupper() for c in body) and any(c.isdigit() for c in body)


def _mixed_alnum(token: str) -> bool:
    """A token body holding both letters and digits (``sk_test_results`` is a word, not a key)."""
    body = token.rsplit("_", 1)[-1]
    return any(c.isdigit() for c in body) and any(c.isalpha() for c in body)


def _b64json(part: str) -> bool:
    """Whether a base64url segment decodes to a JSON object (a JWT header)."""
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return isinstance(json.loads(raw.decode("utf-8")), dict)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False


def _jwt(token: str) -> bool:
    """A JWT (or JWE): a header that decodes to a JSON object, as detect-secrets checks."""
    return _b64json(token.split(".", 1)[0])


_NOT_SECRET_VALUES: Final = frozenset(
    {"none", "null", "nil", "true", "false", "undefined", "required", "optional", "string", "str", "bytes",
     "int", "redacted", "hidden", "masked", "omitted", "empty", "unset", "bearer", "basic", "yes", "no",
     "expired", "invalid", "missing", "revoked", "valid", "error", "failed", "present", "rotated",
     "refreshed", "updated", "changed", "reset", "denied", "unknown", "default"}
)  # fmt: skip
_MASKED_RE: Final = re.compile(
    r"[*xX•.\-_#]+|<[^>]*>|\{\{.*\}\}|\$\{.*\}|\{[^}]*\}|%\([^)]*\)s|\$[A-Z_][A-Z0-9_]*|%[A-Z_]+%"
)
_PLAIN_WORD_RE: Final = re.compile(r"[A-Za-z][a-z]*")

# detect-secrets' keyword plugin (FOLLOWED_BY_COLON / EQUAL_SIGNS / QUOTES), merged into one pattern
# that starts where a secret word was found: the rest of the name, an optional closing quote or
# bracket, the operator, then a quoted value (escapes allowed) or a bare one; a bare value followed
# by ( or [ is a reference (``get_secret()``, ``os.environ[...]``), not the secret.
_HIT_RE: Final = re.compile(r"pass|pwd|secret|token|key|auth|credential|cookie|session|contrase")
_TAIL_RE: Final = re.compile(
    r"""(?P<rest>[\w-]*)[\]'"`]{0,2}[ \t]*(?::=|=>|==?|:)[ \t]*
        (?:(?P<q>["'`])(?P<quoted>(?:(?!(?P=q))[^\\\n]|\\.){1,400})(?P=q)
          |(?P<bare>[^\s"'`,;<>{}\[\]()]{1,400}+)(?![(\[]))""",
    re.VERBOSE,
)
_NAME_CHARS: Final = frozenset("_.-")
_REFERENCE_RE: Final = re.compile(
    r"(?:process|os|self|this|settings|config|cfg|conf|env|environ|app|ctx|context|secrets|vault|args|options|opts"
    r"|params|props|request|req|window|import\.meta)(?:\.[A-Za-z_$][\w$]*)+"
)
"""A bare dotted name rooted in a usual holder (``process.env.STRIPE_KEY``, ``settings.DB_PASSWORD``):
where the secret is kept, not the secret."""
_SCHEME_RE: Final = re.compile(r"(?i:bearer|basic|token|digest|apikey)[ \t]+")
_AUTH_HEADER_RE: Final = re.compile(
    r"(?i:authorization)[\"']?[ \t]*[:=][ \t]*[\"']?(?!(?i:bearer)\s)(?:(?i:basic|token|digest|apikey|sso-key)[ \t]+)?"
    r"(?P<value>[^\s\"',;]{4,})"
)


_BEARER_RE: Final = re.compile(r"(?i:bearer)[ \t]+(?P<value>[A-Za-z0-9._~+/\-]{16,}=*)")
_BEARER_HEADER_RE: Final = re.compile(
    r"(?i:authorization)[\"']?[ \t]*[:=][ \t]*[\"']?(?i:bearer)[ \t]+(?P<value>[^\s\"'`,;]+)"
)


def _bearer(text: str) -> Iterator[Span]:
    """Bearer tokens: any value of an ``Authorization: Bearer`` header (however short, unless a
    placeholder such as ``$TOKEN`` or ``<token>``), and 16+ token characters after ``Bearer`` elsewhere."""
    for m in _BEARER_HEADER_RE.finditer(text):
        value = m.group("value")
        if value.lower() not in _NOT_SECRET_VALUES and not _MASKED_RE.fullmatch(value):
            yield m.span("value")
    for m in _BEARER_RE.finditer(text):
        yield m.span("value")


def _assigned_secret(name: str, value: str, *, assigned: bool = False) -> bool:
    """A value assigned to a secret name that is plausibly the secret: not a placeholder (``None``,
    ``****``, ``<token>``, ``${VAR}``: detect-secrets' templated-secret filter), not too short (4
    characters; 3 after ``=`` and a strong name: ``secret=xyz``, where ``secrets: the`` is prose),
    and not a plain word when the name is a weak one (``session: expired``)."""
    stripped = value.strip().rstrip(".!?")
    weak = is_weak_secret_name(name)
    if (
        len(stripped) < (3 if assigned and not weak else 4)
        or stripped.lower() in _NOT_SECRET_VALUES
        or _MASKED_RE.fullmatch(stripped)
    ):
        return False
    return not (weak and _PLAIN_WORD_RE.fullmatch(stripped))


_NAMED_VALUE_RE: Final = re.compile(
    r"""(?i:name|key)["']?[ \t]*[:=][ \t]*["']?(?P<name>[\w.-]+)["']?[ \t]*,?[ \t]*\r?\n?[ \t]*(?:-[ \t]*)?
        ["']?(?i:value)["']?[ \t]*[:=][ \t]*
        (?:(?P<q>["'`])(?P<quoted>(?:(?!(?P=q))[^\\\n]|\\.){1,400})(?P=q)|(?P<bare>[^\s"'`,;<>{}\[\]()]{1,400}+))""",
    re.VERBOSE,
)
"""A secret passed as a name/value pair: Kubernetes ``env`` entries, ECS and CloudFormation parameters."""


def _named_values(text: str, lowered: str) -> Iterator[Span]:
    """``- name: DB_PASSWORD`` then ``value: ...`` (or ``{"name": "api_key", "value": "..."}``): the value."""
    if "value" not in lowered:
        return
    for m in _NAMED_VALUE_RE.finditer(text):
        group = "quoted" if m.group("quoted") is not None else "bare"
        if is_secret_name(m.group("name")) and _assigned_secret(m.group("name"), m.group(group)):
            yield m.span(group)


def _keyword(text: str) -> Iterator[Span]:
    """Values assigned to secret names: ``password=...``, ``"api_key": "..."``, ``SECRET: ...``."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters lower-case to two ("İ"): search the text itself
        lowered = text.upper().lower() if len(text.upper().lower()) == len(text) else text
    yield from _named_values(text, lowered)
    pos = 0
    while (hit := _HIT_RE.search(lowered, pos)) is not None:
        pos = hit.end()
        tail = _TAIL_RE.match(text, hit.end())
        if tail is None:
            continue
        start = hit.start()
        floor = max(0, start - 64)
        while start > floor and (text[start - 1].isalnum() or text[start - 1] in _NAME_CHARS):
            start -= 1
        name = text[start : tail.end("rest")]
        group = "quoted" if tail.group("quoted") is not None else "bare"
        value = tail.group(group)
        if group == "bare" and _REFERENCE_RE.fullmatch(value):
            continue
        start, end = tail.span(group)
        if scheme := _SCHEME_RE.match(value):  # "Authorization": "Bearer ...": the credential, not its scheme
            start += scheme.end()
        assigned = "=" in text[tail.end("rest") : tail.start(group)]
        if is_secret_name(name) and _assigned_secret(name, text[start:end], assigned=assigned):
            yield start, end
            pos = tail.end()


def _vendor(
    name: str, label: str, pattern: str, *hints: str, validate: Callable[[str], bool] | None = None
) -> Detector:
    """A vendor token detector (a ``secret``)."""
    return Detector(name, label, "secret", re.compile(pattern), validate=validate, hints=hints)


SECRET_DETECTORS: Final[tuple[Detector, ...]] = (
    Detector(
        "private_key",
        "PRIVATE_KEY",
        "secret",
        # the whole block, any key type; a block cut short (no END line) is taken to its last base64 line
        re.compile(
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|(?:[\sA-Za-z0-9+/=:,\\-]|\\n)*)",
            re.DOTALL,
        ),
        hints=("PRIVATE KEY",),
    ),
    Detector(
        "putty_key",
        "PRIVATE_KEY",
        "secret",
        re.compile(r"PuTTY-User-Key-File-\d+:.*?Private-MAC:[ \t]*[0-9a-fA-F]+", re.DOTALL),
        hints=("PuTTY-User-Key-File",),
    ),
    _vendor("anthropic", "ANTHROPIC_KEY", r"sk-ant-[A-Za-z0-9_\-]{16,}", "sk-ant-"),
    _vendor("openai", "OPENAI_KEY", r"sk-(?!ant-)[A-Za-z0-9_\-]{20,}", "sk-", validate=_openai_shaped),
    _vendor(
        "aws_access_key",
        "AWS_KEY",
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}",
    ),
    Detector(
        "aws_secret_key",
        "AWS_KEY",
        "secret",
        # in context only (a bare 40-character base64 string is too common): aws_secret_access_key=,
        # "SecretAccessKey": "...", AWS_SECRET=..., with or without quotes, or after a space
        # (``aws configure set aws_secret_access_key ...``)
        re.compile(
            r"(?i:aws.{0,20}?(?:secret|key|pwd|pw|password|pass|token)|secret_?access_?key)[\w\]'\"]{0,40}?"
            r"(?:[ \t]*(?::=|=>|=|:|,)[ \t]*|[ \t]+)[\"'`]?(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        hints=("aws", "AWS", "Aws", "ecret", "ECRET"),
    ),
    _vendor(
        "github",
        "GITHUB_TOKEN",
        r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{22,}",
        "gh",
        "github_pat_",
    ),
    _vendor(
        "gitlab",
        "GITLAB_TOKEN",
        r"(?:glpat|gldt|glft|glsoat|glrt|glcbt|glimt|glptt|glagent|gloas)-[A-Za-z0-9_\-]{20,}"
        r"|GR1348941[A-Za-z0-9_\-]{20,}",
        "gl",
        "GR1348941",
    ),
    _vendor(
        "slack",
        "SLACK_TOKEN",
        r"xox[abposre]-[0-9A-Za-z][0-9A-Za-z\-]{8,}|xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+"
        r"|https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9_/]+",
        "xox",
        "xapp-",
        "hooks.slack.com",
    ),
    _vendor(
        "google",
        "GOOGLE_KEY",
        r"AIza[0-9A-Za-z_\-]{35}|GOCSPX-[A-Za-z0-9_\-]{28}|ya29\.[0-9A-Za-z_\-]{20,}",
        "AIza",
        "GOCSPX-",
        "ya29.",
    ),
    _vendor(
        "stripe",
        "STRIPE_KEY",
        r"(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{16,}|whsec_[0-9a-zA-Z]{24,}",
        "k_live_",
        "k_test_",
        "whsec_",
        validate=_mixed_alnum,
    ),
    _vendor(
        "jwt",
        "JWT",
        # all three parts (five for an encrypted JWE); the signature may be empty (alg "none")
        r"eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)?",
        "eyJ",
        validate=_jwt,
    ),
    Detector(
        "url_credentials",
        "URL_CREDENTIALS",
        "secret",
        # user:password between :// and the last @ of the authority (detect-secrets' basic-auth URI);
        # the user name may be empty, the password may hold an unescaped @
        re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://(?P<value>[^\s/?#@:\"'<>]*:[^\s/\"'<>]+)@"),
        hints=("://",),
    ),
    Detector("bearer", "BEARER", "secret", find=_bearer, hints=("earer", "EARER")),
    Detector("authorization", "SECRET", "secret", _AUTH_HEADER_RE, hints=("uthorization", "UTHORIZATION")),
    Detector("keyword", "SECRET", "secret", find=_keyword),
)
"""Secrets, most specific first: on spans of equal length an earlier detector's label wins."""
