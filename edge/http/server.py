"""Runs the edge under granian (ASGI, uvloop), N worker processes on one port.

The server was chosen by measurement (docs/performance.md): with the same edge app,
granian answers about 1.7x uvicorn's keep-alive requests/s and 2.4x its new-connection
requests/s on this project's machine. Each worker is a process with its own event loop,
LMDB handle and SIP listeners; granian binds the HTTP socket once and shares it. The main
process also runs the host's one edge-state writer (edge/state/writer.py) beside them.
"""

from __future__ import annotations

import os

from granian import Granian
from granian.constants import Interfaces, Loops, RuntimeModes
from granian.log import LogLevels

from provedge.formats import edgestate, store
from edge.http.app import EdgeApp
from edge.state.recorder import Recorder
from edge.state.writer import WriterProcess

DATA_ENV = "PROVEDGE_DATA"
SIP_ENV = "PROVEDGE_SIP"  # host:port of the SIP listeners; empty = no SIP


def app_factory() -> EdgeApp:
    """Called in each worker process: each opens its own LMDB environment handle."""
    host, _, port = os.environ.get(SIP_ENV, "").rpartition(":")
    sip = (host, int(port)) if port else None
    data_dir = os.environ[DATA_ENV]
    recorder = Recorder(edgestate.socket_path(data_dir))
    return EdgeApp(store.open_env(data_dir), sip, recorder)


def serve(
    data_dir: str, host: str, port: int, workers: int = 1, sip_port: int | None = None
) -> None:
    # Worker processes are spawned afresh, so the settings travel in the environment.
    os.environ[DATA_ENV] = os.path.abspath(data_dir)
    os.environ[SIP_ENV] = f"{host}:{sip_port}" if sip_port else ""
    store.open_env(data_dir).close()  # create the environment before workers race to
    writer = WriterProcess(data_dir).start()  # before the workers, stopped after them
    try:
        _serve(host, port, workers)
    finally:
        writer.stop()


def _serve(host: str, port: int, workers: int) -> None:
    Granian(
        "edge.http.server:app_factory",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        # One Rust I/O thread per worker: the edge scales by processes, one per core.
        runtime_mode=RuntimeModes.st,
        runtime_threads=1,
        log_level=LogLevels.warning,
        log_access=False,
    ).serve()
