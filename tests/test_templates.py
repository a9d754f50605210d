"""Custom templates against a real `provedge run`: samples, lint refusals, the device
override and the tenant default reaching the phone, preview equal to the fetched bytes,
and a failing render leaving the last good file served."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Provedge, unique_mac, unique_name, wait_job

UA = "Yealink SIP-T46S 66.86.0.15"


@pytest.fixture
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


def tenant_with(
    api: httpx.Client, phones: int, model: str = "yealink-t46s"
) -> tuple[Any, list[str]]:
    name = unique_name("tpl")
    tenant = api.post(
        "/api/v1/tenants",
        json={"name": name, "realm": f"{name}.example.com", "sip_server": "pbx.example.net"},
    ).json()
    macs = []
    for _ in range(phones):
        mac = unique_mac("001565")
        made = api.post(
            "/api/v1/devices", json={"tenant": tenant["id"], "mac": mac, "model": model}
        )
        assert made.status_code == 201, made.text
        macs.append(mac)
    return tenant, macs


def sample(api: httpx.Client, model: str = "yealink-t46s", file: str = "mac.cfg",
           engine: str = "default") -> str:  # fmt: skip
    got = api.get(f"/api/v1/templates/samples/{model}/{file}", params={"engine": engine})
    assert got.status_code == 200, got.text
    return got.text


def upload(api: httpx.Client, tenant: Any, source: str, **fields: Any) -> httpx.Response:
    body = {"tenant": tenant["id"], "name": unique_name("t"), "vendor": "yealink",
            "file": "mac.cfg", "source": source, **fields}  # fmt: skip
    return api.post("/api/v1/templates", json=body)


def fetch(tenant: Any, mac: str) -> bytes:
    got = httpx.get(f"{tenant['provisioning_url']}{mac}.cfg", headers={"User-Agent": UA})
    assert got.status_code == 200, got.status_code
    return got.content


def settle(api: httpx.Client, job: Any) -> None:
    wait_job(api, job)
    done = api.get(f"/api/v1/jobs/{job['id']}").json()
    assert done["state"] == "done" and done["done"] == done["total"], done


def test_samples_come_in_both_engines(api: httpx.Client) -> None:
    default, advanced = sample(api), sample(api, engine="advanced")
    assert default.startswith("#!version:1.0.0.1") and "${line1.user}" in default
    assert "{% for line in lines %}" in advanced
    assert api.get("/api/v1/templates/samples/nokia-3310/mac.cfg").status_code == 404
    missing = api.get("/api/v1/templates/samples/yealink-t46s/nope.cfg")
    assert missing.status_code == 404 and "mac.cfg" in missing.json()["errors"]["file"]


@pytest.mark.parametrize(
    ("vendor", "model", "file", "source", "found"),
    [
        ("yealink", None, "mac.cfg", "#!version:1.0.0.1\nx = ${line1.usr}\n", "'line1.user'"),
        ("yealink", None, "mac.cfg", "#!version:1.0.0.1\nx = ${line1.user\n", "line 2"),
        ("yealink", None, "mac.cfg", "account.1.user_name = ${line1.user}\n", "#!version"),
        ("yealink", None, "mac.cfg", "#!version:1.0.0.1\njust words\n", "name = value"),
        ("polycom", "polycom-vvx400", "user.cfg", "<notpolycom/>", "root element"),
        ("polycom", "polycom-vvx400", "user.cfg", "<PHONE_CONFIG><a></PHONE_CONFIG>", "XML"),
    ],
)
def test_lint_refuses_with_the_line_and_stores_nothing(
    api: httpx.Client, vendor: str, model: str | None, file: str, source: str, found: str
) -> None:
    tenant, _ = tenant_with(api, 0)
    refused = upload(api, tenant, source, vendor=vendor, model=model, file=file)
    assert refused.status_code == 422, refused.text
    assert found in str(refused.json()["errors"]), refused.json()
    assert api.get("/api/v1/templates", params={"tenant": tenant["id"]}).json() == []


def test_the_sandbox_refuses_an_escape(api: httpx.Client) -> None:
    tenant, _ = tenant_with(api, 0)
    escape = "#!version:1.0.0.1\nx = {{ ''.__class__.__mro__[1].__subclasses__() }}\n"
    refused = upload(api, tenant, escape, engine="advanced")
    assert refused.status_code == 422 and "source[0]" in refused.json()["errors"]
    unknown = upload(api, tenant, "#!version:1.0.0.1\nx = {{ tenant.nope }}\n", engine="advanced")
    assert unknown.status_code == 422
    targets = upload(api, tenant, sample(api), vendor="nokia")
    assert targets.status_code == 422 and "vendor" in targets.json()["errors"]


def test_override_default_preview_and_the_last_good_file(api: httpx.Client) -> None:
    tenant, (mine, other) = tenant_with(api, 2)
    marked = sample(api) + "custom.marker = override\n"
    made = upload(api, tenant, marked)
    assert made.status_code == 201, made.text
    template = made.json()
    settle(api, template["job"])

    # The device's own override reaches that phone only.
    patched = api.patch(f"/api/v1/devices/{mine}", json={"template": template["id"]})
    assert patched.status_code == 200 and patched.json()["template"] == template["id"]
    assert b"custom.marker = override" in fetch(tenant, mine)
    assert b"custom.marker" not in fetch(tenant, other)

    # Preview: the same bytes as fetched, and what another template would give.
    preview = api.get(f"/api/v1/devices/{other}/preview/{other}.cfg").json()
    assert preview["body"].encode() == fetch(tenant, other) and preview["template"] is None
    assert preview["variables"]["device.mac"] == other
    trial = api.get(
        f"/api/v1/devices/{other}/preview/{other}.cfg", params={"template": template["id"]}
    ).json()
    assert "custom.marker = override" in trial["body"] and trial["template"] == template["id"]

    # A tenant default (advanced engine) reaches the rest, through a job.
    advanced = sample(api, engine="advanced") + "custom.marker = {{ device.name }}-default\n"
    default = upload(api, tenant, advanced, engine="advanced", default=True)
    assert default.status_code == 201, default.text
    settle(api, default.json()["job"])
    assert b"custom.marker = -default" in fetch(tenant, other)
    assert b"custom.marker = override" in fetch(tenant, mine)  # its own still wins

    # A render that fails for one device: that phone keeps its last good file.
    failing = (sample(api, engine="advanced")
               + "{% if device.name == 'boom' %}{{ 1 // 0 }}{% endif %}\n")  # fmt: skip
    changed = api.put(f"/api/v1/templates/{default.json()['id']}", json={"source": failing})
    assert changed.status_code == 200, changed.text
    settle(api, changed.json()["job"])
    good = fetch(tenant, other)
    assert api.patch(f"/api/v1/devices/{other}", json={"name": "boom"}).status_code == 200
    deadline = time.monotonic() + 10
    while (view := api.get(f"/api/v1/devices/{other}").json())["render_error"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert "division" in view["render_error"].lower() or "zero" in view["render_error"].lower()
    assert fetch(tenant, other) == good
    assert api.patch(f"/api/v1/devices/{other}", json={"name": "fine"}).status_code == 200
    assert api.get(f"/api/v1/devices/{other}").json()["render_error"] is None
    assert b"## provedge device configuration: fine" in fetch(tenant, other)

    # Deleting the override's template sends the device back to the tenant's choice.
    gone = api.delete(f"/api/v1/templates/{template['id']}")
    assert gone.status_code == 200
    settle(api, gone.json())
    assert api.get(f"/api/v1/devices/{mine}").json()["template"] is None
    body = fetch(tenant, mine)
    assert b"custom.marker = override" not in body
    assert (
        api.get(f"/api/v1/devices/{mine}/preview/{mine}.cfg").json()["template"]
        == (default.json()["id"])
    )


def test_template_names_are_unique_per_tenant(api: httpx.Client) -> None:
    tenant, _ = tenant_with(api, 0)
    first = upload(api, tenant, sample(api), name="mine")
    assert first.status_code == 201
    again = upload(api, tenant, sample(api), name="mine")
    assert again.status_code == 409 and "name" in again.json()["errors"]
    other, _ = tenant_with(api, 0)
    assert upload(api, other, sample(api), name="mine").status_code == 201


def test_custom_variables_of_the_tenant_and_the_device_reach_the_phone(
    api: httpx.Client,
) -> None:
    tenant, (plain, own) = tenant_with(api, 2)
    declared = api.patch(f"/api/v1/tenants/{tenant['id']}", json={"vars": {"site": "HQ"}})
    assert declared.status_code == 200 and declared.json()["vars"] == {"site": "HQ"}
    settle(api, declared.json()["job"])
    set_own = api.patch(f"/api/v1/devices/{own}", json={"vars": {"site": "Branch 7"}})
    assert set_own.status_code == 200 and set_own.json()["vars"] == {"site": "Branch 7"}
    undeclared = api.patch(f"/api/v1/devices/{own}", json={"vars": {"floor": "3"}})
    assert undeclared.status_code == 422 and "vars.floor" in undeclared.json()["errors"]
    bad_name = api.patch(f"/api/v1/tenants/{tenant['id']}", json={"vars": {"Bad Name": "x"}})
    assert bad_name.status_code == 422

    typo = upload(api, tenant, sample(api) + "custom.site = ${vars.sight}\n")
    assert typo.status_code == 422 and "'vars.site'" in str(typo.json()["errors"])
    made = upload(api, tenant, sample(api) + "custom.site = ${vars.site}\n", default=True)
    assert made.status_code == 201, made.text
    settle(api, made.json()["job"])
    assert fetch(tenant, plain).rstrip().endswith(b"custom.site = HQ")
    assert fetch(tenant, own).rstrip().endswith(b"custom.site = Branch 7")


def test_a_failing_render_shows_on_the_template_and_counts_in_its_job(
    api: httpx.Client,
) -> None:
    tenant, (boom, fine) = tenant_with(api, 2)
    assert api.patch(f"/api/v1/devices/{boom}", json={"name": "boom"}).status_code == 200
    advanced = sample(api, engine="advanced")
    made = upload(api, tenant, advanced + "custom.marker = first\n", engine="advanced",
                  default=True)  # fmt: skip
    assert made.status_code == 201, made.text
    template = made.json()
    settle(api, template["job"])
    assert template["render_errors"] == {"count": 0, "devices": []}
    good = fetch(tenant, boom)
    assert b"custom.marker = first" in good

    # The template changes to one that fails for one device: the job counts that one.
    failing = (
        advanced + "custom.marker = second\n{% if device.name == 'boom' %}{{ 1 // 0 }}{% endif %}\n"
    )
    changed = api.put(f"/api/v1/templates/{template['id']}", json={"source": failing})
    assert changed.status_code == 200, changed.text
    settle(api, changed.json()["job"])
    job = api.get(f"/api/v1/jobs/{changed.json()['job']['id']}").json()
    assert job["error_count"] == 1, job
    assert [e["item"] for e in job["errors"]] == [boom], job
    assert fetch(tenant, boom) == good  # the last good file stays served
    assert b"custom.marker = second" in fetch(tenant, fine)

    # The template shows which devices it fails for, and why.
    shown = api.get(f"/api/v1/templates/{template['id']}").json()["render_errors"]
    assert shown["count"] == 1 and [d["mac"] for d in shown["devices"]] == [boom], shown
    assert "division" in shown["devices"][0]["error"].lower()

    # A template that renders nothing for that device shows no error.
    other = upload(api, tenant, sample(api), model="yealink-t54w", default=True)
    assert other.status_code == 201, other.text
    settle(api, other.json()["job"])
    assert api.get(f"/api/v1/templates/{other.json()['id']}").json()["render_errors"] == {
        "count": 0, "devices": [],
    }  # fmt: skip

    # A tenant default's change through a new default template recompiles too: fixed now.
    fixed = upload(api, tenant, advanced + "custom.marker = third\n", engine="advanced",
                   default=True)  # fmt: skip
    assert fixed.status_code == 201, fixed.text
    settle(api, fixed.json()["job"])
    assert api.get(f"/api/v1/jobs/{fixed.json()['job']['id']}").json()["error_count"] == 0
    assert b"custom.marker = third" in fetch(tenant, boom)
    assert api.get(f"/api/v1/templates/{template['id']}").json()["render_errors"]["count"] == 0


def test_a_model_default_beats_the_vendor_default(api: httpx.Client) -> None:
    tenant, (t46s,) = tenant_with(api, 1)
    made = api.post("/api/v1/devices", json={"tenant": tenant["id"], "mac": unique_mac("001565"),
                                             "model": "yealink-t54w"})  # fmt: skip
    assert made.status_code == 201, made.text
    t54w = made.json()["mac"]
    # The model's default first, so the vendor's (newer) one cannot win by being last.
    model = upload(api, tenant, sample(api) + "custom.marker = model\n", model="yealink-t46s",
                   default=True)  # fmt: skip
    assert model.status_code == 201, model.text
    vendor = upload(api, tenant, sample(api) + "custom.marker = vendor\n", default=True)
    assert vendor.status_code == 201, vendor.text
    settle(api, model.json()["job"])
    settle(api, vendor.json()["job"])

    preview = api.get(f"/api/v1/devices/{t46s}/preview/{t46s}.cfg").json()
    assert preview["template"] == model.json()["id"], preview
    assert preview["body"].encode() == fetch(tenant, t46s)
    assert b"custom.marker = model" in fetch(tenant, t46s)
    other = api.get(f"/api/v1/devices/{t54w}/preview/{t54w}.cfg").json()
    assert other["template"] == vendor.json()["id"], other
    assert b"custom.marker = vendor" in fetch(tenant, t54w)
