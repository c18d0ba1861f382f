"""Round trip through a real OTLP backend: Arize Phoenix started on 127.0.0.1 by the test.

A real subprocess makes governed calls and exits without any shutdown call; the spans are then
read back through Phoenix's own REST API and checked attribute by attribute. One test runs the
real OpenAI client (instrumented, against the local LLM stand-in) to check the span kinds Phoenix
shows and that its cumulative token counts add each model call once.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._subproc import run_python
from tests.llm_standin import StandIn, Usage
from toolchain_sdk.hashing import Hasher

pytestmark = pytest.mark.phoenix
pytest_plugins = ("tests.conftest_standin",)  # the LLM stand-in fixtures

DEFAULT_BIN = Path.home() / ".cache" / "toolchain_sdk" / "phoenix-venv" / "bin" / "phoenix"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def post_json(url: str, payload: object) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        return json.loads(resp.read())


_CUMULATIVE = ("Prompt", "Completion", "Total")


class Phoenix:
    def __init__(self, http_port: int, grpc_port: int) -> None:
        self.http_port, self.grpc_port = http_port, grpc_port
        self.base = f"http://127.0.0.1:{http_port}"

    def spans(self, project: str, trace_id: str, expect: int, deadline_s: float = 60) -> list[dict[str, Any]]:
        """Poll until ``expect`` spans of ``trace_id`` are ingested (ingestion is asynchronous)."""
        url = f"{self.base}/v1/projects/{project}/spans?trace_id={trace_id}&limit=100"
        end = time.monotonic() + deadline_s
        found: list[dict[str, Any]] = []
        while time.monotonic() < end:
            try:
                found = get_json(url)["data"]
            except urllib.error.HTTPError as exc:  # 404 until the project exists
                if exc.code != 404:
                    raise
            if len(found) >= expect:
                return found
            time.sleep(0.5)
        raise AssertionError(f"Phoenix has {len(found)} of {expect} spans of trace {trace_id}")

    def cumulative_tokens(self, span_ids: list[str]) -> dict[str, tuple[int, int, int]]:
        """(prompt, completion, total) tokens of each span plus its descendants, as Phoenix's UI shows them.

        The REST API has no cumulative counts; the UI's GraphQL API does. ``span_ids`` are the
        ``id`` fields of the REST answer (GraphQL node ids).
        """
        fields = "cumulativeTokenCountPrompt cumulativeTokenCountCompletion cumulativeTokenCountTotal"
        query = " ".join(f's{i}: node(id: "{sid}") {{ ... on Span {{ {fields} }} }}' for i, sid in enumerate(span_ids))
        answer = post_json(f"{self.base}/graphql", {"query": f"{{ {query} }}"})
        assert "errors" not in answer, answer["errors"]
        counts: dict[str, tuple[int, int, int]] = {}
        for i, sid in enumerate(span_ids):
            node = answer["data"][f"s{i}"]
            prompt, completion, total = (int(node[f"cumulativeTokenCount{part}"] or 0) for part in _CUMULATIVE)
            counts[sid] = (prompt, completion, total)
        return counts


@pytest.fixture(scope="module")
def phoenix() -> Iterator[Phoenix]:
    """Start `phoenix serve` on free loopback ports with every outbound feature off; stop it after."""
    binary = Path(os.environ.get("TOOLCHAIN_PHOENIX_BIN", DEFAULT_BIN))
    if not binary.exists():
        if os.environ.get("TOOLCHAIN_PHOENIX_BIN") or os.environ.get("CI"):
            pytest.fail(f"Phoenix binary {binary} is missing; `python3 dev.py test` installs it")
        pytest.skip("Arize Phoenix not installed; `python3 dev.py test` installs it")
    workdir = Path(tempfile.mkdtemp(prefix="phoenix-"))
    backend = Phoenix(free_port(), free_port())
    env = dict(
        os.environ,
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(backend.http_port),
        PHOENIX_GRPC_PORT=str(backend.grpc_port),
        PHOENIX_WORKING_DIR=str(workdir),
        PHOENIX_TELEMETRY_ENABLED="false",
        PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
        PHOENIX_DISABLE_AGENT_ASSISTANT="true",
        PHOENIX_AGENTS_DISABLE_BASH="true",
        PHOENIX_ALLOWED_SANDBOX_PROVIDERS="NONE",
        DO_NOT_TRACK="1",
    )
    log = (workdir / "phoenix.log").open("w")
    proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{backend.base}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > end:
                pytest.fail(f"Phoenix did not start: {(workdir / 'phoenix.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield backend
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


SCRIPT = """
import json, toolchain_sdk as tc
from opentelemetry import trace
tc.configure(service_name="phoenix-roundtrip", resource_attributes={"openinference.project.name": PROJECT}, **ARGS)

@tc.governed_call("support.refund_reply", owner="support-platform", model="gpt-4o-mini", provider="openai",
                  prompt=tc.Prompt("refund_policy", "3", "Refund {{ ticket }}?"), risk="medium",
                  fallback=lambda ticket: "fallback")
def reply(ticket, *, call):
    with trace.get_tracer("app").start_as_current_span("vendor.http"):
        call.record_usage({"id": "chatcmpl-9", "model": "gpt-4o-mini-2024-07-18",
                           "usage": {"prompt_tokens": 12, "completion_tokens": 5}})
        call.record_retrieval("kb-refunds", 7)
    return "Refund approved for " + ticket

@tc.governed_call("support.stream", model="gpt-4o-mini", provider="openai")
def stream(n):
    for i in range(n):
        yield f"tok{i} "

@tc.governed_call("support.fails", model="gpt-4o-mini", provider="openai")
def fails():
    raise ValueError("upstream 500")

with trace.get_tracer("app").start_as_current_span("request") as root:
    reply("T-1")
    "".join(stream(3))
    try:
        fails()
    except ValueError:
        pass
print(json.dumps({"trace_id": format(root.get_span_context().trace_id, "032x")}))
# no shutdown call: the exit flush must deliver the spans
"""


def run_and_read(
    phoenix: Phoenix, project: str, env: dict[str, str], args: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    proc = run_python(f"PROJECT = {project!r}\nARGS = {args or {}!r}\n" + SCRIPT, env=env)
    assert proc.returncode == 0, proc.stderr
    trace_id = json.loads(proc.stdout.strip().splitlines()[-1])["trace_id"]
    spans = phoenix.spans(project, trace_id, expect=5)
    return {s["name"]: s for s in spans}


def check_spans(by_name: dict[str, dict[str, Any]]) -> None:
    reply, stream, fails = by_name["support.refund_reply"], by_name["support.stream"], by_name["support.fails"]
    expected_reply = {
        "toolchain.surface": "support.refund_reply",
        "toolchain.owner": "support-platform",
        "toolchain.risk": "medium",
        "toolchain.outcome": "ok",
        "toolchain.capture.mode": "hash",
        "toolchain.hash.alg": "sha256",
        "toolchain.input.sha256": Hasher().hash_value({"ticket": "T-1"}),
        "toolchain.output.sha256": Hasher().hash_value("Refund approved for T-1"),
        "toolchain.prompt.sha256": Hasher().hash_value("Refund {{ ticket }}?"),
        "toolchain.retrieval.index": "kb-refunds",
        "toolchain.retrieval.version": "7",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.id": "chatcmpl-9",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.prompt.name": "refund_policy",
        "gen_ai.prompt.version": "3",
        "toolchain.model.mismatch": False,
    }
    got = reply["attributes"]
    assert {k: got.get(k) for k in expected_reply} == expected_reply
    assert by_name["vendor.http"]["parent_id"] == reply["context"]["span_id"]
    assert reply["parent_id"] == by_name["request"]["context"]["span_id"]
    assert stream["attributes"]["toolchain.output.sha256"] == Hasher().hash_value("tok0 tok1 tok2 ")
    assert stream["attributes"]["toolchain.stream.chunks"] == 3
    assert stream["attributes"]["toolchain.stream.completed"] is True
    assert fails["status_code"] == "ERROR"
    assert fails["attributes"]["error.type"] == "ValueError"
    assert fails["attributes"]["toolchain.outcome"] == "error"
    assert any(e["name"] == "exception" for e in fails["events"])


def test_spans_round_trip_through_phoenix_over_otlp_http(phoenix: Phoenix) -> None:
    """OTLP/HTTP export from a process that exits without shutdown arrives in Phoenix with every attribute."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": phoenix.base}
    check_spans(run_and_read(phoenix, "roundtrip-http", env))


def test_spans_round_trip_through_phoenix_over_otlp_grpc(phoenix: Phoenix) -> None:
    """The same spans arrive over OTLP/gRPC chosen by OTEL_EXPORTER_OTLP_PROTOCOL=grpc."""
    env = {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{phoenix.grpc_port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
    }
    check_spans(run_and_read(phoenix, "roundtrip-grpc", env))


def test_traces_endpoint_env_var(phoenix: Phoenix) -> None:
    """OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (a full URL) is honoured too."""
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{phoenix.base}/v1/traces"}
    assert "support.refund_reply" in run_and_read(phoenix, "roundtrip-traces-endpoint", env)


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_configure_arguments_choose_endpoint_and_protocol(phoenix: Phoenix, protocol: str) -> None:
    """configure(endpoint=..., protocol=...) alone (no OTEL_* env) sends the spans to the backend."""
    port = phoenix.http_port if protocol == "http/protobuf" else phoenix.grpc_port
    args = {"endpoint": f"http://127.0.0.1:{port}", "protocol": protocol}
    check_spans(run_and_read(phoenix, f"roundtrip-args-{protocol.split('/')[0]}", {}, args))


KINDS_SCRIPT = """
import json
import openai
from opentelemetry import trace
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
import toolchain_sdk as tc

tc.configure(service_name="phoenix-kinds", endpoint=ENDPOINT,
             resource_attributes={"openinference.project.name": PROJECT})
OpenAIInstrumentor().instrument()  # the official OTel OpenAI instrumentation: its span is the model call's
client = openai.OpenAI(base_url=BASE_URL, api_key="test", max_retries=0)

@tc.governed_call("kinds.uninstrumented", model="gpt-4o", provider="openai")
def uninstrumented(q, *, call=tc.INJECTED):
    call.record_usage({"model": "gpt-4o-2024-08-06", "usage": {"prompt_tokens": 11, "completion_tokens": 7}})
    return "answer"

@tc.governed_call("kinds.instrumented", model="gpt-4o", provider="openai")
def instrumented(q, *, call=tc.INJECTED):
    response = client.chat.completions.create(model=call.model, messages=[{"role": "user", "content": q}])
    call.record_usage(response)  # as an app would; the client span holds the usage, so it is not repeated
    return response.choices[0].message.content

@tc.governed_call("kinds.switched_off", model="gpt-4o", provider="openai", fallback=lambda q: "template")
def switched_off(q):
    raise AssertionError("the kill switch is on: the fallback answers")

with trace.get_tracer("app").start_as_current_span("request") as root:
    uninstrumented("a")
    instrumented("b")
    switched_off("c")
print(json.dumps({"trace_id": format(root.get_span_context().trace_id, "032x")}))
"""

SURFACES = ("kinds.uninstrumented", "kinds.instrumented", "kinds.switched_off")
TOKEN_ATTRIBUTES = (
    "llm.token_count.prompt",
    "llm.token_count.completion",
    "llm.token_count.total",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
)


def test_span_kinds_and_tokens_counted_once_in_phoenix(phoenix: Phoenix, standin: StandIn) -> None:
    """Phoenix shows LLM / CHAIN (over the client's LLM span) / GUARDRAIL and counts each model call's tokens once."""
    project = "kinds"
    code = f"PROJECT = {project!r}\nENDPOINT = {phoenix.base!r}\nBASE_URL = {standin.base_url!r}\n" + KINDS_SCRIPT
    env = {
        "TOOLCHAIN_KILL": "kinds.switched_off",
        "OTEL_METRICS_EXPORTER": "none",  # Phoenix takes traces only (/v1/metrics answers 405)
        "TOOLCHAIN_STRICT": "1",
    }
    with standin.answering(usage=Usage(input_tokens=11, output_tokens=7, cache_read_tokens=0, reasoning_tokens=0)):
        proc = run_python(code, env=env)
    assert proc.returncode == 0, proc.stderr
    trace_id = json.loads(proc.stdout.strip().splitlines()[-1])["trace_id"]
    spans = phoenix.spans(project, trace_id, expect=5)
    by_name = {s["name"]: s for s in spans}
    assert len(by_name) == 5, sorted(by_name)
    llm, chain, guard, root = (by_name[n] for n in (*SURFACES, "request"))
    [child] = [s for s in spans if s["parent_id"] == chain["context"]["span_id"]]

    # (a) no instrumentation: the governed span is the model call's only record
    assert llm["span_kind"] == "LLM"
    tokens = {k: llm["attributes"].get(k) for k in TOKEN_ATTRIBUTES}
    assert tokens == dict(zip(TOKEN_ATTRIBUTES, (11, 7, 18, 11, 7), strict=True))

    # (b) the client span beneath holds the model call and its tokens; the governed span none
    assert chain["span_kind"] == "CHAIN"
    assert child["span_kind"] == "LLM"
    assert child["attributes"]["gen_ai.operation.name"] == "chat"
    assert (child["attributes"]["llm.token_count.prompt"], child["attributes"]["llm.token_count.completion"]) == (11, 7)
    assert not set(TOKEN_ATTRIBUTES) & set(chain["attributes"])
    assert chain["attributes"]["gen_ai.response.model"] == "gpt-4o-2024-08-06"  # kept for the mismatch check

    # (c) the kill switch's fallback: no model call, so no tokens and no response model
    assert guard["span_kind"] == "GUARDRAIL"
    assert guard["attributes"]["toolchain.outcome"] == "fallback"
    assert not set(TOKEN_ATTRIBUTES) & set(guard["attributes"])
    assert "gen_ai.response.model" not in guard["attributes"]

    # Phoenix's cumulative count (a span's tokens plus its descendants'): each model call once
    ids = [s["id"] for s in (llm, chain, child, guard, root)]
    cumulative = phoenix.cumulative_tokens(ids)
    assert cumulative[chain["id"]] == cumulative[child["id"]] == (11, 7, 18)  # not 22/14/36
    assert cumulative[llm["id"]] == (11, 7, 18)
    assert cumulative[guard["id"]] == (0, 0, 0)
    assert cumulative[root["id"]] == (22, 14, 36)  # two model calls, each counted once
