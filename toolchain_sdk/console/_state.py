"""What one running console holds: its settings, users, sessions, failure limiter and stores."""

from __future__ import annotations

import threading
from pathlib import Path

from toolchain_sdk.approval import ApprovalStore, open_store
from toolchain_sdk.console._ratelimit import FailureLimiter
from toolchain_sdk.console._sessions import SessionStore
from toolchain_sdk.console._settings import ConsoleSettings
from toolchain_sdk.console._users import UserStore
from toolchain_sdk.flags import FlagFile

__all__ = ["ConsoleState"]


class ConsoleState:
    """The shared state of one console app (one per process, built by ``create_app``).

    Args:
        settings: how the console is set up.
        store: an approval store object to use instead of opening ``settings.store``.
    """

    def __init__(self, settings: ConsoleSettings, store: ApprovalStore | None = None) -> None:
        self.settings = settings
        self.users = UserStore(settings.users)
        self.sessions = SessionStore(self.users, idle_s=settings.session_idle_s, max_s=settings.session_max_s)
        self.limiter = FailureLimiter()
        self.flags = FlagFile(settings.flags)
        self._store = store
        self._lock = threading.Lock()

    @property
    def store(self) -> ApprovalStore:
        """The approval queue (opened on first use, never created: a queue appears when an app first asks)."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.settings.store, create=False)
        return self._store

    @property
    def audit_path(self) -> Path | None:
        """The audit chain the audit page reads, when one was given."""
        return self.settings.audit
