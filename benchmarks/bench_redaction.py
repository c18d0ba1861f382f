#!/usr/bin/env python3
"""Redaction quality and speed on the labelled corpus (``tests/data/redaction/``).

Prints precision per detector, recall per label (a value counts as caught when nothing of it
survives, and as labelled when it was replaced by its own label), the totals, the time each
detector takes over the corpus, and the throughput of ``redact`` and ``scrub_text`` over the
corpus's documents repeated to a few MB (median of interleaved rounds). With ``--write`` it
replaces the marked section of ``docs/redaction.md``.

    .venv/bin/python benchmarks/bench_redaction.py            # print the tables
    .venv/bin/python benchmarks/bench_redaction.py --write    # also update docs/redaction.md
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.redaction._corpus import SECRET_LABELS, Doc, load, score  # noqa: E402
from toolchain_sdk.redaction import DEFAULT_POLICY, redact, scrub_text  # noqa: E402

DOC = ROOT / "docs" / "redaction.md"
PROSE = ("architecture.md", "getting-started.md", "streaming-and-async.md", "kill-switch.md")
"""Docs of this repository used as a workload of ordinary technical prose (few values to find)."""
START = "<!-- bench_redaction:start -->"
END = "<!-- bench_redaction:end -->"
TARGET_BYTES = 4_000_000
ROUNDS = 5


def _mb(docs: list[Doc]) -> float:
    return sum(len(d.text.encode("utf-8")) for d in docs) / 1e6


def _paragraphs(names: tuple[str, ...]) -> list[str]:
    """The paragraphs of some docs pages (one redaction call each, as a log line or message would be)."""
    paragraphs: list[str] = []
    for name in names:
        path = ROOT / "docs" / name
        if path.exists():
            paragraphs += [p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return paragraphs or ["plain words"]


def _throughput(texts: list[str], run: Callable[[str], object], size_mb: float) -> float:
    """MB/s of ``run`` over ``texts`` (one call per document), median of ``ROUNDS`` rounds."""
    rates = []
    for _ in range(ROUNDS):
        gc.collect()
        start = time.perf_counter()
        for text in texts:
            run(text)
        rates.append(size_mb / (time.perf_counter() - start))
    return statistics.median(rates)


def _detector_cost(texts: list[str], size_mb: float) -> dict[str, float]:
    """Milliseconds per MB each detector spends finding candidates over ``texts`` (median of rounds)."""
    cost: dict[str, list[float]] = {d.name: [] for d in DEFAULT_POLICY.detectors}
    for _ in range(ROUNDS):
        for detector in DEFAULT_POLICY.detectors:
            start = time.perf_counter()
            for text in texts:
                for _ in detector.spans(text):
                    pass
            cost[detector.name].append((time.perf_counter() - start) * 1e3 / size_mb)
    return {name: statistics.median(values) for name, values in cost.items()}


def measure() -> str:
    """The Markdown section: quality tables, detector costs and throughput."""
    load_before = os.getloadavg()[0]
    docs = load()
    result = score(docs)
    repeat = max(1, round(TARGET_BYTES / (_mb(docs) * 1e6)))
    texts = [d.text for d in docs] * repeat
    size = _mb(docs) * repeat
    near = [d.text for d in docs if d.source == "near_misses.txt"]
    near = near * max(1, round(TARGET_BYTES / 4 / sum(len(t.encode("utf-8")) for t in near)))
    prose = _paragraphs(PROSE)
    prose = prose * max(1, round(TARGET_BYTES / 4 / sum(len(t.encode("utf-8")) for t in prose)))
    redact_rate = _throughput(texts, redact, size)
    scrub_rate = _throughput(texts, scrub_text, size)
    near_rate = _throughput(near, redact, sum(len(t.encode("utf-8")) for t in near) / 1e6)
    prose_rate = _throughput(prose, redact, sum(len(t.encode("utf-8")) for t in prose) / 1e6)
    prose_scrub_rate = _throughput(prose, scrub_text, sum(len(t.encode("utf-8")) for t in prose) / 1e6)
    costs = _detector_cost([d.text for d in docs] * max(1, repeat // 4), size / repeat * max(1, repeat // 4))

    labels = {d.name: d.label for d in DEFAULT_POLICY.detectors}
    lines = [
        START,
        "",
        f"Measured by `benchmarks/bench_redaction.py` on {len(docs)} documents "
        f"({_mb(docs):.2f} MB, {sum(result.expected.values())} planted values); "
        f"Python {platform.python_version()}, {platform.machine()}, a shared 2-core machine "
        f"(load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after: the speeds scale with "
        "what else runs; compare rows of one run, not runs).",
        "",
        f"**Overall: precision {result.precision:.4f}, recall {result.recall():.4f} "
        f"(secrets {result.recall(SECRET_LABELS):.4f}, personal data "
        f"{result.recall(set(result.expected) - SECRET_LABELS):.4f}).**",
        "",
        "| detector | label | findings | precision | ms per MB |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name, label in labels.items():
        n = result.findings[name]
        precision = f"{result.detector_precision(name):.3f}" if n else "-"
        lines.append(f"| `{name}` | `[{label}]` | {n} | {precision} | {costs[name]:.1f} |")
    lines += [
        "",
        "| label | planted | caught whole | recall | with its own label |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label in sorted(result.expected):
        lines.append(
            f"| `[{label}]` | {result.expected[label]} | {result.caught[label]} | "
            f"{result.caught[label] / result.expected[label]:.3f} | {result.label_recall(label):.3f} |"
        )
    if result.false_positives or result.missed:
        lines += ["", "Known misses and false positives in the corpus:", ""]
        lines += [f"- missed `[{label}]` `{value!r}` ({where})" for label, value, where in result.missed]
        lines += [f"- false positive of `{det}`: `{value!r}`" for det, value in result.false_positives]
    lines += [
        "",
        f"Throughput, one call per document, the corpus repeated to {size:.1f} MB (median of {ROUNDS} rounds):",
        "",
        "| what | MB/s |",
        "| --- | ---: |",
        f"| `redact(text)` (all detectors) | {redact_rate:.2f} |",
        f"| `scrub_text(text)` (secrets, cards, SSNs) | {scrub_rate:.2f} |",
        f"| `redact(text)` on the near-misses (nothing to find, dense with numbers) | {near_rate:.2f} |",
        f"| `redact(text)` on technical prose (this repository's docs, by paragraph) | {prose_rate:.2f} |",
        f"| `scrub_text(text)` on technical prose | {prose_scrub_rate:.2f} |",
        "",
        END,
    ]
    return "\n".join(lines)


def write(section: str) -> None:
    """Replace the marked section of docs/redaction.md."""
    text = DOC.read_text(encoding="utf-8")
    before, _, rest = text.partition(START)
    _, found, after = rest.partition(END)
    if not found:
        raise SystemExit(f"{DOC}: markers {START} / {END} not found")
    DOC.write_text(before + section + after, encoding="utf-8")


def main() -> None:
    """Measure, print, and with --write update the docs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the section in docs/redaction.md")
    args = parser.parse_args()
    section = measure()
    print(section)
    if args.write:
        write(section)


if __name__ == "__main__":
    main()
