"""A send timeout for the edge's HTTP connections, set on the worker's listening socket.

hyper (under granian) has no write timeout: a client that sends requests and never reads
the answers (a zero receive window) holds its connection, and one of the worker's
connection permits, for good; the header timeout does not run while a response is being
written. The kernel can bound that: ``TCP_USER_TIMEOUT`` closes a connection whose sent
bytes stay unacknowledged, or unsent behind a zero window, that long. Linux copies it
from a listening socket to the connections it accepts.

granian binds each worker's listener in Rust after the app's lifespan has started and
offers no socket options, so the worker finds its own listener among its descriptors once
it is bound (a task started in the lifespan, bounded in tries) and sets the option there.
The descriptor is duplicated to be read and set, never closed or shared: granian keeps it.
Connections accepted before the option is set (the first milliseconds) do without it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

log = logging.getLogger("provedge.http")
TRIES = 200
EVERY_S = 0.05
FDS = "/proc/self/fd"  # Linux: this process's descriptors


def listeners(port: int) -> list[socket.socket]:
    """Duplicates of this process's listening TCP sockets on ``port`` (caller closes)."""
    found = []
    for name in os.listdir(FDS):
        try:
            dup = os.dup(int(name))
        except OSError:
            continue  # closed since the listing (the listing's own descriptor, too)
        try:
            sock = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)  # not a socket
            continue
        try:
            if (
                sock.type == socket.SOCK_STREAM
                and sock.family in (socket.AF_INET, socket.AF_INET6)
                and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                and sock.getsockname()[1] == port
            ):
                found.append(sock)
                continue
        except OSError:
            pass
        sock.close()
    return found


async def set_send_timeout(port: int, timeout_s: int) -> None:
    """Set ``TCP_USER_TIMEOUT`` on this worker's HTTP listener once granian has bound it."""
    if not hasattr(socket, "TCP_USER_TIMEOUT") or not os.path.isdir(FDS):
        log.warning("no TCP_USER_TIMEOUT or %s here: no HTTP send timeout", FDS)
        return
    for _ in range(TRIES):
        socks = listeners(port)
        for sock in socks:
            with sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, timeout_s * 1000)
        if socks:
            return
        await asyncio.sleep(EVERY_S)
    log.warning("no HTTP listener on port %d found: no send timeout set", port)
