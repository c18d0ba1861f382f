"""Dead collector: 200,000 governed calls exporting OTLP/HTTP to a closed port on 127.0.0.1.

The parent starts a child process that configures the SDK the ordinary way (OTLP http/protobuf,
endpoint a closed loopback port, default timeouts and exit flush), makes the calls while timing
each one, and prints what it saw; the parent measures how long the child took to exit after its
last call. Prints one JSON object (last stdout line) for ``run.py``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from array import array

CALLS = 200_000


def _rss_kb() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def child(port: int) -> None:
    import logging

    import toolchain_sdk as tc
    from toolchain_sdk import tracing

    logging.basicConfig(level=logging.WARNING)
    tc.configure(service_name="dead-collector", endpoint=f"http://127.0.0.1:{port}", protocol="http/protobuf")

    @tc.governed_call("resilience.dead_collector", owner="bench", model="gpt-4o-mini", provider="openai")
    def answer(question: str) -> str:
        return "Answer: " + question

    durations = array("d", bytes(8 * CALLS))  # allocated before the first RSS reading
    for i in range(2000):  # warm up (imports, caches) before the first RSS reading
        answer(str(i))
    rss_before = _rss_kb()
    errors = 0
    clock = time.perf_counter
    started = clock()
    for i in range(CALLS):
        t0 = clock()
        try:
            answer(str(i))
        except Exception:
            errors += 1
        durations[i] = clock() - t0
    elapsed = clock() - started
    rss_after = _rss_kb()
    durations = array("d", sorted(durations))

    def pct(p: float) -> float:
        return durations[min(len(durations) - 1, int(p * len(durations)))] * 1e6

    result = {
        "calls": CALLS,
        "errors": errors,
        "elapsed_s": elapsed,
        "p50_us": pct(0.5),
        "p99_us": pct(0.99),
        "p999_us": pct(0.999),
        "max_us": durations[-1] * 1e6,
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_after,
        "dropped_before_exit": tracing.dropped_spans(),
        "exit_flush_s": tc.config.current_settings().exit_flush_s,
    }
    print(json.dumps(result), flush=True)
    # no shutdown call: the process exits as an application would; the bounded exit flush runs


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()
    last_call_done = time.perf_counter()
    _, err = proc.communicate(timeout=120)
    exit_s = time.perf_counter() - last_call_done
    result = json.loads(line)
    result.update(
        {
            "returncode": proc.returncode,
            "exit_after_last_call_s": exit_s,
            "warnings": [ln for ln in err.splitlines() if "toolchain_sdk" in ln][:5],
            "otlp_timeout_s": 10,
        }
    )
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(int(sys.argv[2]))
    else:
        main()
