"""Hot-desking: a device's PIN turns on its vendor's hot-desking setting, read back from the
rendered file with both Default engines; families without one refuse the PIN (422)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import httpx
import pytest

from control.domain.catalog import MODELS, device_files
from control.domain.variables import DeviceData, TenantData
from control.publish import compiler as compiler_module
from control.publish.compiler import Compiler
from edge import _fastrender, _fastrender_py
from provedge.formats import store
from tests.conftest import Provedge, unique_mac, unique_name, wait_job
from tests.vendorcheck import flat_settings, polycom_settings, yealink_settings

TENANT = TenantData(name="acme", realm="acme.example.com", sip_server="pbx.acme.example.com")
MAC = "001565aabbcc"


@pytest.fixture(params=[_fastrender, _fastrender_py], ids=["cython", "python"])
def compiler(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Compiler]:
    engine: ModuleType = request.param
    monkeypatch.setattr(compiler_module.fastrender, "compile_template", engine.compile_template)
    yield Compiler()


def _file(compiler: Compiler, model_id: str, suffix: str, pin: str) -> bytes:
    dev = DeviceData(MAC, MODELS[model_id], "desk", "Adm1n-Secret_x", hotdesk_pin=pin)
    blobs = compiler.device_files("K", TENANT, dev)
    name = next(n for n, _ in device_files(dev.model, MAC) if n.endswith(suffix))
    return store.decode_blob(blobs[store.blob_key("K", name)]).body


def test_yealink(compiler: Compiler) -> None:
    on = yealink_settings(_file(compiler, "yealink-t46s", f"{MAC}.cfg", "4460"))
    assert on["phone_setting.logon_wizard"] == "1"
    assert (
        on["hotdesking.startup_username_enable"] == on["hotdesking.dsskey_password_enable"] == "1"
    )
    off = yealink_settings(_file(compiler, "yealink-t46s", f"{MAC}.cfg", ""))
    assert off["phone_setting.logon_wizard"] == "0"


def test_polycom_carries_the_pin(compiler: Compiler) -> None:
    on = polycom_settings(_file(compiler, "polycom-vvx410", "-user.cfg", "4460"))
    assert (on["prov.login.enabled"], on["prov.login.localPassword"]) == ("1", "4460")
    off = polycom_settings(_file(compiler, "polycom-vvx410", "-user.cfg", ""))
    assert (off["prov.login.enabled"], off["prov.login.localPassword"]) == ("0", "")


@pytest.mark.parametrize("model_id", ["cisco-spa508g", "cisco-cp8841"])
def test_cisco_extension_mobility(compiler: Compiler, model_id: str) -> None:
    on = flat_settings(_file(compiler, model_id, f"{MAC}.xml", "4460"), "flat-profile")
    assert (on["EM_Enable"], on["EM_User_Domain"]) == ("Yes", "acme.example.com")
    off = flat_settings(_file(compiler, model_id, f"{MAC}.xml", ""), "flat-profile")
    assert off["EM_Enable"] == "No"


@pytest.fixture(scope="module")
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


@pytest.mark.parametrize("model", ["grandstream-gxp2135", "snom-d785", "fanvil-x4u"])
def test_families_without_hotdesking_refuse_the_pin(api: httpx.Client, model: str) -> None:
    tenant = api.post(
        "/api/v1/tenants",
        json={
            "name": unique_name("hd"),
            "realm": "h.example.com",
            "sip_server": "pbx.h.example.com",
        },
    ).json()
    mac = unique_mac()
    body = {"tenant": tenant["id"], "mac": mac, "model": model}
    refused = api.post("/api/v1/devices", json={**body, "hotdesk_pin": "4460"})
    assert refused.status_code == 422 and "hotdesk_pin" in refused.json()["errors"]
    assert api.get(f"/api/v1/devices/{mac}").status_code == 404  # nothing written
    assert api.post("/api/v1/devices", json=body).status_code == 201
    patched = api.patch(f"/api/v1/devices/{mac}", json={"hotdesk_pin": "4460"})
    assert patched.status_code == 422 and "hotdesk_pin" in patched.json()["errors"]
    # a Yealink with a PIN cannot become one of them while it keeps the PIN
    yealink = unique_mac()
    made = api.post(
        "/api/v1/devices",
        json={**body, "mac": yealink, "model": "yealink-t46s", "hotdesk_pin": "4460"},
    )
    assert made.status_code == 201, made.text
    moved = api.patch(f"/api/v1/devices/{yealink}", json={"model": model})
    assert moved.status_code == 422 and "model" in moved.json()["errors"]
    both = api.patch(f"/api/v1/devices/{yealink}", json={"model": model, "hotdesk_pin": ""})
    assert both.status_code == 200 and both.json()["model"] == model


def test_a_tenants_pin_reaches_its_phones_without_one_of_their_own(api: httpx.Client) -> None:
    made = api.post(
        "/api/v1/tenants",
        json={"name": unique_name("hd"), "realm": "h.example.com",
              "sip_server": "pbx.h.example.com", "hotdesk_pin": "4460"},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    tenant = made.json()
    assert tenant["hotdesk_pin"] == "4460"
    bad = api.patch(f"/api/v1/tenants/{tenant['id']}", json={"hotdesk_pin": "44a0"})
    assert bad.status_code == 422 and "hotdesk_pin" in bad.json()["errors"]
    plain, own, snom = unique_mac(), unique_mac(), unique_mac()
    for mac, model, pin in ((plain, "polycom-vvx410", ""), (own, "polycom-vvx410", "9999"),
                            (snom, "snom-d785", "")):  # fmt: skip
        body = {"tenant": tenant["id"], "mac": mac, "model": model, "hotdesk_pin": pin}
        assert api.post("/api/v1/devices", json=body).status_code == 201

    def login(mac: str) -> tuple[str, str]:
        settings = polycom_settings(
            httpx.get(f"{tenant['provisioning_url']}{mac}-user.cfg").content
        )
        return settings["prov.login.enabled"], settings["prov.login.localPassword"]

    assert login(plain) == ("1", "4460")  # the tenant's
    assert login(own) == ("1", "9999")  # its own wins
    # a vendor without hot-desking in the same tenant is served, without any PIN
    snom_file = httpx.get(f"{tenant['provisioning_url']}{snom}.xml")
    assert snom_file.status_code == 200 and b"4460" not in snom_file.content
    cleared = api.patch(f"/api/v1/tenants/{tenant['id']}", json={"hotdesk_pin": ""})
    assert cleared.status_code == 200
    wait_job(api, cleared.json()["job"])
    assert login(plain) == ("0", "") and login(own) == ("1", "9999")
    audit = api.get("/api/v1/audit", params={"object": f"tenant/{tenant['id']}"}).json()
    assert "4460" not in repr(audit["items"])  # masked, as a device's PIN is
