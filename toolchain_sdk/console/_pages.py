"""The console's HTML pages: login, the approvals inbox (live), history, one request, kill
switches, the control sheet and the audit trail. Every page needs a session; every POST needs
the session's CSRF token and must come from this console's own origin.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from toolchain_sdk import inventory
from toolchain_sdk.console._approvals import DECIDED, Action, approval_json, decide, find, history, pending
from toolchain_sdk.console._audit import audit_view
from toolchain_sdk.console._errors import ActionRefused
from toolchain_sdk.console._flags import FlagAction, change_flag, entry_json, known_surfaces
from toolchain_sdk.console._sessions import Session
from toolchain_sdk.console._sheet import COLUMNS, sheet_rows
from toolchain_sdk.console._state import ConsoleState
from toolchain_sdk.console._users import User
from toolchain_sdk.console._web import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    client_address,
    current_session,
    from_this_origin,
    set_cookie,
)
from toolchain_sdk.errors import ConfigError

__all__ = ["page_error", "page_routes"]

_ACTIONS: Final = ("approve", "deny", "edit")
_FLAG_ACTIONS: Final = ("kill", "allow", "restore")
_LOGIN_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{43}")
"""What ``secrets.token_urlsafe(32)`` gives: a login cookie of another shape is replaced."""
Handler = Callable[[Request], Awaitable[Response]]


class _Pages:
    """The page handlers of one console (they share its state and templates)."""

    def __init__(self, state: ConsoleState, templates: Jinja2Templates) -> None:
        self.state = state
        self.templates = templates

    # --- rendering ----------------------------------------------------------------------------
    def render(
        self, request: Request, name: str, status: int = 200, who: tuple[Session, User] | None = None, **context: Any
    ) -> Response:
        session, user = who if who is not None else (None, None)
        context.update(
            user=user,
            csrf=session.csrf if session is not None else "",
            has_sheet=bool(inventory.surfaces()) or bool(self.state.settings.scan),
            has_audit=self.state.audit_path is not None,
            poll_ms=int(self.state.settings.poll_s * 1000),
        )
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def login_page(self, request: Request, status: int = 200, error: str | None = None) -> Response:
        """The login form, with the browser's login CSRF cookie (kept when it has one, so a second
        tab, or a request for a missing file such as ``/favicon.ico``, does not break the first form)."""
        kept = request.cookies.get(LOGIN_COOKIE, "")
        token = kept if _LOGIN_TOKEN.fullmatch(kept) else secrets.token_urlsafe(32)
        response = self.render(request, "login.html", status, login_csrf=token, error=error)
        set_cookie(response, self.state, LOGIN_COOKIE, token, max_age=3600)
        return response

    # --- guards -------------------------------------------------------------------------------
    def page(self, handler: Callable[[Request, tuple[Session, User]], Awaitable[Response]]) -> Handler:
        """A page for logged-in users; anyone else gets the login form (401) and nothing else."""

        async def run(request: Request) -> Response:
            who = current_session(request, self.state)
            if who is None:
                return self.login_page(request, 401)
            return await handler(request, who)

        return run

    async def checked_form(self, request: Request, who: tuple[Session, User]) -> dict[str, str]:
        """The posted form, once it is known to come from this session's own page.

        Raises:
            ActionRefused: 403 without this session's CSRF token or from another origin.
        """
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not from_this_origin(request, self.state):
            raise ActionRefused(403, "refused: the request does not come from this console's pages")
        if not who[0].csrf_ok(fields.get("csrf")):
            raise ActionRefused(403, "refused: the form's CSRF token is missing or not this session's; reload the page")
        return fields

    # --- login --------------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        if current_session(request, self.state) is None:
            return self.login_page(request)
        return RedirectResponse("/inbox", 303)

    async def login(self, request: Request) -> Response:
        client = client_address(request, self.state)
        wait = self.state.limiter.blocked(client)
        if wait:
            response = self.login_page(request, 429, f"too many failed logins from {client}; try again in {wait:.0f} s")
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        form = await request.form()
        expected = request.cookies.get(LOGIN_COOKIE, "")
        given = form.get("login_csrf")
        if (
            not from_this_origin(request, self.state)
            or not expected
            or not secrets.compare_digest(expected, given if isinstance(given, str) else "")
        ):
            return self.login_page(request, 403, "refused: the login form did not come from this console; try again")
        token = form.get("token")
        user = self.state.users.find_token(token.strip() if isinstance(token, str) else "")
        if user is None:
            self.state.limiter.fail(client)
            return self.login_page(request, 401, "that token is not valid")
        session = self.state.sessions.start(user)
        response = RedirectResponse("/inbox", 303)
        set_cookie(response, self.state, SESSION_COOKIE, session.id, max_age=None)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    async def logout(self, request: Request, who: tuple[Session, User]) -> Response:
        try:
            await self.checked_form(request, who)
        except ActionRefused as exc:
            return self.render(request, "message.html", exc.status, who, message=exc.message)
        self.state.sessions.end(who[0].id)
        response = RedirectResponse("/", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # --- approvals ----------------------------------------------------------------------------
    async def _records(self, load: Callable[[], list[Any]]) -> tuple[list[dict[str, Any]], str | None]:
        try:
            records = await run_in_threadpool(load)
        except ConfigError as exc:
            return [], str(exc)
        return [approval_json(r) for r in records], None

    async def inbox(self, request: Request, who: tuple[Session, User], **extra: Any) -> Response:
        items, problem = await self._records(lambda: pending(self.state.store))
        decided = request.query_params.get("decided") if request.method == "GET" else None
        if decided and "done" not in extra:
            found, _ = await self._records(lambda: [r for r in [self.state.store.get(decided)] if r is not None])
            extra["done"] = found[0] if found else None
        status = int(extra.pop("status", 200))
        return self.render(request, "inbox.html", status, who, items=items, problem=problem, **extra)

    async def inbox_rows(self, request: Request, who: tuple[Session, User]) -> Response:
        items, problem = await self._records(lambda: pending(self.state.store))
        return self.render(request, "_requests.html", 200, who, items=items, problem=problem)

    async def decide(self, request: Request, who: tuple[Session, User]) -> Response:
        user = who[1]
        request_id = request.path_params["id"]
        try:
            fields = await self.checked_form(request, who)
            action = fields.get("action", "")
            if action not in _ACTIONS:
                raise ActionRefused(422, f"unknown action {action!r}")
            if not user.can("decide"):
                raise ActionRefused(403, f"{user.name} is a {user.role}: only reviewers decide approvals")
            output: object = None
            if action == "edit":
                output = _edited(fields.get("output"), fields.get("output_kind", "text"))
            stored = await run_in_threadpool(
                decide, self.state.store, request_id, _action(action), by=user.name, reason=fields.get("reason", ""),
                subject_sha256=fields.get("subject_sha256", ""), output=output,
            )  # fmt: skip
        except ActionRefused as exc:
            return await self.inbox(request, who, status=exc.status, error=exc.message)
        except ConfigError as exc:
            return await self.inbox(request, who, status=503, error=str(exc))
        return RedirectResponse(f"/inbox?decided={quote(stored.request.id)}", 303)  # a reload does not post again

    async def history(self, request: Request, who: tuple[Session, User]) -> Response:
        q = request.query_params
        status = q.get("status") or None
        surface, by = q.get("surface") or None, q.get("by") or None
        items, problem = await self._records(lambda: history(self.state.store, status=status, surface=surface, by=by))
        return self.render(request, "history.html", 200, who, items=items, problem=problem, statuses=DECIDED,
                           filters={"status": status or "", "surface": surface or "", "by": by or ""})  # fmt: skip

    async def one(self, request: Request, who: tuple[Session, User]) -> Response:
        request_id = request.path_params["id"]
        try:
            record = await run_in_threadpool(find, self.state.store, request_id)
        except ConfigError as exc:
            return self.render(request, "message.html", 503, who, message=str(exc))
        if record is None:
            return self.render(request, "message.html", 404, who, message=f"no approval request {request_id!r}")
        return self.render(request, "request.html", 200, who, item=approval_json(record))

    # --- kill switches ------------------------------------------------------------------------
    async def flags(self, request: Request, who: tuple[Session, User], **extra: Any) -> Response:
        status = int(extra.pop("status", 200))
        flags = self.state.flags

        def load() -> tuple[Any, ...]:
            surfaces, note = known_surfaces(flags, self.state.settings.scan)
            entries = [entry_json(e) for e in sorted(flags.entries().values(), key=lambda e: e.target)]
            return surfaces, note, entries, flags.history(20)[::-1]

        try:
            surfaces, note, entries, changes = await run_in_threadpool(load)
        except ConfigError as exc:
            surfaces, note, entries, changes = [], None, [], []
            extra.setdefault("error", str(exc))
        return self.render(request, "flags.html", status, who, surfaces=surfaces, note=note, entries=entries,
                           changes=changes, flag_file=str(flags.path), **extra)  # fmt: skip

    async def change_flag(self, request: Request, who: tuple[Session, User]) -> Response:
        user = who[1]
        try:
            fields = await self.checked_form(request, who)
            if not user.can("flags"):
                raise ActionRefused(403, f"{user.name} is a {user.role}: only flag owners change kill switches")
            action = fields.get("action", "")
            if action not in _FLAG_ACTIONS:
                raise ActionRefused(422, f"unknown action {action!r}")
            result = await run_in_threadpool(
                change_flag, self.state.flags, _flag_action(action), fields.get("pattern", ""), by=user.name,
                reason=fields.get("reason", ""), ttl=fields.get("ttl") or None,
            )  # fmt: skip
        except ActionRefused as exc:
            return await self.flags(request, who, status=exc.status, error=exc.message)
        return await self.flags(request, who, done=result)

    # --- control sheet and audit --------------------------------------------------------------
    async def sheet(self, request: Request, who: tuple[Session, User]) -> Response:
        if not inventory.surfaces() and not self.state.settings.scan:
            return self.render(request, "message.html", 404, who, message="no control sheet: no surfaces are "
                               "registered in this process and no --scan paths were given")  # fmt: skip
        rows, note = await run_in_threadpool(sheet_rows, self.state.settings.scan)
        return self.render(request, "sheet.html", 200, who, rows=rows, note=note, columns=COLUMNS)

    async def audit(self, request: Request, who: tuple[Session, User]) -> Response:
        path = self.state.audit_path
        if path is None:
            return self.render(request, "message.html", 404, who, message="no audit page: start the console with "
                               "--audit PATH")  # fmt: skip
        trace_id = request.query_params.get("trace_id", "").strip()
        surface = request.query_params.get("surface", "").strip()
        view = await run_in_threadpool(audit_view, path, trace_id=trace_id, surface=surface)
        return self.render(request, "audit.html", 200, who, view=view, filters={"trace_id": trace_id,
                           "surface": surface})  # fmt: skip


def _action(name: str) -> Action:
    return "approve" if name == "approve" else "deny" if name == "deny" else "edit"


def _flag_action(name: str) -> FlagAction:
    return "kill" if name == "kill" else "allow" if name == "allow" else "restore"


def _edited(text: str | None, kind: str) -> object:
    """The edited output from the form's text box: text as is, base64 for bytes, JSON parsed."""
    if text is None:
        raise ActionRefused(422, "an edit needs the edited output")
    if kind in ("text", "bytes"):
        return text.replace("\r\n", "\n")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ActionRefused(422, f"the output under review is JSON, and the edit is not JSON: {exc}") from None


def page_error(state: ConsoleState, templates: Jinja2Templates) -> Callable[[Request, int, str], Awaitable[Response]]:
    """What a page request gets for a path or method that does not exist: the login form (401)
    without a session, else a message page with the status."""
    p = _Pages(state, templates)

    async def answer(request: Request, status: int, message: str) -> Response:
        who = current_session(request, state)
        if who is None:
            return p.login_page(request, 401)
        return p.render(request, "message.html", status, who, message=message)

    return answer


def page_routes(state: ConsoleState, templates: Jinja2Templates) -> list[Route]:
    """The HTML routes of one console."""
    p = _Pages(state, templates)
    return [
        Route("/", p.home, methods=["GET"]),
        Route("/login", p.home, methods=["GET"]),
        Route("/login", p.login, methods=["POST"]),
        Route("/logout", p.page(p.logout), methods=["POST"]),
        Route("/inbox", p.page(p.inbox), methods=["GET"]),
        Route("/inbox/rows", p.page(p.inbox_rows), methods=["GET"]),
        Route("/approvals/{id}", p.page(p.one), methods=["GET"]),
        Route("/approvals/{id}/decide", p.page(p.decide), methods=["POST"]),
        Route("/history", p.page(p.history), methods=["GET"]),
        Route("/flags", p.page(p.flags), methods=["GET"]),
        Route("/flags", p.page(p.change_flag), methods=["POST"]),
        Route("/sheet", p.page(p.sheet), methods=["GET"]),
        Route("/audit", p.page(p.audit), methods=["GET"]),
    ]
