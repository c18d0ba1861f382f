"""Check an edited output against the JSON Schema an after-request records for its output's type.

The gate validates every edit against the function's return type (pydantic, strict; ``_edits``).
A reviewer's tool has no access to that type, so each after-request also carries the type's JSON
Schema, and the store checks an edit against it before recording it: a misfit is refused at once
(``toolchain approvals edit`` exits 2) instead of reaching the waiting call only to be denied.

Only the keywords pydantic emits are checked (``type``, ``properties``, ``required``,
``additionalProperties``, ``items``, ``prefixItems``, ``minItems``/``maxItems``, ``enum``,
``const``, ``anyOf``/``oneOf``/``allOf``, ``$ref`` into ``$defs``); anything else (``format``,
``pattern``, ...) is left to the gate, which has the last word.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["schema_problem"]

_MAX_DEPTH: Final = 64
"""Nesting checked; deeper parts are left to the gate."""
_JSON_TYPES: Final = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "array": (list, tuple),
    "object": (Mapping,),
}


def schema_problem(value: object, schema: Mapping[str, object]) -> str | None:
    """Why ``value`` (a JSON value) does not fit ``schema``, or ``None`` when it fits (or the
    schema says more than this checker reads: the gate decides those)."""
    defs = schema.get("$defs")
    return _problem(value, schema, defs if isinstance(defs, Mapping) else {}, "$", 0)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    for name, types in _JSON_TYPES.items():
        if isinstance(value, types):
            return name
    return type(value).__name__


def _fits_type(value: object, wanted: object) -> bool:
    names = wanted if isinstance(wanted, list) else [wanted]
    kind = _kind(value)
    return any(n == kind or (n == "number" and kind == "integer") for n in names)


def _same(a: object, b: object) -> bool:
    """JSON equality: ``true`` is not ``1``."""
    return _kind(a) == _kind(b) and a == b


def _problem(value: object, schema: object, defs: Mapping[str, object], at: str, depth: int) -> str | None:
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        problem = _problem(value, defs.get(ref.removeprefix("#/$defs/")), defs, at, depth + 1)
        if problem is not None:
            return problem
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            problems = [_problem(value, option, defs, at, depth + 1) for option in options]
            if all(p is not None for p in problems):
                return f"{at}: {_kind(value)} fits none of the allowed forms ({problems[0]})"
    parts = schema.get("allOf")
    for part in parts if isinstance(parts, list) else ():
        problem = _problem(value, part, defs, at, depth + 1)
        if problem is not None:
            return problem
    if "const" in schema and not _same(value, schema["const"]):
        return f"{at}: must be {schema['const']!r}"
    enum = schema.get("enum")
    if isinstance(enum, list) and not any(_same(value, option) for option in enum):
        return f"{at}: must be one of {', '.join(map(repr, enum))}"
    if "type" in schema and not _fits_type(value, schema["type"]):
        return f"{at}: expected {schema['type']}, got {_kind(value)}"
    if isinstance(value, Mapping):
        return _object_problem(value, schema, defs, at, depth)
    if isinstance(value, (list, tuple)):
        return _array_problem(list(value), schema, defs, at, depth)
    return None


def _object_problem(
    value: Mapping[object, object], schema: Mapping[str, object], defs: Mapping[str, object], at: str, depth: int
) -> str | None:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = schema.get("required")
    missing = [name for name in (required if isinstance(required, list) else ()) if name not in value]
    if missing:
        return f"{at}: missing {', '.join(map(str, missing))}"
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if key in properties:
            problem = _problem(item, properties[key], defs, f"{at}.{key}", depth + 1)
        elif extra is False:
            problem = f"{at}: unexpected field {key!r}"
        else:
            problem = _problem(item, extra, defs, f"{at}.{key}", depth + 1)
        if problem is not None:
            return problem
    return None


def _array_problem(
    value: list[object], schema: Mapping[str, object], defs: Mapping[str, object], at: str, depth: int
) -> str | None:
    low, high = schema.get("minItems"), schema.get("maxItems")
    if isinstance(low, int) and len(value) < low:
        return f"{at}: at least {low} items, got {len(value)}"
    if isinstance(high, int) and len(value) > high:
        return f"{at}: at most {high} items, got {len(value)}"
    prefix = schema.get("prefixItems")
    prefix = prefix if isinstance(prefix, list) else []
    rest = schema.get("items")
    for i, item in enumerate(value):
        problem = _problem(item, prefix[i] if i < len(prefix) else rest, defs, f"{at}[{i}]", depth + 1)
        if problem is not None:
            return problem
    return None
