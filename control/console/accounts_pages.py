"""Console pages for SIP device accounts: search, create (plain, wizard, batch), one account."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from control.api import schemas
from control.console.page import (
    form_fields,
    numeric_id,
    page,
    query_value,
    redirect,
    render,
    validate,
)
from control.console.sessions import Session
from control.domain import accountcsv
from control.domain.errors import ServiceError
from control.domain.refs import parse_ref
from control.search import SORT_FIELDS
from control.service import Control

PAGE_SIZE = 50
# The SIP parameters of the detail form, as the API names them.
TEXT_FIELDS = (
    "username", "realm", "display_name", "invite_format", "expires", "caller_id_name",
    "caller_id_number", "owner", "email", "description", "secondary_number", "auth_method", "ip",
)  # fmt: skip
INVITE_FORMATS = ("username", "npan", "1npan", "e164", "route")


def _tenant(request: Request, session: Session, given: str) -> int | str:
    if given:
        return parse_ref(given)
    if session.principal.scope is None:
        raise ServiceError(422, {"tenant": "choose a tenant"})
    return session.principal.scope


def _account_form(form: FormData) -> dict[str, Any]:
    """The detail form as an API body: flags as a list, rules as rows, the enabled box."""
    fields = form_fields(form, TEXT_FIELDS)
    flags = str(form.get("outbound_flags") or "")
    fields["outbound_flags"] = [flag.strip() for flag in flags.split(",") if flag.strip()]
    actions, networks = form.getlist("rule_action"), form.getlist("rule_network")
    fields["access_rules"] = [
        {"action": str(action), "network": str(network).strip()}
        for action, network in zip(actions, networks, strict=False)
        if str(network).strip()
    ]
    return fields


async def accounts(request: Request, session: Session, ctl: Control) -> Response:
    scope = session.principal.scope
    tenants = await run_in_threadpool(ctl.list_tenants, scope)
    given = query_value(request, "tenant") or (str(tenants[0]["id"]) if tenants else "")
    q, sort, order = (
        query_value(request, n, d) for n, d in (("q", ""), ("sort", "username"), ("order", "asc"))
    )
    context: dict[str, Any] = {
        "tenants": tenants, "tenant": given, "q": q, "sort": sort, "order": order,
        "sorts": SORT_FIELDS, "done": query_value(request, "done"), "invite_formats": INVITE_FORMATS,
        "cursor": query_value(request, "cursor"),
    }  # fmt: skip
    if not given:
        return render(request, "accounts.html", session, listing=None, **context)
    try:
        listing = await run_in_threadpool(
            ctl.list_accounts, _tenant(request, session, given), scope, q, sort, order,
            PAGE_SIZE, query_value(request, "cursor") or None,
        )  # fmt: skip
    except ServiceError as exc:
        if exc.status not in (400, 422):
            raise
        return render(
            request, "accounts.html", session, 400, listing=None, errors=exc.errors, **context
        )
    return render(request, "accounts.html", session, listing=listing, **context)


async def account_create(request: Request, session: Session, ctl: Control) -> Response:
    """Plain (the password shown once) or wizard (disabled until its link is used)."""
    form = request.state.form
    fields = form_fields(form, ("tenant", "username", "password", "display_name", "owner", "email"))
    fields["activation"] = form.get("mode") == "wizard"
    body = validate(schemas.AccountIn, fields)
    made = await run_in_threadpool(ctl.create_account, body, session.principal.scope)
    token = made.pop("activation_token", None)
    link = f"{str(request.base_url).rstrip('/')}/api/v1/activations/{token}" if token else None
    return render(request, "account_created.html", session, account=made, activation_url=link)


async def accounts_batch(request: Request, session: Session, ctl: Control) -> Response:
    form = request.state.form
    fields = form_fields(form, ("tenant", "count", "username_pattern", "start"))
    body = validate(schemas.AccountBatchIn, fields)
    made = await run_in_threadpool(ctl.create_accounts, body, session.principal.scope)
    return _created(request, session, made)


async def accounts_batch_csv(request: Request, session: Session, ctl: Control) -> Response:
    """A CSV batch (the API's ``POST /accounts/batch`` with a text/csv body): a dry run
    first lists what it would create, or each bad row with nothing written; its page
    carries the file on, so creating is one more click, without choosing the file again."""
    form = request.state.form
    given = str(form.get("tenant") or "")
    tenant = _tenant(request, session, given)
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        text = (await upload.read()).decode("utf-8-sig", errors="replace")
    else:
        text = str(form.get("csv") or "")
    if not text.strip():
        raise ServiceError(422, {"file": "choose a CSV file"})
    dry_run = bool(form.get("dry_run"))
    context: dict[str, Any] = {"tenant": given, "dry_run": dry_run, "csv": text}
    try:
        made = await run_in_threadpool(
            ctl.import_accounts, tenant, text, session.principal.scope, dry_run
        )
    except ServiceError as exc:
        if exc.status != 422:
            raise
        return render(request, "batch_preview.html", session, 422, errors=exc.errors, **context)
    if dry_run:
        return render(request, "batch_preview.html", session, result=made, **context)
    return _created(request, session, made)


def _created(request: Request, session: Session, made: dict[str, Any]) -> Response:
    """The accounts made with their passwords, shown and offered as the API's CSV, once
    (the page is not cached; the passwords are revealed again only on purpose)."""
    download = "data:text/csv;charset=utf-8," + quote(accountcsv.write_created(made["items"]))
    return render(request, "batch_created.html", session, result=made, download=download)


async def account(request: Request, session: Session, ctl: Control) -> Response:
    found = await run_in_threadpool(ctl.get_account, _id(request), session.principal.scope)
    return render(
        request, "account.html", session, account=found, invite_formats=INVITE_FORMATS,
        done=query_value(request, "done"),
    )  # fmt: skip


async def account_update(request: Request, session: Session, ctl: Control) -> Response:
    form = request.state.form
    fields = _account_form(form)
    fields["enabled"] = bool(form.get("enabled"))
    if fields.get("auth_method") == "password":
        fields.pop("ip", None)
    patch = validate(schemas.AccountPatch, fields)
    await run_in_threadpool(ctl.update_account, _id(request), patch, session.principal.scope)
    return redirect(f"/accounts/{_id(request)}", "Account saved")


async def account_reveal(request: Request, session: Session, ctl: Control) -> Response:
    found = await run_in_threadpool(ctl.reveal_password, _id(request), session.principal.scope)
    return render(request, "password.html", session, account=found)


async def account_delete(request: Request, session: Session, ctl: Control) -> Response:
    force = request.state.form.get("force") == "true"
    await run_in_threadpool(ctl.delete_account, _id(request), force, session.principal.scope)
    return redirect("/accounts", "Account deleted")


def _id(request: Request) -> int:
    return numeric_id(request, "account")


def routes(ctl: Control) -> list[Route]:
    listing = ("tenant", "q", "sort", "order", "cursor")
    return [
        Route("/accounts", page(accounts, ctl, params=listing), methods=["GET"]),
        Route("/accounts", page(account_create, ctl), methods=["POST"]),
        Route("/accounts/batch", page(accounts_batch, ctl), methods=["POST"]),
        Route("/accounts/batch-csv", page(accounts_batch_csv, ctl), methods=["POST"]),
        Route("/accounts/{id}", page(account, ctl), methods=["GET"]),
        Route("/accounts/{id}", page(account_update, ctl), methods=["POST"]),
        Route("/accounts/{id}/reveal", page(account_reveal, ctl), methods=["POST"]),
        Route("/accounts/{id}/delete", page(account_delete, ctl), methods=["POST"]),
    ]
