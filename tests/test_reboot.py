"""Remote reboot and re-sync against a real `provedge run`: the NOTIFY reaches the phone
from the socket it registered through, a 401 is answered with the line's credentials, and
only a phone that fetches its files and registers anew counts as rebooted."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from edge.sipparse import Message, build_response
from tests.conftest import Provedge, unique_mac, wait_job
from tests.sipclient import Phone, parse_challenge
from tests.test_registrar import PASSWORD, make_account, make_tenant

UA = "Yealink SIP-T46S 66.86.0.15"
JOB_WAIT_S = 60.0


@pytest.fixture
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


def device_with_line(api: httpx.Client) -> tuple[dict[str, Any], dict[str, Any], str]:
    tenant = make_tenant(api)
    account = make_account(api, tenant, expires=600)
    made = api.post(
        "/api/v1/extensions",
        json={"tenant": tenant["id"], "number": "2001", "accounts": [account["username"]]},
    )
    assert made.status_code == 201, made.text
    mac = unique_mac("001565")
    device = api.post(
        "/api/v1/devices", json={"tenant": tenant["id"], "mac": mac, "model": "yealink-t46s"}
    )
    assert device.status_code == 201, device.text
    lines = api.put(f"/api/v1/devices/{mac}/lines", json=[{"extension": "2001"}])
    assert lines.status_code == 200, lines.text
    wait_job(api, api.get(f"/api/v1/tenants/{tenant['id']}").json().get("job"))
    return tenant, account, mac


def finished(api: httpx.Client, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_WAIT_S
    while True:
        job = api.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running") or time.monotonic() > deadline:
            return dict(job)
        time.sleep(0.1)


def answer(phone: Phone, request: Message, status: int, headers: list[tuple[str, str]]) -> None:
    phone.send(build_response(request, status, headers=headers, to_tag="ph0ne"))


def test_reboot_goes_through_the_registration_answers_a_challenge_and_waits_for_the_phone(
    provedge: Provedge, api: httpx.Client
) -> None:
    tenant, account, mac = device_with_line(api)
    phone = Phone(provedge.sip_port, account["username"], tenant["sip_server"])
    try:
        assert phone.login(PASSWORD).status == 200
        started = api.post(
            f"/api/v1/devices/{mac}/reboot", json={"mode": "reboot", "confirm_s": 30}
        )
        assert started.status_code == 202, started.text
        job = started.json()
        assert job["kind"] == "reboot" and job["total"] == 1
        trail = api.get(
            "/api/v1/audit", params={"tenant": tenant["id"], "object": f"reboot/{job['id']}"}
        )
        (entry,) = trail.json()["items"]
        assert entry["action"] == "create" and entry["after"]["macs"] == [mac]

        notify = phone.receive()
        assert notify.method == "NOTIFY" and notify.header("Event") == "check-sync;reboot=true"
        assert str(notify.uri).endswith(f":{phone.local_port};transport=udp")
        realm, nonce = tenant["realm"], "c0ffee" * 6
        answer(phone, notify, 401, [("WWW-Authenticate",
               f'Digest realm="{realm}", nonce="{nonce}", qop="auth", algorithm=MD5')])  # fmt: skip
        signed = phone.receive()
        assert signed.method == "NOTIFY" and signed.cseq.number == notify.cseq.number + 1
        assert signed.call_id == notify.call_id
        params = parse_challenge(signed.header("Authorization") or "")
        md5 = lambda text: hashlib.md5(text.encode()).hexdigest()
        ha1 = md5(f"{account['username']}:{realm}:{PASSWORD}")
        expected = md5(
            f"{ha1}:{nonce}:{params['nc']}:{params['cnonce']}:auth:{md5('NOTIFY:' + params['uri'])}"
        )
        assert params["username"] == account["username"] and params["response"] == expected
        answer(phone, signed, 200, [])

        # A 200 is not a reboot: the job waits for the phone to come back.
        time.sleep(1.0)
        assert api.get(f"/api/v1/jobs/{job['id']}").json()["counts"] == {"accepted": 1}
        url = str(tenant["provisioning_url"]) + f"{mac}.cfg"
        assert httpx.get(url, headers={"User-Agent": UA}).status_code == 200
        again = Phone(provedge.sip_port, account["username"], tenant["sip_server"])
        try:
            assert again.login(PASSWORD).status == 200  # a new Call-ID: it restarted
        finally:
            again.close()
        done = finished(api, job["id"])
        assert (done["state"], done["done"], done["counts"]) == ("done", 1, {"rebooted": 1})
        results = api.get(f"/api/v1/jobs/{job['id']}/results").json()
        (item,) = results["items"]
        assert (item["mac"], item["state"], item["status"]) == (mac, "rebooted", 200)
        assert item["contact"].endswith(f":{phone.local_port};transport=udp")
    finally:
        phone.close()


def test_a_phone_not_registered_and_a_phone_that_refuses(
    provedge: Provedge, api: httpx.Client
) -> None:
    tenant, account, mac = device_with_line(api)
    _, _, silent_mac = device_with_line(api)
    phone = Phone(provedge.sip_port, account["username"], tenant["sip_server"])
    try:
        assert phone.login(PASSWORD).status == 200
        started = api.post(
            "/api/v1/reboots",
            json={"macs": [mac, silent_mac], "mode": "resync", "rate_per_s": 10, "confirm_s": 5},
        )
        assert started.status_code == 202, started.text
        notify = phone.receive()
        assert notify.header("Event") == "check-sync;reboot=false"  # resync: no reboot
        answer(phone, notify, 489, [])
        done = finished(api, started.json()["id"])
        assert done["state"] == "done" and done["done"] == 0 and done["total"] == 2
        assert done["counts"] == {"rejected": 1, "not_registered": 1}
        by_mac = {
            r["mac"]: r for r in api.get(f"/api/v1/jobs/{done['id']}/results").json()["items"]
        }
        assert (by_mac[mac]["state"], by_mac[mac]["status"]) == ("rejected", 489)
        assert by_mac[silent_mac]["state"] == "not_registered"
        assert {e["item"] for e in done["errors"]} >= {mac, silent_mac}
    finally:
        phone.close()


def test_bad_reboot_requests_name_the_field(provedge: Provedge, api: httpx.Client) -> None:
    assert api.post("/api/v1/reboots", json={"mode": "restart"}).status_code == 422
    missing = api.post("/api/v1/reboots", json={"macs": ["0015fe00ffff"], "mode": "reboot"})
    assert missing.status_code == 404 and "macs[0]" in missing.json()["errors"]
    unknown = api.post("/api/v1/reboots", json={"macs": ["zz"], "mode": "reboot"})
    assert unknown.status_code == 422 and "macs" in str(unknown.json()["errors"])
    assert api.post("/api/v1/reboots", json={"mode": "reboot"}).status_code == 422  # who?


def test_over_tcp_the_notify_comes_on_the_registered_flow(
    provedge: Provedge, api: httpx.Client
) -> None:
    tenant, account, mac = device_with_line(api)
    phone = Phone(provedge.sip_port, account["username"], tenant["sip_server"], "tcp")
    try:
        assert phone.login(PASSWORD).status == 200
        started = api.post(f"/api/v1/devices/{mac}/reboot", json={"mode": "resync", "confirm_s": 5})
        notify = phone.receive()  # on the connection the REGISTER came on
        assert notify.method == "NOTIFY" and notify.via[0].transport.upper() == "TCP"
        answer(phone, notify, 200, [])
        done = finished(api, started.json()["id"])
        assert done["counts"] == {"accepted": 1}  # it never fetched: not resynced
        (item,) = api.get(f"/api/v1/jobs/{done['id']}/results").json()["items"]
        assert item["contact"].endswith(";transport=tcp") and item["status"] == 200
    finally:
        phone.close()


def test_waves_are_paced_and_a_cancel_withdraws_the_rest(
    provedge: Provedge, api: httpx.Client
) -> None:
    phones, macs = [], []
    try:
        for _ in range(3):
            tenant, account, mac = device_with_line(api)
            phone = Phone(provedge.sip_port, account["username"], tenant["sip_server"])
            assert phone.login(PASSWORD).status == 200
            phones.append(phone)
            macs.append(mac)
        paced = api.post(
            "/api/v1/reboots",
            json={"macs": macs, "mode": "resync", "rate_per_s": 2, "wave_size": 1,
                  "confirm_s": 5},
        )  # fmt: skip
        assert paced.status_code == 202, paced.text
        for phone in phones:
            answer(phone, phone.receive(), 200, [])
        done = finished(api, paced.json()["id"])
        items = api.get(f"/api/v1/jobs/{done['id']}/results").json()["items"]
        assert [i["wave"] for i in items] == [0, 1, 2]
        sent = [datetime.fromisoformat(i["sent_at"]).timestamp() for i in items]
        # Wave w leaves w half-seconds after the first (less one edge tick, 0.1 s).
        assert all(at - sent[0] >= wave * 0.5 - 0.1 for wave, at in enumerate(sent)), sent

        # One wave a minute: the first goes, then a cancel withdraws the second.
        slow = api.post(
            "/api/v1/reboots",
            json={"macs": macs[:2], "mode": "resync", "wave_size": 1, "wave_pause_s": 60},
        )
        answer(phones[0], phones[0].receive(), 200, [])
        job_id = slow.json()["id"]
        assert api.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
        assert finished(api, job_id)["state"] == "cancelled"
        phones[1].sock.settimeout(2.0)
        with pytest.raises(TimeoutError):
            phones[1].receive()
        by_mac = {i["mac"]: i for i in api.get(f"/api/v1/jobs/{job_id}/results").json()["items"]}
        assert by_mac[macs[1]]["state"] == "queued"
    finally:
        for phone in phones:
            phone.close()
