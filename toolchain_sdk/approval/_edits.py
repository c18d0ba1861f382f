"""What a reviewer's edit of an output must be: the governed function's return type, strictly.

An edit replaces the model's output, so it must be what the caller was promised: the function's
return annotation when it has a usable one (read with ``typing.get_type_hints`` on first use),
else the original output's type. The check is pydantic's ``TypeAdapter`` in strict mode on the
edit's JSON form — what a reviewer writes — so ``5`` fits ``int`` but ``"5"``, ``5.0`` and
``true`` do not, a dict does not fit a list, and ``{"amount": "lots"}`` does not fit a dataclass
with ``amount: int``. Nothing is coerced: the edit must also come back from the type unchanged
(no unknown fields dropped, no value rewritten), so the caller gets exactly what was reviewed.

Text outputs take text edits and bytes outputs bytes edits, as before; an annotation narrower
than ``str``/``bytes`` (a ``Literal``, an enum) is checked too.
"""

from __future__ import annotations

import inspect
import json
import threading
import typing
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Final

import typing_extensions
from pydantic import TypeAdapter, ValidationError

from toolchain_sdk.approval._values import output_kind
from toolchain_sdk.hashing import canonical_json

__all__ = ["EditCheck"]

_UNSET: Final = object()
_NONE: Final = object()
"""A function without a usable return annotation."""
_VAGUE: Final = (Any, object)


class EditCheck:
    """Checks edits of one surface's outputs against its function's return type."""

    def __init__(self, func: Callable[..., Any] | None) -> None:
        self._func = func
        self._annotation: object = _UNSET
        self._adapters: dict[Hashable, TypeAdapter[Any] | None] = {}
        self._schemas: dict[Hashable, Mapping[str, object] | None] = {}
        self._lock = threading.Lock()

    def fit(self, edited: object, original: object) -> object:
        """``edited`` as the value the caller gets (rebuilt as the output type).

        Raises:
            TypeError, ValueError: the edit does not fit the type (the reason says where).
        """
        kind = output_kind(original)
        if kind == "text" and not isinstance(edited, str):
            raise TypeError(f"the output is text; the edit is a {type(edited).__name__}")
        if kind == "bytes":
            if not isinstance(edited, (bytes, bytearray, memoryview)):
                raise TypeError(f"the output is bytes; the edit is a {type(edited).__name__}")
            edited = bytes(edited)
        target, adapter = self._target(original)
        if adapter is None:
            if kind != "json":
                return edited
            raise TypeError(f"the output is a {type(original).__name__}, which an edit cannot be checked against")
        try:
            if kind == "bytes":
                return adapter.validate_python(edited, strict=True)
            fitted = adapter.validate_json(canonical_json(edited), strict=True)
        except ValidationError as exc:
            raise ValueError(f"the edit is not of type {_name(target)}: {_errors(exc)}") from None
        if json.loads(canonical_json(fitted)) != json.loads(canonical_json(edited)):
            raise ValueError(
                f"the edit is not exactly of type {_name(target)}: the type would change it (unknown fields, or "
                "values it rewrites); edit the fields the output has, in the form the request shows"
            )
        return fitted

    def schema(self, original: object) -> Mapping[str, object] | None:
        """The JSON Schema an edit of ``original`` must fit (for reviewers' tools), or ``None``."""
        if output_kind(original) == "bytes":
            return None
        target, adapter = self._target(original)
        key = _key(target)
        with self._lock:
            if key in self._schemas:
                return self._schemas[key]
        schema: Mapping[str, object] | None = None
        if adapter is not None:
            try:
                schema = adapter.json_schema()
            except Exception:  # a type with no JSON Schema: reviewers' tools cannot check, the gate still does
                schema = None
        with self._lock:
            self._schemas[key] = schema
        return schema

    def _target(self, original: object) -> tuple[object, TypeAdapter[Any] | None]:
        """The type an edit must be, and its adapter (``None``: no checkable type)."""
        annotation = self.annotation
        kind = output_kind(original)
        if annotation is not _NONE:
            adapter = self._adapter(annotation)
            if adapter is not None:
                return annotation, adapter
        fallback: object = {"text": str, "bytes": bytes}.get(kind, type(original))
        return fallback, self._adapter(fallback)

    @property
    def annotation(self) -> object:
        """The function's return annotation, resolved on first use (``_NONE`` when it has none usable)."""
        if self._annotation is _UNSET:
            self._annotation = _return_annotation(self._func)
        return self._annotation

    def _adapter(self, target: object) -> TypeAdapter[Any] | None:
        key = _key(target)
        with self._lock:
            if key in self._adapters:
                return self._adapters[key]
        adapter = _make_adapter(target)
        with self._lock:
            self._adapters[key] = adapter
        return adapter


def _return_annotation(func: Callable[..., Any] | None) -> object:
    """The usable return annotation of ``func`` (not ``Any``/``object``/a bare type variable), else ``_NONE``."""
    if func is None:
        return _NONE
    target = inspect.unwrap(getattr(func, "__func__", func))
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # a forward reference that does not resolve (e.g. a class local to a function)
        return _NONE
    if "return" not in hints:
        return _NONE
    hint = hints["return"]
    if any(hint is vague for vague in _VAGUE) or isinstance(hint, typing.TypeVar):
        return _NONE
    return hint


def _key(target: object) -> Hashable:
    """A cache key for a type (an ``Annotated`` with unhashable metadata counts by identity)."""
    try:
        hash(target)
    except TypeError:
        return ("id", id(target))
    return target


def _make_adapter(target: object) -> TypeAdapter[Any] | None:
    """A strict-capable validator for ``target``, or ``None`` when pydantic has no schema for it."""
    try:
        return TypeAdapter(typing.cast(Any, target))
    except Exception:
        pass
    if typing.is_typeddict(target):  # a typing.TypedDict, which pydantic refuses before Python 3.12
        try:
            return TypeAdapter(typing.cast(Any, _as_extensions_typeddict(target)))
        except Exception:
            return None
    return None


def _as_extensions_typeddict(target: object) -> object:
    """A ``typing.TypedDict`` remade as a ``typing_extensions.TypedDict`` with the same fields."""
    cls = typing.cast(Any, target)
    required = cls.__required_keys__
    fields = {
        name: typing_extensions.Required[hint] if name in required else typing_extensions.NotRequired[hint]
        for name, hint in typing.get_type_hints(cls).items()
    }
    return typing_extensions.TypedDict(cls.__name__, fields)  # type: ignore[operator]


def _name(target: object) -> str:
    """A type as a reader knows it: ``int``, ``Reply``, ``dict[str, int]``."""
    if isinstance(target, type) and not typing.get_args(target):
        return target.__name__
    return str(target).replace("typing.", "")


def _errors(exc: ValidationError) -> str:
    """A pydantic error as one line: ``where: what`` for the first few problems."""
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(parts)
