"""`provedge control` and `provedge edge` run alone; the edge keeps serving with control down."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from provedge.cli import prepare_data
from tests.conftest import READY_TIMEOUT, free_port, wait_ready


def _start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "provedge.cli", *args], stdout=subprocess.DEVNULL
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)


def test_edge_serves_while_control_is_down(tmp_path: Path) -> None:
    control_port, edge_port = free_port(), free_port()
    edge_url = f"http://127.0.0.1:{edge_port}"
    token_file = prepare_data(str(tmp_path), edge_url)
    assert token_file is not None
    headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
    control = _start(
        "control", "--data", str(tmp_path), "--port", str(control_port), "--edge-url", edge_url
    )
    edge = _start("edge", "--data", str(tmp_path), "--port", str(edge_port), "--sip-port", "0")
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        wait_ready(f"http://127.0.0.1:{control_port}/healthz", control, deadline)
        wait_ready(f"{edge_url}/healthz", edge, deadline)
        devices = httpx.get(
            f"http://127.0.0.1:{control_port}/api/v1/devices", headers=headers
        ).json()["items"]
        urls = [d["provisioning_url"] + name for d in devices for name in d["files"]]
        assert urls and all(url.startswith(edge_url) for url in urls)
        before = [httpx.get(url).content for url in urls]
        _stop(control)
        after = [httpx.get(url) for url in urls]
        assert [r.status_code for r in after] == [200] * len(urls)
        assert [r.content for r in after] == before
    finally:
        for proc in (control, edge):
            if proc.poll() is None:
                _stop(proc)
