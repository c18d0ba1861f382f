"""Steps written once, waited for twice: the sync and async drivers of the approval gate.

The gate writes each pass (ask, wait, judge, record) as a generator that yields what it has to
wait for and is sent the answer. ``drive`` answers on the calling thread (blocking), ``adrive``
by awaiting, so the two paths differ only in the wait itself. Whatever the steps raise (a
denial) comes out of the driver; so does whatever the wait raises (e.g. a cancellation).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

__all__ = ["Steps", "adrive", "drive"]

_W = TypeVar("_W")
_R = TypeVar("_R")

Steps: TypeAlias = Generator[_W, object, _R]
"""Steps that yield what they wait for (``_W``), are sent its answer, and return ``_R``."""


@dataclass(frozen=True)
class _Done(Generic[_R]):
    value: _R


def _send(steps: Steps[_W, _R], answer: object) -> _W | _Done[_R]:
    """Run ``steps`` to their next wait (what they wait for), or to their end (``_Done``)."""
    try:
        return steps.send(answer)
    except StopIteration as end:
        return _Done(end.value)


def drive(steps: Steps[_W, _R], wait: Callable[[_W], object]) -> _R:
    """Run ``steps`` to the end, answering each wait with ``wait(...)`` on this thread."""
    step = _send(steps, None)
    while not isinstance(step, _Done):
        step = _send(steps, wait(step))
    return step.value


async def adrive(steps: Steps[_W, _R], wait: Callable[[_W], Awaitable[object]]) -> _R:
    """Run ``steps`` to the end, answering each wait by awaiting ``wait(...)``."""
    step = _send(steps, None)
    while not isinstance(step, _Done):
        step = _send(steps, await wait(step))
    return step.value
