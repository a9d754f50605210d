"""One edge worker process: its event loop, LMDB handle, SIP listeners and HTTP socket.

Started by edge/http/server.py, as many as ``--workers``. The Config comes from the
environment (``PROVEDGE_CONFIG``, docs/configuration.md). The worker enters
``EdgeApp.running`` (SIP listeners, recorder, meter, firewall, reboot sender) before it
listens, serves until SIGTERM or SIGINT, then stops listening, closes its connections and
leaves ``running`` so that the last batches of counts go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
import signal
import ssl
from pathlib import Path

from edge.http import listener, metrics
from edge.http.app import EdgeApp
from edge.http.delivery import Delivery, shared_key
from edge.http.limits import HttpLimits
from edge.http.protocol import HttpProtocol, Serving
from edge.http.provision_limits import ProvisionLimits
from edge.http.reads import Reads
from edge.sip import digest
from edge.sip.accounts import AccountDirectory
from edge.sip.bindings import Bindings
from edge.sip.firewall import Firewall
from edge.sip.flows import FlowLimits
from edge.sip.reboot import RebootSender
from edge.sip.registrar import Registrar
from edge.state.recorder import Recorder
from provedge.config import Config
from provedge.formats import edgestate, store

log = logging.getLogger("provedge.http")
SWEEP_S = 1.0  # the header timeout's granularity, and the Date header's
CLOSE_WAIT_S = 5.0  # bound on waiting for connections to close at shutdown


def app_factory(config: Config) -> EdgeApp:
    """Each worker opens its own LMDB environment handle."""
    recorder = Recorder(edgestate.socket_path(config.data))
    meter = metrics.Meter(Path(config.data) / metrics.METRICS_DIR)
    env = store.open_env(config.data)
    reads = Reads(env)  # one read transaction a turn of the loop, for every /p/ read
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
        registrar, limits, reboot, ProvisionLimits(config.data, reads),
        Delivery(config.data, reads, digest.Digest(
            config.digest_nonce_s, config.digest_prefer, secret=shared_key(config.data),
        )),
        reads,
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


def main() -> None:
    """The worker process's entry point."""
    config = Config.from_env()
    logging.basicConfig(level=config.log_level.upper())
    if config.loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if config.loop == "uvloop":
                raise
        else:
            uvloop.run(serve(config))
            return
    asyncio.run(serve(config))


async def serve(config: Config) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    limits = HttpLimits(
        config.http_header_timeout_s, config.http_max_connections, config.http_backlog
    ).fitted()
    app = app_factory(config)
    tls = tls_context(config)
    ports: list[tuple[int, ssl.SSLContext | None]] = [(config.edge_port, tls)]
    if tls is not None and config.edge_tls_port:
        ports = [(config.edge_port, None), (config.edge_tls_port, tls)]  # both
    async with app.running():
        servers, servings = [], []
        for port, context in ports:
            sock = listener.listening_socket(
                config.host, port, limits.backlog, config.http_send_timeout_s
            )
            serving = Serving(app, limits, sock.getsockname()[:2], context is not None,
                              context is not None and config.tls_client_ca is not None)  # fmt: skip
            servings.append(serving)
            servers.append(
                await loop.create_server(
                    functools.partial(HttpProtocol, serving),
                    sock=sock,
                    backlog=limits.backlog,
                    ssl=context,
                )
            )
        sweeper = loop.create_task(_sweep(servings))
        try:
            await stop.wait()
        finally:
            sweeper.cancel()
            for server in servers:
                server.close()
            for serving in servings:
                for conn in list(serving.connections):
                    conn.abort()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(s.wait_closed() for s in servers)), CLOSE_WAIT_S
                )


def tls_context(config: Config) -> ssl.SSLContext | None:
    """The HTTPS listener's context: the edge's certificate, and with a client CA, a
    certificate required of every client (no certificate: the handshake fails)."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    if config.tls_client_ca is not None:
        context.load_verify_locations(config.tls_client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


async def _sweep(servings: list[Serving]) -> None:
    while True:
        await asyncio.sleep(SWEEP_S)
        for serving in servings:
            serving.sweep()
