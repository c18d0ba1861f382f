"""Redaction policies: which detectors run, under which version string, and the one in force.

``Policy()`` is the built-in set; ``disable=`` switches detectors off by name, ``extra=`` adds
detectors (a ``Detector``, a regex, or a callable). The version is what spans and audit records
carry as ``toolchain.redaction.policy``, so a reviewer knows which rules a record was redacted
under. ``configure(redaction=policy)`` calls ``use_policy``.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.redaction._model import Detector, FindResult
from toolchain_sdk.redaction._pii import PII_DETECTORS
from toolchain_sdk.redaction._secrets import SECRET_DETECTORS

__all__ = [
    "ALWAYS_SCRUBBED",
    "BUILTIN_DETECTORS",
    "BUILTIN_VERSION",
    "DEFAULT_POLICY",
    "Policy",
    "active_policy",
    "use_policy",
]

ALWAYS_SCRUBBED: Final = frozenset({"card", "ssn"})
"""Personal data removed with the secrets from every text the SDK exports itself (exception messages,
events, reviewer views), in every capture mode: a card number or SSN in an error is never kept."""

BUILTIN_VERSION: Final = "builtin-1"
"""The version of the built-in detector set; it changes whenever a built-in detector changes."""
BUILTIN_DETECTORS: Final[tuple[Detector, ...]] = SECRET_DETECTORS + PII_DETECTORS
"""Every built-in detector, secrets first (see ``docs/redaction.md`` for each)."""

Extra = Detector | str | re.Pattern[str] | Callable[[str], FindResult]


_BUILTIN_BY_NAME: Final = {d.name: d for d in BUILTIN_DETECTORS}


def _as_detector(item: Extra, index: int, where: str = "extra") -> Detector:
    """A ``detectors=`` or ``extra=`` entry as a detector: a built-in detector's name is that detector
    (``detectors=["email", "openai"]``); another regex or a callable becomes a ``secret`` labelled ``SECRET``."""
    if isinstance(item, Detector):
        return item
    if isinstance(item, str) and item in _BUILTIN_BY_NAME:
        return _BUILTIN_BY_NAME[item]
    if isinstance(item, (str, re.Pattern)):
        return Detector(f"{where}-{index}", "SECRET", "secret", item)
    if callable(item):
        name = getattr(item, "__name__", "") or f"{where}-{index}"
        return Detector(f"{where}-{index}" if name == "<lambda>" else name, "SECRET", "secret", find=item)
    raise ConfigError(
        f"redaction policy: {where}[{index}] is a {type(item).__name__}; give a Detector, a built-in "
        "detector's name, a regex (str or re.Pattern) or a callable text -> iterable of (start, end)"
    )


def _listed(value: Any) -> Any:
    """A single entry given where a list belongs (``disable="ip"``, ``extra=r"CUST-\\d+"``) as a one-item list."""
    if isinstance(value, (str, re.Pattern, Detector)) or (callable(value) and not isinstance(value, type)):
        return [value]
    return value


class Policy:
    """The detectors redaction runs, and the version string records carry.

    Args:
        detectors: the detectors to start from; ``None`` means the built-in set. Entries are
            ``Detector`` values, built-in detector names (``["email", "card", "openai"]``: only
            those), or regexes and callables as in ``extra``.
        disable: names of detectors to switch off (``["phone", "ip"]``).
        extra: detectors to add: a ``Detector``; a regex (``str`` or ``re.Pattern``) or a callable
            ``text -> iterable of (start, end), Finding, re.Match or matched substring``, which
            become ``secret`` detectors labelled ``SECRET`` (pass a ``Detector`` to choose the
            label and kind).
        version: recorded as ``toolchain.redaction.policy``. Default: ``builtin-1`` for the
            built-in set, else ``custom-`` and a hash of the detector names (give your own to make
            it meaningful, for example ``"support-2025-03"``).

    Raises:
        ConfigError: an unknown name in ``disable`` (the message lists the known ones), two
            detectors with the same name, or an ``extra`` entry of an unusable type.
    """

    __slots__ = ("detectors", "labels", "marker_re", "scrub_detectors", "secret_detectors", "version")

    def __init__(
        self,
        detectors: Sequence[Extra] | None = None,
        *,
        disable: Sequence[str] = (),
        extra: Sequence[Extra] = (),
        version: str | None = None,
    ) -> None:
        detectors, disable, extra = _listed(detectors), _listed(disable) or (), _listed(extra) or ()
        base = (
            BUILTIN_DETECTORS
            if detectors is None
            else tuple(_as_detector(item, i, "detectors") for i, item in enumerate(detectors, start=1))
        )
        known = [d.name for d in base]
        unknown = sorted(set(disable) - set(known))
        if unknown:
            raise ConfigError(
                f"redaction policy: cannot disable unknown detector(s) {', '.join(map(repr, unknown))}; "
                f"known detectors: {', '.join(sorted(set(known)))}"
            )
        chosen = [d for d in base if d.name not in set(disable)]
        chosen += [_as_detector(item, i) for i, item in enumerate(extra, start=1)]
        names = [d.name for d in chosen]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(
                f"redaction policy: detector name(s) {', '.join(map(repr, duplicates))} used twice; "
                "give each Detector a unique name"
            )
        self.detectors: tuple[Detector, ...] = tuple(chosen)
        self.secret_detectors: tuple[Detector, ...] = tuple(d for d in chosen if d.kind == "secret")
        self.scrub_detectors: tuple[Detector, ...] = tuple(
            d for d in chosen if d.kind == "secret" or d.name in ALWAYS_SCRUBBED
        )
        """What ``scrub_text`` removes from the text the SDK exports itself: secrets, card numbers, SSNs."""
        self.labels: frozenset[str] = frozenset(d.label for d in chosen) | {"SECRET"}
        alternatives = "|".join(sorted(self.labels, key=len, reverse=True))
        self.marker_re: re.Pattern[str] = re.compile(rf"\[(?:{alternatives})(?::[0-9a-f]{{8}})?\]")
        """What this policy's replacements look like: never detected again (redaction is idempotent)."""
        if version is None:
            if detectors is None and not disable and not extra:
                version = BUILTIN_VERSION
            else:
                digest = hashlib.sha256("\n".join([BUILTIN_VERSION, *names]).encode("utf-8")).hexdigest()
                version = f"custom-{digest[:8]}"
        self.version: str = version

    def __repr__(self) -> str:
        return f"Policy(version={self.version!r}, detectors={[d.name for d in self.detectors]!r})"

    def names(self) -> Iterable[str]:
        """The names of this policy's detectors, in the order they rank."""
        return (d.name for d in self.detectors)


DEFAULT_POLICY: Final = Policy()
"""The built-in detectors, version ``builtin-1``."""

_lock = threading.Lock()
_active: Policy = DEFAULT_POLICY


def use_policy(policy: Policy | None) -> None:
    """Make ``policy`` the one redaction uses from now on (``None``: back to ``DEFAULT_POLICY``).

    ``configure(redaction=policy)`` calls this.

    Raises:
        ConfigError: ``policy`` is not a ``Policy``.
    """
    global _active
    if policy is not None and not isinstance(policy, Policy):
        raise ConfigError(
            f"redaction: expected a toolchain_sdk.redaction.Policy (or None), got {type(policy).__name__}"
        )
    with _lock:
        _active = policy or DEFAULT_POLICY


def active_policy() -> Policy:
    """The policy in force: the last one given to ``use_policy`` / ``configure(redaction=...)``, else the default."""
    return _active
