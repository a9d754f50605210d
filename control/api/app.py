"""The control API: a Starlette app of thin endpoints over control.service.Control.

Every endpoint authenticates (bearer token) and authorises (role, tenant scope); bodies
are JSON read with orjson and validated by pydantic; every error is JSON of the form
``{"errors": {"<field>": "<what is wrong>"}}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from control.api import schemas
from control.api.auth import Principal, authenticate
from control.domain.catalog import MAX_LINES, MODELS
from control.domain.errors import ServiceError
from control.api.openapi import document
from control.service import DEFAULT_PAGE, Control

Handler = Callable[[Request, Principal, Control], Awaitable[Any]]
_LINES = TypeAdapter(list[schemas.LineIn])


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _field(loc: tuple[int | str, ...]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def _validation_errors(exc: ValidationError) -> dict[str, str]:
    # pydantic prefixes our own validators' messages with "Value error, ": noise to a client.
    return {_field(err["loc"]): err["msg"].removeprefix("Value error, ") for err in exc.errors()}


async def _parse(request: Request, model: type[BaseModel] | TypeAdapter[Any]) -> Any:
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise ServiceError(400, {"body": "not valid JSON"}) from None
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as exc:
        raise ServiceError(422, _validation_errors(exc)) from None


def _tenant_ref(text: str | None) -> int | str | None:
    if text is None:
        return None
    return int(text) if text.isdigit() else text


def _path_tenant(request: Request) -> int | str:
    text: str = request.path_params["tenant"]
    return int(text) if text.isdigit() else text


def _require_tenant_query(request: Request, principal: Principal) -> int | str:
    ref = _tenant_ref(request.query_params.get("tenant"))
    if ref is None:
        if principal.scope is None:
            raise ServiceError(422, {"tenant": "query parameter required"})
        return principal.scope
    return ref


def _operator_only(principal: Principal) -> None:
    if principal.role != "operator":
        raise ServiceError(403, {"role": "operators only"})


def _admin(principal: Principal) -> None:
    if principal.role == "end_user":
        raise ServiceError(403, {"role": "operators and tenant admins only"})


# ---- endpoints: each is (request, principal, control) -> JSON-able -------------------------
async def models(request: Request, who: Principal, ctl: Control) -> Any:
    return [
        {
            "id": m.id,
            "vendor": m.vendor.id,
            "label": m.label,
            "files": [
                f.pattern.format(**{**m.params, "mac": "{mac}", "MAC": "{MAC}"})
                for f in m.vendor.files
            ],
        }
        for m in MODELS.values()
    ]


async def tenants_list(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    return await run_in_threadpool(ctl.list_tenants, who.scope)


async def tenants_create(request: Request, who: Principal, ctl: Control) -> Any:
    _operator_only(who)
    body = await _parse(request, schemas.TenantIn)
    return 201, await run_in_threadpool(ctl.create_tenant, body)


async def tenant_get(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    return await run_in_threadpool(ctl.get_tenant, _path_tenant(request), who.scope)


async def tenant_patch(request: Request, who: Principal, ctl: Control) -> Any:
    _operator_only(who)
    body = await _parse(request, schemas.TenantPatch)
    return await run_in_threadpool(ctl.update_tenant, _path_tenant(request), body)


def _query(request: Request, allowed: set[str]) -> dict[str, str]:
    """The query parameters, each at most once; an unknown one is an error, not ignored."""
    params = request.query_params
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ServiceError(422, {name: "unknown query parameter" for name in unknown})
    repeated = sorted(name for name in params if len(params.getlist(name)) > 1)
    if repeated:
        raise ServiceError(422, {name: "given more than once" for name in repeated})
    return dict(params)


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise ServiceError(422, {name: "a positive whole number"})
    return int(text)


async def devices_list(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    query = _query(request, {"tenant", "limit", "after"})
    ref = _tenant_ref(query.get("tenant"))
    limit = _int_param(query, "limit", DEFAULT_PAGE)
    return await run_in_threadpool(ctl.list_devices, ref, who.scope, limit, query.get("after"))


def _job_id(request: Request) -> int:
    text: str = request.path_params["id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise ServiceError(404, {"id": "no such job"})
    return int(text)


async def jobs_list(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    query = _query(request, {"state"})
    return await run_in_threadpool(ctl.list_jobs, query.get("state"), who.scope)


async def job_get(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    return await run_in_threadpool(ctl.get_job, _job_id(request), who.scope)


async def job_cancel(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    return await run_in_threadpool(ctl.cancel_job, _job_id(request), who.scope)


async def devices_create(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    body = await _parse(request, schemas.DeviceIn)
    return 201, await run_in_threadpool(ctl.create_device, body, who.scope)


async def device_get(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    return await run_in_threadpool(ctl.get_device, request.path_params["mac"], who.scope)


async def device_patch(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    body = await _parse(request, schemas.DevicePatch)
    return await run_in_threadpool(ctl.update_device, request.path_params["mac"], body, who.scope)


async def device_delete(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    await run_in_threadpool(ctl.delete_device, request.path_params["mac"], who.scope)
    return 204, None


async def lines_get(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    device = await run_in_threadpool(ctl.get_device, request.path_params["mac"], who.scope)
    return device["lines"]


async def lines_put(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    lines = await _parse(request, _LINES)
    if len(lines) > MAX_LINES:
        raise ServiceError(422, {"lines": f"at most {MAX_LINES} lines per MAC"})
    numbers = [line.extension for line in lines]
    device = await run_in_threadpool(ctl.set_lines, request.path_params["mac"], numbers, who.scope)
    return device["lines"]


async def accounts_list(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    return await run_in_threadpool(
        ctl.list_accounts, _require_tenant_query(request, who), who.scope
    )


async def accounts_create(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    body = await _parse(request, schemas.AccountIn)
    return 201, await run_in_threadpool(ctl.create_account, body, who.scope)


async def extensions_list(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    return await run_in_threadpool(
        ctl.list_extensions, _require_tenant_query(request, who), who.scope
    )


async def extensions_create(request: Request, who: Principal, ctl: Control) -> Any:
    _admin(who)
    body = await _parse(request, schemas.ExtensionIn)
    return 201, await run_in_threadpool(ctl.create_extension, body, who.scope)


def _endpoint(handler: Handler, ctl: Control) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            principal = await run_in_threadpool(
                authenticate, ctl.db, request.headers.get("authorization")
            )
            if principal is None:
                raise ServiceError(401, {"authorization": "a valid bearer token is required"})
            result = await handler(request, principal, ctl)
        except ServiceError as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return JSON({"errors": exc.errors}, status_code=exc.status, headers=headers)
        status, content = result if isinstance(result, tuple) else (200, result)
        if status == 204:
            return Response(status_code=204)
        return JSON(content, status_code=status)

    return endpoint


async def openapi(request: Request) -> Response:
    return JSON(document())


async def healthz(request: Request) -> Response:
    return JSON({"status": "ok"})


ROUTES: list[tuple[str, Handler, list[str]]] = [
    ("/api/v1/models", models, ["GET"]),
    ("/api/v1/tenants", tenants_list, ["GET"]),
    ("/api/v1/tenants", tenants_create, ["POST"]),
    ("/api/v1/tenants/{tenant}", tenant_get, ["GET"]),
    ("/api/v1/tenants/{tenant}", tenant_patch, ["PATCH"]),
    ("/api/v1/devices", devices_list, ["GET"]),
    ("/api/v1/devices", devices_create, ["POST"]),
    ("/api/v1/devices/{mac}", device_get, ["GET"]),
    ("/api/v1/devices/{mac}", device_patch, ["PATCH"]),
    ("/api/v1/devices/{mac}", device_delete, ["DELETE"]),
    ("/api/v1/devices/{mac}/lines", lines_get, ["GET"]),
    ("/api/v1/devices/{mac}/lines", lines_put, ["PUT"]),
    ("/api/v1/accounts", accounts_list, ["GET"]),
    ("/api/v1/accounts", accounts_create, ["POST"]),
    ("/api/v1/extensions", extensions_list, ["GET"]),
    ("/api/v1/extensions", extensions_create, ["POST"]),
    ("/api/v1/jobs", jobs_list, ["GET"]),
    ("/api/v1/jobs/{id}", job_get, ["GET"]),
    ("/api/v1/jobs/{id}/cancel", job_cancel, ["POST"]),
]


def create_app(ctl: Control) -> Starlette:
    routes = [
        Route(path, _endpoint(handler, ctl), methods=methods) for path, handler, methods in ROUTES
    ]
    routes += [
        Route("/api/v1/openapi.json", openapi, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes)
