"""The OpenAPI 3.1 document of the control API, built from its route table.

Nothing here names a route: paths, operations, parameters, request and response schemas
and statuses all come from the :class:`~control.api.route.Op` entries (and the pydantic
models they name), so the document cannot drift from the routes it describes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

from control.api import schemas
from control.api.bodies import adapter
from control.api.route import STATUSES, Op
from provedge import __version__

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
_TEXT = {"type": "string", "description": "the same rows as text (CSV with a header line)"}


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def schema(self, kind: Any, mode: Literal["validation", "serialization"]) -> dict[str, Any]:
        """The JSON Schema of ``kind``; models go into components and are referred to."""
        found = adapter(kind).json_schema(ref_template=_REF, mode=mode)
        self.schemas.update(found.pop("$defs", {}))
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            self.schemas[kind.__name__] = found
            return {"$ref": _REF.format(model=kind.__name__)}
        return found


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _parameters(op: Op, parts: _Components) -> list[dict[str, Any]]:
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": schemas.PATH_PARAMETERS.get(name, {"type": "string"}),
        }
        for name in _PARAM.findall(op.path)
    ]
    if op.query is not None:
        query = op.query.model_json_schema(ref_template=_REF)
        parts.schemas.update(query.pop("$defs", {}))
        for name, schema in query["properties"].items():
            schema = {k: v for k, v in schema.items() if k not in ("title", "default")}
            param = {"name": name, "in": "query", "required": name in query.get("required", [])}
            if "description" in schema:
                param["description"] = schema.pop("description")
            params.append({**param, "schema": schema})
    return params


def _responses(op: Op, parts: _Components) -> dict[str, Any]:
    error = parts.schema(schemas.Error, "serialization")
    responses: dict[str, Any] = {}
    for status in op.statuses():
        answer: dict[str, Any] = {"description": STATUSES[status]}
        if status == op.status:
            if op.response is not None:
                schema = parts.schema(op.response, "serialization")
                answer["content"] = {op.media_type: {"schema": schema}}
        else:
            answer["content"] = _json(error)
        responses[str(status)] = answer
    return responses


def operation(op: Op, parts: _Components) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "operationId": op.handler.__name__,
        "summary": op.summary,
        "responses": _responses(op, parts),
    }
    if params := _parameters(op, parts):
        entry["parameters"] = params
    if op.body is bytes:  # raw bytes of one of the media types (an image upload)
        binary = {"type": "string", "format": "binary"}
        entry["requestBody"] = {
            "required": True,
            "content": {media: {"schema": binary} for media in op.body_media_types},
        }
    elif op.body is not None:
        json_schema = parts.schema(op.body, "validation")
        entry["requestBody"] = {
            "required": True,
            "content": {
                media: {"schema": json_schema if media == "application/json" else _TEXT}
                for media in op.body_media_types
            },
        }
    if op.role == "public":
        entry["security"] = []
    return entry


def document(routes: Sequence[Op]) -> dict[str, Any]:
    parts = _Components()
    paths: dict[str, dict[str, Any]] = {}
    for op in routes:
        path = _PARAM.sub(r"{\1}", op.path)
        paths.setdefault(path, {})[op.method.lower()] = operation(op, parts)
    return {
        "openapi": "3.1.0",
        "info": {"title": "provedge control API", "version": __version__},
        "components": {
            "schemas": dict(sorted(parts.schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }
