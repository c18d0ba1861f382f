"""Canonical serialisation and the hashes a reviewer can recompute by hand.

* ``str`` hashes as SHA-256 of its UTF-8 bytes, ``bytes`` as themselves;
* anything else as its canonical JSON: ``json.dumps(v, sort_keys=True, separators=(",", ":"),
  ensure_ascii=False, allow_nan=False)`` encoded as UTF-8, with pydantic models and dataclasses
  dumped to their fields first;
* a stream of ``str``/``bytes`` chunks hashes as their concatenation, any other stream as the
  canonical JSON list of its chunks, computed incrementally in constant memory.

Canonical JSON keeps values, not Python types, so these share a hash, by design: an ``int`` (or
other) dict key and its string (``{1: "a"}`` and ``{"1": "a"}``); a tuple and a list; ``bytes``
inside a structure and their base64 text; a set and the sorted list of its members' canonical
JSON texts (``{3, 1, 2}`` and ``["1", "2", "3"]``); ``Decimal``/``UUID``/paths and their text;
dates and their ISO text; an enum member and its value. A hash is the fingerprint of the JSON a
reviewer can rebuild (``toolchain hash --json``), which is exactly what these pairs share.

With a key (``TOOLCHAIN_HASH_KEY`` or ``configure(hash_key=...)``) every hash is HMAC-SHA256, so
low-entropy values cannot be recovered by guessing; the key id is a short fingerprint of the key.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import decimal
import enum
import hashlib
import hmac
import json
import pathlib
import sys
import uuid
from collections.abc import Mapping
from typing import Literal, Protocol

import pydantic

__all__ = [
    "Digest",
    "Hasher",
    "StreamHasher",
    "canonical_json",
    "key_id",
]

HashAlg = Literal["sha256", "hmac-sha256"]


class Digest(Protocol):
    """What ``hashlib.sha256()`` and ``hmac.new()`` have in common."""

    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...
    def copy(self) -> Digest: ...


def _default(value: object) -> object:
    """Turn the non-JSON types we support into JSON values (used by ``json.dumps``).

    Types are recognised by what they are (``isinstance``, ``dataclasses.is_dataclass``,
    ``attrs.has``), never by having a method of some name: a ``unittest.mock.Mock`` has every
    attribute, and calling into it never ends.
    """
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    attrs_module = sys.modules.get("attr")
    if attrs_module is not None and attrs_module.has(type(value)):
        return attrs_module.asdict(value, recurse=False)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (set, frozenset)):
        return sorted(canonical_json(v).decode("utf-8") for v in value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID, pathlib.PurePath)):
        return str(value)
    raise TypeError(f"cannot hash a {type(value).__qualname__}: not JSON, a dataclass or a pydantic model")


_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
)
"""What ``json.dumps`` with these options builds on every call (its ``encode`` keeps no state)."""


def canonical_json(value: object) -> bytes:
    """Serialise ``value`` canonically (sorted keys, no whitespace, UTF-8) for hashing.

    Raises:
        TypeError: the value holds a type with no canonical form (e.g. an open file, a Mock), or
            is nested too deeply for the encoder.
        ValueError: the value holds NaN or an infinity, or a reference cycle.
    """
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except RecursionError:
        raise TypeError("the value is nested too deeply to hash (about 1,000 levels)") from None


def _as_bytes(value: object) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return canonical_json(value)


def key_id(key: bytes) -> str:
    """A short, non-reversible fingerprint of a hash key, safe to put on spans."""
    return hashlib.sha256(b"toolchain-key-id\x00" + key).hexdigest()[:12]


class Hasher:
    """Hashes values with SHA-256, or HMAC-SHA256 when built with a key."""

    __slots__ = ("_keyed", "alg", "key_id")

    def __init__(self, key: bytes | None = None) -> None:
        # The keyed state is computed once; each hash copies it (OpenSSL's HMAC, about 3x faster
        # than hmac.new per value, and safe to copy from several threads).
        self._keyed = hmac.new(key, digestmod="sha256") if key else None
        self.alg: HashAlg = "hmac-sha256" if key else "sha256"
        self.key_id: str | None = key_id(key) if key else None

    def new(self) -> Digest:
        """A fresh incremental digest object."""
        keyed = self._keyed
        return keyed.copy() if keyed is not None else hashlib.sha256()

    def hash_bytes(self, data: bytes) -> str:
        """Hex digest of raw bytes."""
        keyed = self._keyed
        if keyed is None:
            return hashlib.sha256(data).hexdigest()
        digest = keyed.copy()
        digest.update(data)
        return digest.hexdigest()

    def hash_value(self, value: object) -> str:
        """Hex digest of a value under the rules in the module docstring."""
        return self.hash_bytes(_as_bytes(value))

    def hash_arguments(self, arguments: Mapping[str, object]) -> str:
        """Hex digest of a call's bound arguments (parameter name → value) as canonical JSON.

        An argument with no canonical form (a client object, an open file) stands in as the text
        ``"<unserialisable module.QualName>"``, so the rest of the call still has a hash.
        """
        try:
            return self.hash_bytes(canonical_json(arguments))
        except (TypeError, ValueError):
            return self.hash_bytes(canonical_json({k: _serialisable(v) for k, v in arguments.items()}))

    def stream(self, *, count_only: bool = False) -> StreamHasher:
        """An incremental hasher for a stream of chunks (``count_only``: count them, hash nothing)."""
        return StreamHasher(None if count_only else self.new())


def _serialisable(value: object) -> object:
    """``value`` if it has a canonical form, else the placeholder naming its type."""
    try:
        canonical_json(value)
    except (TypeError, ValueError):
        cls = type(value)
        return f"<unserialisable {cls.__module__}.{cls.__qualname__}>"
    return value


class _NoDigest:
    """The digest of a counting-only stream: takes nothing, has nothing."""

    def update(self, data: bytes, /) -> None:
        raise AssertionError("a counting-only stream hasher hashes nothing")

    def hexdigest(self) -> str:
        raise AssertionError("a counting-only stream hasher has no digest")

    def copy(self) -> Digest:
        return self


_NO_DIGEST = _NoDigest()


class StreamHasher:
    """Hashes a stream chunk by chunk in constant memory.

    ``str``/``bytes`` chunks hash as their concatenation (the same digest as the whole text);
    other chunks as the canonical JSON list of all chunks. The kind is fixed by the first chunk;
    a later chunk of the other kind raises ``TypeError`` (the hash is then left off the span).
    """

    __slots__ = ("_count_only", "_digest", "_mode", "chunks")

    def __init__(self, digest: Digest | None) -> None:
        self._digest: Digest = digest if digest is not None else _NO_DIGEST
        self._count_only = digest is None
        self._mode: Literal["", "text", "json"] = ""
        self.chunks = 0

    def update(self, chunk: object) -> None:
        """Add one yielded chunk."""
        if self._count_only:
            self.chunks += 1
            return
        if type(chunk) is str and self._mode == "text":  # the common case: a stream of text
            self._digest.update(chunk.encode("utf-8"))
            self.chunks += 1
            return
        text = isinstance(chunk, (str, bytes, bytearray, memoryview))
        if not self._mode:
            self._mode = "text" if text else "json"
            if not text:
                self._digest.update(b"[")
        elif (self._mode == "text") != text:
            raise TypeError("a stream mixes text/bytes chunks with other values; its hash is undefined")
        if text:
            self._digest.update(_as_bytes(chunk))
        else:
            if self.chunks:
                self._digest.update(b",")
            self._digest.update(canonical_json(chunk))
        self.chunks += 1

    @property
    def hashing(self) -> bool:
        """Whether chunks are hashed (else only counted: ``capture="none"``, or a chunk had no hash)."""
        return not self._count_only

    def stop_hashing(self) -> None:
        """Go on counting chunks but hash nothing more (a chunk could not be hashed)."""
        self._count_only = True
        self._digest = _NO_DIGEST

    def hexdigest(self) -> str:
        """The digest of everything seen so far (an empty stream hashes as empty text)."""
        if self._mode == "json":
            final = self._digest.copy()
            final.update(b"]")
            return str(final.hexdigest())
        return self._digest.hexdigest()
