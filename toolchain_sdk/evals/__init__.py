"""Evals: prompt files are reviewed like code, and evals are their tests.

An eval file (``evals/<name>.yaml``, or a ``.toml`` twin) names a governed surface and its cases;
``toolchain eval`` runs each case through the real governed function under an eval span, checks
the output with the assertions, compares with a baseline and exits 1 on a failure or regression.
``--changed-since REF`` runs only the evals whose prompt, route or file changed. The pytest
plugin (``pytest evals/``) collects each case as a test. See ``docs/evals.md``.

    from toolchain_sdk import evals

    plan = evals.prepare(evals.load_eval_file("evals/refund_reply.yaml"))
    files = evals.run_plans([plan], approve_as=None)
"""

from toolchain_sdk.evals._assertions import Checked, check, load_callable, select, text_of
from toolchain_sdk.evals._changed import GitTree, Selected, select_changed
from toolchain_sdk.evals._model import (
    ASSERTION_KINDS,
    EVAL_SUFFIXES,
    Assertion,
    AssertionKind,
    Case,
    EvalFile,
    is_eval_file,
    load_eval_file,
)
from toolchain_sdk.evals._results import (
    BASELINE_SCHEMA,
    RESULTS_SCHEMA,
    CaseResult,
    FileResult,
    Regression,
    RunResult,
    compare,
    read_baseline,
    write_baseline,
)
from toolchain_sdk.evals._runner import Plan, prepare, run_case, run_plans
from toolchain_sdk.evals._target import Target, call_target, concatenate, load_target

__all__ = [
    "ASSERTION_KINDS",
    "Assertion",
    "AssertionKind",
    "BASELINE_SCHEMA",
    "Case",
    "CaseResult",
    "Checked",
    "EVAL_SUFFIXES",
    "EvalFile",
    "FileResult",
    "GitTree",
    "Plan",
    "RESULTS_SCHEMA",
    "Regression",
    "RunResult",
    "Selected",
    "Target",
    "call_target",
    "check",
    "compare",
    "concatenate",
    "is_eval_file",
    "load_callable",
    "load_eval_file",
    "load_target",
    "prepare",
    "read_baseline",
    "run_case",
    "run_plans",
    "select",
    "select_changed",
    "text_of",
    "write_baseline",
]
