"""Plug-and-play against a real `provedge run`: a ua-profile SUBSCRIBE over UDP gets 200
and then a NOTIFY carrying the phone's provisioning URL; an unknown MAC gets the 404 any
miss gets, and nothing else."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from edge.sipparse import parse
from tests.conftest import Provedge, unique_mac, unique_name

TIMEOUT = 5.0


@pytest.fixture(scope="module")
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


def subscribe(mac: str, port: int) -> bytes:
    return (
        f"SUBSCRIBE sip:MAC%3a{mac}@224.0.1.75 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-pnp{mac};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:MAC%3a{mac}@224.0.1.75>;tag=pnp1\r\n"
        f"To: <sip:MAC%3a{mac}@224.0.1.75>\r\n"
        f"Call-ID: pnp-{mac}\r\n"
        "CSeq: 1 SUBSCRIBE\r\n"
        f"Contact: <sip:127.0.0.1:{port}>\r\n"
        'Event: ua-profile;profile-type="device";vendor="Yealink";model="T46S"\r\n'
        "Expires: 0\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def exchange(provedge: Provedge, mac: str, expect: int) -> list[bytes]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(TIMEOUT)
        sock.sendto(subscribe(mac, sock.getsockname()[1]), ("127.0.0.1", provedge.sip_port))
        got = [sock.recv(65535) for _ in range(expect)]
        sock.settimeout(0.5)
        try:
            got.append(sock.recv(65535))
        except TimeoutError:
            pass
        return got


def test_a_known_mac_gets_200_then_a_notify_with_its_provisioning_url(
    api: httpx.Client, provedge: Provedge
) -> None:
    tenant = api.post(
        "/api/v1/tenants",
        json={"name": unique_name("pnp"), "realm": "p.example.com", "sip_server": "pbx.p.example.com"},
    ).json()  # fmt: skip
    mac = unique_mac("001565")
    made = api.post(
        "/api/v1/devices", json={"tenant": tenant["id"], "mac": mac, "model": "yealink-t46s"}
    )
    assert made.status_code == 201, made.text
    answer, notify = (parse(data) for data in exchange(provedge, mac, expect=2))
    assert not answer.is_request and answer.status == 200
    assert notify.is_request and notify.method == "NOTIFY"
    assert (notify.header("Content-Type") or "").startswith("application/url")
    assert tenant["provisioning_url"] in notify.body.decode()
    assert notify.call_id == f"pnp-{mac}"


def test_an_unknown_mac_gets_404_and_no_notify(provedge: Provedge) -> None:
    got = exchange(provedge, unique_mac("001565"), expect=1)
    assert len(got) == 1
    assert parse(got[0]).status == 404
