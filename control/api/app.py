"""The control API: a Starlette app of thin endpoints over control.service.Control.

Every route is one :class:`~control.api.route.Op` in ``ROUTES`` below (the entry's format is
described in ``control/api/route.py``); the Starlette routes and the OpenAPI document are
both built from that table. Every endpoint authenticates (bearer token) and authorises
(role, tenant scope) before it reads anything; query parameters and JSON bodies (orjson,
bounded by ``max_body_bytes``) are validated by pydantic; every error is JSON of the form
``{"errors": {"<field>": "<what is wrong>"}}``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from control.api import auth, schemas
from control.api.auth import Principal
from control.api.bodies import (
    BULK_BODY_BYTES,
    MAX_BODY_BYTES,
    media_type,
    parse_body,
    parse_query,
)
from control.api.gate import Gate
from control.api.lastuse import DEFAULT_INTERVAL_S, LastUse
from control.api.metrics import ControlMetrics
from control.api.openapi import document
from control.api.route import Op, Role
from control.api.throttle import FailureThrottle
from control.console.app import create_console
from control.domain import accountcsv, devicecsv
from control.domain.backgrounds import MAX_BYTES as BACKGROUND_BYTES
from control.domain.backgrounds import MEDIA_TYPES as BACKGROUND_TYPES
from control.domain.backgrounds import variant_of
from control.domain.catalog import MODELS
from control.domain.errors import ServiceError
from control.domain.refs import parse_ref
from control.service import Control
from control.storage.audit import Actor, acting
from provedge.formats.macaddr import InvalidMac, normalize_mac

# Public routes run with this principal: scoped to tenant 0, which no tenant has.
PUBLIC = Principal("public", 0)


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _path_tenant(request: Request) -> int | str:
    return parse_ref(request.path_params["tenant"])


def _tenant_or_scope(request: Request, principal: Principal) -> int | str:
    ref: int | str | None = request.state.query.tenant
    if ref is None:
        if principal.scope is None:
            raise ServiceError(422, {"tenant": "query parameter required"})
        return principal.scope
    return ref


def _authorize(role: Role, principal: Principal) -> None:
    # An end user's token reaches its own routes only, and only it reaches them.
    if (role == "self") != (principal.role == "end_user"):
        if role == "self":
            raise ServiceError(403, {"role": "end-user tokens only"})
        raise ServiceError(403, {"role": "not with an end-user token"})
    if role == "operator" and principal.role != "operator":
        raise ServiceError(403, {"role": "operators only"})
    if role == "admin" and principal.role == "end_user":
        raise ServiceError(403, {"role": "operators and tenant admins only"})


# ---- endpoints: each is (request, principal, control) -> JSON-able -------------------------
async def models(request: Request, who: Principal, ctl: Control) -> Any:
    return [
        {
            "id": m.id,
            "vendor": m.vendor.id,
            "label": m.label,
            "accounts": m.accounts,
            "line_keys": m.line_keys,
            "files": [
                f.pattern.format(**{**m.params, "mac": "{mac}", "MAC": "{MAC}"})
                for f in m.vendor.files
            ],
            "wallpaper": None
            if (v := variant_of(m)) is None
            else {"width": v.width, "height": v.height, "content_type": v.content_type},
        }
        for m in MODELS.values()
    ]


async def tenants_list(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.list_tenants, who.scope)


async def tenants_create(request: Request, who: Principal, ctl: Control) -> Any:
    return 201, await run_in_threadpool(ctl.create_tenant, request.state.body)


async def tenant_get(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.get_tenant, _path_tenant(request), who.scope)


async def tenant_patch(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.update_tenant, _path_tenant(request), request.state.body)


async def devices_list(request: Request, who: Principal, ctl: Control) -> Any:
    q = request.state.query
    return await run_in_threadpool(
        ctl.list_devices, q.tenant, who.scope, q.limit, q.cursor, q.filter, q.q, q.sort, q.order
    )


def _import_rows(body: str | list[schemas.ImportRow]) -> list[dict[str, str]]:
    if isinstance(body, str):
        return devicecsv.read_rows(body)
    return [row.model_dump(exclude_none=True) for row in body]


async def devices_import(request: Request, who: Principal, ctl: Control) -> Any:
    q = request.state.query
    rows = await run_in_threadpool(_import_rows, request.state.body)
    tenant = _tenant_or_scope(request, who)
    return await run_in_threadpool(ctl.import_devices, tenant, rows, q.dry_run, who.scope)


async def _selected(request: Request, who: Principal, ctl: Control) -> list[str]:
    b = request.state.body
    return await run_in_threadpool(ctl.selected_devices, b.macs, b.tenant, b.filter, b.q, who.scope)


async def devices_remove(request: Request, who: Principal, ctl: Control) -> Any:
    macs = await _selected(request, who, ctl)
    return await run_in_threadpool(ctl.remove_devices, macs, who.scope)


async def devices_counter_reset(request: Request, who: Principal, ctl: Control) -> Any:
    macs = await _selected(request, who, ctl)
    return await run_in_threadpool(ctl.reset_provision_counters, macs, who.scope)


async def devices_export(request: Request, who: Principal, ctl: Control) -> Any:
    tenant = _tenant_or_scope(request, who)
    q = request.state.query
    text = await run_in_threadpool(ctl.export_devices, tenant, q.filter, who.scope, q.q)
    return Response(text, media_type="text/csv; charset=utf-8")


async def devices_create(request: Request, who: Principal, ctl: Control) -> Any:
    return 201, await run_in_threadpool(ctl.create_device, request.state.body, who.scope)


async def device_get(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.get_device, request.path_params["mac"], who.scope)


async def device_patch(request: Request, who: Principal, ctl: Control) -> Any:
    mac = request.path_params["mac"]
    return await run_in_threadpool(ctl.update_device, mac, request.state.body, who.scope)


async def device_delete(request: Request, who: Principal, ctl: Control) -> Any:
    await run_in_threadpool(ctl.delete_device, request.path_params["mac"], who.scope)
    return 204, None


async def lines_get(request: Request, who: Principal, ctl: Control) -> Any:
    device = await run_in_threadpool(ctl.get_device, request.path_params["mac"], who.scope)
    return device["lines"]


async def lines_put(request: Request, who: Principal, ctl: Control) -> Any:
    numbers = [line.extension for line in request.state.body]
    labels = [line.label for line in request.state.body]
    mac = request.path_params["mac"]
    device = await run_in_threadpool(ctl.set_lines, mac, numbers, who.scope, labels)
    return device["lines"]


async def keys_get(request: Request, who: Principal, ctl: Control) -> Any:
    device = await run_in_threadpool(ctl.get_device, request.path_params["mac"], who.scope)
    return device["keys"]


async def keys_put(request: Request, who: Principal, ctl: Control) -> Any:
    keys = [(key.extension, key.label) for key in request.state.body]
    mac = request.path_params["mac"]
    device = await run_in_threadpool(ctl.set_keys, mac, keys, who.scope)
    return device["keys"]


async def accounts_list(request: Request, who: Principal, ctl: Control) -> Any:
    q = request.state.query
    tenant = _tenant_or_scope(request, who)
    return await run_in_threadpool(
        ctl.list_accounts, tenant, who.scope, q.q, q.sort, q.order, q.limit, q.cursor
    )


def _with_activation_url(request: Request, answer: dict[str, Any]) -> dict[str, Any]:
    """The link is this API's public route, at the address the client reached it by."""
    token = answer.pop("activation_token", None)
    if token is not None:
        answer["activation_url"] = f"{str(request.base_url).rstrip('/')}/api/v1/activations/{token}"
    return answer


async def accounts_create(request: Request, who: Principal, ctl: Control) -> Any:
    made = await run_in_threadpool(ctl.create_account, request.state.body, who.scope)
    return 201, _with_activation_url(request, made)


def _wants_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "").lower()


async def accounts_batch(request: Request, who: Principal, ctl: Control) -> Any:
    """A pattern (JSON) or the rows of a CSV body; the answer as JSON or, asked for by
    ``Accept: text/csv``, as CSV of the accounts made with their passwords."""
    body, q = request.state.body, request.state.query
    if isinstance(body, str):
        tenant = _tenant_or_scope(request, who)
        made = await run_in_threadpool(ctl.import_accounts, tenant, body, who.scope, q.dry_run)
    elif q.tenant is not None:
        raise ServiceError(422, {"tenant": "a pattern batch names its tenant in the body"})
    else:
        made = await run_in_threadpool(ctl.create_accounts, body, who.scope, q.dry_run)
    status = 200 if made["dry_run"] else 201
    if _wants_csv(request) and not made["dry_run"]:
        text = accountcsv.write_created(made["items"])
        return Response(text, status_code=status, media_type="text/csv; charset=utf-8")
    return status, made


async def accounts_export(request: Request, who: Principal, ctl: Control) -> Any:
    q = request.state.query
    tenant = _tenant_or_scope(request, who)
    text = await run_in_threadpool(ctl.export_accounts, tenant, q.q, q.sort, q.order, who.scope)
    return Response(text, media_type="text/csv; charset=utf-8")


async def account_activation(request: Request, who: Principal, ctl: Control) -> Any:
    issued = await run_in_threadpool(ctl.issue_activation, _account_id(request), who.scope)
    return _with_activation_url(request, issued)


async def activation_use(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.activate, request.path_params["token"])


def _account_id(request: Request) -> int:
    return _numeric_id(request, "account")


async def account_get(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.get_account, _account_id(request), who.scope)


async def account_patch(request: Request, who: Principal, ctl: Control) -> Any:
    account_id = _account_id(request)
    return await run_in_threadpool(ctl.update_account, account_id, request.state.body, who.scope)


async def account_delete(request: Request, who: Principal, ctl: Control) -> Any:
    force = request.state.query.force
    await run_in_threadpool(ctl.delete_account, _account_id(request), force, who.scope)
    return 204, None


async def account_reveal(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.reveal_password, _account_id(request), who.scope)


async def extensions_list(request: Request, who: Principal, ctl: Control) -> Any:
    tenant = _tenant_or_scope(request, who)
    return await run_in_threadpool(ctl.list_extensions, tenant, who.scope)


async def extensions_create(request: Request, who: Principal, ctl: Control) -> Any:
    return 201, await run_in_threadpool(ctl.create_extension, request.state.body, who.scope)


def _numeric_id(request: Request, what: str) -> int:
    ref = parse_ref(request.path_params["id"])
    if not isinstance(ref, int):
        raise ServiceError(404, {"id": f"no such {what}"})
    return ref


def _job_id(request: Request) -> int:
    return _numeric_id(request, "job")


async def jobs_list(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.list_jobs, request.state.query.state, who.scope)


async def job_get(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.get_job, _job_id(request), who.scope)


async def job_cancel(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.cancel_job, _job_id(request), who.scope)


def _template_id(request: Request) -> int:
    return _numeric_id(request, "template")


async def template_sample(request: Request, who: Principal, ctl: Control) -> Any:
    p = request.path_params
    text = await run_in_threadpool(
        ctl.template_sample, p["model"], p["file"], request.state.query.engine
    )
    return Response(text, media_type="text/plain; charset=utf-8")


async def templates_list(request: Request, who: Principal, ctl: Control) -> Any:
    tenant = _tenant_or_scope(request, who)
    return await run_in_threadpool(ctl.list_templates, tenant, who.scope)


def _template_fields(body: Any) -> dict[str, Any]:
    fields = body.model_dump(exclude_none=True)
    if "default" in fields:
        fields["is_default"] = int(fields.pop("default"))
    return dict(fields)


async def templates_create(request: Request, who: Principal, ctl: Control) -> Any:
    fields = _template_fields(request.state.body)
    return 201, await run_in_threadpool(ctl.save_template, None, fields, who.scope)


async def template_get(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.get_template, _template_id(request), who.scope)


async def template_put(request: Request, who: Principal, ctl: Control) -> Any:
    fields = _template_fields(request.state.body)
    return await run_in_threadpool(ctl.save_template, _template_id(request), fields, who.scope)


async def template_delete(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.delete_template, _template_id(request), who.scope)


async def device_preview(request: Request, who: Principal, ctl: Control) -> Any:
    p = request.path_params
    template = request.state.query.template
    return await run_in_threadpool(ctl.preview, p["mac"], p["file"], template, who.scope)


async def job_results(request: Request, who: Principal, ctl: Control) -> Any:
    q = request.state.query
    return await run_in_threadpool(
        ctl.job_results, _job_id(request), who.scope, q.state, q.limit, q.cursor
    )


async def device_reboot(request: Request, who: Principal, ctl: Control) -> Any:
    try:
        mac = normalize_mac(request.path_params["mac"])
    except ValueError:
        raise ServiceError(404, {"mac": "no such device"}) from None
    body = request.state.body
    job = await run_in_threadpool(
        ctl.start_reboot, None, who.scope, [mac], "all", body.mode, 1.0, 1, 0.0, body.confirm_s
    )
    return 202, job


async def reboots_start(request: Request, who: Principal, ctl: Control) -> Any:
    b = request.state.body
    job = await run_in_threadpool(
        ctl.start_reboot, b.tenant, who.scope, b.macs, b.filter, b.mode, b.rate_per_s,
        b.wave_size, b.wave_pause_s, b.confirm_s, b.q,
    )  # fmt: skip
    return 202, job


async def firewall_get(request: Request, who: Principal, ctl: Control) -> Any:
    tenant = await run_in_threadpool(ctl.firewall_tenant, request.state.query.tenant)
    return await run_in_threadpool(ctl.firewall.settings, tenant)


async def firewall_put(request: Request, who: Principal, ctl: Control) -> Any:
    tenant = await run_in_threadpool(ctl.firewall_tenant, request.state.query.tenant)
    body = request.state.body.model_dump()
    return await run_in_threadpool(ctl.firewall.put_settings, tenant, body)


async def registrations_list(request: Request, who: Principal, ctl: Control) -> Any:
    q = request.state.query
    mac = None
    if q.mac is not None:
        try:
            mac = normalize_mac(q.mac)
        except ValueError:
            raise ServiceError(422, {"mac": "not a MAC address"}) from None
    return await run_in_threadpool(
        ctl.list_registrations, q.tenant, who.scope, q.account, mac, q.limit, q.cursor
    )


async def bans_list(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.firewall.list)


async def bans_add(request: Request, who: Principal, ctl: Control) -> Any:
    body = request.state.body
    return 201, await run_in_threadpool(ctl.firewall.add, body.address, body.duration_s)


async def ban_lift(request: Request, who: Principal, ctl: Control) -> Any:
    await run_in_threadpool(ctl.firewall.lift, request.path_params["address"])
    return 204, None


# ---- background images (control/backgrounds.py) ------------------------------------------
async def backgrounds_upload(request: Request, who: Principal, ctl: Control) -> Any:
    tenant = _tenant_or_scope(request, who)
    data, name = request.state.body, request.state.query.name
    made = await run_in_threadpool(
        ctl.upload_background, tenant, name, data, media_type(request), who.scope
    )
    return 201, made


async def backgrounds_list(request: Request, who: Principal, ctl: Control) -> Any:
    tenant = _tenant_or_scope(request, who)
    return await run_in_threadpool(ctl.list_backgrounds, tenant, who.scope)


async def background_get(request: Request, who: Principal, ctl: Control) -> Any:
    background_id = _numeric_id(request, "background")
    return await run_in_threadpool(ctl.get_background, background_id, who.scope)


async def background_delete(request: Request, who: Principal, ctl: Control) -> Any:
    background_id, force = _numeric_id(request, "background"), request.state.query.force
    await run_in_threadpool(ctl.delete_background, background_id, force, who.scope)
    return 204, None


# ---- end-user self-service (control/selfservice.py) -------------------------------------
def _me(who: Principal) -> tuple[int, int]:
    """The account and tenant of an end user's token (only they reach role "self")."""
    assert who.account_id is not None and who.tenant_id is not None
    return who.account_id, who.tenant_id


async def me_devices(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.my_devices, *_me(who))


async def me_device_get(request: Request, who: Principal, ctl: Control) -> Any:
    return await run_in_threadpool(ctl.my_device, request.path_params["mac"], *_me(who))


async def me_device_patch(request: Request, who: Principal, ctl: Control) -> Any:
    mac = request.path_params["mac"]
    return await run_in_threadpool(ctl.update_my_device, mac, request.state.body, *_me(who))


# ---- audit trail and tokens ----------------------------------------------------------------
def _utc_text(when: datetime | None) -> str | None:
    """As the trail writes ``at`` (text that sorts as time); a naive time is UTC."""
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _object_name(name: str | None) -> str | None:
    """``device/<MAC in any notation>[/...]`` as the trail names it; others as given."""
    if name is None or not name.startswith("device/"):
        return name
    mac, _, tail = name[len("device/") :].partition("/")
    try:
        normal = normalize_mac(mac)
    except InvalidMac:
        raise ServiceError(422, {"object": "not a MAC address after device/"}) from None
    return f"device/{normal}" + (f"/{tail}" if tail else "")


async def audit_list(request: Request, who: Principal, ctl: Control) -> Any:
    q = request.state.query
    cursor = None if q.cursor is None else int(q.cursor)
    return await run_in_threadpool(
        ctl.list_audit,
        q.tenant,
        who.scope,
        _object_name(q.object),
        _utc_text(q.since),
        q.limit,
        cursor,
    )


async def tokens_list(request: Request, who: Principal, ctl: Control) -> Any:
    request.app.state.gate.last_use.flush()  # a listing shows fresh last-use times
    return await run_in_threadpool(auth.list_tokens, ctl.db)


async def tokens_create(request: Request, who: Principal, ctl: Control) -> Any:
    body: schemas.TokenIn = request.state.body
    tenant_id = None
    if body.tenant is not None:
        tenant_id = (await run_in_threadpool(ctl.get_tenant, body.tenant))["id"]
    expires_at = (
        None if body.expires_in_days is None else time.time() + body.expires_in_days * 86400
    )
    token = await run_in_threadpool(
        auth.create_token, ctl.db, body.role, tenant_id, body.label, body.account, expires_at
    )
    view = await run_in_threadpool(auth.get_token, ctl.db, auth.token_hash(token)[: auth.ID_LENGTH])
    return 201, {**view, "token": token}


async def token_revoke(request: Request, who: Principal, ctl: Control) -> Any:
    await run_in_threadpool(auth.revoke_token, ctl.db, request.path_params["token_id"])
    return 204, None


async def openapi(request: Request, who: Principal, ctl: Control) -> Any:
    return request.app.state.openapi


async def healthz(request: Request, who: Principal, ctl: Control) -> Any:
    return {"status": "ok"}


async def metrics(request: Request, who: Principal, ctl: Control) -> Any:
    body = await run_in_threadpool(request.app.state.metrics.render)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


S = schemas
ROUTES: list[Op] = [
    Op("GET", "/api/v1/models", models, "Supported phone models", list[S.ModelOut], role="any"),
    Op("GET", "/api/v1/tenants", tenants_list, "List tenants", list[S.TenantOut]),
    Op("POST", "/api/v1/tenants", tenants_create, "Create a tenant", S.TenantOut, 201,
       body=S.TenantIn, role="operator", errors=(409,)),
    Op("GET", "/api/v1/tenants/{tenant}", tenant_get, "One tenant", S.TenantOut, errors=(404,)),
    Op("PATCH", "/api/v1/tenants/{tenant}", tenant_patch,
       "Change a tenant (its devices are recompiled by the job in `job`)", S.TenantOut,
       body=S.TenantPatch,
       role="operator", errors=(404,)),
    Op("GET", "/api/v1/devices", devices_list, "A page of devices: filtered, searched, sorted", S.DevicePage,
       query=S.DevicesQuery, errors=(404,)),
    Op("POST", "/api/v1/devices", devices_create, "Add a device by MAC", S.DeviceOut, 201,
       body=S.DeviceIn, errors=(404, 409)),
    Op("POST", "/api/v1/devices/import", devices_import,
       "Import devices from CSV or JSON rows, all or nothing (`dry_run`: report only)",
       S.ImportOut, body=S.ImportRows, body_media_types=("application/json", "text/csv"),
       body_limit=BULK_BODY_BYTES,
       query=S.ImportQuery, errors=(404, 422)),
    Op("POST", "/api/v1/devices/remove", devices_remove,
       "Remove one or many devices, all or nothing (404 naming each unknown MAC)",
       S.RemovedOut, body=S.DevicesRemoveIn, errors=(404,)),
    Op("POST", "/api/v1/devices/reset-provision-counter", devices_counter_reset,
       "Start the provision counters of one or many devices again from 0, all or nothing",
       S.CounterResetOut, body=S.CounterResetIn, errors=(404,)),
    Op("GET", "/api/v1/devices/export", devices_export,
       "The devices of a tenant under the list's filter and search as CSV (mac, model, name,"
       " line1..line6)", str,
       query=S.ExportQuery, errors=(404,), media_type="text/csv"),
    Op("GET", "/api/v1/devices/{mac}", device_get, "One device", S.DeviceOut, errors=(404,)),
    Op("PATCH", "/api/v1/devices/{mac}", device_patch, "Change a device", S.DeviceOut,
       body=S.DevicePatch, errors=(404,)),
    Op("DELETE", "/api/v1/devices/{mac}", device_delete, "Remove a device", None, 204,
       errors=(404,)),
    Op("GET", "/api/v1/devices/{mac}/lines", lines_get, "A device's lines", list[S.LineOut],
       errors=(404,)),
    Op("PUT", "/api/v1/devices/{mac}/lines", lines_put, "Replace a device's lines (at most 6)",
       list[S.LineOut], body=S.Lines, body_name="lines", errors=(404, 422)),
    Op("GET", "/api/v1/devices/{mac}/keys", keys_get, "A device's BLF keys", list[S.KeyOut],
       errors=(404,)),
    Op("PUT", "/api/v1/devices/{mac}/keys", keys_put,
       "Replace a device's BLF keys (after its lines, within the model's keys)",
       list[S.KeyOut], body=S.Keys, body_name="keys", errors=(404, 422)),
    Op("GET", "/api/v1/accounts", accounts_list,
       "Search a tenant's SIP device accounts (Lucene syntax), one page at a time",
       S.AccountPage, query=S.AccountsQuery, errors=(400, 404)),
    Op("POST", "/api/v1/accounts", accounts_create, "Create a SIP device account", S.AccountOut,
       201, body=S.AccountIn, errors=(404, 409)),
    Op("POST", "/api/v1/accounts/batch", accounts_batch,
       "Create up to 100,000 accounts from a username pattern (JSON) or CSV rows, all or"
       " nothing (`dry_run`: check only, 200); `Accept: text/csv` answers CSV",
       S.AccountBatchOut, 201, body=S.AccountBatchIn,
       body_media_types=("application/json", "text/csv"), body_limit=BULK_BODY_BYTES,
       query=S.AccountBatchQuery,
       errors=(404, 422)),
    Op("GET", "/api/v1/accounts/export", accounts_export,
       "The accounts matching a Lucene query as CSV (every field but the password)", str,
       query=S.AccountsExportQuery, errors=(400, 404), media_type="text/csv"),
    Op("GET", "/api/v1/accounts/{id}", account_get, "One SIP device account", S.AccountOut,
       errors=(404,)),
    Op("PATCH", "/api/v1/accounts/{id}", account_patch,
       "Change an account (`changed` names what changed; its devices are republished)",
       S.AccountOut, body=S.AccountPatch, errors=(404, 409)),
    Op("DELETE", "/api/v1/accounts/{id}", account_delete,
       "Remove an account (409 while device lines use it, unless `force`)", None, 204,
       query=S.AccountDeleteQuery, errors=(404, 409)),
    Op("POST", "/api/v1/accounts/{id}/reveal-password", account_reveal,
       "Show an account's SIP password", S.PasswordOut, errors=(404,)),
    Op("POST", "/api/v1/accounts/{id}/activation", account_activation,
       "Issue a new one-time activation link (earlier unused ones stop working)",
       S.ActivationIssued, errors=(404,)),
    Op("GET", "/api/v1/activations/{token}", activation_use,
       "Use an activation link: enables the account once; the token is the credential",
       S.ActivationOut, role="public", errors=(404, 410)),
    Op("GET", "/api/v1/extensions", extensions_list, "List extensions of a tenant",
       list[S.ExtensionOut], query=S.TenantQuery, errors=(404,)),
    Op("POST", "/api/v1/extensions", extensions_create, "Create an extension", S.ExtensionOut,
       201, body=S.ExtensionIn, errors=(404, 409, 422)),
    Op("GET", "/api/v1/jobs", jobs_list, "The latest jobs, newest first", list[S.JobOut],
       query=S.JobsQuery),
    Op("GET", "/api/v1/jobs/{id}", job_get, "One job and its progress", S.JobOut, errors=(404,)),
    Op("POST", "/api/v1/jobs/{id}/cancel", job_cancel,
       "Cancel a job (a running one stops after its current step)", S.JobOut, errors=(404,)),
    Op("GET", "/api/v1/templates/samples/{model}/{file}", template_sample,
       "A shipped template to start from (default or advanced engine)", str,
       query=S.SampleQuery, errors=(404,), media_type="text/plain"),
    Op("GET", "/api/v1/templates", templates_list, "Custom templates of a tenant",
       list[S.TemplateOut], query=S.TenantQuery, errors=(404,)),
    Op("POST", "/api/v1/templates", templates_create,
       "Upload a custom template (linted first; a recompile job follows)", S.TemplateOut, 201,
       body=S.TemplateIn, errors=(404, 409)),
    Op("GET", "/api/v1/templates/{id}", template_get, "One custom template", S.TemplateOut,
       errors=(404,)),
    Op("PUT", "/api/v1/templates/{id}", template_put,
       "Change a custom template (linted first; a recompile job follows)", S.TemplateOut,
       body=S.TemplatePatch, errors=(404, 409)),
    Op("DELETE", "/api/v1/templates/{id}", template_delete,
       "Delete a custom template (its devices go back to the tenant's choice; a job)",
       S.JobOut, errors=(404,)),
    Op("GET", "/api/v1/devices/{mac}/preview/{file}", device_preview,
       "The exact file a phone would get now, or with another template", S.PreviewOut,
       query=S.PreviewQuery, errors=(404,)),
    Op("GET", "/api/v1/jobs/{id}/results", job_results,
       "What became of each device of a reboot job", S.JobResultPage,
       query=S.JobResultsQuery, errors=(404,)),
    Op("POST", "/api/v1/devices/{mac}/reboot", device_reboot,
       "Reboot or re-sync one phone through its registration (a job)", S.JobOut, 202,
       body=S.DeviceRebootIn, errors=(404,)),
    Op("POST", "/api/v1/reboots", reboots_start,
       "Reboot or re-sync many phones, paced in waves (a job)", S.JobOut, 202,
       body=S.RebootIn, errors=(404,)),
    Op("GET", "/api/v1/firewall", firewall_get,
       "Firewall settings: thresholds, ban period, trusted networks (global or a tenant's)",
       S.FirewallOut, query=S.FirewallQuery, role="operator", errors=(404,)),
    Op("PUT", "/api/v1/firewall", firewall_put,
       "Set the global firewall settings, or a tenant's overrides; the edge follows",
       S.FirewallOut, body=S.FirewallIn, query=S.FirewallQuery, role="operator",
       errors=(404,)),
    Op("GET", "/api/v1/registrations", registrations_list,
       "Registered clients: the registrar's current bindings (tenant admins: their tenant's)",
       S.RegistrationPage, query=S.RegistrationsQuery, errors=(404,)),
    Op("GET", "/api/v1/bans", bans_list, "Banned source addresses (SIP and HTTP)",
       list[S.BanOut], role="operator"),
    Op("POST", "/api/v1/bans", bans_add, "Ban an address by hand", S.BanOut, 201,
       body=S.BanIn, role="operator"),
    Op("DELETE", "/api/v1/bans/{address}", ban_lift,
       "Lift the bans of an address (the edge answers it again within a second)", None, 204,
       role="operator", errors=(404,)),
    Op("POST", "/api/v1/backgrounds", backgrounds_upload,
       "Upload a background image: the raw PNG or JPEG body with its Content-Type, checked"
       " by Pillow and scaled to every model's screen", S.BackgroundOut, 201, body=bytes,
       body_media_types=tuple(BACKGROUND_TYPES), body_limit=BACKGROUND_BYTES,
       query=S.BackgroundQuery, errors=(404, 409)),
    Op("GET", "/api/v1/backgrounds", backgrounds_list, "Background images of a tenant",
       list[S.BackgroundOut], query=S.TenantQuery, errors=(404,)),
    Op("GET", "/api/v1/backgrounds/{id}", background_get, "One background image",
       S.BackgroundOut, errors=(404,)),
    Op("DELETE", "/api/v1/backgrounds/{id}", background_delete,
       "Delete a background image (409 while devices show it, unless `force`)", None, 204,
       query=S.BackgroundDeleteQuery, errors=(404, 409)),
    Op("GET", "/api/v1/me/devices", me_devices,
       "End users: the devices whose lines carry your account", list[S.MyDeviceOut], role="self"),
    Op("GET", "/api/v1/me/devices/{mac}", me_device_get, "End users: one of your devices",
       S.MyDeviceOut, role="self", errors=(404,)),
    Op("PATCH", "/api/v1/me/devices/{mac}", me_device_patch,
       "End users: label the lines of yours, set the BLF keys or the background of one of"
       " your devices", S.MyDeviceOut,
       body=S.MyDevicePatch, role="self", errors=(404,)),
    Op("GET", "/api/v1/audit", audit_list,
       "The audit trail, newest first (tenant admins: their tenant's)", S.AuditPage,
       query=S.AuditQuery, errors=(404,)),
    Op("GET", "/api/v1/tokens", tokens_list, "API tokens (never the tokens themselves)",
       list[S.TokenOut], role="operator"),
    Op("POST", "/api/v1/tokens", tokens_create, "Create an API token (shown once)",
       S.TokenCreated, 201, body=S.TokenIn, role="operator", errors=(404,)),
    Op("DELETE", "/api/v1/tokens/{token_id}", token_revoke, "Revoke an API token", None, 204,
       role="operator", errors=(404,)),
    Op("GET", "/api/v1/openapi.json", openapi, "This document", dict[str, Any], role="public"),
    Op("GET", "/healthz", healthz, "Liveness", S.Health, role="public"),
    Op("GET", "/metrics", metrics, "Prometheus metrics (text format)", str, role="operator",
       media_type="text/plain"),
]  # fmt: skip


async def _principal(op: Op, gate: Gate, request: Request) -> Principal:
    if op.role == "public":
        return PUBLIC
    header = request.headers.get("authorization")
    address = request.client.host if request.client else ""
    principal = await run_in_threadpool(gate.admit, header, address)
    _authorize(op.role, principal)
    return principal


def _actor(op: Op, principal: Principal) -> Actor:
    """Who the audit trail records for this request's changes."""
    if op.role == "public":
        return Actor("public", op.handler.__name__)
    return Actor(principal.role, principal.label, principal.token_id)


def _endpoint(
    op: Op, ctl: Control, max_body_bytes: int, counted: ControlMetrics, gate: Gate
) -> Callable[[Request], Awaitable[Response]]:
    name = op.handler.__name__

    async def endpoint(request: Request) -> Response:
        response = await _answer(request)
        counted.requests.labels(name, str(response.status_code)).inc()
        return response

    async def _answer(request: Request) -> Response:
        try:
            principal = await _principal(op, gate, request)
            request.state.query = parse_query(request, op.query)
            if op.body is not None:
                request.state.body = await parse_body(
                    request, op.body, op.body_limit or max_body_bytes, op.body_media_types,
                    op.body_name,
                )  # fmt: skip
            with acting(_actor(op, principal)):  # the threads it starts inherit it
                result = await op.handler(request, principal, ctl)
        except ServiceError as exc:
            return _error(exc.status, exc.errors, exc.headers)
        if isinstance(result, Response):  # a non-JSON answer (op.media_type), made whole
            return result
        status, content = result if isinstance(result, tuple) else (op.status, result)
        if status == 204:
            return Response(status_code=204)
        return JSON(content, status_code=status)

    return endpoint


def _error(status: int, errors: dict[str, str], headers: Mapping[str, str] | None = None) -> JSON:
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSON({"errors": errors}, status_code=status, headers=headers)


async def _no_route(request: Request, exc: Exception) -> Response:
    """The router's own 404 and 405, in the house error shape."""
    assert isinstance(exc, HTTPException)
    field = "method" if exc.status_code == 405 else "path"
    return _error(exc.status_code, {field: exc.detail}, exc.headers)


def create_app(
    ctl: Control,
    max_body_bytes: int = MAX_BODY_BYTES,
    throttle: FailureThrottle | None = None,
    last_use_interval_s: float = DEFAULT_INTERVAL_S,
    secure_cookie: bool = False,
) -> Starlette:
    """The control API over ``ctl``, and the console at ``/console/``; request bodies over
    ``max_body_bytes`` answer 413; failed authentications are limited by ``throttle`` (10 a
    minute per address unless given); tokens' last use is written every
    ``last_use_interval_s``. ``secure_cookie``: the console's cookie is Secure (TLS)."""
    counted = ControlMetrics(ctl)
    gate = Gate(ctl.db, throttle or FailureThrottle(), LastUse(ctl.db, last_use_interval_s))
    routes: list[Route | Mount] = [
        Route(op.path, _endpoint(op, ctl, max_body_bytes, counted, gate), methods=[op.method])
        for op in ROUTES
    ]
    routes.append(Mount("/console", app=create_console(ctl, secure_cookie)))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(gate.last_use.flush)  # the last uses noted, at shutdown

    app = Starlette(routes=routes, exception_handlers={HTTPException: _no_route}, lifespan=lifespan)
    app.state.openapi = document(ROUTES)
    app.state.metrics = counted
    app.state.gate = gate
    return app
