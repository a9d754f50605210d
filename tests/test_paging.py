"""The device list in keyset pages: every device once, in MAC order, a fixed number of
queries per page whatever its size."""

from __future__ import annotations

from pathlib import Path

import pytest

from control.api.schemas import DeviceIn, TenantIn
from control.domain.errors import ServiceError
from control.wiring import build_control
from tests.test_service import EDGE


def test_pages_walk_every_device_once_in_mac_order(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    tenant = ctl.create_tenant(TenantIn(name="p", realm="p.example", sip_server="pbx.p.example"))
    other = ctl.create_tenant(TenantIn(name="q", realm="q.example", sip_server="pbx.q.example"))
    macs = sorted(f"0015650000{n:02x}" for n in range(7))
    for mac in reversed(macs):
        ctl.create_device(DeviceIn(tenant=tenant["id"], mac=mac, model="yealink-t46s"))
    ctl.create_device(DeviceIn(tenant=other["id"], mac="0015650000ff", model="yealink-t46s"))
    seen: list[str] = []
    cursor = None
    pages = 0
    for _ in range(10):
        page = ctl.list_devices(tenant["id"], limit=3, cursor=cursor)
        seen += [device["mac"] for device in page["items"]]
        pages += 1
        assert page["total"] == 7
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    ctl.close()
    assert seen == macs and pages == 3  # 3 + 3 + 1, the other tenant's device not among them


def test_a_page_costs_the_same_queries_whatever_its_size(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    tenant = ctl.create_tenant(TenantIn(name="p", realm="p.example", sip_server="pbx.p.example"))
    for n in range(40):
        ctl.create_device(DeviceIn(tenant=tenant["id"], mac=f"00156500{n:04x}", model="fanvil-x4u"))

    def statements(limit: int) -> int:
        count = 0

        def trace(sql: str) -> None:
            nonlocal count
            count += sql.lstrip().upper().startswith("SELECT")

        with ctl.db.read() as conn:  # the reader of this thread: the one the list uses
            conn.set_trace_callback(trace)
        ctl.list_devices(tenant["id"], limit=limit)
        with ctl.db.read() as conn:
            conn.set_trace_callback(None)
        return count

    small = statements(2)
    assert small >= 3 and statements(40) == small  # the total, the page, then its lines
    ctl.close()


def test_a_bad_limit_is_refused(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    with pytest.raises(ServiceError) as refused:
        ctl.list_devices(limit=0)
    assert refused.value.status == 422 and "limit" in refused.value.errors
    ctl.close()
