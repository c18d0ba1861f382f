"""What an eval run found: case and file results, the JSON results file, and baselines.

The JSON results (``.toolchain/evals/last-run.json`` by default) follow the schema
``toolchain.eval.results/1`` described in ``docs/evals.md``. A baseline (``--baseline PATH``) is
the pass/fail of every case and the pass rate of every file, written as sorted, indented JSON so it
is stable across runs and diffs well in review.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.evals._assertions import Checked

__all__ = [
    "BASELINE_SCHEMA",
    "CaseResult",
    "FileResult",
    "RESULTS_SCHEMA",
    "Regression",
    "RunResult",
    "Status",
    "case_key",
    "compare",
    "display_path",
    "read_baseline",
    "write_baseline",
    "write_json",
]

RESULTS_SCHEMA = "toolchain.eval.results/1"
BASELINE_SCHEMA = "toolchain.eval.baseline/1"

Status = Literal["pass", "fail", "skipped"]


def display_path(path: Path) -> str:
    """A file as results and baselines name it: relative to the current directory when inside it, ``/``-separated."""
    if not path.is_absolute():
        return path.as_posix()
    try:
        inside = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:  # outside the working directory: as given
        return path.as_posix()
    return inside.as_posix()


def case_key(case: str, prompt: str | None) -> str:
    """``broken-item`` or, run with a listed prompt version, ``broken-item[support_refund_policy@3]``."""
    return f"{case}[{prompt}]" if prompt else case


@dataclass(frozen=True)
class CaseResult:
    """One case run once (with one prompt version)."""

    file: str
    case: str
    prompt: str | None
    """The prompt version it ran with: a listed one, else the surface's own (``name@3``), else ``None``."""
    status: Status
    score: float | None
    reasons: tuple[str, ...] = ()
    checks: tuple[Checked, ...] = ()
    listed_prompt: bool = False
    """Whether ``prompt`` came from the file's ``prompts:`` (it is then part of the case's key)."""

    @property
    def key(self) -> str:
        """The case's key in baselines and spans."""
        return case_key(self.case, self.prompt if self.listed_prompt else None)

    def to_json(self) -> dict[str, object]:
        """The case's entry in the JSON results."""
        return {
            "assertions": [c.to_json() for c in self.checks],
            "case": self.case,
            "file": self.file,
            "key": self.key,
            "prompt": self.prompt,
            "reasons": list(self.reasons),
            "score": None if self.score is None else round(self.score, 6),
            "status": self.status,
        }


@dataclass(frozen=True)
class FileResult:
    """One eval file's cases and whether it met its threshold."""

    file: str
    name: str
    target: str
    surface: str
    threshold: float
    cases: tuple[CaseResult, ...]

    @property
    def passed(self) -> int:
        """Cases that passed."""
        return sum(c.status == "pass" for c in self.cases)

    @property
    def failed(self) -> int:
        """Cases that failed."""
        return sum(c.status == "fail" for c in self.cases)

    @property
    def skipped(self) -> int:
        """Cases that were skipped (not counted in the pass rate)."""
        return sum(c.status == "skipped" for c in self.cases)

    @property
    def pass_rate(self) -> float | None:
        """Passed over run (skipped cases do not count); ``None`` when every case was skipped."""
        ran = self.passed + self.failed
        return self.passed / ran if ran else None

    @property
    def meets_threshold(self) -> bool:
        """Whether the pass rate reaches the threshold (a file whose cases were all skipped does)."""
        rate = self.pass_rate
        return rate is None or rate >= self.threshold - 1e-9

    def to_json(self) -> dict[str, object]:
        """The file's entry in the JSON results."""
        rate = self.pass_rate
        return {
            "failed": self.failed,
            "file": self.file,
            "meets_threshold": self.meets_threshold,
            "name": self.name,
            "pass_rate": None if rate is None else round(rate, 6),
            "passed": self.passed,
            "skipped": self.skipped,
            "surface": self.surface,
            "target": self.target,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class Regression:
    """A case that passed in the baseline and fails now, or a file whose pass rate dropped."""

    file: str
    case: str | None
    was: str
    now: str

    def describe(self) -> str:
        """One line for the report."""
        what = f"{self.file} {self.case}" if self.case else f"{self.file} pass rate"
        return f"{what}: {self.was} in the baseline, {self.now} now"

    def to_json(self) -> dict[str, object]:
        """The regression's entry in the JSON results."""
        return {"case": self.case, "file": self.file, "now": self.now, "was": self.was}


@dataclass
class RunResult:
    """Every file's results, the regressions against a baseline, and the exit status they mean."""

    files: list[FileResult]
    regressions: list[Regression] = field(default_factory=list)
    baseline: str | None = None
    baseline_updated: bool = False
    selection: list[str] = field(default_factory=list)
    """Why each file was selected (``--changed-since``), one line each."""

    @property
    def cases(self) -> list[CaseResult]:
        """Every case of every file, in file order."""
        return [c for f in self.files for c in f.cases]

    @property
    def exit_status(self) -> int:
        """0: every threshold met and nothing regressed (or the baseline was just updated); 1 otherwise."""
        if any(not f.meets_threshold for f in self.files):
            return 1
        return 1 if self.regressions and not self.baseline_updated else 0

    def to_json(self) -> dict[str, object]:
        """The whole run in the ``toolchain.eval.results/1`` schema."""
        return {
            "baseline": self.baseline,
            "baseline_updated": self.baseline_updated,
            "cases": [c.to_json() for c in self.cases],
            "exit_status": self.exit_status,
            "files": [f.to_json() for f in self.files],
            "regressions": [r.to_json() for r in self.regressions],
            "schema": RESULTS_SCHEMA,
            "selection": list(self.selection),
        }


def _dump(value: object) -> str:
    """Sorted, indented JSON with a final newline (stable bytes for equal values)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: Path, value: object) -> None:
    """Write ``value`` as sorted, indented JSON, creating the directory (atomically: no half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_dump(value), encoding="utf-8")
    tmp.replace(path)


def _baseline_of(files: Iterable[FileResult]) -> dict[str, object]:
    """The baseline document for ``files``."""
    out: dict[str, object] = {}
    for f in files:
        rate = f.pass_rate
        out[f.file] = {
            "cases": {c.key: c.status for c in f.cases},
            "pass_rate": None if rate is None else round(rate, 6),
        }
    return {"files": out, "schema": BASELINE_SCHEMA}


def write_baseline(path: Path, files: Sequence[FileResult], previous: Mapping[str, object] | None = None) -> None:
    """Write the baseline for ``files``, keeping the entries of files this run did not run (``--changed-since``)."""
    data = _baseline_of(files)
    kept = dict(previous.get("files", {})) if isinstance(previous, Mapping) else {}  # type: ignore[call-overload]
    kept.update(data["files"])  # type: ignore[call-overload]
    write_json(path, {"files": kept, "schema": BASELINE_SCHEMA})


def read_baseline(path: Path) -> dict[str, object] | None:
    """The baseline at ``path``, or ``None`` when the file does not exist.

    Raises:
        ConfigError: the file is not a baseline this version can read.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable eval baseline ({exc}); write one with --update-baseline") from None
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA or not isinstance(data.get("files"), dict):
        raise ConfigError(f"{path}: not an eval baseline ({BASELINE_SCHEMA}); write one with --update-baseline")
    return data


def compare(files: Sequence[FileResult], baseline: Mapping[str, object]) -> list[Regression]:
    """Cases that passed in ``baseline`` and fail now, and files whose pass rate dropped.

    A case skipped now, or new, or gone, is not a regression.
    """
    known = baseline.get("files", {})
    assert isinstance(known, dict)
    found: list[Regression] = []
    for f in files:
        before = known.get(f.file)
        if not isinstance(before, dict):
            continue
        cases = before.get("cases", {})
        for c in f.cases:
            if isinstance(cases, dict) and cases.get(c.key) == "pass" and c.status == "fail":
                found.append(Regression(f.file, c.key, "passed", "fails"))
        was, now = before.get("pass_rate"), f.pass_rate
        if isinstance(was, (int, float)) and now is not None and now < was - 1e-9:
            found.append(Regression(f.file, None, f"{was:.0%}", f"{now:.0%}"))
    return found
