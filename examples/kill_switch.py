"""Kill switch demo: a running service, `toolchain kill` from another process, the fallback answers.

Run it: ``.venv/bin/python examples/kill_switch.py``. It uses a throw-away flag file (through
``TOOLCHAIN_FLAGS_FILE``) and a stand-in model (no network), and prints what an operator sees.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import toolchain_sdk as tc
from toolchain_sdk.testing import SpanRecorder


@dataclass
class Ticket:
    id: str
    customer: str
    body: str


@tc.governed_call(
    "support.refund_reply",
    owner="support-platform",
    model="stand-in-model",
    provider="example",
    risk="medium",
    fallback=tc.fallbacks.template(
        "Dear {ticket.customer}, we received refund request {ticket.id}; a person will reply within 2 days."
    ),
)
def draft_refund_reply(ticket: Ticket) -> str:
    """The "model" (a stand-in: this demo makes no network calls)."""
    return f"[model] Hi {ticket.customer}! Refund for {ticket.id} approved, here is 200% back."


def toolchain(*args: str) -> None:
    """Run the operator CLI in its own process, as a flag owner would from a shell."""
    proc = subprocess.run([sys.executable, "-m", "toolchain_sdk", *args], capture_output=True, text=True, check=True)
    print("   $ toolchain " + " ".join(args))
    for line in proc.stdout.splitlines():
        print("     " + line)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until the running process has picked the change up (it does within about a second)."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="toolchain-kill-demo-"))
    os.environ["TOOLCHAIN_FLAGS_FILE"] = str(workdir / "flags.json")
    try:
        demo()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def demo() -> None:
    recorder = SpanRecorder.install(service_name="kill-switch-demo")
    ticket = Ticket("R-1042", "Ada", "I want my money back")

    print("1. Normal operation:")
    print("   " + draft_refund_reply(ticket))

    print("2. The flag owner switches the surface off from a shell:")
    toolchain("kill", "support.*", "--reason", "model promises impossible refunds (INC-7)", "--by", "alice")
    wait_until(lambda: draft_refund_reply(ticket).startswith("Dear"))
    print("   " + draft_refund_reply(ticket))

    span = recorder.spans("support.refund_reply")[-1]
    print("3. What the trace says:")
    for key in (
        "toolchain.kill_switch.active",
        "toolchain.outcome",
        "toolchain.fallback.handler",
        "toolchain.kill_switch.rule",
        "feature_flag.key",
        "feature_flag.provider.name",
        "feature_flag.result.reason",
    ):
        print(f"   {key} = {(span.attributes or {}).get(key)}")
    print(f"   events: {[e.name for e in span.events]}")

    print("4. Restored:")
    toolchain("restore", "support.*", "--reason", "prompt fixed, evals green", "--by", "alice")
    wait_until(lambda: draft_refund_reply(ticket).startswith("[model]"))
    print("   " + draft_refund_reply(ticket))
    toolchain("flags", "--history")


if __name__ == "__main__":
    main()
