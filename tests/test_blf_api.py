"""BLF keys through the API against a real server: stored, shown on the device, refused
with the bad field named, and read back from the file the edge serves."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Provedge, unique_mac, unique_name
from tests.vendorcheck import yealink_settings


@pytest.fixture(scope="module")
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


def _tenant_with_extensions(api: httpx.Client, *numbers: str) -> dict[str, object]:
    made = api.post(
        "/api/v1/tenants",
        json={
            "name": unique_name("blf"),
            "realm": "b.example.com",
            "sip_server": "pbx.b.example.com",
        },
    )
    assert made.status_code == 201, made.text
    tenant = dict(made.json())
    for number in numbers:
        user = f"u{number}"
        assert (
            api.post(
                "/api/v1/accounts", json={"tenant": tenant["id"], "username": user}
            ).status_code
            == 201
        )
        ext = api.post(
            "/api/v1/extensions",
            json={"tenant": tenant["id"], "number": number, "accounts": [user]},
        )
        assert ext.status_code == 201, ext.text
    return tenant


def _device(api: httpx.Client, tenant: dict[str, object], model: str) -> str:
    mac = unique_mac()
    made = api.post("/api/v1/devices", json={"tenant": tenant["id"], "mac": mac, "model": model})
    assert made.status_code == 201, made.text
    return mac


def test_keys_are_stored_shown_and_served(provedge: Provedge, api: httpx.Client) -> None:
    tenant = _tenant_with_extensions(api, "2001", "2002", "2003")
    mac = _device(api, tenant, "yealink-t46s")
    assert api.put(f"/api/v1/devices/{mac}/lines", json=[{"extension": "2001"}]).status_code == 200
    keys = [
        {"type": "blf", "extension": "2002", "label": "Bob"},
        {"type": "blf", "extension": "2003"},
    ]
    put = api.put(f"/api/v1/devices/{mac}/keys", json=keys)
    assert put.status_code == 200, put.text
    assert put.json() == [
        {"position": 1, "type": "blf", "extension": "2002", "label": "Bob"},
        {"position": 2, "type": "blf", "extension": "2003", "label": ""},
    ]
    device = api.get(f"/api/v1/devices/{mac}").json()
    assert device["keys"] == put.json() and device["published"]
    body = httpx.get(str(tenant["provisioning_url"]) + f"{mac}.cfg", timeout=10)
    assert body.status_code == 200
    served = yealink_settings(body.content)
    # one line: the keys are the phone's keys 2 and 3
    assert (served["linekey.2.type"], served["linekey.2.value"], served["linekey.2.label"]) == (
        "16",
        "2002",
        "Bob",
    )
    assert (served["linekey.3.value"], served["linekey.3.label"]) == ("2003", "2003")
    # removing them clears them on the phone
    assert api.put(f"/api/v1/devices/{mac}/keys", json=[]).json() == []
    cleared = yealink_settings(httpx.get(str(tenant["provisioning_url"]) + f"{mac}.cfg").content)
    assert (cleared["linekey.2.type"], cleared["linekey.2.value"]) == ("0", "")


def test_refusals_name_the_key(api: httpx.Client) -> None:
    tenant = _tenant_with_extensions(api, "3001")
    other = _tenant_with_extensions(api, "3002")
    mac = _device(api, tenant, "yealink-t46s")
    good = {"type": "blf", "extension": "3001"}
    assert api.put(f"/api/v1/devices/{mac}/keys", json=[good]).status_code == 200
    # an extension of another tenant is as unknown as a missing one
    bad = api.put(f"/api/v1/devices/{mac}/keys", json=[good, {"type": "blf", "extension": "3002"}])
    assert bad.status_code == 422 and "keys[1].extension" in bad.json()["errors"]
    assert other["id"] != tenant["id"]
    wrong_type = api.put(
        f"/api/v1/devices/{mac}/keys", json=[{"type": "park", "extension": "3001"}]
    )
    assert wrong_type.status_code == 422
    extra = api.put(f"/api/v1/devices/{mac}/keys", json=[{**good, "index": 4}])
    assert extra.status_code == 422  # unknown fields are refused, not ignored
    assert api.get(f"/api/v1/devices/{mac}/keys").json()[0]["extension"] == "3001"  # unchanged


def test_keys_beyond_the_models_keys_are_refused(api: httpx.Client) -> None:
    tenant = _tenant_with_extensions(api, "4001")
    # Cisco 8841: 5 programmable keys (catalogue); 6 BLF keys do not fit
    mac = _device(api, tenant, "cisco-cp8841")
    six = [{"type": "blf", "extension": "4001"}] * 6
    refused = api.put(f"/api/v1/devices/{mac}/keys", json=six)
    assert refused.status_code == 422 and "keys[5]" in refused.json()["errors"]
    assert api.put(f"/api/v1/devices/{mac}/keys", json=six[:5]).status_code == 200
    # a DECT handset has no programmable keys at all
    dect = _device(api, tenant, "yealink-w52p")
    none = api.put(f"/api/v1/devices/{dect}/keys", json=six[:1])
    assert none.status_code == 422 and "keys[0]" in none.json()["errors"]


def test_lines_and_model_changes_leave_the_keys_room(api: httpx.Client) -> None:
    tenant = _tenant_with_extensions(api, "5001", "5002", "5003")
    mac = _device(api, tenant, "cisco-cp8841")  # 5 programmable keys
    blf = [{"type": "blf", "extension": "5003"}] * 4
    assert api.put(f"/api/v1/devices/{mac}/lines", json=[{"extension": "5001"}]).status_code == 200
    assert api.put(f"/api/v1/devices/{mac}/keys", json=blf).status_code == 200
    two = [{"extension": "5001"}, {"extension": "5002"}]
    more = api.put(f"/api/v1/devices/{mac}/lines", json=two)
    assert more.status_code == 422 and "lines" in more.json()["errors"]
    smaller = api.patch(f"/api/v1/devices/{mac}", json={"model": "grandstream-grp2612w"})
    assert smaller.status_code == 422 and "model" in smaller.json()["errors"]
    assert len(api.get(f"/api/v1/devices/{mac}").json()["lines"]) == 1  # unchanged
