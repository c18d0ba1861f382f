"""The inventory of governed surfaces: the live registry, the static scan, the control sheet, the policy gate.

Every ``@governed_call`` decoration (and each distinct ``governed(...)`` block) registers its
``SurfaceSpec``; a surface name is one place in the product, so registering it again with different
settings is a ``ConfigError``. ``control_sheet`` (``toolchain inventory``) builds the control sheet
from the code itself (``ast``, nothing imported) or from this registry (``imports=``); its
``violations`` are what ``toolchain check`` fails the build on (see ``docs/control-sheet.md`` and
``docs/policy.md``).

    from toolchain_sdk.inventory import control_sheet, render

    sheet = control_sheet(["src"])
    print(render(sheet, "text"))
"""

from typing import TYPE_CHECKING

from toolchain_sdk.inventory._registry import (
    Capture,
    Risk,
    SurfaceSpec,
    clear_registry,
    get_surface,
    register,
    surfaces,
)

if TYPE_CHECKING:  # the scanner, renderers and policy load on first use: every decoration imports this package
    from toolchain_sdk.inventory._build import control_sheet
    from toolchain_sdk.inventory._findings import ScanError, Unmanaged
    from toolchain_sdk.inventory._policy import RULES, PolicyConfig, PolicyException, Violation, load_policy
    from toolchain_sdk.inventory._render import FORMATS, render
    from toolchain_sdk.inventory._row import SurfaceRow
    from toolchain_sdk.inventory._rules import AppliedException
    from toolchain_sdk.inventory._sheet import ControlSheet
    from toolchain_sdk.inventory._values import DYNAMIC

_LAZY = {
    "control_sheet": "_build",
    "ScanError": "_findings",
    "Unmanaged": "_findings",
    "RULES": "_policy",
    "PolicyConfig": "_policy",
    "PolicyException": "_policy",
    "Violation": "_policy",
    "load_policy": "_policy",
    "FORMATS": "_render",
    "render": "_render",
    "SurfaceRow": "_row",
    "AppliedException": "_rules",
    "ControlSheet": "_sheet",
    "DYNAMIC": "_values",
}


def __getattr__(name: str) -> object:
    """The scan, control-sheet and policy names, imported when first asked for (not at ``import toolchain_sdk``)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AppliedException",
    "Capture",
    "ControlSheet",
    "DYNAMIC",
    "FORMATS",
    "PolicyConfig",
    "PolicyException",
    "RULES",
    "Risk",
    "ScanError",
    "SurfaceRow",
    "SurfaceSpec",
    "Unmanaged",
    "Violation",
    "clear_registry",
    "control_sheet",
    "get_surface",
    "load_policy",
    "register",
    "render",
    "surfaces",
]
