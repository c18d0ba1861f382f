"""``toolchain eval``: run eval files against their governed surfaces; fail the build on a regression.

Exit status: 0 when every file meets its threshold and nothing regressed against ``--baseline``
(skipped cases and an empty ``--changed-since`` selection do not fail); 1 on a failure or a
regression; 2 on a configuration error (a bad file, an unknown target, a missing git ref).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.evals._changed import GitTree, select_changed
from toolchain_sdk.evals._model import EVAL_SUFFIXES, EvalFile, is_eval_file, load_eval_file
from toolchain_sdk.evals._report import print_report
from toolchain_sdk.evals._results import RunResult, compare, read_baseline, write_baseline, write_json
from toolchain_sdk.evals._runner import Plan, prepare, run_plans

__all__ = ["DEFAULT_JSON_OUT", "add_commands", "find_eval_files"]

DEFAULT_JSON_OUT = Path(".toolchain/evals/last-run.json")
"""Where the JSON results go without ``--json-out``."""
_DEFAULT_DIR = "evals"


def find_eval_files(paths: list[str]) -> list[Path]:
    """The eval files named: files as given, directories searched (recursively) for eval files by content.

    Raises:
        ConfigError: a path does not exist, or no eval file was found.
    """
    found: list[Path] = []
    for given in paths or [_DEFAULT_DIR]:
        path = Path(given)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in EVAL_SUFFIXES and is_eval_file(p))
        elif path.is_file():
            found.append(path)
        else:
            hint = " (give eval files or directories: toolchain eval evals/)" if not paths else ""
            raise ConfigError(f"{given}: no such file or directory{hint}")
    if not found:
        raise ConfigError(
            f"no eval files in {', '.join(paths or [_DEFAULT_DIR])} (YAML with top-level target: and cases:)"
        )
    return list(dict.fromkeys(found))


def _cmd_eval(args: argparse.Namespace) -> int:
    """``toolchain eval``: load, select, run, compare, write and report; returns the exit status."""
    if args.update_baseline and not args.baseline:
        raise ConfigError("--update-baseline needs --baseline PATH (the file to write)")
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be 1 or more, not {args.jobs}")
    if args.approve_as is not None and not args.approve_as.strip():
        raise ConfigError("--approve-as needs the approver's name, e.g. --approve-as ci-evals (it is recorded)")
    if os.getcwd() not in sys.path:  # targets import as `python -m` would import them
        sys.path.insert(0, os.getcwd())
    tree = GitTree.open(args.changed_since) if args.changed_since else None  # a missing REF fails first
    files: list[EvalFile] = [load_eval_file(p) for p in find_eval_files(args.paths)]
    selection: list[str] = []
    if tree is not None:
        chosen = select_changed(files, tree)
        files = [s.file for s in chosen]
        selection = [s.describe() for s in chosen]
        if not chosen:
            selection = [
                f"nothing selected: no eval file, prompt or route of their surfaces changed since {args.changed_since}"
            ]
    plans: list[Plan] = [prepare(f) for f in files]
    run = RunResult(run_plans(plans, approve_as=args.approve_as, jobs=args.jobs), selection=selection)
    if args.baseline is not None:
        baseline_path = Path(args.baseline)
        run.baseline = baseline_path.as_posix()
        previous = read_baseline(baseline_path)
        if previous is None and not args.update_baseline:
            raise ConfigError(
                f"{baseline_path}: no baseline yet; write it with --baseline {baseline_path} --update-baseline"
            )
        if previous is not None:
            run.regressions = compare(run.files, previous)
        if args.update_baseline:
            write_baseline(baseline_path, run.files, previous)
            run.baseline_updated = True
    out = Path(args.json_out) if args.json_out else DEFAULT_JSON_OUT
    write_json(out, run.to_json())
    print_report(run, sys.stdout)
    if args.update_baseline:
        print(f"baseline written: {args.baseline}")
    print(f"results: {out}")
    return run.exit_status


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``toolchain eval``."""
    p = sub.add_parser(
        "eval",
        help="run eval files against their governed surfaces (CI: fail on a regression)",
        description="Run each case of the eval files through the real governed function and check its output. "
        "Exit 0: every file meets its threshold and nothing regressed against --baseline; 1: a failure or "
        "regression; 2: a configuration error. See docs/evals.md.",
    )
    p.add_argument(
        "paths", nargs="*", metavar="FILES or DIRS", help=f"eval files or directories (default: {_DEFAULT_DIR}/)"
    )
    p.add_argument(
        "--baseline", metavar="PATH", help="compare with this baseline (and write it with --update-baseline)"
    )
    p.add_argument("--update-baseline", action="store_true", help="write this run's results to --baseline PATH")
    p.add_argument(
        "--changed-since",
        metavar="REF",
        help="run only the evals whose file, prompt versions or route changed since git REF",
    )
    p.add_argument("--json-out", metavar="PATH", help=f"write the JSON results here (default: {DEFAULT_JSON_OUT})")
    p.add_argument("--jobs", "-j", type=int, default=1, metavar="N", help="run N cases at a time (threads; default 1)")
    p.add_argument(
        "--approve-as",
        metavar="NAME",
        help="approve every approval request of the run as NAME (recorded as toolchain.approval.approver); "
        "without it, surfaces that need approval are skipped",
    )
    p.set_defaults(func=_cmd_eval)
