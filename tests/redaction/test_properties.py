"""Properties of redaction on open-ended input (hypothesis): nothing planted survives, twice is once, nothing raises."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import re
import string

import pydantic
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from toolchain_sdk import config
from toolchain_sdk.hashing import Hasher
from toolchain_sdk.redaction import UNREDACTABLE, redact, scrub_text

B62 = string.ascii_letters + string.digits
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def token(prefix: str, alphabet: str, size: int) -> st.SearchStrategy[str]:
    """``prefix`` and ``size`` characters of ``alphabet`` holding at least one upper-case letter and one digit."""
    body = st.text(alphabet, min_size=size - 2, max_size=size - 2)
    return st.builds(lambda b, u, d: prefix + u + b + d, body, st.sampled_from("ABCXYZ"), st.sampled_from("0123456789"))


@st.composite
def jwts(draw: st.DrawFn) -> str:
    """A JWT: a JSON header, a JSON payload and a signature, base64url without padding."""
    header = {"alg": draw(st.sampled_from(["HS256", "RS256", "none"])), "typ": "JWT"}
    payload = {"sub": draw(st.text(B62, min_size=1, max_size=12)), "n": draw(st.integers(0, 10**9))}
    signature = draw(st.binary(min_size=16, max_size=64))

    def enc(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    return ".".join([enc(json.dumps(header).encode()), enc(json.dumps(payload).encode()), enc(signature)])


@st.composite
def pems(draw: st.DrawFn) -> str:
    """A PEM private key block of any key type."""
    kind = draw(st.sampled_from(["RSA ", "EC ", "", "OPENSSH ", "DSA ", "ENCRYPTED "]))
    lines = draw(st.lists(st.binary(min_size=24, max_size=48), min_size=1, max_size=4))
    body = "\n".join(base64.b64encode(line).decode() for line in lines)
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


def luhn_complete(payload: str) -> str:
    """``payload`` plus its Luhn check digit (computed here, not by the SDK)."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return payload + str((10 - total % 10) % 10)


@st.composite
def cards(draw: st.DrawFn) -> str:
    """A Luhn-valid card number (issuer digit 2-6), plain, in groups of four with spaces or dashes, or Amex 4-6-5."""
    if draw(st.booleans()):
        number = luhn_complete(
            draw(st.sampled_from(["34", "37"])) + draw(st.text("0123456789", min_size=12, max_size=12))
        )
        return draw(st.sampled_from([number, f"{number[:4]} {number[4:10]} {number[10:]}"]))
    number = luhn_complete(draw(st.sampled_from("23456")) + draw(st.text("0123456789", min_size=14, max_size=14)))
    return draw(st.sampled_from(["", " ", "-"])).join(number[i : i + 4] for i in range(0, 16, 4))


SHAPED_SECRETS = st.one_of(
    token("sk-proj-", B62 + "-_", 64),
    token("sk-", B62, 48),
    token("sk-ant-api03-", B62 + "-_", 93),
    token("AKIA", string.ascii_uppercase + string.digits, 16),
    token("ghp_", B62, 36),
    token("github_pat_", B62 + "_", 82),
    token("glpat-", B62 + "-_", 20),
    token("xoxb-", string.digits + "-", 24),
    token("AIza", B62 + "-_", 35),
    token("sk_live_", B62, 24),
    jwts(),
    pems(),
)
"""Secrets recognisable by their shape alone: whatever is glued to them, they must go."""

CONTEXT_SECRETS = st.one_of(
    st.builds(
        "password={}{}".format, st.text(B62 + "!#%*_-.@", min_size=6, max_size=30), st.sampled_from("0123456789")
    ),
    st.builds(
        '"api_key": "{}{}"'.format, st.text(B62 + " !#%*_-.@", min_size=6, max_size=30), st.sampled_from("0123456789")
    ),
    st.builds("Authorization: Bearer {}".format, st.text(B62 + "-._~+/", min_size=20, max_size=60)),
    st.builds("aws_secret_access_key = {}".format, st.text(B62 + "/+", min_size=40, max_size=40)),
    st.builds("https://svc:{}@db.internal/app".format, st.text(B62 + "!*-_.~", min_size=6, max_size=30)),
)
"""Secrets recognised by what names them (``password=``); the value after the name is what must go."""

anything = st.text(max_size=40)
unicode_text = st.text(st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=300)
@given(prefix=unicode_text, secret=SHAPED_SECRETS, suffix=unicode_text)
def test_a_shaped_secret_never_survives_whatever_surrounds_it(prefix: str, secret: str, suffix: str) -> None:
    """Keys, tokens, JWTs and PEM blocks glued to any text (no separator, punctuation, Unicode) do not come out."""
    out = scrub_text(prefix + secret + suffix)
    assert secret not in out
    assert redact(prefix + secret + suffix) != prefix + secret + suffix


@settings(max_examples=300)
@given(prefix=unicode_text, secret=CONTEXT_SECRETS, suffix=unicode_text, left=st.sampled_from(" \n\t,;({[\"'"))
def test_a_named_secret_never_survives_whatever_surrounds_it(prefix: str, secret: str, suffix: str, left: str) -> None:
    """The value after ``password=``, ``"api_key":``, ``Bearer``, an AWS secret name or in a URL does not come out."""
    value = secret.split("=", 1)[-1] if secret.startswith("password=") else None
    value = value or re.split(r"\": \"|Bearer |= |svc:", secret, maxsplit=1)[1].split('"')[0].split("@db.internal")[0]
    assume(not suffix[:1].isalnum() and value not in prefix and value not in suffix)
    out = scrub_text(prefix + left + secret + " " + suffix)
    assert value not in out


@settings(max_examples=300)
@given(prefix=unicode_text, card=cards(), suffix=unicode_text)
def test_a_card_number_never_survives_whatever_surrounds_it(prefix: str, card: str, suffix: str) -> None:
    """A Luhn-valid card glued to text that does not extend its digits (or make a UUID) does not come out."""
    assume(not prefix[-1:].isdigit() and not suffix[:1].isdigit())
    assume(not (prefix[-1:] in " -" and prefix[-2:-1].isdigit()) and not (suffix[:1] in " -" and suffix[1:2].isdigit()))
    text = prefix + card + suffix
    assume(not any(m.start() <= len(prefix) < m.end() for m in UUID_RE.finditer(text)))
    out = redact(text)
    assert isinstance(out, str)
    assert card not in out
    assert card.replace(" ", "").replace("-", "") not in out.replace(" ", "").replace("-", "")


GLUE = ["", " ", "\n", ",", "=", ":", "@", "-", ".", '"', "'", "(", ";", "<"]
pieces = st.one_of(
    anything,
    unicode_text,
    SHAPED_SECRETS,
    CONTEXT_SECRETS,
    cards(),
    st.sampled_from(["ann@corp.io", "(415) 555-0132", "+44 20 7946 0958", "536-22-1874", "203.0.113.9",
                     "GB82 WEST 1234 5698 7654 32", "2001:db8::1:2", "ORD-2024-000123", "[EMAIL]", "[", "]", ":"]),
)  # fmt: skip


@settings(max_examples=500)
@given(st.lists(pieces, max_size=8), st.lists(st.sampled_from(GLUE), max_size=8))
def test_redaction_is_idempotent(parts: list[str], glue: list[str]) -> None:
    """Redacting redacted text changes nothing, for redact() and scrub_text(), with or without a hash key."""
    text = "".join(p + (glue[i] if i < len(glue) else "") for i, p in enumerate(parts))
    once = redact(text)
    assert isinstance(once, str) and once != UNREDACTABLE
    assert redact(once) == once
    scrubbed = scrub_text(text)
    assert scrub_text(scrubbed) == scrubbed
    config._hasher = Hasher(b"property-key")
    try:
        keyed = redact(text)
        assert redact(keyed) == keyed
    finally:
        config._hasher = Hasher(None)


class Broken:
    """An object whose text and repr both raise (while ``armed``: hypothesis must be able to print it)."""

    armed = False

    def __str__(self) -> str:
        if Broken.armed:
            raise RuntimeError("no str")
        return "Broken()"

    def __repr__(self) -> str:
        if Broken.armed:
            raise RuntimeError("no repr")
        return "Broken()"


@dataclasses.dataclass
class Ticket:
    """A dataclass leaf: redact walks its fields."""

    body: object
    n: int = 0


class Message(pydantic.BaseModel):
    """A pydantic leaf: redact walks its dump."""

    text: str
    tags: tuple[str, ...] = ()


leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**300, max_value=10**5000), st.floats(),
    st.text(), st.binary(), st.builds(Broken), st.builds(bytearray, st.binary()), cards(), SHAPED_SECRETS,
    st.builds(Ticket, st.one_of(st.text(), cards(), st.builds(Broken)), st.integers()),
    st.builds(Message, text=st.text(), tags=st.tuples(st.text(max_size=5), SHAPED_SECRETS)),
)  # fmt: skip
keys = st.one_of(st.text(max_size=10), st.integers(), st.tuples(st.integers(), st.text(max_size=3)), st.builds(Broken))
nested = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(keys, children, max_size=4),
        st.frozensets(st.one_of(st.integers(), st.text(max_size=5), st.builds(Broken)), max_size=3),
    ),
    max_leaves=30,
)


@settings(max_examples=200)
@given(nested, st.booleans(), st.booleans())
def test_redact_never_raises_on_arbitrary_nested_input(value: object, cyclic: bool, secrets_only: bool) -> None:
    """Any nesting of odd values (huge ints, bytes, NaN, broken __str__/__repr__, odd keys, cycles,
    dataclasses, pydantic models) gives JSON."""
    if cyclic and isinstance(value, list):
        value.append(value)
    if cyclic and isinstance(value, dict):
        value["self"] = value
    Broken.armed = True
    try:
        out = redact(value, secrets_only=secrets_only)
    finally:
        Broken.armed = False
    text = json.dumps(out, default=lambda o: (_ for _ in ()).throw(TypeError(type(o))))
    assert isinstance(text, str)
    if isinstance(value, float) and not math.isnan(value):
        assert out == value
