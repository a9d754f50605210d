"""Console pages for devices: the list with filter, search, sort and pages, import, remove, one device."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from control import devicelist
from control.api import schemas
from control.console import selection
from control.console.page import (
    Handler,
    form_fields,
    page,
    query_value,
    redirect,
    render,
    validate,
)
from control.console.sessions import Session
from control.domain import devicecsv
from control.domain.backgrounds import variant_of
from control.domain.catalog import MODELS, Model
from control.domain.errors import ServiceError
from control.domain.keys import MAX_KEYS
from control.domain.refs import parse_ref
from control.service import Control

PAGE_SIZE = 50
PACE_PER_S = 10.0  # a bulk reboot's NOTIFYs a second unless the confirmation says otherwise
FILTERS = ("all", "assigned", "unassigned")


def _tenant_ref(text: str | None, session: Session) -> int | str | None:
    if text:
        return parse_ref(text)
    return session.principal.scope


async def devices(request: Request, session: Session, ctl: Control) -> Response:
    scope = session.principal.scope
    which = query_value(request, "filter", "all")
    q = query_value(request, "q")
    sort = query_value(request, "sort", "mac")
    order = query_value(request, "order", "asc")
    tenant = _tenant_ref(query_value(request, "tenant"), session)
    listing = await run_in_threadpool(
        ctl.list_devices, tenant, scope, PAGE_SIZE, query_value(request, "cursor") or None,
        which, q, sort, order,
    )  # fmt: skip
    tenants = await run_in_threadpool(ctl.list_tenants, scope)
    return render(
        request, "devices.html", session, devices=listing["items"], total=listing["total"],
        next=listing["next_cursor"], filter=which, filters=FILTERS, q=q, sort=sort,
        sorts=list(devicelist.SORTS), order=order, tenant=query_value(request, "tenant"),
        tenants=tenants, models=sorted(MODELS), done=query_value(request, "done"),
        cursor=query_value(request, "cursor"),
    )  # fmt: skip


async def device_create(request: Request, session: Session, ctl: Control) -> Response:
    form = request.state.form
    body = validate(schemas.DeviceIn, form_fields(form, ("tenant", "mac", "model", "name")))
    made = await run_in_threadpool(ctl.create_device, body, session.principal.scope)
    return redirect(f"/devices/{made['mac']}", f"Device {made['mac']} created")


async def devices_remove(request: Request, session: Session, ctl: Control) -> Response:
    macs = await _macs(request, session, ctl)
    done = await run_in_threadpool(ctl.remove_devices, macs, session.principal.scope)
    return redirect("/devices", f"{done['removed']} device(s) removed")


async def devices_reset_counter(request: Request, session: Session, ctl: Control) -> Response:
    macs = await _macs(request, session, ctl)
    done = await run_in_threadpool(ctl.reset_provision_counters, macs, session.principal.scope)
    return redirect("/devices", f"{done['reset']} provision counter(s) reset")


def _paced(mode: str) -> Handler:
    async def handler(request: Request, session: Session, ctl: Control) -> Response:
        """A paced job over the selection at the rate asked (10 NOTIFYs a second unless
        told), in waves of one second's worth. Every page's devices go as the filter and
        search (the job picks them), not as a MAC list."""
        form = request.state.form
        chosen = selection.read(form, session)
        pace = validate(schemas.RebootIn, {"mode": mode, **form_fields(form, ("rate_per_s",))})
        rate = pace.rate_per_s if "rate_per_s" in pace.model_fields_set else PACE_PER_S
        job = await run_in_threadpool(
            ctl.start_reboot, chosen.tenant, session.principal.scope, chosen.macs,
            chosen.filter or "all", mode, rate, None, None, 300.0, chosen.q,
        )  # fmt: skip
        return redirect(f"/jobs/{job['id']}", f"{mode.capitalize()} of {job['total']} phone(s)")

    return handler


async def _macs(request: Request, session: Session, ctl: Control) -> list[str]:
    chosen = selection.read(request.state.form, session)
    return await run_in_threadpool(
        ctl.selected_devices, chosen.macs, chosen.tenant, chosen.filter, chosen.q,
        session.principal.scope,
    )  # fmt: skip


async def devices_confirm(request: Request, session: Session, ctl: Control) -> Response:
    """The confirmation of a bulk action, with the number of devices it takes (every page's
    when "all matching" is ticked): its form posts the same selection to the action."""
    action = str(request.state.form.get("action") or "")
    if action not in selection.ACTIONS:
        raise ServiceError(422, {"action": f"one of {', '.join(selection.ACTIONS)}"})
    chosen = selection.read(request.state.form, session)
    macs = await _macs(request, session, ctl)
    return render(
        request, "devices_confirm.html", session, action=action,
        verb=selection.ACTIONS[action], chosen=chosen, count=len(set(macs)), sample=macs[:10],
    )  # fmt: skip


async def devices_export_selected(request: Request, session: Session, ctl: Control) -> Response:
    """CSV of the ticked devices, or of every page's under the list's filter and search."""
    chosen = selection.read(request.state.form, session)
    if chosen.tenant is None:
        raise ServiceError(422, {"tenant": "choose a tenant to export"})
    text = await run_in_threadpool(
        ctl.export_devices, chosen.tenant, chosen.filter or "all", session.principal.scope,
        chosen.q, chosen.macs,
    )  # fmt: skip
    return _csv(text)


def _csv(text: str) -> Response:
    return Response(
        text, media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="devices.csv"'},
    )  # fmt: skip


async def devices_import(request: Request, session: Session, ctl: Control) -> Response:
    """A dry run first shows what would change and each bad row; the import proper is a
    second submit of the same file, without the dry-run box."""
    form = request.state.form
    upload = form.get("file")
    tenant = _tenant_ref(str(form.get("tenant") or ""), session)
    context: dict[str, Any] = {
        "tenant": form.get("tenant") or "",
        "dry_run": bool(form.get("dry_run")),
    }
    if not isinstance(upload, UploadFile):
        raise ServiceError(422, {"file": "choose a CSV file"})
    if tenant is None:
        raise ServiceError(422, {"tenant": "choose a tenant"})
    text = (await upload.read()).decode("utf-8-sig", errors="replace")
    try:
        rows = devicecsv.read_rows(text)
        result = await run_in_threadpool(
            ctl.import_devices, tenant, rows, context["dry_run"], session.principal.scope
        )
    except ServiceError as exc:
        if exc.status != 422:
            raise
        return render(request, "import.html", session, 422, errors=exc.errors, **context)
    return render(request, "import.html", session, result=result, **context)


async def devices_export(request: Request, session: Session, ctl: Control) -> Response:
    tenant = _tenant_ref(query_value(request, "tenant"), session)
    if tenant is None:
        raise ServiceError(422, {"tenant": "choose a tenant to export"})
    which = query_value(request, "filter", "all")
    text = await run_in_threadpool(
        ctl.export_devices, tenant, which, session.principal.scope, query_value(request, "q")
    )
    return _csv(text)


async def device(request: Request, session: Session, ctl: Control) -> Response:
    found = await run_in_threadpool(
        ctl.get_device, request.path_params["mac"], session.principal.scope
    )
    extensions = await run_in_threadpool(
        ctl.list_extensions, found["tenant"], session.principal.scope
    )
    model = MODELS[found["model"]]
    own = await run_in_threadpool(ctl.list_templates, found["tenant"], session.principal.scope)
    fitting = [t for t in own if t["vendor"] == model.vendor.id and t["model"] in (None, model.id)]
    pictures = await run_in_threadpool(
        ctl.list_backgrounds, found["tenant"], session.principal.scope
    )
    registered = await run_in_threadpool(
        ctl.list_registrations, None, session.principal.scope, None, found["mac"], 50, None
    )
    return render(
        request, "device.html", session, device=found, model=model,
        registrations=registered["items"],
        models=sorted(MODELS), extensions=extensions, templates=fitting,
        backgrounds=pictures, wallpaper=variant_of(model),
        key_room=key_room(model, len(found["lines"])),
        done=query_value(request, "done"),
    )  # fmt: skip


async def device_update(request: Request, session: Session, ctl: Control) -> Response:
    mac = request.path_params["mac"]
    fields = form_fields(request.state.form, ("name", "model", "admin_password"))
    if "name" not in fields and "name" in request.state.form:
        fields["name"] = ""  # clearing the name is a change, not "not given"
    patch = validate(schemas.DevicePatch, fields)
    await run_in_threadpool(ctl.update_device, mac, patch, session.principal.scope)
    return redirect(f"/devices/{mac}", "Settings saved")


def blf_keys(form: FormData) -> schemas.MyDevicePatch:
    """The key rows of a form (an extension and a label each; no extension: no key) as the
    API's body model (the end user's patch carries exactly the keys)."""
    numbers = [str(n).strip() for n in form.getlist("key_extension")]
    labels = [str(label).strip() for label in form.getlist("key_label")]
    keys = [(n, label) for n, label in zip(numbers, labels, strict=False) if n]
    return validate(schemas.MyDevicePatch, {"keys": [
        {"type": "blf", "extension": n, "label": label} for n, label in keys
    ]})  # fmt: skip


def key_room(model: Model, lines: int) -> int:
    """The programmable keys a device has left for BLF after its lines."""
    return max(0, min(MAX_KEYS, model.line_keys - lines))


async def device_keys(request: Request, session: Session, ctl: Control) -> Response:
    mac = request.path_params["mac"]
    checked = blf_keys(request.state.form)
    pairs = [(k.extension, k.label) for k in checked.keys or []]
    await run_in_threadpool(ctl.set_keys, mac, pairs, session.principal.scope)
    return redirect(f"/devices/{mac}", "BLF keys saved")


async def device_template(request: Request, session: Session, ctl: Control) -> Response:
    mac = request.path_params["mac"]
    chosen = str(request.state.form.get("template") or "0")
    patch = validate(schemas.DevicePatch, {"template": chosen})
    await run_in_threadpool(ctl.update_device, mac, patch, session.principal.scope)
    return redirect(f"/devices/{mac}", "Template choice saved")


async def device_background(request: Request, session: Session, ctl: Control) -> Response:
    mac = request.path_params["mac"]
    chosen = str(request.state.form.get("background") or "").strip()
    patch = validate(schemas.DevicePatch, {"background": chosen or None})  # empty: none
    await run_in_threadpool(ctl.update_device, mac, patch, session.principal.scope)
    return redirect(f"/devices/{mac}", "Background saved")


async def device_lines(request: Request, session: Session, ctl: Control) -> Response:
    mac = request.path_params["mac"]
    numbers = [str(n).strip() for n in request.state.form.getlist("extension") if str(n).strip()]
    await run_in_threadpool(ctl.set_lines, mac, numbers, session.principal.scope)
    return redirect(f"/devices/{mac}", "Lines saved")


def routes(ctl: Control) -> list[Route]:
    return [
        Route("/devices", page(devices, ctl, params=("filter", "tenant", "q", "sort", "order", "cursor")), methods=["GET"]),
        Route("/devices", page(device_create, ctl), methods=["POST"]),
        Route("/devices/confirm", page(devices_confirm, ctl), methods=["POST"]),
        Route("/devices/remove", page(devices_remove, ctl), methods=["POST"]),
        Route("/devices/reset-counter", page(devices_reset_counter, ctl), methods=["POST"]),
        Route("/devices/resync", page(_paced("resync"), ctl), methods=["POST"]),
        Route("/devices/reboot", page(_paced("reboot"), ctl), methods=["POST"]),
        Route("/devices/import", page(devices_import, ctl), methods=["POST"]),
        Route("/devices/export", page(devices_export, ctl, params=("tenant", "filter", "q")), methods=["GET"]),
        Route("/devices/export", page(devices_export_selected, ctl), methods=["POST"]),
        Route("/devices/{mac}", page(device, ctl), methods=["GET"]),
        Route("/devices/{mac}", page(device_update, ctl), methods=["POST"]),
        Route("/devices/{mac}/lines", page(device_lines, ctl), methods=["POST"]),
        Route("/devices/{mac}/keys", page(device_keys, ctl), methods=["POST"]),
        Route("/devices/{mac}/template", page(device_template, ctl), methods=["POST"]),
        Route("/devices/{mac}/background", page(device_background, ctl), methods=["POST"]),
    ]  # fmt: skip
