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

    def arguments(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """A case's ``input`` as keyword arguments of the annotated types.

        Raises:
            ConfigError: a value does not fit its parameter's type (names the parameter).
        """
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
    return Target(ref, obj, get_surface(spec.surface) or spec, hints)


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
    """Call the governed function once with ``arguments``; awaits coroutines and consumes streams."""
    result = target.func(**arguments)
    if inspect.isawaitable(result):
        result = asyncio.run(_awaited(result))
    if isinstance(result, (str, bytes, bytearray, dict, list, tuple)) or result is None:
        return result
    if hasattr(result, "__anext__"):
        return concatenate(asyncio.run(_drain(result)))
    if isinstance(result, Iterator):
        return concatenate(result)
    return result


async def _awaited(awaitable: Any) -> object:
    """Await a coroutine's result; a stream it returns is drained on the same loop."""
    result = await awaitable
    if hasattr(result, "__anext__"):  # an async function that returned a stream: drained on the same loop
        return concatenate([chunk async for chunk in result])
    return result
