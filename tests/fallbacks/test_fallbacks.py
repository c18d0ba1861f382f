"""Fallback handlers: the ready-made ones, fitting to every surface kind, signatures, failures."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.trace import StatusCode

import toolchain_sdk as tc
from toolchain_sdk import flags, semconv
from toolchain_sdk.fallbacks._fit import _check_signature, _shapes
from toolchain_sdk.flags import FlagEvaluation, FlagTarget
from toolchain_sdk.testing import SpanRecorder


class Off:
    """A flag source that switches every surface off."""

    name = "off"

    def evaluate(self, target: FlagTarget) -> FlagEvaluation:
        return FlagEvaluation(True, "static", self.name, "test")


@pytest.fixture(autouse=True)
def _switched_off() -> Iterator[None]:
    """Every surface in this module is switched off; the default sources come back afterwards."""
    flags.set_sources([Off()])
    yield
    flags.set_sources(None)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


async def collect(stream: AsyncIterator[Any]) -> list[Any]:
    return [x async for x in stream]


# --- the ready-made handlers -------------------------------------------------------------------------
def test_static_answers_its_value(spans: SpanRecorder) -> None:
    """static(value) answers value; the span's output hash is the fallback's."""

    @tc.governed_call("fb.static", risk="medium", fallback=tc.fallbacks.static("We will reply within a day."))
    def reply(ticket: str, *, call: tc.GovernedCall) -> str:
        return "model"

    assert reply("T-1") == "We will reply within a day."
    a = attrs(spans.one("fb.static"))
    assert a[semconv.OUTPUT_SHA256] == sha("We will reply within a day.")
    assert a[semconv.FALLBACK_HANDLER] == "toolchain_sdk.fallbacks.static(str)"


class Ticket:
    def __init__(self, id: str, customer: str) -> None:
        self.id, self.customer = id, customer


def test_template_fills_from_arguments_by_name() -> None:
    """template() fills fields from the call's arguments, defaults included, with attribute access."""

    @tc.governed_call("fb.tpl", fallback=tc.fallbacks.template("Dear {ticket.customer}, re {ticket.id} ({lang})"))
    def reply(ticket: Ticket, lang: str = "en", *, call: tc.GovernedCall) -> str:
        return "model"

    assert reply(Ticket("T-7", "Ada")) == "Dear Ada, re T-7 (en)"
    assert reply(Ticket("T-8", "Bo"), lang="de") == "Dear Bo, re T-8 (de)"


def test_template_is_strict_about_names_when_decorating() -> None:
    """A field naming no parameter is a ConfigError at decoration time; **kwargs functions defer to the call."""
    with pytest.raises(tc.ConfigError, match="customer"):

        @tc.governed_call("fb.tpl.bad", fallback=tc.fallbacks.template("Dear {customer}"))
        def reply(ticket: str) -> str:
            return "model"

    @tc.governed_call("fb.tpl.kw", fallback=tc.fallbacks.template("Dear {customer}"))
    def loose(**kwargs: str) -> str:
        return "model"

    assert loose(customer="Ada") == "Dear Ada"
    with pytest.raises(tc.FallbackFailed) as info:
        loose(other="x")
    assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.parametrize("text", ["Dear {", "Dear {}", "Dear {0}", "{!}"])
def test_template_rejects_bad_format_strings(text: str) -> None:
    """Unbalanced braces and positional fields are ConfigErrors when the template is made."""
    with pytest.raises(tc.ConfigError):
        tc.fallbacks.template(text)


def test_raise_refuses_with_the_exception_itself(spans: SpanRecorder) -> None:
    """raise_(exc) raises a fresh copy of exc each time, not FallbackFailed; the span says fallback."""

    @tc.governed_call("fb.refuse", risk="high", fallback=tc.fallbacks.raise_(PermissionError("refunds are paused")),
                      approval=tc.approval.not_required(reason="refusal only"))  # fmt: skip
    def refund(amount: int) -> str:
        return "model"

    errors = []
    for _ in range(2):
        with pytest.raises(PermissionError, match="refunds are paused") as info:
            refund(10)
        errors.append(info.value)
    assert errors[0] is not errors[1]
    span = spans.spans("fb.refuse")[-1]
    assert attrs(span)[semconv.OUTCOME] == "fallback"
    assert span.status.status_code is StatusCode.ERROR


def test_raise_accepts_an_exception_class() -> None:
    """raise_(ExceptionClass) instantiates it per call."""
    fn = tc.governed_call("fb.refuse.cls", fallback=tc.fallbacks.raise_(LookupError))(lambda: "model")
    with pytest.raises(LookupError):
        fn()
    with pytest.raises(tc.ConfigError):
        tc.fallbacks.raise_("not an exception")  # type: ignore[arg-type]


# --- every surface kind -----------------------------------------------------------------------------
def test_sync_function_handler_gets_the_arguments() -> None:
    """A sync handler takes the same arguments, positional or keyword, defaults applied by Python."""

    def handler(a: int, b: int = 2, *, c: int = 3) -> str:
        return f"fb {a} {b} {c}"

    @tc.governed_call("kind.sync", fallback=handler)
    def fn(a: int, b: int = 2, *, c: int = 3) -> str:
        return "model"

    assert fn(1) == "fb 1 2 3"
    assert fn(1, b=5, c=6) == "fb 1 5 6"
    assert fn(a=1) == "fb 1 2 3"


async def test_async_surface_takes_sync_or_async_handlers() -> None:
    """An async surface awaits an async handler and wraps a sync one."""

    async def ahandler(x: str) -> str:
        await asyncio.sleep(0)
        return f"async fb {x}"

    @tc.governed_call("kind.async.a", fallback=ahandler)
    async def one(x: str) -> str:
        return "model"

    @tc.governed_call("kind.async.s", fallback=lambda x: f"sync fb {x}")
    async def two(x: str) -> str:
        return "model"

    assert await one("a") == "async fb a"
    assert await two("b") == "sync fb b"


def test_generator_surface_streams_a_generator_handler(spans: SpanRecorder) -> None:
    """A generator handler is streamed chunk by chunk; the span hashes the streamed text."""

    def handler(n: int) -> Iterator[str]:
        yield from ("a", "b", "c")[:n]

    @tc.governed_call("kind.gen", fallback=handler)
    def stream(n: int) -> Iterator[str]:
        yield "model"

    assert list(stream(3)) == ["a", "b", "c"]
    a = attrs(spans.one("kind.gen"))
    assert (a[semconv.STREAM_CHUNKS], a[semconv.OUTPUT_SHA256], a[semconv.OUTCOME]) == (3, sha("abc"), "fallback")


def test_generator_surface_streams_a_plain_result_as_one_chunk() -> None:
    """A plain handler on a streaming surface is one chunk."""

    @tc.governed_call("kind.gen.plain", fallback=tc.fallbacks.template("sorry {n}"))
    def stream(n: int) -> Iterator[str]:
        yield "model"

    assert list(stream(2)) == ["sorry 2"]


def test_generator_fallback_supports_send_throw_close(spans: SpanRecorder) -> None:
    """The consumer's send() reaches the handler, throw() is forwarded, close() ends the span early."""
    seen: list[Any] = []

    def handler() -> Iterator[int]:
        try:
            got = yield 1
            seen.append(got)
            yield 2
            yield 3
        except ValueError as exc:
            seen.append(f"caught {exc}")
            yield 99

    @tc.governed_call("kind.gen.proto", fallback=handler)
    def stream() -> Iterator[int]:
        yield 0

    gen = stream()
    assert next(gen) == 1
    assert gen.send("hello") == 2
    assert gen.throw(ValueError("x")) == 99
    gen.close()
    assert seen == ["hello", "caught x"]
    assert attrs(spans.one("kind.gen.proto"))[semconv.STREAM_COMPLETED] is False


async def test_async_generator_surface_takes_every_handler_kind() -> None:
    """Async-generator surfaces take async generators, generators, coroutines and plain functions."""

    async def agen(x: str) -> AsyncIterator[str]:
        yield x
        yield x

    def gen(x: str) -> Iterator[str]:
        yield x.upper()

    async def coro(x: str) -> str:
        return f"coro {x}"

    results = []
    for i, handler in enumerate([agen, gen, coro, lambda x: f"plain {x}"]):

        @tc.governed_call(f"kind.agen.{i}", fallback=handler)
        async def stream(x: str) -> AsyncIterator[str]:
            yield "model"

        results.append(await collect(stream("q")))
    assert results == [["q", "q"], ["Q"], ["coro q"], ["plain q"]]


async def test_async_generator_fallback_forwards_athrow() -> None:
    """athrow() on the governed stream reaches an async-generator handler."""

    async def handler() -> AsyncIterator[str]:
        try:
            yield "first"
        except KeyError:
            yield "recovered"

    @tc.governed_call("kind.agen.throw", fallback=handler)
    async def stream() -> AsyncIterator[str]:
        yield "model"

    agen: Any = stream()
    assert await agen.__anext__() == "first"
    assert await agen.athrow(KeyError("k")) == "recovered"
    await agen.aclose()


class Bot:
    """Methods as surfaces: a handler may take self (it gets the instance) or not."""

    def __init__(self, name: str) -> None:
        self.name = name

    def canned(self, q: str) -> str:
        return f"{self.name} canned {q}"

    @tc.governed_call("kind.method.self", fallback=canned)
    def ask(self, q: str) -> str:
        return "model"

    @tc.governed_call("kind.method.plain", fallback=lambda q: f"plain {q}")
    def ask_plain(self, q: str) -> str:
        return "model"

    @classmethod
    @tc.governed_call("kind.method.cls", fallback=lambda q: f"cls {q}")
    def ask_cls(cls, q: str) -> str:
        return "model"


def test_methods_and_handlers_with_or_without_self() -> None:
    """A handler declaring self gets the instance; one without is called with the arguments only."""
    bot = Bot("ada")
    assert bot.ask("q") == "ada canned q"
    assert bot.ask_plain("q") == "plain q"
    assert Bot.ask_cls("q") == "cls q"


def test_call_is_injected_or_stripped() -> None:
    """A handler declaring `call` gets the GovernedCall; one that does not never sees it."""

    def wants_call(x: str, *, call: tc.GovernedCall) -> str:
        return f"{call.surface} {call.outcome} {x}"

    @tc.governed_call("kind.call.in", fallback=wants_call)
    def one(x: str) -> str:
        return "model"

    @tc.governed_call("kind.call.out", fallback=lambda x: f"fb {x}")
    def two(x: str, *, call: tc.GovernedCall) -> str:
        return "model"

    @tc.governed_call("kind.call.both", fallback=wants_call)
    def three(x: str, *, call: tc.GovernedCall) -> str:
        return "model"

    assert one("a") == "kind.call.in fallback a"
    assert two("b") == "fb b"
    assert three("c") == "kind.call.both fallback c"


# --- failures --------------------------------------------------------------------------------------
def boom(*args: Any, **kwargs: Any) -> str:
    raise ZeroDivisionError("template bug")


def test_raising_sync_handler_is_fallback_failed(spans: SpanRecorder) -> None:
    """A handler that raises becomes FallbackFailed chained to the cause; the span says so."""

    @tc.governed_call("fail.sync", fallback=boom)
    def fn(x: int) -> str:
        return "model"

    with pytest.raises(tc.FallbackFailed, match=r"fail\.sync.*ZeroDivisionError") as info:
        fn(1)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    a = attrs(spans.one("fail.sync"))
    assert (a[semconv.OUTCOME], a[semconv.ERROR_TYPE]) == ("fallback", "toolchain_sdk.errors.FallbackFailed")


async def test_raising_handlers_of_every_kind_are_fallback_failed() -> None:
    """Async, generator and async-generator handlers that raise (even mid-stream) give FallbackFailed."""

    async def aboom(x: int) -> str:
        raise ZeroDivisionError("a")

    def gboom(x: int) -> Iterator[str]:
        yield "one"
        raise ZeroDivisionError("g")

    async def agboom(x: int) -> AsyncIterator[str]:
        yield "one"
        raise ZeroDivisionError("ag")

    @tc.governed_call("fail.async", fallback=aboom)
    async def a(x: int) -> str:
        return "model"

    @tc.governed_call("fail.gen", fallback=gboom)
    def g(x: int) -> Iterator[str]:
        yield "model"

    @tc.governed_call("fail.agen", fallback=agboom)
    async def ag(x: int) -> AsyncIterator[str]:
        yield "model"

    @tc.governed_call("fail.agen.coro", fallback=aboom)
    async def agc(x: int) -> AsyncIterator[str]:
        yield "model"

    with pytest.raises(tc.FallbackFailed):
        await a(1)
    stream = g(1)
    assert next(stream) == "one"
    with pytest.raises(tc.FallbackFailed) as info:
        next(stream)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    with pytest.raises(tc.FallbackFailed):
        await collect(ag(1))
    with pytest.raises(tc.FallbackFailed):
        await collect(agc(1))


# --- decoration-time checks ----------------------------------------------------------------------------
@pytest.mark.parametrize("risk", ["medium", "high"])
def test_medium_and_high_risk_need_a_fallback(risk: str) -> None:
    """No fallback on a medium- or high-risk surface is a ConfigError naming the helpers."""
    with pytest.raises(tc.ConfigError, match=r"needs a deterministic fallback.*tc\.fallbacks"):
        tc.governed_call(f"cfg.risk.{risk}", risk=risk)(lambda: "model")  # type: ignore[arg-type]


def gen_handler(x: int) -> Iterator[int]:
    yield x


async def async_handler(x: int) -> int:
    return x


async def agen_handler(x: int) -> AsyncIterator[int]:
    yield x


def test_handler_kind_must_suit_the_surface() -> None:
    """Async handlers on sync surfaces, streams on non-streaming ones and the like are ConfigErrors."""

    def sync(x: int) -> int:
        return x

    async def coro(x: int) -> int:
        return x

    def stream(x: int) -> Iterator[int]:
        yield x

    async def astream(x: int) -> AsyncIterator[int]:
        yield x

    bad = [
        (sync, async_handler),
        (sync, gen_handler),
        (coro, gen_handler),
        (coro, agen_handler),
        (stream, async_handler),
        (stream, agen_handler),
    ]
    for i, (func, handler) in enumerate(bad):
        with pytest.raises(tc.ConfigError, match="surface is"):
            tc.governed_call(f"cfg.kind.{i}", fallback=handler)(func)


@pytest.mark.parametrize(
    ("handler", "problem"),
    [
        (lambda: "x", "unexpected keyword argument 'a'"),
        (lambda a, b: "x", "missing a required argument: 'b'"),
        (lambda a, q=1: "x", "unexpected keyword argument 'b'"),
        (lambda b, a, *, c=1: "x", "missing a required argument: 'b'"),
        (lambda a, /, b=0, *, c=0: "x", "missing a required argument: 'a' (positional-only)"),
        (lambda a, *, b=0, c=0: "x", "too many positional arguments"),
    ],
)
def test_incompatible_signatures_are_config_errors(handler: Callable[..., str], problem: str) -> None:
    """A handler that cannot take every call of the function fails at decoration, showing a failing call."""

    def fn(a: int, b: int = 0, *, c: int = 0) -> str:
        return "model"

    with pytest.raises(tc.ConfigError, match="cannot take the arguments") as info:
        tc.governed_call("cfg.sig", fallback=handler)(fn)
    assert problem in str(info.value)


def test_compatible_signatures_are_accepted() -> None:
    """*args/**kwargs catch-alls, extra optional parameters and `call` are fine."""

    def fn(a: int, b: int = 0, *, c: int = 0, call: tc.GovernedCall) -> str:
        return "model"

    handlers: list[Callable[..., str]] = [
        lambda *args, **kwargs: "x",
        lambda a, b=0, *, c=0, d=None: "x",
        lambda a, *rest, **kw: "x",
        lambda a, b=1, c=2, call=None: "x",
    ]
    for i, handler in enumerate(handlers):
        assert tc.governed_call(f"cfg.ok.{i}", fallback=handler)(fn)(1) == "x"


def test_other_declaration_errors() -> None:
    """A non-callable fallback, a bad flag key and a non-bool kill_default are ConfigErrors."""
    with pytest.raises(tc.ConfigError, match="callable"):
        tc.governed_call("cfg.x1", fallback="sorry")(lambda: "m")  # type: ignore[arg-type]
    for flag in ["has space", "a,b", "wild.*", ""]:
        with pytest.raises(tc.ConfigError, match="kill_flag"):
            tc.governed_call("cfg.x2", kill_flag=flag)(lambda: "m")
    with pytest.raises(tc.ConfigError, match="kill_default"):
        tc.governed_call("cfg.x3", kill_default="yes")(lambda: "m")  # type: ignore[arg-type]
    with pytest.raises(tc.ConfigError, match="named parameter"):
        tc.governed_call("cfg.x4", fallback=lambda call, /: "x")(lambda: "m")
    with pytest.raises(tc.ConfigError, match=r"missing a required argument"):
        tc.governed("cfg.block", fallback=lambda x: "x")


# --- the signature check is sound: whatever it accepts binds every call --------------------------------
_P = inspect.Parameter


@st.composite
def signatures(draw: st.DrawFn) -> inspect.Signature:
    """Random valid signatures over a shared pool of names (so two signatures often overlap)."""
    names = iter(draw(st.permutations("abcdef")))
    params: list[inspect.Parameter] = []
    defaulted = False
    for kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD):
        for _ in range(draw(st.integers(0, 2))):
            defaulted = defaulted or draw(st.booleans())
            params.append(_P(next(names), kind, default=None if defaulted else _P.empty))
    if draw(st.booleans()):
        params.append(_P("args", _P.VAR_POSITIONAL))
    for _ in range(draw(st.integers(0, 2))):
        params.append(_P(next(names), _P.KEYWORD_ONLY, default=draw(st.sampled_from([None, _P.empty]))))
    if draw(st.booleans()):
        params.append(_P("kwargs", _P.VAR_KEYWORD))
    return inspect.Signature(params)


def with_signature(sig: inspect.Signature) -> Callable[..., Any]:
    """A real function with exactly this signature (so calls follow Python's rules, not inspect's)."""
    namespace: dict[str, Any] = {}
    exec(f"def fn{sig}: return None", namespace)
    return namespace["fn"]  # type: ignore[no-any-return]


def calls() -> Iterator[tuple[tuple[object, ...], dict[str, object]]]:
    """Every call with 0-4 positional arguments and any keywords from the pool (plus one stray name)."""
    pool = ["a", "b", "c", "d", "e", "f", "zz"]
    for n in (0, 1, 2, 3, 4, 9):
        for size in range(len(pool) + 1):
            for keys in itertools.combinations(pool, size):
                yield tuple(range(n)), {k: 0 for k in keys}


CALLS = list(calls())


@settings(max_examples=250, deadline=None)
@given(signatures(), signatures())
def test_accepted_handlers_bind_every_call_of_the_function(fsig: inspect.Signature, hsig: inspect.Signature) -> None:
    """If the check accepts a handler, every call the function accepts also binds to the handler."""
    func, handler = with_signature(fsig), with_signature(hsig)
    try:
        _check_signature("prop", func, handler, "h")
    except tc.ConfigError:
        return
    for args, kwargs in CALLS:
        try:
            func(*args, **kwargs)
        except TypeError:
            continue
        handler(*args, **kwargs)


@settings(max_examples=150, deadline=None)
@given(signatures())
def test_a_function_accepts_itself_and_its_call_shapes(fsig: inspect.Signature) -> None:
    """The check accepts a handler with the same signature, and every shape it tries is a real call."""
    fn = with_signature(fsig)
    _check_signature("prop", fn, fn, "h")
    for args, kwargs in _shapes(list(fsig.parameters.values())):
        fsig.bind(*args, **kwargs)
