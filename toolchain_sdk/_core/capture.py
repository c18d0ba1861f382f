"""Content capture: what a call's span and audit record hold of its arguments, output and prompt.

Only for the capture modes that carry content: ``redacted`` records content after redaction
(personal data and secrets out), ``full`` records it as given with secrets still taken out. Each
value is capped at ``Settings.capture_max_bytes`` of UTF-8; a longer one is cut and ends with a
marker naming the full value's size and hash, so a reviewer holding the whole text can check it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from toolchain_sdk import config, semconv
from toolchain_sdk.hashing import Digest, StreamHasher
from toolchain_sdk.redaction import redact

__all__ = ["CONTENT_MODES", "Captured", "KeepingStreamHasher", "capture", "joined"]

CONTENT_MODES: Final = frozenset({"redacted", "full"})
"""The capture modes whose spans and records carry content (not only hashes)."""


@dataclass(frozen=True, slots=True)
class Captured:
    """One captured value as it is recorded.

    Attributes:
        text: the value after redaction (``redacted``) or secret removal (``full``), as text or
            JSON text, cut at the cap.
        mime: ``text/plain`` or ``application/json`` (OpenInference's ``*.mime_type``).
        value: the JSON value for the audit record (the parsed JSON, or the text when text or cut).
        size: the full captured value's size in UTF-8 bytes.
        sha256: the full captured value's hash (under the configured hasher) when it was cut, else ``None``.
    """

    text: str
    mime: str
    value: object
    size: int
    sha256: str | None


def _as_text(value: object) -> str:
    """Text for an object JSON cannot hold (a last resort: its ``str``, redacted afterwards with the rest)."""
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


def capture(value: object, mode: str) -> Captured:
    """``value`` as the ``mode`` (``redacted`` or ``full``) records it, capped (never raises on odd values)."""
    cleaned = redact(value, secrets_only=mode == "full")
    parsed: object
    if isinstance(cleaned, str):
        text, mime, parsed = cleaned, semconv.MIME_TEXT, cleaned
    elif isinstance(cleaned, (bytes, bytearray)):
        text = str(redact(bytes(cleaned).decode("utf-8", "replace"), secrets_only=mode == "full"))
        mime, parsed = semconv.MIME_TEXT, text
    else:
        text = json.dumps(cleaned, ensure_ascii=False, sort_keys=True, default=_as_text)
        if not isinstance(cleaned, (dict, list, int, float, bool, type(None))):
            text = str(redact(text, secrets_only=mode == "full"))  # what str() of an unknown object let through
        mime, parsed = semconv.MIME_JSON, cleaned
    data = text.encode("utf-8")
    cap = config.current_settings().capture_max_bytes
    if len(data) <= cap:
        return Captured(text, mime, parsed if mime == semconv.MIME_JSON else text, len(data), None)
    full_hash = config.hasher().hash_value(text)
    marker = f"…[truncated: {len(data)} bytes, sha256 {full_hash}]"
    cut = data[: max(cap - len(marker.encode("utf-8")), 0)].decode("utf-8", "ignore") + marker
    return Captured(cut, mime, cut, len(data), full_hash)


class KeepingStreamHasher(StreamHasher):
    """A stream hasher that also keeps the chunks, so a content-capturing call can record the output."""

    __slots__ = ("kept",)

    def __init__(self, digest: Digest | None) -> None:
        super().__init__(digest)
        self.kept: list[object] = []

    def update(self, chunk: object) -> None:
        """Hash (or count) the chunk and keep it (kept once, also when the pipeline retries it count-only)."""
        super().update(chunk)
        self.kept.append(chunk)


def joined(chunks: list[object]) -> object:
    """A stream's output as one value: the concatenation of text (or bytes) chunks, else the list."""
    if chunks and all(type(c) is str for c in chunks):
        return "".join(chunks)  # type: ignore[arg-type]
    if chunks and all(isinstance(c, (bytes, bytearray)) for c in chunks):
        return b"".join(chunks)  # type: ignore[arg-type]
    return chunks if chunks else ""
