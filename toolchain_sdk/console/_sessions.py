"""Server-side browser sessions: a random id in an HttpOnly cookie, everything else in memory.

A session holds the user's name, the hash of the token it logged in with, and its own CSRF token.
It is valid only while the user still exists with that same token (so ``users remove`` and
``users add --rotate`` end it at the next request), while it has been used within the idle
limit, and until its maximum age. Restarting the console ends every session.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from toolchain_sdk.console._users import User, UserStore

__all__ = ["Session", "SessionStore"]


@dataclass
class Session:
    """One logged-in browser.

    Attributes:
        id: the cookie value (random, 256 bits).
        name: the user.
        token_sha256: the token it logged in with (a rotated token ends the session).
        csrf: the token every state-changing form of this session must carry.
        created, seen: ``time.monotonic()`` at login and at the last request.
    """

    id: str
    name: str
    token_sha256: str
    csrf: str
    created: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)

    def csrf_ok(self, given: str | None) -> bool:
        """Whether ``given`` is this session's CSRF token (constant-time comparison)."""
        return bool(given) and hmac.compare_digest(self.csrf.encode(), str(given).encode())


class SessionStore:
    """The sessions of one console process.

    Args:
        users: where users are looked up on every request.
        idle_s: a session unused this long ends.
        max_s: a session ends this long after login, used or not.
    """

    def __init__(self, users: UserStore, *, idle_s: float, max_s: float) -> None:
        self._users = users
        self._idle = idle_s
        self._max = max_s
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def start(self, user: User) -> Session:
        """A new session for ``user`` (after a successful login)."""
        session = Session(secrets.token_urlsafe(32), user.name, user.token_sha256, secrets.token_urlsafe(32))
        with self._lock:
            self._expire(time.monotonic())
            self._sessions[session.id] = session
        return session

    def find(self, session_id: str | None) -> tuple[Session, User] | None:
        """The live session with this id and its user, or ``None`` (unknown, expired, or the
        user was removed or given a new token: then the session is dropped)."""
        if not session_id:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.seen > self._idle or now - session.created > self._max:
                del self._sessions[session_id]
                return None
        user = self._users.get(session.name)
        if user is None or not hmac.compare_digest(user.token_sha256, session.token_sha256):
            self.end(session_id)
            return None
        session.seen = now
        return session, user

    def end(self, session_id: str) -> None:
        """Log a session out."""
        with self._lock:
            self._sessions.pop(session_id, None)

    def _expire(self, now: float) -> None:
        for sid, s in list(self._sessions.items()):
            if now - s.seen > self._idle or now - s.created > self._max:
                del self._sessions[sid]
