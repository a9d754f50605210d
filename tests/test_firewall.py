"""The firewall against a real `provedge run`: bans by hand and by failures, honoured by SIP
(silence) and HTTP (403), lifted through the API; successes never ban.

Each test sends from a loopback address of its own (127.0.0.0/8 is all loopback), so bans
of one test never touch another's traffic.
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Provedge
from tests.test_sip_endpoint import options

_hosts = itertools.count(20)
SETTLE_S = 10.0  # bounded wait for a ban to reach every worker (the edge polls ~0.2 s)


def source() -> str:
    return f"127.0.{next(_hosts)}.{next(_hosts) % 250 + 2}"


@pytest.fixture(scope="module")
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


def sip_answer(port: int, host: str, datagram: bytes, timeout: float = 1.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        sock.settimeout(timeout)
        sock.sendto(datagram, ("127.0.0.1", port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def edge_status(provedge: Provedge, host: str) -> int:
    transport = httpx.HTTPTransport(local_address=host)
    with httpx.Client(transport=transport, timeout=5) as client:
        return client.get(provedge.edge + "/p/unknown/001565000001.cfg").status_code


def until(check: object, deadline_s: float = SETTLE_S) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_a_ban_by_hand_silences_sip_and_refuses_http_until_lifted(
    api: httpx.Client, provedge: Provedge
) -> None:
    host = source()
    assert sip_answer(provedge.sip_port, host, options("fw-before")) is not None
    made = api.post("/api/v1/bans", json={"address": host, "duration_s": 600})
    assert made.status_code == 201, made.text
    assert made.json()["reason"] == "manual"
    assert until(lambda: edge_status(provedge, host) == 403)
    assert sip_answer(provedge.sip_port, host, options("fw-banned")) is None
    assert host in [ban["address"] for ban in api.get("/api/v1/bans").json()]
    other = source()  # another address is not affected
    assert edge_status(provedge, other) == 404
    assert sip_answer(provedge.sip_port, other, options("fw-other")) is not None
    assert api.delete(f"/api/v1/bans/{host}").status_code == 204
    assert until(lambda: edge_status(provedge, host) == 404)
    assert sip_answer(provedge.sip_port, host, options("fw-lifted")) is not None


def test_failures_past_the_threshold_ban_and_successes_never_do(
    api: httpx.Client, provedge: Provedge
) -> None:
    settings = api.put("/api/v1/firewall", json={"max_failures": 5, "window_s": 60, "ban_s": 600})
    assert settings.status_code == 200, settings.text
    assert settings.json()["max_failures"] == 5
    busy = source()  # a NAT of phones that only ever succeed
    for n in range(50):
        assert sip_answer(provedge.sip_port, busy, options(f"fw-ok-{n}")) is not None
    abuser = source()
    malformed = b"REGISTER sip:x SIP/2.0\r\nthis is not a header line\r\n\r\n"
    for _ in range(6):
        sip_answer(provedge.sip_port, abuser, malformed, timeout=0.2)
    banned = lambda: abuser in [b["address"] for b in api.get("/api/v1/bans").json()]
    assert until(banned)
    ban = next(b for b in api.get("/api/v1/bans").json() if b["address"] == abuser)
    assert ban["reason"] == "malformed" and ban["failures"] >= 5
    assert until(lambda: sip_answer(provedge.sip_port, abuser, options("fw-x"), 0.3) is None)
    assert busy not in [b["address"] for b in api.get("/api/v1/bans").json()]
    assert sip_answer(provedge.sip_port, busy, options("fw-still-ok")) is not None
    assert api.delete(f"/api/v1/bans/{abuser}").status_code == 204


def test_bad_ban_and_firewall_bodies_are_refused(api: httpx.Client) -> None:
    answer = api.post("/api/v1/bans", json={"address": "not-an-address"})
    assert answer.status_code == 422 and "address" in answer.json()["errors"]
    answer = api.put("/api/v1/firewall", json={"trusted": ["10.0.0.0/255.0.255.0"]})
    assert answer.status_code == 422
    assert api.delete("/api/v1/bans/192.0.2.77").status_code == 404
