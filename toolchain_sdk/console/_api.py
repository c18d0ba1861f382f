"""The JSON API under ``/api/``: bearer tokens only (a session cookie grants nothing here, so
there is no CSRF to forge), the same roles as the pages, and fixed shapes — lists are
``{"items": [...]}``, actions return the updated object, errors are ``{"error": "message"}``
with 401 / 403 / 404 / 409 / 422 (and 429 once a client has failed 10 times in a minute).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from toolchain_sdk.console._approvals import (
    DECIDED,
    Action,
    approval_json,
    decide,
    find,
    history,
    no_queue_yet,
    pending,
)
from toolchain_sdk.console._errors import ActionRefused
from toolchain_sdk.console._flags import FlagAction, change_flag, entry_json, known_surfaces
from toolchain_sdk.console._openapi import openapi_document
from toolchain_sdk.console._state import ConsoleState
from toolchain_sdk.console._users import User
from toolchain_sdk.console._web import client_address
from toolchain_sdk.errors import ConfigError

__all__ = ["api_error", "api_routes"]

_BEARER: Final = "bearer "
Need = Literal["read", "decide", "flags"]
Handler = Callable[[Request], Awaitable[Response]]


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"error": message}`` with ``status``."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _Api:
    """The API handlers of one console."""

    def __init__(self, state: ConsoleState) -> None:
        self.state = state

    def guarded(self, need: Need, handler: Callable[[Request, User], Awaitable[Response]]) -> Handler:
        """``handler`` for a request whose bearer token belongs to a user allowed to ``need``."""

        async def run(request: Request) -> Response:
            client = client_address(request, self.state)
            wait = self.state.limiter.blocked(client)
            if wait:
                return error(429, f"too many failed tokens from {client}; try again in {wait:.0f} s",
                             {"Retry-After": str(int(wait) + 1)})  # fmt: skip
            header = request.headers.get("authorization", "")
            if not header.lower().startswith(_BEARER) or not header[len(_BEARER) :].strip():
                return error(401, "send Authorization: Bearer <token> (from `toolchain console users add`)",
                             {"WWW-Authenticate": "Bearer"})  # fmt: skip
            user = await run_in_threadpool(self.state.users.find_token, header[len(_BEARER) :].strip())
            if user is None:
                self.state.limiter.fail(client)
                return error(401, "the token is not valid", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            if not user.can(need):
                who = {"decide": "reviewers", "flags": "flag owners"}.get(need, "users")
                return error(403, f"{user.name} is a {user.role}: only {who} may do this")
            try:
                return await handler(request, user)
            except ActionRefused as exc:
                return error(exc.status, exc.message)
            except ConfigError as exc:
                return error(503, str(exc))

        return run

    async def body(self, request: Request) -> dict[str, Any]:
        """The JSON object sent (an empty body is an empty object).

        Raises:
            ActionRefused: 422 when the body is not a JSON object.
        """
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise ActionRefused(422, f"the body is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ActionRefused(422, "the body must be a JSON object")
        return doc

    async def approvals(self, request: Request, user: User) -> Response:
        status = request.query_params.get("status", "pending")
        surface = request.query_params.get("surface") or None
        store = self.state.store
        if status not in ("pending", "decided", *DECIDED):
            raise ActionRefused(422, f"status must be pending or decided, not {status!r}")
        try:
            if status == "pending":
                records = await run_in_threadpool(pending, store)
                if surface:
                    records = [r for r in records if r.request.surface == surface]
            else:
                one = None if status == "decided" else status
                records = await run_in_threadpool(lambda: history(store, status=one, surface=surface, limit=1000))
        except ConfigError as exc:
            if not no_queue_yet(exc):
                raise
            records = []  # no application has asked for an approval yet
        return JSONResponse({"items": [approval_json(r) for r in records]})

    async def approval(self, request: Request, user: User) -> Response:
        request_id = request.path_params["id"]
        record = await run_in_threadpool(find, self.state.store, request_id)
        if record is None:
            raise ActionRefused(404, f"no approval request {request_id!r}")
        return JSONResponse(approval_json(record))

    def deciding(self, action: Action) -> Callable[[Request, User], Awaitable[Response]]:
        async def run(request: Request, user: User) -> Response:
            doc = await self.body(request)
            reason = doc.get("reason")
            expected = doc.get("subject_sha256")
            stored = await run_in_threadpool(
                decide, self.state.store, request.path_params["id"], action, by=user.name,
                reason=reason if isinstance(reason, str) else "", output=doc.get("output"),
                subject_sha256=expected if isinstance(expected, str) else None,
            )  # fmt: skip
            return JSONResponse(approval_json(stored))

        return run

    async def flags(self, request: Request, user: User) -> Response:
        flags = self.state.flags

        def load() -> dict[str, Any]:
            entries = sorted(flags.entries().values(), key=lambda e: e.target)
            surfaces, note = known_surfaces(flags, self.state.settings.scan)
            return {"items": [entry_json(e) for e in entries], "surfaces": [s.to_json() for s in surfaces],
                    "file": str(flags.path), "note": note}  # fmt: skip

        return JSONResponse(await run_in_threadpool(load))

    def flagging(self, action: FlagAction) -> Callable[[Request, User], Awaitable[Response]]:
        async def run(request: Request, user: User) -> Response:
            doc = await self.body(request)
            pattern, reason, ttl = doc.get("pattern"), doc.get("reason"), doc.get("ttl")
            if ttl is not None and not isinstance(ttl, str):
                raise ActionRefused(422, "ttl must be a duration such as 30m, 2h or 1d")
            result = await run_in_threadpool(
                change_flag, self.state.flags, action, pattern if isinstance(pattern, str) else "", by=user.name,
                reason=reason if isinstance(reason, str) else "", ttl=ttl,
            )  # fmt: skip
            return JSONResponse(result)

        return run


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


def api_error(state: ConsoleState) -> Callable[[Request, int, str, dict[str, str] | None], Awaitable[Response]]:
    """What an ``/api/`` request gets for a route or method that does not exist: ``{"error": ...}``
    with its status, and only once its bearer token is valid (401 before that: nothing answers
    an unauthenticated client but 401)."""
    a = _Api(state)

    async def answer(request: Request, status: int, message: str, headers: dict[str, str] | None) -> Response:
        async def found(request: Request, user: User) -> Response:
            return error(status, message, headers)

        return await a.guarded("read", found)(request)

    return answer


def api_routes(state: ConsoleState) -> list[Route]:
    """The ``/api/`` routes of one console."""
    a = _Api(state)
    routes = [
        Route("/api/health", _health, methods=["GET"]),
        Route("/api/openapi.json", _openapi, methods=["GET"]),
        Route("/api/approvals", a.guarded("read", a.approvals), methods=["GET"]),
        Route("/api/approvals/{id}", a.guarded("read", a.approval), methods=["GET"]),
        Route("/api/flags", a.guarded("read", a.flags), methods=["GET"]),
    ]
    for action in ("approve", "deny", "edit"):
        act: Action = "approve" if action == "approve" else "deny" if action == "deny" else "edit"
        routes.append(Route(f"/api/approvals/{{id}}/{action}", a.guarded("decide", a.deciding(act)), methods=["POST"]))
    for verb in ("kill", "allow", "restore"):
        flag: FlagAction = "kill" if verb == "kill" else "allow" if verb == "allow" else "restore"
        routes.append(Route(f"/api/flags/{verb}", a.guarded("flags", a.flagging(flag)), methods=["POST"]))
    return routes
