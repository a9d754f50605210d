"""Console pages for the SIP side: registered clients, the firewall (thresholds, trusted
networks, bans with lift), and paced reboots from a device's page. They call the same
services as the API (control/registrations.py, control/firewall.py, control/reboots.py)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from control.api import schemas
from control.console.page import form_fields, page, query_value, redirect, render, validate
from control.console.sessions import Session
from control.domain.errors import ServiceError
from control.domain.refs import parse_ref
from control.service import Control

FIREWALL_FIELDS = ("max_failures", "window_s", "ban_s")


async def registrations(request: Request, session: Session, ctl: Control) -> Response:
    tenant_text = query_value(request, "tenant")
    tenant = parse_ref(tenant_text) if tenant_text else None
    scope = session.principal.scope
    if tenant is None and scope is None:
        tenants = await run_in_threadpool(ctl.list_tenants, None)
        return render(request, "registrations.html", session, tenants=tenants, items=None)
    found = await run_in_threadpool(
        ctl.list_registrations,
        tenant,
        scope,
        None,
        None,
        500,
        query_value(request, "cursor") or None,
    )
    return render(request, "registrations.html", session, tenants=None, items=found["items"],
                  next_cursor=found["next_cursor"], tenant=tenant_text)  # fmt: skip


async def firewall(request: Request, session: Session, ctl: Control) -> Response:
    settings = await run_in_threadpool(ctl.firewall.settings, None)
    bans = await run_in_threadpool(ctl.firewall.list)
    return render(request, "firewall.html", session, settings=settings, bans=bans,
                  done=query_value(request, "done"))  # fmt: skip


async def firewall_update(request: Request, session: Session, ctl: Control) -> Response:
    form = request.state.form
    fields = form_fields(form, FIREWALL_FIELDS)
    trusted = str(form.get("trusted") or "")
    fields["trusted"] = [line.strip() for line in trusted.splitlines() if line.strip()]
    body = validate(schemas.FirewallIn, fields)
    await run_in_threadpool(ctl.firewall.put_settings, None, body.model_dump())
    return redirect("/firewall", "Firewall settings saved; the edge follows within a second")


async def ban_add(request: Request, session: Session, ctl: Control) -> Response:
    body = validate(schemas.BanIn, form_fields(request.state.form, ("address", "duration_s")))
    await run_in_threadpool(ctl.firewall.add, body.address, body.duration_s)
    return redirect("/firewall", f"{body.address} banned")


async def ban_lift(request: Request, session: Session, ctl: Control) -> Response:
    address = str(request.state.form.get("address") or "").strip()
    if not address:
        raise ServiceError(422, {"address": "which address to lift"})
    await run_in_threadpool(ctl.firewall.lift, address)
    return redirect("/firewall", f"The ban of {address} is lifted")


async def device_reboot(request: Request, session: Session, ctl: Control) -> Response:
    body = validate(schemas.DeviceRebootIn, form_fields(request.state.form, ("mode",)))
    job = await run_in_threadpool(
        ctl.start_reboot, None, session.principal.scope, [request.path_params["mac"]], "all",
        body.mode, 1.0, 1, 0.0, body.confirm_s,
    )  # fmt: skip
    return redirect(f"/jobs/{job['id']}", f"{body.mode.capitalize()} sent to the phone")


def routes(ctl: Control) -> list[Route]:
    return [
        Route(
            "/registrations", page(registrations, ctl, params=("tenant", "cursor")), methods=["GET"]
        ),
        Route("/firewall", page(firewall, ctl, "operator"), methods=["GET"]),
        Route("/firewall", page(firewall_update, ctl, "operator"), methods=["POST"]),
        Route("/bans", page(ban_add, ctl, "operator"), methods=["POST"]),
        Route("/bans/lift", page(ban_lift, ctl, "operator"), methods=["POST"]),
        Route("/devices/{mac}/reboot", page(device_reboot, ctl), methods=["POST"]),
    ]
