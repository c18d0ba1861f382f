"""A local stand-in for the OpenAI and Anthropic HTTP APIs, so the real client libraries run in tests.

The machine running the suite cannot reach the vendors. This module serves, on 127.0.0.1 from a
background thread (stdlib ``ThreadingHTTPServer``, no dependency), what the real clients expect:

* OpenAI Chat Completions, ``POST /v1/chat/completions``: a ``chat.completion`` object, or with
  ``"stream": true`` an SSE stream of ``chat.completion.chunk`` objects ending ``data: [DONE]``,
  with a final usage-only chunk when ``stream_options.include_usage`` is true;
* OpenAI Responses, ``POST /v1/responses``: a ``response`` object, or the SSE events
  ``response.created`` ... ``response.output_text.delta`` ... ``response.completed``;
* Anthropic Messages, ``POST /v1/messages``: a ``message`` object, or the SSE events
  ``message_start``, ``content_block_start``, ``content_block_delta`` ..., ``content_block_stop``,
  ``message_delta``, ``message_stop``.

Token counts come from a ``Usage`` (counted as the GenAI conventions count them; each vendor's
wire form is derived from it) and the answering model from ``response_model`` (default: the
requested model plus a date snapshot). Both can be set on the server or per request with the
headers from ``StandIn.headers(...)``. Every request body is recorded in ``StandIn.requests``.

Fixtures: ``standin_server`` (one server for the session) and ``standin`` (the same server, reset
to its defaults for each test). Load them with ``pytest_plugins = ("tests.conftest_standin",)``.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

import pytest

__all__ = ["DEFAULT_TEXT", "DEFAULT_USAGE", "Received", "StandIn", "Usage", "serve", "standin", "standin_server"]

MODEL_HEADER: Final = "x-standin-model"
"""Request header naming the model that answers this one request."""

USAGE_HEADER: Final = "x-standin-usage"
"""Request header with the ``Usage`` fields (JSON) this one request reports."""

DEFAULT_TEXT: Final = "Hello from the stand-in."
"""What the stand-in answers: the whole text, or these pieces as stream deltas."""

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$|-\d{8}$")
_ids = itertools.count(1)


@dataclass(frozen=True)
class Usage:
    """The token counts one answer reports, as the GenAI conventions count them.

    ``input_tokens`` counts every input token, cached ones included: OpenAI sends it as is
    (``prompt_tokens`` / ``input_tokens``); Anthropic sends the uncached part as its
    ``input_tokens`` and the cache reads and writes beside it (``anthropic_input_tokens``).
    """

    input_tokens: int = 42
    output_tokens: int = 7
    cache_read_tokens: int = 10
    cache_write_tokens: int = 0
    """Anthropic's ``cache_creation_input_tokens``; OpenAI reports no cache writes."""
    reasoning_tokens: int = 3
    """OpenAI's ``reasoning_tokens`` (part of ``output_tokens``); not sent by Anthropic."""

    def __post_init__(self) -> None:
        if min(asdict(self).values()) < 0:
            raise ValueError(f"token counts cannot be negative: {self}")
        if self.cache_read_tokens + self.cache_write_tokens > self.input_tokens:
            raise ValueError(f"cached tokens are part of input_tokens, so cannot exceed it: {self}")

    @classmethod
    def anthropic(
        cls,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read_input_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
    ) -> Usage:
        """The usage whose Anthropic wire form has exactly these fields (``input_tokens`` uncached)."""
        return cls(
            input_tokens=input_tokens + cache_read_input_tokens + cache_creation_input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_input_tokens,
            cache_write_tokens=cache_creation_input_tokens,
            reasoning_tokens=0,
        )

    @property
    def anthropic_input_tokens(self) -> int:
        """Anthropic's ``usage.input_tokens``: the input tokens neither read from nor written to the cache."""
        return self.input_tokens - self.cache_read_tokens - self.cache_write_tokens

    def chat_completions(self) -> dict[str, Any]:
        """The ``usage`` object of an OpenAI Chat Completions response."""
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cache_read_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def responses(self) -> dict[str, Any]:
        """The ``usage`` object of an OpenAI Responses response."""
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cache_read_tokens},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.input_tokens + self.output_tokens,
        }

    def messages(self, output_tokens: int | None = None) -> dict[str, Any]:
        """The ``usage`` object of an Anthropic message (``output_tokens`` overridden for ``message_start``)."""
        return {
            "input_tokens": self.anthropic_input_tokens,
            "cache_creation_input_tokens": self.cache_write_tokens,
            "cache_read_input_tokens": self.cache_read_tokens,
            "cache_creation": {"ephemeral_5m_input_tokens": self.cache_write_tokens, "ephemeral_1h_input_tokens": 0},
            "output_tokens": self.output_tokens if output_tokens is None else output_tokens,
            "service_tier": "standard",
        }


DEFAULT_USAGE: Final = Usage()


@dataclass(frozen=True)
class Received:
    """One request the stand-in received: method, path, headers (names in lowercase) and JSON body."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any


@dataclass
class _Answer:
    """What one request is answered with, after the per-request headers are applied."""

    model: str
    usage: Usage
    text: str
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def pieces(self) -> list[str]:
        """The text split into a few stream deltas (words with their trailing space)."""
        return re.findall(r"\S+\s*", self.text) or [self.text]


def _new_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):06d}standin"


# --- OpenAI Chat Completions ------------------------------------------------------------------------
def _chat_completion(answer: _Answer) -> dict[str, Any]:
    return {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": answer.created,
        "model": answer.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": answer.usage.chat_completions(),
        "service_tier": "default",
        "system_fingerprint": "fp_standin",
    }


def _chat_chunks(answer: _Answer, include_usage: bool) -> Iterator[tuple[str | None, dict[str, Any]]]:
    chunk_id = _new_id("chatcmpl-")

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": answer.created,
            "model": answer.model,
            "service_tier": "default",
            "system_fingerprint": "fp_standin",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            body["usage"] = None  # as the API does: every chunk has the key, only the last one a value
        return body

    yield None, chunk({"role": "assistant", "content": "", "refusal": None})
    for piece in answer.pieces:
        yield None, chunk({"content": piece})
    yield None, chunk({}, "stop")
    if include_usage:
        last = chunk({})
        last["choices"], last["usage"] = [], answer.usage.chat_completions()
        yield None, last


# --- OpenAI Responses -------------------------------------------------------------------------------
def _response(answer: _Answer, *, done: bool, message_id: str, response_id: str) -> dict[str, Any]:
    output = [
        {
            "id": message_id,
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": answer.text, "annotations": [], "logprobs": []}],
        }
    ]
    return {
        "id": response_id,
        "object": "response",
        "created_at": answer.created,
        "status": "completed" if done else "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": answer.model,
        "output": output if done else [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": answer.usage.responses() if done else None,
        "user": None,
        "metadata": {},
    }


def _response_events(answer: _Answer) -> Iterator[tuple[str | None, dict[str, Any]]]:
    ids = {"message_id": _new_id("msg_"), "response_id": _new_id("resp_")}
    item_id = ids["message_id"]
    seq = itertools.count()
    part_empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    part_full = {**part_empty, "text": answer.text}
    item = {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    at = {"item_id": item_id, "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response(answer, done=False, **ids)},
        {"type": "response.in_progress", "response": _response(answer, done=False, **ids)},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **at, "part": part_empty},
        *({"type": "response.output_text.delta", **at, "delta": p, "logprobs": []} for p in answer.pieces),
        {"type": "response.output_text.done", **at, "text": answer.text, "logprobs": []},
        {"type": "response.content_part.done", **at, "part": part_full},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {**item, "status": "completed", "content": [part_full]},
        },
        {"type": "response.completed", "response": _response(answer, done=True, **ids)},
    ]
    for event in events:
        yield event["type"], {**event, "sequence_number": next(seq)}


# --- Anthropic Messages -----------------------------------------------------------------------------
def _message(answer: _Answer) -> dict[str, Any]:
    return {
        "id": _new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": [{"type": "text", "text": answer.text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": answer.usage.messages(),
    }


def _message_events(answer: _Answer) -> Iterator[tuple[str | None, dict[str, Any]]]:
    start = {**_message(answer), "content": [], "stop_reason": None, "usage": answer.usage.messages(output_tokens=1)}
    yield "message_start", {"type": "message_start", "message": start}
    yield (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    yield "ping", {"type": "ping"}
    for piece in answer.pieces:
        delta = {"type": "text_delta", "text": piece}
        yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": answer.usage.output_tokens},
        },
    )
    yield "message_stop", {"type": "message_stop"}


# --- the server -------------------------------------------------------------------------------------
class StandIn:
    """The stand-in server: its URLs, what it answers with, and what it received.

    Attributes:
        usage: the token counts every answer reports (unless a request's ``x-standin-usage`` says otherwise).
        response_model: the model every answer names; ``None``: the requested one plus a date snapshot
            (``-2024-08-06`` for OpenAI, ``-20250514`` for Anthropic) unless it already ends in one.
        text: the answer's text.
        requests: every request received, oldest first.
    """

    OPENAI_SNAPSHOT: Final = "-2024-08-06"
    ANTHROPIC_SNAPSHOT: Final = "-20250514"

    def __init__(self) -> None:
        self.usage: Usage = DEFAULT_USAGE
        self.response_model: str | None = None
        self.text: str = DEFAULT_TEXT
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- addresses --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the server's root."""
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def base_url(self) -> str:
        """``base_url`` for ``openai.OpenAI`` (it appends ``/chat/completions``, ``/responses``)."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """``base_url`` for ``anthropic.Anthropic`` (it appends ``/v1/messages`` itself)."""
        return self.url

    # --- configuration ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the defaults, with no request recorded."""
        with self._lock:
            self.usage, self.response_model, self.text = DEFAULT_USAGE, None, DEFAULT_TEXT
            self.requests.clear()

    @contextmanager
    def answering(self, *, model: str | None = None, usage: Usage | None = None) -> Iterator[StandIn]:
        """Answer with this model and/or usage inside the block, as before after it."""
        saved = self.response_model, self.usage
        self.response_model = model if model is not None else self.response_model
        self.usage = usage if usage is not None else self.usage
        try:
            yield self
        finally:
            self.response_model, self.usage = saved

    @staticmethod
    def headers(*, model: str | None = None, usage: Usage | None = None) -> dict[str, str]:
        """Request headers (for a client's ``extra_headers=``) that override the answer to one request."""
        headers: dict[str, str] = {}
        if model is not None:
            headers[MODEL_HEADER] = model
        if usage is not None:
            headers[USAGE_HEADER] = json.dumps(asdict(usage))
        return headers

    def model_for(self, requested: str, snapshot: str = OPENAI_SNAPSHOT) -> str:
        """The model the server answers a request for ``requested`` with (no per-request header)."""
        if self.response_model is not None:
            return self.response_model
        return requested if _SNAPSHOT.search(requested) else requested + snapshot

    # --- what it received ---------------------------------------------------------------------------
    @property
    def last(self) -> Received:
        """The most recent request (``AssertionError`` when there was none)."""
        with self._lock:
            assert self.requests, "the stand-in received no request"
            return self.requests[-1]

    def received(self, path: str) -> list[Received]:
        """The requests to ``path`` (e.g. ``/v1/messages``), oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> StandIn:
        """Listen on a free port of 127.0.0.1 and serve from a daemon thread."""
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="llm-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # --- answering (called from the handler threads) ----------------------------------------------------
    def _record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)

    def _answer(self, body: Mapping[str, Any], headers: Mapping[str, str], snapshot: str) -> _Answer:
        requested = str(body.get("model") or "unknown-model")
        model = headers.get(MODEL_HEADER) or self.model_for(requested, snapshot)
        usage = Usage(**json.loads(headers[USAGE_HEADER])) if USAGE_HEADER in headers else self.usage
        return _Answer(model=model, usage=usage, text=self.text)


class _Server(ThreadingHTTPServer):
    """One thread per connection (daemon threads); a client hanging up is not an error."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # reset or broken pipe: the client closed its socket
            return
        super().handle_error(request, client_address)


def _handler_for(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Answers the three endpoints; anything else is a 404 in the vendors' error shape."""

        protocol_version = "HTTP/1.1"  # keep-alive, as the clients' connection pools expect

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw) if raw else {}
            except ValueError:
                body = raw.decode("utf-8", "replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = self.path.split("?", 1)[0]
            standin._record(Received("POST", path, headers, body))
            if not isinstance(body, dict):
                self._json(400, {"error": {"type": "invalid_request_error", "message": "body is not a JSON object"}})
                return
            stream = body.get("stream") is True
            if path == "/v1/chat/completions":
                answer = standin._answer(body, headers, StandIn.OPENAI_SNAPSHOT)
                if stream:
                    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                    self._sse(_chat_chunks(answer, include_usage), done_marker=True)
                else:
                    self._json(200, _chat_completion(answer))
            elif path == "/v1/responses":
                answer = standin._answer(body, headers, StandIn.OPENAI_SNAPSHOT)
                if stream:
                    self._sse(_response_events(answer))
                else:
                    ids = {"message_id": _new_id("msg_"), "response_id": _new_id("resp_")}
                    self._json(200, _response(answer, done=True, **ids))
            elif path == "/v1/messages":
                answer = standin._answer(body, headers, StandIn.ANTHROPIC_SNAPSHOT)
                if stream:
                    self._sse(_message_events(answer))
                else:
                    self._json(200, _message(answer))
            else:
                self._json(404, {"error": {"type": "not_found_error", "message": f"no route {path}"}})

        def _common_headers(self) -> None:
            self.send_header("x-request-id", _new_id("req_"))  # OpenAI's request id header
            self.send_header("request-id", _new_id("req_"))  # Anthropic's

        def _json(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self._common_headers()
            self.end_headers()
            self.wfile.write(data)

        def _sse(self, events: Iterator[tuple[str | None, dict[str, Any]]], *, done_marker: bool = False) -> None:
            """Send ``event:``/``data:`` pairs (``data:`` only when the event has no name) as chunked transfer."""
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("cache-control", "no-cache")
            self.send_header("transfer-encoding", "chunked")
            self._common_headers()
            self.end_headers()
            for name, data in events:
                head = f"event: {name}\n" if name is not None and not done_marker else ""
                self._chunk(f"{head}data: {json.dumps(data)}\n\n".encode())
            if done_marker:
                self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    return Handler


@contextmanager
def serve() -> Iterator[StandIn]:
    """A running stand-in for the block."""
    server = StandIn().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def standin_server() -> Iterator[StandIn]:
    """One stand-in for the session, stopped at its end."""
    with serve() as server:
        yield server


@pytest.fixture
def standin(standin_server: StandIn) -> StandIn:
    """The session's stand-in with its defaults back and no request recorded."""
    standin_server.reset()
    return standin_server
