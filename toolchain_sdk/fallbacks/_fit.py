"""Fitting a fallback handler to a surface at decoration time, and running it per call.

``fit`` checks the handler against the governed function — its kind (sync, async, generator,
async generator) and its signature: every way the function can be called must bind to the
handler — and builds the callable the pipeline runs instead of the function: it injects or
strips ``call``, passes the instance to ``self``-taking handlers, adapts the result to the
surface's kind (a plain result streamed as one chunk) and turns the handler's exceptions into
``FallbackFailed`` (except ``tc.fallbacks.raise_``, whose exception is the answer).
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterator
from typing import Any, NoReturn

from toolchain_sdk import semconv, tracing
from toolchain_sdk._core.binding import CALL_PARAM, function_kind
from toolchain_sdk._core.call import current_record
from toolchain_sdk._core.relay import AsyncView, Passthrough, arelay, relay
from toolchain_sdk.errors import ConfigError, FallbackFailed
from toolchain_sdk.fallbacks._handlers import Fallback

__all__ = ["FittedFallback", "fit", "handler_name"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_EMPTY = inspect.Parameter.empty


# --- fitting a handler to a surface ------------------------------------------------------------
def handler_name(handler: Callable[..., Any]) -> str:
    """The qualified name recorded as ``toolchain.fallback.handler``."""
    if isinstance(handler, Fallback):
        return handler.name
    if isinstance(handler, functools.partial):
        return f"functools.partial({handler_name(handler.func)})"
    target = handler if hasattr(handler, "__qualname__") else type(handler)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


def _kind_of(handler: Callable[..., Any]) -> str:
    target: Any = handler
    if not (inspect.isfunction(handler) or inspect.ismethod(handler) or isinstance(handler, functools.partial)):
        target = getattr(handler, "__call__", handler)  # noqa: B004 - a callable object's method decides
    return function_kind(target)


_KIND_WORDS = {
    "function": "a plain function",
    "async": "an async function",
    "generator": "a generator",
    "async-generator": "an async generator",
    "block": "a governed() block",
}

_ALLOWED = {
    "function": ("function",),
    "async": ("function", "async"),
    "generator": ("function", "generator"),
    "async-generator": ("function", "async", "generator", "async-generator"),
    "block": ("function", "async"),
}


def _shapes(
    params: list[inspect.Parameter], extra_names: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[object, ...], dict[str, object]]]:
    """Every way of calling a function with ``params`` that differs in which names bind how.

    ``*args`` is tried with one and with very many extra arguments; ``**kwargs`` with a stray
    name and with each of ``extra_names`` (the handler's parameters, which a caller may hit).
    """
    positional = [p for p in params if p.kind in _POSITIONAL]
    keyword_only = [p for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
    var_positional = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    var_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    named = {p.name for p in positional + keyword_only if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    stray: list[dict[str, object]] = [{}] + (
        [{n: n} for n in ("__extra__", *extra_names) if n not in named] if var_keyword else []
    )
    optional = [p.name for p in positional + keyword_only if p.default is not _EMPTY]
    choices = (
        itertools.chain.from_iterable(itertools.combinations(optional, n) for n in range(len(optional) + 1))
        if len(optional) <= 8
        else iter([(), tuple(optional)])
    )
    for chosen in choices:
        present = [p for p in positional if p.default is _EMPTY or p.name in chosen]
        limit = next((i for i, p in enumerate(positional) if p not in present), len(positional))
        if any(p.kind is inspect.Parameter.POSITIONAL_ONLY and p in present for p in positional[limit:]):
            continue  # a positional-only argument after an omitted one cannot be passed
        first = sum(p.kind is inspect.Parameter.POSITIONAL_ONLY for p in positional[:limit])
        keywords = {p.name: p.name for p in keyword_only if p.default is _EMPTY or p.name in chosen}
        for k in range(first, limit + 1):
            args: tuple[object, ...] = tuple(p.name for p in positional[:k])
            kwargs: dict[str, object] = {**{p.name: p.name for p in present if p not in positional[:k]}, **keywords}
            extras: list[tuple[object, ...]] = [()]
            if var_positional and k == len(positional):
                extras += [("*extra",), ("*extra",) * 64]  # "any number": only *args takes them all
            for more in extras:
                for loose in stray:
                    yield (*args, *more), {**kwargs, **loose}


def _check_signature(
    surface: str, func: Callable[..., Any], handler: Callable[..., Any], name: str
) -> tuple[bool, bool, bool]:
    """Raise ConfigError unless ``handler`` accepts every call of ``func``; returns (instance, strip, inject)."""
    try:
        hsig = inspect.signature(handler)
    except (TypeError, ValueError):
        return False, CALL_PARAM in inspect.signature(func).parameters, False  # a builtin: trust it
    fsig = inspect.signature(func)
    fparams = [p for p in fsig.parameters.values() if p.name != CALL_PARAM]
    hcall = hsig.parameters.get(CALL_PARAM)
    if hcall is not None and hcall.kind not in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    ):
        raise ConfigError(f"{surface}: fallback {name} must take 'call' as a named parameter, e.g. `*, call`")
    hparams = [p for p in hsig.parameters.values() if p.name != CALL_PARAM]
    instance = False
    if fparams and fparams[0].kind in _POSITIONAL and fparams[0].name in ("self", "cls"):
        first = fparams.pop(0)
        instance = bool(hparams) and hparams[0].kind in _POSITIONAL and hparams[0].name == first.name
    # positional-only names cannot be passed by keyword (with **kwargs such a keyword lands there),
    # which Signature.bind does not model: give them names no caller can use
    bare = hsig.replace(
        parameters=[
            p.replace(name=f"__positional_{i}") if p.kind is inspect.Parameter.POSITIONAL_ONLY else p
            for i, p in enumerate(hparams)
        ]
    )
    for args, kwargs in _shapes(fparams, tuple(p.name for p in hparams)):
        try:
            bare.bind(*(("self",) if instance else ()), *args, **kwargs)
        except TypeError as exc:
            shown = ", ".join([*map(str, args), *(f"{k}=" for k in kwargs)])
            problem = str(exc)
            for i, p in enumerate(hparams):
                problem = problem.replace(f"'__positional_{i}'", f"'{p.name}' (positional-only)")
            raise ConfigError(
                f"{surface}: fallback {name}{hsig} cannot take the arguments of "
                f"{getattr(func, '__qualname__', func)}{fsig} (a call ({shown}) fails: {problem}); give it the "
                "same parameters"
            ) from None
    fcall = CALL_PARAM in fsig.parameters
    return instance, fcall and hcall is None, hcall is not None and not fcall


class FittedFallback:
    """A handler fitted to one surface: ``replacement`` takes the governed function's arguments."""

    __slots__ = ("handler", "name", "replacement")

    def __init__(self, handler: Callable[..., Any], name: str, replacement: Callable[..., Any]) -> None:
        self.handler = handler
        self.name = name
        self.replacement = replacement


def fit(surface: str, kind: str, func: Callable[..., Any], handler: Callable[..., Any]) -> FittedFallback:
    """Check ``handler`` against the governed ``func`` of ``kind`` and build the callable the pipeline runs.

    The result is called with the governed function's ``(*args, **kwargs)`` (``call`` included
    when the function declares it) and returns what the surface kind needs: a value, an
    awaitable, a generator or an async generator.

    Raises:
        ConfigError: not callable, the wrong kind for the surface, or an incompatible signature.
    """
    if not callable(handler):
        raise ConfigError(f"{surface}: fallback must be callable, not {type(handler).__name__}")
    name = handler_name(handler)
    refusal = isinstance(handler, Fallback) and handler.refusal
    if isinstance(handler, Fallback):
        run = handler.prepare(surface, func)
        instance, strip, inject = False, CALL_PARAM in inspect.signature(func).parameters, False
        handler_kind = "function"
    else:
        handler_kind = _kind_of(handler)
        if handler_kind not in _ALLOWED[kind]:
            allowed = " or ".join(_KIND_WORDS[k] for k in _ALLOWED[kind])
            raise ConfigError(
                f"{surface}: fallback {name} is {_KIND_WORDS[handler_kind]}, but the surface is "
                f"{_KIND_WORDS[kind]}, which takes {allowed} as its fallback"
                + (
                    " (a sync call cannot wait for a coroutine: make the fallback a plain def)"
                    if kind == "function" and handler_kind in ("async", "async-generator")
                    else ""
                )
            )
        instance, strip, inject = _check_signature(surface, func, handler, name)
        run = handler
    invoke = _invoker(run, instance, strip, inject)

    def failed(exc: Exception) -> NoReturn:
        if refusal:
            raise exc
        meters = tracing.instruments()
        if meters is not None:
            meters.fallback_failed.add(1, {semconv.SURFACE: surface})
        raise FallbackFailed(f"{surface}: fallback {name} raised {type(exc).__name__}: {exc}") from exc

    return FittedFallback(handler, name, _adapt(kind, handler_kind, invoke, failed))


def _invoker(handler: Callable[..., Any], instance: bool, strip: bool, inject: bool) -> Callable[..., Any]:
    if not (instance or strip or inject):
        return handler

    def invoke(*args: Any, **kwargs: Any) -> Any:
        if strip:
            kwargs.pop(CALL_PARAM, None)
        call = current_record()
        if inject:
            kwargs[CALL_PARAM] = call.handle if call is not None else None
        if instance:
            args = (call.instance if call is not None else None, *args)
        return handler(*args, **kwargs)

    return invoke


Fail = Callable[[Exception], NoReturn]
"""Raises what a handler's exception becomes: ``FallbackFailed`` from it, or itself for ``raise_``."""


def _adapt(kind: str, handler_kind: str, invoke: Callable[..., Any], failed: Fail) -> Callable[..., Any]:
    """The replacement for a ``kind`` surface running a ``handler_kind`` handler through ``invoke``."""

    def value(*args: Any, **kwargs: Any) -> Any:
        try:
            return invoke(*args, **kwargs)
        except Exception as exc:
            failed(exc)

    if kind in ("function", "block") and handler_kind == "function":
        return value
    if kind in ("async", "block"):

        async def awaited(*args: Any, **kwargs: Any) -> Any:
            try:
                result = invoke(*args, **kwargs)
                return await result if handler_kind == "async" else result
            except Exception as exc:
                failed(exc)

        return awaited
    if kind == "generator":
        if handler_kind == "generator":
            return lambda *args, **kwargs: relay(lambda: value(*args, **kwargs), _Guard(failed))
        return lambda *args, **kwargs: _one(value(*args, **kwargs))
    # async-generator surface
    if handler_kind == "async-generator":
        return lambda *args, **kwargs: arelay(_ready(value(*args, **kwargs)), _Guard(failed))
    if handler_kind == "generator":
        return lambda *args, **kwargs: arelay(_ready(AsyncView(value(*args, **kwargs))), _Guard(failed))
    if handler_kind == "async":
        return lambda *args, **kwargs: _aone_awaited(value(*args, **kwargs), failed)
    return lambda *args, **kwargs: _aone(value(*args, **kwargs))


def _one(item: object) -> Generator[object, None, None]:
    yield item


async def _aone(item: object) -> AsyncGenerator[object, None]:
    yield item


async def _aone_awaited(pending: Any, failed: Fail) -> AsyncGenerator[object, None]:
    try:
        item = await pending
    except Exception as exc:
        failed(exc)
    yield item


def _ready(stream: object) -> Callable[[], Awaitable[object]]:
    """A ``start`` for ``arelay`` that hands over a stream made already."""

    async def start() -> object:
        return stream

    return start


class _Guard(Passthrough):
    """Relay hooks for a streaming fallback: its own exceptions become ``failed`` (the consumer's pass unchanged)."""

    def __init__(self, failed: Fail) -> None:
        self._failed = failed

    def error(self, token: Any, exc: BaseException, thrown: BaseException | None) -> None:
        if isinstance(exc, Exception) and exc is not thrown:
            self._failed(exc)
