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


def app_factory() -> EdgeApp:
    """Called in each worker process: each opens its own LMDB environment handle."""
    return EdgeApp(store.open_env(os.environ[DATA_ENV]))


def serve(data_dir: str, host: str, port: int, workers: int = 1) -> None:
    os.environ[DATA_ENV] = os.path.abspath(data_dir)
    store.open_env(data_dir).close()  # create the environment before workers race to
    uvicorn.run(
        "edge.server:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
    )
