"""``redact`` and ``scrub``: a redacted copy of text or of any nested value, failing closed.

Structures (mappings, lists, tuples, sets, dataclasses, pydantic models) come back as JSON-like
copies with their keys kept and their values redacted; values under secret-naming keys
(``password``, ``api_key``, ...) are replaced whole. The walk is bounded (``MAX_DEPTH`` levels,
``MAX_NODES`` values, cycles cut), and anything that cannot be redacted becomes a placeholder,
never the raw value.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import enum
from collections import deque
from collections.abc import Mapping
from typing import Final

import pydantic

from toolchain_sdk.redaction._find import Marker, findings, marker_maker, replace
from toolchain_sdk.redaction._model import Detector
from toolchain_sdk.redaction._names import is_secret_name
from toolchain_sdk.redaction._policy import Policy, active_policy

__all__ = [
    "CYCLE",
    "MAX_DEPTH",
    "MAX_NODES",
    "TOO_DEEP",
    "TOO_LARGE",
    "UNREDACTABLE",
    "redact",
    "scrub",
    "scrub_text",
]

MAX_DEPTH: Final = 64
"""How deep ``redact`` walks nested containers; a container deeper than this becomes ``TOO_DEEP``."""
MAX_NODES: Final = 100_000
"""How many values ``redact`` visits in one structure; the rest become ``TOO_LARGE``."""
TOO_DEEP: Final = "[TOO DEEP]"
TOO_LARGE: Final = "[TOO LARGE]"
"""What the values past ``MAX_NODES`` (and integers too long to write) are shown as."""
CYCLE: Final = "[CYCLE]"
"""What a container that contains itself is shown as, where it recurs."""
UNREDACTABLE: Final = "[UNREDACTABLE]"
"""What a value becomes when redacting it failed (fail closed: never the raw value)."""
SECRET_VALUE: Final = "SECRET"
_MAX_PASSES: Final = 4

_SCALARS: Final = (bool, float, type(None))
_CONTAINERS: Final = (list, tuple, set, frozenset, deque)


_SEPARATORS: Final = frozenset(' \t\r\n\f\v",;<>{}|`')


def _apart(text: str, index: int) -> bool:
    """Whether ``text[index]`` (or the edge of the text) separates a replacement from its neighbours."""
    return index < 0 or index >= len(text) or text[index] in _SEPARATORS


class _Walker:
    """One redaction of one value: the policy, the detectors and the replacement, fixed for the walk."""

    __slots__ = ("detectors", "marker", "nodes", "path", "policy")

    def __init__(self, policy: Policy, detectors: tuple[Detector, ...], marker: Marker) -> None:
        self.policy = policy
        self.detectors = detectors
        self.marker = marker
        self.nodes = 0
        self.path: set[int] = set()

    def text(self, text: str) -> str:
        """``text`` with every finding replaced; the placeholder if a detector failed.

        A replacement glued to other text changes its neighbours' context (``0@0.AAsk-...`` is no
        address until the key becomes ``[OPENAI_KEY]``), so such text is searched again until nothing
        is found: redacting twice then changes nothing. Replacements between separators (spaces,
        double quotes, commas ...) change no neighbour and need no second search.
        """
        try:
            for _ in range(_MAX_PASSES):
                found = findings(text, self.detectors, self.policy)
                if not found:
                    return text
                glued = any(not _apart(text, f.start - 1) or not _apart(text, f.end) for f in found)
                text = replace(text, found, self.marker)
                if not glued:
                    return text  # every replacement stands between separators: its neighbours read the same
            return text
        except Exception:  # fail closed: never export what could not be checked
            return UNREDACTABLE

    def secret(self, value: object) -> str:
        """The replacement of a value under a secret-naming key (a pseudonym of text, when keyed)."""
        return self.marker(SECRET_VALUE, value) if isinstance(value, str) else f"[{SECRET_VALUE}]"

    def key(self, key: object) -> object:
        """A mapping key as the copy keeps it: JSON-able keys as they are, others as text."""
        if isinstance(key, (str, int, float, bool)) or key is None:
            return key
        return _as_text(key)

    def walk(self, value: object, depth: int) -> object:
        """The redacted JSON-like copy of ``value`` at ``depth``."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            return TOO_LARGE
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, _SCALARS):
            return value
        if isinstance(value, int):
            return self.number(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.text(bytes(value).decode("utf-8", "replace"))
        if isinstance(value, enum.Enum):
            return self.walk(value.value, depth)
        if isinstance(value, (datetime.date, datetime.time)):
            return value.isoformat()
        if isinstance(value, pydantic.BaseModel):
            return self.nested(value.model_dump(mode="json"), depth, id(value))
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return self.nested(fields, depth, id(value))
        if isinstance(value, (Mapping, *_CONTAINERS)):
            return self.nested(value, depth, id(value))
        return self.text(_as_text(value))

    def number(self, value: int) -> object:
        """An int as it is, unless its digits are a card, phone or SSN (then the redacted text); one too
        long to write as text (over ~3,900 digits, past Python's conversion limit) as ``TOO_LARGE``."""
        if value.bit_length() > 13_000:
            return TOO_LARGE
        if not 100_000 <= abs(value) < 10**20:
            return value
        text = str(value)
        redacted = self.text(text)
        return value if redacted == text else redacted

    def nested(self, value: object, depth: int, ident: int) -> object:
        """A container's copy: a dict for mappings (and models, dataclasses), a list for the rest."""
        if depth >= MAX_DEPTH:
            return TOO_DEEP
        if ident in self.path:
            return CYCLE
        self.path.add(ident)
        try:
            if isinstance(value, Mapping):
                out: dict[object, object] = {}
                for k, v in value.items():
                    key = self.key(k)
                    named_secret = isinstance(key, str) and is_secret_name(key)
                    out[key] = self.secret(v) if named_secret else self.walk(v, depth + 1)
                return out
            items = list(value)  # type: ignore[call-overload]
            if isinstance(value, (set, frozenset)):
                with contextlib.suppress(Exception):  # a member with a broken repr: keep the iteration order
                    items.sort(key=repr)
            return [self.walk(item, depth + 1) for item in items]
        finally:
            self.path.discard(ident)


def _as_text(value: object) -> str:
    """``str(value)``, or a placeholder naming its type when ``__str__`` (and ``__repr__``) fail."""
    try:
        return str(value)
    except Exception:
        try:
            return f"<{type(value).__qualname__}>"
        except Exception:
            return UNREDACTABLE


def redact(value: object, *, policy: Policy | None = None, secrets_only: bool = False) -> object:
    """A redacted copy of ``value``: text with personal data and secrets replaced by labels.

    ``str`` in gives ``str`` out (``"mail ann@example.com"`` -> ``"mail [EMAIL]"``). Mappings, lists,
    tuples, sets, dataclasses and pydantic models come back as JSON-like copies (dicts and lists)
    with their keys kept and their values redacted; values under secret-naming keys (``password``,
    ``api_key``, ...) become ``[SECRET]`` whole. With a hash key configured each label carries a
    pseudonym (``[EMAIL:3f9a1c2b]``). Redacting a redacted value changes nothing.

    Args:
        value: what to redact.
        policy: the detectors to use (default: the active policy).
        secrets_only: remove only secrets and keep personal data (``capture="full"``).

    Raises:
        Nothing: a value that cannot be redacted becomes ``[UNREDACTABLE]`` (fail closed); nesting
        deeper than ``MAX_DEPTH`` becomes ``[TOO DEEP]``, a container inside itself ``[CYCLE]``.
    """
    try:
        chosen = policy or active_policy()
        walker = _Walker(chosen, chosen.secret_detectors if secrets_only else chosen.detectors, marker_maker())
        return walker.walk(value, 0)
    except Exception:  # fail closed
        return UNREDACTABLE


def _scrubbed(value: object) -> object:
    """``value`` with the active policy's scrub detectors applied (secrets, card numbers, SSNs)."""
    try:
        chosen = active_policy()
        return _Walker(chosen, chosen.scrub_detectors, marker_maker()).walk(value, 0)
    except Exception:  # fail closed
        return UNREDACTABLE


def scrub_text(text: str) -> str:
    """``text`` with secrets (API keys, tokens, private keys, credentials), card numbers and US SSNs
    replaced by their labels.

    What the SDK runs over every exception message, stack trace, event and reviewer view, in
    every capture mode. Other personal data is kept (``redact`` removes it). Fails closed.
    """
    result = _scrubbed(text)
    return result if isinstance(result, str) else UNREDACTABLE


def scrub(value: object) -> object:
    """A JSON-like copy of ``value`` with the secrets, card numbers and SSNs in its text, and the
    values under secret-naming keys, replaced. Other personal data is kept. Fails closed."""
    return _scrubbed(value)
