"""The assertion kinds: each checks one output and says, in words, why it failed.

Text assertions see a string output as it is, bytes decoded as UTF-8, anything else as canonical
JSON; ``path:`` first picks a value out of a JSON/dict output. ``python`` assertions call a named
function (model-graded checks plug in there: no vendor is hard-wired).
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from toolchain_sdk import redaction
from toolchain_sdk.errors import ConfigError
from toolchain_sdk.evals._model import Assertion, Case
from toolchain_sdk.hashing import canonical_json

__all__ = ["Checked", "check", "load_callable", "require_jsonschema", "select", "text_of"]

_SHOWN = 80


@dataclass(frozen=True)
class Checked:
    """The outcome of one assertion on one output."""

    kind: str
    passed: bool
    score: float
    """In [0, 1]: 1 or 0, or what a ``python`` check returned."""
    reason: str
    """Why it failed (empty when it passed, unless a ``python`` check explained itself)."""
    weight: float
    path: str | None

    def to_json(self) -> dict[str, object]:
        """The assertion's entry in the JSON results."""
        return {
            "kind": self.kind,
            "passed": self.passed,
            "path": self.path,
            "reason": self.reason,
            "score": round(self.score, 6),
            "weight": self.weight,
        }


class _Missing(Exception):
    """``path:`` names nothing in the output."""


def _shorten(text: str) -> str:
    """``text`` as a reason quotes it: secrets and card numbers scrubbed (reasons reach CI logs), then cut short.

    Scrubbed before it is cut, so a key cut in half is still recognised.
    """
    text = redaction.scrub_text(text)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def text_of(value: object) -> str:
    """The text a text assertion sees: a ``str`` as is, ``bytes`` as UTF-8, else canonical JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    try:
        return canonical_json(value).decode("utf-8")
    except (TypeError, ValueError):
        return str(value)


def _structured(value: object) -> object:
    """A JSON string parsed (so ``path:`` and ``json_schema`` see its structure); other values as they are."""
    if isinstance(value, (str, bytes, bytearray)):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def select(output: object, path: str | None) -> object:
    """The value at dotted ``path`` in ``output`` (mapping keys, list indices, attributes).

    Raises:
        _Missing: the path does not exist in the output.
    """
    if path is None:
        return output
    value = _structured(output)
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and part.lstrip("-").isdigit():
            try:
                value = value[int(part)]
            except IndexError:
                raise _Missing(f"path {'.'.join(walked)!r}: index {part} is out of range") from None
        elif hasattr(value, part) and not part.startswith("_"):
            value = getattr(value, part)
        else:
            raise _Missing(f"path {'.'.join(walked)!r} is not in the output ({_shorten(text_of(value))!r})")
    return value


def require_jsonschema() -> Any:
    """The ``jsonschema`` module (the ``evals`` extra).

    Raises:
        ConfigError: it is not installed (the message says how to add it).
    """
    try:
        return importlib.import_module("jsonschema")
    except ImportError:
        raise ConfigError(
            "json_schema assertions need the jsonschema library: pip install 'toolchain-sdk[evals]'"
        ) from None


def load_callable(ref: str) -> Callable[..., object]:
    """The function ``module:function`` names (for ``python:`` assertions).

    Raises:
        ConfigError: the module cannot be imported or has no such callable.
    """
    module_name, _, attr = ref.partition(":")
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"python: {ref}: cannot import {module_name}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"python: {ref}: {module_name} has no {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"python: {ref} is not callable")
    return obj


def _equals(value: object, expected: object) -> tuple[bool, str]:
    """``equals``: the value, or a JSON string parsed, equals the expected value."""
    if value == expected or (
        isinstance(value, str) and not isinstance(expected, str) and _structured(value) == expected
    ):
        return True, ""
    return False, f"expected {_shorten(text_of(expected))!r}, got {_shorten(text_of(value))!r}"


def _contains(value: object, needle: str) -> tuple[bool, str]:
    """``contains``: the text occurs in the output."""
    text = text_of(value)
    if needle in text:
        return True, ""
    return False, f"output does not contain {needle!r} (output: {_shorten(text)!r})"


def _not_contains(value: object, needle: str) -> tuple[bool, str]:
    """``not_contains``: the text does not occur; the reason shows where it does."""
    text = text_of(value)
    at = text.find(needle)
    if at < 0:
        return True, ""
    shown = redaction.scrub_text(text)  # the excerpt comes from the scrubbed text: no half key in a window
    near = shown.find(needle)
    if near < 0:  # the needle is inside something the scrubber removes: no excerpt
        return False, f"output contains {needle!r} at character {at}"
    around = shown[max(near - 20, 0) : near + len(needle) + 20]
    return False, f"output contains {needle!r} at character {at} (…{around}…)"


def _regex(value: object, pattern: str) -> tuple[bool, str]:
    """``regex``: ``re.search`` finds the pattern anywhere in the output."""
    text = text_of(value)
    if re.search(pattern, text):
        return True, ""
    return False, f"no match for regex {pattern!r} in {_shorten(text)!r}"


def _max_chars(value: object, limit: int) -> tuple[bool, str]:
    """``max_chars``: the output has at most that many characters."""
    size = len(text_of(value))
    if size <= limit:
        return True, ""
    return False, f"output is {size} characters, more than max_chars {limit}"


def _one_of(value: object, options: list[object]) -> tuple[bool, str]:
    """``one_of``: the whole output (stripped, for text) is one of the values."""
    stripped = value.strip() if isinstance(value, str) else value
    if value in options or stripped in options:
        return True, ""
    shown = ", ".join(repr(o) for o in options)
    return False, f"output {_shorten(text_of(value))!r} is not one of {shown}"


def _json_schema(value: object, schema: object) -> tuple[bool, str]:
    """``json_schema``: the output (a JSON string parsed) validates against the schema."""
    jsonschema = require_jsonschema()
    instance = _structured(value)
    if isinstance(value, str) and instance is value:
        return False, f"output is not JSON: {_shorten(value)!r}"
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(instance))
    if error is None:
        return True, ""
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return False, f"JSON schema: at {where}: {redaction.scrub_text(error.message)}"


def _no_pii(value: object, _: object) -> tuple[bool, str]:
    """``no_pii``: the redaction detectors find nothing; the reason names kinds and positions, never values."""
    findings = redaction.find(text_of(value))
    if not findings:
        return True, ""
    shown = ", ".join(f"{f.label} at {f.start}" for f in findings)
    return False, f"output holds personal data or secrets ({shown})"  # positions and kinds only, never the values


_CHECKS: dict[str, Callable[[Any, Any], tuple[bool, str]]] = {
    "equals": _equals,
    "contains": _contains,
    "not_contains": _not_contains,
    "regex": _regex,
    "max_chars": _max_chars,
    "one_of": _one_of,
    "json_schema": _json_schema,
    "no_pii": _no_pii,
}


def _python(assertion: Assertion, value: object, case: Case, fn: Callable[..., object]) -> Checked:
    """Call a named check: ``bool``, a float in [0, 1], or ``(bool, reason)``."""

    def done(passed: bool, score: float, reason: str) -> Checked:
        """The check's outcome."""
        return Checked("python", passed, score, reason, assertion.weight, assertion.path)

    name = str(assertion.value)
    try:
        answer = fn(value, case)
    except Exception as exc:  # a broken check fails its case, with the error as the reason
        return done(False, 0.0, f"{name} raised {type(exc).__name__}: {redaction.scrub_text(str(exc))}")
    if isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], bool):
        passed, why = answer
        reason = redaction.scrub_text(str(why)) if why else ("" if passed else f"{name} said no")
        return done(passed, 1.0 if passed else 0.0, reason)
    if isinstance(answer, bool):
        return done(answer, 1.0 if answer else 0.0, "" if answer else f"{name} returned False")
    if isinstance(answer, (int, float)) and 0 <= answer <= 1:
        score = float(answer)
        passed = score >= assertion.min_score
        return done(
            passed, score, "" if passed else f"{name} scored {score:.3g}, below min_score {assertion.min_score}"
        )
    return done(False, 0.0, f"{name} returned {answer!r}: a check returns a bool, a float in [0, 1] or (bool, reason)")


def check(assertion: Assertion, output: object, case: Case, functions: Mapping[str, Callable[..., object]]) -> Checked:
    """Check ``output`` against one assertion; ``functions`` holds the loaded ``python:`` callables."""
    try:
        value = select(output, assertion.path)
    except _Missing as missing:
        return Checked(assertion.kind, False, 0.0, str(missing), assertion.weight, assertion.path)
    if assertion.kind == "python":
        return _python(assertion, value, case, functions[str(assertion.value)])
    passed, reason = _CHECKS[assertion.kind](value, assertion.value)
    return Checked(assertion.kind, passed, 1.0 if passed else 0.0, reason, assertion.weight, assertion.path)
