"""sipp, a real SIP client (Debian package sip-tester, installed by `make test`), against
a real `provedge run` on loopback: the scenarios are kept in tests/sipp/."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Provedge, free_port, start_provedge, stop_provedge, unique_mac
from tests.test_reboot import device_with_line, finished
from tests.test_registrar import PASSWORD, make_account, make_tenant

SCENARIOS = Path(__file__).parent / "sipp"
SIPP = shutil.which("sipp")
pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp (sip-tester) is not installed")
NONCE_S = 2  # the stale-nonce server's lifetime: the scenario waits past it


@pytest.fixture
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


def sipp(
    port: int, scenario: str, transport: str = "u1", **keys: str
) -> subprocess.CompletedProcess[str]:
    """One call of ``scenario``; the exit status is sipp's verdict (0: every step matched)."""
    command = sipp_command(port, scenario, transport, keys)
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def sipp_command(port: int, scenario: str, transport: str, keys: dict[str, str]) -> list[str]:
    local = keys.pop("local_port", None) or str(free_port())
    command = [
        str(SIPP), f"127.0.0.1:{port}", "-sf", str(SCENARIOS / scenario), "-m", "1",
        "-i", "127.0.0.1", "-p", local, "-t", transport, "-nostdin",
        "-timeout", "30s", "-timeout_error", "-recv_timeout", "10000",
    ]  # fmt: skip
    if "pause_ms" in keys:  # what a bare <pause/> waits
        command += ["-d", keys.pop("pause_ms")]
    if "user" in keys:  # what [authentication] answers with
        command += ["-au", keys["user"], "-ap", keys.pop("password")]
    for name, value in keys.items():
        command += ["-key", name, value]
    return command


def _account(api: httpx.Client) -> tuple[dict[str, Any], dict[str, Any]]:
    tenant = make_tenant(api)
    return tenant, make_account(api, tenant)


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_sipp_registers_reregisters_and_unregisters(
    provedge: Provedge, api: httpx.Client, transport: str
) -> None:
    tenant, account = _account(api)
    done = sipp(provedge.sip_port, "register.xml", transport, user=account["username"],
                password=PASSWORD, domain=tenant["sip_server"])  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_sipp_with_a_wrong_password_fails(provedge: Provedge, api: httpx.Client) -> None:
    tenant, account = _account(api)
    done = sipp(provedge.sip_port, "register.xml", user=account["username"],
                password="not-the-password", domain=tenant["sip_server"])  # fmt: skip
    assert done.returncode != 0  # the second REGISTER gets 401 again, not the 200 expected


def test_sipp_plug_and_play_gets_its_notify(provedge: Provedge, api: httpx.Client) -> None:
    tenant = make_tenant(api)
    mac = unique_mac("0004f2")
    created = api.post("/api/v1/devices", json={"tenant": tenant["id"], "mac": mac,
                                                "model": "polycom-vvx410"})  # fmt: skip
    assert created.status_code == 201, created.text
    done = sipp(
        provedge.sip_port, "pnp.xml", mac=mac, url_part=tenant["provisioning_url"].split("//")[1]
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_sipp_stale_nonce_is_challenged_again(tmp_path: Path) -> None:
    server = start_provedge(tmp_path / "data", "--digest-nonce-s", str(NONCE_S))
    try:
        with server.api() as api:
            tenant, account = _account(api)
        done = sipp(server.sip_port, "stale.xml", user=account["username"], password=PASSWORD,
                    domain=tenant["sip_server"], pause_ms=str(NONCE_S * 1000 + 500))  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    finally:
        stop_provedge(server)


def test_sipp_phone_challenges_the_reboot_notify_and_the_edge_answers(
    provedge: Provedge, api: httpx.Client
) -> None:
    tenant, account, mac = device_with_line(api)
    port = str(free_port())
    line = {"user": account["username"], "password": PASSWORD}
    done = sipp(provedge.sip_port, "register_once.xml", local_port=port,
                domain=tenant["sip_server"], **line)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    # The same port, now as the phone waiting for its NOTIFY (sipp in server mode).
    uas = subprocess.Popen(
        sipp_command(
            provedge.sip_port,
            "reboot_uas.xml",
            "u1",
            {"local_port": port, "realm": tenant["realm"], "secret": PASSWORD, **line},
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)  # sipp binds its port
        started = api.post(f"/api/v1/devices/{mac}/reboot", json={"mode": "reboot", "confirm_s": 5})
        assert started.status_code == 202, started.text
        out, err = uas.communicate(timeout=60)
        assert uas.returncode == 0, out[-3000:] + err[-2000:]
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait()
    job = finished(api, started.json()["id"])
    (item,) = api.get(f"/api/v1/jobs/{job['id']}/results").json()["items"]
    # sipp said 200 only because the edge's digest answer checked out; the phone never
    # fetched its files again, so it did not reboot, and the job says so.
    assert (item["status"], item["state"]) == (200, "accepted")
    assert job["done"] == 0 and job["counts"] == {"accepted": 1}
