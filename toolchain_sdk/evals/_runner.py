"""Running eval cases through the real governed function, each under an eval span.

Everything that can be wrong with a file (its target, a ``python:`` check, a listed prompt
version, a case's input) is found by ``prepare`` before any case runs, as a ``ConfigError``. Then
each case calls the surface as the application would: its kill switch, route and tracing apply.
Approval is never granted silently: with ``approve_as`` every request is approved by that name
(``toolchain.approval.approver`` on the governed span); without it, a surface whose declared
approval is ``required`` is reported as skipped and not called.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from toolchain_sdk import approval, config, semconv
from toolchain_sdk._core.call import overriding_prompt
from toolchain_sdk.errors import ConfigError
from toolchain_sdk.evals._assertions import Checked, check, load_callable, require_jsonschema
from toolchain_sdk.evals._model import Case, EvalFile
from toolchain_sdk.evals._results import CaseResult, FileResult, Status, display_path
from toolchain_sdk.evals._target import Target, call_target, load_target
from toolchain_sdk.prompts import Prompt, resolve
from toolchain_sdk.redaction import scrub_text
from toolchain_sdk.tracing import active_tracer

__all__ = ["Plan", "prepare", "run_case", "run_plans"]


@dataclass(frozen=True)
class Plan:
    """An eval file made ready to run: its target loaded, checks and prompt versions resolved."""

    file: EvalFile
    shown: str
    """The file's path as results name it."""
    target: Target
    functions: dict[str, Callable[..., object]]
    prompts: dict[str, Prompt]
    arguments: dict[str, dict[str, Any]]
    """Each case's input converted to the parameters' types, by case id."""

    def runs(self) -> list[tuple[Case, str | None]]:
        """Every (case, prompt version) pair to run."""
        return self.file.runs()


def _in_file(shown: str, what: str, exc: ConfigError) -> ConfigError:
    """``exc`` with the file and the part of it that caused it in front."""
    return ConfigError(f"{shown}: {what}: {exc}")


def prepare(file: EvalFile) -> Plan:
    """Load what ``file`` needs: its target, ``python:`` checks, listed prompt versions, case inputs.

    Raises:
        ConfigError: an unknown target, check or prompt version, a case input that does not fit
            its parameter, or ``json_schema`` without the ``jsonschema`` library; named by file and case.
    """
    shown = display_path(file.path)
    try:
        target = load_target(file.target)
    except ConfigError as exc:
        raise ConfigError(f"{shown}: {exc}") from None
    functions: dict[str, Callable[..., object]] = {}
    needs_schema = False
    for case in file.cases:
        for assertion in case.assertions:
            needs_schema |= assertion.kind == "json_schema"
            if assertion.kind == "python" and assertion.value not in functions:
                try:
                    functions[assertion.value] = load_callable(assertion.value)
                except ConfigError as exc:
                    raise _in_file(shown, f"case {case.id!r}", exc) from None
    if needs_schema:
        try:
            require_jsonschema()
        except ConfigError as exc:
            raise ConfigError(f"{shown}: {exc}") from None
    directory = config.current_settings().prompts_dir
    prompts: dict[str, Prompt] = {}
    for ref in file.prompts:
        try:
            prompts[ref] = resolve(ref, directory)
        except ConfigError as exc:
            raise _in_file(shown, "prompts", exc) from None
    arguments: dict[str, dict[str, Any]] = {}
    for case in file.cases:
        try:
            arguments[case.id] = target.arguments(case.input)
        except ConfigError as exc:
            raise _in_file(shown, f"case {case.id!r}", exc) from None
    return Plan(file, shown, target, functions, prompts, arguments)


@contextlib.contextmanager
def _eval_span(plan: Plan, key: str) -> Iterator[Span | None]:
    """The case's eval span, current while the case runs (the governed span becomes its child)."""
    tracer = active_tracer()
    if tracer is None:
        yield None
        return
    span = tracer.start_span(
        f"eval {plan.file.eval_name}",
        kind=SpanKind.INTERNAL,
        attributes={
            semconv.GEN_AI_EVALUATION_NAME: plan.file.eval_name,
            semconv.EVAL_CASE: key,
            semconv.EVAL_FILE: plan.shown,
            semconv.OPENINFERENCE_SPAN_KIND: semconv.SPAN_KIND_EVALUATOR,
        },
    )
    try:
        with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            yield span
    finally:
        span.end()


def _score(checks: Sequence[Checked]) -> float:
    """The weighted mean of the assertions' scores."""
    total = sum(c.weight for c in checks)
    return sum(c.weight * c.score for c in checks) / total if total else 0.0


def run_case(plan: Plan, case: Case, prompt_ref: str | None, approve_as: str | None = None) -> CaseResult:
    """Run one case (with one listed prompt version, or the surface's own) and check its output.

    Without ``approve_as`` (a blank one counts as none), every approval request the call makes is
    denied at once, never handed to the surface's own approver: a case whose call asked is skipped,
    while a call the surface's policy lets through (a predicate policy, a low amount) is evaluated.
    """
    approve_as = approve_as.strip() if approve_as is not None and approve_as.strip() else None
    own = plan.target.spec.prompt
    shown_prompt = prompt_ref or own
    listed = prompt_ref is not None

    def result(
        status: Status, score: float | None, reasons: Sequence[str], checks: Sequence[Checked] = ()
    ) -> CaseResult:
        """The case's result with this run's file, case and prompt filled in."""
        return CaseResult(plan.shown, case.id, shown_prompt, status, score, tuple(reasons), tuple(checks), listed)

    key = f"{case.id}[{prompt_ref}]" if prompt_ref else case.id
    skip_reason = (
        f"{plan.target.spec.surface} needs approval for this call ({plan.target.spec.approval}); "
        "run with --approve-as NAME (pytest: --eval-approve-as NAME) to approve its calls on the record"
    )
    with _eval_span(plan, key) as span:
        overriding = (
            overriding_prompt(plan.target.spec.surface, plan.prompts[prompt_ref])
            if prompt_ref
            else contextlib.nullcontext()
        )
        asked: list[approval.ApprovalRequest] = []
        try:
            with contextlib.ExitStack() as stack:
                stack.enter_context(overriding)
                if approve_as:
                    stack.enter_context(approval.approving_as(approve_as))
                else:
                    asked = stack.enter_context(approval.refusing_approvals("eval run without --approve-as"))
                output = call_target(plan.target, plan.arguments[case.id])
        except Exception as exc:  # the surface raised (denied, fallback failed, a bug): the case fails
            failure = f"the call raised {type(exc).__name__}: {scrub_text(str(exc))}"
            outcome = result("skipped", None, [skip_reason]) if asked else result("fail", 0.0, [failure])
        else:
            if asked:  # it asked, was denied, and a fallback answered: not the surface's answer to judge
                outcome = result("skipped", None, [skip_reason])
            else:
                checks = [check(a, output, case, plan.functions) for a in case.assertions]
                passed = all(c.passed for c in checks)
                outcome = result("pass" if passed else "fail", _score(checks),
                                 [c.reason for c in checks if not c.passed], checks)  # fmt: skip
        if span is not None and outcome.status == "skipped":
            span.set_attribute(semconv.GEN_AI_EVALUATION_EXPLANATION, f"skipped: {skip_reason}")
            return outcome
        if span is not None:
            span.set_attribute(semconv.GEN_AI_EVALUATION_SCORE_VALUE, float(outcome.score or 0.0))
            span.set_attribute(semconv.GEN_AI_EVALUATION_SCORE_LABEL, outcome.status)
            if outcome.reasons:
                span.set_attribute(semconv.GEN_AI_EVALUATION_EXPLANATION, scrub_text("; ".join(outcome.reasons)))
        return outcome


def run_plans(plans: Sequence[Plan], *, approve_as: str | None = None, jobs: int = 1) -> list[FileResult]:
    """Run every case of every plan (``jobs`` at a time, each in a copy of the caller's context)."""
    if jobs < 1:
        raise ConfigError(f"--jobs must be 1 or more, not {jobs}")
    if approve_as is not None and not approve_as.strip():
        raise ConfigError("approve_as needs the approver's name, e.g. 'ci-evals' (it is recorded on the span)")
    work = [(plan, case, prompt) for plan in plans for case, prompt in plan.runs()]

    def one(item: tuple[Plan, Case, str | None]) -> CaseResult:
        """Run one (plan, case, prompt version)."""
        return run_case(item[0], item[1], item[2], approve_as)

    if jobs == 1 or len(work) <= 1:
        done = [one(item) for item in work]
    else:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="toolchain-eval") as pool:
            contexts = [contextvars.copy_context() for _ in work]
            done = list(pool.map(lambda pair: pair[0].run(one, pair[1]), zip(contexts, work, strict=True)))
    results: list[FileResult] = []
    for plan in plans:
        cases = tuple(r for r in done if r.file == plan.shown)
        file = plan.file
        results.append(
            FileResult(plan.shown, file.eval_name, file.target, plan.target.spec.surface, file.threshold, cases)
        )
    return results
