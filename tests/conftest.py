"""Shared fixtures: one in-memory span recorder for the session, a clean registry per test, approval queues."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("TOOLCHAIN_STRICT", "1")  # SDK-internal errors fail tests instead of hiding

from tests import _browser
from tests._approval_support import BACKENDS, backend_url, store_for
from toolchain_sdk import audit, config, inventory, redaction
from toolchain_sdk._core import safety as _safety
from toolchain_sdk.approval import ApprovalStore
from toolchain_sdk.testing import SpanRecorder

_RECORDER = SpanRecorder.install(service_name="toolchain-tests")


@pytest.fixture
def spans() -> Iterator[SpanRecorder]:
    """The session's span recorder, emptied before the test."""
    _RECORDER.clear()
    yield _RECORDER


@pytest.fixture(autouse=True)
def _clean_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with an empty surface registry, no hash key, no audit sink, the default
    redaction policy and fresh warn-once sites."""
    monkeypatch.delenv("TOOLCHAIN_HASH_KEY", raising=False)
    inventory.clear_registry()
    _safety.reset_warnings()
    config._hasher = config.Hasher(None)
    audit.use_sink(None)
    yield
    config._hasher = config.Hasher(None)
    audit.use_sink(None)
    redaction.use_policy(None)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh approval-queue URL on each backend (SQLite, and PostgreSQL when the run has one)."""
    with backend_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[ApprovalStore]:
    """A reviewer-side handle on that queue."""
    handle = store_for(store_url)
    yield handle
    handle.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A Playwright ``Browser`` on headless Chromium (Debian's ``chromium``), shared by one test module.

    Not by the session: Playwright's sync API keeps an event loop running on the main thread while
    it is open, so ``asyncio.run`` (and pytest-asyncio) would fail in every test that ran after it.
    """
    yield from _browser.launch()
