"""`provedge run` on an empty data directory: demo data, banner, and the banner's curl line works."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import httpx

from provedge.cli import prepare_data
from tests.conftest import READY_TIMEOUT, free_port, run_command


def _read_banner(proc: subprocess.Popen[str]) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("demo config"):
            return lines
    raise AssertionError(f"no demo config line; got {lines}")


def test_run_on_empty_data_prints_a_working_curl_line(tmp_path: Path) -> None:
    data = tmp_path / "var"
    control, edge = free_port(), free_port()
    proc = subprocess.Popen(
        run_command(data, control, edge, free_port()),
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        banner = _read_banner(proc)
        token_file = data / "operator-token"
        assert any(str(token_file) in line for line in banner)
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        assert any(f"http://127.0.0.1:{control}/api/v1/" in line for line in banner)
        command = shlex.split(banner[-1].split(":", 1)[1])
        assert command[0] == "curl" and command[1] == "-A"
        response = httpx.get(command[3], headers={"User-Agent": command[2]})
        assert response.status_code == 200
        assert response.text.startswith("#!version:1.0.0.1\n")
        assert re.search(r"^account\.1\.password = \S{16,}$", response.text, re.MULTILINE)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0


def test_second_run_keeps_data_and_token(tmp_path: Path) -> None:
    first = prepare_data(str(tmp_path), "http://127.0.0.1:1")
    assert first is not None
    token = first.read_text()
    assert prepare_data(str(tmp_path), "http://127.0.0.1:1") is None  # not empty: no second demo
    assert first.read_text() == token
