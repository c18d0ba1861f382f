"""Every span attribute and event name the SDK writes, in one place.

The OpenTelemetry GenAI and feature-flag conventions are still "Development" status; keeping
their names here means a rename upstream is a one-line change. ``docs/span-attributes.md``
documents each name.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "APPROVAL_APPROVER",
    "APPROVAL_DECISION",
    "APPROVAL_EXPIRES_AT",
    "APPROVAL_ID",
    "APPROVAL_REASON",
    "APPROVAL_REQUIRED",
    "APPROVAL_SUBJECT_SHA256",
    "APPROVAL_WAIT_MS",
    "APPROVAL_WHEN",
    "AUDIT_ERROR_TYPE",
    "AUDIT_RECORD_ID",
    "CAPTURE_MODE",
    "CONTENT_ATTRIBUTES",
    "CONTENT_EVENTS",
    "CONTENT_PREFIXES",
    "DATA_CLASS",
    "ERROR_TYPE",
    "EVAL_CASE",
    "EVAL_FILE",
    "EVENT_APPROVAL_DECIDED",
    "EVENT_APPROVAL_REQUESTED",
    "EVENT_EXCEPTION",
    "EVENT_FEATURE_FLAG_EVALUATION",
    "EVENT_KILL_SWITCH_ENGAGED",
    "EVENT_ROUTE_FALLBACK",
    "EVENT_ROUTE_RETRY",
    "EXCEPTION_MESSAGE",
    "EXCEPTION_STACKTRACE",
    "EXCEPTION_TYPE",
    "FALLBACK_HANDLER",
    "FEATURE_FLAG_ERROR_MESSAGE",
    "FEATURE_FLAG_KEY",
    "FEATURE_FLAG_PROVIDER_NAME",
    "FEATURE_FLAG_RESULT_REASON",
    "FEATURE_FLAG_RESULT_VALUE",
    "FEATURE_FLAG_RESULT_VARIANT",
    "GEN_AI_DATA_SOURCE_ID",
    "GEN_AI_EVALUATION_EXPLANATION",
    "GEN_AI_EVALUATION_NAME",
    "GEN_AI_EVALUATION_SCORE_LABEL",
    "GEN_AI_EVALUATION_SCORE_VALUE",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_PROMPT_NAME",
    "GEN_AI_PROMPT_VERSION",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MAX_TOKENS",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_REQUEST_TEMPERATURE",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_ID",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_TOKEN_TYPE",
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "GEN_AI_USAGE_REASONING_OUTPUT_TOKENS",
    "HASH_ALG",
    "HASH_KEY_ID",
    "INPUT_MIME_TYPE",
    "INPUT_SHA256",
    "INPUT_TRUNCATED",
    "INPUT_VALUE",
    "INSTRUMENTATION_NAME",
    "KILL_SWITCH_ACTIVE",
    "KILL_SWITCH_ERROR_TYPE",
    "KILL_SWITCH_RULE",
    "KILL_SWITCH_SOURCE",
    "METRIC_APPROVAL_PENDING",
    "METRIC_APPROVAL_WAIT",
    "METRIC_CALLS",
    "METRIC_FALLBACK_FAILED",
    "METRIC_GEN_AI_OPERATION_DURATION",
    "METRIC_GEN_AI_TOKEN_USAGE",
    "METRIC_KILL_SWITCH_ENGAGED",
    "MIME_JSON",
    "MIME_TEXT",
    "MODEL_MISMATCH",
    "OPENINFERENCE_SPAN_KIND",
    "OUTCOME",
    "OUTPUT_MIME_TYPE",
    "OUTPUT_SHA256",
    "OUTPUT_TRUNCATED",
    "OUTPUT_VALUE",
    "OVERRIDE_EDITOR",
    "OVERRIDE_ORIGINAL_SHA256",
    "OVERRIDE_REASON",
    "OWNER",
    "PROMPT_DRIFT",
    "PROMPT_LABEL",
    "PROMPT_RENDERED",
    "PROMPT_SHA256",
    "REDACTION_POLICY",
    "RETRIEVAL_INDEX",
    "RETRIEVAL_VERSION",
    "RISK",
    "ROUTE_ATTEMPT",
    "ROUTE_FALLBACK_REASON",
    "ROUTE_NAME",
    "SDK_OWNED",
    "SDK_OWNED_PREFIXES",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "SPAN_KIND_CHAIN",
    "SPAN_KIND_EVALUATOR",
    "SPAN_KIND_GUARDRAIL",
    "SPAN_KIND_LLM",
    "STREAM_CHUNKS",
    "STREAM_COMPLETED",
    "SURFACE",
    "error_type",
    "sdk_owned",
]

# --- OpenTelemetry GenAI semantic conventions -------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
"""Cache writes: the current GenAI conventions' name (semantic-conventions-genai#440 renamed
``gen_ai.usage.cache_creation.input_tokens``); anthropic's own tracing emits it too."""
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
GEN_AI_PROMPT_NAME: Final = "gen_ai.prompt.name"
GEN_AI_PROMPT_VERSION: Final = "gen_ai.prompt.version"
GEN_AI_DATA_SOURCE_ID: Final = "gen_ai.data_source.id"
GEN_AI_EVALUATION_NAME: Final = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION: Final = "gen_ai.evaluation.explanation"
ERROR_TYPE: Final = "error.type"

# --- OpenInference (Arize Phoenix) --------------------------------------------------------------
OPENINFERENCE_SPAN_KIND: Final = "openinference.span.kind"
"""Set explicitly on every governed span: Phoenix infers ``LLM`` from ``gen_ai.operation.name`` otherwise."""
SPAN_KIND_LLM: Final = "LLM"
SPAN_KIND_CHAIN: Final = "CHAIN"
SPAN_KIND_GUARDRAIL: Final = "GUARDRAIL"
SPAN_KIND_EVALUATOR: Final = "EVALUATOR"
INPUT_VALUE: Final = "input.value"
"""Captured input (capture ``redacted`` or ``full``): the bound arguments, as text or JSON."""
INPUT_MIME_TYPE: Final = "input.mime_type"
OUTPUT_VALUE: Final = "output.value"
"""Captured output (capture ``redacted`` or ``full``): the returned value or the stream's concatenation."""
OUTPUT_MIME_TYPE: Final = "output.mime_type"
MIME_TEXT: Final = "text/plain"
MIME_JSON: Final = "application/json"

# --- GenAI message content (what client instrumentations may capture) ------------------------------
CONTENT_ATTRIBUTES: Final = frozenset(
    {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.prompt",
     "gen_ai.completion", "input.value", "output.value"}
)  # fmt: skip
CONTENT_PREFIXES: Final = ("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.output_messages.")
CONTENT_EVENTS: Final = frozenset(
    {"gen_ai.user.message", "gen_ai.system.message", "gen_ai.assistant.message", "gen_ai.tool.message",
     "gen_ai.choice", "gen_ai.client.inference.operation.details", "gen_ai.content.prompt",
     "gen_ai.content.completion"}
)  # fmt: skip

# --- OpenTelemetry exception conventions (the ``exception`` span event) -------------------------
EVENT_EXCEPTION: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"

# --- OpenTelemetry feature-flag conventions ----------------------------------------------------
FEATURE_FLAG_KEY: Final = "feature_flag.key"
FEATURE_FLAG_RESULT_VARIANT: Final = "feature_flag.result.variant"
FEATURE_FLAG_PROVIDER_NAME: Final = "feature_flag.provider.name"
FEATURE_FLAG_RESULT_REASON: Final = "feature_flag.result.reason"
FEATURE_FLAG_ERROR_MESSAGE: Final = "feature_flag.error.message"
FEATURE_FLAG_RESULT_VALUE: Final = "feature_flag.result.value"
EVENT_FEATURE_FLAG_EVALUATION: Final = "feature_flag.evaluation"
"""The conventions' evaluation event: recorded when the switch engaged or a source failed."""

# --- toolchain.* -------------------------------------------------------------------------------
SURFACE: Final = "toolchain.surface"
OWNER: Final = "toolchain.owner"
RISK: Final = "toolchain.risk"
DATA_CLASS: Final = "toolchain.data_class"
OUTCOME: Final = "toolchain.outcome"

PROMPT_SHA256: Final = "toolchain.prompt.sha256"
PROMPT_LABEL: Final = "toolchain.prompt.label"
PROMPT_DRIFT: Final = "toolchain.prompt.drift"

INPUT_SHA256: Final = "toolchain.input.sha256"
OUTPUT_SHA256: Final = "toolchain.output.sha256"
HASH_ALG: Final = "toolchain.hash.alg"
HASH_KEY_ID: Final = "toolchain.hash.key_id"
CAPTURE_MODE: Final = "toolchain.capture.mode"

ROUTE_NAME: Final = "toolchain.route.name"
ROUTE_ATTEMPT: Final = "toolchain.route.attempt"
ROUTE_FALLBACK_REASON: Final = "toolchain.route.fallback_reason"
MODEL_MISMATCH: Final = "toolchain.model.mismatch"

KILL_SWITCH_ACTIVE: Final = "toolchain.kill_switch.active"
KILL_SWITCH_SOURCE: Final = "toolchain.kill_switch.source"
KILL_SWITCH_RULE: Final = "toolchain.kill_switch.rule"
KILL_SWITCH_ERROR_TYPE: Final = "toolchain.kill_switch.error.type"
FALLBACK_HANDLER: Final = "toolchain.fallback.handler"

APPROVAL_REQUIRED: Final = "toolchain.approval.required"
APPROVAL_DECISION: Final = "toolchain.approval.decision"
APPROVAL_APPROVER: Final = "toolchain.approval.approver"
APPROVAL_REASON: Final = "toolchain.approval.reason"
APPROVAL_ID: Final = "toolchain.approval.id"
APPROVAL_WAIT_MS: Final = "toolchain.approval.wait_ms"
APPROVAL_WHEN: Final = "toolchain.approval.when"
APPROVAL_SUBJECT_SHA256: Final = "toolchain.approval.subject_sha256"
APPROVAL_EXPIRES_AT: Final = "toolchain.approval.expires_at"

OVERRIDE_EDITOR: Final = "toolchain.override.editor"
OVERRIDE_REASON: Final = "toolchain.override.reason"
OVERRIDE_ORIGINAL_SHA256: Final = "toolchain.override.original_sha256"

RETRIEVAL_INDEX: Final = "toolchain.retrieval.index"
RETRIEVAL_VERSION: Final = "toolchain.retrieval.version"

STREAM_COMPLETED: Final = "toolchain.stream.completed"
STREAM_CHUNKS: Final = "toolchain.stream.chunks"

REDACTION_POLICY: Final = "toolchain.redaction.policy"
"""The version of the active redaction policy, on every span that carries content."""
PROMPT_RENDERED: Final = "toolchain.prompt.rendered"
"""The rendered prompt text (capture ``redacted`` or ``full``, when ``call.prompt.render`` was used)."""
INPUT_TRUNCATED: Final = "toolchain.input.truncated"
OUTPUT_TRUNCATED: Final = "toolchain.output.truncated"
AUDIT_RECORD_ID: Final = "toolchain.audit.record_id"
AUDIT_ERROR_TYPE: Final = "toolchain.audit.error.type"

EVAL_CASE: Final = "toolchain.eval.case"
EVAL_FILE: Final = "toolchain.eval.file"

# --- span events -------------------------------------------------------------------------------
EVENT_KILL_SWITCH_ENGAGED: Final = "kill_switch.engaged"
EVENT_APPROVAL_REQUESTED: Final = "approval.requested"
EVENT_APPROVAL_DECIDED: Final = "approval.decided"
EVENT_ROUTE_RETRY: Final = "route.retry"
EVENT_ROUTE_FALLBACK: Final = "route.fallback"

# --- metrics -------------------------------------------------------------------------------------
METRIC_CALLS: Final = "toolchain.calls"
METRIC_KILL_SWITCH_ENGAGED: Final = "toolchain.kill_switch.engaged"
METRIC_FALLBACK_FAILED: Final = "toolchain.fallback.failed"
METRIC_APPROVAL_WAIT: Final = "toolchain.approval.wait"
METRIC_APPROVAL_PENDING: Final = "toolchain.approval.pending"
METRIC_GEN_AI_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
METRIC_GEN_AI_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
"""Metric attribute of ``gen_ai.client.token.usage``: ``input`` or ``output``."""

# --- who may write what -----------------------------------------------------------------------
SDK_OWNED_PREFIXES: Final = ("toolchain.", "feature_flag.")
"""Attribute namespaces only the SDK writes on a governed span."""

# --- resource / instrumentation scope -----------------------------------------------------------
INSTRUMENTATION_NAME: Final = "toolchain_sdk"


def error_type(exc: BaseException) -> str:
    """The value of ``error.type`` for ``exc``: its qualified class name (builtins unqualified)."""
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _sdk_owned() -> frozenset[str]:
    names = {
        v
        for k, v in globals().items()
        if k.isupper() and isinstance(v, str) and not k.startswith(("EVENT_", "METRIC_", "SPAN_KIND_", "MIME_"))
    }
    attributes = {n for n in names if "." in n and not n.startswith("exception.")}
    # content a client instrumentation writes is not ours; the governed span's own input/output values are
    return frozenset(attributes - (CONTENT_ATTRIBUTES - {INPUT_VALUE, OUTPUT_VALUE}))


SDK_OWNED: Final = _sdk_owned()
"""Every attribute name the SDK writes on governed spans: the body's ``call.set_attribute`` may not."""


def sdk_owned(key: str) -> bool:
    """Whether ``key`` is an attribute the SDK owns (body code may not write it)."""
    return key in SDK_OWNED or key.startswith(SDK_OWNED_PREFIXES)
