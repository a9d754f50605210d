"""A job survives a control plane killed in the middle of it: the next start resumes it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from control.wiring import build_control
from provedge.cli import prepare_data
from tests.conftest import READY_TIMEOUT, free_port, wait_ready

PHONES = 6000  # enough that the recompile is still running when we kill the process


def _seed(data: Path, edge_url: str) -> int:
    """The demo plus PHONES phones written straight into SQLite, none published yet."""
    prepare_data(str(data), edge_url)
    ctl = build_control(data, edge_url)
    with ctl.db.transaction() as conn:
        conn.executemany(
            "INSERT INTO devices (mac, tenant_id, model, admin_password) VALUES (?, 1, ?, ?)",
            [(f"0015651{n:05x}", "yealink-t46s", "pw-" + str(n)) for n in range(PHONES)],
        )
        conn.execute("DELETE FROM settings WHERE name = 'templates'")  # as after an upgrade
    ctl.close()
    return PHONES


def _control(data: Path, port: int, edge_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "provedge.cli", "control", "--data", str(data),
         "--port", str(port), "--edge-url", edge_url],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def _job(client: httpx.Client) -> dict[str, object]:
    jobs = client.get("/api/v1/jobs").json()
    assert len(jobs) == 1, jobs
    return jobs[0]  # type: ignore[no-any-return]


def test_a_recompile_killed_midway_resumes_after_restart(tmp_path: Path) -> None:
    port = free_port()
    edge_url = f"http://127.0.0.1:{free_port()}"
    total = _seed(tmp_path, edge_url)
    token = (tmp_path / "operator-token").read_text().strip()
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})

    first = _control(tmp_path, port, edge_url)
    try:
        wait_ready(f"{base}/healthz", first, time.monotonic() + READY_TIMEOUT)
        deadline = time.monotonic() + 60
        while (job := _job(client))["done"] == 0:  # type: ignore[comparison-overlap]
            assert time.monotonic() < deadline and job["state"] in ("queued", "running"), job
            time.sleep(0.005)
        first.send_signal(signal.SIGKILL)  # no clean stop: the job is left "running"
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert job["state"] == "running" and 0 < job["done"] < total, job  # type: ignore[operator]

    second = _control(tmp_path, port, edge_url)
    try:
        wait_ready(f"{base}/healthz", second, time.monotonic() + READY_TIMEOUT)
        deadline = time.monotonic() + 120
        while (job := _job(client))["state"] != "done":
            assert time.monotonic() < deadline and job["state"] == "running", job
            time.sleep(0.05)
        assert job["done"] == job["total"] >= total
        pending = client.get("/api/v1/devices", params={"limit": 1000, "q": "00:15:65:1"})
        assert all(device["published"] for device in pending.json()["items"])
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(15)
        client.close()
