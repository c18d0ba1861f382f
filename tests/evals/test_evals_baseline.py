"""Baselines for any results: regressions are exactly the pass→fail cases and rate drops; the bytes are stable."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from toolchain_sdk.evals import CaseResult, FileResult, compare, read_baseline, write_baseline

STATUS = st.sampled_from(["pass", "fail", "skipped"])
IDS = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True), min_size=1, max_size=6, unique=True)


def _file(statuses: dict[str, str], order: list[str] | None = None) -> FileResult:
    """One eval file's results with the given case statuses (in ``order`` when given)."""
    cases = tuple(
        CaseResult("evals/f.yaml", case, None, statuses[case], None if statuses[case] == "skipped" else 1.0)  # type: ignore[arg-type]
        for case in (order or list(statuses))
    )
    return FileResult("evals/f.yaml", "f", "m:f", "s.f", 0.0, cases)


@st.composite
def before_and_after(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, str]]:
    """Statuses of the same cases in a baseline run and in this run."""
    ids = draw(IDS)
    return {i: draw(STATUS) for i in ids}, {i: draw(STATUS) for i in ids}


@given(before_and_after())
def test_regressions_are_exactly_the_cases_that_passed_and_now_fail(
    pair: tuple[dict[str, str], dict[str, str]],
) -> None:
    """For any statuses: a case regresses iff it passed in the baseline and fails now; the file iff its rate fell."""
    before, after = pair
    old, new = _file(before), _file(after)
    baseline = {"files": {"evals/f.yaml": {"cases": before, "pass_rate": old.pass_rate}}}
    found = compare([new], baseline)
    regressed = {r.case for r in found if r.case is not None}
    assert regressed == {c for c in before if before[c] == "pass" and after[c] == "fail"}
    rate_dropped = old.pass_rate is not None and new.pass_rate is not None and new.pass_rate < old.pass_rate - 1e-9
    assert any(r.case is None for r in found) == rate_dropped


@given(before_and_after(), st.randoms(use_true_random=False))
def test_the_baseline_bytes_do_not_depend_on_case_order(
    pair: tuple[dict[str, str], dict[str, str]], rnd: random.Random
) -> None:
    """Writing the same results in any case order gives the same bytes, which read back to the same statuses."""
    statuses, _ = pair
    order = list(statuses)
    shuffled = order[:]
    rnd.shuffle(shuffled)
    with tempfile.TemporaryDirectory() as tmp:
        one, two = Path(tmp) / "one.json", Path(tmp) / "two.json"
        write_baseline(one, [_file(statuses, order)])
        write_baseline(two, [_file(statuses, shuffled)])
        assert one.read_bytes() == two.read_bytes()
        data = read_baseline(one)
        assert data is not None
        assert data["files"]["evals/f.yaml"]["cases"] == statuses  # type: ignore[index]
        assert one.read_text() == json.dumps(json.loads(one.read_text()), indent=2, sort_keys=True) + "\n"


def test_update_keeps_the_entries_of_files_not_run(tmp_path: Path) -> None:
    """--update-baseline after a --changed-since run rewrites the files it ran and keeps the others."""
    path = tmp_path / "baseline.json"
    other = {"cases": {"x": "pass"}, "pass_rate": 1.0}
    previous = {"files": {"evals/other.yaml": other}, "schema": "toolchain.eval.baseline/1"}
    write_baseline(path, [_file({"a": "fail", "b": "pass"})], previous)
    data = read_baseline(path)
    assert data is not None and data["files"] == {
        "evals/f.yaml": {"cases": {"a": "fail", "b": "pass"}, "pass_rate": 0.5},
        "evals/other.yaml": other,
    }
