"""The OpenAPI 3.1 document of the control API, built from the pydantic request models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from control.api import schemas
from control.domain.catalog import MAX_LINES
from provedge import __version__

_REF = "#/components/schemas/{model}"


def _body(name: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=name)}}},
    }


_ERRORS = {
    "400": {"description": "body is not JSON"},
    "401": {"description": "missing or unknown bearer token"},
    "403": {"description": "the token's role may not do this"},
    "404": {"description": "no such object (or outside the token's tenant)"},
    "409": {"description": "conflicts with an existing object; `errors` names the field"},
    "422": {"description": "invalid fields; `errors` maps each bad field to what is wrong"},
}


def _op(
    summary: str, body: str | None = None, params: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {"200": {"description": "OK"}, **_ERRORS},
    }
    if body:
        op["requestBody"] = _body(body)
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


_TENANT_QUERY = {"name": "tenant", "in": "query", "required": False, "schema": {"type": "string"}}


def document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        schemas.TenantIn,
        schemas.TenantPatch,
        schemas.DeviceIn,
        schemas.DevicePatch,
        schemas.AccountIn,
        schemas.ExtensionIn,
        schemas.LineIn,
    ]
    components = {model.__name__: model.model_json_schema(ref_template=_REF) for model in models}
    lines = TypeAdapter(list[schemas.LineIn]).json_schema(ref_template=_REF)
    components["Lines"] = {**lines, "maxItems": MAX_LINES}
    mac, tenant = _path_param("mac"), _path_param("tenant")
    return {
        "openapi": "3.1.0",
        "info": {"title": "provedge control API", "version": __version__},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/models": {"get": _op("Supported phone models")},
            "/api/v1/tenants": {
                "get": _op("List tenants"),
                "post": _op("Create a tenant", "TenantIn"),
            },
            "/api/v1/tenants/{tenant}": {
                "get": _op("One tenant", params=[tenant]),
                "patch": _op("Change a tenant (recompiles its devices)", "TenantPatch", [tenant]),
            },
            "/api/v1/devices": {
                "get": _op("List devices", params=[_TENANT_QUERY]),
                "post": _op("Add a device by MAC", "DeviceIn"),
            },
            "/api/v1/devices/{mac}": {
                "get": _op("One device", params=[mac]),
                "patch": _op("Change a device", "DevicePatch", [mac]),
                "delete": _op("Remove a device", params=[mac]),
            },
            "/api/v1/devices/{mac}/lines": {
                "get": _op("A device's lines", params=[mac]),
                "put": _op("Replace a device's lines (at most 6)", "Lines", [mac]),
            },
            "/api/v1/accounts": {
                "get": _op("List SIP device accounts of a tenant", params=[_TENANT_QUERY]),
                "post": _op("Create a SIP device account", "AccountIn"),
            },
            "/api/v1/extensions": {
                "get": _op("List extensions of a tenant", params=[_TENANT_QUERY]),
                "post": _op("Create an extension", "ExtensionIn"),
            },
        },
    }
