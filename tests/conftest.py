"""Shared fixtures: real provedge processes on loopback ports, polled until ready."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

READY_TIMEOUT = 30.0
_SERIAL = itertools.count(1)


def unique_name(prefix: str) -> str:
    """A name no other test of this run uses (tests build their own tenants)."""
    return f"{prefix}-{os.getpid()}-{next(_SERIAL)}"


def unique_mac(oui: str = "0015fa") -> str:
    """A MAC no other test of this run uses, with hex letters in it (``0015fa`` + 6 digits)."""
    return f"{oui}{os.getpid() % 0xFF:02x}{next(_SERIAL):04x}"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_sip_port() -> int:
    """A port free for UDP and for TCP: the edge binds SIP on both, and a port that is free
    for one only makes the edge's workers fail at start (and, under `provedge run`, be
    restarted again and again until the test's deadline)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def wait_ready(url: str, proc: subprocess.Popen[bytes], deadline: float) -> None:
    """Poll a readiness endpoint until it answers 200; no sleeping on faith."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}: {proc.args}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {READY_TIMEOUT}s")


@dataclass
class Provedge:
    data: Path
    control: str
    edge: str
    sip_port: int
    proc: subprocess.Popen[bytes]

    @property
    def token(self) -> str:
        return (self.data / "operator-token").read_text().strip()

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.control, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )


def run_command(
    data: Path, control_port: int, edge_port: int, sip_port: int, *extra: str
) -> list[str]:
    """The `provedge run` command line the tests start servers with."""
    return [
        sys.executable, "-m", "provedge.cli", "run", "--data", str(data),
        "--control-port", str(control_port), "--edge-port", str(edge_port),
        "--sip-port", str(sip_port), *extra,
    ]  # fmt: skip


def start_provedge(data: Path, *extra: str, prefix: tuple[str, ...] = ()) -> Provedge:
    """``prefix``: a command the server runs under (``taskset -c 0`` pins it to a core)."""
    control_port, edge_port, sip_port = free_port(), free_port(), free_sip_port()
    # The edge logs to stdout, which goes beside the data directory, so that a server that
    # never gets ready can say why in the test's failure; stderr stays pytest's to capture.
    log_path = data.with_name(f"{data.name}-server.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*prefix, *run_command(data, control_port, edge_port, sip_port, *extra)],
            stdout=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    server = Provedge(
        data, f"http://127.0.0.1:{control_port}", f"http://127.0.0.1:{edge_port}", sip_port, proc
    )
    deadline = time.monotonic() + READY_TIMEOUT
    try:
        wait_ready(f"{server.control}/healthz", proc, deadline)
        wait_ready(f"{server.edge}/healthz", proc, deadline)
    except (TimeoutError, RuntimeError) as exc:
        stop_provedge(server)
        output = log_path.read_text(errors="replace")[-4000:]
        raise type(exc)(f"{exc}\n--- server output ---\n{output}") from exc
    return server


def stop_provedge(server: Provedge) -> None:
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="module")
def provedge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provedge]:
    server = start_provedge(tmp_path_factory.mktemp("data"))
    yield server
    stop_provedge(server)


def wait_job(
    api: httpx.Client, job: dict[str, object] | None, timeout: float = READY_TIMEOUT
) -> None:
    """Poll a job the API started (``job`` of an answer) until it is done, with a deadline."""
    if job is None:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = api.get(f"/api/v1/jobs/{job['id']}").json()["state"]
        if state == "done":
            return
        assert state in ("queued", "running"), f"job {job['id']} ended {state}"
        time.sleep(0.05)
    raise TimeoutError(f"job {job['id']} not done after {timeout}s")


@pytest.fixture(params=["_fastrender", "_fastrender_py"], ids=["cython", "python"])
def engine_compiler(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Compiler (control/publish/compiler.py) of each Default engine, the compiled one
    and its twin; imported here, not at the top: most tests need no control plane."""
    import importlib

    from control.publish import compiler

    engine = importlib.import_module(f"edge.{request.param}")
    monkeypatch.setattr(compiler.fastrender, "compile_template", engine.compile_template)
    return compiler.Compiler()
