"""One call's record (``CallRecord``, SDK-internal) and the handle its function gets (``GovernedCall``).

The record holds what the pipeline and the gates (kill switch, approval) know and write: the
span, the attributes it will carry, the outcome. The handle is the function body's view: what
the surface declared (model, provider, prompt), plus ``record_usage``, ``record_output`` and
custom attributes. It is injected as the ``call`` parameter, or found with ``current_call()``,
and is created only when asked for.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from opentelemetry.context import Context
from opentelemetry.trace import Span
from opentelemetry.util import types as otel_types

from toolchain_sdk import semconv
from toolchain_sdk._core.safety import warn_once
from toolchain_sdk.hashing import canonical_json
from toolchain_sdk.prompts import Prompt

if TYPE_CHECKING:
    from toolchain_sdk._core.pipeline import Surface

__all__ = ["INJECTED", "CallRecord", "GovernedCall", "current_call", "current_record"]

CURRENT: contextvars.ContextVar[CallRecord | None] = contextvars.ContextVar("toolchain_current_call", default=None)
"""The record of the governed call running in this context (set by the pipeline's ``enter``)."""


def current_call() -> GovernedCall | None:
    """The governed call running in this context (across ``await`` and nested functions), or ``None``."""
    record = CURRENT.get()
    return record.handle if record is not None else None


def current_record() -> CallRecord | None:
    """The record of the governed call running in this context (SDK-internal), or ``None``."""
    return CURRENT.get()


def _field(obj: object, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _first(*values: object) -> Any:
    return next((v for v in values if v is not None), None)


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
    """

    __slots__ = ("_handle", "args", "attrs", "context", "events", "instance", "kwargs", "outcome", "output",
                 "span", "surface")  # fmt: skip

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
        self._handle: GovernedCall | None = None

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
    def risk(self) -> str:
        return self.surface.spec.risk

    def add_event(self, name: str, attributes: Mapping[str, object] | None = None) -> None:
        """Add a span event stamped now (kept until the span ends, so it is safe with tracing off)."""
        attrs: dict[str, otel_types.AttributeValue] = {}
        for key, value in (attributes or {}).items():
            coerced = _attribute_value(value)
            if coerced is not None:
                attrs[key] = coerced
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
        return self._rec.surface.spec.model

    @property
    def provider(self) -> str | None:
        return self._rec.surface.spec.provider

    @property
    def operation(self) -> str:
        return self._rec.surface.spec.operation

    @property
    def prompt(self) -> Prompt | None:
        return self._rec.surface.prompt

    @property
    def span(self) -> Span | None:
        """The call's OpenTelemetry span, or ``None`` when tracing is off."""
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
    def record_output(self, value: object) -> None:
        """Declare the call's output; its hash goes on the span (overrides a decorated return value)."""
        self._rec.output = (value,)

    def record_usage(
        self,
        response: object = None,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        response_model: str | None = None,
        response_id: str | None = None,
    ) -> None:
        """Record token usage and the response's model and id.

        Accepts explicit values, or an OpenAI-style (``usage.prompt_tokens``/``completion_tokens``
        or ``input_tokens``/``output_tokens``) or Anthropic-style response, as an object or a dict.
        Explicit values win over what the response holds.
        """
        usage = _field(response, "usage")
        values: dict[str, object] = {
            semconv.GEN_AI_USAGE_INPUT_TOKENS: _first(
                input_tokens, _field(usage, "input_tokens"), _field(usage, "prompt_tokens")
            ),
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: _first(
                output_tokens, _field(usage, "output_tokens"), _field(usage, "completion_tokens")
            ),
            semconv.GEN_AI_RESPONSE_MODEL: _first(response_model, _field(response, "model")),
            semconv.GEN_AI_RESPONSE_ID: _first(response_id, _field(response, "id")),
        }
        for key, value in values.items():
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                self._rec.attrs[key] = value
        got = values[semconv.GEN_AI_RESPONSE_MODEL]
        if isinstance(got, str) and self.model:
            self._rec.attrs[semconv.MODEL_MISMATCH] = not got.startswith(self.model)

    def set_retrieval(self, index: str, version: str | int) -> None:
        """Name the retrieval index (and its version) this call's context came from."""
        self._rec.attrs[semconv.RETRIEVAL_INDEX] = index
        self._rec.attrs[semconv.RETRIEVAL_VERSION] = str(version)
        self._rec.attrs[semconv.GEN_AI_DATA_SOURCE_ID] = index

    def set_attribute(self, key: str, value: object) -> None:
        """Put a custom attribute on the span; values that are not OTel types are stored as JSON.

        A value that cannot be serialised is dropped with one warning; it never raises.
        """
        coerced = _attribute_value(value)
        if coerced is None:
            warn_once(f"attr:{key}", "toolchain_sdk: attribute %r dropped: %s cannot be serialised", key, type(value))
            return
        self._rec.attrs[key] = coerced

    def add_event(self, name: str, attributes: Mapping[str, object] | None = None) -> None:
        """Add a span event stamped now (kept until the span ends, so it is safe with tracing off)."""
        self._rec.add_event(name, attributes)

    def __repr__(self) -> str:
        return f"<GovernedCall surface={self.surface!r} model={self.model!r} outcome={self.outcome!r}>"


class _Injected:
    """The default for a declared ``call`` parameter; the SDK always replaces it."""

    def __repr__(self) -> str:
        return "tc.INJECTED"


INJECTED: GovernedCall = cast(GovernedCall, _Injected())
"""Default for ``call`` so type checkers accept callers that omit it: ``*, call: tc.GovernedCall = tc.INJECTED``."""
