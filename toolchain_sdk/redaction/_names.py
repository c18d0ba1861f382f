"""Which names (mapping keys, ``name=`` in text) hold secrets: ``password``, ``api_key``, ``client_secret`` ...

A name is split into words (``clientSecret``, ``client-secret`` and ``CLIENT_SECRET`` are all
``client secret``). It names a secret when one of its words is a secret word, unless its last
word says it is about the secret rather than the secret itself (``token_count``, ``password_policy``).
Plurals are not secret words: ``max_tokens`` and ``prompt_tokens`` are counts, not tokens.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise
from typing import Final

__all__ = ["is_secret_name", "is_weak_secret_name"]

_PART_RE: Final = re.compile(r"[^\W_]+")
_CAMEL_RE: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SECRET_WORDS: Final = frozenset(
    {
        "password", "passwd", "passphrase", "pwd", "pass", "secret", "secrets", "token", "apikey",
        "authorization", "auth", "credential", "credentials", "cookie", "cookies", "session",
        "privatekey", "secretkey", "accesskey", "contrasena", "contraseña", "passwort",
    }
)  # fmt: skip
_SECRET_PAIRS: Final = frozenset(
    {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("auth", "key"),
     ("client", "key"), ("signing", "key"), ("encryption", "key"), ("master", "key"), ("account", "key"),
     ("service", "key"), ("db", "key"), ("priv", "key")}
)  # fmt: skip
_WEAK_WORDS: Final = frozenset({"session", "auth", "pass", "cookie", "cookies", "authorization"})
"""Secret words that are also common in prose and logs (``session: expired``, ``auth: failed``)."""
_ABOUT_WORDS: Final = frozenset(
    {
        "count", "counts", "type", "types", "usage", "limit", "limits", "length", "len", "name", "names",
        "path", "file", "url", "uri", "endpoint", "policy", "arn", "ref", "expiry", "expires", "expiration",
        "ttl", "hint", "field", "label", "format", "kind", "mode", "method", "scheme", "header", "provider",
        "version", "required", "enabled", "rotation", "strength", "min", "max", "prefix", "budget", "index",
        "position", "timeout", "store", "manager", "env", "var", "variable", "source", "location", "reset",
        "seconds", "secs", "sec", "ms", "minutes", "mins", "hours", "days", "size", "bytes", "at", "in", "out",
        "lifetime", "duration", "age", "interval", "algorithm", "alg", "hash", "digest", "fingerprint", "sha256",
    }
)  # fmt: skip


def _words(name: str) -> list[str]:
    """``name`` split into lower-case words (``clientSecret`` -> ``client``, ``secret``)."""
    return [
        word.lower()
        for part in _PART_RE.findall(name)
        for word in (_CAMEL_RE.findall(part) if part.isascii() else [part])
    ]


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a field or key called ``name`` holds a secret (``api_key`` yes, ``token_count`` no)."""
    words = _words(name)
    if not words:
        return False
    hit = any(w in _SECRET_WORDS for w in words) or any(pair in _SECRET_PAIRS for pair in pairwise(words))
    return hit and words[-1] not in _ABOUT_WORDS


@lru_cache(maxsize=4096)
def is_weak_secret_name(name: str) -> bool:
    """Whether ``name`` names a secret only through a word common in prose (``session``, ``auth``)."""
    words = _words(name)
    strong = any(w in _SECRET_WORDS and w not in _WEAK_WORDS for w in words)
    return not strong and not any(pair in _SECRET_PAIRS for pair in pairwise(words))
