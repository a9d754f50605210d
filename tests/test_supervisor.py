"""`provedge run` keeps the edge up when the control plane dies, and brings the control back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import READY_TIMEOUT, free_port, run_command, wait_ready


def children(pid: int) -> dict[int, str]:
    """pid -> command line of the direct children of ``pid``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
        except (OSError, ValueError):
            continue
    return found


def child_running(pid: int, command: str) -> int:
    return next(p for p, line in children(pid).items() if f"provedge.cli {command} " in line)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_edge_outlives_a_killed_control_plane(tmp_path: Path) -> None:
    data, control_port, edge_port = tmp_path / "data", free_port(), free_port()
    control, edge = f"http://127.0.0.1:{control_port}", f"http://127.0.0.1:{edge_port}"
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "wb") as err:
        run = subprocess.Popen(
            run_command(data, control_port, edge_port, 0), stdout=subprocess.DEVNULL, stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        wait_ready(f"{control}/healthz", run, deadline)
        wait_ready(f"{edge}/healthz", run, deadline)
        token = (data / "operator-token").read_text().strip()
        device = httpx.get(
            f"{control}/api/v1/devices", headers={"Authorization": f"Bearer {token}"}
        ).json()["items"][0]
        config_url = device["provisioning_url"] + device["files"][0]
        body = httpx.get(config_url).content
        first_control, edge_pid = child_running(run.pid, "control"), child_running(run.pid, "edge")

        os.kill(first_control, signal.SIGKILL)
        fetched_while_down = 0
        deadline = time.monotonic() + READY_TIMEOUT
        while not answers(f"{control}/healthz"):  # until the control plane is back
            assert time.monotonic() < deadline, "control plane not restarted"
            response = httpx.get(config_url)
            assert (response.status_code, response.content) == (200, body)
            fetched_while_down += 1
        assert fetched_while_down > 0
        assert child_running(run.pid, "control") != first_control
        assert child_running(run.pid, "edge") == edge_pid and run.poll() is None
        assert "control plane was killed by signal 9" in stderr.read_text()

        pids = list(children(run.pid))
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=15) == 0
        assert not [pid for pid in pids if alive(pid)]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()


def test_edge_that_cannot_start_ends_run_with_1(tmp_path: Path) -> None:
    """Five quick edge exits in a row: `provedge run` gives up, says so, stops all, exits 1."""
    control_port, edge_port = free_port(), free_port()
    stderr = tmp_path / "stderr.txt"
    with socket.socket() as taken, open(stderr, "wb") as err:
        taken.bind(("127.0.0.1", edge_port))  # no SO_REUSEPORT: every edge start fails
        taken.listen()
        run = subprocess.Popen(
            run_command(tmp_path / "data", control_port, edge_port, 0), stdout=subprocess.DEVNULL,
            stderr=err,
        )  # fmt: skip
        try:
            assert run.wait(timeout=90) == 1
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    text = stderr.read_text()
    assert text.count("restarting it in") == 4 and "5 times within 30 s" in text
    assert "giving up" in text and not answers(f"http://127.0.0.1:{control_port}/healthz")
