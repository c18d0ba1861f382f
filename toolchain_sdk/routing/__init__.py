"""Model routes from ``toolchain.toml``: retries with back-off, fallback targets, and exposure rules.

A surface declared with ``route="answers"`` calls the models of ``[routes.answers]`` in order:

- ``load_config`` finds and validates the file (``configure(config=PATH)``, ``TOOLCHAIN_CONFIG``,
  ``./toolchain.toml``, ``[tool.toolchain]`` in ``./pyproject.toml``); ``get_route`` picks a route;
- ``run_sync`` / ``run_async`` / ``run_generator`` / ``run_async_generator`` call the function once
  per attempt, retrying a target on the errors the route names (tenacity, with back-off), then
  moving to the next target; a ``RouteState`` says which target is being tried and reports
  ``route.retry`` / ``route.fallback`` events;
- ``check_exposure`` refuses, at decoration time, a surface whose data class may not reach one of
  its targets.

``docs/routing.md`` describes the file, the semantics and the span attributes.
"""

from toolchain_sdk.routing._current import current_config, loaded_config, use_config
from toolchain_sdk.routing._exposure import DATA_CLASSES, DEFAULT_DATA_CLASS, check_exposure, rule_allows
from toolchain_sdk.routing._file import TOOLCHAIN_CONFIG, get_route, load_config, parse_config, read_config
from toolchain_sdk.routing._match import error_matches, retryable
from toolchain_sdk.routing._model import DEFAULT_RETRY_ON, Backoff, PromptsTable, Route, Target, ToolchainConfig
from toolchain_sdk.routing._runner import run_async, run_async_generator, run_generator, run_sync
from toolchain_sdk.routing._state import AttemptHook, EventHook, RouteState

__all__ = [
    "AttemptHook",
    "Backoff",
    "DATA_CLASSES",
    "DEFAULT_DATA_CLASS",
    "DEFAULT_RETRY_ON",
    "EventHook",
    "PromptsTable",
    "Route",
    "RouteState",
    "TOOLCHAIN_CONFIG",
    "Target",
    "ToolchainConfig",
    "check_exposure",
    "current_config",
    "error_matches",
    "get_route",
    "load_config",
    "loaded_config",
    "parse_config",
    "read_config",
    "retryable",
    "rule_allows",
    "run_async",
    "run_async_generator",
    "run_generator",
    "run_sync",
    "use_config",
]
