"""The built-in personal-data detectors: e-mail addresses, phone numbers, payment cards, IBANs, US SSNs, IPs.

Each finds candidates with a cheap precompiled pattern and confirms them with a well-kept
validator: ``phonenumbers`` for phone numbers, ``python-stdnum`` for the Luhn check, IBAN
checksums and SSN rules, ``ipaddress`` for addresses. Candidates respect token boundaries, so
``ORD-2024-000123``, ``v1.2.3.4`` and ``build 415-555-0132-rc1`` are not taken for phones or IPs.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from typing import Final

import phonenumbers
from stdnum import iban, luhn
from stdnum.us import ssn

from toolchain_sdk.redaction._model import Detector, Span

__all__ = ["DEFAULT_PHONE_REGION", "PII_DETECTORS", "phone_detector"]

DEFAULT_PHONE_REGION: Final = "US"
"""Where a phone number written without ``+country`` is read as dialled from (``(415) 555-0132``)."""

_LOCAL_RE: Final = re.compile(r"[\w%+\-'][\w.%+\-']{0,63}$")
_DOMAIN_RE: Final = re.compile(
    r"[^\W_](?:[\w\-]*[^\W_])?(?:\.[^\W_](?:[\w\-]*[^\W_])?)*\.[^\W\d_]{2,}(?![\w\-]|\.[^\W_])"
)


def _url_user(text: str, start: int, end: int) -> bool:
    """Whether ``user@host`` is a URL's user name (``https://key@sentry.io``) or a git remote
    (``git@github.com:org/repo``): addresses of machines, not of people."""
    return text[max(0, start - 3) : start] == "://" or (
        text[end : end + 1] == ":" and text[end + 1 : end + 2] not in ("", " ")
    )


def _emails(text: str) -> Iterator[Span]:
    """E-mail addresses, found from each ``@``: the local part before it, a dotted domain after it."""
    at = text.find("@")
    while at != -1:
        domain = _DOMAIN_RE.match(text, at + 1)
        local = _LOCAL_RE.search(text, max(0, at - 64), at) if domain else None
        if domain and local and not _url_user(text, local.start(), domain.end()):
            yield local.start(), domain.end()
            at = text.find("@", domain.end())
        else:
            at = text.find("@", at + 1)


# A run of digit groups as phone numbers are written: an optional +, brackets, single spaces, dots,
# dashes or slashes between groups, an optional extension. Not inside a longer token on either side.
_PHONE_RE: Final = re.compile(r"(?:\+|\(\+?)?[0-9][0-9 ().\-/]{5,24}[0-9](?:[ \t]*(?:x|ext\.?|#)[ \t]*[0-9]{1,6})?")
_PHONE_EDGE: Final = frozenset(" \t()")
"""What may separate a phone number from other digits in the same run (not ``-`` or ``.``: ``2024-07-18``)."""


def _trimmed(chunk: str) -> Iterator[tuple[int, str]]:
    """``chunk``, then without one or two space-separated groups at either end: a count or a code
    next to a number joins its run (``qty 2 415 555 0132``, ``415 555 0132 2 times``)."""
    yield 0, chunk
    spaces = [i for i, c in enumerate(chunk) if c == " "]
    for i in spaces[:2]:
        yield i + 1, chunk[i + 1 :]
    for i in reversed(spaces[-2:]):
        yield 0, chunk[:i]


_NANP_RE: Final = re.compile(
    r"(?:\+1[ .\-]?(?:\([0-9]{3}\)[ ]?|[0-9]{3}[ .\-])[0-9]{3}[ .\-]"
    r"|(?:1[ .\-]?)?(?:\([0-9]{3}\)[ ]?[0-9]{3}[ .\-]|[0-9]{3}([.\-])[0-9]{3}\1))[0-9]{4}"
    r"(?:[ \t]*(?:x|ext\.?|#)[ \t]*[0-9]{1,6})?"
)
"""A number written the North American way, 3-3-4 with dashes or dots or with the area code in brackets:
a phone number even when it is not an assigned one (``555-123-4567``, ``(555) 123-4567``,
``+1 555 123 4567``). Not with spaces alone and no ``+1``: ``555 123 4567`` may be three numbers."""
_DATE_RE: Final = re.compile(r"[0-9]{4}([\-./])[0-9]{1,2}\1[0-9]{1,2}|[0-9]{1,2}([\-./])[0-9]{1,2}\2[0-9]{4}")
_EXTENSION_RE: Final = re.compile(r"[ \t]*(?:x|ext\.?|#)[ \t]*[0-9]{1,6}$")


def _bounded(text: str, start: int, end: int, *, before: str, joiners: str, letters: bool = True) -> bool:
    """Whether ``text[start:end]`` is a token of its own: no digit (nor letter, with ``letters``) and
    none of ``before`` just before it; no digit (nor letter) just after it, nor one of ``joiners``
    followed by a letter or digit (``ORD-2024-000123``, ``v1.2.3.4``, ``415-555-0132-rc1``)."""

    def joins(ch: str) -> bool:
        return ch.isdigit() or (letters and (ch.isalpha() or ch == "_"))

    if start and (joins(text[start - 1]) or text[start - 1] in before):
        return False
    if end < len(text):
        after = text[end]
        if joins(after) or (after in joiners and end + 1 < len(text) and joins(text[end + 1])):
            return False
    return True


def _national_shape(region: str) -> Callable[[str], bool]:
    """A cheap test of a run of digits against ``region``'s national number pattern (phonenumbers'
    metadata), with or without its trunk prefix: ``1712550361`` (a Unix time) is no US number."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    desc = metadata.general_desc if metadata is not None else None
    if metadata is None or desc is None or not desc.national_number_pattern:
        return lambda digits: 5 <= len(digits) <= 15
    pattern = re.compile(desc.national_number_pattern)
    prefix = metadata.national_prefix or ""

    def shaped(digits: str) -> bool:
        if pattern.fullmatch(digits):
            return True
        return bool(prefix) and digits.startswith(prefix) and bool(pattern.fullmatch(digits[len(prefix) :]))

    return shaped


def _phones(region: str) -> Detector:
    """A phone detector reading national numbers as dialled from ``region``.

    Candidates are runs of digit groups at token boundaries; the cheap checks (the region's national
    number pattern, not a date, a version or an IP address) come first, then ``phonenumbers``'
    matcher with ``STRICT_GROUPING``: the number must be valid and grouped as its country writes it.
    """
    national = _national_shape(region)
    nanp = phonenumbers.country_code_for_region(region) == 1

    def plausible(chunk: str) -> bool:
        body = _EXTENSION_RE.sub("", chunk)
        if body.count(".") > 2 or _DATE_RE.fullmatch(body):
            return False  # a version, an IP address or a date
        if nanp and _NANP_RE.fullmatch(chunk):
            return True
        digits = "".join(c for c in body if c.isdigit())
        if body.lstrip("(").startswith(("+", "00", "011")):
            return 7 <= len(digits) <= 18
        return national(digits)

    def matches(chunk: str) -> list[Span]:
        found = []
        for match in phonenumbers.PhoneNumberMatcher(chunk, region, leniency=phonenumbers.Leniency.STRICT_GROUPING):
            before = chunk[match.start - 1] if match.start else " "
            after = chunk[match.end] if match.end < len(chunk) else " "
            if before in _PHONE_EDGE and after in _PHONE_EDGE:
                found.append((match.start, match.end))
        if not found and nanp and (shaped := _NANP_RE.fullmatch(chunk)):
            found.append(shaped.span())  # (555) 123-4567: written as a phone number, if not an assigned one
        return found

    def find(text: str) -> Iterator[Span]:
        pos = 0
        while (candidate := _PHONE_RE.search(text, pos)) is not None:
            pos = candidate.start() + 1  # a rejected run may end inside a number that starts after it
            if not _bounded(text, candidate.start(), candidate.end(), before="+-./", joiners=".-/:"):
                continue
            for offset, part in _trimmed(candidate.group()):
                found = matches(part) if plausible(part) else []
                if found:
                    for start, end in found:
                        yield candidate.start() + offset + start, candidate.start() + offset + end
                    pos = candidate.end()
                    break

    return Detector("phone", "PHONE", "pii", find=find)


def phone_detector(region: str = DEFAULT_PHONE_REGION) -> Detector:
    """The ``phone`` detector for another default region (``phone_detector("GB")`` reads ``020 7946 0958``).

    Use it in a policy in place of the built-in one:
    ``Policy(disable=["phone"], extra=[phone_detector("GB")])``.
    """
    return _phones(region.upper())


# Cards: 13-19 digits, plain or in groups separated by single spaces or dashes.
_NUMERIC_RE: Final = re.compile(r"[0-9][0-9 \-]{11,}[0-9]")
_UUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
"""A UUID can hold a Luhn-valid 4-4-4-4 run of digits (``3dab4845-5894-4384-9768-be89...``): not a card."""
_DIGITS_RE: Final = re.compile(r"[0-9]+(?:[ \-][0-9]+)*")
_GROUP_RE: Final = re.compile(r"[0-9]+")
_CARD_GROUPINGS: Final = frozenset({(4, 6, 5), (4, 6, 4)})  # American Express, Diners Club


def _card_grouping(sizes: tuple[int, ...]) -> bool:
    """How card numbers are written: one run, groups of four (the last may be shorter), or 4-6-5 / 4-6-4."""
    return len(sizes) == 1 or sizes in _CARD_GROUPINGS or (all(n == 4 for n in sizes[:-1]) and sizes[-1] <= 4)


def _cards(text: str) -> Iterator[Span]:
    """Luhn-valid card numbers (issuer digit 2-6: Mastercard, Amex, Visa, Discover, JCB, UnionPay ...).

    A card written next to another number (``4111 1111 1111 1111 12/27``, ``qty 2 4111 ...``) joins
    one run with it; the card is the longest window of groups inside the run that passes. Digits
    inside a UUID are not a card.
    """
    uuids: list[Span] | None = None
    for stretch in _NUMERIC_RE.finditer(text):
        for start, end in _cards_in(text, stretch.start(), stretch.end()):
            if uuids is None:
                uuids = [m.span() for m in _UUID_RE.finditer(text)] if "-" in text else []
            if not any(u_start <= start and end <= u_end for u_start, u_end in uuids):
                yield start, end


def _cards_in(text: str, start: int, end: int) -> Iterator[Span]:
    """The cards in ``text[start:end]``, a stretch of digits, spaces and dashes."""
    for run in _DIGITS_RE.finditer(text, start, end):
        if run.end() - run.start() < 13:
            continue
        groups = [(m.start(), m.end()) for m in _GROUP_RE.finditer(run.group())]
        base, i = run.start(), 0
        while i < len(groups):
            found = None
            for j in range(len(groups) - 1, i - 1, -1):
                sizes = tuple(end - start for start, end in groups[i : j + 1])
                total = sum(sizes)
                if total < 13:
                    break
                if total > 19 or not _card_grouping(sizes):
                    continue
                digits = "".join(run.group()[start:end] for start, end in groups[i : j + 1])
                if digits[0] in "23456" and luhn.is_valid(digits):
                    found = j
                    break
            if found is None:
                i += 1
                continue
            yield base + groups[i][0], base + groups[found][1]
            i = found + 1


_IBAN_RE: Final = re.compile(r"[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,30}(?![a-z0-9])")


def _ibans(text: str) -> Iterator[Span]:
    """IBANs (country code, check digits, account), plain or in groups of four, checksum-checked."""
    pos = 0
    while (run := _IBAN_RE.search(text, pos)) is not None:
        if run.start() and text[run.start() - 1].isalnum():
            pos = run.start() + 1  # inside a longer word
            continue
        chunk = run.group()
        cuts = [m.end() for m in re.finditer(r"[A-Z0-9](?= |$)", chunk)] or [len(chunk)]
        for cut in sorted({*cuts, len(chunk)}, reverse=True):  # the longest prefix that is an IBAN
            if iban.is_valid(chunk[:cut]):
                yield run.start(), run.start() + cut
                pos = run.start() + cut
                break
        else:
            pos = run.start() + 1


_SSN_RE: Final = re.compile(r"[0-9]{3}([ \-])[0-9]{2}\1[0-9]{4}")
_IPV4_RE: Final = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")
_IPV6_RE: Final = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9A-Fa-f]{0,4})(?![\w:]|\.[0-9])"
)


_PUBLISHED_SSNS: Final = frozenset({"078-05-1120", "219-09-9999", "457-55-5462"})
"""Numbers python-stdnum rejects as advertised, but that were issued to real people and are still
typed into forms (``078-05-1120`` came printed in wallets): redacted like any SSN."""


_NAMED_SSN_RE: Final = re.compile(
    r"(?i:ssn|social[ _\-]?security(?:[ _\-]?(?:number|no\.?|num|#))?)[\"']?[ \t]*[:=#]?[ \t]*[\"']?"
    r"(?<![0-9])(?P<value>[0-9]{9})(?![0-9])"
)
"""Nine digits without separators count as an SSN only when named one (``SSN: 123456789``)."""


def _ssns(text: str) -> Iterator[Span]:
    """US SSNs (``123-45-6789``, ``123 45 6789``, or nine digits after ``SSN``) under the SSA's rules:
    no 000/666/9xx area, no 00 group, no 0000 serial (python-stdnum); not inside a longer number."""
    pos = 0
    while (m := _SSN_RE.search(text, pos)) is not None:
        start, end = m.span()
        number = m.group().replace(" ", "-")
        if _bounded(text, start, end, before="-", joiners="-", letters=False) and (
            number in _PUBLISHED_SSNS or ssn.is_valid(number)
        ):
            yield start, end
            pos = end
        else:
            pos = start + 1
    lowered = text.lower()
    if "ssn" in lowered or "security" in lowered:
        for m in _NAMED_SSN_RE.finditer(text):
            digits = m.group("value")
            number = f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"
            if number in _PUBLISHED_SSNS or ssn.is_valid(number):
                yield m.span("value")


def _ips(text: str) -> Iterator[Span]:
    """IPv4 addresses (dotted quads, each octet 0-255) and IPv6 addresses (checked by ``ipaddress``).

    Loopback and unspecified addresses (``127.x.x.x``, ``0.x.x.x``, ``::1``) identify no one and are kept.
    """
    pos = 0
    while (m := _IPV4_RE.search(text, pos)) is not None:
        start, end = m.span()
        octets = [int(o) for o in m.group().split(".")]
        if _bounded(text, start, end, before=".", joiners=".") and max(octets) <= 255 and octets[0] not in (0, 127):
            yield start, end
            pos = end
        else:
            pos = start + 1
    if "::" in text or text.count(":") >= 7:
        for m in _IPV6_RE.finditer(text):
            candidate = m.group()
            if sum(c in "0123456789abcdefABCDEF" for c in candidate) < 4:
                continue  # '::1', 'a::b' (code) are not worth a finding
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            yield m.span()


PII_DETECTORS: Final[tuple[Detector, ...]] = (
    Detector("email", "EMAIL", "pii", find=_emails, hints=("@",)),
    Detector("iban", "IBAN", "pii", find=_ibans),
    Detector("card", "CARD", "pii", find=_cards),
    Detector("ssn", "SSN", "pii", find=_ssns),
    Detector("ip", "IP", "pii", find=_ips),
    _phones(DEFAULT_PHONE_REGION),
)
"""Personal data; on spans of equal length an earlier detector's label wins (an IP before a phone)."""
