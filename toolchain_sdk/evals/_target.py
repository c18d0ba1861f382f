"""The surface an eval file names: imported, found in the registry, and called like the application calls it.

A case's ``input`` becomes the call's keyword arguments, each converted to its parameter's
annotated type (a dict becomes the dataclass or pydantic model the function takes). Streams,
sync or async, are consumed and evaluated as their concatenation.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
import typing
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pydantic import TypeAdapter, ValidationError

from toolchain_sdk._core.call import INJECTED
from toolchain_sdk.errors import ConfigError
from toolchain_sdk.inventory import SurfaceSpec, get_surface, surfaces

__all__ = ["Target", "call_target", "concatenate", "load_target"]


@dataclass(frozen=True)
class Target:
    """A governed function named ``module:function`` and the spec it registered."""

    ref: str
    func: Callable[..., Any]
    spec: SurfaceSpec
    hints: Mapping[str, Any] = field(default_factory=dict)
    """The parameters' annotated types (to convert a case's input)."""
    signature: inspect.Signature | None = None
    """The function's parameters (to refuse an input the call could not take); ``None`` when unknown."""

    def _check_names(self, given: Mapping[str, Any]) -> None:
        """Refuse an input naming no parameter, an injected or positional-only one, or missing a required one.

        Raises:
            ConfigError: names the parameter and lists the ones the function takes.
        """
        if self.signature is None:
            return
        params = self.signature.parameters
        keywords = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        takes = [n for n, p in params.items() if p.kind in keywords and p.default is not INJECTED]
        shown = f"{self.ref} takes {', '.join(takes) or 'no arguments'}"
        any_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        for name in given:
            param = params.get(name)
            if param is None or param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                if any_keyword and param is None:
                    continue
                raise ConfigError(f"input.{name}: no such parameter ({shown})")
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise ConfigError(f"input.{name}: the parameter is positional-only, so a case cannot give it by name")
            if param.default is INJECTED:
                raise ConfigError(f"input.{name}: the SDK injects this parameter into the call; leave it out")
        missing = [n for n, p in params.items() if p.default is p.empty and p.kind in keywords and n not in given]
        if missing:
            raise ConfigError(f"input: missing required {', '.join(map(repr, missing))} ({shown})")
        if any(p.kind is inspect.Parameter.POSITIONAL_ONLY and p.default is p.empty for p in params.values()):
            raise ConfigError(f"{self.ref} has required positional-only parameters, which a case cannot give by name")

    def arguments(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """A case's ``input`` as keyword arguments of the annotated types.

        Raises:
            ConfigError: an input names no parameter of the function or misses a required one, or a
                value does not fit its parameter's type (names the parameter).
        """
        self._check_names(given)
        out: dict[str, Any] = {}
        for name, value in given.items():
            hint = self.hints.get(name)
            if hint is None or hint is Any or not isinstance(value, (dict, list)):
                out[name] = value
                continue
            try:
                out[name] = TypeAdapter(hint).validate_python(value)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ConfigError(
                    f"input.{name}{'.' + where if where else ''}: {first['msg']} (parameter {name}: {hint})"
                ) from None
        return out


def _import(module_name: str) -> ModuleType:
    """Import the target's module; any failure is a ``ConfigError``."""
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"unknown target module {module_name!r} ({exc}); run from the directory it is imported from "
            "(the current directory is on the import path)"
        ) from None
    except Exception as exc:  # the module itself fails to import: as much a setup error as a missing one
        raise ConfigError(f"target module {module_name!r} raised on import: {type(exc).__name__}: {exc}") from None


def _spec_of(location: str) -> SurfaceSpec | None:
    """The registered surface declared by the function at ``module:qualname``."""
    return next((s for s in surfaces() if s.location == location), None)


def load_target(ref: str) -> Target:
    """Import ``module:function`` and find the governed surface it declared.

    Raises:
        ConfigError: the module cannot be imported, has no such function, or the function is not
            decorated with ``@governed_call``.
    """
    module_name, _, attr = ref.partition(":")
    module = _import(module_name)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"unknown target {ref}: module {module_name} has no {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"unknown target {ref}: {attr} is not a function")
    inner = getattr(obj, "__wrapped__", obj)
    location = f"{getattr(inner, '__module__', module_name)}:{getattr(inner, '__qualname__', attr)}"
    spec = _spec_of(location)
    if spec is None and getattr(obj, "__wrapped__", None) is not None and module_name in sys.modules:
        # the registry was emptied since the module was imported (a test suite's reset): declare again
        module = importlib.reload(sys.modules[module_name])
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
        inner = getattr(obj, "__wrapped__", obj)
        spec = _spec_of(location)
    if spec is None:
        raise ConfigError(
            f"unknown target {ref}: {attr} is not a governed surface (decorate it with @tc.governed_call, "
            "or name the function that is)"
        )
    try:
        hints = typing.get_type_hints(inner)
    except Exception:  # an annotation that cannot be resolved: inputs are passed as written
        hints = {}
    hints.pop("return", None)
    try:
        signature: inspect.Signature | None = inspect.signature(obj)
    except (TypeError, ValueError):  # a callable without an introspectable signature: inputs are passed as written
        signature = None
    return Target(ref, obj, get_surface(spec.surface) or spec, hints, signature)


def concatenate(chunks: Iterable[object]) -> object:
    """A stream's output: the text (or bytes) of its chunks joined, else the list of chunks."""
    items = list(chunks)
    if items and all(isinstance(c, str) for c in items):
        return "".join(typing.cast(list[str], items))
    if items and all(isinstance(c, (bytes, bytearray)) for c in items):
        return b"".join(typing.cast(list[bytes], items))
    return items if items else ""


async def _drain(stream: AsyncIterator[object]) -> list[object]:
    """Every chunk of an async stream."""
    return [chunk async for chunk in stream]


def call_target(target: Target, arguments: Mapping[str, Any]) -> object:
    """Call the governed function once with ``arguments``; awaits coroutines and consumes streams.

    A sync call's stream is read as a sync iterator, an async call's as an async one (the SDK wraps
    a returned stream in an object that offers both, and only the one its inner stream has works).
    """
    result = target.func(**arguments)
    if inspect.isawaitable(result):
        result = asyncio.run(_awaited(result))
    if isinstance(result, (str, bytes, bytearray, dict, list, tuple)) or result is None:
        return result
    if isinstance(result, Iterator):  # first: the SDK's wrapper of a returned stream offers both protocols
        return concatenate(result)
    if hasattr(result, "__anext__"):
        return concatenate(asyncio.run(_drain(result)))
    return result


async def _awaited(awaitable: Any) -> object:
    """Await a coroutine's result; a stream it returns is drained on the same loop."""
    result = await awaitable
    if hasattr(result, "__anext__"):  # an async function that returned a stream: drained on the same loop
        return concatenate([chunk async for chunk in result])
    return result
