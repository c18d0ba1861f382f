"""Running cases through the real governed function: every function kind, prompt versions, approval, spans."""

from __future__ import annotations

import importlib

import pytest

from tests.evals._project import Project, project_fixture  # noqa: F401 - the `project` fixture
from toolchain_sdk import semconv
from toolchain_sdk._core.call import PROMPT_OVERRIDE
from toolchain_sdk.errors import ConfigError
from toolchain_sdk.evals import FileResult, load_eval_file, prepare, run_case, run_plans
from toolchain_sdk.prompts import resolve
from toolchain_sdk.testing import SpanRecorder


def _run(project: Project, name: str, body: str, function: str = "reply", **kw: object) -> FileResult:
    """Write, prepare and run one eval file of the project."""
    plan = prepare(load_eval_file(project.eval_file(name, body, function=function)))
    [result] = run_plans([plan], **kw)  # type: ignore[arg-type]
    return result


def test_a_sync_target_is_called_with_typed_input_and_its_own_prompt(project: Project) -> None:
    """A dict input becomes the dataclass the function takes; without prompts: the surface's own version runs."""
    result = _run(project, "reply", """\
        cases:
          - id: hello
            input: {ticket: {id: T-1, body: "order 77"}}
            assert:
              - equals: "Hello! order 77\\n (v1 by None)"
        """)  # fmt: skip
    [case] = result.cases
    assert (case.status, case.score, case.prompt) == ("pass", 1.0, "greet@1")
    assert (result.pass_rate, result.meets_threshold, result.surface) == (1.0, True, project.surface("reply"))


def test_listed_prompt_versions_replace_the_surfaces_prompt(project: Project, spans: SpanRecorder) -> None:
    """prompts: [greet@1, greet@2] runs each case per version; call.prompt and the governed span say which."""
    result = _run(project, "versions", """\
        prompts: [greet@1, greet@2]
        cases:
          - id: polite
            input: {ticket: {id: T-1, body: "hi"}}
            assert:
              - contains: "Please"
        """)  # fmt: skip
    statuses = {(c.prompt, c.status) for c in result.cases}
    assert statuses == {("greet@1", "fail"), ("greet@2", "pass")}
    assert [c.key for c in result.cases] == ["polite[greet@1]", "polite[greet@2]"]
    governed = spans.spans(project.surface("reply"))
    assert [s.attributes[semconv.GEN_AI_PROMPT_VERSION] for s in governed] == ["1", "2"]  # type: ignore[index]
    assert all(semconv.PROMPT_LABEL not in (s.attributes or {}) for s in governed)  # a listed version has no label


def test_each_case_runs_under_an_eval_span_parenting_the_governed_span(project: Project, spans: SpanRecorder) -> None:
    """The eval span carries name, case, score value and label; the governed call's span is its child."""
    _run(project, "spans", """\
        cases:
          - id: good
            input: {ticket: {id: T-1, body: "x"}}
            assert: [{contains: Hello}]
          - id: bad
            input: {ticket: {id: T-2, body: "x"}}
            assert: [{contains: Goodbye}, {contains: Hello}]
        threshold: 0.5
        """)  # fmt: skip
    evals = [s for s in spans.spans() if s.name == "eval spans"]
    assert [s.attributes[semconv.EVAL_CASE] for s in evals] == ["good", "bad"]  # type: ignore[index]
    good, bad = (dict(s.attributes or {}) for s in evals)
    assert good[semconv.GEN_AI_EVALUATION_NAME] == "spans"
    assert (good[semconv.GEN_AI_EVALUATION_SCORE_VALUE], good[semconv.GEN_AI_EVALUATION_SCORE_LABEL]) == (1.0, "pass")
    assert (bad[semconv.GEN_AI_EVALUATION_SCORE_VALUE], bad[semconv.GEN_AI_EVALUATION_SCORE_LABEL]) == (0.5, "fail")
    assert "does not contain 'Goodbye'" in str(bad[semconv.GEN_AI_EVALUATION_EXPLANATION])
    assert good[semconv.OPENINFERENCE_SPAN_KIND] == semconv.SPAN_KIND_EVALUATOR
    governed = spans.spans(project.surface("reply"))
    for eval_span, call_span in zip(evals, governed, strict=True):
        assert call_span.parent is not None and call_span.parent.span_id == eval_span.context.span_id
        assert call_span.context.trace_id == eval_span.context.trace_id


def test_async_function_target(project: Project) -> None:
    """An async surface is awaited; path: and json_schema check its dict output."""
    result = _run(project, "status", """\
        cases:
          - id: odd
            input: {order: 7}
            assert:
              - json_schema: {type: object, required: [status]}
              - one_of: [shipped, pending]
                path: status
          - id: even
            input: {order: 8}
            assert:
              - equals: shipped
                path: status
        threshold: 0.5
        """, function="status")  # fmt: skip
    assert [(c.case, c.status) for c in result.cases] == [("odd", "pass"), ("even", "fail")]
    assert result.cases[1].reasons == ("expected 'shipped', got 'pending'",)


@pytest.mark.parametrize(
    ("function", "expected"),
    [("stream", "a b c "), ("astream", "A B C "), ("returned", "a b c "), ("areturned", "A B C ")],
)
def test_a_generator_target_is_evaluated_as_its_concatenation(project: Project, function: str, expected: str) -> None:
    """A generator, async generator, or function returning a stream is consumed; assertions see the joined text."""
    result = _run(project, function, f"""\
        cases:
          - id: joined
            input: {{text: "a b c"}}
            assert:
              - equals: "{expected}"
              - max_chars: 6
        """, function=function)  # fmt: skip
    assert [c.status for c in result.cases] == ["pass"], result.cases[0].reasons


def test_a_target_that_raises_fails_its_case_with_the_error(project: Project) -> None:
    """An exception from the surface fails the case (score 0), its type and message as the reason."""
    result = _run(project, "boom", """\
        cases:
          - id: explodes
            input: {text: x}
            assert: [{contains: x}]
        """, function="boom")  # fmt: skip
    [case] = result.cases
    assert (case.status, case.score) == ("fail", 0.0)
    assert case.reasons == ("the call raised RuntimeError: model exploded",)


def test_thresholds_decide_whether_a_file_passes(project: Project) -> None:
    """Pass rate is passed over run cases; the file passes at or above its threshold (default 1.0)."""
    body = """\
        cases:
          - id: a
            input: {{ticket: {{id: T, body: x}}}}
            assert: [{{contains: Hello}}]
          - id: b
            input: {{ticket: {{id: T, body: x}}}}
            assert: [{{contains: Hello}}]
          - id: c
            input: {{ticket: {{id: T, body: x}}}}
            assert: [{{contains: Nope}}]
        {threshold}
        """
    strict = _run(project, "strict", body.format(threshold=""))
    assert (strict.passed, strict.failed, strict.meets_threshold) == (2, 1, False)
    lenient = _run(project, "lenient", body.format(threshold="threshold: 0.66"))
    assert lenient.meets_threshold and lenient.pass_rate == pytest.approx(2 / 3)
    tight = _run(project, "tight", body.format(threshold="threshold: 0.67"))
    assert not tight.meets_threshold


def test_an_approval_gated_surface_is_skipped_without_an_approver(project: Project, spans: SpanRecorder) -> None:
    """Without approve_as the request is denied at once by the eval run (the surface's own approver is never
    asked, the body never runs): the case is skipped, never approved."""
    result = _run(project, "refund", """\
        cases:
          - id: small
            input: {amount: 5}
            assert: [{equals: refunded 5}]
        """, function="refund")  # fmt: skip
    [case] = result.cases
    assert case.status == "skipped" and "run with --approve-as NAME" in case.reasons[0]
    assert (result.pass_rate, result.meets_threshold) == (None, True)
    [span] = spans.spans(project.surface("refund"))
    attrs = span.attributes or {}
    assert attrs["toolchain.approval.decision"] == "denied"
    assert attrs["toolchain.approval.approver"] == "refusing_approvals"
    assert attrs["toolchain.outcome"] == "denied"


def test_a_predicate_policy_skips_only_the_calls_it_asks_about(project: Project, spans: SpanRecorder) -> None:
    """Without approve_as, a call the surface's policy lets through (a small payout) is evaluated; one it
    asks about (a large payout) is skipped, never approved and never handed to the surface's approver."""
    result = _run(project, "payout", """\
        cases:
          - id: small
            input: {amount: 5}
            assert: [{equals: paid 5}]
          - id: large
            input: {amount: 500}
            assert: [{equals: paid 500}]
        """, function="payout")  # fmt: skip
    small, large = result.cases
    assert (small.status, large.status) == ("pass", "skipped")
    assert "needs approval for this call" in large.reasons[0]
    assert (result.passed, result.failed, result.pass_rate) == (1, 0, 1.0)


def test_approve_as_approves_on_the_record(project: Project, spans: SpanRecorder) -> None:
    """With approve_as the declared approver (deny_all) is not asked: NAME approves, and the span says so."""
    result = _run(project, "refund2", """\
        cases:
          - id: small
            input: {amount: 5}
            assert: [{equals: refunded 5}]
        """, function="refund", approve_as="ci-evals")  # fmt: skip
    assert [c.status for c in result.cases] == ["pass"], result.cases[0].reasons
    span = spans.one(project.surface("refund"))
    assert (span.attributes or {})[semconv.APPROVAL_APPROVER] == "ci-evals"
    assert (span.attributes or {})[semconv.APPROVAL_DECISION] == "approved"


def test_jobs_run_cases_concurrently_with_the_same_results(project: Project) -> None:
    """--jobs 4 gives the same results, in file order, as one at a time."""
    body = "prompts: [greet@1, greet@2]\ncases:\n" + "".join(
        f"  - id: c{i}\n    input: {{ticket: {{id: T{i}, body: b{i}}}}}\n"
        f"    assert: [{{contains: b{i}}}, {{contains: Please}}]\n"
        for i in range(6)
    )
    plan = prepare(load_eval_file(project.eval_file("many", body)))
    [one] = run_plans([plan], jobs=1)
    [four] = run_plans([plan], jobs=4)
    assert [(c.key, c.status) for c in one.cases] == [(c.key, c.status) for c in four.cases]
    assert [c.status for c in four.cases] == ["fail", "pass"] * 6


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_anywhere:f", "unknown target module 'no_such_module_anywhere'"),
        ("{module}:missing", "unknown target {module}:missing: module {module} has no 'missing'"),
        ("{module}:plain", "is not a governed surface"),
    ],
)
def test_an_unknown_target_is_a_config_error(project: Project, target: str, message: str) -> None:
    """A target that does not import, does not exist or is not governed: ConfigError naming the file."""
    path = project.root / "evals" / "bad.yaml"
    path.write_text(
        f"target: {target.format(module=project.module)}\ncases:\n  - id: a\n    assert: [{{contains: x}}]\n"
    )
    with pytest.raises(ConfigError) as err:
        prepare(load_eval_file(path))
    assert str(err.value).startswith("evals/bad.yaml: ")
    assert message.format(module=project.module) in str(err.value)


def test_an_unknown_prompt_version_or_bad_input_is_a_config_error(project: Project) -> None:
    """A listed version that does not exist, or an input that does not fit its parameter, fails before any run."""
    with pytest.raises(ConfigError, match=r"evals/v9.yaml: prompts: unknown prompt greet@9"):
        prepare(
            load_eval_file(
                project.eval_file("v9", "prompts: [greet@9]\ncases:\n  - id: a\n    assert: [{contains: x}]\n")
            )
        )
    bad_input = "cases:\n  - id: typed\n    input: {ticket: {id: T}}\n    assert: [{contains: x}]\n"
    with pytest.raises(ConfigError, match=r"evals/typed.yaml: case 'typed': input.ticket.body: Field required"):
        prepare(load_eval_file(project.eval_file("typed", bad_input)))


def test_the_prompt_override_is_scoped_to_its_surface_and_its_run(project: Project) -> None:
    """After the run, and for any other surface during one, calls use the surface's own prompt version."""
    result = _run(project, "v2", "prompts: [greet@2]\ncases:\n  - id: a\n    input: {ticket: {id: T, body: x}}\n"
                                 "    assert: [{contains: Please}]\n")  # fmt: skip
    assert [c.status for c in result.cases] == ["pass"], result.cases[0].reasons
    bot = importlib.import_module(project.module)
    assert bot.reply(bot.Ticket("T", "x")).startswith("Hello! x")
    token = PROMPT_OVERRIDE.set(("some.other_surface", resolve("greet@2", project.root / "prompts")))
    try:
        assert bot.reply(bot.Ticket("T", "x")).startswith("Hello! x")
    finally:
        PROMPT_OVERRIDE.reset(token)


def test_weights_set_a_cases_score(project: Project) -> None:
    """The score is the weighted mean of the assertions: a passing weight-3 check and a failing one give 0.75."""
    result = _run(project, "weights", """\
        cases:
          - id: weighted
            input: {ticket: {id: T-1, body: x}}
            assert:
              - contains: Hello
                weight: 3
              - contains: Nope
        """)  # fmt: skip
    [case] = result.cases
    assert (case.status, case.score) == ("fail", 0.75)
    assert [(c.weight, c.score) for c in case.checks] == [(3.0, 1.0), (1.0, 0.0)]
    assert case.to_json()["score"] == 0.75


@pytest.mark.parametrize(
    ("input_yaml", "message"),
    [
        ("{ticket: {id: T, body: x}, tone: warm}", "case 'a': input.tone: no such parameter ({target} takes ticket)"),
        ("{}", "case 'a': input: missing required 'ticket' ({target} takes ticket)"),
        ("{ticket: {id: T, body: x}, call: 1}", "case 'a': input.call: the SDK injects this parameter"),
    ],
)
def test_an_input_the_function_cannot_take_is_a_config_error(project: Project, input_yaml: str, message: str) -> None:
    """An unknown, missing or SDK-injected parameter is caught before any case runs, naming file, case and input."""
    path = project.eval_file("inputs", f"cases:\n  - id: a\n    input: {input_yaml}\n    assert: [{{contains: x}}]\n")
    with pytest.raises(ConfigError) as err:
        prepare(load_eval_file(path))
    assert str(err.value).startswith("evals/inputs.yaml: " + message.format(target=project.target("reply")))


def test_a_blank_approver_never_reaches_the_surfaces_own_approver(project: Project, spans: SpanRecorder) -> None:
    """run_plans refuses a blank approve_as; run_case treats it as none, so the gated case is skipped, not asked."""
    path = project.eval_file("blank", "cases:\n  - id: s\n    input: {amount: 5}\n    assert: [{equals: refunded 5}]\n",
                             function="refund")  # fmt: skip
    plan = prepare(load_eval_file(path))
    with pytest.raises(ConfigError, match="approve_as needs the approver's name"):
        run_plans([plan], approve_as="  ")
    result = run_case(plan, plan.file.cases[0], None, "  ")
    assert result.status == "skipped" and "--approve-as NAME" in result.reasons[0]
    [span] = spans.spans(project.surface("refund"))
    assert (span.attributes or {})["toolchain.approval.approver"] == "refusing_approvals"  # not deny_all, not "  "
