"""The audit step of a call: the record built from what the call recorded, its write, and the
check that keeps a high-risk call from running when its record could not be written.

Audit is a control, so it fails closed for high risk: ``AuditCheck`` (a gate, compiled only into
high-risk surfaces) raises ``AuditUnavailable`` before the function runs when the sink cannot
write. A record that fails after the function ran is spooled by ``toolchain_sdk.audit.write``;
the pipeline records the failure on the span and raises it for high risk, warns once otherwise.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.util import types as otel_types

from toolchain_sdk import audit, config, semconv
from toolchain_sdk._core.capture import Captured

if TYPE_CHECKING:
    from toolchain_sdk._core.call import CallRecord

__all__ = ["AuditCheck", "build_record"]


class AuditCheck:
    """A gate for high-risk surfaces: no call runs when its audit record could not be written."""

    reviews = False

    def check(self, call: CallRecord) -> Callable[..., Any] | None:
        """Raise ``AuditUnavailable`` (the call does not run) when the call's sink cannot write now."""
        sink = call.sink
        if sink is not None:
            try:
                sink.check()
            except BaseException:
                call.refused = True
                raise
        return None

    async def acheck(self, call: CallRecord) -> Callable[..., Any] | None:
        return self.check(call)

    def review(self, call: CallRecord, output: object) -> object:
        return output

    async def areview(self, call: CallRecord, output: object) -> object:
        return output


def _text(attrs: Mapping[str, object], key: str) -> str | None:
    value = attrs.get(key)
    return str(value) if value is not None else None


def _service(span: object) -> str | None:
    """The call's service: its span's resource ``service.name``, else configure()'s, else ``OTEL_SERVICE_NAME``."""
    resource = getattr(span, "resource", None)
    name = resource.attributes.get("service.name") if resource is not None else None
    if isinstance(name, str):
        return name
    return config.current_settings().service_name or os.environ.get("OTEL_SERVICE_NAME") or None


def build_record(
    call: CallRecord,
    attrs: Mapping[str, otel_types.AttributeValue],
    content: Mapping[str, Captured],
    exc: BaseException | None,
) -> audit.AuditRecord:
    """The ``call`` record of one governed call, from its span attributes and captured content."""
    surface = call.surface
    spec = surface.spec
    prompt = call.prompt
    span = call.span
    trace_id = span_id = ""
    if span is not None:
        ctx = span.get_span_context()
        trace_id, span_id = format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
    notes = call.note()
    fields: dict[str, Any] = {
        "time": _dt.datetime.fromtimestamp(notes.started_ns / 1e9, _dt.UTC),
        "trace_id": trace_id,
        "span_id": span_id,
        "service": _service(span),
        "surface": spec.surface,
        "owner": spec.owner,
        "risk": spec.risk,
        "data_class": spec.data_class,
        "capture": spec.capture,
        "model": _text(attrs, semconv.GEN_AI_REQUEST_MODEL) or spec.model,
        "provider": _text(attrs, semconv.GEN_AI_PROVIDER_NAME) or spec.provider,
        "route": spec.route,
        "route_attempt": attrs.get(semconv.ROUTE_ATTEMPT),
        "input_sha256": attrs.get(semconv.INPUT_SHA256),
        "output_sha256": attrs.get(semconv.OUTPUT_SHA256),
        "hash_alg": attrs.get(semconv.HASH_ALG),
        "hash_key_id": attrs.get(semconv.HASH_KEY_ID),
        "kill_switch_active": attrs.get(semconv.KILL_SWITCH_ACTIVE),
        "kill_switch_source": attrs.get(semconv.KILL_SWITCH_SOURCE),
        "fallback_handler": attrs.get(semconv.FALLBACK_HANDLER),
        "approval_decision": attrs.get(semconv.APPROVAL_DECISION),
        "approval_approver": attrs.get(semconv.APPROVAL_APPROVER),
        "approval_reason": attrs.get(semconv.APPROVAL_REASON),
        "approval_wait_ms": attrs.get(semconv.APPROVAL_WAIT_MS),
        "approval_id": attrs.get(semconv.APPROVAL_ID),
        "override_editor": attrs.get(semconv.OVERRIDE_EDITOR),
        "override_reason": attrs.get(semconv.OVERRIDE_REASON),
        "override_original_sha256": attrs.get(semconv.OVERRIDE_ORIGINAL_SHA256),
        "outcome": attrs.get(semconv.OUTCOME),
        "error_type": attrs.get(semconv.ERROR_TYPE),
        "stream_completed": attrs.get(semconv.STREAM_COMPLETED),
    }
    if prompt is not None:
        fields.update(
            prompt_name=prompt.name, prompt_version=prompt.version, prompt_label=prompt.label,
            prompt_sha256=prompt.sha256, prompt_source="file" if prompt.source is not None else "code",
        )  # fmt: skip
    if content:
        fields["redaction_policy"] = attrs.get(semconv.REDACTION_POLICY)  # what _capture redacted with
        truncated = []
        for name, captured in content.items():
            fields[name] = captured.value
            if captured.sha256 is not None:
                truncated.append({"field": name, "size": captured.size, "sha256": captured.sha256})
        fields["truncated"] = truncated
    if exc is not None:
        fields["error_message"] = surface.error_text(str(exc))
    if notes.retrieval is not None:
        fields.update(notes.retrieval)
    if notes.evidence is not None:
        fields.update(notes.evidence)
    return audit.AuditRecord(**{k: v for k, v in fields.items() if v is not None})
