"""The operator web console at ``/console/``: server-rendered pages over the same services.

Mounted into the control plane's Starlette app (control/api/app.py). Pages are Jinja2
templates of the console's own (``control/console/templates``), a stylesheet and one small
script of its own (``static/``), with no build step. Every page goes through
:func:`control.console.page.page` (session, role, CSRF, errors); the log-in page is the
only one without a session.
"""

from __future__ import annotations

from importlib import resources
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from control.api.throttle import FailureThrottle
from control.console import (
    accounts_pages,
    admin_pages,
    device_pages,
    me_pages,
    sessions,
    sip_pages,
    template_pages,
)
from control.console.guard import LOGIN_LIMIT, LOGIN_WINDOW_S, SecurityHeaders
from control.console.page import PREFIX, page, render
from control.service import Control


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: a log-in link cannot send anyone elsewhere."""
    if not target:
        return f"{PREFIX}/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"{PREFIX}/"):
        return f"{PREFIX}/"
    return target


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def create_console(ctl: Control, secure_cookie: bool = False) -> Starlette:
    """``secure_cookie``: mark the session cookie Secure (the control plane is on TLS)."""
    limiter = FailureThrottle(LOGIN_LIMIT, LOGIN_WINDOW_S)

    async def login_form(request: Request) -> Response:
        return render(
            request, "login.html", None, next=_safe_next(request.query_params.get("next"))
        )

    async def login(request: Request) -> Response:
        address = _client(request)
        wait = limiter.retry_after(address)
        form = await request.form()
        target = _safe_next(str(form.get("next") or ""))
        if wait:
            response = render(request, "login.html", None, 429, next=target,
                              error=f"Too many failed log-ins; try again in {wait} s.")  # fmt: skip
            response.headers["Retry-After"] = str(wait)
            return response
        token = str(form.get("token") or "").strip()
        opened = await run_in_threadpool(sessions.open_session, ctl.db, token) if token else None
        if opened is None:
            limiter.failed(address)
            return render(request, "login.html", None, 401, next=target,
                          error="That token is not valid.")  # fmt: skip
        session_id, _ = opened
        moved = RedirectResponse(target, status_code=303)
        moved.set_cookie(
            sessions.COOKIE, session_id, max_age=sessions.LIFETIME_S, path=PREFIX,
            httponly=True, secure=secure_cookie, samesite="strict",
        )  # fmt: skip
        return moved

    async def logout(request: Request, session: sessions.Session, ctl: Control) -> Response:
        await run_in_threadpool(
            sessions.close_session, ctl.db, request.cookies.get(sessions.COOKIE)
        )
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(sessions.COOKIE, path=PREFIX)
        return response

    async def home(request: Request, session: sessions.Session, ctl: Control) -> Response:
        target = "/devices" if session.principal.role != "end_user" else "/me"
        return RedirectResponse(PREFIX + target, status_code=303)

    static = resources.files("control.console").joinpath("static")
    routes = [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", page(logout, ctl, "any"), methods=["POST"]),
        Route("/", page(home, ctl, "any"), methods=["GET"]),
        *device_pages.routes(ctl),
        *accounts_pages.routes(ctl),
        *admin_pages.routes(ctl),
        *sip_pages.routes(ctl),
        *template_pages.routes(ctl),
        *me_pages.routes(ctl),
        Mount("/static", app=StaticFiles(directory=str(static)), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(SecurityHeaders)
    return app
