"""Replay: everything needed to reproduce a recorded call, and whether what was recorded still checks out.

For each record it finds the prompt file (``toolchain_sdk.prompts``) and compares its bytes with the
recorded sha256, asks an optional resolver for each retrieved document's current hash, and states
what was not captured. A part that no longer matches fails the replay; a part never recorded does not.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from toolchain_sdk.audit._record import AuditRecord
from toolchain_sdk.audit._source import read
from toolchain_sdk.errors import ConfigError, PromptError

__all__ = ["Replay", "ReplayCheck", "ReplayItem", "Resolver", "replay"]

Resolver = Callable[[str | None, str | None, str], str | None]
"""``resolver(index, version, doc_id)``: the document's current SHA-256 (64 hex digits) or its current
text (hashed as UTF-8), or ``None`` when the index no longer has it."""

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class ReplayCheck:
    """One part of a record checked against what exists now.

    Attributes:
        part: ``prompt``, ``document ID``, ``output`` or ``input``.
        status: ``ok`` (still matches), ``mismatch`` (recorded, no longer matches: replay fails),
            ``not_recorded`` (nothing to check, stated) or ``unchecked`` (recorded, but nothing was
            given to check it against, e.g. no resolver).
        detail: one sentence for people.
    """

    part: str
    status: Literal["ok", "mismatch", "not_recorded", "unchecked"]
    detail: str


@dataclass(frozen=True)
class ReplayItem:
    """The replay of one record: the record, the prompt text found for it, and the checks."""

    record: AuditRecord
    prompt_text: str | None
    checks: tuple[ReplayCheck, ...]
    hash_command: str

    @property
    def ok(self) -> bool:
        """Whether no recorded part fails to match."""
        return all(c.status != "mismatch" for c in self.checks)


@dataclass(frozen=True)
class Replay:
    """The result of ``replay``: one item per matching record, in chain order."""

    items: tuple[ReplayItem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Whether everything recorded can still be checked (``toolchain audit replay`` exits 0)."""
        return all(item.ok for item in self.items)

    @property
    def exit_code(self) -> int:
        """0 when everything recorded still matches, 1 when a part no longer does."""
        return 0 if self.ok else 1

    def text(self) -> str:
        """The report ``toolchain audit replay`` prints."""
        return "\n\n".join(_describe(item) for item in self.items)


def _hash_command(record: AuditRecord) -> str:
    """The command that recomputes the output hash from the text shown (with the key's id when keyed)."""
    env = ""
    if record.hash_alg == "hmac-sha256":
        env = f"TOOLCHAIN_HASH_KEY=<the key with id {record.hash_key_id}> "
    return (
        f"{env}toolchain hash --file shown.txt   # shown.txt: the exact text the customer was shown "
        f"(no added newline); for a non-text output: {env}toolchain hash --json 'JSON'"
    )


def _check_prompt(record: AuditRecord, prompts_dir: str | None) -> tuple[ReplayCheck, str | None]:
    """Compare the recorded prompt version's file with the recorded sha256; return the check and its text."""
    if not record.prompt_name:
        return ReplayCheck("prompt", "not_recorded", "the call used no prompt"), None
    if record.prompt_source == "code":
        ref = f"{record.prompt_name}@{record.prompt_version}"
        detail = f"prompt {ref} was built in code, not read from a file: its template's sha256 {record.prompt_sha256}"
        return ReplayCheck("prompt", "unchecked", detail), None
    from toolchain_sdk.prompts import prompt as load

    ref = f"{record.prompt_name}@{record.prompt_version}"
    try:
        found = load(ref, prompts_dir, drift="warn")
    except PromptError as exc:
        return ReplayCheck("prompt", "mismatch", f"prompt file {ref} missing or unusable: {exc}"), None
    where = f"{ref} ({found.source})"
    if record.prompt_sha256 is None:
        return ReplayCheck("prompt", "unchecked", f"{where}: no sha256 was recorded to compare with"), found.template
    if found.sha256 != record.prompt_sha256:
        detail = f"{where} changed: recorded sha256 {record.prompt_sha256}, file now {found.sha256}"
        return ReplayCheck("prompt", "mismatch", detail), found.template
    return ReplayCheck("prompt", "ok", f"{where} matches the recorded sha256 {record.prompt_sha256}"), found.template


def _check_documents(record: AuditRecord, resolver: Resolver | None) -> list[ReplayCheck]:
    """Ask the resolver for each recorded document's current hash and compare."""
    checks: list[ReplayCheck] = []
    for doc in record.retrieval_documents:
        part = f"document {doc.id}"
        if doc.sha256 is None:
            checks.append(ReplayCheck(part, "not_recorded", "no hash was recorded for it"))
            continue
        if resolver is None:
            checks.append(ReplayCheck(part, "unchecked", f"recorded sha256 {doc.sha256}; give --resolver to check it"))
            continue
        try:
            now = resolver(record.retrieval_index, record.retrieval_version, doc.id)
        except Exception as exc:  # a resolver failure is reported, not raised
            checks.append(ReplayCheck(part, "mismatch", f"the resolver failed: {type(exc).__name__}: {exc}"))
            continue
        if now is None:
            checks.append(ReplayCheck(part, "mismatch", f"no longer in index {record.retrieval_index}"))
            continue
        current = now if _HEX64.match(now) else hashlib.sha256(now.encode("utf-8")).hexdigest()
        if current != doc.sha256:
            detail = f"differs: recorded sha256 {doc.sha256}, now {current}"
            checks.append(ReplayCheck(part, "mismatch", detail))
        else:
            checks.append(ReplayCheck(part, "ok", f"matches the recorded sha256 {doc.sha256}"))
    return checks


def _check_content(record: AuditRecord) -> list[ReplayCheck]:
    """State the content that was not captured (never a failure)."""
    mode = record.capture or "unknown"
    checks = []
    if record.input is None:
        checks.append(ReplayCheck("input", "not_recorded", f"inputs were not captured (capture={mode})"))
    if record.output is None:
        checks.append(ReplayCheck("output", "not_recorded", f"the output was not captured (capture={mode})"))
    return checks


def _item(record: AuditRecord, prompts_dir: str | None, resolver: Resolver | None) -> ReplayItem:
    """The replay of one record."""
    prompt_check, text = _check_prompt(record, prompts_dir)
    checks = (prompt_check, *_check_documents(record, resolver), *_check_content(record))
    return ReplayItem(record, text, checks, _hash_command(record))


def _json(value: object) -> str:
    """Indented, key-sorted JSON for people."""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def _describe(item: ReplayItem) -> str:
    """The printed report of one record."""
    r = item.record
    lines = [
        f"record {r.id} (seq {r.seq}, {r.kind}) at {r.time}",
        f"  surface: {r.surface}  owner: {r.owner}  risk: {r.risk}  outcome: {r.outcome}",
        f"  trace: {r.trace_id or '(tracing off)'}  span: {r.span_id or '-'}",
        f"  prompt: {r.prompt_name or '(none)'}"
        + (f"@{r.prompt_version}" + (f" (label {r.prompt_label})" if r.prompt_label else "") if r.prompt_name else "")
        + (f"  sha256 {r.prompt_sha256}" if r.prompt_sha256 else ""),
        f"  model: {r.model}  provider: {r.provider}  route: {r.route or '-'}"
        + (f" attempt {r.route_attempt}" if r.route_attempt is not None else ""),
    ]
    if item.prompt_text is not None:
        lines.append("  prompt text:")
        lines.extend("    " + line for line in item.prompt_text.splitlines())
    if r.prompt_rendered is not None:
        lines.append("  rendered prompt (captured):")
        lines.extend("    " + line for line in r.prompt_rendered.splitlines())
    lines.append(
        f"  input sha256: {r.input_sha256 or '(not recorded)'}  ({r.hash_alg or '-'}, key id {r.hash_key_id or '-'})"
    )
    if r.input is not None:
        lines.append(f"  input (capture={r.capture}):")
        lines.extend("    " + line for line in _json(r.input).splitlines())
    if r.retrieval_index or r.retrieval_documents:
        lines.append(
            f"  retrieval: index {r.retrieval_index} version {r.retrieval_version} scope {r.retrieval_scope or '-'}"
        )
        for doc in r.retrieval_documents:
            lines.append(f"    document {doc.id} sha256 {doc.sha256 or '(not recorded)'}")
    if r.citations or r.confidence is not None:
        citations = json.dumps(list(r.citations), ensure_ascii=False, separators=(", ", ": "))
        lines.append(f"  citations: {citations}  confidence: {r.confidence}")
    if r.output is not None:
        lines.append(f"  output (capture={r.capture}):")
        lines.extend(
            "    " + line for line in (r.output if isinstance(r.output, str) else _json(r.output)).splitlines()
        )
    for t in r.truncated:
        lines.append(f"  truncated: {t.field} (full size {t.size} bytes, sha256 {t.sha256})")
    lines.append(f"  output sha256: {r.output_sha256 or '(not recorded)'}")
    lines.append(f"  recompute it: {item.hash_command}")
    if r.approval_decision:
        lines.append(f"  approval: {r.approval_decision} by {r.approval_approver} ({r.approval_reason or '-'})")
    if r.override_editor:
        lines.append(
            f"  override: by {r.override_editor} ({r.override_reason}); original sha256 {r.override_original_sha256}"
        )
    if r.kill_switch_active:
        lines.append(f"  kill switch: on ({r.kill_switch_source}); fallback {r.fallback_handler}")
    lines.append("  checks:")
    for c in item.checks:
        lines.append(f"    {c.status.upper():13} {c.part}: {c.detail}")
    return "\n".join(lines)


def replay(
    path_or_url: str | os.PathLike[str],
    *,
    record_id: str | None = None,
    trace_id: str | None = None,
    prompts_dir: str | None = None,
    resolver: Resolver | None = None,
) -> Replay:
    """Everything needed to reproduce the call(s) a record id or a trace id names, with checks.

    Args:
        path_or_url: the chain (``PATH`` or ``sqlite:///PATH``).
        record_id: one record's id; or ``trace_id``: every record of that trace.
        prompts_dir: where prompt files are (default: ``$TOOLCHAIN_PROMPTS_DIR``, else ``prompts``).
        resolver: ``resolver(index, version, doc_id)`` → the document's current sha256 or text.

    Raises:
        ConfigError: neither or both of ``record_id``/``trace_id``, no chain there, or no record matches.
    """
    if (record_id is None) == (trace_id is None):
        raise ConfigError("replay: give a record id or a trace id (exactly one)")
    found = [r for r in read(path_or_url) if (r.id == record_id if record_id is not None else r.trace_id == trace_id)]
    if not found:
        what = f"record {record_id}" if record_id is not None else f"trace {trace_id}"
        raise ConfigError(f"{what}: no such record in {os.fspath(path_or_url)}")
    return Replay(tuple(_item(r, prompts_dir, resolver) for r in found))
