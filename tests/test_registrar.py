"""The registrar against a real `provedge run` on loopback, driven by a test phone."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Provedge, unique_name
from tests.sipclient import Phone, authorization, challenge_params

PASSWORD = "correct-horse-9"


@pytest.fixture
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


def make_tenant(api: httpx.Client) -> dict[str, Any]:
    name = unique_name("reg")
    response = api.post(
        "/api/v1/tenants",
        json={
            "name": name,
            "realm": f"{name}.example.com",
            "sip_server": f"sip.{name}.example.net",
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def make_account(api: httpx.Client, tenant: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"tenant": tenant["id"], "password": PASSWORD, **fields}
    if fields.get("auth_method") == "ip":
        body.pop("password")
    response = api.post("/api/v1/accounts", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def phone_for(
    provedge: Provedge, tenant: dict[str, Any], account: dict[str, Any], **kw: Any
) -> Phone:
    return Phone(provedge.sip_port, account["username"], tenant["sip_server"], **kw)


@pytest.mark.parametrize(
    ("transport", "algorithm"), [("udp", "MD5"), ("udp", "SHA-256"), ("tcp", "MD5")]
)
def test_register_is_challenged_then_bound(
    provedge: Provedge, api: httpx.Client, transport: str, algorithm: str
) -> None:
    tenant = make_tenant(api)
    account = make_account(api, tenant, expires=600)
    phone = phone_for(provedge, tenant, account, transport=transport)
    try:
        first = phone.exchange(phone.register())
        assert first.status == 401
        challenges = first.header_values("WWW-Authenticate")
        assert [c.split("algorithm=")[1].split(",")[0] for c in challenges] == ["MD5", "SHA-256"]
        for params in (challenge_params(first, "MD5"), challenge_params(first, "SHA-256")):
            assert params["realm"] == tenant["realm"] and params["qop"] == "auth"
            assert params["opaque"] and len(params["nonce"]) >= 32
        final = phone.login(PASSWORD, expires=7200, algorithm=algorithm)
        assert final.status == 200
        contacts = final.header_values("Contact")
        assert len(contacts) == 1 and f":{phone.local_port}" in contacts[0]
        assert contacts[0].endswith(";expires=600")  # clamped to the account's maximum
    finally:
        phone.close()


def test_nonce_count_reuse_replay_and_retransmission(provedge: Provedge, api: httpx.Client) -> None:
    tenant = make_tenant(api)
    account = make_account(api, tenant)
    phone = phone_for(provedge, tenant, account)
    try:
        challenge = challenge_params(phone.exchange(phone.register()))
        uri = f"sip:{tenant['sip_server']}"

        def answer(nc: int, branch: str | None = None) -> int:
            auth = authorization(challenge, phone.user, PASSWORD, uri, nc)
            return phone.exchange(phone.register(authorization=auth, branch=branch)).status

        assert answer(1, "z9hG4bK-first") == 200
        assert answer(1, "z9hG4bK-first") == 200  # the same request again: a retransmission
        assert answer(2) == 200  # the next count on the same nonce
        assert answer(2) == 401  # that count again, a new request: a replay
        assert answer(1) == 401
        assert answer(3) == 200
    finally:
        phone.close()


def test_a_nonce_not_issued_here_gets_a_stale_challenge(
    provedge: Provedge, api: httpx.Client
) -> None:
    tenant = make_tenant(api)
    account = make_account(api, tenant)
    phone = phone_for(provedge, tenant, account)
    try:
        forged = {"realm": tenant["realm"], "nonce": "0" * 20 + "ab" * 12, "opaque": ""}
        auth = authorization(forged, phone.user, PASSWORD, f"sip:{tenant['sip_server']}", 1)
        response = phone.exchange(phone.register(authorization=auth))
        assert response.status == 401
        assert all("stale=true" in c for c in response.header_values("WWW-Authenticate"))
    finally:
        phone.close()


def test_unknown_user_and_wrong_password_look_the_same(
    provedge: Provedge, api: httpx.Client
) -> None:
    tenant = make_tenant(api)
    account = make_account(api, tenant)
    known = phone_for(provedge, tenant, account)
    unknown = Phone(provedge.sip_port, "nobody-here", tenant["sip_server"])
    try:
        answers = []
        for phone in (known, unknown):
            first = phone.exchange(phone.register())
            params = challenge_params(first)
            auth = authorization(
                params, phone.user, "wrong-password", f"sip:{tenant['sip_server']}", 1
            )
            final = phone.exchange(phone.register(authorization=auth))
            answers.append((first.status, params["realm"], final.status, final.reason,
                            sorted(challenge_params(final))))  # fmt: skip
        assert answers[0] == answers[1]
        assert answers[0][:3] == (401, tenant["realm"], 401)
    finally:
        known.close()
        unknown.close()


def test_disabled_account_gets_403_after_authenticating(
    provedge: Provedge, api: httpx.Client
) -> None:
    tenant = make_tenant(api)
    account = make_account(api, tenant, enabled=False)
    phone = phone_for(provedge, tenant, account)
    try:
        assert phone.login(PASSWORD).status == 403
        assert phone.login("wrong-password").status == 401  # the password is checked first
    finally:
        phone.close()


def test_ip_authenticated_account_only_from_its_network(
    provedge: Provedge, api: httpx.Client
) -> None:
    tenant = make_tenant(api)
    account = make_account(api, tenant, auth_method="ip", ip="127.0.0.2/32")
    inside = phone_for(provedge, tenant, account, bind="127.0.0.2")
    outside = phone_for(provedge, tenant, account, bind="127.0.0.3")
    try:
        response = inside.exchange(inside.register())
        assert response.status == 200 and "127.0.0.2" in response.header_values("Contact")[0]
        assert outside.exchange(outside.register()).status == 401
    finally:
        inside.close()
        outside.close()


def test_access_rules_decide_by_source_address(provedge: Provedge, api: httpx.Client) -> None:
    tenant = make_tenant(api)
    rules = [
        {"action": "deny", "network": "0.0.0.0/0"},
        {"action": "permit", "network": "127.0.0.5/32"},
    ]
    account = make_account(api, tenant, access_rules=rules)
    allowed = phone_for(provedge, tenant, account, bind="127.0.0.5")
    denied = phone_for(provedge, tenant, account, bind="127.0.0.6")
    try:
        assert allowed.login(PASSWORD).status == 200
        assert denied.login(PASSWORD).status == 403
    finally:
        allowed.close()
        denied.close()


def test_bindings_expiry_bounds_listing_and_removal(provedge: Provedge, api: httpx.Client) -> None:
    tenant = make_tenant(api)
    account = make_account(api, tenant, expires=900)
    phone = phone_for(provedge, tenant, account)
    try:
        too_brief = phone.login(PASSWORD, expires=30)
        assert too_brief.status == 423 and too_brief.header("Min-Expires") == "60"
        first = phone.login(PASSWORD, expires=300)
        assert first.status == 200
        second_contact = '<sip:desk@127.0.0.1:5099>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-0015651234ab>";reg-id=1'
        both = phone.login(PASSWORD, expires=120, contact=second_contact)
        contacts = both.header_values("Contact")
        assert both.status == 200 and len(contacts) == 2
        assert any(
            "urn:uuid:00000000-0000-1000-8000-0015651234ab" in c and ";reg-id=1" in c
            for c in contacts
        )
        listed = phone.login(PASSWORD, contact=None)  # no Contact: the bindings are listed
        assert listed.status == 200 and len(listed.header_values("Contact")) == 2
        gone = phone.login(PASSWORD, expires=0)  # the phone's own contact removed
        assert len(gone.header_values("Contact")) == 1
        star = phone.login(PASSWORD, expires=0, contact="*")
        assert star.status == 200 and star.header_values("Contact") == []
        assert phone.login(PASSWORD, contact=None).header_values("Contact") == []
        bad_star = phone.login(PASSWORD, expires=60, contact="*")
        assert bad_star.status == 400
    finally:
        phone.close()


def test_registrations_are_listed_by_tenant_account_and_mac(
    provedge: Provedge, api: httpx.Client
) -> None:
    tenant = make_tenant(api)
    alice, bob = make_account(api, tenant), make_account(api, tenant)
    other = make_tenant(api)
    carol = make_account(api, other)
    phones = [phone_for(provedge, tenant, alice), phone_for(provedge, tenant, bob),
              phone_for(provedge, other, carol, transport="tcp")]  # fmt: skip
    try:
        for phone in phones:
            assert phone.login(PASSWORD, expires=300).status == 200
        listed = wait_registrations(api, {"tenant": tenant["id"]}, 2)
        assert {item["account"] for item in listed} == {alice["username"], bob["username"]}
        item = next(i for i in listed if i["account"] == alice["username"])
        assert item["source"] == "127.0.0.1" and item["port"] == phones[0].local_port
        assert item["transport"] == "udp" and item["user_agent"] == "provedge-test-phone/1.0"
        assert 290 <= item["expires_in"] <= 300 and item["registered_at"] <= item["expires_at"]
        only_bob = api.get(
            "/api/v1/registrations", params={"tenant": tenant["id"], "account": bob["username"]}
        )
        assert [i["account"] for i in only_bob.json()["items"]] == [bob["username"]]
        tcp = wait_registrations(api, {"tenant": other["id"]}, 1)
        assert tcp[0]["transport"] == "tcp"
        first = api.get("/api/v1/registrations", params={"tenant": tenant["id"], "limit": 1}).json()
        second = api.get("/api/v1/registrations",
                         params={"tenant": tenant["id"], "limit": 1, "cursor": first["next_cursor"]}).json()  # fmt: skip
        assert first["next_cursor"] and second["next_cursor"] is None
        assert {first["items"][0]["account"], second["items"][0]["account"]} == {
            alice["username"],
            bob["username"],
        }
        refused = api.get("/api/v1/registrations", params={"tenant": tenant["id"], "bogus": "1"})
        assert refused.status_code in (400, 422)
        assert (
            api.get(
                "/api/v1/registrations", params={"tenant": tenant["id"], "account": "nobody"}
            ).status_code
            == 404
        )
    finally:
        for phone in phones:
            phone.close()


def test_registrations_of_a_device_follow_its_lines(provedge: Provedge, api: httpx.Client) -> None:
    tenant = make_tenant(api)
    account = make_account(api, tenant)
    extension = api.post("/api/v1/extensions", json={"tenant": tenant["id"], "number": "2001",
                                                     "accounts": [account["username"]]})  # fmt: skip
    assert extension.status_code == 201, extension.text
    mac = "00:15:65:" + format(tenant["id"] % 256, "02x") + ":aa:01"
    device = api.post(
        "/api/v1/devices", json={"tenant": tenant["id"], "mac": mac, "model": "yealink-t54w"}
    )
    assert device.status_code == 201, device.text
    lines = api.put(f"/api/v1/devices/{mac}/lines", json=[{"extension": "2001"}])
    assert lines.status_code == 200, lines.text
    phone = phone_for(provedge, tenant, account)
    try:
        assert phone.login(PASSWORD).status == 200
        listed = wait_registrations(api, {"mac": mac}, 1)
        assert listed[0]["account"] == account["username"]
    finally:
        phone.close()


def wait_registrations(
    api: httpx.Client, params: dict[str, Any], count: int
) -> list[dict[str, Any]]:
    """The writer commits within a tick: poll with a deadline until ``count`` show."""
    deadline = time.monotonic() + 10
    while True:
        response = api.get("/api/v1/registrations", params=params)
        assert response.status_code == 200, response.text
        items = list(response.json()["items"])
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.05)


def test_cli_lists_registrations(provedge: Provedge, api: httpx.Client) -> None:
    tenant = make_tenant(api)
    account = make_account(api, tenant)
    phone = phone_for(provedge, tenant, account)
    try:
        assert phone.login(PASSWORD).status == 200
        wait_registrations(api, {"tenant": tenant["id"]}, 1)
        done = subprocess.run(
            [sys.executable, "-m", "provedge.cli", "registrations", "--data", str(provedge.data),
             "--tenant", tenant["name"]],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        rows = [line.split("\t") for line in done.stdout.splitlines()]
        assert rows[0][0] == "account" and rows[1][0] == account["username"]
        assert rows[1][2] == "127.0.0.1" and rows[1][3] == str(phone.local_port)
        missing = subprocess.run(
            [sys.executable, "-m", "provedge.cli", "registrations", "--data", str(provedge.data),
             "--tenant", "no-such-tenant"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert missing.returncode == 2 and "tenant" in missing.stderr
    finally:
        phone.close()
