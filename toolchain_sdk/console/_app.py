"""The console as one Starlette app: pages, the JSON API, packaged static files, and the
security headers on every response. Templates are Jinja2 with autoescaping on, so every value
shown is HTML-escaped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toolchain_sdk.approval import ApprovalStore
from toolchain_sdk.console._api import api_error, api_routes
from toolchain_sdk.console._pages import page_error, page_routes
from toolchain_sdk.console._settings import ConsoleSettings
from toolchain_sdk.console._state import ConsoleState
from toolchain_sdk.console._web import SECURITY_HEADERS

__all__ = ["build_app"]

HERE: Final = Path(__file__).resolve().parent


class _SecurityHeaders:
    """ASGI middleware: every HTTP response gets ``SECURITY_HEADERS`` (unless it set its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, sending)


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template, whatever its name: nothing a user sent is ever markup
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = _pretty
    return Jinja2Templates(env=env)


def _pretty(value: object) -> str:
    """A JSON value as indented text (a string as itself), for ``<pre>`` blocks (escaped by Jinja)."""
    import json

    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


_MESSAGES: Final = {404: "there is no such page", 405: "this page does not take that method"}
_API_MESSAGES: Final = {404: "no such API route; see /api/openapi.json", 405: "method not allowed on this route"}


def _errors(state: ConsoleState, templates: Jinja2Templates) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The handler for routing errors (404 no such path, 405 wrong method): ``{"error": ...}`` under
    ``/api/``, the login form or a message page elsewhere — never a bare text answer."""
    for_api, for_pages = api_error(state), page_error(state, templates)

    async def handle(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else None
        if request.url.path == "/api" or request.url.path.startswith("/api/"):
            return await for_api(request, status, _API_MESSAGES.get(status, f"HTTP {status}"), headers)
        return await for_pages(request, status, _MESSAGES.get(status, f"HTTP {status}"))

    return handle


def build_app(settings: ConsoleSettings, store: ApprovalStore | None = None) -> Starlette:
    """The console app for ``settings`` (``store``: use this approval store instead of ``settings.store``)."""
    state = ConsoleState(settings, store)
    templates = _templates()
    routes = [
        *api_routes(state),
        *page_routes(state, templates),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _errors(state, templates)})
    app.state.console = state
    app.add_middleware(_SecurityHeaders)
    return app
