"""Console pages for end users: their devices, and the line labels the API lets them change."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from control.api import schemas
from control.console.device_pages import blf_keys, key_room
from control.console.page import page, query_value, redirect, render, validate
from control.console.sessions import Session
from control.domain.catalog import MODELS
from control.domain.errors import ServiceError
from control.service import Control


def _me(session: Session) -> tuple[int, int]:
    who = session.principal
    if who.account_id is None or who.tenant_id is None:
        raise ServiceError(403, {"role": "end users only"})
    return who.account_id, who.tenant_id


async def my_devices(request: Request, session: Session, ctl: Control) -> Response:
    found = await run_in_threadpool(ctl.my_devices, *_me(session))
    for device in found:
        device["key_room"] = key_room(MODELS[device["model"]], len(device["lines"]))
    return render(request, "me.html", session, devices=found, done=query_value(request, "done"))


async def my_labels(request: Request, session: Session, ctl: Control) -> Response:
    form = request.state.form
    labels = [
        {"position": str(position), "label": str(label)}
        for position, label in zip(form.getlist("position"), form.getlist("label"), strict=False)
    ]
    patch = validate(schemas.MyDevicePatch, {"lines": labels})
    mac = request.path_params["mac"]
    await run_in_threadpool(ctl.update_my_device, mac, patch, *_me(session))
    return redirect("/me", "Labels saved")


async def my_keys(request: Request, session: Session, ctl: Control) -> Response:
    """The device's BLF keys, replaced, with the operator's checks (control/devicekeys.py)."""
    patch = blf_keys(request.state.form)
    mac = request.path_params["mac"]
    await run_in_threadpool(ctl.update_my_device, mac, patch, *_me(session))
    return redirect("/me", "BLF keys saved")


def routes(ctl: Control) -> list[Route]:
    return [
        Route("/me", page(my_devices, ctl, "any"), methods=["GET"]),
        Route("/me/{mac}", page(my_labels, ctl, "any"), methods=["POST"]),
        Route("/me/{mac}/keys", page(my_keys, ctl, "any"), methods=["POST"]),
    ]
