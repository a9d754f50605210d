"""The control plane over HTTPS: a real ``provedge run`` with a certificate made here (trustme)."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import trustme

from provedge.config import Config, ConfigError
from tests.conftest import READY_TIMEOUT, free_port, free_sip_port, run_command


def _wait_https(client: httpx.Client, url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"provedge run exited with {proc.returncode}"
        try:
            if client.get(url).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {READY_TIMEOUT}s")


def test_the_api_and_the_console_answer_over_https(tmp_path: Path) -> None:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp_path / "control.pem", tmp_path / "control.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    trusted = ssl.create_default_context()
    ca.configure_trust(trusted)
    data, port = tmp_path / "var", free_port()
    proc = subprocess.Popen(
        run_command(data, port, free_port(), free_sip_port(),
                    "--control-tls-cert", str(cert), "--control-tls-key", str(key)),
        stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    base = f"https://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, verify=trusted, timeout=10) as web:
            _wait_https(web, "/healthz", proc)
            token = (data / "operator-token").read_text().strip()
            tenants = web.get("/api/v1/tenants", headers={"Authorization": f"Bearer {token}"})
            assert tenants.status_code == 200
            assert "demo" in [t["name"] for t in tenants.json()]
            logged_in = web.post("/console/login", data={"token": token}, follow_redirects=False)
            assert logged_in.status_code == 303
            assert "Secure" in logged_in.headers["set-cookie"]
        with pytest.raises(httpx.TransportError):  # no plain HTTP on that port
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        with pytest.raises(httpx.ConnectError):  # nor HTTPS to a client that does not trust it
            httpx.get(f"{base}/healthz", timeout=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    assert proc.returncode == 0


def test_a_certificate_without_its_key_or_missing_is_refused(tmp_path: Path) -> None:
    cert = tmp_path / "control.pem"
    cert.write_text("not checked before the pair is complete")
    with pytest.raises(ConfigError, match="go together"):
        Config.resolve("control", {"data": str(tmp_path), "control_tls_cert": str(cert)}, {})
    with pytest.raises(ConfigError, match="no such file"):
        Config.resolve(
            "control",
            {"data": str(tmp_path), "control_tls_cert": str(cert),
             "control_tls_key": str(tmp_path / "absent.key")},
            {},
        )  # fmt: skip
