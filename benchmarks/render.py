# ruff: noqa: RUF001 - the page uses typographic signs (times, en dash) on purpose
"""Turn ``benchmarks/results.json`` into the tables of ``docs/performance.md``.

The page's prose lives in ``performance.template.md``; each ``{{name}}`` placeholder there is
replaced by the table or value of that name below. The "Kill-switch flag check" section of the
current page (written by ``bench_flags.py``) is carried over unchanged.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from typing import Any

__all__ = ["render_page"]

KILL_SECTION = "## Kill-switch flag check"

RATIO_TARGET = 1.3
PEER_TARGET = 1.5
OFF_TARGET_US = 3.0

ENGAGED = {"gov_sync_kill_env_on", "gov_sync_kill_file_on"}
"""Rows where the switch is on: the fallback answers and the engagement is recorded (not the baseline's work)."""

# (label, governed case, hand-written case)
FORMS = [
    ("`@governed_call` sync, capture `hash`", "gov_sync", "hand_sync"),
    ("`@governed_call` async", "gov_async", "hand_async"),
    ("`@governed_call` generator (3 chunks, hashed incrementally)", "gov_gen", "hand_gen"),
    ("`with tc.governed(...)` (context manager)", "gov_block", "hand_block"),
    ("sync with an HMAC key (`TOOLCHAIN_HASH_KEY`)", "gov_sync_hmac", "hand_sync"),
    ("sync, `TOOLCHAIN_KILL` set, this surface not in it", "gov_sync_kill_env_off", "hand_sync"),
    ("sync, `TOOLCHAIN_KILL` switches this surface off (fallback answers)", "gov_sync_kill_env_on", "hand_sync"),
    ("sync, flag file present, this surface not in it", "gov_sync_kill_file_off", "hand_sync"),
    ("sync, flag file switches this surface off (fallback answers)", "gov_sync_kill_file_on", "hand_sync"),
]
PEERS = [
    ("Langfuse `@observe()`", "langfuse"),
    ("Traceloop / OpenLLMetry `@task`", "traceloop"),
    ("Logfire `@logfire.instrument`", "logfire"),
    ("MLflow `@mlflow.trace`", "mlflow"),
]


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _ratio(samples: dict[str, list[float]], num: str, den: str) -> float:
    """Median over rounds of the per-round ratio (both measured in the same round)."""
    return statistics.median(a / b for a, b in zip(samples[num], samples[den], strict=True))


def _spread(values: list[float]) -> str:
    q = statistics.quantiles(values, n=4) if len(values) >= 4 else [min(values), 0, max(values)]
    return f"{q[0]:.1f}–{q[2]:.1f}"


def _ok(met: bool) -> str:
    return "met" if met else "**missed**"


def overhead_table(res: dict[str, Any]) -> str:
    s = res["samples_us"]
    rows = [
        "| form | hand-written µs | governed µs (IQR) | governed ÷ hand-written | target ≤ 1.3× |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for label, gov, hand in FORMS:
        if gov not in s:
            rows.append(f"| {label} | | | | not measured (see below) |")
            continue
        ratio = _ratio(s, gov, hand)
        verdict = "n/a: a different path (see below)" if gov in ENGAGED else _ok(ratio <= RATIO_TARGET)
        rows.append(
            f"| {label} | {_median(s[hand]):.1f} | {_median(s[gov]):.1f} ({_spread(s[gov])}) | "
            f"{ratio:.2f}× | {verdict} |"
        )
    if "raw_span" in s:
        rows.append(
            f"| *for scale:* raw span with the static attributes, no hashes | {_median(s['raw_span']):.1f} | | | |"
        )
    return "\n".join(rows)


def off_table(res: dict[str, Any]) -> str:
    s = res["samples_us"]
    rows = [
        "| form | bare call µs | governed, no SDK provider µs | difference µs (median round) | "
        "rounds within 3 µs (their range) | target ≤ 3 µs |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, gov, bare in (("sync", "gov_sync_off", "bare"), ("async (awaited)", "gov_async_off", "bare_async")):
        if gov not in s:
            continue
        diffs = [a - b for a, b in zip(s[gov], s[bare], strict=True)]
        diff = statistics.median(diffs)
        within = [d for d in diffs if d <= OFF_TARGET_US]
        span = f" ({min(within):.2f}–{max(within):.2f})" if within else ""
        rows.append(
            f"| {label} | {_median(s[bare]):.2f} | {_median(s[gov]):.2f} | {diff:.2f} | "
            f"{len(within)} of {len(diffs)}{span} | {_ok(diff <= OFF_TARGET_US)} |"
        )
    if "noop_span" in s:
        rows.append(
            f"| *for scale:* OTel API no-op span (`start_as_current_span`, no provider) | | "
            f"{_median(s['noop_span']):.2f} | | | |"
        )
    return "\n".join(rows)


def peer_table(res: dict[str, Any]) -> str:
    s, facts = res["samples_us"], res["facts"]
    rows = [
        "| decorator | package version | µs/call (IQR) | peer ÷ `@governed_call` | fastest round ÷ fastest round "
        "| target ≥ 1.5× |",
        "| --- | --- | ---: | ---: | ---: | --- |",
        f"| `@governed_call` (sync, capture `hash`) | toolchain-sdk | {_median(s['gov_sync']):.1f} "
        f"({_spread(s['gov_sync'])}) | 1.00× | 1.00× | |",
    ]
    for label, name in PEERS:
        case = f"peer_{name}"
        if case not in s:
            rows.append(f"| {label} | not installed | | | | not measured |")
            continue
        info = facts.get(name, {})
        ratio = _ratio(s, case, "gov_sync")
        rows.append(
            f"| {label} | {info.get('package', '')} {info.get('version', '')} | {_median(s[case]):.1f} "
            f"({_spread(s[case])}) | {ratio:.2f}× | {min(s[case]) / min(s['gov_sync']):.2f}× | "
            f"{_ok(ratio >= PEER_TARGET)} |"
        )
    return "\n".join(rows)


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def scaling_sizes_table(res: dict[str, Any]) -> str:
    rows = [
        "| output | hand-written µs | governed µs | governed ÷ hand-written | governed stream µs (64 KB chunks) "
        "| stream tracemalloc peak |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in res.get("sizes", []):
        rows.append(
            f"| {row['label']} | {row['hand_us']:.1f} | {row['gov_us']:.1f} | {row['gov_us'] / row['hand_us']:.2f}× | "
            f"{row['stream_us']:.1f} | {_fmt_bytes(row['stream_peak_bytes'])} |"
        )
    return "\n".join(rows)


def scaling_threads_table(res: dict[str, Any]) -> str:
    rows = [
        "| threads | calls | hand-written µs/call | governed µs/call | governed ÷ hand-written | spans exported |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in res.get("threads", []):
        rows.append(
            f"| {row['threads']} | {row['calls']} | {row['hand_us']:.1f} | {row['gov_us']:.1f} | "
            f"{row['gov_us'] / row['hand_us']:.2f}× | {row['exported']} |"
        )
    return "\n".join(rows)


def scaling_asyncio_table(res: dict[str, Any]) -> str:
    row = res.get("asyncio")
    if not row:
        return "(not measured)"
    return "\n".join(
        [
            "| concurrent tasks | hand-written total s | governed total s | governed ÷ hand-written | "
            "spans exported | `current_call()` correct in every task |",
            "| ---: | ---: | ---: | ---: | ---: | --- |",
            f"| {row['tasks']} | {row['hand_s']:.3f} | {row['gov_s']:.3f} | {row['gov_s'] / row['hand_s']:.2f}× | "
            f"{row['exported']} | {'yes' if row['handles_ok'] else '**no**'} |",
        ]
    )


def resilience_table(res: dict[str, Any]) -> str:
    """One row per resilience script with its headline numbers."""
    rows = ["| scenario | result |", "| --- | --- |"]
    dead = res.get("dead_collector", {})
    if "calls" in dead:
        rows.append(
            f"| dead collector: {dead['calls']:,} calls, OTLP/HTTP to a closed 127.0.0.1 port | "
            f"{dead['errors']} calls raised; per call p50 {dead['p50_us']:.0f} µs, p99 {dead['p99_us']:.0f} µs, "
            f"p99.9 {dead['p999_us']:.0f} µs, max {dead['max_us'] / 1000:.1f} ms; "
            f"RSS {dead['rss_before_kb'] / 1024:.1f} MB before → {dead['rss_after_kb'] / 1024:.1f} MB after; "
            f"{dead['dropped_before_exit']:,} spans dropped and "
            f"counted; process exited {dead['exit_after_last_call_s']:.1f} s after its last call (exit flush bound "
            f"{dead['exit_flush_s']:.0f} s, OTLP exporter timeout {dead['otlp_timeout_s']} s), exit code "
            f"{dead['returncode']} |"
        )
    restart = res.get("collector_restart", {})
    if "made" in restart:
        made, arrived = restart["made"], restart["arrived"]
        phases = ", ".join(f"{k} {arrived.get(k, 0)}/{v}" for k, v in made.items())
        rows.append(
            f"| collector restart: Phoenix stopped {restart['stopped_at_s']:.0f} s in, started again on the same port "
            f"(healthy after {restart['restart_took_s']:.0f} s), calls at {restart['rate_per_s']}/s throughout | "
            f"arrived/made per phase: {phases}; lost {restart['lost']} = `dropped_spans()` {restart['dropped_spans']}; "
            f"{restart['errors']} calls raised; worst call {restart['worst_call_ms']:.0f} ms; logged: "
            f"“{'; '.join(restart['warnings'])}” |"
        )
    elif "skipped" in restart:
        rows.append(f"| collector restart | skipped: {restart['skipped']} |")
    slow = res.get("slow_exporter", {})
    if "calls" in slow:
        rows.append(
            f"| slow exporter: 1 s per batch vs discarding, {slow['calls']:,} calls each, alternating rounds | "
            f"{slow['slow_us']:.1f} vs {slow['discard_us']:.1f} µs/call (ratio {slow['ratio']:.2f}); worst call "
            f"{slow['slow_max_us'] / 1000:.1f} vs {slow['discard_max_us'] / 1000:.1f} ms; the slow exporter took "
            f"{slow['slow_batches']} batches, the rest ({slow['slow_dropped']:,} spans) was turned away by the full "
            f"queue and counted |"
        )
    fork = res.get("fork", {})
    if "spans" in fork:
        rows.append(
            f"| fork safety: parent + 4 multiprocessing (fork) children + 1 `os.fork()` child, batched file exporter | "
            f"{fork['spans']:,} of {fork['expected']:,} spans exported from {fork['processes']} processes "
            f"(per process: {', '.join(map(str, fork['per_process']))}), exit code {fork['returncode']} |"
        )
    for name, value in res.items():
        if isinstance(value, dict) and "error" in value:
            rows.append(f"| {name} | failed: {value['error'][:300]} |")
    return "\n".join(rows)


def _value(res: dict[str, Any], *path: str) -> str:
    node: Any = res
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return "n/a"
        node = node[key]
    if isinstance(node, float):
        return f"{node:.2f}" if abs(node) < 100 else f"{node:.0f}"
    return str(node)


def _kill_section(current: str) -> str:
    """The "Kill-switch flag check" section of the current page, verbatim (empty if none)."""
    start = current.find(KILL_SECTION)
    if start < 0:
        return ""
    end = current.find("\n## ", start + len(KILL_SECTION))
    return current[start:] if end < 0 else current[start : end + 1]


def scan_table(res: dict[str, Any]) -> str:
    """The static scan behind ``toolchain inventory`` / ``check`` on the generated code base (bench_scan.py)."""
    if "error" in res:
        return f"(not measured: {res['error']})"
    return "\n".join([
        "| code base | files | lines | files parsed | in-process s | default (pool when worth it) s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| 5 % of modules governed (typical) | {res['modules']:,} | {res['lines']:,} | {res['read']:,} | "
        f"{res['serial_s']:.2f} | {res['parallel_s']:.2f} |",
        f"| every module declares a surface (worst case: all parsed) | {res['modules']:,} | {res['lines']:,} | "
        f"{res['dense_read']:,} | {res['dense_serial_s']:.2f} | {res['dense_parallel_s']:.2f} |",
        f"| `toolchain check` end to end (new process, typical code base) | | | | | {res['cli_check_s']:.2f} |",
    ])  # fmt: skip


def audit_table(res: dict[str, Any]) -> str:
    """Appends per second of each audit sink, with and without fsync (bench_audit.py)."""
    if "error" in res:
        return f"(not measured: {res['error']})"
    rate = res["appends_per_s"]
    rows = [
        "| sink | no fsync: appends/s | `fsync=True`: appends/s |",
        "| --- | ---: | ---: |",
        f"| `tc.audit.jsonl(path)` | {rate['jsonl_nofsync']:,} | {rate['jsonl_fsync']:,} |",
        f"| `tc.audit.sqlite(path)` | {rate['sqlite_nofsync']:,} | {rate['sqlite_fsync']:,} |",
    ]
    return "\n".join(rows)


def render_page(results: dict[str, Any], template: str, current: str) -> str:
    """Fill ``template``'s ``{{placeholders}}`` from ``results``; keep the kill-switch section."""
    overhead = results.get("overhead", {})
    scaling = results.get("scaling", {})
    tables: dict[str, Callable[[], str]] = {
        "overhead_table": lambda: overhead_table(overhead),
        "off_table": lambda: off_table(overhead),
        "peer_table": lambda: peer_table(overhead),
        "sizes_table": lambda: scaling_sizes_table(scaling),
        "threads_table": lambda: scaling_threads_table(scaling),
        "asyncio_table": lambda: scaling_asyncio_table(scaling),
        "resilience_table": lambda: resilience_table(results.get("resilience", {})),
        "scan_table": lambda: scan_table(results.get("scan", {})),
        "audit_table": lambda: audit_table(results.get("audit", {})),
        "kill_switch_section": lambda: _kill_section(current).rstrip("\n"),
    }

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in tables:
            try:
                return tables[name]()
            except (KeyError, ValueError, ZeroDivisionError, statistics.StatisticsError) as exc:
                return f"(not measured: {type(exc).__name__} {exc})"
        return _value(results, *name.split("."))

    return re.sub(r"\{\{([a-z_.0-9]+)\}\}", fill, template).rstrip("\n") + "\n"
