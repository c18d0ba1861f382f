"""Shared fixtures: one in-memory span recorder for the session, a clean registry per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("TOOLCHAIN_STRICT", "1")  # SDK-internal errors fail tests instead of hiding

from toolchain_sdk import _safety, config, inventory
from toolchain_sdk.testing import SpanRecorder

_RECORDER = SpanRecorder.install(service_name="toolchain-tests")


@pytest.fixture
def spans() -> Iterator[SpanRecorder]:
    """The session's span recorder, emptied before the test."""
    _RECORDER.clear()
    yield _RECORDER


@pytest.fixture(autouse=True)
def _clean_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with an empty surface registry, no hash key and fresh warn-once sites."""
    monkeypatch.delenv("TOOLCHAIN_HASH_KEY", raising=False)
    inventory.clear_registry()
    _safety.reset_warnings()
    config._hasher = config.Hasher(None)
    yield
    config._hasher = config.Hasher(None)
