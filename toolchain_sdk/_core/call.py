"""One call's record (``CallRecord``, SDK-internal) and the handle its function gets (``GovernedCall``).

The record holds what the pipeline and the gates (kill switch, approval) know and write: the
span, the attributes it will carry, the outcome. The handle is the function body's view: what
the surface declared (model, provider, prompt), plus ``record_usage``, ``record_output`` and
custom attributes. It is injected as the ``call`` parameter, or found with ``current_call()``,
and is created only when asked for.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import time
import types
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Span
from opentelemetry.util import types as otel_types

from toolchain_sdk import config, semconv
from toolchain_sdk._core.response import model_mismatch, read_usage
from toolchain_sdk._core.safety import strict, warn_once
from toolchain_sdk.hashing import canonical_json
from toolchain_sdk.prompts import Prompt, set_render_listener
from toolchain_sdk.redaction import scrub, scrub_text

if TYPE_CHECKING:
    from toolchain_sdk._core.pipeline import Surface
    from toolchain_sdk.audit import Sink

__all__ = [
    "INJECTED",
    "OVERRIDES",
    "PROMPT_OVERRIDE",
    "CallRecord",
    "GovernedCall",
    "current_call",
    "current_record",
    "overriding_prompt",
]

CURRENT: contextvars.ContextVar[CallRecord | None] = contextvars.ContextVar("toolchain_current_call", default=None)
"""The record of the governed call running in this context (set by the pipeline's ``enter``)."""

PROMPT_OVERRIDE: contextvars.ContextVar[tuple[str, Prompt] | None] = contextvars.ContextVar(
    "toolchain_prompt_override", default=None
)
"""``(surface, prompt)``: calls of that surface begun in this context use this prompt version (eval runs)."""


class _Overrides:
    """Whether a prompt override was ever set in this process: until then no call looks for one."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used = False


OVERRIDES = _Overrides()


@contextlib.contextmanager
def overriding_prompt(surface: str, prompt: Prompt) -> Iterator[None]:
    """Within the block, calls of ``surface`` begun in this context use ``prompt`` (an eval's ``prompts:``)."""
    OVERRIDES.used = True
    token = PROMPT_OVERRIDE.set((surface, prompt))
    try:
        yield
    finally:
        PROMPT_OVERRIDE.reset(token)


def current_call() -> GovernedCall | None:
    """The governed call running in this context (across ``await`` and nested functions), or ``None``."""
    record = CURRENT.get()
    return record.handle if record is not None else None


def current_record() -> CallRecord | None:
    """The record of the governed call running in this context (SDK-internal), or ``None``."""
    return CURRENT.get()


def _keep_rendered(prompt: Prompt, text: str) -> None:
    """Keep the prompt a content-capturing call rendered (``call.prompt.render``), for its span and record."""
    record = CURRENT.get()
    if record is not None and record.surface.content:
        record.note().rendered = text


set_render_listener(_keep_rendered)


def _attribute_value(value: object) -> otel_types.AttributeValue | None:
    """Coerce to a valid span attribute value: primitives and homogeneous lists pass, others as JSON."""
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        items = list(value)
        kinds = {type(v) for v in items}
        if len(kinds) <= 1 and kinds <= {str, bool, int, float}:
            return items
    try:
        return canonical_json(value).decode("utf-8")
    except (TypeError, ValueError):
        return None


_USAGE_PREFIX = "gen_ai.usage."
_NO_PARAMS: Mapping[str, object] = types.MappingProxyType({})


def _scrubbed(value: object) -> object:
    """A structured value with secrets taken out (lists of text, mappings with secret-looking keys)."""
    if isinstance(value, (list, tuple, Mapping)):
        return scrub(value)
    return value


def _json_items(items: Sequence[object]) -> list[object]:
    """Items as JSON values for the audit record (anything JSON cannot hold as its text), secrets scrubbed."""
    out: list[object] = []
    for item in items:
        try:
            json.dumps(item)
        except (TypeError, ValueError):
            item = str(item)
        out.append(scrub(item))
    return out


def _carries_content(span: ReadableSpan) -> bool:
    """Whether a client span holds prompt or completion text (attributes or events)."""
    keys = (span.attributes or {}).keys()
    if any(k in semconv.CONTENT_ATTRIBUTES or k.startswith(semconv.CONTENT_PREFIXES) for k in keys):
        return True
    return any(e.name in semconv.CONTENT_EVENTS for e in getattr(span, "events", ()))


class CallNotes:
    """What a call records only sometimes, kept apart so a plain call allocates and sets none of it.

    Attributes:
        prompt: the prompt version an eval run put in place of the surface's (``PROMPT_OVERRIDE``).
        started_ns: when the call began (for the audit record; set when audit is on).
        rendered: the last prompt rendered in the call (content capture only).
        retrieval: ``record_retrieval``'s audit fields.
        evidence: ``record_output``'s citations and confidence.
    """

    __slots__ = ("evidence", "prompt", "rendered", "retrieval", "started_ns")

    def __init__(self) -> None:
        self.prompt: Prompt | None = None
        self.started_ns = 0
        self.rendered: str | None = None
        self.retrieval: dict[str, object] | None = None
        self.evidence: dict[str, object] | None = None


class CallRecord:
    """What the SDK knows about one governed call; written by the pipeline and the gates only.

    Attributes:
        surface: the compiled surface (spec, prompt, binder).
        args, kwargs, instance: how the function was called (``instance`` for methods).
        span: the call's span, or ``None`` when tracing is off.
        context: (caller's context, it + our span), cached by ``enter`` for streams.
        attrs: attributes set on the span when it ends.
        events: ``(name, attributes, timestamp ns)`` added to the span when it ends.
        output: ``(value,)`` once the body declared one with ``record_output``.
        outcome: ``ok``, ``fallback``, ``denied`` or ``error`` once known.
        sink: the audit sink of this call (``None`` when audit is off).
    """

    __slots__ = ("_handle", "args", "attrs", "child_usage", "context", "events", "instance", "kwargs", "model_child",
                 "notes", "outcome", "output", "refused", "route_state", "sink", "span", "surface")  # fmt: skip

    def __init__(self, surface: Surface, args: tuple[object, ...], kwargs: dict[str, object], instance: object) -> None:
        self.surface = surface
        self.args = args
        self.kwargs = kwargs
        self.instance = instance
        self.span: Span | None = None
        self.context: tuple[Context, Context] | None = None
        self.attrs: dict[str, otel_types.AttributeValue] = {}
        self.events: list[tuple[str, dict[str, otel_types.AttributeValue], int]] = []
        self.output: tuple[object] | None = None
        self.outcome: str | None = None
        self.model_child = False  # a GenAI client span ran beneath this call (it holds the usage)
        self.refused = False  # a control stopped the call without a fallback (KillSwitchEngaged)
        self.route_state: Any = None  # a routed call's RouteState: the target being tried
        self.child_usage: set[str] = set()  # the gen_ai.usage.* names such spans carried
        self.sink: Sink | None = None  # the audit sink this call's record goes to (None: audit off)
        self.notes: CallNotes | None = None  # what only some calls record (made on first write)
        self._handle: GovernedCall | None = None

    def note(self) -> CallNotes:
        """The call's notes, made on first use."""
        notes = self.notes
        if notes is None:
            notes = self.notes = CallNotes()
        return notes

    @property
    def prompt(self) -> Prompt | None:
        """The prompt this call uses: the surface's, or the version an eval run put in its place."""
        notes = self.notes
        if notes is not None and notes.prompt is not None:
            return notes.prompt
        return self.surface.prompt

    @property
    def handle(self) -> GovernedCall:
        """The function body's handle on this call (made on first use)."""
        handle = self._handle
        if handle is None:
            handle = self._handle = GovernedCall(self)
        return handle

    @property
    def arguments(self) -> dict[str, object]:
        """The call's arguments by parameter name (defaults applied; ``self`` and ``call`` left out)."""
        return self.surface.binder.bind(self.args, self.kwargs, self.instance is not None)

    @property
    def recorded_arguments(self) -> dict[str, object]:
        """The arguments as hashed and shown to reviewers: ``arguments`` minus the surface's ``exclude_args``."""
        arguments = self.arguments
        excluded = self.surface.excluded
        return {k: v for k, v in arguments.items() if k not in excluded} if excluded else arguments

    @property
    def risk(self) -> str:
        return self.surface.spec.risk

    def saw_child(self, span: ReadableSpan) -> None:
        """A span started or ended beneath this call (told by the tracing child-span watcher)."""
        attrs = span.attributes or {}
        if semconv.GEN_AI_OPERATION_NAME not in attrs:
            return
        self.model_child = True
        self.child_usage.update(k for k in attrs if k.startswith(_USAGE_PREFIX))
        if not self.surface.hash_io and _carries_content(span):
            warn_once(
                f"child-content:{self.surface.span_name}",
                "toolchain_sdk: %s has capture='none' but the model-call span %r beneath it carries message "
                "content; turn the client instrumentation's content capture off for this service "
                "(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=false; Anthropic: leave "
                "ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE at its metadata-only default)",
                self.surface.span_name,
                span.name,
            )

    def add_event(self, name: str, attributes: Mapping[str, object] | None = None, *, scrub: bool = False) -> None:
        """Add a span event stamped now (kept until the span ends, so it is safe with tracing off).

        ``scrub``: pass the text through the secret scrubber (values the SDK did not write itself:
        the body's events, error messages).
        """
        attrs: dict[str, otel_types.AttributeValue] = {}
        for key, value in (attributes or {}).items():
            coerced = _attribute_value(_scrubbed(value) if scrub and not isinstance(value, str) else value)
            if coerced is not None:
                attrs[key] = scrub_text(coerced) if scrub and isinstance(coerced, str) else coerced
        self.events.append((name, attrs, time.time_ns()))


class GovernedCall:
    """The handle of one governed call.

    Attributes:
        surface: the surface name.
        owner, risk, model, provider, operation: as declared on the surface.
        prompt: the surface's ``Prompt`` (``None`` when none is declared).
        outcome: ``ok``, ``fallback``, ``denied`` or ``error`` once known.
    """

    __slots__ = ("_rec",)

    def __init__(self, record: CallRecord) -> None:
        self._rec = record

    # --- what the surface declared -----------------------------------------------------------
    @property
    def surface(self) -> str:
        return self._rec.surface.spec.surface

    @property
    def owner(self) -> str | None:
        return self._rec.surface.spec.owner

    @property
    def risk(self) -> str:
        return self._rec.surface.spec.risk

    @property
    def model(self) -> str | None:
        """The model to call: the declared one, or on a routed surface the target being tried now."""
        state = self._rec.route_state
        return state.model if state is not None else self._rec.surface.spec.model

    @property
    def provider(self) -> str | None:
        """The provider of ``model``."""
        state = self._rec.route_state
        return state.provider if state is not None else self._rec.surface.spec.provider

    @property
    def route_params(self) -> Mapping[str, object]:
        """The current route target's ``params`` (e.g. ``temperature``); empty when the surface has no route."""
        state = self._rec.route_state
        return state.params if state is not None else _NO_PARAMS

    @property
    def route_attempt(self) -> int:
        """The overall 1-based attempt count along the route (1 when the surface has no route)."""
        state = self._rec.route_state
        return max(int(state.attempt), 1) if state is not None else 1

    @property
    def operation(self) -> str:
        return self._rec.surface.spec.operation

    @property
    def prompt(self) -> Prompt | None:
        return self._rec.prompt

    @property
    def span(self) -> Span | None:
        """The call's OpenTelemetry span, or ``None`` when tracing is off.

        This is the raw span: writes through it are not checked the way ``set_attribute`` checks
        them, so use ``set_attribute`` / ``add_event`` on this handle for anything of your own.
        """
        return self._rec.span

    @property
    def outcome(self) -> str | None:
        """``ok``, ``fallback``, ``denied`` or ``error`` once known (``None`` while the body runs)."""
        return self._rec.outcome

    @property
    def arguments(self) -> dict[str, object]:
        """The call's arguments by parameter name (defaults applied; ``self`` and ``call`` left out)."""
        return self._rec.arguments

    # --- what only the call knows -------------------------------------------------------------
    def record_output(
        self, value: object, *, citations: Sequence[object] | None = None, confidence: float | None = None
    ) -> None:
        """Declare the call's output, and the evidence shown with it to the customer.

        The output's hash (and, when the capture mode records content, the output) goes on the span
        and into the audit record; it overrides a decorated function's return value.

        Args:
            value: the output.
            citations: the citations shown with it (document ids, URLs or JSON objects), for the audit record.
            confidence: the confidence signal shown with it, a number in [0, 1], for the audit record.

        Raises:
            ValueError: ``confidence`` is not a number in [0, 1].
            TypeError: ``citations`` is not a list or tuple.
        """
        if citations is None and confidence is None:
            self._rec.output = (value,)
            return
        evidence: dict[str, object] = {}
        if citations is not None:
            if not isinstance(citations, (list, tuple)):
                raise TypeError(f"record_output(citations=...) takes a list, not {type(citations).__name__}")
            evidence["citations"] = _json_items(citations)
        if confidence is not None:
            if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
                raise ValueError(f"record_output(confidence=...) must be a number in [0, 1], not {confidence!r}")
            evidence["confidence"] = float(confidence)
        self._rec.output = (value,)
        if evidence:
            self._rec.note().evidence = evidence

    def record_usage(
        self,
        response: object = None,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_input_tokens: int | None = None,
        cache_write_input_tokens: int | None = None,
        reasoning_output_tokens: int | None = None,
        response_model: str | None = None,
        response_id: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        server_address: str | None = None,
        server_port: int | None = None,
    ) -> None:
        """Record token usage and the response's model and id.

        Reads, by duck typing, an OpenAI Chat Completions response or final stream chunk, an
        OpenAI Responses response or its ``response.completed`` event, an Anthropic message or
        its ``message_start`` / ``message_delta`` events, or a LangChain ``AIMessage``; as an
        object or a dict. Explicit values win over what the response holds. Input tokens include
        cached tokens (Anthropic's cache reads and writes are added in). When nothing is found it
        warns once per surface. The response model is compared with the declared one
        (``toolchain.model.mismatch``; see ``docs/span-attributes.md`` for the rule). The request's
        ``temperature`` and ``max_tokens`` and the ``server_address`` / ``server_port`` called are
        recorded when given (the Responses API echoes temperature and max output tokens itself).
        """
        rec = self._rec
        values = read_usage(response) if response is not None else {}
        given = {
            semconv.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
            semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: cache_read_input_tokens,
            semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: cache_write_input_tokens,
            semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: reasoning_output_tokens,
            semconv.GEN_AI_RESPONSE_MODEL: response_model,
            semconv.GEN_AI_RESPONSE_ID: response_id,
            semconv.GEN_AI_REQUEST_TEMPERATURE: float(temperature) if temperature is not None else None,
            semconv.GEN_AI_REQUEST_MAX_TOKENS: max_tokens,
            semconv.SERVER_ADDRESS: server_address,
            semconv.SERVER_PORT: server_port,
        }
        values.update({k: v for k, v in given.items() if v is not None})
        for key, value in values.items():
            if isinstance(value, (int, float, str, list)) and not isinstance(value, bool):
                rec.attrs[key] = value
        if (
            values.get(semconv.GEN_AI_USAGE_INPUT_TOKENS) is None
            and values.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS) is None
        ):
            warn_once(
                f"usage:{self.surface}",
                "toolchain_sdk: %s: record_usage found no token usage in %s; pass the final response or stream "
                "chunk (see docs/streaming-and-async.md), or input_tokens=/output_tokens=",
                self.surface,
                type(response).__name__,
            )
        got = values.get(semconv.GEN_AI_RESPONSE_MODEL)
        if isinstance(got, str) and self.model:
            aliases = config.current_settings().model_aliases
            rec.attrs[semconv.MODEL_MISMATCH] = model_mismatch(self.model, got, aliases)

    def record_retrieval(
        self,
        index: str,
        version: str | int,
        *,
        documents: Sequence[str | tuple[str, str]] = (),
        scope: str | None = None,
    ) -> None:
        """Name the retrieval source of this call's context: index, version, documents and access scope.

        The index and version go on the span (``toolchain.retrieval.index``, ``.version`` and
        ``gen_ai.data_source.id``); the documents (ids, or ``(id, sha256)`` pairs so a reviewer can
        check later that a document is unchanged) and the scope go into the audit record, however
        many there are.

        Raises:
            TypeError: a document is neither an id nor an ``(id, sha256)`` pair.
        """
        docs: list[dict[str, object]] = []
        for doc in documents:
            if isinstance(doc, str):
                docs.append({"id": doc})
            elif isinstance(doc, tuple) and len(doc) == 2 and all(isinstance(x, str) for x in doc):
                docs.append({"id": doc[0], "sha256": doc[1]})
            else:
                raise TypeError(f"record_retrieval(documents=...): {doc!r} is neither an id nor an (id, sha256) pair")
        attrs = self._rec.attrs
        attrs[semconv.RETRIEVAL_INDEX] = index
        attrs[semconv.RETRIEVAL_VERSION] = str(version)
        attrs[semconv.GEN_AI_DATA_SOURCE_ID] = index
        self._rec.note().retrieval = {
            "retrieval_index": index,
            "retrieval_version": str(version),
            "retrieval_scope": scope,
            "retrieval_documents": docs,
        }

    def set_retrieval(self, index: str, version: str | int) -> None:
        """Deprecated: ``record_retrieval(index, version)`` (which also takes documents and scope)."""
        warnings.warn(
            "GovernedCall.set_retrieval is deprecated (removal in 0.3); use record_retrieval(index, version, "
            "documents=..., scope=...)",
            DeprecationWarning,
            stacklevel=2,
        )
        self.record_retrieval(index, version)

    def set_attribute(self, key: str, value: object) -> None:
        """Put a custom attribute on the span; values that are not OTel types are stored as JSON.

        Attributes the SDK owns (``toolchain.*``, ``feature_flag.*``, ``error.type`` and the
        ``gen_ai.*`` names it writes) cannot be set here: the write is ignored with one warning
        (it raises ``ValueError`` under ``TOOLCHAIN_STRICT``), so what the controls recorded
        stands. Text values are scrubbed of secrets. A value that cannot be serialised is dropped
        with one warning.
        """
        if semconv.sdk_owned(key):
            message = (
                f"toolchain_sdk: {self.surface}: attribute {key!r} is written by the SDK only; "
                "the function body's value is ignored (use a name of your own, e.g. 'app.*')"
            )
            if strict():
                raise ValueError(message)
            warn_once(f"owned-attr:{self.surface}:{key}", message)
            return
        coerced = _attribute_value(value if isinstance(value, (str, bool, int, float)) else _scrubbed(value))
        if coerced is None:
            warn_once(f"attr:{key}", "toolchain_sdk: attribute %r dropped: %s cannot be serialised", key, type(value))
            return
        self._rec.attrs[key] = scrub_text(coerced) if isinstance(coerced, str) else coerced

    def add_event(self, name: str, attributes: Mapping[str, object] | None = None) -> None:
        """Add a span event stamped now, its text scrubbed of secrets (kept until the span ends)."""
        self._rec.add_event(name, attributes, scrub=True)

    def __repr__(self) -> str:
        return f"<GovernedCall surface={self.surface!r} model={self.model!r} outcome={self.outcome!r}>"


class _Injected:
    """The default for a declared ``call`` parameter; the SDK always replaces it."""

    def __repr__(self) -> str:
        return "tc.INJECTED"


INJECTED: GovernedCall = cast(GovernedCall, _Injected())
"""Default for ``call`` so type checkers accept callers that omit it: ``*, call: tc.GovernedCall = tc.INJECTED``."""
