"""The console as one Starlette app: pages, the JSON API, packaged static files, and the
security headers on every response. Templates are Jinja2 with autoescaping on, so every value
shown is HTML-escaped."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toolchain_sdk.approval import ApprovalStore
from toolchain_sdk.console._api import api_routes
from toolchain_sdk.console._pages import page_routes
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


def build_app(settings: ConsoleSettings, store: ApprovalStore | None = None) -> Starlette:
    """The console app for ``settings`` (``store``: use this approval store instead of ``settings.store``)."""
    state = ConsoleState(settings, store)
    templates = _templates()
    routes = [
        *api_routes(state),
        *page_routes(state, templates),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.console = state
    app.add_middleware(_SecurityHeaders)
    return app
