"""``Prompt``: one version of a template, its identity (name, version, SHA-256) and strict rendering.

Names and versions are checked here so a reference means the same everywhere: a name is letters,
digits, ``.``, ``_`` and ``-`` in ``/``-separated parts (sub-folders); a version is chosen by the
author (``3``, ``v3``, ``2026-11-30``) from the same characters without ``/``, and ``latest`` is
never a version — a moving pointer is a label in ``prompts.lock``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path

from toolchain_sdk.errors import PromptError
from toolchain_sdk.prompts._template import Segment, parse, placeholders_of, render

__all__ = [
    "Prompt",
    "check_label",
    "check_name",
    "check_version",
    "set_render_listener",
    "split_ref",
    "text_sha256",
]

_listener: Callable[[Prompt, str], None] | None = None


def set_render_listener(listener: Callable[[Prompt, str], None] | None) -> None:
    """Have ``listener(prompt, text)`` told of every rendering (the SDK keeps a governed call's
    rendered prompt this way when its capture mode records content); ``None`` removes it."""
    global _listener
    _listener = listener


_PART = r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]*"
_NAME = re.compile(rf"{_PART}(?:/{_PART})*")
_VERSION = re.compile(_PART)
_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")
_REF = re.compile(r"(?P<name>[^@]+)@(?P<version>[^@]+)")
_VARIABLE = re.compile(r"[A-Za-z0-9_]+")
_NOT_A_VERSION = "latest"


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of ``text``'s UTF-8 bytes: the identity of a prompt built in code."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid prompt name, else raise ``PromptError`` saying what is allowed."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise PromptError(
            f"prompt name {name!r} is not valid: use letters, digits, '.', '_' and '-', with '/' between "
            "sub-folders (e.g. 'support_refund_policy' or 'support/refund.policy'); a part may not start with '.'"
        )
    return name


def check_version(version: str, *, name: str = "") -> str:
    """Return ``version`` if it is a valid version, else raise ``PromptError`` (``latest`` never is)."""
    what = f"prompt {name}: " if name else ""
    if isinstance(version, str) and version.lower() == _NOT_A_VERSION:
        raise PromptError(
            f"{what}'latest' is not a version: pin the version you reviewed (name@3), or point a label at it "
            "with `toolchain prompts label NAME production 3` and use name@production"
        )
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise PromptError(
            f"{what}version {version!r} is not valid: use letters, digits, '.', '_' and '-' (e.g. '3', 'v3', "
            "'2026-11-30'); it may not start with '.'"
        )
    return version


def check_label(label: str, *, name: str = "") -> str:
    """Return ``label`` if it is a valid label (a letter, then letters, digits, '.', '_', '-'; not 'latest')."""
    what = f"prompt {name}: " if name else ""
    if not isinstance(label, str) or not _LABEL.fullmatch(label):
        raise PromptError(
            f"{what}label {label!r} is not valid: start with a letter, then letters, digits, '.', '_' or '-' "
            "(e.g. 'production', 'canary')"
        )
    if label.lower() == _NOT_A_VERSION:
        raise PromptError(f"{what}'latest' cannot be a label: it would read as 'newest file', which it is not")
    return label


def split_ref(ref: str) -> tuple[str, str]:
    """Split ``name@version`` (or ``name@label``) into its checked name and the part after ``@``.

    Raises:
        PromptError: not of the form ``name@version``, a bad name, or ``latest``.
    """
    match = _REF.fullmatch(ref) if isinstance(ref, str) else None
    if match is None:
        raise PromptError(
            f"prompt reference {ref!r} is not of the form 'name@version' or 'name@label' "
            "(e.g. 'support_refund_policy@3' or 'support_refund_policy@production')"
        )
    name = check_name(match["name"])
    after = match["version"]
    if after.lower() == _NOT_A_VERSION:
        check_version(after, name=name)
    if not _VERSION.fullmatch(after):
        raise PromptError(f"prompt reference {ref!r}: {after!r} is neither a valid version nor a valid label")
    return name, after


def _variables(declared: tuple[str, ...] | None, found: frozenset[str], what: str) -> tuple[str, ...] | None:
    if declared is None:
        return None
    declared = tuple(declared)
    bad = [v for v in declared if not isinstance(v, str) or not _VARIABLE.fullmatch(v)]
    if bad:
        raise PromptError(f"{what}: declared variables {bad!r} are not names (letters, digits and '_')")
    if set(declared) != found:
        problems = []
        if unused := sorted(set(declared) - found):
            problems.append(f"declared but not in the template: {', '.join(unused)}")
        if undeclared := sorted(found - set(declared)):
            problems.append(f"in the template but not declared: {', '.join(undeclared)}")
        raise PromptError(f"{what}: front matter 'variables' must list exactly the placeholders; {'; '.join(problems)}")
    return declared


@dataclass(frozen=True)
class Prompt:
    """One version of a prompt template, with the identity a span and a reviewer use.

    Build one in code (``tc.Prompt("support_refund_policy", "3", "Hello {{ name }}")``) or load a
    file with ``tc.prompt("support_refund_policy@3")``. Both use the same ``{{ name }}`` syntax
    (see ``docs/prompts.md``); a bad template is a ``PromptError`` when the ``Prompt`` is built.

    Attributes:
        name: the prompt's name (``support_refund_policy``; may contain ``/`` for sub-folders).
        version: the version the author chose (``3``, ``v3``, ``2026-11-30``).
        template: the text to render (for a file: the text after the front matter).
        source: the file it was loaded from; ``None`` when built in code.
        label: the label it was referenced through (``production``), else ``None``.
        description: front matter ``description``.
        owner: front matter ``owner``.
        model: front matter ``model`` (a hint; the surface's ``model=`` decides).
        variables: front matter ``variables`` (equal to the placeholders when given).
        drift: ``True`` when the file no longer matches its locked hash and drift was allowed to warn.
        sha256: SHA-256 of the file's bytes (``sha256sum`` reproduces it), or of the template's UTF-8
            text for a prompt built in code. Computed; pass it only when loading a file.
    """

    name: str
    version: str
    template: str
    _: KW_ONLY
    source: Path | None = None
    label: str | None = None
    description: str | None = None
    owner: str | None = None
    model: str | None = None
    variables: tuple[str, ...] | None = None
    drift: bool = False
    sha256: str = ""
    _segments: tuple[Segment, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_name(self.name)
        check_version(self.version, name=self.name)
        if self.label is not None:
            check_label(self.label, name=self.name)
        if not isinstance(self.template, str):
            raise PromptError(f"prompt {self.ref}: the template must be text, not {type(self.template).__name__}")
        segments = parse(self.template, what=f"prompt {self.ref}")
        object.__setattr__(self, "_segments", segments)
        object.__setattr__(
            self, "variables", _variables(self.variables, placeholders_of(segments), f"prompt {self.ref}")
        )
        own = text_sha256(self.template)
        if not self.sha256:
            object.__setattr__(self, "sha256", own)
        elif self.source is None and self.sha256 != own:
            raise PromptError(
                f"prompt {self.ref}: sha256 is computed from the template; leave it out for a prompt built in code"
            )

    @property
    def placeholders(self) -> frozenset[str]:
        """The names the template expects (each ``{{ name }}``)."""
        return placeholders_of(self._segments)

    def render(self, **values: object) -> str:
        """Fill every placeholder with ``str(value)``; the values are never expanded again.

        Raises:
            PromptError: a placeholder has no value, or a value has no placeholder (all are named).
        """
        text = render(self._segments, values, what=f"prompt {self.ref}")
        if _listener is not None:
            _listener(self, text)
        return text

    @property
    def ref(self) -> str:
        """``name@version`` (the version, also when referenced through a label)."""
        return f"{self.name}@{self.version}"
