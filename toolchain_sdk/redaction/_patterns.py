"""What the built-in scrubber recognises: secrets (API keys, tokens, private keys) and a few kinds of PII.

Patterns are compiled once at import (no I/O). Payment card numbers are confirmed with the Luhn
checksum (python-stdnum) so order numbers and timestamps are not taken for cards.
"""

from __future__ import annotations

import re
from typing import Final

from stdnum import luhn

__all__ = ["REDACTED", "SECRET_KEY_RE", "SECRET_VALUE_RE", "card_number", "us_ssn"]

REDACTED: Final = "[REDACTED]"
"""What a recognised secret or personal value is replaced by."""

SECRET_KEY_RE: Final = re.compile(
    r"pass(word|wd)?|secret|token|api[_-]?key|apikey|authorization|credential|private[_-]?key|cookie|session",
    re.IGNORECASE,
)
"""Mapping keys whose values are secrets whatever they look like."""

SECRET_VALUE_RE: Final = re.compile(
    "|".join(
        f"(?:{p})"
        for p in (
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
            r"\bsk-ant-[A-Za-z0-9_\-]{16,}",  # Anthropic
            r"\b(?:sk|rk|pk)-[A-Za-z0-9_\-]{16,}",  # OpenAI / Stripe-style keys
            r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe
            r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}",  # GitHub
            r"\bglpat-[A-Za-z0-9_\-]{20,}",  # GitLab
            r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",  # Slack
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key id
            r"\bAIza[0-9A-Za-z_\-]{35}\b",  # Google API key
            r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWT
            r"(?i:\bbearer\s+[A-Za-z0-9._\-~+/]{16,}=*)",
            # key=value, also as a quoted mapping entry: password=..., 'password': '...'
            r"(?i:\b(?:password|passwd|pwd|secret|token|api[_-]?key)[\"']?\s*[=:]\s*[\"']?[^\s,;&\"'}]{4,})",
            r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)",  # user:password in a URL
        )
    ),
    re.DOTALL,
)
"""Values that are secrets wherever they appear."""

_SSN_RE: Final = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
_DIGIT_RUN_RE: Final = re.compile(r"(?<![\d-])\d+(?:[ -]\d+)*(?![\d-])")
"""A run of digit groups joined by single spaces or dashes, as card numbers are written."""
_GROUP_RE: Final = re.compile(r"\d+")


def us_ssn(text: str) -> str:
    """``text`` with US social security numbers (``123-45-6789``) replaced."""
    return _SSN_RE.sub(REDACTED, text)


def _cards_in(run: re.Match[str]) -> str:
    """The run with every Luhn-valid 13-19 digit window (on group boundaries) replaced.

    A card written next to another number (``4111 1111 1111 1111 12/27``, ``qty 2 4111 ...``)
    joins one run with it; the card is the window inside the run that passes the checksum.
    """
    text = run.group()
    groups = [(m.start(), m.end()) for m in _GROUP_RE.finditer(text)]
    pieces: list[str] = []
    cursor, i = 0, 0
    while i < len(groups):
        found = None
        for j in range(len(groups) - 1, i - 1, -1):  # the longest valid window starting at group i
            digits = "".join(text[start:end] for start, end in groups[i : j + 1])
            if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
                found = j
                break
        if found is None:
            i += 1
            continue
        pieces.append(text[cursor : groups[i][0]] + REDACTED)
        cursor, i = groups[found][1], found + 1
    return "".join(pieces) + text[cursor:] if pieces else text


def card_number(text: str) -> str:
    """``text`` with payment card numbers (13-19 digits, spaces or dashes allowed, Luhn-valid) replaced."""
    return _DIGIT_RUN_RE.sub(_cards_in, text)
