"""Exposure rules: which providers (and models) each class of data may reach.

``[exposure]`` maps a data class to rules, each ``PROVIDER`` or ``PROVIDER:MODEL``, both names or
globs (``fnmatch``, case-sensitive; the model part is everything after the first ``:`` so model
ids that contain ``:`` work)::

    [exposure]
    pii = ["azure-openai", "anthropic:claude-*"]
    public = ["*"]

With an ``[exposure]`` table, a class it does not list reaches nothing (default deny). A surface
that declares no ``data_class`` handles ``internal`` data. Without the table nothing is checked,
but the class must still be one of the four built-in names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from typing import Final

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.routing._model import ToolchainConfig

__all__ = ["DATA_CLASSES", "DEFAULT_DATA_CLASS", "check_exposure", "rule_allows"]

DATA_CLASSES: Final = ("pii", "confidential", "internal", "public")
"""The data classes every configuration knows; ``[exposure]`` may define more."""
DEFAULT_DATA_CLASS: Final = "internal"
"""The class of a surface that declares no ``data_class``."""


def rule_allows(rule: str, provider: str | None, model: str | None) -> bool:
    """Whether one exposure rule (``PROVIDER`` or ``PROVIDER:MODEL``, globs allowed) allows ``provider``/``model``.

    An unknown provider or model (``None``) is matched as the empty string: only ``*`` allows it.
    """
    provider_glob, sep, model_glob = rule.partition(":")
    if not fnmatchcase(provider or "", provider_glob):
        return False
    return not sep or fnmatchcase(model or "", model_glob)


def _describe(provider: str | None, model: str | None) -> str:
    if provider is None:
        return f"an undeclared provider (model {model!r})" if model else "an undeclared provider and model"
    return f"{provider}:{model}" if model else f"{provider} (no model declared)"


def check_exposure(
    config: ToolchainConfig | None,
    surface: str,
    data_class: str | None,
    targets: Sequence[tuple[str | None, str | None]],
) -> list[str]:
    """Check that a surface's data may reach each of its targets; return the rules that apply.

    Args:
        config: the loaded configuration (``None``: no file, so no ``[exposure]`` table).
        surface: the surface name (for messages).
        data_class: the surface's ``data_class``; ``None`` means ``internal``.
        targets: ``(provider, model)`` pairs the surface may call: its declared pair, or every
            target of its route. An empty sequence is checked as one undeclared target.

    Returns:
        The rules of the class (``[exposure].CLASS``) to put on the record, in file order; ``[]``
        when there is no ``[exposure]`` table.

    Raises:
        ConfigError: the class is unknown, is not listed in ``[exposure]`` (default deny), or does
            not allow a target; the message names the surface, the class, the targets and the rules.
    """
    cls = data_class if data_class is not None else DEFAULT_DATA_CLASS
    exposure = config.exposure if config is not None else None
    if exposure is None:
        if cls not in DATA_CLASSES:
            where = f"{config.source} has no [exposure] table" if config is not None else "no toolchain.toml was found"
            raise ConfigError(
                f"{surface}: unknown data_class {cls!r}: use one of {', '.join(DATA_CLASSES)}, or define it in "
                f"[exposure] ({where})"
            )
        return []
    table = config.table("exposure") if config is not None else "[exposure]"
    source = config.source if config is not None else "toolchain.toml"
    if cls not in exposure:
        listed = ", ".join(exposure) or "none"
        raise ConfigError(
            f"{surface}: data_class {cls!r} is not listed in {table} of {source} (listed: {listed}); a class not "
            f'listed may reach no provider. Add `{cls} = ["PROVIDER", ...]` to {table} once that exposure is approved'
            + (" (a surface without data_class is 'internal')" if data_class is None else "")
        )
    rules = list(exposure[cls])
    pairs: Iterable[tuple[str | None, str | None]] = targets or [(None, None)]
    denied = [_describe(p, m) for p, m in pairs if not any(rule_allows(r, p, m) for r in rules)]
    if denied:
        allowed = ", ".join(json.dumps(r) for r in rules)
        raise ConfigError(
            f"{surface}: data_class {cls!r} may not reach {', '.join(denied)}: {table} {cls} = [{allowed}] "
            f"in {source}. Call an allowed provider/model, or add a rule to {table} {cls} once that exposure is "
            "approved"
        )
    return rules
