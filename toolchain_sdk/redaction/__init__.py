"""Redaction: personal data and secrets are taken out of what leaves the process.

``redact(value)`` returns a redacted copy of text or of a nested value: e-mail addresses, phone
numbers, payment cards, IBANs, US SSNs and IP addresses become ``[EMAIL]``, ``[PHONE]``, ...;
API keys and tokens (OpenAI, Anthropic, AWS, GitHub, GitLab, Slack, Google, Stripe), JWTs,
bearer tokens, URL credentials, PEM private keys and ``password=``-style values become
``[OPENAI_KEY]``, ``[JWT]``, ..., ``[SECRET]``. With a hash key configured each label carries a
keyed pseudonym (``[EMAIL:3f9a1c2b]``). ``scrub_text`` / ``scrub`` remove secrets only; the SDK
runs them over every exception message, event and reviewer view. A ``Policy`` chooses the
detectors (``configure(redaction=Policy(disable=["ip"]))``); see ``docs/redaction.md``.
"""

from toolchain_sdk.redaction._find import find
from toolchain_sdk.redaction._model import Detector, Finding, Kind
from toolchain_sdk.redaction._pii import DEFAULT_PHONE_REGION, phone_detector
from toolchain_sdk.redaction._policy import (
    BUILTIN_DETECTORS,
    BUILTIN_VERSION,
    DEFAULT_POLICY,
    Policy,
    active_policy,
    use_policy,
)
from toolchain_sdk.redaction._redact import (
    CYCLE,
    MAX_DEPTH,
    MAX_NODES,
    TOO_DEEP,
    TOO_LARGE,
    UNREDACTABLE,
    redact,
    scrub,
    scrub_text,
)

__all__ = [
    "BUILTIN_DETECTORS",
    "BUILTIN_VERSION",
    "CYCLE",
    "DEFAULT_PHONE_REGION",
    "DEFAULT_POLICY",
    "Detector",
    "Finding",
    "Kind",
    "MAX_DEPTH",
    "MAX_NODES",
    "Policy",
    "TOO_DEEP",
    "TOO_LARGE",
    "UNREDACTABLE",
    "active_policy",
    "find",
    "phone_detector",
    "redact",
    "scrub",
    "scrub_text",
    "use_policy",
]
