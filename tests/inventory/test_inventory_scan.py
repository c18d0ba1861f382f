"""The static scan over the fixture code base: every decorator form, constants, dynamic values, errors."""

from __future__ import annotations

from html import escape as html_escape
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.inventory._fixture import APP, PROMPTS, SHOWN, line_of, write
from toolchain_sdk.inventory import DYNAMIC, ControlSheet, SurfaceRow, _scan, control_sheet
from toolchain_sdk.inventory._scan import scan_paths


def _sheet() -> ControlSheet:
    return control_sheet([APP.relative_to(Path.cwd())] if APP.is_relative_to(Path.cwd()) else [APP],
                         prompts_dir=PROMPTS, workers=1)  # fmt: skip


def _rows() -> dict[str, SurfaceRow]:
    return {r.surface: r for r in _sheet().surfaces}


def test_finds_every_surface_of_the_fixture_and_nothing_else() -> None:
    """Decorators under three import forms, methods, class/static methods and an async block are all found."""
    assert sorted(_rows()) == [
        "sales.classify", "sales.dynamic", "sales.pitch", "sales.security_answer", "sales.static_answer",
        "support.refund_reply", "support.triage",
    ]  # fmt: skip


def test_file_line_and_qualified_function_of_each_form() -> None:
    """Each row names its file as scanned, the decorator's (or with statement's) line, and the qualified name."""
    rows = _rows()
    expect = {
        "sales.pitch": ("sales.py", line_of("sales.py", '@gc("sales.pitch"'), "Assistant.pitch"),
        "sales.classify": ("sales.py", line_of("sales.py", '@gc("sales.classify"'), "Assistant.classify"),
        "sales.static_answer": ("sales.py", line_of("sales.py", "toolchain_sdk.governed_call("),
                                "Assistant.static_answer"),
        "sales.security_answer": ("sales.py", line_of("sales.py", "async with governed("), "security_answer"),
        "support.refund_reply": ("support/replies.py", line_of("support/replies.py", "@tc.governed_call("),
                                 "draft_refund_reply"),
    }  # fmt: skip
    for surface, (file, line, function) in expect.items():
        row = rows[surface]
        assert (row.file, row.line, row.function) == (f"{SHOWN}/{file}", line, function), surface
        assert row.source == "static"


def test_constants_from_another_module_are_resolved_even_when_the_pre_filter_skips_it() -> None:
    """constants.py mentions no SDK name, yet its OWNER, HIGH and concatenated surface names resolve."""
    scan = scan_paths([APP], workers=1)
    assert scan.read < scan.files  # the pre-filter skipped constants.py and templates.py
    rows = _rows()
    refund = rows["support.refund_reply"]
    assert (refund.owner, refund.risk) == ("support-platform", "high")
    assert rows["support.triage"].owner == "support-platform"  # module alias: shared.OWNER (f-string surface)


def test_declared_controls_are_read() -> None:
    """Approval mode and reason, kill flag and fallback (qualified through imports), prompt, capture, defaults."""
    rows = _rows()
    refund = rows["support.refund_reply"]
    assert refund.approval == "before"  # through a module-level REVIEW = tc.approval.require(...)
    assert refund.fallback == "app.support.templates.refund_template"
    assert refund.kill_flag == "support.refund_reply.kill"
    assert (refund.prompt, refund.prompt_version) == ("support_refund_policy@production", "3")
    assert refund.capture == "full"
    assert "move label support_refund_policy@production" in (refund.rollback or "")
    classify = rows["sales.classify"]
    assert (classify.approval, classify.approval_reason) == ("not_required", "labels only, reviewed weekly")
    pitch = rows["sales.pitch"]
    assert (pitch.risk, pitch.capture, pitch.data_class, pitch.approval) == ("low", "hash", "internal", "none")
    assert pitch.kill_flag == "sales.pitch.kill" and pitch.fallback is None
    assert rows["sales.static_answer"].data_class == "public"


def test_arguments_only_known_at_run_time_are_dynamic_never_guessed() -> None:
    """owner=team() and risk=os.environ[...] are reported as <dynamic>."""
    row = _rows()["sales.dynamic"]
    assert (row.owner, row.risk, row.model) == (DYNAMIC, DYNAMIC, "claude-x")


def test_audit_sink_configured_in_code_is_seen() -> None:
    """configure(audit=tc.audit.jsonl(...)) in main.py gives every surface the jsonl audit kind."""
    assert {r.audit for r in _rows().values()} == {"jsonl"}


def test_unmanaged_calls_are_listed_with_file_and_line() -> None:
    """Every client library form outside a governed region is listed; managed and unresolved calls are not."""
    found = {(u.file.rsplit("/", 1)[1], u.line, u.library, u.call) for u in _sheet().unmanaged}
    assert found == {
        ("replies.py", line_of("support/replies.py", "client.chat.completions.create", 2), "openai",
         "client.chat.completions.create"),
        ("sales.py", line_of("sales.py", "return anthropic.Anthropic().messages.create"), "anthropic",
         "anthropic.Anthropic().messages.create"),
        ("chains.py", line_of("chains.py", "llm.invoke("), "langchain", "llm.invoke"),
        ("chains.py", line_of("chains.py", "chat.ainvoke("), "langchain", "chat.ainvoke"),
        ("chains.py", line_of("chains.py", "bedrock.converse("), "boto3", "bedrock.converse"),
        ("chains.py", line_of("chains.py", "runtime.invoke_model("), "boto3", "runtime.invoke_model"),
        ("chains.py", line_of("chains.py", "gemini.models.generate_content("), "google.genai",
         "gemini.models.generate_content"),
        ("chains.py", line_of("chains.py", "litellm.completion("), "litellm", "litellm.completion"),
        ("chains.py", line_of("chains.py", "await acompletion("), "litellm", "acompletion"),
    }  # fmt: skip


def test_a_file_that_does_not_parse_is_listed_and_the_scan_goes_on() -> None:
    """broken.py is under errors with its line; the other files' surfaces are still there."""
    sheet = _sheet()
    assert [(e.file, e.line > 0, e.message.startswith("SyntaxError")) for e in sheet.errors] == [
        (f"{SHOWN}/broken.py", True, True)
    ]
    assert "broken.surface" not in {r.surface for r in sheet.surfaces}


def test_parallel_scan_finds_what_the_serial_scan_finds(tmp_path: Path) -> None:
    """Parsed by a process pool (enough files pass the pre-filter), the results equal the in-process scan's."""
    files = {"pkg/__init__.py": "", "pkg/names.py": 'OWNER = "team-x"\n'}
    for i in range(260):
        files[f"pkg/m{i:03d}.py"] = (
            "import toolchain_sdk as tc\nfrom openai import OpenAI\nfrom pkg.names import OWNER\nc = OpenAI()\n"
            f'@tc.governed_call("s.n{i}", owner=OWNER)\ndef f():\n    return c.chat.completions.create()\n'
            "def g():\n    return c.embeddings.create()\n"
            if i % 5 == 0 else f"# governed elsewhere\ndef plain_{i}(x):\n    return x + {i}\n"
        )  # fmt: skip
    write(tmp_path, files)
    assert scan_paths([tmp_path], workers=2).workers == 2  # every file passes the pre-filter: the pool parses them
    serial = control_sheet([tmp_path], workers=1, config=None)
    parallel = control_sheet([tmp_path], workers=2, config=None)
    assert [r.to_json() for r in parallel.surfaces] == [r.to_json() for r in serial.surfaces]
    assert parallel.unmanaged == serial.unmanaged
    assert len(serial.surfaces) == 52 and len(serial.unmanaged) == 52
    assert {r.owner for r in serial.surfaces} == {"team-x"}


def test_receivers_resolve_through_function_and_module_assignments(tmp_path: Path) -> None:
    """A local assignment shadows a module one; a parameter is unknown; a with-bound client is known."""
    write(tmp_path, {"m.py": (
        "from openai import OpenAI, AsyncOpenAI\nimport anthropic\nclient = OpenAI()\n"
        "def a():\n    return client.chat.completions.create()\n"
        "def b(client):\n    return client.chat.completions.create()\n"
        "def c():\n    client = object()\n    return client.chat.completions.create()\n"
        "async def d():\n    async with anthropic.AsyncAnthropic() as cl:\n        return await cl.messages.create()\n"
        "def e():\n    return client.models.list()\n"
    )})  # fmt: skip
    found = [(u.line, u.call) for u in control_sheet([tmp_path], workers=1).unmanaged]
    assert found == [(5, "client.chat.completions.create"), (13, "cl.messages.create")]


def test_calls_inside_a_governed_block_or_function_are_managed(tmp_path: Path) -> None:
    """A call under `with tc.governed(...)` or in a governed function (even nested) is not reported."""
    write(tmp_path, {"m.py": (
        "import toolchain_sdk as tc\nimport litellm\n"
        "def a():\n    with tc.governed('x.a', owner='o'):\n        litellm.completion()\n    litellm.completion()\n"
        "@tc.governed_call('x.b', owner='o')\ndef b():\n    def inner():\n        return litellm.acompletion()\n"
        "    return inner()\n"
    )})  # fmt: skip
    sheet = control_sheet([tmp_path], workers=1)
    assert [(u.line, u.call) for u in sheet.unmanaged] == [(6, "litellm.completion")]
    assert sorted(r.surface for r in sheet.surfaces) == ["x.a", "x.b"]


def test_starred_options_make_unwritten_controls_dynamic(tmp_path: Path) -> None:
    """`**opts` may set any option at run time: owner and risk not written out are <dynamic>."""
    write(tmp_path, {"m.py": "import toolchain_sdk as tc\nOPTS = {}\n@tc.governed_call('x.s', model='m', **OPTS)\n"
                             "def f():\n    pass\n"})  # fmt: skip
    row = control_sheet([tmp_path], workers=1).surfaces[0]
    assert (row.owner, row.risk, row.model) == (DYNAMIC, DYNAMIC, "m")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(owner=st.text(min_size=1, max_size=40), via_constant=st.booleans())
def test_any_literal_owner_is_read_back_exactly(tmp_path: Path, owner: str, via_constant: bool) -> None:
    """Whatever text the owner is, written literally or through a constant, the sheet shows it unchanged."""
    value = "OWNER" if via_constant else repr(owner)
    write(tmp_path, {"m.py": f"import toolchain_sdk as tc\nOWNER = {owner!r}\n"
                             f"@tc.governed_call('x.h', owner={value})\ndef f():\n    pass\n"})  # fmt: skip
    assert control_sheet([tmp_path], workers=1).surfaces[0].owner == owner


def test_surfaces_nested_in_statements_are_found_in_files_without_client_calls(tmp_path: Path) -> None:
    """With no client library named, only statements are walked: nested defs, blocks in loops/try/if still count."""
    write(tmp_path, {"m.py": (
        "import toolchain_sdk as tc\n"
        "if True:\n    class A:\n        class B:\n            @tc.governed_call('n.deep', owner='o')\n"
        "            def f(self):\n                pass\n"
        "def g(items):\n    for i in items:\n        try:\n            with tc.governed('n.loop', owner='o'):\n"
        "                pass\n        except ValueError:\n            with tc.governed('n.except', owner='o'):\n"
        "                pass\n"
    ), "start.py": "import toolchain_sdk as tc\ntc.configure(audit=tc.audit.otlp())\n"})  # fmt: skip
    rows = {r.surface: r for r in control_sheet([tmp_path], workers=1).surfaces}
    assert {k: (v.line, v.function) for k, v in rows.items()} == {
        "n.deep": (5, "A.B.f"), "n.loop": (11, "g"), "n.except": (14, "g")}  # fmt: skip
    assert {r.audit for r in rows.values()} == {"otlp"}


def test_a_call_keeps_its_shape_when_only_some_arguments_are_local(tmp_path: Path) -> None:
    """require(approver=make(api)) inside a function is still approval 'before'; owner=team stays <dynamic>."""
    write(tmp_path, {"m.py": (
        "import toolchain_sdk as tc\n"
        "def build(api, team):\n"
        "    @tc.governed_call('x.built', owner=team, risk='high', approval=tc.approval.require(approver=api))\n"
        "    def f():\n        pass\n"
        "    @tc.governed_call('x.after', owner='o' + '-' + team,\n"
        "                      approval=tc.approval.require(when='after', approver=api))\n"
        "    def g():\n        pass\n"
    )})  # fmt: skip
    rows = {r.surface: r for r in control_sheet([tmp_path], workers=1).surfaces}
    built = rows["x.built"]
    assert (built.approval, built.owner, built.function) == ("before", DYNAMIC, "build.<locals>.f")
    assert (rows["x.after"].approval, rows["x.after"].owner) == ("after", DYNAMIC)


def test_every_named_client_call_form_is_an_unmanaged_call_site(tmp_path: Path) -> None:
    """Async OpenAI, the openai module's client, Anthropic streams, genai under .aio, Bedrock by keyword, LangChain."""
    write(tmp_path, {"m.py": (
        "import openai\nimport boto3\nfrom openai import AsyncOpenAI\nfrom anthropic import AsyncAnthropic\n"
        "from google.genai import Client\nfrom langchain_anthropic import ChatAnthropic\n"
        "from litellm import completion as complete\n"
        "aio = AsyncOpenAI()\n"
        "async def a():\n"
        "    await aio.chat.completions.create()\n"
        "    await aio.responses.create()\n"
        "    await aio.embeddings.create()\n"
        "    openai.chat.completions.create()\n"
        "    async with AsyncAnthropic().messages.stream(model='x') as s:\n"
        "        pass\n"
        "    await Client().aio.models.generate_content(model='g')\n"
        "    boto3.client(service_name='bedrock-runtime').converse(modelId='m')\n"
        "    ChatAnthropic(model='c').stream('q')\n"
        "    complete(model='m')\n"
        "    boto3.client('sagemaker-runtime').invoke_model()\n"
    )})  # fmt: skip
    found = [(u.line, u.library, u.call) for u in control_sheet([tmp_path], workers=1).unmanaged]
    assert found == [
        (10, "openai", "aio.chat.completions.create"),
        (11, "openai", "aio.responses.create"),
        (12, "openai", "aio.embeddings.create"),
        (13, "openai", "openai.chat.completions.create"),
        (14, "anthropic", "AsyncAnthropic().messages.stream"),
        (16, "google.genai", "Client().aio.models.generate_content"),
        (17, "boto3", "boto3.client(service_name='bedrock-runtime').converse"),
        (18, "langchain", "ChatAnthropic(model='c').stream"),
        (19, "litellm", "complete"),
    ]  # the sagemaker client on line 20 is not a Bedrock runtime: not reported


def test_governed_blocks_and_decorators_under_every_import_form(tmp_path: Path) -> None:
    """governed / governed_call imported bare, aliased, through the module path or its submodule are all found."""
    write(tmp_path, {"m.py": (
        "import toolchain_sdk\nimport toolchain_sdk.governed as gm\nfrom toolchain_sdk import governed as g\n"
        "from toolchain_sdk import governed_call\nfrom toolchain_sdk.governed import governed_call as deco\n"
        "def f():\n"
        "    with g('i.alias', owner='o'):\n        pass\n"
        "    with toolchain_sdk.governed('i.full', owner='o'):\n        pass\n"
        "    with gm.governed('i.submodule', owner='o'):\n        pass\n"
        "@governed_call('i.bare', owner='o')\ndef h():\n    pass\n"
        "@deco('i.deco', owner='o')\ndef k():\n    pass\n"
    )})  # fmt: skip
    rows = {r.surface: (r.line, r.function) for r in control_sheet([tmp_path], workers=1).surfaces}
    assert rows == {"i.alias": (7, "f"), "i.full": (9, "f"), "i.submodule": (11, "f"), "i.bare": (13, "h"),
                    "i.deco": (16, "k")}  # fmt: skip


def test_a_file_the_pre_filter_skips_is_still_listed_when_it_does_not_parse(tmp_path: Path) -> None:
    """In a small code base a broken file that names neither the SDK nor a client is under errors, with its line."""
    write(tmp_path, {"ok.py": "import toolchain_sdk as tc\n@tc.governed_call('k.s', owner='o')\ndef f():\n    pass\n",
                     "plain.py": "x = 1\ndef oops(:\n    pass\n"})  # fmt: skip
    sheet = control_sheet([tmp_path], workers=1)
    assert [(e.file.rsplit("/", 1)[1], e.line) for e in sheet.errors] == [("plain.py", 2)]
    assert [r.surface for r in sheet.surfaces] == ["k.s"]


def test_a_constants_module_that_does_not_parse_is_listed_once_and_its_values_stay_dynamic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the syntax-check budget skipped files are not parsed; one parsed on demand for a constant still reports."""
    monkeypatch.setattr(_scan, "SYNTAX_CHECK_BYTES", 0)  # as in a large code base
    write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/names.py": "OWNER = (\n",
        "pkg/other.py": "def oops(:\n",
        "pkg/a.py": "import toolchain_sdk as tc\nfrom pkg.names import OWNER\n"
                    "@tc.governed_call('c.a', owner=OWNER)\ndef f():\n    pass\n"
                    "@tc.governed_call('c.b', owner=OWNER)\ndef g():\n    pass\n",
    })  # fmt: skip
    sheet = control_sheet([tmp_path], workers=1)
    assert [(e.file.rsplit("/", 1)[1], e.line) for e in sheet.errors] == [("names.py", 1)]  # not other.py
    assert {r.owner for r in sheet.surfaces} == {DYNAMIC}
    assert [v.rule for v in sheet.violations] == ["dynamic-control", "dynamic-control"]


def test_names_bound_in_a_class_body_are_the_class_ones_for_its_decorators_only(tmp_path: Path) -> None:
    """A class-level OWNER shadows the module's for method decorators, not inside methods; reassigned is dynamic."""
    write(tmp_path, {"c.py": (
        "import toolchain_sdk as tc\nOWNER = 'module-team'\ndef tmpl(x):\n    return x\n"
        "class Desk:\n"
        "    OWNER = 'desk-team'\n    RISK = 'medium'\n    N = 'low'\n    N = 'high'\n"
        "    def tmpl(self, x):\n        return x\n"
        "    @tc.governed_call('c.a', owner=OWNER, risk=RISK, fallback=tmpl)\n    def a(self):\n        pass\n"
        "    @tc.governed_call('c.b', owner='o', risk=N)\n    def b(self):\n        pass\n"
        "    def c(self):\n"
        "        @tc.governed_call('c.c', owner=OWNER, fallback=tmpl)\n        def inner():\n            pass\n"
    )})  # fmt: skip
    rows = {r.surface: (r.owner, r.risk, r.fallback) for r in control_sheet([tmp_path], workers=1).surfaces}
    assert rows == {
        "c.a": ("desk-team", "medium", "c.Desk.tmpl"),
        "c.b": ("o", DYNAMIC, None),
        "c.c": ("module-team", "low", "c.tmpl"),
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(owner=st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30))
def test_any_owner_text_survives_json_and_csv_and_is_escaped_in_html(tmp_path: Path, owner: str) -> None:
    """Quotes, commas, newlines or markup in an owner come back unchanged from JSON and CSV, and inert in HTML."""
    import csv
    import io
    import json

    from toolchain_sdk.inventory import render

    code = f"import toolchain_sdk as tc\n@tc.governed_call('x.o', owner={owner!r})\ndef f():\n    pass\n"
    sheet = control_sheet([write(tmp_path, {"m.py": code})], workers=1)
    assert json.loads(render(sheet, "json"))["surfaces"][0]["owner"] == owner
    assert next(csv.DictReader(io.StringIO(render(sheet, "csv"))))["owner"] == owner
    page = render(sheet, "html")
    assert f">{html_escape(owner)}</td>" in page
    assert page.count("<script") == 1 and page.count("<tr") == 2  # the header and one row, whatever the owner


def test_governed_call_applied_by_hand_is_a_surface_and_manages_the_function_it_wraps(tmp_path: Path) -> None:
    """`f = tc.governed_call(...)(raw)` is a surface at that line; calls inside raw are no longer unmanaged."""
    write(tmp_path, {"w.py": (
        "import toolchain_sdk as tc\nfrom openai import OpenAI\nclient = OpenAI()\n"
        "def raw(q):\n    return client.chat.completions.create()\n"
        "def other(q):\n    return client.responses.create()\n"
        "answer = tc.governed_call('w.answer', owner='t')(raw)\n"
        "create = tc.governed_call('w.create', owner='t')(client.embeddings.create)\n"
    ), "plain.py": (
        "import toolchain_sdk as tc\nfrom lib import tool\nrun = tc.governed_call('w.plain', owner='o')(tool.run)\n"
    )})  # fmt: skip
    sheet = control_sheet([tmp_path], workers=1)
    rows = {r.surface: (r.file.rsplit("/", 1)[1], r.line, r.function) for r in sheet.surfaces}
    assert rows == {"w.answer": ("w.py", 8, "raw"), "w.create": ("w.py", 9, "client.embeddings.create"),
                    "w.plain": ("plain.py", 3, "lib.tool.run")}  # fmt: skip
    assert [(u.line, u.call) for u in sheet.unmanaged] == [(7, "client.responses.create")]
