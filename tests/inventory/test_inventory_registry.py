"""The live registry: where each surface was declared, and re-registration rules."""

from __future__ import annotations

import inspect

import pytest

import toolchain_sdk as tc
from toolchain_sdk.errors import ConfigError
from toolchain_sdk.inventory import SurfaceSpec, get_surface, register


def test_a_decorated_function_records_its_file_line_and_qualified_name() -> None:
    """The spec says which file and decorator line declared it, and the function's qualified name."""

    class Desk:
        @tc.governed_call("reg.method", owner="o")
        def reply(self) -> str:
            return "x"

    spec = get_surface("reg.method")
    assert spec is not None
    assert spec.file == __file__
    _, start = inspect.getsourcelines(Desk)
    assert spec.line == start + 1  # the decorator's line
    assert spec.function == "test_a_decorated_function_records_its_file_line_and_qualified_name.<locals>.Desk.reply"


def test_a_block_records_the_with_line_and_its_enclosing_function() -> None:
    """A governed() block's spec names the with statement's line and the function around it."""
    line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
    with tc.governed("reg.block", owner="o"):
        pass
    spec = get_surface("reg.block")
    assert spec is not None and (spec.file, spec.line) == (__file__, line)
    assert spec.function == "test_a_block_records_the_with_line_and_its_enclosing_function"


def test_the_same_surface_from_two_places_with_the_same_settings_is_fine() -> None:
    """Where a surface is declared is not one of its settings; a different owner still is."""
    first = register(SurfaceSpec(surface="reg.twice", owner="o", file="a.py", line=1, function="f"))
    assert register(SurfaceSpec(surface="reg.twice", owner="o", file="b.py", line=9, function="g")) is first
    with pytest.raises(ConfigError, match="already registered"):
        register(SurfaceSpec(surface="reg.twice", owner="other"))
