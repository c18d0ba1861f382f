"""Fork safety: spans from children made with os.fork() and multiprocessing after configure() export.

One process configures the SDK with the OTLP-JSON file exporter (batched), makes calls, then
forks four multiprocessing processes (fork start method) and one ``os.fork()`` child, each making
calls of its own; every process records its pid on its spans. After all exit, the file is read
back and the spans counted per process. Prints one JSON object (last stdout line) for ``run.py``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CALLS = 1000
WORKERS = 4


def scenario(path: str) -> None:
    import toolchain_sdk as tc

    tc.configure(service_name="fork-safety", exporter="file", traces_file=path)

    @tc.governed_call("resilience.fork", owner="bench", model="gpt-4o-mini", provider="openai")
    def answer(i: int, *, call: tc.GovernedCall = tc.INJECTED) -> int:
        call.set_attribute("process.pid", os.getpid())
        return i

    def work(_: int) -> int:
        return sum(answer(i) for i in range(CALLS))

    work(0)
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=work, args=(n,)) for n in range(WORKERS)]
    for child in children:
        child.start()
    for child in children:
        child.join()
        assert child.exitcode == 0, child.exitcode
    pid = os.fork()
    if pid == 0:
        work(0)
        sys.exit(0)
    os.waitpid(pid, 0)
    work(0)


def main() -> None:
    path = Path(tempfile.mkdtemp(prefix="fork-")) / "traces.jsonl"
    proc = subprocess.run(
        [sys.executable, __file__, "--scenario", str(path)], capture_output=True, text=True, timeout=300
    )
    per_pid: dict[str, int] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    for line in lines:
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    attrs = {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}
                    pid = str(attrs.get("process.pid"))
                    per_pid[pid] = per_pid.get(pid, 0) + 1
    expected = (2 + WORKERS + 1) * CALLS
    print(
        json.dumps(
            {
                "returncode": proc.returncode,
                "processes": len(per_pid),
                "spans": sum(per_pid.values()),
                "expected": expected,
                "per_process": sorted(per_pid.values()),
                "file_lines": len(lines),
                "stderr": proc.stderr[-500:],
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--scenario":
        scenario(sys.argv[2])
    else:
        main()
