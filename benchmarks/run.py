#!/usr/bin/env python3
"""Run the benchmarks and resilience scripts and (re)write ``docs/performance.md``.

    .venv/bin/python benchmarks/run.py                 # everything (a few minutes)
    .venv/bin/python benchmarks/run.py --setup         # first create the peer venv (bench extra)
    .venv/bin/python benchmarks/run.py --only overhead,scaling   # re-measure some sections

Every measurement runs in a subprocess of one interpreter: the peer venv
(``~/.cache/toolchain_sdk/bench-venv``, toolchain_sdk installed editable with the ``bench``
extra, or ``$TOOLCHAIN_BENCH_PYTHON``) when it exists, so the peers and we run on the same
OpenTelemetry; else this interpreter, and the peers are skipped. Results of every section are
kept in ``benchmarks/results.json``; ``--only`` re-measures some and re-renders the page from
all of them. The page's "Kill-switch flag check" section belongs to ``bench_flags.py`` and is
carried over as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results.json"
DOC = ROOT / "docs" / "performance.md"
TEMPLATE = HERE / "performance.template.md"
BENCH_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "toolchain_sdk" / "bench-venv"
KILL_SECTION = "## Kill-switch flag check"

SECTIONS = ("overhead", "scaling", "resilience", "scan", "audit")

OVERHEAD_WORKERS: dict[str, tuple[str, str]] = {
    "core": ("bench_overhead.py", "core"),
    "hmac": ("bench_overhead.py", "hmac"),
    "off": ("bench_overhead.py", "off"),
    "kill_env": ("bench_overhead.py", "kill_env"),
    "kill_file": ("bench_overhead.py", "kill_file"),
    "langfuse": ("bench_peers.py", "langfuse"),
    "traceloop": ("bench_peers.py", "traceloop"),
    "logfire": ("bench_peers.py", "logfire"),
    "mlflow": ("bench_peers.py", "mlflow"),
}
PEER_MODULES = {"langfuse": "langfuse", "traceloop": "traceloop.sdk", "logfire": "logfire", "mlflow": "mlflow"}

RESILIENCE_SCRIPTS = {
    "dead_collector": ["resilience_dead_collector.py"],
    "slow_exporter": ["resilience_slow_exporter.py"],
    "fork": ["resilience_fork.py"],
    "collector_restart": ["resilience_collector_restart.py"],
}


def bench_python() -> str:
    """The interpreter every measurement runs in (see the module docstring)."""
    explicit = os.environ.get("TOOLCHAIN_BENCH_PYTHON")
    if explicit:
        return explicit
    candidate = BENCH_VENV / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def setup_venv() -> None:
    """Create the peer venv and install toolchain_sdk editable with the ``bench`` extra."""
    import venv

    if not (BENCH_VENV / "bin" / "python").exists():
        venv.create(BENCH_VENV, with_pip=True)
    pip = [str(BENCH_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[bench]"], check=True)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without OTEL_*/TOOLCHAIN_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOOLCHAIN_"))}
    env.update(DO_NOT_TRACK="1", PYTHONUNBUFFERED="1", **extra)
    return env


def has_module(python: str, module: str) -> bool:
    probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True, env=clean_env(), timeout=120)
    return probe.returncode == 0


# --- overhead: round-robin over persistent workers ---------------------------------------------
class WorkerProc:
    """One benchmark worker subprocess (see ``_harness.serve``)."""

    def __init__(self, python: str, script: str, factory: str, cwd: Path, log: Path) -> None:
        self.name = factory
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [python, str(HERE / script), factory],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=cwd,
            env=clean_env(),
        )
        hello = self._read()
        self.cases: list[str] = hello["ready"]
        self.info: dict[str, Any] = hello["info"]

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} died; see its log {self._log.name}")
        return dict(json.loads(line))

    def _send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def time(self, case: str, calls: int) -> float:
        """CPU seconds of the worker process for ``calls`` calls of ``case`` (wall time in ``last_wall``)."""
        self._send(f"{case} {calls}")
        answer = self._read()
        self.last_wall = float(answer["wall"])
        return float(answer["seconds"])

    def facts(self) -> dict[str, Any]:
        self._send("info")
        return self._read()

    def close(self) -> None:
        try:
            self._send("quit")
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()
        self._log.close()


def measure_overhead(python: str, rounds: int, chunk_s: float, work: Path) -> dict[str, Any]:
    """Median µs/call of every case over ``rounds`` interleaved rounds, and per-round ratios."""
    names = [n for n in OVERHEAD_WORKERS if n not in PEER_MODULES or has_module(python, PEER_MODULES[n])]
    workers: dict[str, WorkerProc] = {}
    for name in names:
        script, factory = OVERHEAD_WORKERS[name]
        cwd = work / name
        cwd.mkdir(parents=True, exist_ok=True)
        print(f"  starting worker {name}", flush=True)
        workers[name] = WorkerProc(python, script, factory, cwd, work / f"{name}.log")
    plan = [(w, case) for w in workers.values() for case in w.cases]
    calls: dict[str, int] = {}
    for worker, case in plan:  # warm-up + calibration: each timed chunk lasts about chunk_s
        worker.time(case, 200)
        per_call = worker.time(case, 1000) / 1000
        calls[case] = max(200, int(chunk_s / max(per_call, 1e-8)))
    samples: dict[str, list[float]] = {case: [] for _, case in plan}
    wall: dict[str, list[float]] = {case: [] for _, case in plan}
    rng = random.Random(5)
    for r in range(rounds):
        order = plan[:]
        rng.shuffle(order)
        for worker, case in order:
            samples[case].append(worker.time(case, calls[case]) / calls[case] * 1e6)
            wall[case].append(worker.last_wall / calls[case] * 1e6)
        print(f"  round {r + 1}/{rounds} done", flush=True)
    facts = {name: w.facts() for name, w in workers.items()}
    for w in workers.values():
        w.close()
    return {
        "python": subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
        ).stdout.strip(),
        "otel": _otel_version(python),
        "rounds": rounds,
        "calls": calls,
        "samples_us": samples,
        "wall_us": wall,
        "facts": facts,
    }


def _otel_version(python: str) -> str:
    code = "import importlib.metadata as m; print(m.version('opentelemetry-sdk'))"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


# --- scaling and resilience: scripts that print one JSON line last ------------------------------
def run_script(python: str, args: list[str], work: Path, timeout: float = 600) -> dict[str, Any]:
    """Run ``benchmarks/<args[0]>`` and return the JSON object on its last stdout line."""
    started = time.perf_counter()
    proc = subprocess.run(
        [python, str(HERE / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        cwd=work,
        env=clean_env(),
        timeout=timeout,
    )
    (work / f"{Path(args[0]).stem}.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-800:]}"}
    result = dict(json.loads(lines[-1]))
    result["script_seconds"] = round(time.perf_counter() - started, 1)
    return result


def measure_scaling(python: str, work: Path) -> dict[str, Any]:
    return run_script(python, ["bench_scaling.py"], work)


def measure_resilience(python: str, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, args in RESILIENCE_SCRIPTS.items():
        print(f"  {name}", flush=True)
        results[name] = run_script(python, args, work)
    return results


# --- rendering -----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", action="store_true", help="create/refresh the peer venv first")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per overhead case")
    parser.add_argument("--chunk", type=float, default=0.12, help="seconds per timed chunk")
    parser.add_argument("--render-only", action="store_true", help="re-render the page from results.json")
    args = parser.parse_args(argv)
    if args.setup:
        setup_venv()
    python = bench_python()
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not args.render_only:
        wanted = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = set(wanted) - set(SECTIONS)
        if unknown:
            parser.error(f"unknown sections {sorted(unknown)}")
        steps: dict[str, Callable[[Path], dict[str, Any]]] = {
            "overhead": lambda w: measure_overhead(python, args.rounds, args.chunk, w),
            "scaling": lambda w: measure_scaling(python, w),
            "resilience": lambda w: measure_resilience(python, w),
            "scan": lambda w: run_script(python, ["bench_scan.py"], w),
            "audit": lambda w: run_script(python, ["bench_audit.py"], w),
        }
        with tempfile.TemporaryDirectory(prefix="toolchain-bench-") as tmp:
            for section in wanted:
                print(f"{section} (interpreter {python})", flush=True)
                started = time.perf_counter()
                work = Path(tmp) / section
                work.mkdir()
                results[section] = steps[section](work)
                results[section]["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
                results[section]["seconds"] = round(time.perf_counter() - started, 1)
                RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    results["machine"] = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"
    from render import render_page

    DOC.write_text(render_page(results, TEMPLATE.read_text(), DOC.read_text() if DOC.exists() else ""))
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    raise SystemExit(main())
