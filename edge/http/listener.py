"""A worker's HTTP listening socket: SO_REUSEPORT, the backlog, and a send timeout.

Each worker binds its own socket on the one port with ``SO_REUSEPORT``; the kernel
spreads new connections over them, so no process hands connections to another.

A client that sends requests and never reads the answers (a zero receive window) would
hold its connection for good: the header timeout does not run while an answer is being
written. The kernel bounds that: ``TCP_USER_TIMEOUT`` closes a connection whose sent bytes
stay unacknowledged, or unsent behind a zero window, that long. Linux copies it from the
listening socket to every connection it accepts, so it is set once, here.
"""

from __future__ import annotations

import logging
import socket

log = logging.getLogger("provedge.http")


def listening_socket(host: str, port: int, backlog: int, send_timeout_s: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        set_send_timeout(sock, send_timeout_s)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def set_send_timeout(sock: socket.socket, timeout_s: int) -> None:
    if not hasattr(socket, "TCP_USER_TIMEOUT"):
        log.warning("no TCP_USER_TIMEOUT on this system: no HTTP send timeout")
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, timeout_s * 1000)
