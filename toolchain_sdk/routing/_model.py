"""The tables of ``toolchain.toml`` as pydantic models: routes, their targets and back-off, exposure.

Every model forbids unknown keys (a typo is an error, not a silent default) and is frozen.
Numbers, booleans and names are strict (``attempts = "3"`` is an error, not 3); arrays become
tuples. ``[policy]``, ``[audit]`` and ``[flags]`` are kept as free tables for the subsystems that
own them.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

__all__ = [
    "DEFAULT_RETRY_ON",
    "Backoff",
    "PromptsTable",
    "Route",
    "Target",
    "ToolchainConfig",
]

DEFAULT_RETRY_ON: Final[tuple[str, ...]] = (
    "TimeoutError",
    "ConnectionError",
    "asyncio.TimeoutError",
    "httpx.TimeoutException",
    "httpx.NetworkError",
    "RateLimitError",
    "APITimeoutError",
    "APIConnectionError",
    "InternalServerError",
    "ServiceUnavailableError",
    "OverloadedError",
)
"""What a route retries when it does not say ``retry_on``: timeouts, dropped connections, and the
model vendors' rate-limit and server-side (5xx) errors, by bare class name so no vendor library
is imported to check them (openai's and anthropic's ``RateLimitError``, ``APITimeoutError``,
``APIConnectionError``, ``InternalServerError`` — their 5xx base —, anthropic's
``ServiceUnavailableError`` and ``OverloadedError`` (529))."""

_ERROR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_ROUTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
_FROZEN = ConfigDict(frozen=True, extra="forbid")

StrictFloat = Annotated[float, Field(strict=True)]


def _error_name(name: str) -> str:
    if not _ERROR_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not an exception class name; write a bare or dotted name such as "
            "'TimeoutError' or 'openai.RateLimitError'"
        )
    return name


def _exposure_rule(rule: str) -> str:
    provider, sep, model = rule.partition(":")
    if not provider or (sep and not model) or rule != rule.strip():
        raise ValueError(
            f"{rule!r} is not an exposure rule; write 'PROVIDER' or 'PROVIDER:MODEL', each a name or a glob "
            "(e.g. 'azure-openai', 'anthropic:claude-*', '*')"
        )
    return rule


ErrorName = Annotated[StrictStr, AfterValidator(_error_name)]
ExposureRule = Annotated[StrictStr, AfterValidator(_exposure_rule)]
NonEmpty = Annotated[StrictStr, Field(min_length=1)]


class Backoff(BaseModel):
    """How long to wait between two attempts on the same target: exponential, capped, optionally jittered.

    The n-th retry of a target waits ``initial_s * multiplier ** (n - 1)`` seconds, at most
    ``max_s``; with ``jitter`` (the default) a uniformly random part of that ("full jitter"), so
    many processes that failed together do not retry together. Moving to the next target does not
    wait.
    """

    model_config = _FROZEN

    initial_s: StrictFloat = Field(default=0.5, ge=0)
    max_s: StrictFloat = Field(default=8.0, ge=0)
    multiplier: StrictFloat = Field(default=2.0, ge=1)
    jitter: StrictBool = True

    @model_validator(mode="after")
    def _cap_not_below_start(self) -> Backoff:
        if self.max_s < self.initial_s:
            raise ValueError(f"max_s ({self.max_s}) must be at least initial_s ({self.initial_s})")
        return self


class Target(BaseModel):
    """One model a route may call: provider, pinned model name, attempts, and request parameters.

    ``params`` (e.g. ``temperature``) are handed to the function through the call handle; the
    SDK does not interpret them.
    """

    model_config = _FROZEN

    provider: NonEmpty
    model: NonEmpty
    attempts: StrictInt = Field(default=1, ge=1)
    params: dict[str, object] = Field(default_factory=dict)

    def describe(self) -> str:
        """``provider:model``, the form exposure rules and messages use."""
        return f"{self.provider}:{self.model}"


class Route(BaseModel):
    """A named, ordered list of targets with the errors worth retrying and the back-off between retries.

    Attributes:
        name: the table name (``[routes.NAME]``); surfaces refer to it with ``route="NAME"``.
        retry_on: exception class names (bare or dotted) that retry a target, then move on.
        backoff: the wait between attempts on the same target.
        targets: the models, the first one primary.
    """

    model_config = _FROZEN

    name: StrictStr
    retry_on: tuple[ErrorName, ...] = DEFAULT_RETRY_ON
    backoff: Backoff = Field(default_factory=Backoff)
    targets: tuple[Target, ...]

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not _ROUTE_NAME.fullmatch(name):
            raise ValueError(f"route name {name!r} must be letters, digits, '_', '.', ':' or '-'")
        return name

    @field_validator("targets")
    @classmethod
    def _some_target(cls, targets: tuple[Target, ...]) -> tuple[Target, ...]:
        # not Field(min_length=1): pydantic would also report a list whose only target is invalid as empty
        if not targets:
            raise ValueError("a route needs at least one target ([[routes.NAME.targets]] with provider and model)")
        return targets


class PromptsTable(BaseModel):
    """``[prompts]``: defaults for prompt files (``dir``: where they live, relative to the working directory)."""

    model_config = _FROZEN

    dir: StrictStr | None = None


class ToolchainConfig(BaseModel):
    """The whole ``toolchain.toml`` (or ``[tool.toolchain]`` of ``pyproject.toml``), validated.

    Attributes:
        routes: the routes by name.
        exposure: data class → the provider rules it may reach; ``None`` when the file has no
            ``[exposure]`` table (then no exposure check is made).
        policy, audit, flags: free tables kept for the subsystems that own them.
        prompts: ``[prompts]`` defaults.
        source: where the configuration was read (``toolchain.toml``, a path, or ``pyproject.toml``).
    """

    model_config = _FROZEN

    routes: dict[str, Route] = Field(default_factory=dict)
    exposure: dict[str, tuple[ExposureRule, ...]] | None = None
    policy: dict[str, object] = Field(default_factory=dict)
    prompts: PromptsTable = Field(default_factory=PromptsTable)
    audit: dict[str, object] = Field(default_factory=dict)
    flags: dict[str, object] = Field(default_factory=dict)

    _source: str = PrivateAttr(default="toolchain.toml")
    _prefix: str = PrivateAttr(default="")

    @field_validator("routes", mode="before")
    @classmethod
    def _name_routes(cls, routes: object) -> object:
        """Give each route its table name (``[routes.answers]`` → ``name="answers"``)."""
        if not isinstance(routes, dict):
            return routes
        named: dict[object, object] = {}
        for key, table in routes.items():
            if isinstance(table, dict) and "name" in table:
                raise ValueError(f"[routes.{key}] takes its name from the table header: remove its 'name' key")
            named[key] = {**table, "name": key} if isinstance(table, dict) else table
        return named

    @property
    def source(self) -> str:
        """Where this configuration was read (for messages)."""
        return self._source

    def table(self, path: str) -> str:
        """How a table is written in this file: ``[exposure]``, or ``[tool.toolchain.exposure]`` in pyproject.toml."""
        return f"[{self._prefix}{path}]"
