"""Scan bans on the edge's HTTP side, against a real `provedge run` of this module's own:
a scanner guessing MACs is banned past the threshold and gets nothing with a secret in it;
500 phones behind one address booting at once are all served and never banned.

Each test sends from loopback addresses of its own (127.0.0.0/8 is all loopback).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import Provedge, start_provedge, stop_provedge, unique_mac, wait_job

MAX_FAILURES = 20
UA = "Yealink SIP-T46S 66.86.0.15"
SCAN_GUESSES = 10_000  # the scan
BOOTING_AT_ONCE = 50  # the NAT's phones in flight together
BAN_WAIT_S = 10.0  # bounded: the ban reaches every worker well within this


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provedge]:
    started = start_provedge(tmp_path_factory.mktemp("data"))
    with started.api() as api:
        policy = {"max_failures": MAX_FAILURES, "window_s": 60, "ban_s": 600}
        assert api.put("/api/v1/firewall", json=policy).status_code == 200
    yield started
    stop_provedge(started)


def fleet(server: Provedge, name: str, phones: int) -> tuple[dict[str, Any], list[str], str]:
    """A tenant with ``phones`` Yealinks on one line each of one account; its password."""
    with server.api() as api:
        tenant = api.post(
            "/api/v1/tenants",
            json={"name": name, "realm": f"{name}.example.net", "sip_server": "sip.example.net"},
        ).json()
        password = "s3cret-" + secrets.token_hex(6)
        account = {"tenant": tenant["id"], "username": f"{name}1", "password": password}
        assert api.post("/api/v1/accounts", json=account).status_code == 201
        extension = {"tenant": tenant["id"], "number": "100", "accounts": [f"{name}1"]}
        assert api.post("/api/v1/extensions", json=extension).status_code == 201
        macs = [unique_mac("001565") for _ in range(phones)]
        rows = "mac,model,name,line1\n" + "".join(f"{m},yealink-t46s,desk,100\n" for m in macs)
        done = api.post(
            "/api/v1/devices/import", params={"tenant": tenant["id"]}, content=rows.encode(),
            headers={"Content-Type": "text/csv"},
        )  # fmt: skip
        assert done.status_code == 200, done.text
        wait_job(api, done.json()["job"])
    return tenant, macs, password


def client(source: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10)


def bans(server: Provedge) -> dict[str, dict[str, Any]]:
    with server.api() as api:
        return {ban["address"]: ban for ban in api.get("/api/v1/bans").json()}


def listed_ban(server: Provedge, address: str) -> dict[str, Any]:
    """The address's ban once the shared view has it (a worker bans a fast scanner on
    its own count first; the writer's record follows within its interval)."""
    deadline = time.monotonic() + BAN_WAIT_S
    while (found := bans(server).get(address)) is None:
        assert time.monotonic() < deadline, f"{address} never listed"
        time.sleep(0.1)
    return found


def test_a_mac_scanner_is_banned_and_leaks_nothing(server: Provedge) -> None:
    tenant, macs, password = fleet(server, "scanned", 5)
    scanner, neighbour = "127.0.90.2", "127.0.90.3"
    statuses: list[int] = []
    guesses: set[str] = set()
    while len(guesses) < SCAN_GUESSES:  # random and never a real phone's: no lucky hit
        guess = "001565" + secrets.token_hex(3)
        if guess not in macs:
            guesses.add(guess)
    with client(scanner) as http:  # one keep-alive connection: after the ban, quick 403s
        for guess in guesses:
            answer = http.get(
                f"{tenant['provisioning_url']}{guess}.cfg", headers={"User-Agent": UA}
            )
            assert password.encode() not in answer.content
            statuses.append(answer.status_code)
        # Banned now: the real phones' files too, from this address.
        deadline = time.monotonic() + BAN_WAIT_S
        while (real := http.get(f"{tenant['provisioning_url']}{macs[0]}.cfg")).status_code != 403:
            assert time.monotonic() < deadline, "never banned"
            time.sleep(0.1)
        assert password not in real.text
    assert statuses[: MAX_FAILURES - 1] == [404] * (MAX_FAILURES - 1)
    first_ban = statuses.index(403)  # cut off during the scan itself, and for good
    assert set(statuses[:first_ban]) == {404} and set(statuses[first_ban:]) == {403}
    assert first_ban < SCAN_GUESSES // 10, first_ban  # the threshold, not the whole scan
    assert listed_ban(server, scanner)["reason"] == "scan"
    with client(neighbour) as http:  # another address is served as before
        served = http.get(f"{tenant['provisioning_url']}{macs[0]}.cfg", headers={"User-Agent": UA})
        assert served.status_code == 200 and password in served.text


def test_five_hundred_phones_behind_one_nat_are_never_banned(server: Provedge) -> None:
    tenant, macs, password = fleet(server, "office", 500)
    office = "127.0.91.2"
    base = tenant["provisioning_url"]
    limits = httpx.Limits(max_connections=BOOTING_AT_ONCE)
    transport = httpx.HTTPTransport(local_address=office, limits=limits)

    def boot(mac: str) -> None:
        served = http.get(f"{base}{mac}.cfg", headers={"User-Agent": f"{UA} {mac}"})
        assert served.status_code == 200 and password in served.text
        # What a booting phone also asks and the tenant has not got: never a scan.
        assert http.get(f"{base}{mac}-local.cfg").status_code in (200, 404)
        assert http.get(f"{base}y000000000099.cfg").status_code in (200, 404)

    with httpx.Client(transport=transport, timeout=30) as http:
        with ThreadPoolExecutor(BOOTING_AT_ONCE) as pool:
            list(pool.map(boot, macs))  # re-raises the first phone's failure
        time.sleep(1.0)  # longer than the firewall's refresh: a ban would show by now
        assert http.get(f"{base}{macs[0]}.cfg").status_code == 200
    assert office not in bans(server)


def test_a_wrong_tenant_key_counts_as_a_scan(server: Provedge) -> None:
    tenant, macs, _ = fleet(server, "keyed", 1)
    prober = "127.0.92.2"
    wrong = str(tenant["provisioning_url"]).rstrip("/").rsplit("/", 1)[0] + "/not-a-key/"
    with client(prober) as http:
        deadline = time.monotonic() + BAN_WAIT_S
        while http.get(f"{wrong}{macs[0]}.cfg").status_code != 403:
            assert time.monotonic() < deadline, "never banned"
    assert listed_ban(server, prober)["reason"] == "scan"
