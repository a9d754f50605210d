"""Console pages for tenants (operators only) and jobs (with live progress)."""

from __future__ import annotations

from typing import Any, get_args

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
from control.domain.refs import parse_ref
from control.service import Control

TENANT_FIELDS = (
    "name", "realm", "sip_server", "sip_port", "sip_transport", "timezone", "ntp_server", "language",
)  # fmt: skip
# Settings the tenant page changes too (TenantPatch, as the API): delivery and provisioning.
DELIVERY_FIELDS = ("delivery_policy", "provision_limit", "provision_mode")


async def tenants(request: Request, session: Session, ctl: Control) -> Response:
    found = await run_in_threadpool(ctl.list_tenants, session.principal.scope)
    return render(
        request, "tenants.html", session, tenants=found, done=query_value(request, "done")
    )


async def tenant_create(request: Request, session: Session, ctl: Control) -> Response:
    body = validate(schemas.TenantIn, form_fields(request.state.form, TENANT_FIELDS))
    made = await run_in_threadpool(ctl.create_tenant, body)
    return redirect(f"/tenants/{made['id']}", f"Tenant {made['name']} created")


async def tenant(request: Request, session: Session, ctl: Control) -> Response:
    found = await run_in_threadpool(
        ctl.get_tenant, parse_ref(request.path_params["ref"]), session.principal.scope
    )
    return render(request, "tenant.html", session, tenant=found, done=query_value(request, "done"),
                  policies=get_args(get_args(schemas.DeliveryPolicy)[0]),
                  modes=get_args(get_args(schemas.ProvisionMode)[0]))  # fmt: skip


async def tenant_update(request: Request, session: Session, ctl: Control) -> Response:
    ref = parse_ref(request.path_params["ref"])
    form = request.state.form
    fields = form_fields(form, TENANT_FIELDS[1:] + DELIVERY_FIELDS)
    pin = form.get("hotdesk_pin")
    if isinstance(pin, str):  # an emptied PIN field clears the tenant's PIN
        fields["hotdesk_pin"] = pin.strip()
    patch = validate(schemas.TenantPatch, fields)
    changed = await run_in_threadpool(ctl.update_tenant, ref, patch)
    job = changed.get("job")
    if job:
        return redirect(f"/jobs/{job['id']}", "Tenant saved; its phones are being recompiled")
    return redirect(f"/tenants/{changed['id']}", "Tenant saved")


async def jobs(request: Request, session: Session, ctl: Control) -> Response:
    found = await run_in_threadpool(ctl.list_jobs, None, session.principal.scope)
    return render(request, "jobs.html", session, jobs=found)


async def _job(request: Request, session: Session, ctl: Control) -> dict[str, Any]:
    """The job, and for a reboot what became of each device (the first 1000)."""
    found = await run_in_threadpool(
        ctl.get_job, numeric_id(request, "job"), session.principal.scope
    )
    results = None
    if found["kind"] == "reboot":
        page_of = await run_in_threadpool(
            ctl.job_results, found["id"], session.principal.scope, None, 1000, None
        )
        results = page_of["items"]
    return {"job": found, "results": results}


async def job(request: Request, session: Session, ctl: Control) -> Response:
    shown = await _job(request, session, ctl)
    return render(request, "job.html", session, done=query_value(request, "done"), **shown)


async def job_progress(request: Request, session: Session, ctl: Control) -> Response:
    """The live part of the job page alone (progress, and each device of a reboot): the
    console's script fetches it every second while the job runs, so the operator watches
    it move without reloading."""
    shown = await _job(request, session, ctl)
    return render(request, "job_progress.html", session, **shown)


def routes(ctl: Control) -> list[Route]:
    return [
        Route("/tenants", page(tenants, ctl, "operator"), methods=["GET"]),
        Route("/tenants", page(tenant_create, ctl, "operator"), methods=["POST"]),
        Route("/tenants/{ref}", page(tenant, ctl), methods=["GET"]),
        Route("/tenants/{ref}", page(tenant_update, ctl, "operator"), methods=["POST"]),
        Route("/jobs", page(jobs, ctl), methods=["GET"]),
        Route("/jobs/{id}", page(job, ctl), methods=["GET"]),
        Route("/jobs/{id}/progress", page(job_progress, ctl), methods=["GET"]),
    ]
