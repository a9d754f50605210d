"""The control API's contract against a real `provedge run` process.

The server is shared by the module for speed; every test builds the tenants, devices and
accounts it needs, under names no other test uses, so the tests pass in any order.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import Provedge, unique_mac, unique_name, wait_job


@pytest.fixture(scope="module")
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


def new_tenant(api: httpx.Client, **fields: object) -> dict[str, object]:
    body = {"name": unique_name("api"), "realm": "o.example.com", "sip_server": "pbx.o.example.com"}
    response = api.post("/api/v1/tenants", json={**body, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def tenant(api: httpx.Client) -> dict[str, object]:
    response = api.post(
        "/api/v1/tenants",
        json={
            "name": unique_name("api-t"),
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
    mac = unique_mac()
    dashed = "-".join(mac[i : i + 2] for i in range(0, 12, 2)).upper()  # 00-15-FA-..
    created = api.post(
        "/api/v1/devices",
        json={"tenant": tenant["id"], "mac": dashed, "model": "YEALINK-T46S", "name": "a"},
    )
    assert created.status_code == 201
    body = created.json()
    assert body["mac"] == mac and body["model"] == "yealink-t46s"
    assert len(body["admin_password"]) >= 12
    cisco = f"{mac[:4]}.{mac[4:8]}.{mac[8:]}".upper()
    assert api.get(f"/api/v1/devices/{cisco}").json()["mac"] == mac
    other = new_tenant(api)
    duplicate = api.post(
        "/api/v1/devices",
        json={"tenant": other["id"], "mac": mac.upper(), "model": "yealink-t46s"},
    )
    assert duplicate.status_code == 409 and "mac" in duplicate.json()["errors"]


def test_account_generates_username_and_strong_password(
    api: httpx.Client, tenant: dict[str, object]
) -> None:
    account = api.post(
        "/api/v1/accounts", json={"tenant": tenant["id"], "display_name": "Gen"}
    ).json()
    assert account["username"] and len(account["password"]) >= 16
    listed = api.get("/api/v1/accounts", params={"tenant": tenant["id"]}).json()["items"]
    assert all("password" not in row for row in listed)  # shown once, on create only
    chosen = api.post(
        "/api/v1/accounts",
        json={"tenant": tenant["id"], "username": "alice", "password": "s3cret-pass"},
    )
    assert chosen.json()["password"] == "s3cret-pass"
    again = api.post("/api/v1/accounts", json={"tenant": tenant["id"], "username": "alice"})
    assert again.status_code == 409 and "username" in again.json()["errors"]


def test_failed_extension_writes_nothing(api: httpx.Client, tenant: dict[str, object]) -> None:
    made = api.post("/api/v1/accounts", json={"tenant": tenant["id"], "username": "alice"})
    assert made.status_code == 201
    bad = api.post(
        "/api/v1/extensions",
        json={"tenant": tenant["id"], "number": "3001", "accounts": ["alice", "nobody"]},
    )
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"accounts[1]"}
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
    mac = unique_mac()
    made = api.post(
        "/api/v1/devices", json={"tenant": tenant["id"], "mac": mac, "model": "yealink-t54w"}
    )
    assert made.status_code == 201
    seven = [{"extension": f"40{n}"} for n in range(7)]
    refused = api.put(f"/api/v1/devices/{mac}/lines", json=seven)
    assert refused.status_code == 422, refused.text
    assert list(refused.json()["errors"]) == ["lines"], refused.json()
    assert "at most 6" in refused.json()["errors"]["lines"]
    bad_item = api.put(f"/api/v1/devices/{mac}/lines", json=[{"extension": "401", "x": 1}])
    assert bad_item.status_code == 422 and "lines[0].x" in bad_item.json()["errors"], bad_item.text
    six = api.put(f"/api/v1/devices/{mac}/lines", json=seven[:6])
    assert six.status_code == 200 and [l["position"] for l in six.json()] == [1, 2, 3, 4, 5, 6]
    unknown = api.put(
        f"/api/v1/devices/{mac}/lines", json=[{"extension": "401"}, {"extension": "999"}]
    )
    assert unknown.status_code == 422 and "lines[1].extension" in unknown.json()["errors"]
    assert len(api.get(f"/api/v1/devices/{mac}/lines").json()) == 6  # unchanged by the failure


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


def create_token(provedge: Provedge, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provedge.cli", "token", "create", "--data", str(provedge.data),
         *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_tenant_admin_sees_only_its_tenant(
    provedge: Provedge, api: httpx.Client, tenant: dict[str, object]
) -> None:
    mine, theirs = unique_mac(), unique_mac()
    for owner, mac in ((tenant, mine), (new_tenant(api), theirs)):
        made = api.post(
            "/api/v1/devices", json={"tenant": owner["id"], "mac": mac, "model": "yealink-t46s"}
        )
        assert made.status_code == 201
    out = create_token(provedge, "--role", "tenant_admin", "--tenant", str(tenant["name"]))
    assert out.returncode == 0, out.stderr
    headers = {"Authorization": "Bearer " + out.stdout.strip().splitlines()[-1]}
    with httpx.Client(base_url=provedge.control, headers=headers) as admin:
        assert [t["name"] for t in admin.get("/api/v1/tenants").json()] == [tenant["name"]]
        assert admin.get(f"/api/v1/devices/{theirs}").status_code == 404
        assert admin.get(f"/api/v1/devices/{mine}").status_code == 200
        assert [d["mac"] for d in admin.get("/api/v1/devices").json()["items"]] == [mine]
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


# ---- strict references ----------------------------------------------------------------------
NOT_IDS = [
    "%C2%B2",  # superscript two: str.isdigit() is true, int() refuses it
    "%D9%A1",  # Arabic-Indic one: int() reads it as 1
    "1" * 25,  # beyond 64 bits
    "9" * 5000,  # beyond int()'s default digit limit
    "9223372036854775808",  # 2^63
    "0",
]


@pytest.mark.parametrize(
    "ref", NOT_IDS, ids=["sup2", "arabic1", "25digits", "5000digits", "2^63", "0"]
)
def test_a_reference_that_is_not_an_id_is_a_name(api: httpx.Client, ref: str) -> None:
    assert api.get("/api/v1/tenants/1").status_code == 200  # the demo tenant is id 1
    for response in (
        api.get(f"/api/v1/tenants/{ref}"),
        api.get(f"/api/v1/devices?tenant={ref}"),
        api.get(f"/api/v1/accounts?tenant={ref}"),
    ):
        assert response.status_code == 404, response.text
        assert response.json() == {"errors": {"tenant": "no such tenant"}}


@pytest.mark.parametrize(
    "ref, status",
    [
        (9223372036854775808, 422),  # 2^63: no such id can exist
        (10**30, 422),
        (0, 422),
        (-1, 422),
        (True, 422),  # a boolean is not tenant 1
        (False, 422),
        (1.0, 422),
        (None, 422),
        (9223372036854775807, 404),  # the largest id: well-formed, unknown
        ("\u0661", 404),  # a name, not 1
        ("9" * 5000, 404),
    ],
)
def test_tenant_in_a_body_is_strict(api: httpx.Client, ref: object, status: int) -> None:
    response = api.post("/api/v1/accounts", json={"tenant": ref})
    assert response.status_code == status, response.text
    assert set(response.json()["errors"]) == {"tenant"}


@pytest.mark.parametrize("ref", ["\u0661", "\u00b2", "1" * 25, "9" * 5000])
def test_cli_tenant_reference_is_strict(provedge: Provedge, ref: str) -> None:
    out = create_token(provedge, "--role", "tenant_admin", "--tenant", ref)
    assert out.returncode == 2 and "no tenant" in out.stderr, out.stderr  # never tenant 1


# ---- control characters in names ------------------------------------------------------------
CONTROLS = ["\x00", "\r", "\n", "\t", "\x1b", "\x7f", "\x85", "\u202e", "\u2066", "\u2069"]


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_names_refuse_control_characters(
    api: httpx.Client, tenant: dict[str, object], char: str
) -> None:
    bad = f"a{char}b"
    t, mac = tenant["id"], unique_mac()
    cases = [
        ("post", "/api/v1/tenants", {"name": bad, "realm": "x.example", "sip_server": "x.example"},
         "name"),
        ("patch", f"/api/v1/tenants/{t}", {"language": bad}, "language"),
        ("patch", f"/api/v1/tenants/{t}", {"timezone": bad}, "timezone"),
        ("post", "/api/v1/devices", {"tenant": t, "mac": mac, "model": "yealink-t46s",
         "name": bad}, "name"),
        ("post", "/api/v1/accounts", {"tenant": t, "display_name": bad}, "display_name"),
        ("post", "/api/v1/accounts", {"tenant": t, "password": f"secret{bad}pw"}, "password"),
        ("post", "/api/v1/extensions", {"tenant": t, "number": "1", "accounts": ["a"],
         "display_name": bad}, "display_name"),
    ]  # fmt: skip
    for method, path, body, field in cases:
        response = api.request(method, path, json=body)
        assert response.status_code == 422, (path, body, response.text)
        assert set(response.json()["errors"]) == {field}, response.text
        assert "control character" in response.json()["errors"][field]
    assert api.get(f"/api/v1/devices/{mac}").status_code == 404  # nothing was written


# ---- body limits ----------------------------------------------------------------------------
LIMIT = 1 << 20  # create_app's default max_body_bytes


def _raw_request(provedge: Provedge, head: str, body: bytes) -> tuple[int, dict[str, object]]:
    """Send a request by hand and read the answer: no client that fixes up what we send."""
    url = httpx.URL(provedge.control)
    with socket.create_connection((url.host, url.port), timeout=30) as sock:
        sock.sendall(
            head.encode()
            + f"Host: {url.host}\r\nAuthorization: Bearer {provedge.token}\r\n"
            "Content-Type: application/json\r\n\r\n".encode()
            + body
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, json.loads(answer.partition(b"\r\n\r\n")[2])


def test_body_over_the_limit_is_413_before_it_is_sent(provedge: Provedge) -> None:
    # Only the headers go out: the Content-Length alone gets the answer.
    status, body = _raw_request(
        provedge, f"POST /api/v1/tenants HTTP/1.1\r\nContent-Length: {100 * LIMIT}\r\n", b""
    )
    assert status == 413 and set(body["errors"]) == {"body"}


def test_chunked_body_over_the_limit_is_413_while_it_arrives(provedge: Provedge) -> None:
    chunk = b"[" + b" " * (64 * 1024 - 1)
    chunks = [chunk] + [b" " * len(chunk)] * (LIMIT // len(chunk))  # limit + 64 KiB, unfinished
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    status, answer = _raw_request(
        provedge, "PUT /api/v1/devices/001565000001/lines HTTP/1.1\r\nTransfer-Encoding: chunked\r\n",
        body,
    )  # fmt: skip
    assert status == 413 and set(answer["errors"]) == {"body"}


def test_body_at_the_limit_is_read(api: httpx.Client, tenant: dict[str, object]) -> None:
    padding = LIMIT - len(b'{"tenant": , "display_name": ""}') - len(str(tenant["id"]))
    body = b'{"tenant": %d, "display_name": "%s"}' % (tenant["id"], b" " * padding)
    assert len(body) == LIMIT
    response = api.post("/api/v1/accounts", content=body)
    assert response.status_code == 201, response.text  # display name stripped to ""
    response = api.post("/api/v1/accounts", content=body + b" ")
    assert response.status_code == 413


def test_healthz_answers_while_a_large_body_is_validated(provedge: Provedge) -> None:
    lines = orjson.dumps([{"extension": "1001"}] * 45_000)  # just under 1 MiB
    assert len(lines) < LIMIT
    answers: list[int | str] = []
    done = threading.Event()

    def poll() -> None:
        # Generous timeouts: the bound is "answers at all", not a speed figure, and a
        # timeout is recorded (not raised in this thread) so the assertion below names it.
        with httpx.Client(base_url=provedge.control, timeout=30) as client:
            while not done.is_set():
                try:
                    answers.append(client.get("/healthz").status_code)
                except httpx.TimeoutException as exc:
                    answers.append(type(exc).__name__)

    poller = threading.Thread(target=poll)
    with httpx.Client(
        base_url=provedge.control, headers={"Authorization": f"Bearer {provedge.token}"}, timeout=60
    ) as api:
        poller.start()
        try:
            for _ in range(3):
                big = api.put("/api/v1/devices/001565000001/lines", content=lines)
                assert big.status_code == 422 and set(big.json()["errors"]) == {"lines"}
        finally:
            done.set()
            poller.join(timeout=60)
    assert not poller.is_alive() and answers and set(answers) == {200}, answers


def test_timezone_and_language_are_checked(api: httpx.Client, tenant: dict[str, object]) -> None:
    base = {"realm": "o.example.com", "sip_server": "pbx.o.example.com"}
    for field, bad in (("timezone", "Europe/Atlantis"), ("language", "Klingon")):
        made = api.post("/api/v1/tenants", json={**base, "name": unique_name("tz"), field: bad})
        assert made.status_code == 422 and set(made.json()["errors"]) == {field}, made.text
        patched = api.patch(f"/api/v1/tenants/{tenant['id']}", json={field: bad})
        assert patched.status_code == 422 and set(patched.json()["errors"]) == {field}
    ok = api.patch(
        f"/api/v1/tenants/{tenant['id']}", json={"timezone": "Asia/Kathmandu", "language": "Dutch"}
    )
    assert ok.status_code == 200 and ok.json()["timezone"] == "Asia/Kathmandu"
    wait_job(api, ok.json()["job"])
    mac = unique_mac()
    device = api.post(
        "/api/v1/devices", json={"tenant": tenant["id"], "mac": mac, "model": "fanvil-x4u"}
    ).json()
    assert (device["language"], device["language_fallback"]) == ("English", True)


def test_lines_beyond_a_models_accounts_are_a_422(
    api: httpx.Client, tenant: dict[str, object]
) -> None:
    for n in range(3):
        api.post("/api/v1/accounts", json={"tenant": tenant["id"], "username": f"lim{n}"})
        api.post(
            "/api/v1/extensions",
            json={"tenant": tenant["id"], "number": f"50{n}", "accounts": [f"lim{n}"]},
        )
    mac = unique_mac()
    api.post(
        "/api/v1/devices",
        json={"tenant": tenant["id"], "mac": mac, "model": "grandstream-grp2612w"},
    )
    three = [{"extension": f"50{n}"} for n in range(3)]
    refused = api.put(f"/api/v1/devices/{mac}/lines", json=three)
    assert refused.status_code == 422
    assert "2 SIP account" in refused.json()["errors"]["lines"]
    models = {m["id"]: m for m in api.get("/api/v1/models").json()}
    assert models["grandstream-grp2612w"]["accounts"] == 2


# ---- SIP device accounts ------------------------------------------------------------------------
def test_account_refusals_name_each_field(api: httpx.Client, tenant: dict[str, object]) -> None:
    t = tenant["id"]
    for body, field in [
        ({"tenant": t, "auth_method": "ip"}, "ip"),
        ({"tenant": t, "ip": "192.0.2.1"}, "ip"),
        ({"tenant": t, "expires": 30}, "expires"),
        ({"tenant": t, "access_rules": [{"action": "deny", "network": "0.0.0.0/0.0.0.0"},
                                        {"action": "permit", "network": "1.2.3.4/255.0.255.0"}]},
         "access_rules[1].network"),
        ({"tenant": t, "access_rules": [{"action": "permit", "network": "10.0.0.0/40"}]},
         "access_rules[0].network"),
    ]:  # fmt: skip
        response = api.post("/api/v1/accounts", json=body)
        assert response.status_code == 422, response.text
        assert set(response.json()["errors"]) == {field}


def test_account_detail_edit_reveal_delete(api: httpx.Client, tenant: dict[str, object]) -> None:
    made = api.post(
        "/api/v1/accounts",
        json={"tenant": tenant["id"], "username": "dora", "owner": "Dora", "expires": 600},
    ).json()
    assert made["realm"] == "t.example.com" and made["password"]
    path = f"/api/v1/accounts/{made['id']}"
    detail = api.get(path).json()
    assert detail["owner"] == "Dora" and detail["expires"] == 600 and "password" not in detail
    patched = api.patch(path, json={"enabled": False, "owner": "Dora", "invite_format": "e164"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["changed"] == ["enabled", "invite_format"]
    assert api.post(path + "/reveal-password").json()["password"] == made["password"]
    api.post("/api/v1/extensions", json={"tenant": tenant["id"], "number": "7001",
                                         "accounts": ["dora"]})  # fmt: skip
    mac = unique_mac()
    api.post("/api/v1/devices", json={"tenant": tenant["id"], "mac": mac, "model": "yealink-t46s"})
    api.put(f"/api/v1/devices/{mac}/lines", json=[{"extension": "7001"}])
    refused = api.delete(path)
    assert refused.status_code == 409 and mac in refused.json()["errors"]["devices"]
    assert api.delete(path, params={"force": "true"}).status_code == 204
    assert api.get(path).status_code == 404
    assert api.get("/api/v1/accounts/x").status_code == 404


def test_wizard_activation_link_is_public_and_one_time(
    provedge: Provedge, api: httpx.Client, tenant: dict[str, object]
) -> None:
    made = api.post(
        "/api/v1/accounts", json={"tenant": tenant["id"], "username": "wizard", "activation": True}
    ).json()
    assert made["enabled"] is False and made["activation_expires_at"]
    url = made["activation_url"]
    assert url.startswith(provedge.control + "/api/v1/activations/")
    used = httpx.get(url)  # no bearer token: the token in the link is the credential
    assert used.status_code == 200, used.text
    assert used.json()["username"] == "wizard" and used.json()["sip_transport"] == "tls"
    assert api.get(f"/api/v1/accounts/{made['id']}").json()["enabled"] is True
    again = httpx.get(url)
    assert again.status_code == 410 and "token" in again.json()["errors"]
    reissued = api.post(f"/api/v1/accounts/{made['id']}/activation")
    assert reissued.status_code == 200 and reissued.json()["activation_url"] != url
    assert httpx.get(provedge.control + "/api/v1/activations/nope").status_code == 404


def test_account_batch_lists_each_bad_row(api: httpx.Client, tenant: dict[str, object]) -> None:
    body = {"tenant": tenant["id"], "count": 4, "username_pattern": "desk{n:02}"}
    made = api.post("/api/v1/accounts/batch", json=body)
    assert made.status_code == 201, made.text
    assert [r["username"] for r in made.json()["items"]] == ["desk01", "desk02", "desk03", "desk04"]
    again = api.post("/api/v1/accounts/batch", json={**body, "start": 3})
    assert again.status_code == 422
    assert set(again.json()["errors"]) == {"rows[1].username", "rows[2].username"}
    listed = api.get("/api/v1/accounts", params={"tenant": tenant["id"]}).json()["items"]
    assert len([a for a in listed if a["username"].startswith("desk")]) == 4


def _import(api: httpx.Client, tenant: object, text: str, **params: object) -> httpx.Response:
    return api.post(
        "/api/v1/devices/import",
        params={"tenant": tenant, **params},
        content=text.encode(),
        headers={"Content-Type": "text/csv"},
    )


def test_device_import_is_all_or_nothing_then_served(
    provedge: Provedge, api: httpx.Client, tenant: dict[str, object]
) -> None:
    api.post("/api/v1/accounts", json={"tenant": tenant["id"], "username": "imp1"})
    api.post(
        "/api/v1/extensions", json={"tenant": tenant["id"], "number": "5001", "accounts": ["imp1"]}
    )
    good, other = unique_mac(), unique_mac()
    fixed = f"mac,model,name,line1\n{good},yealink-t46s,Desk,5001\n{other},fanvil-x4u,,\n"
    mixed = fixed + f"{good},nokia,,5009\n"
    refused = _import(api, tenant["id"], mixed)
    assert refused.status_code == 422, refused.text
    assert set(refused.json()["errors"]) == {"rows[3].mac", "rows[3].model", "rows[3].line1"}
    assert api.get(f"/api/v1/devices/{good}").status_code == 404  # nothing written
    dry = _import(api, tenant["id"], fixed, dry_run="true").json()
    assert (dry["dry_run"], dry["created"], dry["job"]) == (True, 2, None)
    assert api.get(f"/api/v1/devices/{good}").status_code == 404
    done = _import(api, tenant["id"], fixed)
    assert done.status_code == 200 and done.json()["created"] == 2, done.text
    wait_job(api, done.json()["job"])
    config = httpx.get(
        f"{tenant['provisioning_url']}{good}.cfg",
        headers={"User-Agent": f"Yealink SIP-T46S 66.86.0.15 {good}"},
    )
    assert config.status_code == 200 and "imp1" in config.text
    again = _import(api, tenant["id"], fixed).json()
    assert (again["created"], again["changed"], again["unchanged"]) == (0, 0, 2)
    rows = [{"mac": good, "model": "yealink-t46s", "name": "Desk 2"}]
    as_json = api.post("/api/v1/devices/import", params={"tenant": tenant["id"]}, json=rows)
    assert as_json.status_code == 200 and as_json.json()["changed_macs"] == [good]


def test_device_export_and_filter(api: httpx.Client, tenant: dict[str, object]) -> None:
    api.post("/api/v1/accounts", json={"tenant": tenant["id"], "username": "exp1"})
    api.post(
        "/api/v1/extensions", json={"tenant": tenant["id"], "number": "5101", "accounts": ["exp1"]}
    )
    lined, bare = sorted([unique_mac(), unique_mac()])
    text = f"mac,model,line1\n{lined},yealink-t46s,5101\n{bare},yealink-t46s,\n"
    assert _import(api, tenant["id"], text).status_code == 200
    exported = api.get("/api/v1/devices/export", params={"tenant": tenant["id"]})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines()[1:] == [
        f"{lined},yealink-t46s,,5101,,,,,,",
        f"{bare},yealink-t46s,,,,,,,,",
    ]
    for which, macs in (("assigned", [lined]), ("unassigned", [bare]), ("all", [lined, bare])):
        page = api.get("/api/v1/devices", params={"tenant": tenant["id"], "filter": which})
        assert [d["mac"] for d in page.json()["items"]] == macs
        csv_rows = api.get(
            "/api/v1/devices/export", params={"tenant": tenant["id"], "filter": which}
        ).text.splitlines()[1:]
        assert [row[:12] for row in csv_rows] == macs
    bad = api.get("/api/v1/devices", params={"tenant": tenant["id"], "filter": "some"})
    assert bad.status_code == 422 and "filter" in bad.json()["errors"]


def test_removed_phones_get_the_unknown_mac_404(
    api: httpx.Client, tenant: dict[str, object]
) -> None:
    macs = [unique_mac(), unique_mac()]
    text = "mac,model\n" + "".join(f"{mac},yealink-t46s\n" for mac in macs)
    assert _import(api, tenant["id"], text).status_code == 200

    def fetch(mac: str) -> httpx.Response:
        ua = f"Yealink SIP-T46S 66.86.0.15 {mac}"
        return httpx.get(f"{tenant['provisioning_url']}{mac}.cfg", headers={"User-Agent": ua})

    assert fetch(macs[0]).status_code == 200
    unknown = fetch(unique_mac())
    assert unknown.status_code == 404
    refused = api.post("/api/v1/devices/remove", json={"macs": [macs[0], "nope"]})
    assert refused.status_code == 404 and set(refused.json()["errors"]) == {"macs[1]"}
    removed = api.post("/api/v1/devices/remove", json={"macs": macs})
    assert removed.status_code == 200 and removed.json() == {"removed": 2}
    gone = fetch(macs[0])
    assert (gone.status_code, gone.content) == (unknown.status_code, unknown.content)
    assert api.get(f"/api/v1/devices/{macs[0]}").status_code == 404


def test_account_search_pages_and_refuses_a_malformed_query(
    api: httpx.Client, tenant: dict[str, object]
) -> None:
    for n in range(3):
        body = {"tenant": tenant["id"], "username": f"find{n}", "owner": f"Alice {n}"}
        assert api.post("/api/v1/accounts", json=body).status_code == 201
    query = {"tenant": tenant["id"], "q": "owner:alice*", "sort": "owner", "order": "desc"}
    first = api.get("/api/v1/accounts", params={**query, "limit": 2}).json()
    assert first["total"] == 3 and [a["username"] for a in first["items"]] == ["find2", "find1"]
    rest = api.get("/api/v1/accounts", params={**query, "cursor": first["next_cursor"]}).json()
    assert [a["username"] for a in rest["items"]] == ["find0"] and rest["next_cursor"] is None
    bad = api.get("/api/v1/accounts", params={"tenant": tenant["id"], "q": "owner:(alice"})
    assert bad.status_code == 400 and "end" in bad.json()["errors"]["q"]
    bad = api.get("/api/v1/accounts", params={"tenant": tenant["id"], "q": "nosuch:x"})
    assert bad.status_code == 400 and "position 0" in bad.json()["errors"]["q"]
    unknown = api.get("/api/v1/accounts", params={"tenant": tenant["id"], "sort": "password"})
    assert unknown.status_code == 422 and set(unknown.json()["errors"]) == {"sort"}


def test_provision_mode_public_ip_puts_the_edges_address_in_the_urls(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from control.api.app import create_app
    from control.api.auth import create_token
    from control.api.schemas import DeviceIn, TenantIn, TenantPatch
    from control.domain.errors import ServiceError
    from control.wiring import build_control

    plain = build_control(tmp_path / "a", "https://prov.example.net:8443")
    refused = plain.update_tenant
    tenant = plain.create_tenant(TenantIn(name="ip", realm="i.example", sip_server="pbx.i"))
    with pytest.raises(ServiceError) as caught:
        refused(tenant["id"], TenantPatch(provision_mode="public_ip"))
    assert set(caught.value.errors) == {"provision_mode"}  # no public IP known
    plain.close()

    ctl = build_control(tmp_path / "b", "https://prov.example.net:8443", edge_ip="203.0.113.8")
    api = TestClient(create_app(ctl))
    auth = {"Authorization": f"Bearer {create_token(ctl.db, 'operator')}"}
    made = api.post("/api/v1/tenants", headers=auth, json={"name": "ip", "realm": "i.example",
                                                            "sip_server": "pbx.i"})  # fmt: skip
    assert made.json()["provisioning_url"].startswith("https://prov.example.net:8443/p/")
    changed = api.patch(f"/api/v1/tenants/{made.json()['id']}", headers=auth,
                        json={"provision_mode": "public_ip"})  # fmt: skip
    assert changed.status_code == 200 and changed.json()["provision_mode"] == "public_ip"
    assert changed.json()["provisioning_url"].startswith("https://203.0.113.8:8443/p/")
    ctl.jobs.run_until_idle()
    mac = "001565000d01"
    ctl.create_device(DeviceIn(tenant=made.json()["id"], mac=mac, model="yealink-t46s"))
    common = ctl.preview(mac, "y000000000066.cfg", None)["body"]
    assert "static.auto_provision.server.url = https://203.0.113.8:8443/p/" in common
    ctl.close()
