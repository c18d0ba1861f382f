"""The control sheet: rows built from the static scan or the live registry, checked against the policy."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from toolchain_sdk.errors import PromptError
from toolchain_sdk.inventory._findings import RawSurface, ScanError, Unmanaged
from toolchain_sdk.inventory._policy import PolicyConfig, PolicyException, Violation
from toolchain_sdk.inventory._registry import SurfaceSpec
from toolchain_sdk.inventory._resolve import Resolver
from toolchain_sdk.inventory._row import SurfaceRow
from toolchain_sdk.inventory._rules import AppliedException, evaluate
from toolchain_sdk.inventory._scan import StaticScan
from toolchain_sdk.inventory._values import DYNAMIC, Call, Const, Value
from toolchain_sdk.prompts import LOCK_FILE, resolve
from toolchain_sdk.routing import ToolchainConfig

__all__ = ["ControlSheet", "SheetContext", "audit_kind", "rows_from_registry", "rows_from_scan"]

_PROMPT_FUNCS = ("prompt", "load_prompt", "resolve")


@dataclass(frozen=True)
class SheetContext:
    """What a row needs beyond the declaration: the prompts directory and the configuration file."""

    prompts_dir: Path
    config: ToolchainConfig | None = None

    @property
    def locked(self) -> bool:
        """Whether the prompts directory has a lock file (labels then move only by reviewed changes)."""
        return (self.prompts_dir / LOCK_FILE).is_file()

    def prompt_version(self, ref: str) -> tuple[str | None, bool]:
        """The version ``ref`` resolves to, and whether it is pinned (a version, or a label under a lock)."""
        try:
            found = resolve(ref, self.prompts_dir, drift="warn")
        except PromptError:
            return None, False
        return found.version, found.label is None or self.locked

    def config_audit(self) -> str | None:
        """The sink kind ``[audit] sink`` names in the configuration file, if any."""
        table: object = getattr(self.config, "audit", None) if self.config is not None else None
        sink = table.get("sink") if isinstance(table, dict) else getattr(table, "sink", None)
        return _kind_of_text(sink) if isinstance(sink, str) else None


def _kind_of_text(sink: str) -> str:
    """The kind of sink a string names: ``x.jsonl`` → jsonl, ``sqlite:///…`` → sqlite, ``otlp``."""
    text = sink.strip().lower()
    if text in ("", "none", "off"):
        return "none"
    if text.startswith("sqlite") or text.endswith((".db", ".sqlite", ".sqlite3")):
        return "sqlite"
    if text.startswith("otlp"):
        return "otlp"
    return "jsonl"


def audit_kind(values: Sequence[Value], resolver: Resolver, context: SheetContext) -> str:
    """The audit sink of a scanned code base: ``configure(audit=...)`` in the code, else ``[audit] sink``."""
    for value in values:
        v = resolver.resolve(value)
        if isinstance(v, Call):
            name = v.func.rpartition(".")[2]
            if name in ("jsonl", "sqlite", "otlp"):
                return name
            return DYNAMIC
        if isinstance(v, Const):
            if isinstance(v.value, str):
                return _kind_of_text(v.value)
            continue
        return DYNAMIC
    return context.config_audit() or "none"


def _approval(value: Value | None, resolver: Resolver) -> tuple[str, str | None]:
    if value is None:
        return "none", None
    v = resolver.resolve(value)
    if isinstance(v, Const) and v.value is None:
        return "none", None
    if isinstance(v, Call):
        name = v.func.rpartition(".")[2]
        if name == "require":
            when = v.kw("when")
            if when is None:
                return "before", None
            return (
                (when.value, None) if isinstance(when, Const) and when.value in ("before", "after") else (DYNAMIC, None)
            )
        if name == "not_required":
            reason = v.kw("reason")
            return "not_required", resolver.text(reason) if reason is not None else None
    return DYNAMIC, None


def _prompt(value: Value | None, resolver: Resolver) -> str | None:
    if value is None:
        return None
    v = resolver.resolve(value)
    if isinstance(v, Call) and v.func.rpartition(".")[2] in _PROMPT_FUNCS and v.args:
        v = v.args[0]
    if isinstance(v, Const) and (v.value is None or isinstance(v.value, str)):
        return v.value
    return DYNAMIC


def _rollback(prompt: str | None, label: bool, route: str | None, kill: str | None, fallback: str | None) -> str | None:
    paths = []
    if prompt and label and prompt != DYNAMIC:
        name, _, lab = prompt.partition("@")
        paths.append(f"move label {prompt} (toolchain prompts label {name} {lab} VERSION)")
    if route and route != DYNAMIC:
        paths.append(f"edit route {route} ([routes.{route}] in toolchain.toml)")
    if fallback and fallback != DYNAMIC and kill and kill != DYNAMIC:
        paths.append(f"switch {kill} on (fallback answers)")
    return "; ".join(paths) or None


def _row_from_raw(raw: RawSurface, resolver: Resolver, context: SheetContext, audit: str) -> SurfaceRow:
    given = dict(raw.options)

    def text(name: str, default: str | None = None) -> str | None:
        if name in given:
            return resolver.text(given[name])
        return DYNAMIC if raw.starred else default

    surface = resolver.text(raw.surface) or DYNAMIC
    prompt = _prompt(given.get("prompt"), resolver) if "prompt" in given else (DYNAMIC if raw.starred else None)
    version, pinned = context.prompt_version(prompt) if prompt and prompt != DYNAMIC else (None, False)
    approval, reason = (
        _approval(given.get("approval"), resolver) if "approval" in given or not raw.starred else (DYNAMIC, None)
    )
    kill = text("kill_flag") or (f"{surface}.kill" if surface != DYNAMIC else DYNAMIC)
    fallback = raw.fallback if "fallback" in given else (DYNAMIC if raw.starred else None)
    route = text("route")
    is_label = bool(prompt and version is not None and prompt.partition("@")[2] != version)
    return SurfaceRow(
        surface=surface, file=raw.file, line=raw.line, function=raw.function, owner=text("owner"),
        risk=text("risk", "low") or "low", model=text("model"), provider=text("provider"), route=route,
        prompt=prompt, prompt_version=version, capture=text("capture", "hash") or "hash",
        data_class=text("data_class", "internal") or "internal", kill_flag=kill, fallback=fallback,
        approval=approval, approval_reason=reason, audit=audit,
        rollback=_rollback(prompt, is_label, route, kill, fallback), source="static", prompt_pinned=pinned,
    )  # fmt: skip


def rows_from_scan(scan: StaticScan, context: SheetContext) -> list[SurfaceRow]:
    """One row per surface the static scan found."""
    audit = audit_kind(scan.audit, scan.resolver, context)
    return [_row_from_raw(raw, scan.resolver, context, audit) for raw in scan.surfaces]


def _live_audit(context: SheetContext) -> str:
    """The running process's audit sink kind (``toolchain_sdk.audit.active_sink()``), else the file's."""
    try:
        audit = importlib.import_module("toolchain_sdk.audit")
        sink = audit.active_sink()
    except (ImportError, AttributeError):
        sink = None
    if sink is not None:
        return str(sink.describe()).partition(":")[0] or "none"
    return context.config_audit() or "none"


def _approval_of(description: str | None) -> tuple[str, str | None]:
    if description is None:
        return "none", None
    if description.startswith("not required"):
        return "not_required", description.partition(":")[2].strip() or None
    for when in ("before", "after"):
        if description.startswith(f"required {when}"):
            return when, None
    return DYNAMIC, None


def _shown(file: str | None) -> str | None:
    if file is None:
        return None
    try:
        rel = os.path.relpath(file)
    except ValueError:
        return file
    return (file if rel.startswith("..") else rel).replace(os.sep, "/")


def rows_from_registry(specs: Sequence[SurfaceSpec], context: SheetContext) -> list[SurfaceRow]:
    """One row per registered surface (``--import``): the values the SDK resolved when it decorated."""
    audit = _live_audit(context)
    rows = []
    for spec in specs:
        name, _, version = (spec.prompt or "").partition("@")
        prompt = f"{name}@{spec.prompt_label}" if spec.prompt and spec.prompt_label else spec.prompt
        approval, reason = _approval_of(spec.approval)
        kill = spec.kill_flag or f"{spec.surface}.kill"
        function = spec.function or (spec.location.partition(":")[2] if spec.location else None)
        rows.append(
            SurfaceRow(
                surface=spec.surface,
                file=_shown(spec.file),
                line=spec.line,
                function=function,
                owner=spec.owner,
                risk=spec.risk,
                model=spec.model,
                provider=spec.provider,
                route=spec.route,
                prompt=prompt,
                prompt_version=version or None,
                capture=spec.capture,
                data_class=spec.data_class,
                kill_flag=kill,
                fallback=spec.fallback,
                approval=approval,
                approval_reason=reason,
                audit=audit,
                rollback=_rollback(prompt, spec.prompt_label is not None, spec.route, kill, spec.fallback),
                source="import",
                prompt_pinned=bool(spec.prompt) and (spec.prompt_label is None or context.locked),
            )
        )
    return rows


@dataclass
class ControlSheet:
    """Every surface with its controls and gaps, the unmanaged call sites, and files that did not parse."""

    surfaces: list[SurfaceRow] = field(default_factory=list)
    unmanaged: list[Unmanaged] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    violations: list[Violation] = field(default_factory=list)
    exceptions: list[AppliedException] = field(default_factory=list)
    unused_exceptions: list[PolicyException] = field(default_factory=list)
    """``[[policy.exceptions]]`` entries that waived no violation (``toolchain check`` warns about them)."""

    @classmethod
    def build(
        cls,
        rows: Sequence[SurfaceRow],
        unmanaged: Sequence[Unmanaged],
        errors: Sequence[ScanError],
        paths: Sequence[str],
        policy: PolicyConfig,
        names: Callable[[str], Sequence[str]] | None = None,
    ) -> ControlSheet:
        """Check ``rows`` against ``policy`` and keep each row's gaps, sorted by file and line.

        ``names``: the other paths a file goes by, for ``allow_unmanaged`` (see ``evaluate``).
        """
        outcome = evaluate(rows, unmanaged, policy, names)
        ordered = sorted(outcome.rows, key=lambda r: (r.file or "", r.line or 0, r.surface))
        violations = sorted(outcome.violations, key=lambda v: (v.file, v.line, v.surface))
        return cls(ordered, sorted(unmanaged, key=lambda u: (u.file, u.line)),
                   sorted(errors, key=lambda e: (e.file, e.line)), list(paths), violations=violations,
                   exceptions=outcome.exceptions, unused_exceptions=outcome.unused)  # fmt: skip

    def to_json(self) -> dict[str, object]:
        """``{"surfaces", "unmanaged", "errors", "generated_at", "paths"}``."""
        return {
            "surfaces": [r.to_json() for r in self.surfaces],
            "unmanaged": [u.to_json() for u in self.unmanaged],
            "errors": [e.to_json() for e in self.errors],
            "generated_at": self.generated_at,
            "paths": list(self.paths),
        }
