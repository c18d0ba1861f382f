"""Redaction: what leaves the process has secrets and personal data taken out first.

Today: the built-in scrubber, run by the SDK over every exception message, stack trace, span
status description and event attribute it exports, and over what a reviewer sees of an approval
request. It recognises API keys and tokens (OpenAI, Anthropic, AWS, GitHub, GitLab, Slack,
Google, Stripe), JWTs, bearer tokens, private key blocks, ``password=``-style assignments,
credentials in URLs, US social security numbers and (Luhn-checked) payment card numbers.
"""

from toolchain_sdk.redaction._patterns import REDACTED
from toolchain_sdk.redaction._scrub import MAX_DEPTH, TOO_DEEP, scrub, scrub_text

__all__ = ["MAX_DEPTH", "REDACTED", "TOO_DEEP", "scrub", "scrub_text"]
