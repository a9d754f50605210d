"""The provision counter reset through real fetches from the edge: the count starts again
from 0 and counts the fetches after the reset; unknown MACs are named, nothing reset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Provedge, unique_mac, unique_name
from tests.test_edgestate_writer import poll


@pytest.fixture(scope="module")
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


def _count_at_least(api: httpx.Client, mac: str, count: int) -> dict[str, Any]:
    return poll(
        lambda: api.get(f"/api/v1/devices/{mac}").json(),
        lambda view: view["provision_count"] >= count,
        f"provision_count {count}",
    )


def test_reset_counts_again_from_zero(api: httpx.Client) -> None:
    name = unique_name("ctr")
    tenant = api.post(
        "/api/v1/tenants",
        json={"name": name, "realm": "c.example.com", "sip_server": "pbx.c.example.com"},
    ).json()
    mac = unique_mac("001565")
    assert (
        api.post(
            "/api/v1/devices", json={"tenant": tenant["id"], "mac": mac, "model": "yealink-t46s"}
        ).status_code
        == 201
    )
    url = str(tenant["provisioning_url"]) + f"{mac}.cfg"
    for _ in range(3):
        assert httpx.get(url, headers={"Connection": "close"}).status_code == 200
    assert _count_at_least(api, mac, 3)["provision_count"] == 3

    reset = api.post("/api/v1/devices/reset-provision-counter", json={"macs": [mac.upper()]})
    assert reset.status_code == 200 and reset.json() == {"reset": 1}
    assert api.get(f"/api/v1/devices/{mac}").json()["provision_count"] == 0
    listed = api.get("/api/v1/devices", params={"tenant": tenant["id"]}).json()["items"]
    assert [d["provision_count"] for d in listed] == [0]

    assert httpx.get(url, headers={"Connection": "close"}).status_code == 200
    assert _count_at_least(api, mac, 1)["provision_count"] == 1


def test_unknown_macs_are_named_and_nothing_is_reset(api: httpx.Client) -> None:
    refused = api.post(
        "/api/v1/devices/reset-provision-counter", json={"macs": ["001565999998", "nonsense"]}
    )
    assert refused.status_code == 404
    assert set(refused.json()["errors"]) == {"macs[0]", "macs[1]"}
    assert api.post("/api/v1/devices/reset-provision-counter", json={"macs": []}).status_code == 422


def test_a_provision_limit_stops_the_files_until_a_reset(api: httpx.Client) -> None:
    name = unique_name("lim")
    tenant = api.post(
        "/api/v1/tenants",
        json={"name": name, "realm": "l.example.com", "sip_server": "pbx.l.example.com",
              "provision_limit": 2},
    ).json()  # fmt: skip
    assert tenant["provision_limit"] == 2
    mac = unique_mac("001565")
    made = api.post(
        "/api/v1/devices", json={"tenant": tenant["id"], "mac": mac, "model": "yealink-t46s"}
    )
    assert made.status_code == 201
    url = str(tenant["provisioning_url"]) + f"{mac}.cfg"
    for _ in range(2):
        assert httpx.get(url, headers={"Connection": "close"}).status_code == 200
        _count_at_least(api, mac, 1)
    _count_at_least(api, mac, 2)
    stopped = httpx.get(url, headers={"Connection": "close"})
    missing = httpx.get(str(tenant["provisioning_url"]) + "001565fffffe.cfg")
    assert stopped.status_code == 404 and stopped.content == missing.content  # any miss's
    common = httpx.get(str(tenant["provisioning_url"]) + "y000000000066.cfg")
    assert common.status_code == 200  # its tenant's common files are not limited

    assert (
        api.post("/api/v1/devices/reset-provision-counter", json={"macs": [mac]}).status_code == 200
    )
    served = poll(lambda: httpx.get(url, headers={"Connection": "close"}).status_code,
                  lambda status: status == 200, "served again after the reset")  # fmt: skip
    assert served == 200

    lifted = api.patch(f"/api/v1/tenants/{tenant['id']}", json={"provision_limit": 0})
    assert lifted.status_code == 200 and lifted.json()["provision_limit"] is None
