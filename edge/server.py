"""Runs the edge under uvicorn (uvloop + httptools), N worker processes on one port.

uvicorn was measured against the alternatives in DESIGN.md's budget; its multi-worker
mode binds the socket once and hands it to every worker, so N processes share one port.
"""

from __future__ import annotations

import os

import uvicorn

from edge import store
from edge.app import EdgeApp

DATA_ENV = "PROVEDGE_DATA"
SIP_ENV = "PROVEDGE_SIP"  # host:port of the SIP listeners; empty = no SIP


def app_factory() -> EdgeApp:
    """Called in each worker process: each opens its own LMDB environment handle."""
    host, _, port = os.environ.get(SIP_ENV, "").rpartition(":")
    sip = (host, int(port)) if port else None
    return EdgeApp(store.open_env(os.environ[DATA_ENV]), sip)


def serve(
    data_dir: str, host: str, port: int, workers: int = 1, sip_port: int | None = None
) -> None:
    # Worker processes are spawned afresh, so the settings travel in the environment.
    os.environ[DATA_ENV] = os.path.abspath(data_dir)
    os.environ[SIP_ENV] = f"{host}:{sip_port}" if sip_port else ""
    store.open_env(data_dir).close()  # create the environment before workers race to
    uvicorn.run(
        "edge.server:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
    )
