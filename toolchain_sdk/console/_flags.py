"""Kill switches as the console shows and changes them: every known surface with its state and
where that state comes from, and kill / allow / restore through ``FlagFile`` — the same locked,
atomic, change-logged writes as ``toolchain kill`` / ``allow`` / ``restore``.

Known surfaces come from the flag file's entries, the inventory registry of the process the
console runs in, and the static scan of ``--scan PATHS`` (``toolchain_sdk.inventory.control_sheet``).
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from toolchain_sdk import audit, inventory
from toolchain_sdk.console._errors import ActionRefused
from toolchain_sdk.errors import ConfigError
from toolchain_sdk.flags import TOOLCHAIN_KILL, FlagEntry, FlagFile, change_event, parse_duration

__all__ = ["FlagAction", "KnownSurface", "change_flag", "entry_json", "known_surfaces", "scanned_specs"]

FlagAction = Literal["kill", "allow", "restore"]
_log = logging.getLogger("toolchain_sdk")


def _time(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def entry_json(entry: FlagEntry, now: datetime | None = None) -> dict[str, Any]:
    """A flag-file entry as the API returns it."""
    return {
        "pattern": entry.target,
        "state": entry.describe_state(now or datetime.now(UTC)),
        "killed": entry.killed,
        "reason": entry.reason,
        "by": entry.by,
        "since": _time(entry.since),
        "until": _time(entry.until),
    }


@dataclass(frozen=True)
class KnownSurface:
    """One surface the console knows of, with its kill-switch state.

    Attributes:
        name: the surface; flag: its kill flag key (``None``: the surface name).
        state: ``killed``, ``allowed`` (pinned on the model) or ``on`` (nothing says otherwise).
        source: what decides it: the flag-file entry, ``kill_default``, or ``-``.
        origins: where the console learnt of it: ``registry``, ``scan``, ``flag file``.
        owner, risk: as declared, when known.
    """

    name: str
    flag: str | None
    state: str
    source: str
    origins: tuple[str, ...]
    owner: str | None = None
    risk: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The surface as the API returns it."""
        return {
            "surface": self.name,
            "flag": self.flag,
            "state": self.state,
            "source": self.source,
            "origins": list(self.origins),
            "owner": self.owner,
            "risk": self.risk,
        }


def _specificity(pattern: str) -> tuple[int, int]:
    """As the flag file source ranks entries: exact names beat patterns, more literal patterns beat others."""
    if not set("*?[") & set(pattern):
        return (2, len(pattern))
    return (1, sum(c not in "*?[]!" for c in pattern))


def _state(names: Sequence[str], entries: dict[str, FlagEntry], kill_default: bool, now: datetime) -> tuple[str, str]:
    best: tuple[tuple[int, int, bool], FlagEntry] | None = None
    for pattern, entry in entries.items():
        if entry.active(now) and any(fnmatch.fnmatchcase(n, pattern) for n in names):
            rank = (*_specificity(pattern), entry.killed)
            if best is None or rank > best[0]:
                best = (rank, entry)
    env = [p.strip() for p in os.environ.get(TOOLCHAIN_KILL, "").split(",") if p.strip()]
    if any(fnmatch.fnmatchcase(n, p) for n in names for p in env):
        return "killed", f"{TOOLCHAIN_KILL} (in the console's environment)"
    if best is not None:
        entry = best[1]
        return ("killed" if entry.killed else "allowed"), f"flag file: {entry.target}"
    if kill_default:
        return "killed", "kill_default"
    return "on", "-"


def scanned_specs(paths: Sequence[Path]) -> tuple[list[Any], str | None]:
    """The surfaces the inventory's static scan finds under ``paths``, and a note when there is no scan."""
    if not paths:
        return [], None
    try:
        sheet = inventory.control_sheet([str(p) for p in paths])  # the same scan as `toolchain inventory`
    except Exception as exc:
        return [], f"the static scan failed: {type(exc).__name__}: {exc}"
    return list(sheet.surfaces), None


def known_surfaces(flags: FlagFile, scan: Sequence[Path] = ()) -> tuple[list[KnownSurface], str | None]:
    """Every known surface with its state, sorted by name, and a note on the scan if it could not run."""
    now = datetime.now(UTC)
    entries = flags.entries()
    found: dict[str, dict[str, Any]] = {}
    for spec in inventory.surfaces():
        found[spec.surface] = {"spec": spec, "origins": ["registry"]}
    scanned, note = scanned_specs(scan)
    for spec in scanned:
        name = getattr(spec, "surface", None) or (spec.get("surface") if isinstance(spec, dict) else None)
        if isinstance(name, str):
            found.setdefault(name, {"spec": spec, "origins": []})["origins"].append("scan")
    for target in entries:
        if not set("*?[") & set(target):
            found.setdefault(target, {"spec": None, "origins": []})["origins"].append("flag file")
    out = []
    for name in sorted(found):
        spec = found[name]["spec"]

        def field(key: str, spec: Any = spec) -> Any:
            return spec.get(key) if isinstance(spec, dict) else getattr(spec, key, None)

        flag = field("kill_flag") or (f"{name}.kill" if spec is not None else None)  # the default key, as declared
        names = (name, flag) if flag else (name,)
        state, source = _state(names, entries, bool(field("kill_default")), now)
        out.append(KnownSurface(name, flag, state, source, tuple(found[name]["origins"]), field("owner"),
                                field("risk")))  # fmt: skip
    return out, note


def change_flag(
    flags: FlagFile, action: FlagAction, pattern: str, *, by: str, reason: str, ttl: str | None = None
) -> dict[str, Any]:
    """Kill, allow or restore ``pattern`` as ``by`` (the logged-in user) through ``FlagFile``.

    Returns the entry as now stored (``restore``: the removed entry, with ``state`` ``restored``).

    Raises:
        ActionRefused: 422 a blank reason, a bad pattern or TTL; 404 restoring an entry that is not there.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ActionRefused(422, "a reason is required for every flag change (it goes to the change log)")
    if not isinstance(pattern, str) or not pattern.strip():
        raise ActionRefused(422, "a pattern is required: a surface name, flag key or glob pattern")
    pattern = pattern.strip()
    try:
        if action == "restore":
            change = flags.restore(pattern, reason=reason, by=by)
            if change is None or change.before is None:
                raise ActionRefused(
                    404, f"no flag-file entry named {pattern!r}; restore removes exactly the entry it names"
                )
            result = {**entry_json(change.before), "state": "restored"}
        else:
            span = parse_duration(ttl) if ttl and str(ttl).strip() else None
            setter = flags.kill if action == "kill" else flags.allow
            change = setter(pattern, reason=reason, by=by, ttl=span)
            assert change.after is not None
            result = entry_json(change.after)
    except (ConfigError, ValueError) as exc:
        raise ActionRefused(422, str(exc)) from None
    _audit(flags, change, ttl)
    return result


def _audit(flags: FlagFile, change: Any, ttl: str | None) -> None:
    """Append a ``flag_change`` record to the audit chain, when one is configured, with the fields
    ``toolchain kill`` records (the actor is the logged-in user)."""
    try:
        audit.append_event("flag_change", **change_event(flags, change, ttl))
    except Exception as exc:  # the change stands; the operator is told the trail missed it
        _log.warning("toolchain console: the flag change was made but not recorded in the audit trail: %s", exc)
