"""The values of approval: a request (what a reviewer sees) and a decision (what they said).

Both are frozen. A decision is bound to its request by the request id and the hash of the exact
subject it approved — the call's arguments (``before``) or its output (``after``) — so it cannot
be replayed for another call. Build decisions with ``request.approve()``, ``.deny()`` or
``.edit()``, which fill the binding in.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pydantic

from toolchain_sdk.hashing import canonical_json
from toolchain_sdk.redaction import MAX_DEPTH, TOO_DEEP, scrub, scrub_text

__all__ = [
    "ApprovalRequest",
    "Decision",
    "MAX_TIMEOUT_S",
    "OutputKind",
    "Phase",
    "Verdict",
    "decode_output",
    "encode_output",
    "format_seconds",
    "json_view",
    "new_request_id",
    "output_kind",
    "output_view",
    "parse_timeout",
    "utcnow",
]

Phase = Literal["before", "after"]
Verdict = Literal["approved", "denied", "edited"]
OutputKind = Literal["text", "bytes", "json"]

_VERDICTS: Final = ("approved", "denied", "edited")


def utcnow() -> _dt.datetime:
    """The current time, timezone-aware UTC."""
    return _dt.datetime.now(_dt.UTC)


def new_request_id() -> str:
    """A fresh, unguessable request id (64 random bits, hex)."""
    return secrets.token_hex(8)


@dataclass(frozen=True, kw_only=True)
class Decision:
    """A reviewer's answer to one approval request.

    Attributes:
        request_id: the id of the request decided.
        subject_sha256: the hash of the arguments (``before``) or output (``after``) approved;
            the gate refuses a decision whose hash is not the one of its own call.
        verdict: ``approved``, ``denied`` or ``edited`` (``after`` only: ``output`` replaces the
            model's output).
        by: who decided (a person or a system's name); never empty.
        reason: why; required for ``edited``.
        output: the edited output (``edited`` only).
        decided_at: when (UTC).

    Raises:
        ValueError: an unknown verdict, an empty ``by``, or an edit without a reason.
    """

    request_id: str
    subject_sha256: str
    verdict: Verdict
    by: str
    reason: str = ""
    output: object = None
    decided_at: _dt.datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        if self.verdict not in _VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(_VERDICTS)}, not {self.verdict!r}")
        if not isinstance(self.by, str) or not self.by.strip():
            raise ValueError("a decision must say who made it (by=...)")
        if self.verdict == "edited" and not (isinstance(self.reason, str) and self.reason.strip()):
            raise ValueError("an edit needs a non-empty reason")


@dataclass(frozen=True, kw_only=True)
class ApprovalRequest:
    """What a reviewer is asked to decide: one call of one surface, before it runs or after.

    Attributes:
        id: the request id (what ``toolchain approvals approve ID`` takes).
        surface, risk: the surface and its declared risk.
        phase: ``before`` (decide on the arguments) or ``after`` (decide on the output).
        arguments: the call's arguments by parameter name, as JSON values with secrets redacted.
        arguments_sha256: the hash of the exact arguments (as on the span's ``toolchain.input.sha256``).
        output: the output under review (``after``), as a JSON value with secrets redacted
            (``bytes`` as base64 text).
        output_kind: how the output is carried: ``text``, ``bytes`` or ``json``.
        output_sha256: the hash of the exact output (``after``).
        output_schema: the JSON Schema an edit of the output must fit (``after``; the function's
            return type, else the output's type), for reviewers' tools; ``None`` when unknown.
        hash_alg: ``sha256``, or ``hmac-sha256`` when a hash key is configured.
        created_at, expires_at: when it was asked and when it times out (UTC); no decision by
            then is a denial.
        trace_id, span_id: the call's span, to find it in the trace backend (hex; empty when
            tracing is off).
        owner: the surface's declared owner (``None`` when it declares none).
        model: the model the call uses: the declared one, or on a routed surface the target
            being tried (before the call: the route's first target).
        prompt_name, prompt_version: the surface's prompt (``None`` when it has none).
    """

    id: str
    surface: str
    risk: str
    phase: Phase
    arguments: Mapping[str, object]
    arguments_sha256: str
    created_at: _dt.datetime
    expires_at: _dt.datetime
    hash_alg: str = "sha256"
    output: object = None
    output_kind: OutputKind | None = None
    output_sha256: str | None = None
    output_schema: Mapping[str, object] | None = None
    trace_id: str = ""
    span_id: str = ""
    owner: str | None = None
    model: str | None = None
    prompt_name: str | None = None
    prompt_version: str | None = None

    @property
    def subject_sha256(self) -> str:
        """The hash a decision must be bound to: the output's after, the arguments' before."""
        return self.output_sha256 if self.phase == "after" and self.output_sha256 else self.arguments_sha256

    def remaining(self) -> float:
        """Seconds until the request times out (negative once past)."""
        return (self.expires_at - utcnow()).total_seconds()

    def approve(self, *, by: str, reason: str = "") -> Decision:
        """A decision approving this request."""
        return Decision(
            request_id=self.id, subject_sha256=self.subject_sha256, verdict="approved", by=by, reason=reason
        )

    def deny(self, *, by: str, reason: str = "") -> Decision:
        """A decision denying this request."""
        return Decision(request_id=self.id, subject_sha256=self.subject_sha256, verdict="denied", by=by, reason=reason)

    def edit(self, output: object, *, by: str, reason: str) -> Decision:
        """A decision replacing the output under review with ``output`` (``after`` only; reason required)."""
        return Decision(
            request_id=self.id,
            subject_sha256=self.subject_sha256,
            verdict="edited",
            by=by,
            reason=reason,
            output=output,
        )


# --- timeouts ----------------------------------------------------------------------------------
_DURATION_RE: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


MAX_TIMEOUT_S: Final = 7 * 24 * 3600.0
"""The longest an approval may wait (7 days)."""


def parse_timeout(value: str | float | _dt.timedelta) -> float:
    """Seconds from ``"15m"``, ``"1h30m"``, ``"500ms"``, ``"0.2s"``, a number of seconds or a timedelta.

    Raises:
        ValueError: not a positive, finite duration.
    """
    if isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION_RE.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(f"timeout {value!r} is not a duration like '15m', '1h30m', '30s' or '500ms'") from None
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise ValueError(f"timeout must be a duration string, seconds or a timedelta, not {type(value).__name__}")
    if not (0 < seconds < float("inf")):
        raise ValueError(f"timeout must be positive and finite (a gate always ends), got {value!r}")
    if seconds > MAX_TIMEOUT_S:
        raise ValueError(
            f"timeout {value!r} is longer than 7 days, the most an approval may wait; a call that old is "
            "no longer the one a reviewer would approve: use a shorter timeout"
        )
    return seconds


def format_seconds(seconds: float) -> str:
    """A compact duration for the control sheet: ``15m``, ``1h``, ``0.2s``."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# --- what leaves the process: JSON views with secrets redacted -------------------------------------
def json_view(value: object) -> object:
    """``value`` as plain JSON values (pydantic models and dataclasses as their fields), secrets
    redacted, nesting deeper than ``MAX_DEPTH`` shown as ``[TOO DEEP]``.

    The value is cut to that depth (without recursion) before it is serialised, so no input can
    make this raise ``RecursionError``.

    Raises:
        TypeError, ValueError: the value has no canonical JSON form.
    """
    try:
        return scrub(json.loads(canonical_json(_bounded(value))))
    except RecursionError:  # a leaf that nests on its own (a set of deeply nested tuples)
        raise ValueError(f"the value is nested too deeply to show (more than {MAX_DEPTH} levels)") from None


def _fields(value: object) -> object:
    """A pydantic model or a dataclass as a mapping of its fields; anything else as itself (types
    are recognised by what they are, as ``hashing`` does: a Mock is never called into)."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return value


def _bounded(value: object) -> object:
    """A copy of ``value`` with lists, tuples, mappings, dataclasses and pydantic models cut at
    ``MAX_DEPTH`` levels (``[TOO DEEP]`` below), walked without recursion; other leaves as they are."""
    root: list[object] = [None]
    stack: list[tuple[object, Any, Any, int]] = [(value, root, 0, 0)]
    while stack:
        item, parent, slot, depth = stack.pop()
        item = _fields(item)
        out: object = item
        if isinstance(item, (list, tuple, Mapping)) and depth >= MAX_DEPTH:
            out = TOO_DEEP
        elif isinstance(item, (list, tuple)):
            out = [None] * len(item)
            stack.extend((v, out, i, depth + 1) for i, v in enumerate(item))
        elif isinstance(item, Mapping):
            out = dict.fromkeys(item)
            stack.extend((v, out, k, depth + 1) for k, v in item.items())
        parent[slot] = out
    return root[0]


def output_kind(value: object) -> OutputKind:
    """How an output is carried to a reviewer and back."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    return "json"


def output_view(value: object) -> object:
    """An output as a reviewer sees it: text redacted, bytes as base64, anything else as a JSON view."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return json_view(value)


def encode_output(value: object, kind: OutputKind) -> str:
    """Serialise an edited output for storage, as the request's ``output_kind`` says.

    Raises:
        ValueError: the value does not fit ``kind`` (e.g. not text for a text output).
    """
    if kind == "text":
        if not isinstance(value, str):
            raise ValueError(f"the output under review is text; an edit must be text too, not {type(value).__name__}")
        return json.dumps(value, ensure_ascii=False)
    if kind == "bytes":
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise ValueError(f"the output under review is bytes; an edit must be bytes too, not {type(value).__name__}")
        return json.dumps(base64.b64encode(bytes(value)).decode("ascii"))
    try:
        return canonical_json(value).decode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the edited output has no JSON form: {exc}") from None


def decode_output(text: str, kind: OutputKind) -> object:
    """The inverse of ``encode_output``."""
    value = json.loads(text)
    if kind == "bytes":
        return base64.b64decode(value)
    return value
