"""Many concurrent calls: every span carries its own call's hashes, nothing crosses over."""

from __future__ import annotations

import asyncio
import hashlib
import threading

import toolchain_sdk as tc
from toolchain_sdk.testing import SpanRecorder


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check(spans: SpanRecorder, surface: str, expected_count: int) -> None:
    found = spans.spans(surface)
    assert len(found) == expected_count
    for span in found:
        a = span.attributes or {}
        ident = a["app.id"]
        assert a["toolchain.input.sha256"] == sha(f'{{"i":{ident}}}')
        assert a["toolchain.output.sha256"] == sha(f"out-{ident}")
    assert sorted(s.attributes["app.id"] for s in found) == list(range(expected_count))  # type: ignore[index]


def test_500_concurrent_asyncio_tasks_keep_their_own_hashes(spans: SpanRecorder) -> None:
    """500 interleaved async calls (and streams) each get exactly their own input/output hashes."""

    @tc.governed_call("conc.async")
    async def answer(i: int, *, call: tc.GovernedCall) -> str:
        call.set_attribute("app.id", i)
        for _ in range(3):
            await asyncio.sleep(0)
            assert tc.current_call() is call
        return f"out-{i}"

    @tc.governed_call("conc.astream")
    async def stream(i: int):  # type: ignore[no-untyped-def]
        tc.current_call().set_attribute("app.id", i)  # type: ignore[union-attr]
        for part in ("out", "-", str(i)):
            await asyncio.sleep(0)
            yield part

    async def consume(i: int) -> str:
        return "".join([p async for p in stream(i)])

    async def main() -> None:
        results = await asyncio.gather(*(answer(i) for i in range(500)), *(consume(i) for i in range(500)))
        assert results == [f"out-{i}" for i in range(500)] * 2

    asyncio.run(main())
    _check(spans, "conc.async", 500)
    _check(spans, "conc.astream", 500)


def test_16_threads_keep_their_own_hashes(spans: SpanRecorder) -> None:
    """16 threads x 50 calls each: no span carries another call's hashes."""

    @tc.governed_call("conc.threads")
    def answer(i: int, *, call: tc.GovernedCall) -> str:
        call.set_attribute("app.id", i)
        assert tc.current_call() is call
        return f"out-{i}"

    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def worker(t: int) -> None:
        try:
            barrier.wait()
            for k in range(50):
                i = t * 50 + k
                assert answer(i) == f"out-{i}"
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    _check(spans, "conc.threads", 800)
