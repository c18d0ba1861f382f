#!/usr/bin/env python3
"""Regenerate the Phoenix screenshots in docs/img: governed calls as Arize Phoenix shows them.

    python3 scripts/phoenix_screenshot.py            # writes docs/img/phoenix-spans.png and phoenix-trace.png
    python3 scripts/phoenix_screenshot.py --keep     # ... and leaves Phoenix running to look around

What it does, all on 127.0.0.1:

1. starts ``phoenix serve`` on free ports with a temp working dir and every outbound feature off
   (the same environment as ``tests/test_phoenix.py``);
2. starts the LLM stand-in (``tests/llm_standin.py``) so the real ``openai`` client has a server;
3. as a service ``support-bot``, makes four governed requests (see ``send_calls``): a model call
   no instrumentation covers (LLM), one through the instrumented OpenAI client (CHAIN over the
   client's LLM span), a kill-switch fallback (GUARDRAIL) and a nested one (CHAIN over both kinds);
4. waits until Phoenix has ingested every span, then screenshots, with headless Chromium
   (``/usr/bin/chromium``; ``apt-get install -y chromium``), the project's Traces list with every
   request expanded into its spans (columns trimmed to kind, name, latency, tokens, cost:
   ``phoenix-spans.png``) and the nested request's trace view (``phoenix-trace.png``). Chromium is
   driven over ``--remote-debugging-pipe`` (the standard library is enough) to trim the columns,
   expand the rows and wait for them to render; a dead proxy and host-resolver rules keep it
   offline, and its profile is fresh;
5. stops Phoenix.

Needs the dev venv (``python3 dev.py test`` creates it; the script re-runs itself with
``.venv/bin/python``), Phoenix (``$TOOLCHAIN_PHOENIX_BIN``, else the one ``dev.py`` installs in
``~/.cache/toolchain_sdk/phoenix-venv``) and Chromium.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
DEFAULT_PHOENIX = Path.home() / ".cache" / "toolchain_sdk" / "phoenix-venv" / "bin" / "phoenix"
PROJECT = "support-bot"
WINDOW = (1400, 900)

# The columns of the Traces list (ids of Phoenix's table) hidden so that kind, name, latency and
# tokens fit in the window: Phoenix's own hidden defaults plus input, output, error, user,
# annotations and start time. Phoenix keeps them in localStorage under STORE_KEY; a Phoenix that
# names them otherwise just shows its default columns.
STORE_KEY = "arize-phoenix-tracing-{project_id}-traces"
HIDDEN_COLUMNS = (
    "metadata",
    "spanNotes",
    "traceNotes",
    "spanId",
    "traceId",
    "traceAnnotations",
    "input_value",
    "output_value",
    "error",
    "userId",
    "annotations",
    "startTime",
)


# --- Phoenix -----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


@contextlib.contextmanager
def phoenix_server(binary: Path, keep: bool) -> Iterator[str]:
    """``phoenix serve`` on free loopback ports, everything outbound off; yields its base URL."""
    if not binary.exists():
        sys.exit(f"Phoenix not found at {binary}: `python3 dev.py test` installs it, or set TOOLCHAIN_PHOENIX_BIN")
    workdir = Path(tempfile.mkdtemp(prefix="phoenix-shot-"))
    http_port, grpc_port = free_port(), free_port()
    env = dict(
        os.environ,
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(http_port),
        PHOENIX_GRPC_PORT=str(grpc_port),
        PHOENIX_WORKING_DIR=str(workdir),
        PHOENIX_TELEMETRY_ENABLED="false",
        PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
        PHOENIX_DISABLE_AGENT_ASSISTANT="true",
        PHOENIX_AGENTS_DISABLE_BASH="true",
        PHOENIX_ALLOWED_SANDBOX_PROVIDERS="NONE",
        DO_NOT_TRACK="1",
    )
    base = f"http://127.0.0.1:{http_port}"
    log_path = workdir / "phoenix.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            print(f"starting Phoenix on {base} (about 20 s) ...", flush=True)
            wait_for(lambda: _healthy(base) or proc.poll() is not None, 180, "Phoenix to start")
            if proc.poll() is not None:
                sys.exit(f"Phoenix did not start:\n{log_path.read_text()[-2000:]}")
            yield base
            if keep:
                print(f"Phoenix stays up at {base} (pid {proc.pid}); press Ctrl-C to stop it", flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    proc.wait()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            shutil.rmtree(workdir, ignore_errors=True)


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            sys.exit(f"gave up waiting for {what} after {timeout_s:.0f} s")
        time.sleep(0.5)


def ingested(base: str, trace_ids: list[str], expect: int) -> Callable[[], bool]:
    """A predicate: Phoenix has ``expect`` spans of these traces in the project (ingestion is asynchronous)."""

    def check() -> bool:
        count = 0
        for trace_id in trace_ids:
            try:
                count += len(get_json(f"{base}/v1/projects/{PROJECT}/spans?trace_id={trace_id}&limit=100")["data"])
            except urllib.error.HTTPError as exc:  # 404 until the project exists
                if exc.code != 404:
                    raise
        return count >= expect

    return check


# --- the governed calls ----------------------------------------------------------------------------
def send_calls(base: str, standin_url: str) -> tuple[list[str], str, int]:
    """Make the governed calls; returns the trace ids, the nested request's trace id and the span count."""
    import openai
    from opentelemetry import trace
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    import toolchain_sdk as tc
    from tests.llm_standin import StandIn, Usage

    os.environ["OTEL_METRICS_EXPORTER"] = "none"  # Phoenix takes traces only
    os.environ["TOOLCHAIN_KILL"] = "support.refund_reply"  # the break-glass switch, read on every call
    tc.configure(service_name=PROJECT, endpoint=base, resource_attributes={"openinference.project.name": PROJECT})
    OpenAIInstrumentor().instrument()  # type: ignore[no-untyped-call]  # its "chat gpt-4o" span: the model call
    client = openai.OpenAI(base_url=f"{standin_url}/v1", api_key="stand-in", max_retries=0)

    def usage(input_tokens: int, output_tokens: int) -> dict[str, str]:
        return StandIn.headers(usage=Usage(input_tokens, output_tokens, cache_read_tokens=0, reasoning_tokens=0))

    def plain_http(model: str, question: str, tokens: tuple[int, int]) -> dict[str, Any]:
        """A model call over plain HTTP: no client instrumentation sees it."""
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": question}]}).encode()
        headers = {"content-type": "application/json", **usage(*tokens)}
        request = urllib.request.Request(f"{standin_url}/v1/chat/completions", data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
        return answer

    @tc.governed_call("support.answer_faq", owner="support-platform", model="gpt-4o-mini", provider="openai")
    def answer_faq(question: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
        response = plain_http(call.model or "", question, (412, 96))
        call.record_usage(response)  # the governed span is this model call's only record: LLM
        return str(response["choices"][0]["message"]["content"])

    @tc.governed_call("support.draft_reply", owner="support-platform", model="gpt-4o", provider="openai")
    def draft_reply(ticket: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
        response = client.chat.completions.create(
            model=call.model or "", messages=[{"role": "user", "content": ticket}], extra_headers=usage(1250, 310)
        )
        call.record_usage(response)  # the client span below holds the usage: CHAIN, tokens once
        return str(response.choices[0].message.content)

    @tc.governed_call(
        "support.refund_reply",
        owner="support-platform",
        model="gpt-4o",
        provider="openai",
        risk="medium",
        fallback=lambda ticket: "A colleague will get back to you about your refund.",
    )
    def refund_reply(ticket: str) -> str:
        raise AssertionError("switched off by TOOLCHAIN_KILL: the fallback answers")

    @tc.governed_call("support.classify_ticket", owner="support-platform", model="gpt-4o-mini", provider="openai")
    def classify(ticket: str, *, call: tc.GovernedCall = tc.INJECTED) -> str:
        call.record_usage(plain_http(call.model or "", ticket, (180, 4)))
        return "billing"

    @tc.governed_call("support.handle_ticket", owner="support-platform")
    def handle_ticket(ticket: str) -> str:
        classify(ticket)
        return draft_reply(ticket)

    tracer = trace.get_tracer("support-bot.web")
    trace_ids: list[str] = []
    requests: list[tuple[str, Callable[[], str]]] = [
        ("GET /faq", lambda: answer_faq("How do I reset my password?")),
        ("POST /reply", lambda: draft_reply("Ticket 4411: my invoice is wrong")),
        ("POST /refund", lambda: refund_reply("Ticket 4412: refund order 991")),
        ("POST /ticket", lambda: handle_ticket("Ticket 4413: charged twice")),
    ]
    for route, run in requests:
        with tracer.start_as_current_span(route) as root:
            run()
        trace_ids.append(format(root.get_span_context().trace_id, "032x"))
        time.sleep(0.3)  # distinct start times keep the list in request order
    tc.shutdown()
    # spans: 4 request roots + faq + (reply + chat) + refund + (ticket + classify + reply + chat)
    return trace_ids, trace_ids[-1], 4 + 1 + 2 + 1 + 4


# --- headless Chromium over the DevTools pipe --------------------------------------------------------
class Browser:
    """Headless Chromium driven over ``--remote-debugging-pipe`` (fd 3 in, fd 4 out, NUL-separated JSON)."""

    def __init__(self, chromium: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            "--proxy-server=http://127.0.0.1:9",  # nothing leaves the machine ...
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # ... but Phoenix on 127.0.0.1
            "--remote-debugging-pipe",
            "about:blank",
        ]

        # Copies above 10 first, so that moving them to 3 and 4 in the child cannot overwrite one another.
        child_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def wire() -> None:  # in the child, before exec: only two dup2 calls
            os.dup2(child_r, 3)
            os.dup2(child_w, 4)

        try:
            self.proc = subprocess.Popen(
                args, preexec_fn=wire, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        finally:
            os.close(child_r)
            os.close(child_w)
        self._buffer = b""
        self._next_id = 0
        pages = [t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page"]
        target = pages[0]["targetId"] if pages else self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.page(
            "Emulation.setDeviceMetricsOverride", width=WINDOW[0], height=WINDOW[1], deviceScaleFactor=1, mobile=False
        )

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer (events in between are ignored)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        return self.send(method, self.session, **params)

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def evaluate(self, expression: str) -> Any:
        return self.page("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def open(self, url: str, ready: str, timeout_s: float = 60) -> None:
        """Go to ``url`` and wait until the JavaScript expression ``ready`` is true, then let it settle."""
        self.page("Page.navigate", url=url)
        wait_for(lambda: bool(self.evaluate(ready)), timeout_s, f"{url} to render")
        time.sleep(1.5)  # charts and fonts finish drawing

    def click(self, selector: str) -> None:
        """Click the element ``selector`` finds, if any (a Phoenix without it keeps its layout)."""
        self.evaluate(f"document.querySelector({json.dumps(selector)})?.click()")
        time.sleep(1)

    def expand_rows(self, rounds: int = 10) -> None:
        """Open every collapsed row of a tree table (children appear only once their parent is open)."""
        collapsed = 'tbody button[aria-label="Expand row"]:has(i[data-expanded="false"])'
        for _ in range(rounds):
            if not self.evaluate(f"[...document.querySelectorAll({json.dumps(collapsed)})].map(b => b.click()).length"):
                return
            time.sleep(1.5)  # each level's children load from the server

    def click_text(self, selector: str, text: str) -> None:
        """Click the first element ``selector`` finds whose text is ``text``, if any."""
        among = f"[...document.querySelectorAll({json.dumps(selector)})]"
        found = f"{among}.find(e => e.innerText.trim() === {json.dumps(text)})"
        self.evaluate(f"{found}?.click()")
        time.sleep(1)

    def screenshot(self, path: Path) -> None:
        data = self.page("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._to_browser)
        os.close(self._from_browser)


def showing(*texts: str) -> str:
    """A JavaScript test: the page shows every one of ``texts``."""
    wanted = " && ".join(f"document.body.innerText.includes({json.dumps(t)})" for t in texts)
    return f"!!document.body && {wanted}"


def take_screenshots(chromium: str, base: str, nested_trace: str, out: Path) -> None:
    project_id = next(p["id"] for p in get_json(f"{base}/v1/projects")["data"] if p["name"] == PROJECT)
    profile = Path(tempfile.mkdtemp(prefix="chromium-"))
    browser = Browser(chromium, profile)
    try:
        # The Traces list: one row per request, expanded into its span tree; total tokens is the
        # request's cumulative count on its row and each span's own count below it.
        traces_url = f"{base}/projects/{project_id}/traces"
        browser.open(traces_url, "document.readyState === 'complete'")
        state = {"state": {"columnVisibility": dict.fromkeys(HIDDEN_COLUMNS, False)}, "version": 0}
        key = STORE_KEY.format(project_id=project_id)
        browser.evaluate(f"localStorage.setItem({json.dumps(key)}, {json.dumps(json.dumps(state))})")
        browser.open(traces_url, showing("GET /faq", "POST /refund", "POST /ticket"))
        browser.expand_rows()
        browser.screenshot(out / "phoenix-spans.png")
        # the nested request, its governed draft_reply selected, on the Attributes tab
        spans = get_json(f"{base}/v1/projects/{PROJECT}/spans?trace_id={nested_trace}&limit=100")["data"]
        selected = next(s["id"] for s in spans if s["name"] == "support.draft_reply")
        browser.open(
            f"{base}/projects/{project_id}/traces/{nested_trace}?selectedSpanNodeId={selected}",
            showing("support.handle_ticket", "support.classify_ticket", "chat gpt-4o"),
        )
        browser.click_text('[role="tab"]', "Attributes")
        browser.screenshot(out / "phoenix-trace.png")
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="folder for the PNGs")
    parser.add_argument("--phoenix", type=Path, default=Path(os.environ.get("TOOLCHAIN_PHOENIX_BIN", DEFAULT_PHOENIX)))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--keep", action="store_true", help="leave Phoenix running afterwards (Ctrl-C stops it)")
    args = parser.parse_args()
    if not Path(args.chromium).exists():
        sys.exit(f"no Chromium at {args.chromium}: apt-get install -y chromium")
    args.out.mkdir(parents=True, exist_ok=True)

    from tests.llm_standin import serve

    with phoenix_server(args.phoenix, args.keep) as base, serve() as standin:
        trace_ids, nested, expect = send_calls(base, standin.url)
        wait_for(ingested(base, trace_ids, expect), 60, "Phoenix to ingest the spans")
        take_screenshots(args.chromium, base, nested, args.out.resolve())
    return 0


if __name__ == "__main__":
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve() and VENV_PYTHON.exists():
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), *sys.argv])  # the dev venv has the SDK, openai, the instrumentation
    sys.path.insert(0, str(ROOT))  # for tests.llm_standin
    raise SystemExit(main())
