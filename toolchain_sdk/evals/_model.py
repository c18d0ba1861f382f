"""Eval files as pydantic models: read from YAML (``yaml.safe_load``) or TOML, errors naming file, case and field.

An eval file names a governed surface (``target: module:function``), optionally the prompt
versions to run it with, and its cases; each case gives the call's keyword arguments and the
assertions its output must meet (``docs/evals.md``).
"""

from __future__ import annotations

import re
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal

import yaml  # type: ignore[import-untyped, unused-ignore]  # PyYAML ships no stubs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from toolchain_sdk.errors import ConfigError

__all__ = [
    "ASSERTION_KINDS",
    "Assertion",
    "AssertionKind",
    "Case",
    "EVAL_SUFFIXES",
    "EvalFile",
    "is_eval_file",
    "load_eval_file",
    "read_mapping",
]

AssertionKind = Literal[
    "equals", "contains", "not_contains", "regex", "max_chars", "one_of", "json_schema", "no_pii", "python"
]
ASSERTION_KINDS: tuple[str, ...] = typing.get_args(AssertionKind)
"""Every assertion an eval case may make, in the order ``docs/evals.md`` lists them."""
EVAL_SUFFIXES = (".yaml", ".yml", ".toml")
"""The file types an eval file may have (what decides is its content: top-level ``target`` and ``cases``)."""

_TARGET = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")
_PROMPT_REF = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-/]*@[A-Za-z0-9_\-][A-Za-z0-9_.\-]*")
_OPTIONS = ("path", "weight", "min_score")


class Assertion(BaseModel):
    """One check of a case's output: ``{contains: refund}``, optionally with ``path:`` and ``weight:``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: AssertionKind
    value: Any
    path: str | None = None
    """A dotted path into a JSON/dict output (``status``, ``items.0.name``); the whole output when absent."""
    weight: float = Field(default=1.0, gt=0)
    """How much the assertion counts in the case's score."""
    min_score: float = Field(default=0.5, ge=0, le=1)
    """``python`` only: a returned float passes at or above this."""

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: object) -> object:
        """``{contains: x, weight: 2}`` → ``{kind: contains, value: x, weight: 2}``."""
        if not isinstance(data, dict) or "kind" in data:
            return data
        kinds = [k for k in data if k not in _OPTIONS]
        if len(kinds) != 1 or kinds[0] not in ASSERTION_KINDS:
            shown = ", ".join(map(str, kinds)) or "none"
            raise ValueError(
                f"an assertion names exactly one of {', '.join(ASSERTION_KINDS)} (plus path:, weight:); got {shown}"
            )
        return {"kind": kinds[0], "value": data[kinds[0]], **{k: data[k] for k in _OPTIONS if k in data}}

    @model_validator(mode="after")
    def _value_fits_kind(self) -> Assertion:
        """Check the value against what its kind takes (a pattern compiles, a limit is a whole number, ...)."""
        kind, value = self.kind, self.value
        if kind in ("contains", "not_contains") and not isinstance(value, str):
            raise ValueError(f"{kind}: give the text to look for, e.g. `{kind}: refund`")
        if kind == "regex":
            if not isinstance(value, str):
                raise ValueError("regex: give a pattern string")
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"regex: {value!r} is not a valid regular expression: {exc}") from None
        if kind == "max_chars" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError("max_chars: give a whole number of characters >= 0")
        if kind == "one_of" and not isinstance(value, list):
            raise ValueError('one_of: give a list of accepted outputs, e.g. `one_of: ["shipped", "pending"]`')
        if kind == "json_schema" and not isinstance(value, (dict, bool)):
            raise ValueError("json_schema: give a JSON Schema object, e.g. `{type: object, required: [status]}`")
        if kind == "no_pii" and value is not True:
            raise ValueError("no_pii: write `no_pii: true` (leave the assertion out to allow personal data)")
        if kind == "python" and (not isinstance(value, str) or not _TARGET.fullmatch(value)):
            raise ValueError("python: name a callable as 'module:function', e.g. support_bot.checks:is_polite")
        if self.path is not None and not self.path.strip():
            raise ValueError("path: give a dotted path such as `status` or `items.0.name`")
        return self


class Case(BaseModel):
    """One call of the target (its keyword arguments) and the assertions its output must meet."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str = Field(min_length=1)
    input: dict[str, Any] = Field(default_factory=dict)
    """The call's keyword arguments (values are converted to the parameters' annotated types)."""
    assertions: tuple[Assertion, ...] = Field(alias="assert", min_length=1)

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        """Ids appear in keys such as ``id[name@3]``: no surrounding spaces, no brackets."""
        if value.strip() != value or "[" in value or "]" in value:
            raise ValueError("a case id has no surrounding spaces and no brackets (they mark the prompt version)")
        return value


class EvalFile(BaseModel):
    """A validated eval file: its target surface, prompt versions, cases and pass-rate threshold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str
    """``module:function`` of a governed surface."""
    prompts: tuple[str, ...] = ()
    """Prompt versions (``name@3``) to run every case with, instead of the surface's own prompt."""
    cases: tuple[Case, ...] = Field(min_length=1)
    threshold: float = Field(default=1.0, ge=0, le=1)
    """The minimum pass rate of the file (skipped cases do not count)."""
    name: str | None = None
    """``gen_ai.evaluation.name`` of its spans (default: the file's name without suffix)."""
    path: Path = Path("-")
    """Where the file was read (set by ``load_eval_file``)."""

    @field_validator("target")
    @classmethod
    def _target_form(cls, value: str) -> str:
        """``module:function``."""
        if not _TARGET.fullmatch(value):
            raise ValueError(f"target {value!r} must be 'module:function', e.g. support_bot.replies:draft_refund_reply")
        return value

    @field_validator("prompts")
    @classmethod
    def _prompt_refs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Each listed version is ``name@version``, listed once."""
        for ref in value:
            if not isinstance(ref, str) or not _PROMPT_REF.fullmatch(ref):
                raise ValueError(f"prompts: {ref!r} is not 'name@version' (e.g. support_refund_policy@3)")
        if len(set(value)) != len(value):
            raise ValueError("prompts: a version is listed twice")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> EvalFile:
        """Two cases with one id would share a baseline entry."""
        seen: set[str] = set()
        for case in self.cases:
            if case.id in seen:
                raise ValueError(f"case id {case.id!r} is used twice: give each case its own id")
            seen.add(case.id)
        return self

    @property
    def eval_name(self) -> str:
        """The name its spans and results carry."""
        return self.name or self.path.stem

    def runs(self) -> list[tuple[Case, str | None]]:
        """Every (case, prompt version) pair to run: each case once per listed version, else once."""
        versions: tuple[str | None, ...] = self.prompts or (None,)
        return [(case, prompt) for case in self.cases for prompt in versions]


def read_mapping(path: Path) -> object:
    """The file's top-level value: YAML through ``yaml.safe_load``, ``.toml`` through ``tomllib``.

    Raises:
        ConfigError: the file cannot be read or parsed (the message names it).
    """
    try:
        if path.suffix == ".toml":
            with path.open("rb") as f:
                return tomllib.load(f)
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {exc}") from None


_TOP_KEY = {
    ".toml": (re.compile(r"^target\s*=", re.M), re.compile(r"^(cases\s*=|\[\[\s*cases\s*\]\])", re.M)),
    ".yaml": (re.compile(r"^[\"']?target[\"']?\s*:", re.M), re.compile(r"^[\"']?cases[\"']?\s*:", re.M)),
}
"""Top-level ``target`` and ``cases`` keys in a file's text, per syntax (for files that do not parse)."""


def _looks_like_eval_file(path: Path) -> bool:
    """Whether a file that does not parse has top-level ``target`` and ``cases`` keys in its text.

    Such a file is an eval file with a syntax error: it is reported (its evals must not silently stop
    running), while other unparseable YAML (templates, fragments) is left alone.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    target, cases = _TOP_KEY[".toml" if path.suffix == ".toml" else ".yaml"]
    return bool(target.search(text) and cases.search(text))


def is_eval_file(path: Path) -> bool:
    """Whether ``path`` is an eval file by its content: a mapping with top-level ``target`` and ``cases``.

    A file that does not parse counts when its text has both keys at the top level, so that loading
    it reports the syntax error instead of its evals silently not running.
    """
    if path.suffix not in EVAL_SUFFIXES or not path.is_file():
        return False
    try:
        data = read_mapping(path)
    except ConfigError:
        return _looks_like_eval_file(path)
    return isinstance(data, dict) and "target" in data and "cases" in data


def _where(loc: tuple[int | str, ...], data: object) -> str:
    """``case 'broken-item' (cases[0]), field assert[1].regex`` for a pydantic error location."""
    if len(loc) >= 2 and loc[0] == "cases" and isinstance(loc[1], int):
        case = _at(data, loc[:2])
        ident = case.get("id") if isinstance(case, dict) else None
        named = f"case {ident!r} (cases[{loc[1]}])" if ident is not None else f"cases[{loc[1]}]"
        rest = _dotted(loc[2:], _at(data, loc))
        return f"{named}, field {rest}" if rest else named
    return f"field {_dotted(loc, None)}" if loc else "the file"


def _at(data: object, loc: tuple[int | str, ...]) -> object:
    """The raw value at ``loc`` (``None`` when it is not there)."""
    for part in loc:
        found = (isinstance(data, dict) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and part < len(data)
        )
        if not found:
            return None
        data = data[part]  # type: ignore[index]
    return data


def _dotted(loc: tuple[int | str, ...], node: object) -> str:
    """``assert[1].regex``: the location, with an assertion's kind when it points at one."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    if isinstance(node, dict) and text.endswith("]"):
        kinds = [k for k in node if k in ASSERTION_KINDS]
        if len(kinds) == 1:
            text += f".{kinds[0]}"
    return text


def load_eval_file(path: str | Path) -> EvalFile:
    """Read and validate an eval file.

    Raises:
        ConfigError: unreadable, not YAML/TOML, not an eval file, or invalid; each problem names the
            file, the case (by id) and the field.
    """
    file = Path(path)
    data = read_mapping(file)
    if not isinstance(data, dict) or "target" not in data or "cases" not in data:
        raise ConfigError(f"{file}: not an eval file: it needs top-level `target:` and `cases:` (see docs/evals.md)")
    try:
        loaded = EvalFile.model_validate({**data, "path": file})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            if err["type"] == "too_short" and _at(data, loc):
                continue  # pydantic's echo of a list whose items failed: the items' own errors say why
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{file}: {_where(loc, data)}: {message}")
        raise ConfigError("\n".join(problems)) from None
    return loaded
