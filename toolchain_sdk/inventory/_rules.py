"""Checking control-sheet rows against the rules: one violation per missing control."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from toolchain_sdk.inventory._findings import Unmanaged
from toolchain_sdk.inventory._policy import PolicyConfig, PolicyException, Violation
from toolchain_sdk.inventory._row import SurfaceRow
from toolchain_sdk.inventory._values import DYNAMIC

__all__ = ["AppliedException", "Outcome", "evaluate"]

UNMANAGED_SURFACE = "<unmanaged>"

_FIX_KILL = (
    "declare fallback=HANDLER (a deterministic handler with the same signature); the kill flag "
    "({flag}) then switches the surface to it"
)


@dataclass(frozen=True)
class AppliedException:
    """A violation waived by a ``[[policy.exceptions]]`` entry, listed with its reason."""

    violation: Violation
    exception: PolicyException

    def to_json(self) -> dict[str, object]:
        """``{"file", "line", "surface", "rule", "reason"}``."""
        v = self.violation
        return {"file": v.file, "line": v.line, "surface": v.surface, "rule": v.rule,
                "reason": self.exception.reason}  # fmt: skip


@dataclass
class Outcome:
    """The gate's verdict: violations, exceptions applied, and each row with its gaps filled in."""

    violations: list[Violation] = field(default_factory=list)
    exceptions: list[AppliedException] = field(default_factory=list)
    rows: list[SurfaceRow] = field(default_factory=list)
    unused: list[PolicyException] = field(default_factory=list)
    """``[[policy.exceptions]]`` entries that waived nothing (stale: the surface or the gap is gone)."""


def _has_kill_switch(row: SurfaceRow) -> bool:
    return row.fallback is not None and row.fallback != DYNAMIC


def _row_findings(row: SurfaceRow) -> Iterator[tuple[str, str, str]]:
    """``(rule, what is wrong, how to fix)`` for every control ``row`` lacks, rules on or off."""
    if row.owner == DYNAMIC:
        yield ("dynamic-control", "owner is <dynamic>: the gate cannot read it without running the code",
               'write owner="TEAM" as a literal or a module-level constant')  # fmt: skip
    elif not row.owner:
        yield "owner-required", "no owner", 'add owner="TEAM" (the team answerable for this surface)'
    if row.risk == DYNAMIC:
        yield ("dynamic-control", "risk is <dynamic>: the gate cannot tell which controls it needs",
               'write risk="low" | "medium" | "high" as a literal or a module-level constant')  # fmt: skip
    flag = row.kill_flag or f"{row.surface}.kill"
    if row.risk == "high":
        if row.approval not in ("before", "after"):
            what = {"none": "no approval gate", DYNAMIC: "the approval gate is <dynamic>"}.get(
                row.approval, f"approval not required ({row.approval_reason})")  # fmt: skip
            fix = 'add approval=tc.approval.require(when="before") (or when="after" to review the output)'
            yield "high-risk-approval", what, fix
        if not _has_kill_switch(row):
            yield "high-risk-kill-switch", "no kill switch: a kill flag needs a fallback", _FIX_KILL.format(flag=flag)
        if not row.prompt_pinned:
            if row.prompt is None:
                what = "no prompt declared: the prompt text is not versioned"
            elif row.prompt == DYNAMIC:
                what = "the prompt is <dynamic>"
            else:
                what = f"prompt {row.prompt} is not a pinned version (a label without a lock file, or not found)"
            yield ("high-risk-pinned-prompt", what,
                   'pin a version (prompt="name@3") from the prompts directory, or lock the prompts '
                   "(toolchain prompts lock) so a label moves only through a reviewed change")  # fmt: skip
        if row.audit in ("none", DYNAMIC):
            yield ("high-risk-audit", "no audit sink" if row.audit == "none" else "the audit sink is <dynamic>",
                   'configure one: tc.configure(audit=tc.audit.jsonl("audit.jsonl")), or [audit] sink = '
                   '"audit.jsonl" in toolchain.toml')  # fmt: skip
        if row.capture == "full":
            what = 'capture="full" records the content of a high-risk surface'
            fix = 'use capture="redacted" or "hash", or add a [[policy.exceptions]] entry with the reason'
            yield "full-capture-high-risk", what, fix
    elif row.risk == "medium" and not _has_kill_switch(row):
        yield "medium-risk-kill-switch", "no kill switch: a kill flag needs a fallback", _FIX_KILL.format(flag=flag)


def evaluate(
    rows: Sequence[SurfaceRow],
    unmanaged: Sequence[Unmanaged],
    policy: PolicyConfig,
    names: Callable[[str], Sequence[str]] | None = None,
) -> Outcome:
    """Check every row and unmanaged call site against the enabled rules, applying exceptions.

    ``names`` gives the other paths a file goes by (relative to the project root or a scanned
    directory), which ``allow_unmanaged`` globs may match too.
    """
    out = Outcome()
    for row in rows:
        gaps: list[str] = []
        for rule, message, fix in _row_findings(row):
            if not policy.enabled(rule):
                continue
            violation = Violation(row.file or "<unknown>", row.line or 0, row.surface, rule, message, fix)
            exc = policy.exception_for(row.surface, rule)
            if exc is not None:
                out.exceptions.append(AppliedException(violation, exc))
                continue
            out.violations.append(violation)
            if rule not in gaps:
                gaps.append(rule)
        out.rows.append(row.with_gaps(tuple(gaps)))
    applied = {id(a.exception) for a in out.exceptions}
    out.unused = [e for e in policy.exceptions if id(e) not in applied]
    if policy.enabled("unmanaged-call"):
        for call in unmanaged:
            if policy.allowed(call.file, *(names(call.file) if names is not None else ())):
                continue
            out.violations.append(
                Violation(
                    call.file,
                    call.line,
                    UNMANAGED_SURFACE,
                    "unmanaged-call",
                    f"direct {call.library} call {call.call}(...) outside any governed function or block",
                    "wrap it in a @tc.governed_call function or a `with tc.governed(...)` block, or allow the "
                    "path in [policy] allow_unmanaged",
                )
            )
    return out
