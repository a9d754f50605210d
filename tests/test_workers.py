"""`--workers N` runs N edge processes answering on one port."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import start_provedge, stop_provedge

MAX_TRIES = 400  # bounded: new connections until both workers have answered


def test_two_workers_share_one_port(tmp_path: Path) -> None:
    server = start_provedge(tmp_path, "--workers", "2")
    try:
        pids: set[int] = set()
        for _ in range(MAX_TRIES):
            # A new connection each time, so the kernel hands it to whichever worker accepts.
            pids.add(
                httpx.get(server.edge + "/healthz", headers={"Connection": "close"}).json()["pid"]
            )
            if len(pids) == 2:
                break
        assert len(pids) == 2
        demo = httpx.get(
            server.control + "/api/v1/devices",
            params={"tenant": "demo"},
            headers={"Authorization": f"Bearer {server.token}"},
        ).json()["items"]
        url = demo[0]["provisioning_url"] + demo[0]["files"][0]
        assert {httpx.get(url, headers={"Connection": "close"}).status_code for _ in range(20)} == {
            200
        }
    finally:
        stop_provedge(server)
