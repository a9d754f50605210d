"""Runs the edge: N worker processes (edge/http/worker.py) on one port, and the writer.

The server is the edge's own (edge/http/protocol.py on uvloop), chosen by measurement
against granian and nginx (docs/performance.md). Each worker is a process with its own
event loop, LMDB handle and SIP listeners; each binds the HTTP port with SO_REUSEPORT.
The main process runs the host's one edge-state writer (edge/state/writer.py) beside
them, started before the workers and stopped after them.

The one Config reaches the workers as one value: ``serve`` puts ``Config.to_env()``
(``PROVEDGE_CONFIG``) into the environment the workers start with (docs/configuration.md).

A worker that dies after running ``SETTLED_S`` is started again; one that dies sooner
(the port taken, a broken data directory) stops the edge with exit code 1, so that
``provedge run``'s supervisor (provedge/supervisor.py) decides. SIGTERM or SIGINT stops
the workers (each closes its connections and sends its last counts), then the writer.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from edge.http import metrics, worker
from edge.http.limits import HttpLimits
from edge.state.writer import WriterProcess
from provedge.config import Config
from provedge.formats import store

log = logging.getLogger("provedge.http")
SETTLED_S = 5.0  # a worker that ran this long and died is restarted
STOP_WAIT_S = 10.0  # bound on a worker's clean shutdown before it is killed
_SPAWN = multiprocessing.get_context("spawn")  # the main process has threads (the writer's)


def serve(config: Config) -> int:
    os.environ.update(config.to_env())  # for the workers
    store.open_env(config.data).close()  # create the environment before workers race to
    metrics.reset(config.data)  # the workers' counts start at zero with the edge
    # Raises the descriptor limit before the workers start: they inherit it.
    HttpLimits(
        config.http_header_timeout_s, config.http_max_connections, config.http_backlog
    ).fitted()
    writer = WriterProcess(config.data).start()  # before the workers, stopped after them
    try:
        return Workers(config.workers).run()
    finally:
        writer.stop()


class Workers:
    def __init__(self, count: int) -> None:
        self.count = count
        self.procs: dict[BaseProcess, float] = {}  # each worker and its start time
        self.stopping = False

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for _ in range(self.count):
                self._start()
            return self._watch()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start(self) -> None:
        proc = _SPAWN.Process(target=worker.main, name="provedge-edge-worker")
        proc.start()
        self.procs[proc] = time.monotonic()

    def _watch(self) -> int:
        while not self.stopping:
            sentinels = [proc.sentinel for proc in self.procs]
            multiprocessing.connection.wait(sentinels, timeout=0.5)
            for proc, started in list(self.procs.items()):
                if proc.is_alive() or self.stopping:
                    continue
                del self.procs[proc]
                ran = time.monotonic() - started
                print(
                    f"edge: worker {proc.pid} exited with {proc.exitcode} after {ran:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
                if ran < SETTLED_S:
                    return 1
                self._start()
        return 0

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        for proc in self.procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        for proc in self.procs:
            proc.join(max(deadline - time.monotonic(), 0))
            if proc.is_alive():
                proc.kill()
                proc.join()
