"""The console's users: one role each, a token shown once, and only the token's hash on disk.

``.toolchain/console-users.json`` (or ``--users PATH``) holds ``{"version": 1, "users": {name:
{"role", "token_sha256", "created_at"}}}``. A token is 32 random bytes (URL-safe text), so its
SHA-256 cannot be reversed or guessed; checks compare hashes in constant time. The file is
written atomically with mode 0600 and read again whenever it changes, so ``users remove`` (or
``--rotate``) takes effect at once in a running console.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, cast

from toolchain_sdk.errors import ConfigError

__all__ = ["DEFAULT_USERS_PATH", "ROLES", "Role", "User", "UserStore", "hash_token"]

Role = Literal["viewer", "reviewer", "flag-owner"]
ROLES: Final = ("viewer", "reviewer", "flag-owner")
DEFAULT_USERS_PATH: Final = ".toolchain/console-users.json"
"""Where ``toolchain console`` and ``toolchain console users`` keep users when ``--users`` is not given."""
_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_VERSION: Final = 1


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token's UTF-8 bytes: what the store keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class User:
    """One console user.

    Attributes:
        name: the login name, recorded as approver or flag changer.
        role: ``viewer`` (reads), ``reviewer`` (decides approvals) or ``flag-owner`` (flips kill switches).
        token_sha256: the hash of the user's token (the token itself is never stored).
        created_at: when the token was issued (ISO 8601 UTC).
    """

    name: str
    role: Role
    token_sha256: str
    created_at: str

    def can(self, action: Literal["read", "decide", "flags"]) -> bool:
        """Whether this user's role allows ``action``."""
        return (
            action == "read"
            or (action == "decide" and self.role == "reviewer")
            or (action == "flags" and self.role == "flag-owner")
        )


class UserStore:
    """Read and change the users file; ``find_token`` is what the console calls per request.

    Args:
        path: the users file (default ``.toolchain/console-users.json``).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(os.path.abspath(path if path is not None else DEFAULT_USERS_PATH))
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._users: dict[str, User] = {}

    # --- reading -----------------------------------------------------------------------------
    def users(self) -> dict[str, User]:
        """Every user by name, read again when the file changed (a missing file has none).

        Raises:
            ConfigError: the file is not a users file (says what is wrong).
        """
        with self._lock:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self._signature, self._users = None, {}
                return {}
            signature = (st.st_ino, st.st_size, st.st_mtime_ns)
            if signature != self._signature:
                self._users = self._parse(self.path.read_bytes())
                self._signature = signature
            return dict(self._users)

    def get(self, name: str) -> User | None:
        """The user called ``name``, if any."""
        return self.users().get(name)

    def find_token(self, token: str) -> User | None:
        """The user whose token this is, or ``None`` (every user is compared, in constant time each)."""
        if not token:
            return None
        digest = hash_token(token)
        found = None
        for user in self.users().values():
            if hmac.compare_digest(user.token_sha256, digest):
                found = user
        return found

    def _parse(self, data: bytes) -> dict[str, User]:
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise ConfigError(f"console users file {self.path} is not valid JSON: {exc}") from None
        users = doc.get("users") if isinstance(doc, dict) else None
        if not isinstance(users, dict):
            raise ConfigError(f"console users file {self.path} must hold {{'version': 1, 'users': {{...}}}}")
        out: dict[str, User] = {}
        for name, entry in users.items():
            if not isinstance(entry, dict) or entry.get("role") not in ROLES:
                raise ConfigError(
                    f"console users file {self.path}: user {name!r} has no valid role ({', '.join(ROLES)})"
                )
            digest = entry.get("token_sha256")
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ConfigError(f"console users file {self.path}: user {name!r} has no token_sha256 (64 hex digits)")
            out[name] = User(name, cast(Role, entry["role"]), digest, str(entry.get("created_at", "")))
        return out

    # --- changing ----------------------------------------------------------------------------
    def add(self, name: str, role: Role | None = None, *, rotate: bool = False) -> str:
        """Add ``name`` with ``role`` (default ``viewer``) or, with ``rotate``, issue a new token to an
        existing user, which ends the old token's sessions (the user keeps their role unless ``role``
        is given); returns the new token, which is not stored.

        Raises:
            ConfigError: a bad name or role, or the user exists and ``rotate`` is false.
        """
        if not _NAME_RE.fullmatch(name or ""):
            raise ConfigError(
                f"user name {name!r}: use 1-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit"
            )
        if role is not None and role not in ROLES:
            raise ConfigError(f"role {role!r}: use one of {', '.join(ROLES)}")
        users = self.users()
        if name in users and not rotate:
            raise ConfigError(f"user {name!r} exists in {self.path}; give --rotate to issue a new token")
        if role is None:
            role = users[name].role if name in users else "viewer"
        token = secrets.token_urlsafe(32)
        now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        users[name] = User(name, role, hash_token(token), now)
        self._write(users)
        return token

    def remove(self, name: str) -> bool:
        """Remove ``name`` (its token and sessions stop working at once); ``False`` if unknown."""
        users = self.users()
        if users.pop(name, None) is None:
            return False
        self._write(users)
        return True

    def _write(self, users: dict[str, User]) -> None:
        doc = {
            "version": _VERSION,
            "users": {
                u.name: {"role": u.role, "token_sha256": u.token_sha256, "created_at": u.created_at}
                for u in sorted(users.values(), key=lambda u: u.name)
            },
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with self._lock:
            self._signature = None
