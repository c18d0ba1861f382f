"""Collector restart: Arize Phoenix stopped mid-run and started again on the same port.

A thread makes governed calls at a steady 50 calls/s, exporting OTLP/HTTP to Phoenix (SDK
defaults: BatchSpanProcessor, 5 s schedule, 10 s export timeout); each span carries the phase
it was made in. Phases: ``up`` (Phoenix running), ``down`` (stopped), ``restarting`` (started,
not yet healthy), ``back`` (healthy again). After a bounded flush the spans are read back
through Phoenix's REST API and counted per phase, next to ``tracing.dropped_spans()`` and the
warnings the SDK logged. Phoenix binary: ``$TOOLCHAIN_PHOENIX_BIN`` or
``~/.cache/toolchain_sdk/phoenix-venv/bin/phoenix``. Prints one JSON object (last stdout line).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

RATE = 50  # calls per second
PHASES = {"up": 8.0, "down": 15.0, "back": 12.0}  # seconds ("restarting" lasts as long as Phoenix needs)
PROJECT = "collector-restart"
DEFAULT_BIN = Path.home() / ".cache" / "toolchain_sdk" / "phoenix-venv" / "bin" / "phoenix"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Phoenix:
    """`phoenix serve` on fixed loopback ports and a fixed working dir, startable again."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.http_port, self.grpc_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.workdir = Path(tempfile.mkdtemp(prefix="phoenix-restart-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(
            os.environ,
            PHOENIX_HOST="127.0.0.1",
            PHOENIX_PORT=str(self.http_port),
            PHOENIX_GRPC_PORT=str(self.grpc_port),
            PHOENIX_WORKING_DIR=str(self.workdir),
            PHOENIX_TELEMETRY_ENABLED="false",
            PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
            PHOENIX_DISABLE_AGENT_ASSISTANT="true",
            PHOENIX_AGENTS_DISABLE_BASH="true",
            PHOENIX_ALLOWED_SANDBOX_PROVIDERS="NONE",
            DO_NOT_TRACK="1",
        )
        log = (self.workdir / "phoenix.log").open("a")
        self.proc = subprocess.Popen([str(self.binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_healthy(self, limit_s: float = 180) -> None:
        end = time.monotonic() + limit_s
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            assert self.proc is not None
            if self.proc.poll() is not None:
                break
            time.sleep(0.25)
        raise RuntimeError(f"Phoenix did not start: {(self.workdir / 'phoenix.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def spans(self) -> list[dict[str, Any]]:
        """Every span of the project, through the REST API's pages."""
        found: list[dict[str, Any]] = []
        cursor = ""
        while True:
            url = f"{self.base}/v1/projects/{PROJECT}/spans?limit=1000" + (f"&cursor={cursor}" if cursor else "")
            with urllib.request.urlopen(url, timeout=30) as resp:
                page = json.loads(resp.read())
            found.extend(page["data"])
            cursor = page.get("next_cursor") or ""
            if not cursor:
                return found


class Caller(threading.Thread):
    """Makes governed calls at RATE per second, each tagged with the current phase."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import toolchain_sdk as tc

        self.phase = "up"
        self.made: dict[str, int] = {}
        self.errors = 0
        self.worst_s = 0.0
        self.stop_event = threading.Event()

        @tc.governed_call("resilience.restart", owner="bench", model="gpt-4o-mini", provider="openai")
        def answer(i: int, *, call: tc.GovernedCall = tc.INJECTED) -> int:
            call.set_attribute("bench.phase", self.phase)
            return i

        self.answer = answer

    def run(self) -> None:
        i = 0
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            phase = self.phase
            t0 = time.perf_counter()
            try:
                self.answer(i)
            except Exception:
                self.errors += 1
            self.worst_s = max(self.worst_s, time.perf_counter() - t0)
            self.made[phase] = self.made.get(phase, 0) + 1
            i += 1
            next_at += 1 / RATE
            time.sleep(max(0.0, next_at - time.monotonic()))


def _settled_counts(phoenix: Phoenix, expected: int, limit_s: float = 90) -> dict[str, int]:
    """Spans per phase once Phoenix has ingested ``expected`` spans or the count stopped moving for 10 s."""
    end = time.monotonic() + limit_s
    last, still_since = -1, time.monotonic()
    while True:
        arrived: dict[str, int] = {}
        for span in phoenix.spans():
            phase = str(span.get("attributes", {}).get("bench.phase"))
            arrived[phase] = arrived.get(phase, 0) + 1
        total = sum(arrived.values())
        now = time.monotonic()
        if total != last:
            last, still_since = total, now
        if total >= expected or now - still_since > 10 or now > end:
            return arrived
        time.sleep(1)


def main() -> None:
    binary = Path(os.environ.get("TOOLCHAIN_PHOENIX_BIN", DEFAULT_BIN))
    if not binary.exists():
        print(json.dumps({"skipped": f"no Phoenix binary at {binary}"}))
        return
    warnings: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    logging.getLogger("toolchain_sdk").addHandler(Keep(logging.WARNING))
    phoenix = Phoenix(binary)
    started = time.monotonic()
    timeline: dict[str, float] = {}
    try:
        phoenix.start()
        phoenix.wait_healthy()
        import toolchain_sdk as tc
        from toolchain_sdk import tracing

        tc.configure(
            service_name="collector-restart",
            endpoint=phoenix.base,
            protocol="http/protobuf",
            resource_attributes={"openinference.project.name": PROJECT},
        )
        caller = Caller()
        caller.start()
        time.sleep(PHASES["up"])
        caller.phase = "down"
        phoenix.stop()
        timeline["stopped_at_s"] = time.monotonic() - started
        time.sleep(PHASES["down"])
        caller.phase = "restarting"
        restart = time.monotonic()
        phoenix.start()
        phoenix.wait_healthy()
        timeline["restart_took_s"] = time.monotonic() - restart
        caller.phase = "back"
        time.sleep(PHASES["back"])
        caller.stop_event.set()
        caller.join()
        flushed = tracing.shutdown(timeout_s=30)
        dropped = tracing.dropped_spans()
        arrived = _settled_counts(phoenix, expected=sum(caller.made.values()) - dropped)
        result = {
            "rate_per_s": RATE,
            "made": caller.made,
            "arrived": arrived,
            "dropped_spans": dropped,
            "lost": sum(caller.made.values()) - sum(arrived.values()),
            "errors": caller.errors,
            "worst_call_ms": caller.worst_s * 1e3,
            "flushed": flushed,
            "warnings": sorted(set(warnings))[:5],
            **timeline,
        }
    finally:
        phoenix.stop()
        shutil.rmtree(phoenix.workdir, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
