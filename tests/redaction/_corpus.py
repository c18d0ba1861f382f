"""The labelled redaction corpus (``tests/data/redaction/``) and how detection is scored against it.

Format (see ``tests/data/redaction/README.md``): UTF-8 text files, documents separated by a line
holding only ``%%%``, each sensitive value written inline as ``⟪LABEL|value⟫``. Everything not
annotated must survive. Shared by ``test_corpus.py`` and ``benchmarks/bench_redaction.py``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from toolchain_sdk.redaction import Finding, Policy, find

__all__ = ["CORPUS", "SECRET_LABELS", "Doc", "Expected", "Score", "load", "score"]

CORPUS = Path(__file__).resolve().parent.parent / "data" / "redaction"
SEPARATOR = "%%%"
_ANNOTATION_RE = re.compile(r"⟪([A-Z_]+)\|(.*?)⟫", re.DOTALL)
SECRET_LABELS = frozenset(
    {"OPENAI_KEY", "ANTHROPIC_KEY", "AWS_KEY", "GITHUB_TOKEN", "GITLAB_TOKEN", "SLACK_TOKEN", "GOOGLE_KEY",
     "STRIPE_KEY", "JWT", "BEARER", "URL_CREDENTIALS", "PRIVATE_KEY", "SECRET"}
)  # fmt: skip


@dataclass(frozen=True)
class Expected:
    """One annotated value: ``text[start:end]`` must be replaced, by ``label``."""

    label: str
    start: int
    end: int


@dataclass(frozen=True)
class Doc:
    """One document of the corpus: its plain text and the values in it that must go."""

    source: str
    index: int
    text: str
    expected: tuple[Expected, ...]


def parse(raw: str, source: str, index: int) -> Doc:
    """A document from its annotated text (``⟪LABEL|value⟫`` becomes ``value``, remembered as expected)."""
    out: list[str] = []
    expected: list[Expected] = []
    pos = length = 0
    for m in _ANNOTATION_RE.finditer(raw):
        out.append(raw[pos : m.start()])
        length += m.start() - pos
        out.append(m.group(2))
        expected.append(Expected(m.group(1), length, length + len(m.group(2))))
        length += len(m.group(2))
        pos = m.end()
    out.append(raw[pos:])
    text = "".join(out)
    if "⟪" in text or "⟫" in text:
        raise ValueError(f"{source} document {index}: an unbalanced annotation")
    return Doc(source, index, text, tuple(expected))


def load(directory: Path = CORPUS) -> list[Doc]:
    """Every document of every ``*.txt`` file under ``directory``, in a stable order."""
    docs: list[Doc] = []
    for path in sorted(directory.glob("*.txt")):
        raws = re.split(rf"^{re.escape(SEPARATOR)}\n", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
        docs.extend(parse(raw, path.name, i) for i, raw in enumerate(raws) if raw.strip())
    return docs


@dataclass
class Score:
    """Counts over the corpus: per detector (findings, true ones) and per label (expected, caught)."""

    findings: Counter[str] = field(default_factory=Counter)
    true_findings: Counter[str] = field(default_factory=Counter)
    expected: Counter[str] = field(default_factory=Counter)
    caught: Counter[str] = field(default_factory=Counter)
    labelled: Counter[str] = field(default_factory=Counter)
    false_positives: list[tuple[str, str]] = field(default_factory=list)
    missed: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        """True findings over all findings."""
        total = sum(self.findings.values())
        return sum(self.true_findings.values()) / total if total else 1.0

    def recall(self, labels: Iterable[str] | None = None) -> float:
        """Expected values of ``labels`` (default: all) removed whole, over all of them."""
        keys = list(self.expected) if labels is None else [k for k in self.expected if k in set(labels)]
        total = sum(self.expected[k] for k in keys)
        return sum(self.caught[k] for k in keys) / total if total else 1.0

    def detector_precision(self, detector: str) -> float:
        """True findings of ``detector`` over its findings."""
        n = self.findings[detector]
        return self.true_findings[detector] / n if n else 1.0

    def label_recall(self, label: str) -> float:
        """Expected values of ``label`` removed whole and replaced by that label."""
        n = self.expected[label]
        return self.labelled[label] / n if n else 1.0


def _covered(span: Expected, found: list[Finding]) -> bool:
    """Whether every character of ``span`` is inside some finding (the value does not survive)."""
    pos = span.start
    for f in found:
        if f.start <= pos < f.end:
            pos = f.end
            if pos >= span.end:
                return True
    return pos >= span.end


def score(docs: Iterable[Doc], policy: Policy | None = None) -> Score:
    """Run ``find`` over each document and count true and false findings, caught and missed values.

    A finding is true when it overlaps an expected value of its label. An expected value is caught
    when findings cover all of it (whatever their label), and labelled when one of them has its label.
    """
    result = Score()
    for doc in docs:
        found = find(doc.text, policy=policy)
        for f in found:
            result.findings[f.detector] += 1
            if any(e.label == f.label and e.start < f.end and f.start < e.end for e in doc.expected):
                result.true_findings[f.detector] += 1
            else:
                result.false_positives.append((f.detector, doc.text[f.start : f.end]))
        for e in doc.expected:
            result.expected[e.label] += 1
            overlapping = [f for f in found if f.start < e.end and e.start < f.end]
            if _covered(e, overlapping):
                result.caught[e.label] += 1
                if any(f.label == e.label for f in overlapping):
                    result.labelled[e.label] += 1
            else:
                result.missed.append((e.label, doc.text[e.start : e.end], f"{doc.source}#{doc.index}"))
    return result
