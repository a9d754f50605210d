"""Bulk remove and counter reset by the device list's filter and search, in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from control.api.app import create_app
from control.api.auth import create_token
from control.api.schemas import AccountIn, DeviceIn, ExtensionIn, TenantIn
from control.service import Control
from control.wiring import build_control


@pytest.fixture
def ctl(tmp_path: Path) -> Iterator[Control]:
    control = build_control(tmp_path, "http://127.0.0.1:9")
    yield control
    control.close()


def test_remove_and_reset_take_a_filter_and_a_search(ctl: Control) -> None:
    tenant = ctl.create_tenant(TenantIn(name="bulk", realm="b.example", sip_server="pbx.b"))
    ctl.create_account(AccountIn(tenant=tenant["id"], username="u1"))
    ctl.create_extension(ExtensionIn(tenant=tenant["id"], number="101", accounts=["u1"]))
    assigned, spare, other = "001565000a01", "001565000a02", "0004f2000a03"
    for mac, model in ((assigned, "yealink-t46s"), (spare, "yealink-t46s"),
                       (other, "polycom-vvx400")):  # fmt: skip
        ctl.create_device(DeviceIn(tenant=tenant["id"], mac=mac, model=model))
    ctl.set_lines(assigned, ["101"])
    api = TestClient(create_app(ctl))
    auth = {"Authorization": f"Bearer {create_token(ctl.db, 'operator')}"}

    reset = api.post("/api/v1/devices/reset-provision-counter", headers=auth,
                     json={"tenant": "bulk", "filter": "all", "q": "0015"})  # fmt: skip
    assert reset.status_code == 200 and reset.json() == {"reset": 2}
    both = api.post("/api/v1/devices/remove", headers=auth,
                    json={"macs": [spare], "tenant": "bulk", "filter": "all"})  # fmt: skip
    assert both.status_code == 422  # one way or the other, not both
    half = api.post("/api/v1/devices/remove", headers=auth, json={"tenant": "bulk"})
    assert half.status_code == 422
    removed = api.post("/api/v1/devices/remove", headers=auth,
                       json={"tenant": "bulk", "filter": "unassigned", "q": "0015"})  # fmt: skip
    assert removed.status_code == 200 and removed.json() == {"removed": 1}
    left = {d["mac"] for d in ctl.list_devices(tenant["id"])["items"]}
    assert left == {assigned, other}


def test_a_reboot_takes_the_lists_search_too(ctl: Control) -> None:
    tenant = ctl.create_tenant(TenantIn(name="boot", realm="r.example", sip_server="pbx.r"))
    for mac, name in (("001565000b01", "lobby 1"), ("001565000b02", "lobby 2"),
                      ("001565000b03", "office")):  # fmt: skip
        ctl.create_device(DeviceIn(tenant=tenant["id"], mac=mac, model="yealink-t46s", name=name))
    api = TestClient(create_app(ctl))
    auth = {"Authorization": f"Bearer {create_token(ctl.db, 'operator')}"}
    started = api.post("/api/v1/reboots", headers=auth,
                       json={"tenant": "boot", "filter": "all", "q": "lobby", "mode": "resync"})  # fmt: skip
    assert started.status_code == 202, started.text
    assert started.json()["total"] == 2
    both = api.post("/api/v1/reboots", headers=auth,
                    json={"tenant": "boot", "macs": ["001565000b03"], "q": "lobby"})  # fmt: skip
    assert both.status_code == 422 and "q searches" in both.text
