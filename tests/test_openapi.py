"""The OpenAPI document is built from the route table: complete, valid, and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

from control.api.app import ROUTES, create_app
from control.api.openapi import document
from control.wiring import build_control

METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture(scope="module")
def app_and_doc(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Any, dict[str, Any]]]:
    ctl = build_control(Path(tmp_path_factory.mktemp("openapi")), "http://edge.invalid")
    app = create_app(ctl)
    yield app, app.state.openapi
    ctl.close()


def test_document_is_valid_openapi(app_and_doc: tuple[Any, dict[str, Any]]) -> None:
    validate(app_and_doc[1])


def test_every_route_is_documented_and_nothing_else(
    app_and_doc: tuple[Any, dict[str, Any]],
) -> None:
    app, doc = app_and_doc
    served = {
        (method.lower(), route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"  # Starlette adds HEAD to every GET route
    }
    documented = {
        (method, path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }
    assert served == documented


def test_every_operation_has_request_and_response_schemas(
    app_and_doc: tuple[Any, dict[str, Any]],
) -> None:
    for op in ROUTES:
        entry = app_and_doc[1]["paths"][op.path][op.method.lower()]
        responses = entry["responses"]
        assert list(responses) == [str(s) for s in op.statuses()], op.path
        for status, answer in responses.items():
            if status != "204":
                media = op.media_type if status == str(op.status) else "application/json"
                assert "schema" in answer["content"][media], (op.path, status)
        if op.body is not None:
            for media in op.body_media_types:  # JSON, or e.g. the raw image of an upload
                assert "schema" in entry["requestBody"]["content"][media]
            assert {"400", "413", "422"} <= set(responses)
        if op.role != "public":
            assert {"401"} <= set(responses) and "security" not in entry
        else:
            assert entry["security"] == [] and "401" not in responses


def test_errors_and_responses_are_described_by_models() -> None:
    doc = document(ROUTES)
    parts = doc["components"]["schemas"]
    assert parts["Error"]["properties"]["errors"]["additionalProperties"] == {"type": "string"}
    assert {"TenantOut", "DeviceOut", "AccountOut", "ExtensionOut", "ModelOut"} <= set(parts)
    assert parts["DeviceOut"]["additionalProperties"] is False
    assert "mac" in parts["DeviceIn"]["properties"]
    lines = doc["paths"]["/api/v1/devices/{mac}/lines"]["put"]["requestBody"]
    assert lines["content"]["application/json"]["schema"]["maxItems"] == 6


def test_a_new_route_is_one_entry() -> None:
    """A route added to the table shows in the document with all its derived statuses."""
    from pydantic import BaseModel

    from control.api.route import Op

    class WidgetOut(BaseModel):
        id: int

    async def widget_polish(*_: Any) -> Any:
        return {"id": 1}

    op = Op("POST", "/api/v1/widgets/{id}/polish", widget_polish, "Polish a widget", WidgetOut,
            errors=(404, 409))  # fmt: skip
    entry = document([*ROUTES, op])["paths"]["/api/v1/widgets/{id}/polish"]["post"]
    assert entry["operationId"] == "widget_polish"
    assert entry["parameters"][0]["name"] == "id"
    assert list(entry["responses"]) == ["200", "401", "403", "404", "409", "422", "429"]
