"""The request-level rules shared by pages and the API: who the client is, who is logged in, and
whether a state-changing request is really from this console's own page.

* Client address: the socket peer; behind a proxy (``--behind-proxy``), the last
  ``X-Forwarded-For`` hop, which the proxy itself appended.
* Pages: a session cookie (``tc_session``) names a server-side session.
* Forms: every POST carries the session's CSRF token, and a browser's ``Origin`` (or ``Referer``)
  and ``Sec-Fetch-Site`` must say the request comes from this console.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, cast
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from toolchain_sdk.console._sessions import Session
from toolchain_sdk.console._state import ConsoleState
from toolchain_sdk.console._users import User

__all__ = [
    "LOGIN_COOKIE",
    "SECURITY_HEADERS",
    "SESSION_COOKIE",
    "client_address",
    "current_session",
    "from_this_origin",
    "secure_headers",
    "set_cookie",
]

SESSION_COOKIE: Final = "tc_session"
LOGIN_COOKIE: Final = "tc_login"
"""The login form's CSRF token (double submit): a login cannot be forced from another site."""
SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make browsers send "Origin: null" on our own forms
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
"""Sent with every response: no framing, no inline script or style, no caching of data."""


_STRICT: Final = cast(Literal["strict"], "Strict")
"""Written as the standard spells it (``SameSite=Strict``); Starlette passes the text through."""


def secure_headers(response: Response) -> Response:
    """``response`` with the security headers set (kept where a route set its own)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def client_address(request: Request, state: ConsoleState) -> str:
    """Who is asking, for rate limits: the peer address, or the proxy's last forwarded hop."""
    if state.settings.behind_proxy:
        forwarded = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
        if forwarded:
            return forwarded[-1]
    return request.client.host if request.client is not None else "unknown"


def current_session(request: Request, state: ConsoleState) -> tuple[Session, User] | None:
    """The live session the request's cookie names, and its user (``None``: not logged in)."""
    return state.sessions.find(request.cookies.get(SESSION_COOKIE))


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def from_this_origin(request: Request, state: ConsoleState) -> bool:
    """Whether a browser says the request comes from this console's own pages.

    ``Sec-Fetch-Site: cross-site`` / ``same-site`` is refused; an ``Origin`` (else ``Referer``)
    must be this console's scheme, host and port. A client that sends neither (curl) passes here
    and still needs the session's CSRF token.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    host = request.headers.get("host", "")
    scheme = "https" if state.settings.secure_cookies else "http"
    expected = f"{scheme}://{host}".lower()
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.lower() == expected
    referer = request.headers.get("referer")
    if referer is not None:
        return _origin_of(referer) == expected
    return True


def set_cookie(response: Response, state: ConsoleState, name: str, value: str, *, max_age: int | None) -> None:
    """Set a cookie the way every console cookie is set: HttpOnly, SameSite=Strict, path /,
    ``Secure`` when browsers reach the console over TLS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite=_STRICT,
        secure=state.settings.secure_cookies,
    )
