"""Demo data for an empty data directory: one tenant, one phone per supported vendor family."""

from __future__ import annotations

from typing import Any

from control.api.schemas import AccountIn, DeviceIn, ExtensionIn, TenantIn
from control.service import Control

# Real vendor OUIs (shared/reference/vendors.md) with made-up device parts.
DEMO_PHONES = [
    ("yealink-t46s", "00:15:65:00:00:01", "Reception (Yealink)"),
    ("polycom-vvx410", "00:04:f2:00:00:02", "Sales (Polycom)"),
    ("cisco-spa508g", "00:02:fd:00:00:03", "Warehouse (Cisco SPA)"),
    ("cisco-cp8841", "00:56:2b:00:00:04", "Boardroom (Cisco MPP)"),
    ("grandstream-gxp2135", "00:0b:82:00:00:05", "Support (Grandstream)"),
    ("snom-d785", "00:04:13:00:00:06", "Lab (Snom)"),
    ("fanvil-x4u", "0c:38:3e:00:00:07", "Lobby (Fanvil)"),
]


def is_empty(ctl: Control) -> bool:
    return not ctl.list_tenants()


def load_demo(ctl: Control) -> dict[str, Any]:
    tenant = ctl.create_tenant(
        TenantIn(name="demo", realm="demo.example.com", sip_server="pbx.demo.example.com")
    )
    devices = []
    for index, (model, mac, name) in enumerate(DEMO_PHONES, start=1):
        number = str(1000 + index)
        account = ctl.create_account(
            AccountIn(tenant=tenant["id"], username=number, display_name=name)
        )
        ctl.create_extension(
            ExtensionIn(
                tenant=tenant["id"],
                number=number,
                display_name=name,
                accounts=[account["username"]],
            )
        )
        device = ctl.create_device(DeviceIn(tenant=tenant["id"], mac=mac, model=model, name=name))
        ctl.set_lines(device["mac"], [number])
        devices.append(device)
    return {"tenant": tenant, "devices": devices}
