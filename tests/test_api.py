"""The control API's contract against a real `provedge run` process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Provedge


@pytest.fixture(scope="module")
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


@pytest.fixture(scope="module")
def tenant(api: httpx.Client) -> dict[str, object]:
    response = api.post(
        "/api/v1/tenants",
        json={
            "name": "api-t",
            "realm": "t.example.com",
            "sip_server": "pbx.t.example.com",
            "sip_transport": "tls",
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_every_endpoint_needs_a_token(provedge: Provedge) -> None:
    for method, path in [
        ("GET", "/api/v1/models"),
        ("GET", "/api/v1/tenants"),
        ("POST", "/api/v1/devices"),
        ("GET", "/api/v1/devices/001565000001"),
        ("PUT", "/api/v1/devices/x/lines"),
    ]:
        for headers in ({}, {"Authorization": "Bearer pe_wrong"}):
            response = httpx.request(method, provedge.control + path, headers=headers)
            assert response.status_code == 401
            assert "authorization" in response.json()["errors"]


def test_tenant_has_id_and_provisioning_url(provedge: Provedge, tenant: dict[str, object]) -> None:
    assert isinstance(tenant["id"], int)
    url = str(tenant["provisioning_url"])
    assert url.startswith(provedge.edge + "/p/") and url.endswith("/")
    assert len(url.rstrip("/").rsplit("/", 1)[1]) >= 20  # unguessable, not a counter
    assert tenant["sip_port"] == 5060 and tenant["sip_transport"] == "tls"


def test_models_catalogue(api: httpx.Client) -> None:
    ids = {m["id"] for m in api.get("/api/v1/models").json()}
    assert {
        "yealink-t46s",
        "polycom-vvx400",
        "cisco-cp8841",
        "cisco-spa508g",
        "grandstream-gxp2135",
        "snom-d785",
        "fanvil-x4u",
    } <= ids


def test_bad_fields_are_each_named(api: httpx.Client) -> None:
    response = api.post(
        "/api/v1/tenants",
        json={
            "name": "",
            "realm": "bad realm!",
            "sip_server": "ok.example",
            "sip_port": 70000,
            "sip_transport": "sctp",
            "extra": 1,
        },
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"name", "realm", "sip_port", "sip_transport", "extra"}
    response = api.post(
        "/api/v1/devices", json={"tenant": 1, "mac": "00:15:65:zz:00:01", "model": "nokia-3310"}
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"mac", "model"}
    assert response.json()["errors"]["mac"].startswith("not a MAC address")


def test_body_must_be_json(api: httpx.Client) -> None:
    response = api.post(
        "/api/v1/tenants", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "body" in response.json()["errors"]


def test_mac_any_notation_stored_normalised_and_unique(
    api: httpx.Client, tenant: dict[str, object]
) -> None:
    created = api.post(
        "/api/v1/devices",
        json={
            "tenant": tenant["id"],
            "mac": "00-15-65-AB-CD-01",
            "model": "YEALINK-T46S",
            "name": "a",
        },
    )
    assert created.status_code == 201
    body = created.json()
    assert body["mac"] == "001565abcd01" and body["model"] == "yealink-t46s"
    assert len(body["admin_password"]) >= 12
    assert api.get("/api/v1/devices/0015.65ab.cd01").json()["mac"] == "001565abcd01"
    other = api.post(
        "/api/v1/tenants",
        json={"name": "api-other", "realm": "o.example.com", "sip_server": "pbx.o.example.com"},
    ).json()
    duplicate = api.post(
        "/api/v1/devices",
        json={"tenant": other["id"], "mac": "001565ABCD01", "model": "yealink-t46s"},
    )
    assert duplicate.status_code == 409 and "mac" in duplicate.json()["errors"]


def test_account_generates_username_and_strong_password(
    api: httpx.Client, tenant: dict[str, object]
) -> None:
    account = api.post(
        "/api/v1/accounts", json={"tenant": tenant["id"], "display_name": "Gen"}
    ).json()
    assert account["username"] and len(account["password"]) >= 16
    listed = api.get("/api/v1/accounts", params={"tenant": tenant["id"]}).json()
    assert all("password" not in row for row in listed)  # shown once, on create only
    chosen = api.post(
        "/api/v1/accounts",
        json={"tenant": tenant["id"], "username": "alice", "password": "s3cret-pass"},
    )
    assert chosen.json()["password"] == "s3cret-pass"
    again = api.post("/api/v1/accounts", json={"tenant": tenant["id"], "username": "alice"})
    assert again.status_code == 409 and "username" in again.json()["errors"]


def test_failed_extension_writes_nothing(api: httpx.Client, tenant: dict[str, object]) -> None:
    bad = api.post(
        "/api/v1/extensions",
        json={"tenant": tenant["id"], "number": "3001", "accounts": ["alice", "nobody"]},
    )
    assert bad.status_code == 422 and "accounts[1]" in bad.json()["errors"]
    numbers = [
        e["number"] for e in api.get("/api/v1/extensions", params={"tenant": tenant["id"]}).json()
    ]
    assert "3001" not in numbers


def test_at_most_six_lines_per_mac(api: httpx.Client, tenant: dict[str, object]) -> None:
    for n in range(7):
        user = f"line{n}"
        api.post("/api/v1/accounts", json={"tenant": tenant["id"], "username": user})
        created = api.post(
            "/api/v1/extensions",
            json={"tenant": tenant["id"], "number": f"40{n}", "accounts": [user]},
        )
        assert created.status_code == 201
    api.post(
        "/api/v1/devices",
        json={"tenant": tenant["id"], "mac": "001565abcd06", "model": "yealink-t54w"},
    )
    seven = [{"extension": f"40{n}"} for n in range(7)]
    assert api.put("/api/v1/devices/001565abcd06/lines", json=seven).status_code == 422
    six = api.put("/api/v1/devices/001565abcd06/lines", json=seven[:6])
    assert six.status_code == 200 and [l["position"] for l in six.json()] == [1, 2, 3, 4, 5, 6]
    unknown = api.put(
        "/api/v1/devices/001565abcd06/lines", json=[{"extension": "401"}, {"extension": "999"}]
    )
    assert unknown.status_code == 422 and "lines[1].extension" in unknown.json()["errors"]
    assert (
        len(api.get("/api/v1/devices/001565abcd06/lines").json()) == 6
    )  # unchanged by the failure


def test_unknown_objects_are_404(api: httpx.Client) -> None:
    assert api.get("/api/v1/devices/001565999999").status_code == 404
    assert api.get("/api/v1/tenants/99999").status_code == 404
    assert (
        api.post(
            "/api/v1/devices",
            json={"tenant": 99999, "mac": "001565999999", "model": "yealink-t46s"},
        ).status_code
        == 404
    )


def test_tenant_admin_sees_only_its_tenant(
    provedge: Provedge, api: httpx.Client, tenant: dict[str, object]
) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "provedge.cli",
            "token",
            "create",
            "--data",
            str(provedge.data),
            "--role",
            "tenant_admin",
            "--tenant",
            "api-t",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    headers = {"Authorization": "Bearer " + out.stdout.strip().splitlines()[-1]}
    with httpx.Client(base_url=provedge.control, headers=headers) as admin:
        assert [t["name"] for t in admin.get("/api/v1/tenants").json()] == ["api-t"]
        assert admin.get("/api/v1/devices/001565000001").status_code == 404  # demo tenant's phone
        assert admin.get("/api/v1/devices/001565abcd01").status_code == 200
        assert (
            admin.post(
                "/api/v1/tenants", json={"name": "x", "realm": "x.x", "sip_server": "x.x"}
            ).status_code
            == 403
        )


def test_openapi_document(provedge: Provedge) -> None:
    doc = httpx.get(provedge.control + "/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert {
        "/api/v1/tenants",
        "/api/v1/devices",
        "/api/v1/devices/{mac}",
        "/api/v1/devices/{mac}/lines",
        "/api/v1/accounts",
        "/api/v1/extensions",
        "/api/v1/models",
    } <= set(doc["paths"])
    assert "mac" in doc["components"]["schemas"]["DeviceIn"]["properties"]
