"""The pipeline of one governed call, shared by every function kind and by ``governed()`` blocks.

Start the span with the surface's static attributes → gates before the call (kill switch,
approval) → the function → gates after (approval of the output) → hash the output → end the span.
SDK steps fail open through ``_safety``; gates (controls) fail closed and are never skipped.
"""

from __future__ import annotations

import contextvars
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util import types as otel_types

from toolchain_sdk import audit, config, semconv
from toolchain_sdk._core.binding import CALL_PARAM, Binder
from toolchain_sdk._core.call import CURRENT, OVERRIDES, PROMPT_OVERRIDE, CallRecord
from toolchain_sdk._core.capture import CONTENT_MODES, Captured, KeepingStreamHasher, capture, joined
from toolchain_sdk._core.recording import build_record
from toolchain_sdk._core.returned import GovernedStream, is_stream
from toolchain_sdk._core.safety import report, warn_once
from toolchain_sdk.audit import active_sink
from toolchain_sdk.errors import AuditUnavailable
from toolchain_sdk.hashing import StreamHasher
from toolchain_sdk.inventory import SurfaceSpec
from toolchain_sdk.prompts import Prompt
from toolchain_sdk.redaction import active_policy, redact, scrub_text
from toolchain_sdk.tracing import Instruments, active_tracer, active_watcher, instruments

__all__ = ["Gate", "Surface", "enter", "leave", "stream_context"]


class Gate(Protocol):
    """A control the pipeline runs around the function (kill switch, approval).

    ``check`` runs before the function and may return a replacement callable (a fallback) or
    raise (a denial); ``review`` runs after and may return a different output (an edit). The
    async variants are awaited on async paths, so a gate never blocks the event loop.
    ``reviews`` is false for a gate whose ``review`` always returns the output unchanged, so the
    pipeline can skip it.
    """

    reviews: bool

    def check(self, call: CallRecord) -> Callable[..., Any] | None: ...
    async def acheck(self, call: CallRecord) -> Callable[..., Any] | None: ...
    def review(self, call: CallRecord, output: object) -> object: ...
    async def areview(self, call: CallRecord, output: object) -> object: ...


class Router(Protocol):
    """Runs a routed function once per attempt along its route (``toolchain_sdk.routing`` is one)."""

    def run_sync(self, route: Any, state: Any, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any: ...
    async def run_async(self, route: Any, state: Any, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any: ...
    def run_generator(self, route: Any, state: Any, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any: ...
    def run_async_generator(self, route: Any, state: Any, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any: ...
    def RouteState(self, route: Any, *, on_event: Any = None) -> Any: ...  # noqa: N802 - the class it makes


class Surface:
    """One surface compiled at decoration time: its spec, static span attributes and pipeline."""

    __slots__ = ("binder", "content", "excluded", "gates", "genai_metric_attrs", "hash_io", "inject",
                 "metric_attrs", "prompt", "reviewers", "route", "route_run", "router", "span_name", "spec",
                 "static_attrs")  # fmt: skip

    def __init__(
        self,
        spec: SurfaceSpec,
        prompt: Prompt | None,
        binder: Binder,
        inject: bool,
        gates: tuple[Gate, ...],
        route: Any = None,
        router: Router | None = None,
    ) -> None:
        self.spec = spec
        self.route = route
        self.router = router
        self.route_run: Callable[..., Any] | None = None
        if router is not None:  # the runner for the function's kind, chosen once
            self.route_run = {
                "async": router.run_async,
                "generator": router.run_generator,
                "async-generator": router.run_async_generator,
            }.get(spec.kind, router.run_sync)
        self.excluded = frozenset(spec.exclude_args)
        self.prompt = prompt
        self.binder = binder
        self.inject = inject
        self.span_name = spec.surface
        self.hash_io = spec.capture != "none"
        self.content = spec.capture in CONTENT_MODES  # spans and records carry content, not only hashes
        self.gates = gates
        self.reviewers = tuple(g for g in gates if g.reviews)  # the gates that may change the output
        attrs: dict[str, otel_types.AttributeValue | None] = {
            semconv.SURFACE: spec.surface,
            semconv.GEN_AI_OPERATION_NAME: spec.operation,
            semconv.GEN_AI_REQUEST_MODEL: spec.model,
            semconv.GEN_AI_PROVIDER_NAME: spec.provider,
            semconv.OWNER: spec.owner,
            semconv.RISK: spec.risk,
            semconv.DATA_CLASS: spec.data_class,
            semconv.CAPTURE_MODE: spec.capture,
            semconv.ROUTE_NAME: spec.route,
            semconv.GEN_AI_PROMPT_NAME: prompt.name if prompt else None,
            semconv.GEN_AI_PROMPT_VERSION: prompt.version if prompt else None,
            semconv.PROMPT_SHA256: prompt.sha256 if prompt else None,
            semconv.PROMPT_LABEL: prompt.label if prompt else None,
            semconv.PROMPT_DRIFT: True if prompt is not None and prompt.drift else None,
        }
        self.static_attrs: dict[str, otel_types.AttributeValue] = {k: v for k, v in attrs.items() if v is not None}
        labels = {semconv.SURFACE: spec.surface, semconv.RISK: spec.risk, semconv.OWNER: spec.owner or ""}
        self.metric_attrs = {o: {**labels, semconv.OUTCOME: o} for o in ("ok", "fallback", "denied", "error")}
        self.genai_metric_attrs = {
            k: v
            for k, v in {
                semconv.GEN_AI_OPERATION_NAME: spec.operation,
                semconv.GEN_AI_PROVIDER_NAME: spec.provider,
                semconv.GEN_AI_REQUEST_MODEL: spec.model,
            }.items()
            if v is not None
        }

    # --- the pipeline steps, shared by every function kind ---------------------------------------
    def check_injection(self, instance: object, args: tuple[object, ...], kwargs: Mapping[str, object]) -> None:
        """Refuse a ``call`` argument from the caller: the SDK injects it."""
        index = self.binder.call_index
        if CALL_PARAM in kwargs or (index is not None and len(args) > index - (instance is not None)):
            raise TypeError(f"{self.spec.surface}: the 'call' argument is injected by @governed_call; do not pass it")

    def begin(self, instance: object, args: tuple[object, ...], kwargs: dict[str, object]) -> CallRecord:
        """Create the call's record and, when tracing is on, start its span with the input hash."""
        call = CallRecord(self, args, kwargs, instance)
        attributes = self.static_attrs
        if OVERRIDES.used:  # an eval run in this process set prompt versions: [name@4]
            override = PROMPT_OVERRIDE.get()
            if override is not None and override[0] == self.span_name:
                call.note().prompt, attributes = override[1], _with_prompt(attributes, override[1])
        if self.router is not None:
            call.route_state = self.router.RouteState(self.route, on_event=call.add_event)
        if self.inject:
            self.check_injection(instance, args, kwargs)  # the caller must not pass `call`: the SDK injects it
            kwargs[CALL_PARAM] = call.handle
        sink = active_sink()
        if sink is not None:
            call.sink = sink
            call.note().started_ns = time.time_ns()
        tracer = active_tracer()
        if tracer is None:
            if sink is not None:
                self._hash_input(call)
            return call
        try:
            span = call.span = tracer.start_span(self.span_name, kind=SpanKind.INTERNAL, attributes=attributes)
            watcher = active_watcher()
            if watcher is not None:
                watcher.watch(span.get_span_context().span_id, call)
            self._hash_input(call)
        except Exception as exc:
            report("span start", exc)
        return call

    def _hash_input(self, call: CallRecord) -> None:
        """``toolchain.input.sha256`` of the recorded arguments (one warning when they cannot be hashed)."""
        if self.hash_io and self.binder.has_parameters:
            try:
                arguments = call.recorded_arguments if self.excluded else call.arguments
                call.attrs[semconv.INPUT_SHA256] = config.hasher().hash_arguments(arguments)
            except (TypeError, ValueError) as exc:
                warn_once(f"input-hash:{self.span_name}", "toolchain_sdk: %s: no input hash: %s", self.span_name, exc)

    def run_gates(self, call: CallRecord, target: Callable[..., Any]) -> Callable[..., Any]:
        """Run the before-gates; the first replacement (fallback) wins; a routed function goes through its route."""
        for gate in self.gates:
            replacement = gate.check(call)
            if replacement is not None:
                return replacement
        return self._routed(call, target) if self.route_run is not None else target

    async def arun_gates(self, call: CallRecord, target: Callable[..., Any]) -> Callable[..., Any]:
        """``run_gates`` for async paths."""
        for gate in self.gates:
            replacement = await gate.acheck(call)
            if replacement is not None:
                return replacement
        return self._routed(call, target) if self.route_run is not None else target

    def _routed(self, call: CallRecord, target: Callable[..., Any]) -> Callable[..., Any]:
        """``target`` called along the surface's route (the runner for the function's kind)."""
        run, route, state = self.route_run, self.route, call.route_state
        assert run is not None
        return lambda *args, **kwargs: run(route, state, target, args, kwargs)

    def observe(self, digest: StreamHasher, item: object) -> None:
        """Feed one chunk of a stream to its hash; a chunk that cannot be hashed stops the hash, not
        the count, and not the call (one warning)."""
        try:
            digest.update(item)
        except (TypeError, ValueError) as exc:
            warn_once(f"stream-hash:{self.span_name}", "toolchain_sdk: %s: no output hash: %s", self.span_name, exc)
            digest.stop_hashing()
            digest.update(item)  # counted only

    def review(self, call: CallRecord, output: object) -> object:
        """Run the after-gates over the output (they may replace it)."""
        for gate in self.reviewers:
            output = gate.review(call, output)
        return output

    async def areview(self, call: CallRecord, output: object) -> object:
        """``review`` for async paths."""
        for gate in self.reviewers:
            output = await gate.areview(call, output)
        return output

    def done(self, call: CallRecord, tokens: tuple[object, object], output: object) -> object:
        """Leave the call's context and end its span with ``output``; returns ``output``.

        A stream (an iterator) returned by a plain function comes back wrapped, and its span
        ends when the stream does (``_core/returned.py``).
        """
        leave(tokens)
        if type(output) not in _NOT_STREAMS and (call.span is not None or call.sink is not None) and is_stream(output):
            return GovernedStream(output, self, call)
        self.finish(call, output)
        return output

    def failed(self, call: CallRecord, tokens: tuple[object, object], exc: BaseException) -> None:
        """Leave the call's context and end its span with ``exc`` (the caller re-raises it)."""
        leave(tokens)
        self.fail(call, exc)

    def finish(self, call: CallRecord, output: object, has_output: bool = True) -> None:
        """End the span (and write the audit record) of a call that returned: outcome, output hash, usage.

        Raises:
            AuditUnavailable: a high-risk call's record could not be written (it went to the spool).
        """
        if call.span is not None or call.sink is not None:
            if call.output is not None:
                output, has_output = call.output[0], True
            self._end(call, "ok", output if has_output else _NO_OUTPUT)

    def finish_stream(self, call: CallRecord, digest: StreamHasher | None, completed: bool) -> None:
        """End the span (and write the record) of a stream that was exhausted (``completed``) or closed early.

        Raises:
            AuditUnavailable: as for ``finish``.
        """
        if call.span is not None or call.sink is not None:
            self._end(call, "ok", _NO_OUTPUT, digest, completed)

    def fail(self, call: CallRecord, exc: BaseException, digest: StreamHasher | None = None) -> None:
        """End the span (and write the record) of a call that raised: status ERROR, ``error.type``, exception event.

        The caller re-raises ``exc``; a record that could not be written is spooled and warned about.
        """
        if call.span is not None or call.sink is not None:
            self._end(call, "error", _NO_OUTPUT, digest, False if digest is not None else None, exc)

    def new_digest(self, call: CallRecord) -> StreamHasher | None:
        """A stream hasher for this call (one that keeps the chunks when content is captured), or ``None``."""
        if call.span is None and call.sink is None:
            return None
        hasher = config.hasher()
        if self.content:
            return KeepingStreamHasher(hasher.new())
        return hasher.stream(count_only=not self.hash_io)

    def _end(
        self,
        call: CallRecord,
        outcome: str,
        output: object,
        digest: StreamHasher | None = None,
        completed: bool | None = None,
        exc: BaseException | None = None,
    ) -> None:
        """Write what the call recorded, its audit record, and end its span.

        A failure of the span code ends the span bare and never raises. An audit record that could
        not be written is on the span (``toolchain.audit.error.type``) and spooled; for a high-risk
        call that returned, its ``AuditUnavailable`` is raised after the span ended.
        """
        span, lost = call.span, None
        try:
            attrs = call.attrs
            outcome = attrs[semconv.OUTCOME] = call.outcome or outcome
            if call.route_state is not None:
                attrs.update(call.route_state.attributes())
            kind = attrs[semconv.OPENINFERENCE_SPAN_KIND] = _usage_rule(attrs, outcome, call)
            meters = instruments()
            if meters is not None and span is not None:
                self._measure(meters, span, attrs, outcome, kind)
            if completed is not None:
                attrs[semconv.STREAM_COMPLETED] = completed
            if digest is not None:
                attrs[semconv.STREAM_CHUNKS] = digest.chunks
            if self.hash_io and (output is not _NO_OUTPUT or (digest is not None and digest.hashing and exc is None)):
                self._hash_output(call, output, digest)
            content = self._capture(call, output, digest) if self.content else {}
            if exc is not None:
                attrs[semconv.ERROR_TYPE] = semconv.error_type(exc)
            if call.sink is not None:
                lost = self._audit(call, attrs, content, exc)
            if span is not None:
                if exc is not None:
                    self._record_exception(span, attrs, exc)
                for name, event_attrs, stamp in call.events:
                    span.add_event(name, event_attrs, stamp)
                span.set_attributes(attrs)
        except Exception as err:
            report("span end", err)
        if span is not None:
            span.end()
        if lost is not None:
            # raised for a high-risk call that returned; a stream the consumer closed early only warns
            self._lost(lost, raise_it=exc is None and completed is not False and self.spec.risk == "high")

    def _capture(self, call: CallRecord, output: object, digest: StreamHasher | None) -> dict[str, Captured]:
        """Record the call's content (arguments, output, rendered prompt) as its capture mode allows."""
        mode, attrs = self.spec.capture, call.attrs
        content: dict[str, Captured] = {}
        if self.binder.has_parameters:
            content["input"] = captured = capture(call.recorded_arguments, mode)
            attrs[semconv.INPUT_VALUE], attrs[semconv.INPUT_MIME_TYPE] = captured.text, captured.mime
            if captured.sha256 is not None:
                attrs[semconv.INPUT_TRUNCATED] = True
        if output is _NO_OUTPUT and isinstance(digest, KeepingStreamHasher):
            output = joined(digest.kept)
        if output is not _NO_OUTPUT:
            content["output"] = captured = capture(output, mode)
            attrs[semconv.OUTPUT_VALUE], attrs[semconv.OUTPUT_MIME_TYPE] = captured.text, captured.mime
            if captured.sha256 is not None:
                attrs[semconv.OUTPUT_TRUNCATED] = True
        rendered = call.notes.rendered if call.notes is not None else None
        if rendered is not None:
            content["prompt_rendered"] = captured = capture(rendered, mode)
            attrs[semconv.PROMPT_RENDERED] = captured.text
        attrs[semconv.REDACTION_POLICY] = active_policy().version
        return content

    def _audit(
        self,
        call: CallRecord,
        attrs: dict[str, otel_types.AttributeValue],
        content: dict[str, Captured],
        exc: BaseException | None,
    ) -> AuditUnavailable | None:
        """Write the call's audit record; returns the failure (the record is in the spool) or ``None``."""
        try:
            record = audit.write(build_record(call, attrs, content, exc))
        except AuditUnavailable as failure:
            attrs[semconv.AUDIT_ERROR_TYPE] = semconv.error_type(failure.__cause__ or failure)
            return failure
        attrs[semconv.AUDIT_RECORD_ID] = record.id
        return None

    def _lost(self, failure: AuditUnavailable, *, raise_it: bool) -> None:
        """A record that could not be written: raised for a high-risk call that returned, else one warning."""
        if raise_it:
            raise failure
        warn_once(
            f"audit:{self.span_name}",
            "toolchain_sdk: %s: the audit record could not be written (kept in the spool file): %s",
            self.span_name,
            failure,
        )

    def _measure(
        self, meters: Instruments, span: Span, attrs: dict[str, otel_types.AttributeValue], outcome: str, kind: str
    ) -> None:
        """Count the call; for a model call no instrumentation measured, its tokens and duration too."""
        meters.calls.add(1, self.metric_attrs[outcome])
        if kind != semconv.SPAN_KIND_LLM:
            return
        genai = self.genai_metric_attrs
        if self.route is not None:  # the target that answered, not the primary declared at decoration
            genai = {**genai}
            for key in (semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_PROVIDER_NAME):
                value = attrs.get(key)
                if isinstance(value, str):
                    genai[key] = value
        for key, token_type in ((semconv.GEN_AI_USAGE_INPUT_TOKENS, "input"), (semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
                                                                               "output")):  # fmt: skip
            value = attrs.get(key)
            if isinstance(value, int):
                meters.token_usage.record(value, {**genai, semconv.GEN_AI_TOKEN_TYPE: token_type})
        started = getattr(span, "start_time", None)
        if isinstance(started, int):
            waited = attrs.get(semconv.APPROVAL_WAIT_MS)
            seconds = (time.time_ns() - started) / 1e9 - (waited / 1000 if isinstance(waited, (int, float)) else 0)
            meters.operation_duration.record(max(seconds, 0.0), genai)

    def error_text(self, text: str) -> str:
        """Exception text as this surface exports it: secrets (and card numbers, SSNs) out in every mode,
        all personal data out too under ``capture="redacted"`` (an exception message is content)."""
        if self.spec.capture == "redacted":
            cleaned = redact(text)
            return cleaned if isinstance(cleaned, str) else scrub_text(text)
        return scrub_text(text)

    def _record_exception(self, span: Span, attrs: dict[str, otel_types.AttributeValue], exc: BaseException) -> None:
        """``error.type``, the ``exception`` event and the ERROR status, every text cleaned (``error_text``).

        Not ``span.record_exception``: it would export the message and stack trace as they are.
        """
        kind = attrs[semconv.ERROR_TYPE]
        message = self.error_text(str(exc))
        trace_text = self.error_text("".join(traceback.format_exception(exc)))
        span.add_event(
            semconv.EVENT_EXCEPTION,
            {
                semconv.EXCEPTION_TYPE: kind,
                semconv.EXCEPTION_MESSAGE: message,
                semconv.EXCEPTION_STACKTRACE: trace_text,
            },
        )
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"))

    def _hash_output(self, call: CallRecord, output: object, digest: StreamHasher | None) -> None:
        hasher = config.hasher()
        try:
            call.attrs[semconv.OUTPUT_SHA256] = digest.hexdigest() if digest is not None else hasher.hash_value(output)
        except (TypeError, ValueError) as exc:
            warn_once(f"output-hash:{self.span_name}", "toolchain_sdk: %s: no output hash: %s", self.span_name, exc)
        call.attrs[semconv.HASH_ALG] = hasher.alg
        if hasher.key_id:
            call.attrs[semconv.HASH_KEY_ID] = hasher.key_id


_USAGE = (
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
)
_USAGE_SET = frozenset(_USAGE)
_LLM, _CHAIN = semconv.SPAN_KIND_LLM, semconv.SPAN_KIND_CHAIN
_RESPONSE = (
    semconv.GEN_AI_RESPONSE_MODEL,
    semconv.GEN_AI_RESPONSE_ID,
    semconv.GEN_AI_RESPONSE_FINISH_REASONS,
    semconv.MODEL_MISMATCH,
)


def _usage_rule(attrs: dict[str, otel_types.AttributeValue], outcome: str, call: CallRecord) -> str:
    """Apply the one-count rule for usage and return the span's ``openinference.span.kind``.

    A call that never reached a model (fallback, denied, refused by the kill switch) carries no
    usage and no response model.
    When a GenAI client span ran beneath the call, that span holds the usage: the governed span
    drops its input and output tokens and every usage count the child carries, and keeps the
    response model (for the mismatch check) and counts the child lacks (cached, reasoning).
    Otherwise a ``record_usage`` is the evidence of a model call, and the governed span is that
    call's only record (``LLM``).
    """
    if outcome in ("fallback", "denied") or call.refused:
        for key in (*_USAGE, *_RESPONSE):
            attrs.pop(key, None)
        return semconv.SPAN_KIND_GUARDRAIL
    if call.model_child:
        for key in (semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS, *call.child_usage):
            attrs.pop(key, None)
        return semconv.SPAN_KIND_CHAIN
    return _LLM if not attrs.keys().isdisjoint(_USAGE_SET) else _CHAIN


_PROMPT_KEYS = (semconv.GEN_AI_PROMPT_NAME, semconv.GEN_AI_PROMPT_VERSION, semconv.PROMPT_SHA256,
                semconv.PROMPT_LABEL, semconv.PROMPT_DRIFT)  # fmt: skip


def _with_prompt(attrs: dict[str, otel_types.AttributeValue], prompt: Prompt) -> dict[str, otel_types.AttributeValue]:
    """The static attributes with another prompt version's in place of the surface's own."""
    values = (prompt.name, prompt.version, prompt.sha256, prompt.label, True if prompt.drift else None)
    kept = {k: v for k, v in attrs.items() if k not in _PROMPT_KEYS}
    return kept | {k: v for k, v in zip(_PROMPT_KEYS, values, strict=True) if v is not None}


_NOT_STREAMS = frozenset({str, bytes, dict, list, tuple, int, float, bool, type(None)})
"""The common return types, told apart from streams without an ABC check."""

_NO_OUTPUT = object()
"""``output`` of a call that returned nothing to hash (a block without ``record_output``, a stream)."""


def enter(call: CallRecord) -> tuple[object, object]:
    """Make the call (and its span) current; returns the tokens for ``leave``.

    The context with our span is derived from the caller's current context and kept, so a
    stream's steps (each entered anew) reuse it while the consumer's context stays the same.
    """
    span = call.span
    if span is None:
        return None, CURRENT.set(call)
    current = otel_context.get_current()
    cached = call.context
    if cached is None or cached[0] is not current:
        cached = call.context = (current, trace.set_span_in_context(span, current))
    return otel_context.attach(cached[1]), CURRENT.set(call)


def stream_context(call: CallRecord) -> contextvars.Context:
    """A copy of the current context in which ``call`` (and its span) is current: a generator's own.

    A governed generator runs each step of its body in it (``Context.run``), as an asyncio task runs
    its coroutine: spans made in the body nest under the call, the consumer's code never runs
    inside it, and no step pays for an attach and a detach.
    """
    context = contextvars.copy_context()
    context.run(enter, call)  # never left: the context belongs to the stream
    return context


def leave(tokens: tuple[object, object]) -> None:
    """Undo ``enter``, in reverse order."""
    otel_token, call_token = tokens
    CURRENT.reset(call_token)  # type: ignore[arg-type]
    if otel_token is not None:
        otel_context.detach(otel_token)  # type: ignore[arg-type]
