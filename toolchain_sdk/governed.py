"""``@governed_call`` and ``governed(...)``: the decorator, the context manager, the call pipeline.

The pipeline of one call (DESIGN.md): start the span with the surface's static attributes →
gates before the call (kill switch, approval) → the function → gates after (approval of the
output) → hash the output → end the span. ``_wrap`` drives it identically for plain, async,
generator and async-generator functions. SDK steps fail open (``_safety``); controls fail closed.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, ParamSpec, Protocol, TypeVar, cast

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util import types as otel_types

from toolchain_sdk import config, semconv
from toolchain_sdk._binding import CALL_PARAM, Binder
from toolchain_sdk._safety import report, warn_once
from toolchain_sdk.call import _CURRENT, GovernedCall
from toolchain_sdk.errors import ConfigError
from toolchain_sdk.hashing import StreamHasher
from toolchain_sdk.inventory import Capture, Risk, SurfaceSpec, register
from toolchain_sdk.prompts import Prompt, load_prompt
from toolchain_sdk.tracing import active_tracer

__all__ = ["Gate", "governed", "governed_call"]

P = ParamSpec("P")
R = TypeVar("R")

_SURFACE_RE = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
_RISKS = ("low", "medium", "high")
_CAPTURES_NOW = ("none", "hash")
_CAPTURES_LATER = ("redacted", "full")



class Gate(Protocol):
    """A control the pipeline runs around the function (kill switch, approval).

    ``check`` runs before the function and may return a replacement callable (a fallback) or
    raise (a denial); ``review`` runs after and may return a different output (an edit). The
    async variants are awaited on async paths, so a gate never blocks the event loop.
    """

    def check(self, call: GovernedCall) -> Callable[..., Any] | None: ...
    async def acheck(self, call: GovernedCall) -> Callable[..., Any] | None: ...
    def review(self, call: GovernedCall, output: object) -> object: ...
    async def areview(self, call: GovernedCall, output: object) -> object: ...


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class _Surface:
    """One surface compiled at decoration time: its spec, static span attributes and pipeline."""

    __slots__ = ("binder", "gates", "hash_io", "inject", "prompt", "span_name", "spec", "static_attrs")

    def __init__(self, spec: SurfaceSpec, prompt: Prompt | None, binder: Binder, inject: bool) -> None:
        self.spec = spec
        self.prompt = prompt
        self.binder = binder
        self.inject = inject
        self.span_name = spec.surface
        self.hash_io = spec.capture != "none"
        self.gates: tuple[Gate, ...] = ()
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
        }
        self.static_attrs: dict[str, otel_types.AttributeValue] = {k: v for k, v in attrs.items() if v is not None}

    # --- the pipeline steps, shared by every function kind ---------------------------------------
    def check_injection(self, instance: object, args: tuple[object, ...], kwargs: Mapping[str, object]) -> None:
        """Refuse a ``call`` argument from the caller: the SDK injects it."""
        index = self.binder.call_index
        if CALL_PARAM in kwargs or (index is not None and len(args) > index - (instance is not None)):
            raise TypeError(
                f"{self.spec.surface}: the 'call' argument is injected by @governed_call; do not pass it"
            )

    def begin(self, instance: object, args: tuple[object, ...], kwargs: dict[str, object]) -> GovernedCall:
        """Create the call handle and, when tracing is on, start its span with the input hash."""
        call = GovernedCall(self, args, kwargs, instance)
        if self.inject:
            kwargs[CALL_PARAM] = call
        tracer = active_tracer()
        if tracer is None:
            return call
        try:
            call._span = tracer.start_span(self.span_name, kind=SpanKind.CLIENT, attributes=self.static_attrs)
            if self.hash_io:
                hasher = config.hasher()
                try:
                    call._attrs[semconv.INPUT_SHA256] = hasher.hash_arguments(call.arguments)
                except (TypeError, ValueError) as exc:
                    warn_once(f"input-hash:{self.span_name}", "toolchain_sdk: %s: no input hash: %s", self.span_name, exc)
        except Exception as exc:
            report("span start", exc)
        return call

    def run_gates(self, call: GovernedCall, target: Callable[..., Any]) -> Callable[..., Any]:
        """Run the before-gates; the first replacement (fallback) wins."""
        for gate in self.gates:
            replacement = gate.check(call)
            if replacement is not None:
                return replacement
        return target

    async def arun_gates(self, call: GovernedCall, target: Callable[..., Any]) -> Callable[..., Any]:
        """``run_gates`` for async paths."""
        for gate in self.gates:
            replacement = await gate.acheck(call)
            if replacement is not None:
                return replacement
        return target

    def review(self, call: GovernedCall, output: object) -> object:
        """Run the after-gates over the output (they may replace it)."""
        for gate in self.gates:
            output = gate.review(call, output)
        return output

    async def areview(self, call: GovernedCall, output: object) -> object:
        """``review`` for async paths."""
        for gate in self.gates:
            output = await gate.areview(call, output)
        return output

    def finish(self, call: GovernedCall, output: object, has_output: bool = True) -> None:
        """End the span of a call that returned: outcome, output hash, usage."""
        span = call._span
        if span is None:
            return
        try:
            attrs = call._attrs
            attrs[semconv.OUTCOME] = call.outcome or "ok"
            if call._output is not None:
                output, has_output = call._output[0], True
            if self.hash_io and has_output:
                self._hash_output(call, lambda h: h.hash_value(output))
            self._end(call)
        except Exception as exc:
            report("span end", exc)
            span.end()

    def finish_stream(self, call: GovernedCall, digest: StreamHasher | None, completed: bool) -> None:
        """End the span of a stream that was exhausted (``completed``) or closed early."""
        span = call._span
        if span is None:
            return
        try:
            attrs = call._attrs
            attrs[semconv.OUTCOME] = call.outcome or "ok"
            attrs[semconv.STREAM_COMPLETED] = completed
            if digest is not None:
                attrs[semconv.STREAM_CHUNKS] = digest.chunks
                if self.hash_io:
                    self._hash_output(call, lambda _h: digest.hexdigest())
            self._end(call)
        except Exception as exc:
            report("span end", exc)
            span.end()

    def fail(self, call: GovernedCall, exc: BaseException, digest: StreamHasher | None = None) -> None:
        """End the span of a call that raised: status ERROR, ``error.type``, exception event."""
        span = call._span
        if span is None:
            return
        try:
            attrs = call._attrs
            attrs[semconv.OUTCOME] = call.outcome or "error"
            attrs[semconv.ERROR_TYPE] = _error_type(exc)
            if digest is not None:
                attrs[semconv.STREAM_COMPLETED] = False
                attrs[semconv.STREAM_CHUNKS] = digest.chunks
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            self._end(call)
        except Exception as err:
            report("span end", err)
            span.end()

    def new_digest(self, call: GovernedCall) -> StreamHasher | None:
        """A stream hasher for this call, or ``None`` when nothing is hashed."""
        if call._span is None:
            return None
        return config.hasher().stream()

    def _hash_output(self, call: GovernedCall, compute: Callable[[Any], str]) -> None:
        hasher = config.hasher()
        try:
            call._attrs[semconv.OUTPUT_SHA256] = compute(hasher)
        except (TypeError, ValueError) as exc:
            warn_once(f"output-hash:{self.span_name}", "toolchain_sdk: %s: no output hash: %s", self.span_name, exc)
        call._attrs[semconv.HASH_ALG] = hasher.alg
        if hasher.key_id:
            call._attrs[semconv.HASH_KEY_ID] = hasher.key_id

    def _end(self, call: GovernedCall) -> None:
        span = call._span
        assert span is not None
        for name, event_attrs in call._events:
            span.add_event(name, event_attrs)
        span.set_attributes(call._attrs)
        span.end()


def enter(call: GovernedCall) -> tuple[object, object]:
    """Make the call (and its span) current; returns the tokens for ``leave``."""
    span = call._span
    otel_token = otel_context.attach(trace.set_span_in_context(span)) if span is not None else None
    return otel_token, _CURRENT.set(call)


def leave(tokens: tuple[object, object]) -> None:
    """Undo ``enter``, in reverse order."""
    otel_token, call_token = tokens
    _CURRENT.reset(call_token)  # type: ignore[arg-type]
    if otel_token is not None:
        otel_context.detach(otel_token)  # type: ignore[arg-type]


# --- declaration ------------------------------------------------------------------------------
def _validate(surface: str, risk: str, capture: str, operation: str) -> None:
    if not isinstance(surface, str) or not _SURFACE_RE.match(surface):
        raise ConfigError(
            f"surface name {surface!r} is not valid: use a stable dotted name of letters, digits, "
            "'_' or '-', e.g. 'support.refund_reply'"
        )
    if risk not in _RISKS:
        raise ConfigError(f"{surface}: risk={risk!r} is not one of {', '.join(_RISKS)}")
    if capture in _CAPTURES_LATER:
        raise ConfigError(
            f"{surface}: capture={capture!r} needs content redaction, which this version does not ship yet; "
            "use capture='hash' (default) or 'none'"
        )
    if capture not in _CAPTURES_NOW:
        raise ConfigError(f"{surface}: capture={capture!r} is not one of none, hash, redacted, full")
    if not operation or not isinstance(operation, str):
        raise ConfigError(f"{surface}: operation must be a non-empty string such as 'chat' or 'embeddings'")


def _resolve_prompt(surface: str, prompt: str | Prompt | None) -> Prompt | None:
    if prompt is None or isinstance(prompt, Prompt):
        return prompt
    if isinstance(prompt, str):
        return load_prompt(prompt)
    raise ConfigError(f"{surface}: prompt must be 'name@version' or a tc.Prompt, not {type(prompt).__name__}")


def _kind(func: Callable[..., Any]) -> str:
    if inspect.isasyncgenfunction(func):
        return "async-generator"
    if inspect.iscoroutinefunction(func):
        return "async"
    if inspect.isgeneratorfunction(func):
        return "generator"
    return "function"


def _unwrap_descriptor(func: Any) -> Callable[..., Any]:
    return cast(Callable[..., Any], func.__func__ if isinstance(func, (classmethod, staticmethod)) else func)


def governed_call(
    surface: str,
    *,
    owner: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    prompt: str | Prompt | None = None,
    risk: Risk = "low",
    capture: Capture = "hash",
    operation: str = "chat",
    route: str | None = None,
    data_class: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Govern every call of the decorated function: traced, hashed, inventoried (and later gated).

    Works on ``def``, ``async def``, generators and async generators, instance methods, class
    methods and static methods. A parameter named ``call`` receives the ``GovernedCall`` handle.

    Args:
        surface: stable dotted name of this place in the product, e.g. ``support.refund_reply``.
        owner: the team answerable for it.
        model, provider: the requested model and the GenAI provider name (``openai``, ...).
        prompt: ``"name@version"`` of a file under ``prompts/``, or a ``tc.Prompt``.
        risk: ``low`` (default), ``medium`` or ``high``.
        capture: ``hash`` (default: input/output hashes only) or ``none`` (metadata only).
        operation: ``gen_ai.operation.name`` (default ``chat``).
        route: the routing-config route name, when the model comes from one.
        data_class: the class of data the surface handles (e.g. ``pii``, ``public``).

    Raises:
        ConfigError: at decoration time, for a bad surface name, risk, capture mode, prompt, a
            positional-only ``call`` parameter, or a surface already registered differently.
        Failure policy: tracing fails open (the call goes on, one warning); the wrapped
            function's own exceptions propagate unchanged.
    """
    _validate(surface, risk, capture, operation)
    resolved_prompt = _resolve_prompt(surface, prompt)

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        inner = _unwrap_descriptor(func)
        if not callable(inner):
            raise ConfigError(f"{surface}: @governed_call needs a function, got {type(func).__name__}")
        params = inspect.signature(inner).parameters
        call_param = params.get(CALL_PARAM)
        if call_param is not None and call_param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ConfigError(
                f"{surface}: parameter 'call' of {inner.__qualname__} is positional-only; make it keyword "
                "(e.g. `def f(x, *, call)`) so the SDK can inject it"
            )
        if call_param is not None and call_param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise ConfigError(f"{surface}: 'call' must be a named parameter, not *call/**call")
        kind = _kind(inner)
        spec = register(
            SurfaceSpec(
                surface=surface,
                owner=owner,
                risk=risk,
                operation=operation,
                model=model,
                provider=provider,
                route=route,
                prompt=resolved_prompt.ref if resolved_prompt else None,
                prompt_sha256=resolved_prompt.sha256 if resolved_prompt else None,
                capture=capture,
                data_class=data_class,
                kind=kind,  # type: ignore[arg-type]
                location=f"{inner.__module__}:{inner.__qualname__}",
            )
        )
        compiled = _Surface(spec, resolved_prompt, Binder(inner), inject=call_param is not None)
        from toolchain_sdk._wrap import wrapper_for

        return cast(Callable[P, R], wrapt.FunctionWrapper(func, wrapper_for(compiled, kind)))

    return decorate


class governed:  # noqa: N801 - used like a function: `with tc.governed(...) as call:`
    """Govern a block of code that is not one function: ``with tc.governed("surface", ...) as call:``.

    Also ``async with``. The block's output is what it passes to ``call.record_output(x)``. An
    exception leaving the block marks the span as an error and propagates unchanged.

    Raises:
        ConfigError: bad arguments, as for ``governed_call``, when the block is created.
    """

    _compiled: dict[tuple[object, ...], _Surface] = {}

    __slots__ = ("_call", "_surface", "_tokens")

    def __init__(
        self,
        surface: str,
        *,
        owner: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        prompt: str | Prompt | None = None,
        risk: Risk = "low",
        capture: Capture = "hash",
        operation: str = "chat",
        route: str | None = None,
        data_class: str | None = None,
    ) -> None:
        key = (surface, owner, model, provider, prompt, risk, capture, operation, route, data_class)
        compiled = self._compiled.get(key)
        if compiled is None:
            _validate(surface, risk, capture, operation)
            resolved = _resolve_prompt(surface, prompt)
            spec = register(
                SurfaceSpec(
                    surface=surface,
                    owner=owner,
                    risk=risk,
                    operation=operation,
                    model=model,
                    provider=provider,
                    route=route,
                    prompt=resolved.ref if resolved else None,
                    prompt_sha256=resolved.sha256 if resolved else None,
                    capture=capture,
                    data_class=data_class,
                    kind="block",
                )
            )
            compiled = self._compiled[key] = _Surface(spec, resolved, _NO_ARGS, inject=False)
        self._surface = compiled
        self._call: GovernedCall | None = None
        self._tokens: tuple[object, object] | None = None

    def __enter__(self) -> GovernedCall:
        call = self._call = self._surface.begin(None, (), {})
        self._tokens = enter(call)
        self._surface.run_gates(call, _no_target)
        return call

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        call, tokens = self._call, self._tokens
        assert call is not None and tokens is not None
        leave(tokens)
        if exc is not None:
            self._surface.fail(call, exc)
        else:
            self._surface.finish(call, None, has_output=False)

    async def __aenter__(self) -> GovernedCall:
        call = self._call = self._surface.begin(None, (), {})
        self._tokens = enter(call)
        await self._surface.arun_gates(call, _no_target)
        return call

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def _no_target() -> None:
    return None


_NO_ARGS = Binder(_no_target)
