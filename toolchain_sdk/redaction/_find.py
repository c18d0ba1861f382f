"""Finding what to redact in one text, and writing the replacements (labels or keyed pseudonyms).

Every detector of the policy reports candidate spans; overlaps are resolved so each character is
replaced at most once (secrets before personal data, then the longer span, then the detector
listed first). Earlier replacements (``[EMAIL]``, ``[EMAIL:3f9a1c2b]``) are blanked before the
detectors read the text and never taken again, so redacting twice changes nothing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable

from toolchain_sdk import config
from toolchain_sdk.redaction._model import Detector, Finding, Span
from toolchain_sdk.redaction._policy import Policy, active_policy

__all__ = ["Marker", "find", "findings", "label_marker", "marker_maker", "replace"]

Marker = Callable[[str, str], str]
"""``(label, matched text) -> replacement``."""


def label_marker(label: str, value: str) -> str:
    """The plain replacement: ``[EMAIL]``."""
    return f"[{label}]"


def marker_maker() -> Marker:
    """The replacement in force now: ``[LABEL]``, or ``[LABEL:xxxxxxxx]`` (the first 8 hex digits of
    HMAC-SHA256(key, value)) when a hash key is configured (``TOOLCHAIN_HASH_KEY``, ``configure(hash_key=)``).

    Read at each redaction, so a key configured later takes effect.
    """
    hasher = config.hasher()
    if hasher.alg != "hmac-sha256":
        return label_marker

    def pseudonym(label: str, value: str) -> str:
        return f"[{label}:{hasher.hash_bytes(value.encode('utf-8', 'surrogatepass'))[:8]}]"

    return pseudonym


def _any_in(hints: tuple[str, ...], text: str) -> bool:
    """Whether one of ``hints`` occurs in ``text`` (substring searches, no regex)."""
    for hint in hints:  # noqa: SIM110 - a plain loop: no generator per call on the hot path
        if hint in text:
            return True
    return False


def _masked(text: str, markers: list[Span]) -> str:
    """``text`` with the inside of each replacement marker blanked (same length): detectors never read
    a label as context (``[SECRET] = ...`` is no ``secret = ...``, ``[AWS_KEY] = ...`` no AWS key name)."""
    pieces, pos = [], 0
    for start, end in markers:
        pieces.append(text[pos : start + 1])
        pieces.append("\x00" * (end - start - 2))
        pos = end - 1
    pieces.append(text[pos:])
    return "".join(pieces)


def _outside(span: Span, markers: list[Span], text: str) -> list[Span]:
    """The parts of ``span`` outside replacement markers that still hold a letter or digit."""
    pieces, (start, end) = [], span
    for m_start, m_end in markers:
        if m_end <= start or m_start >= end:
            continue
        if m_start > start:
            pieces.append((start, m_start))
        start = max(start, m_end)
    if start < end:
        pieces.append((start, end))
    return [(s, e) for s, e in pieces if any(c.isalnum() for c in text[s:e])]


def findings(text: str, detectors: tuple[Detector, ...], policy: Policy) -> list[Finding]:
    """The non-overlapping findings of ``detectors`` in ``text``, sorted by start."""
    markers = [m.span() for m in policy.marker_re.finditer(text)] if "[" in text else []
    scanned = _masked(text, markers) if markers else text
    candidates: list[tuple[int, int, int, int, int]] = []  # (kind rank, -length, detector rank, start, end)
    for rank, detector in enumerate(detectors):
        if detector.hints and not _any_in(detector.hints, scanned):
            continue  # the cheap pre-check, without starting the detector
        kind_rank = 0 if detector.kind == "secret" else 1
        for start, end in detector.spans(scanned):
            candidates.append((kind_rank, start - end, rank, start, end))
    if not candidates:
        return []
    if markers:
        clipped = []
        for kind_rank, _, rank, start, end in candidates:
            for s, e in _outside((start, end), markers, text):
                clipped.append((kind_rank, s - e, rank, s, e))
        candidates = clipped
    candidates.sort()
    starts: list[int] = []
    ends: list[int] = []
    chosen: list[Finding] = []
    for _, _, rank, start, end in candidates:
        i = bisect_left(starts, start)
        if (i > 0 and ends[i - 1] > start) or (i < len(starts) and starts[i] < end):
            continue  # overlaps a span already taken by a higher-ranked detector
        starts.insert(i, start)
        ends.insert(i, end)
        detector = detectors[rank]
        chosen.insert(i, Finding(detector.name, detector.label, detector.kind, start, end))
    return chosen


def find(text: str, *, policy: Policy | None = None, secrets_only: bool = False) -> list[Finding]:
    """What redaction would replace in ``text``: non-overlapping findings, sorted by start.

    Args:
        text: the text to search.
        policy: the detectors to use (default: the active policy).
        secrets_only: only the secret detectors (what ``capture="full"`` removes).

    Raises:
        Exception: whatever a user-supplied detector raised (``redact`` fails closed instead).
    """
    policy = policy or active_policy()
    return findings(text, policy.secret_detectors if secrets_only else policy.detectors, policy)


def replace(text: str, found: list[Finding], marker: Marker) -> str:
    """``text`` with each finding replaced by its marker."""
    if not found:
        return text
    out: list[str] = []
    pos = 0
    for f in found:
        out.append(text[pos : f.start])
        out.append(marker(f.label, text[f.start : f.end]))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
