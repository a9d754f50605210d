"""Runs the edge under granian (ASGI), N worker processes on one port.

The server was chosen by measurement (docs/performance.md): with the same edge app,
granian answers about 1.7x uvicorn's keep-alive requests/s and 2.4x its new-connection
requests/s on this project's machine. Each worker is a process with its own event loop,
LMDB handle and SIP listeners; each binds the HTTP port with SO_REUSEPORT. The main
process also runs the host's one edge-state writer (edge/state/writer.py) beside them.

The one Config reaches the workers as one value: ``serve`` puts ``Config.to_env()``
(``PROVEDGE_CONFIG``) into the environment the workers start with, and ``app_factory``
turns it back into the same Config (docs/configuration.md).
"""

from __future__ import annotations

import fcntl
import functools
import os
from pathlib import Path

from granian import Granian
from granian.constants import Interfaces, Loops, RuntimeModes
from granian.log import LogLevels

from edge.http import listener, metrics
from edge.http.app import EdgeApp
from edge.http.delivery import Delivery, shared_key
from edge.http.limits import HttpLimits
from edge.http.provision_limits import ProvisionLimits
from edge.sip import digest
from edge.sip.accounts import AccountDirectory
from edge.sip.bindings import Bindings
from edge.sip.firewall import Firewall
from edge.sip.flows import FlowLimits
from edge.sip.reboot import RebootSender
from edge.sip.registrar import Registrar
from edge.state.recorder import Recorder
from edge.state.writer import WriterProcess
from provedge.config import Config
from provedge.formats import edgestate, store

LOOPS = {"auto": Loops.auto, "uvloop": Loops.uvloop, "asyncio": Loops.asyncio}


def app_factory() -> EdgeApp:
    """Called in each worker process: each opens its own LMDB environment handle."""
    config = Config.from_env()
    recorder = Recorder(edgestate.socket_path(config.data))
    meter = metrics.Meter(Path(config.data) / metrics.METRICS_DIR)
    env = store.open_env(config.data)
    # One worker per host joins the PnP multicast group: each would get every datagram.
    multicast = config.pnp_multicast and config.sip_enabled and _take(config.data, _PNP_LOCK)
    registrar = reboot = None
    if config.sip_enabled:
        store_of_bindings = Bindings(config.data)
        registrar = Registrar(
            AccountDirectory(env),
            store_of_bindings,
            digest.Digest(config.digest_nonce_s, config.digest_prefer),
        )
        reboot = RebootSender(env, store_of_bindings, config.data)
    limits = FlowLimits(
        config.sip_tcp_idle_s,
        config.sip_tcp_flow_idle_s,
        config.sip_tcp_max_per_address,
        config.sip_tcp_max,
    ).fitted()
    return EdgeApp(
        env, config.sip_address, recorder, meter, Firewall(config.data, env), multicast,
        registrar, limits, reboot,
        functools.partial(listener.set_send_timeout, config.edge_port, config.http_send_timeout_s),
        ProvisionLimits(config.data, env),
        Delivery(config.data, env, digest.Digest(
            config.digest_nonce_s, config.digest_prefer,
            secret=shared_key(config.data),
        )),
    )  # fmt: skip


_PNP_LOCK = "pnp-multicast.lock"
_held: list[int] = []  # the lock's descriptor, held for the worker's life


def _take(data_dir: str, name: str) -> bool:
    """An exclusive lock in the edge state, without waiting; False when another has it."""
    fd = os.open(edgestate.env_path(data_dir) / name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _held.append(fd)
    return True


def serve(config: Config) -> None:
    os.environ.update(config.to_env())  # for the workers, whether forked or spawned
    store.open_env(config.data).close()  # create the environment before workers race to
    metrics.reset(config.data)  # the workers' counts start at zero with the edge
    writer = WriterProcess(config.data).start()  # before the workers, stopped after them
    try:
        _serve(config)
    finally:
        writer.stop()


def _serve(config: Config) -> None:
    # Raises the descriptor limit before the workers start: they inherit it.
    limits = HttpLimits(
        config.http_header_timeout_s, config.http_max_connections, config.http_backlog
    ).fitted()
    Granian(
        "edge.http.server:app_factory",
        factory=True,
        address=config.host,
        port=config.edge_port,
        interface=Interfaces.ASGI,
        workers=config.workers,
        loop=LOOPS[config.loop],
        # One Rust I/O thread per worker: the edge scales by processes, one per core.
        runtime_mode=RuntimeModes.st,
        runtime_threads=1,
        log_level=LogLevels(config.log_level),
        log_access=False,
        **limits.granian(),
    ).serve()
