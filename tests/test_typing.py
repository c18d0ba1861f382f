"""Type checkers keep the decorated function's signature (ParamSpec) and accept an omitted `call`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import toolchain_sdk as tc

SNIPPET = """
import toolchain_sdk as tc

@tc.governed_call("typing.surface")
def reply(ticket: str, *, urgent: bool = False, call: tc.GovernedCall = tc.INJECTED) -> str:
    return ticket

ok: str = reply("T-1", urgent=True)
bad_arg = reply(123)
bad_result: int = reply("T-2")
"""


def test_mypy_sees_the_original_signature(tmp_path: Path) -> None:
    """mypy accepts the right call and flags a wrong argument type and a wrong result type."""
    f = tmp_path / "usage.py"
    f.write_text(SNIPPET)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(f)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [ln for ln in proc.stdout.splitlines() if ": error:" in ln]
    assert [int(ln.split(":")[1]) for ln in errors] == [9, 10], proc.stdout


def test_injected_default_is_replaced() -> None:
    """A `call` defaulting to tc.INJECTED receives the real handle."""

    @tc.governed_call("typing.injected")
    def f(*, call: tc.GovernedCall = tc.INJECTED) -> tc.GovernedCall:
        return call

    got = f()
    assert got is not tc.INJECTED and isinstance(got, tc.GovernedCall)
    assert got.surface == "typing.injected"
