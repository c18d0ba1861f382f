"""The reviewer console: approve, deny or edit waiting calls and flip kill switches in a browser.

``toolchain console`` serves it (Starlette + uvicorn, the ``console`` extra); ``toolchain
console users add NAME --role reviewer`` issues a login token. Nothing is open by default: it
binds to 127.0.0.1, every page needs a login, every form a CSRF token, and the JSON API under
``/api/`` a bearer token. This module imports no web library until ``create_app`` is called.

See ``docs/console.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolchain_sdk.console._settings import DEFAULT_HOST, DEFAULT_PORT, ConsoleSettings, is_loopback
from toolchain_sdk.console._users import DEFAULT_USERS_PATH, ROLES, Role, User, UserStore, hash_token

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from toolchain_sdk.approval import ApprovalStore

__all__ = [
    "ConsoleSettings",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_USERS_PATH",
    "ROLES",
    "Role",
    "User",
    "UserStore",
    "create_app",
    "hash_token",
    "is_loopback",
]


def create_app(settings: ConsoleSettings | None = None, *, store: ApprovalStore | None = None) -> Starlette:
    """The console as an ASGI app, e.g. to serve it inside your own process (its control sheet and
    kill-switch page then list that process's registered surfaces).

    Raises:
        ConfigError: the ``console`` extra is missing (``pip install 'toolchain-sdk[console]'``),
            or the settings would expose the console unprotected.
    """
    from toolchain_sdk.console._extra import require_extra

    require_extra()
    from toolchain_sdk.console._app import build_app

    chosen = settings or ConsoleSettings()
    chosen.check()
    return build_app(chosen, store)
