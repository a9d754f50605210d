"""Console pages for custom templates (upload with lint errors at their line, edit,
preview) and the audit trail. The same services as the API: control/templates.py and the
audit listing."""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
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
from control.domain.catalog import MODELS
from control.domain.errors import ServiceError
from control.domain.refs import parse_ref
from control.service import Control
from control.templates import VENDORS

MODEL_IDS = sorted(MODELS)
FIELDS = ("tenant", "name", "vendor", "model", "file", "engine", "source")


def _fields(request: Request, names: tuple[str, ...]) -> dict[str, object]:
    form = request.state.form
    fields: dict[str, object] = form_fields(form, names)
    if "source" in names:  # a template keeps its own whitespace
        source = form.get("source")
        if isinstance(source, str) and source.strip():
            fields["source"] = source.replace("\r\n", "\n")
    if form.get("default"):
        fields["default"] = True
    return fields


async def templates(request: Request, session: Session, ctl: Control) -> Response:
    tenant_text = query_value(request, "tenant")
    tenant = parse_ref(tenant_text) if tenant_text else None
    found = await run_in_threadpool(ctl.list_templates, tenant, session.principal.scope)
    tenants = await run_in_threadpool(ctl.list_tenants, session.principal.scope)
    return render(request, "templates.html", session, templates=found, tenants=tenants,
                  vendors=VENDORS, models=MODEL_IDS, form={}, errors={})  # fmt: skip


async def template_create(request: Request, session: Session, ctl: Control) -> Response:
    fields = _fields(request, FIELDS)
    try:
        body = validate(schemas.TemplateIn, fields)
        data = body.model_dump(exclude_none=True)
        data["is_default"] = int(data.pop("default"))
        made = await run_in_threadpool(ctl.save_template, None, data, session.principal.scope)
    except ServiceError as exc:  # shown on the form, at their lines, nothing stored
        found = await run_in_threadpool(ctl.list_templates, None, session.principal.scope)
        tenants = await run_in_threadpool(ctl.list_tenants, session.principal.scope)
        return render(request, "templates.html", session, exc.status, templates=found,
                      tenants=tenants, vendors=VENDORS, models=MODEL_IDS, form=fields,
                      errors=exc.errors)  # fmt: skip
    return redirect(f"/templates/{made['id']}", "Template stored; its phones are being recompiled")


async def template(request: Request, session: Session, ctl: Control) -> Response:
    found = await run_in_threadpool(
        ctl.get_template, numeric_id(request, "template"), session.principal.scope
    )
    return render(request, "template.html", session, template=found, errors={},
                  preview=None, done=query_value(request, "done"))  # fmt: skip


async def template_update(request: Request, session: Session, ctl: Control) -> Response:
    template_id = numeric_id(request, "template")
    fields = _fields(request, ("name", "engine", "source"))
    fields.setdefault("default", False)
    try:
        body = validate(schemas.TemplatePatch, fields)
        data = body.model_dump(exclude_none=True)
        data["is_default"] = int(data.pop("default"))
        await run_in_threadpool(ctl.save_template, template_id, data, session.principal.scope)
    except ServiceError as exc:
        found = await run_in_threadpool(ctl.get_template, template_id, session.principal.scope)
        found = {**found, **{k: v for k, v in fields.items() if k == "source"}}
        return render(request, "template.html", session, exc.status, template=found,
                      errors=exc.errors, preview=None)  # fmt: skip
    return redirect(f"/templates/{template_id}", "Template saved; its phones are being recompiled")


async def template_preview(request: Request, session: Session, ctl: Control) -> Response:
    template_id = numeric_id(request, "template")
    found = await run_in_threadpool(ctl.get_template, template_id, session.principal.scope)
    mac = query_value(request, "mac")
    preview = await run_in_threadpool(
        ctl.preview, mac, query_value(request, "file"), template_id, session.principal.scope
    )
    return render(request, "template.html", session, template=found, errors={},
                  preview=preview)  # fmt: skip


async def template_sample(request: Request, session: Session, ctl: Control) -> Response:
    """A shipped template to start from, as a file to save (the API's sample)."""
    model, file = query_value(request, "model"), query_value(request, "file")
    engine = validate(schemas.SampleQuery, {"engine": query_value(request, "engine", "default")})
    text = await run_in_threadpool(ctl.template_sample, model, file, engine.engine)
    name = quote(file.rsplit("/", 1)[-1], safe=".-_")
    return Response(
        text, media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


async def audit_page(request: Request, session: Session, ctl: Control) -> Response:
    object_name = query_value(request, "object") or None
    found = await run_in_threadpool(
        ctl.list_audit, None, session.principal.scope, object_name, None, 200, None
    )
    return render(request, "audit.html", session, items=found["items"], object=object_name or "")


def routes(ctl: Control) -> list[Route]:
    return [
        Route("/templates", page(templates, ctl, params=("tenant",)), methods=["GET"]),
        Route("/templates", page(template_create, ctl), methods=["POST"]),
        Route(  # before /templates/{id}, which would take "sample" for an id
            "/templates/sample",
            page(template_sample, ctl, params=("model", "file", "engine")),
            methods=["GET"],
        ),
        Route("/templates/{id}", page(template, ctl), methods=["GET"]),
        Route("/templates/{id}", page(template_update, ctl), methods=["POST"]),
        Route(
            "/templates/{id}/preview",
            page(template_preview, ctl, params=("mac", "file")),
            methods=["GET"],
        ),
        Route("/audit", page(audit_page, ctl, params=("object",)), methods=["GET"]),
    ]
