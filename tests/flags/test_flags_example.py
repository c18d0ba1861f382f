"""examples/kill_switch.py runs and shows the switch engaging and releasing."""

from __future__ import annotations

import os
import subprocess
import sys

from tests._subproc import ROOT


def test_kill_switch_example_runs() -> None:
    """The demo switches a running surface off with the real CLI, shows the span, and restores it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLCHAIN_", "OTEL_"))}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "kill_switch.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "[model] Hi Ada" in out
    assert "Dear Ada, we received refund request R-1042" in out
    assert "toolchain.kill_switch.active = True" in out
    assert "toolchain.outcome = fallback" in out
    assert "toolchain.kill_switch.rule = support.*" in out
    assert "kill_switch.engaged" in out
    assert out.rstrip().splitlines()[-2].split()[1] == "kill"
    assert out.rstrip().splitlines()[-1].split()[1] == "restore"
