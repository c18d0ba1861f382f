#!/usr/bin/env python3
"""Write ``generated.txt``: realistic documents with planted personal data, secrets and near-misses.

Deterministic (a fixed seed), so the corpus only changes when this script does:

    .venv/bin/python tests/data/redaction/generate.py

Every planted value is annotated ``⟪LABEL|value⟫``; the filler around it (order numbers, versions,
timestamps, UUIDs, git SHAs, prices, Luhn-failing numbers) is not, and must survive. Values are
made here with their own rules (Luhn, IBAN check digits, SSA ranges), not with the SDK's detectors.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable
from pathlib import Path

import phonenumbers
from stdnum import iban

OUT = Path(__file__).resolve().parent / "generated.txt"
R = random.Random(13)
B62 = string.ascii_letters + string.digits

FIRST = ["ann", "bo", "chen", "dara", "eli", "fatima", "gus", "hiro", "ines", "jonas", "kofi", "lena", "zoë", "józef"]
LAST = ["smith", "okafor", "müller", "tanaka", "silva", "novak", "kowalski", "nguyen", "haddad", "o'brien"]
DOMAINS = ["gmail.com", "outlook.com", "acme-corp.io", "example.com", "mail.co.uk", "web.de", "firma.example.org"]
REGIONS = ["GB", "DE", "FR", "IN", "BR", "JP", "AU", "ES", "NL"]


def rand(alphabet: str, n: int) -> str:
    return "".join(R.choice(alphabet) for _ in range(n))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def luhn_complete(payload: str) -> str:
    """``payload`` plus the digit that makes it pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return payload + str((10 - total % 10) % 10)


# --- planted values ---------------------------------------------------------------------------
def email() -> str:
    return f"{R.choice(FIRST)}{R.choice(['.', '_', '', '+'])}{R.choice(LAST)}@{R.choice(DOMAINS)}".replace("+", "+tag.")


def phone() -> str:
    if R.random() < 0.5:
        area = R.choice(["212", "415", "646", "303", "617", "206", "512", "312"])
        line = f"01{R.randint(0, 99):02d}"
        return R.choice([f"({area}) 555-{line}", f"+1 {area} 555 {line}", f"{area}-555-{line}", f"{area}.555.{line}"])
    region = R.choice(REGIONS)
    base = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    while True:
        national = str(base.national_number)
        candidate = phonenumbers.parse(f"+{base.country_code}{national[:-3]}{R.randint(0, 999):03d}")
        if phonenumbers.is_valid_number(candidate):
            return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def card() -> str:
    kind = R.choice(["visa", "mc", "amex", "discover"])
    if kind == "amex":
        number = luhn_complete(R.choice(["34", "37"]) + rand(string.digits, 12))
        return R.choice([number, f"{number[:4]} {number[4:10]} {number[10:]}"])
    prefix = {"visa": "4", "mc": R.choice(["51", "52", "53", "54", "55", "22"]), "discover": "6011"}[kind]
    number = luhn_complete(prefix + rand(string.digits, 15 - len(prefix)))
    sep = R.choice(["", " ", "-"])
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


def iban_number() -> str:
    country, length = R.choice([("DE", 18), ("NL", 0), ("GB", 0), ("FR", 0)])
    if country == "DE":
        bban = rand(string.digits, length)
    elif country == "NL":
        bban = R.choice(["ABNA", "RABO", "INGB"]) + rand(string.digits, 10)
    elif country == "GB":
        bban = R.choice(["WEST", "NWBK", "BARC"]) + rand(string.digits, 14)
    else:
        bban = rand(string.digits, 10) + rand(string.ascii_uppercase + string.digits, 11) + rand(string.digits, 2)
    number = country + iban.calc_check_digits(country + "00" + bban) + bban
    if not iban.is_valid(number):
        return iban_number()
    return R.choice([number, " ".join(number[i : i + 4] for i in range(0, len(number), 4))])


def ssn() -> str:
    area = R.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{R.randint(1, 99):02d}-{R.randint(1, 9999):04d}"


def ip() -> str:
    if R.random() < 0.75:
        return ".".join(str(R.randint(1, 254)) for _ in range(4)).replace("127.", "128.", 1)
    groups = [f"{R.randint(0, 0xFFFF):x}" for _ in range(8)]
    return R.choice([":".join(groups), f"2001:db8:{groups[2]}::{groups[7]}"])


def openai_key() -> str:
    return R.choice(["sk-proj-" + rand(B62 + "-_", 100), "sk-" + rand(B62, 48), "sk-svcacct-" + rand(B62, 60)])


def anthropic_key() -> str:
    return f"sk-ant-api03-{rand(B62 + '-_', 93)}AA"


def aws_access_key() -> str:
    return R.choice(["AKIA", "ASIA"]) + rand(string.ascii_uppercase + string.digits, 16)


def aws_secret() -> str:
    return rand(B62 + "/+", 40)


def github_token() -> str:
    return R.choice(["ghp_", "gho_", "ghs_"]) + rand(B62, 36)


def gitlab_token() -> str:
    return "glpat-" + rand(B62 + "-_", 20)


def slack_token() -> str:
    return f"xoxb-{rand(string.digits, 11)}-{rand(string.digits, 12)}-{rand(B62, 24)}"


def google_key() -> str:
    return "AIza" + rand(B62 + "-_", 35)


def stripe_key() -> str:
    return R.choice(["sk_live_", "rk_live_", "sk_test_"]) + rand(B62, 24) + R.choice(string.digits)


def jwt() -> str:
    header = b64url(json.dumps({"alg": R.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}).encode())
    payload = b64url(
        json.dumps({"sub": rand(B62, 10), "iat": R.randint(1_600_000_000, 1_800_000_000), "scope": "read"}).encode()
    )
    return f"{header}.{payload}.{b64url(R.randbytes(32))}"


def pem() -> str:
    kind = R.choice(["RSA ", "EC ", "", "OPENSSH ", "ENCRYPTED "])
    body = "\n".join(base64.b64encode(R.randbytes(48)).decode() for _ in range(R.randint(2, 5)))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


def user_password() -> str:
    return f"svc_{rand(string.ascii_lowercase, 5)}:{password()}"


def password() -> str:
    return rand(B62 + "!#%*_-", R.randint(10, 20))


# --- filler that must survive -----------------------------------------------------------------
def order() -> str:
    return f"ORD-{R.randint(2019, 2025)}-{R.randint(0, 999999):06d}"


def version() -> str:
    return R.choice(
        [f"{R.randint(0, 12)}.{R.randint(0, 40)}.{R.randint(0, 30)}", f"v{R.randint(1, 5)}.{R.randint(0, 9)}"]
    )


def timestamp() -> str:
    day = f"{R.randint(2020, 2025)}-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}"
    clock = f"{R.randint(0, 23):02d}:{R.randint(0, 59):02d}:{R.randint(0, 59):02d}"
    return R.choice([f"{day}T{clock}Z", f"{day} {clock}", str(R.randint(1_600_000_000, 1_800_000_000))])


def bad_card() -> str:
    number = luhn_complete("4" + rand(string.digits, 14))
    return number[:-1] + str((int(number[-1]) + R.randint(1, 9)) % 10)


def sha() -> str:
    return R.randbytes(20).hex()


def price() -> str:
    return f"{R.randint(1, 2000)}.{R.randint(0, 99):02d}"


def uid() -> str:
    return str(uuid.UUID(bytes=R.randbytes(16), version=4))


def a(label: str, value: str) -> str:
    return f"⟪{label}|{value}⟫"


# --- documents --------------------------------------------------------------------------------
def ticket() -> str:
    who = R.choice(FIRST).title()
    lines = [
        f"Subject: problem with order {order()}",
        "",
        f"Hi, this is {who}. I was charged {price()} twice on {timestamp()}.",
        R.choice(
            [
                f"Card used: {a('CARD', card())}, the one ending {rand(string.digits, 4)}.",
                f"Please refund to {a('IBAN', iban_number())} instead of the card.",
                f"My SSN {a('SSN', ssn())} was asked for on the form, why?",
            ]
        ),
        f"You can reach me at {a('EMAIL', email())} or {a('PHONE', phone())}.",
        f"(app version {version()}, reference {uid()}, not card {bad_card()})",
    ]
    return "\n".join(lines)


def log() -> str:
    ts = timestamp()
    secret = R.choice(
        [
            lambda: f'auth header="Bearer {a("JWT", jwt())}"',
            lambda: f"key={a('OPENAI_KEY', openai_key())}",
            lambda: f"x-api-key: {a('ANTHROPIC_KEY', anthropic_key())}",
            lambda: (
                f"AWS_ACCESS_KEY_ID={a('AWS_KEY', aws_access_key())} AWS_SECRET_ACCESS_KEY={a('AWS_KEY', aws_secret())}"
            ),
            lambda: f"token={a('GITHUB_TOKEN', github_token())}",
            lambda: f"runner token {a('GITLAB_TOKEN', gitlab_token())}",
            lambda: f"slack={a('SLACK_TOKEN', slack_token())}",
            lambda: f"maps key {a('GOOGLE_KEY', google_key())}",
            lambda: f"stripe {a('STRIPE_KEY', stripe_key())}",
            lambda: f"dsn=postgres://{a('URL_CREDENTIALS', user_password())}@db.internal:5432/app",
            lambda: f"password={a('SECRET', password())}",
            lambda: f"Authorization: Bearer {a('BEARER', rand('0123456789abcdef', 40))}",
        ]
    )()
    return "\n".join(
        [
            f"{ts} INFO request id={uid()} client={a('IP', ip())} user={a('EMAIL', email())} ms={R.randint(3, 900)}",
            f"{ts} DEBUG outbound {secret}",
            f"{ts} INFO done build={version()} commit={sha()} tokens_in={R.randint(10, 5000)} max_tokens=256",
        ]
    )


def json_body() -> str:
    body = {
        "order_id": order(),
        "created": timestamp(),
        "customer": {"email": "@@EMAIL@@", "phone": "@@PHONE@@", "note": "call after 5pm"},
        "items": [{"sku": f"SKU-{R.randint(100, 999)}", "qty": R.randint(1, 5), "price": price()}],
        "usage": {"prompt_tokens": R.randint(10, 4000), "completion_tokens": R.randint(1, 800)},
        "trace": uid(),
    }
    text = json.dumps(body, ensure_ascii=False)
    return text.replace("@@EMAIL@@", a("EMAIL", email())).replace("@@PHONE@@", a("PHONE", phone()))


def code() -> str:
    maker: Callable[[], str] = R.choice(
        [
            lambda: f'client = Client(api_key="{a("OPENAI_KEY", openai_key())}", timeout=30)',
            lambda: f'DB_PASSWORD = "{a("SECRET", password())}"',
            lambda: f'PRIVATE_KEY = """{a("PRIVATE_KEY", pem())}"""',
            lambda: f'aws_secret_access_key = "{a("AWS_KEY", aws_secret())}"',
            lambda: f'headers = {{"Authorization": "Bearer {a("JWT", jwt())}"}}',
            lambda: f'STRIPE = "{a("STRIPE_KEY", stripe_key())}"',
        ]
    )
    return "\n".join(
        [
            f"# generated {timestamp()} by tool {version()}",
            maker(),
            f'ORDER = "{order()}"  # not a phone number',
            f"assert not is_card('{bad_card()}')",
            f'MODEL = "gpt-4o-2024-08-06"; MAX_TOKENS = {R.choice([256, 4096])}',
        ]
    )


def main() -> None:
    """Write the documents, separated by ``%%%`` lines."""
    makers = [ticket, log, json_body, code]
    docs = [R.choice(makers)() for _ in range(400)]
    OUT.write_text("\n%%%\n".join(docs) + "\n", encoding="utf-8")
    print(f"wrote {len(docs)} documents to {OUT}")


if __name__ == "__main__":
    main()
