"""toolchain_sdk: put model-mediated work under change control with one decorator.

``@governed_call`` makes every model call traced (OpenTelemetry), hashed, inventoried and — as
the controls land — gated, switchable and recorded. See ``docs/getting-started.md``.
"""

from toolchain_sdk import approval, audit, fallbacks, flags, prompts, redaction, routing
from toolchain_sdk._core.call import INJECTED, GovernedCall, current_call
from toolchain_sdk._setup import configure, shutdown
from toolchain_sdk.config import Settings
from toolchain_sdk.errors import (
    ApprovalDenied,
    AuditUnavailable,
    ConfigError,
    FallbackFailed,
    KillSwitchEngaged,
    PromptDrift,
    PromptError,
    ToolchainError,
)
from toolchain_sdk.governed import governed, governed_call
from toolchain_sdk.inventory import SurfaceSpec, surfaces
from toolchain_sdk.prompts import Prompt, prompt

__all__ = [
    "ApprovalDenied",
    "AuditUnavailable",
    "ConfigError",
    "FallbackFailed",
    "GovernedCall",
    "INJECTED",
    "KillSwitchEngaged",
    "Prompt",
    "PromptDrift",
    "PromptError",
    "Settings",
    "SurfaceSpec",
    "ToolchainError",
    "approval",
    "audit",
    "configure",
    "current_call",
    "fallbacks",
    "flags",
    "governed",
    "governed_call",
    "prompt",
    "prompts",
    "redaction",
    "routing",
    "shutdown",
    "surfaces",
]


def __getattr__(name: str) -> str:
    """``toolchain_sdk.__version__``, read from the package metadata on first use (importing reads no file)."""
    if name == "__version__":
        from toolchain_sdk._version import version

        return version()
    raise AttributeError(f"module 'toolchain_sdk' has no attribute {name!r}")
