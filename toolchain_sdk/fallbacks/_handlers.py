"""The ready-made deterministic handlers: ``static``, ``template``, ``raise_``, and their base ``Fallback``."""

from __future__ import annotations

import copy
import inspect
import string
from collections.abc import Callable
from typing import Any

from toolchain_sdk._core.binding import CALL_PARAM
from toolchain_sdk._core.call import current_call
from toolchain_sdk.errors import ConfigError

__all__ = ["Fallback", "raise_", "static", "template"]


class Fallback:
    """Base of the ready-made handlers: callable with any arguments, checked against the surface when decorating."""

    name = "toolchain_sdk.fallbacks.Fallback"
    refusal = False

    def prepare(self, surface: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """Check this handler against the governed function; return the callable to run (ConfigError if wrong)."""
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


class _Static(Fallback):
    def __init__(self, value: object) -> None:
        self.value = value
        self.name = f"toolchain_sdk.fallbacks.static({type(value).__name__})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.value


def static(value: object) -> Fallback:
    """A fallback that always answers ``value`` (use an immutable value: the same object is returned each time)."""
    return _Static(value)


class _Template(Fallback):
    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise ConfigError(f"tc.fallbacks.template needs a format string, not {type(text).__name__}")
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
        except ValueError as exc:
            raise ConfigError(f"tc.fallbacks.template({text!r}) is not a valid format string: {exc}") from None
        roots = []
        for field in fields:
            root = field.split(".", 1)[0].split("[", 1)[0]
            if not root.isidentifier():
                raise ConfigError(
                    f"tc.fallbacks.template({text!r}): every field must name an argument, e.g. {{customer}}; "
                    f"got {{{field}}}"
                )
            roots.append(root)
        self.text = text
        self.fields = tuple(dict.fromkeys(roots))
        self.name = "toolchain_sdk.fallbacks.template"

    def prepare(self, surface: str, func: Callable[..., Any]) -> Callable[..., Any]:
        params = inspect.signature(func).parameters
        var_keyword = next((p.name for p in params.values() if p.kind is inspect.Parameter.VAR_KEYWORD), None)
        if var_keyword is None:
            names = set(params) - {CALL_PARAM}
            missing = [f for f in self.fields if f not in names]
            if missing:
                raise ConfigError(
                    f"{surface}: fallback template names {', '.join(missing)}, which "
                    f"{getattr(func, '__qualname__', func)} has no parameter for (it has: {', '.join(sorted(names))})"
                )
        text = self.text

        def fill(*args: Any, **kwargs: Any) -> str:
            call = current_call()
            values = dict(call.arguments) if call is not None else dict(kwargs)
            extra = values.pop(var_keyword, None) if var_keyword is not None else None
            if isinstance(extra, dict):
                values.update(extra)
            return text.format_map(values)

        return fill

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        return self.text.format_map(kwargs)


def template(text: str) -> Fallback:
    """A fallback that fills ``text`` (``str.format`` syntax) from the call's arguments by name.

    Strict: a field that names no parameter of the governed function is a ``ConfigError`` when
    decorating. Attribute and index access work (``{ticket.customer}``, ``{order[id]}``).
    """
    return _Template(text)


class _Refusal(Fallback):
    refusal = True

    def __init__(self, exc: BaseException | type[BaseException]) -> None:
        if not (isinstance(exc, BaseException) or (isinstance(exc, type) and issubclass(exc, BaseException))):
            raise ConfigError(f"tc.fallbacks.raise_ needs an exception or exception class, not {exc!r}")
        self.exc = exc
        kind = exc if isinstance(exc, type) else type(exc)
        self.name = f"toolchain_sdk.fallbacks.raise_({kind.__name__})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        exc = self.exc() if isinstance(self.exc, type) else copy.copy(self.exc)
        exc.__traceback__ = None
        raise exc


def raise_(exc: BaseException | type[BaseException]) -> Fallback:
    """A fallback that refuses explicitly: raises (a fresh copy of) ``exc``, unwrapped, on every switched call."""
    return _Refusal(exc)
