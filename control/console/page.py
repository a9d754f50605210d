"""The machinery every console page shares: session, role, CSRF, form, rendering, errors.

A page handler is ``async (request, session, control) -> Response``. :func:`page` wraps it:
no valid session → a redirect to the log-in page; a role the page is not for → 403; a
POST whose CSRF token is wrong → 403 before the handler runs; a
:class:`~control.domain.errors.ServiceError` from the services (the same ones the API
calls, with the session's tenant scope) → the page again with each field's message, or
an error page with the service's status. The console never checks a business rule of
its own: it passes what the operator typed to the service and shows what the service says.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from control.console import sessions
from control.console.guard import csrf_ok
from control.console.sessions import Session
from control.domain.errors import ServiceError
from control.service import Control
from control.storage.audit import Actor, acting

PREFIX = "/console"
M = TypeVar("M", bound=BaseModel)
Role = Literal["any", "admin", "operator"]
Handler = Callable[[Request, Session, Control], Awaitable[Response]]

_TEMPLATES = Environment(
    loader=FileSystemLoader(str(resources.files("control.console").joinpath("templates"))),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.globals["prefix"] = PREFIX
_TEMPLATES.filters["urlquote"] = lambda value: quote(str(value), safe="")


def render(
    request: Request, name: str, session: Session | None, code: int = 200, **context: Any
) -> HTMLResponse:
    who = session.principal if session else None
    body = _TEMPLATES.get_template(name).render(
        request=request,
        who=who,
        csrf=session.csrf if session else "",
        path=request.url.path,
        **context,
    )
    return HTMLResponse(body, status_code=code)


def error_page(
    request: Request, session: Session | None, status: int, errors: dict[str, str]
) -> HTMLResponse:
    return render(request, "error.html", session, status, status=status, errors=errors)


def redirect(path: str, message: str = "") -> RedirectResponse:
    """A 303 after a successful POST (the browser then GETs; a reload does not re-post)."""
    target = PREFIX + path
    if message:
        target += ("&" if "?" in target else "?") + "done=" + quote(message, safe="")
    return RedirectResponse(target, status_code=303)


def allowed(role: Role, session: Session) -> bool:
    actual = session.principal.role
    return role == "any" or actual == "operator" or (role == "admin" and actual != "end_user")


def page(
    handler: Handler, ctl: Control, role: Role = "admin", params: tuple[str, ...] = ()
) -> Callable[[Request], Awaitable[Response]]:
    """``params``: the query parameters the page takes (``done``, the message shown after a
    change, always); any other is refused, as the API refuses it."""
    known = {*params, "done"}

    async def endpoint(request: Request) -> Response:
        cookie = request.cookies.get(sessions.COOKIE)
        session = await run_in_threadpool(sessions.find_session, ctl.db, cookie)
        if session is None:
            target = quote(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
            return RedirectResponse(f"{PREFIX}/login?next={target}", status_code=303)
        if not allowed(role, session):
            return error_page(request, session, 403, {"role": "this page is not for your role"})
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            return error_page(
                request, session, 400, {name: "unknown query parameter" for name in unknown}
            )
        if request.method != "POST":
            return await _handle(handler, request, session, ctl)
        async with request.form() as form:  # closes uploaded files' spool when done
            request.state.form = form
            if not csrf_ok(session.csrf, form.get("csrf")):
                stale = "the form is stale or not from this console; reload the page"
                return error_page(request, session, 403, {"csrf": stale})
            return await _handle(handler, request, session, ctl)

    return endpoint


async def _handle(handler: Handler, request: Request, session: Session, ctl: Control) -> Response:
    who = session.principal
    try:
        # Changes are recorded in the audit trail as this session's token's (console).
        with acting(Actor(who.role, f"console: {who.label}".rstrip(": "), who.token_id)):
            return await handler(request, session, ctl)
    except ServiceError as exc:
        return error_page(request, session, exc.status, exc.errors)


def form_fields(form: FormData, names: tuple[str, ...]) -> dict[str, Any]:
    """The named fields the operator filled in; an empty field means "not given"."""
    values: dict[str, Any] = {}
    for name in names:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            values[name] = value.strip()
    return values


def validate(model: type[M], data: dict[str, Any]) -> M:
    """The API's own body model; its errors become the service's 422, field by field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = {
            ".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()
        }
        raise ServiceError(422, errors) from None


def numeric_id(request: Request, what: str) -> int:
    """The ``{id}`` of the path as a number; anything else is the ordinary 404."""
    text = request.path_params["id"]
    if not text.isdigit():
        raise ServiceError(404, {"id": f"no such {what}"})
    return int(text)


def query_value(request: Request, name: str, default: str = "") -> str:
    return request.query_params.get(name, default)
