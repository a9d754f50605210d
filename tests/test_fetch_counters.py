"""End to end: phones' fetches show in the device view, across workers and writer deaths.

Real `provedge run` processes: the edge's workers note fetches, the one writer process
commits them into the edge state, the control plane reads them for GET /api/v1/devices.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from control.storage.edgestate import EdgeStateReader
from tests.conftest import Provedge, start_provedge, stop_provedge
from tests.test_edgestate_writer import poll, writer_pid

UA = "Yealink SIP-T46S 66.86.0.15 00:15:65:ab:cd:ef"
MAC = "001565abcdef"
MAX_TRIES = 400  # bounded: new connections until both workers have answered


def phone(server: Provedge, name: str) -> str:
    """A tenant and one Yealink of its own; returns the phone's per-MAC file URL."""
    with server.api() as api:
        tenant = api.post(
            "/api/v1/tenants",
            json={"name": name, "realm": f"{name}.example.net", "sip_server": "sip.example.net"},
        )
        assert tenant.status_code == 201, tenant.text
        device = api.post(
            "/api/v1/devices",
            json={"tenant": name, "mac": "00:15:65:AB:CD:EF", "model": "yealink-t46s"},
        )
        assert device.status_code == 201, device.text
        assert device.json()["provision_count"] == 0
        assert device.json()["last_fetch_at"] is None
    return str(tenant.json()["provisioning_url"]) + f"{MAC}.cfg"


def fetch(url: str, **headers: str) -> httpx.Response:
    # A new connection each time, so the kernel hands it to whichever worker accepts.
    response = httpx.get(url, headers={"User-Agent": UA, "Connection": "close", **headers})
    assert response.status_code in (200, 304), response.status_code
    return response


def device_when(server: Provedge, count: int) -> dict[str, Any]:
    with server.api() as api:
        return poll(
            lambda: api.get(f"/api/v1/devices/{MAC}").json(),
            lambda view: view["provision_count"] >= count,
            f"provision_count {count}",
        )


def worker_stats(server: Provedge) -> dict[int, dict[str, int]]:
    """Each worker's recorder counters, by pid, once both workers have answered."""
    stats: dict[int, dict[str, int]] = {}
    for _ in range(MAX_TRIES):
        health = httpx.get(server.edge + "/healthz", headers={"Connection": "close"}).json()
        stats[health["pid"]] = health["edge_state"]
        if len(stats) == 2:
            break
    assert len(stats) == 2
    return stats


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[Provedge]:
    server = start_provedge(tmp_path)
    yield server
    stop_provedge(server)


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Provedge]:
    server = start_provedge(tmp_path, "--workers", "2")
    yield server
    stop_provedge(server)


def test_fetches_show_in_the_device_view(one_worker: Provedge) -> None:
    url = phone(one_worker, "counted")
    etag = ""
    for _ in range(5):
        etag = fetch(url).headers["etag"]
    fetch(url, **{"If-None-Match": etag})  # a phone checking for a change counts too
    base = url.rsplit("/", 1)[0]
    # none of these are fetches of a per-MAC file: a HEAD, a common file, a miss
    assert httpx.head(url).status_code == 200
    assert httpx.get(base + "/y000000000066.cfg").status_code == 200
    assert httpx.get(base + "/001565abcde0.cfg").status_code == 404
    view = device_when(one_worker, 6)
    assert view["provision_count"] == 6
    assert view["last_fetch_ip"] == "127.0.0.1"
    assert view["last_user_agent"] == UA
    assert view["last_fetch_at"].endswith("Z")
    with one_worker.api() as api:
        listed = api.get("/api/v1/devices", params={"tenant": "counted"}).json()["items"]
    assert [(d["mac"], d["provision_count"]) for d in listed] == [(MAC, 6)]


def test_counts_add_up_exactly_across_two_workers(two_workers: Provedge) -> None:
    url = phone(two_workers, "spread")
    fetches = 40
    for _ in range(fetches):
        fetch(url)
    assert device_when(two_workers, fetches)["provision_count"] == fetches
    stats = worker_stats(two_workers)
    assert all(s["noted"] > 0 for s in stats.values()), stats  # both workers took fetches
    assert sum(s["noted"] for s in stats.values()) == fetches
    assert all(s["dropped"] == 0 for s in stats.values())


def test_killing_the_writer_does_not_stop_config_delivery(two_workers: Provedge) -> None:
    url = phone(two_workers, "killed")
    body = fetch(url).content
    device_when(two_workers, 1)
    old = writer_pid(two_workers.data)
    assert old is not None
    os.kill(old, signal.SIGKILL)
    assert all(fetch(url).content == body for _ in range(10))  # served while it is away
    poll(lambda: writer_pid(two_workers.data), lambda pid: pid not in (None, old), "new writer")
    for _ in range(5):
        fetch(url)
    # What the dying writer had queued may be lost; everything after it is counted.
    view = device_when(two_workers, 1 + 5)
    assert 6 <= view["provision_count"] <= 16


def test_fetches_just_before_a_stop_are_kept(tmp_path: Path) -> None:
    server = start_provedge(tmp_path, "--workers", "2")
    try:
        url = phone(server, "stopped")
        for _ in range(10):
            fetch(url)
    finally:
        stop_provedge(server)  # workers send their last batch, then the writer commits it
    assert server.proc.returncode == 0
    assert EdgeStateReader(tmp_path).fetch(MAC).count == 10
    assert writer_pid(tmp_path) is None  # the writer is gone too, not orphaned
