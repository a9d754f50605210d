"""SIP over TCP cannot starve the edge: idle connections time out, caps hold, registered
flows live on their RFC 5626 keep-alives, and HTTP and UDP keep working meanwhile.

One `provedge run` of this module's own, with small limits so that the test is quick:
3 s for a connection that has not registered, 20 connections per address, 300 per worker.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Provedge, start_provedge, stop_provedge
from tests.sipclient import Phone
from tests.test_fetch_counters import UA
from tests.test_fetch_counters import phone as yealink
from tests.test_registrar import PASSWORD, make_account, make_tenant

IDLE_S, PER_ADDRESS, TOTAL = 3, 20, 300
CLOSE_WAIT_S = 10.0  # bounded wait for the edge to close what it should


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provedge]:
    limits = ("--sip-tcp-idle-s", str(IDLE_S), "--sip-tcp-max-per-address", str(PER_ADDRESS))
    started = start_provedge(tmp_path_factory.mktemp("data"), *limits, "--sip-tcp-max", str(TOTAL))
    yield started
    stop_provedge(started)


def connect(server: Provedge, source: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.sip_port), source_address=(source, 0))
    sock.setblocking(False)
    return sock


def closed_by_peer(sock: socket.socket, wait_s: float) -> bool:
    """True when the edge closed the connection (EOF or reset) within ``wait_s``."""
    readable, _, _ = select.select([sock], [], [], wait_s)
    if not readable:
        return False
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def closed_soon(socks: list[socket.socket], wait_s: float = CLOSE_WAIT_S) -> int:
    """How many of ``socks`` the edge closed within ``wait_s`` (all share the wait)."""
    deadline = time.monotonic() + wait_s
    left, gone = list(socks), 0
    while left and time.monotonic() < deadline:
        readable, _, _ = select.select(left, [], [], max(deadline - time.monotonic(), 0))
        for sock in readable:
            left.remove(sock)
            try:
                gone += sock.recv(1) == b""
            except ConnectionResetError:
                gone += 1
    return gone


def test_caps_close_the_excess_while_http_and_udp_keep_working(server: Provedge) -> None:
    url = yealink(server, "tcpcaps")
    with server.api() as api:
        tenant = make_tenant(api)
        account = make_account(api, tenant)
    # 18 addresses with 25 connections each: 5 per address over its cap; the first 15
    # addresses fill the worker's total of 300, and the last 3 find it reached.
    held: list[socket.socket] = []
    try:
        groups: list[list[socket.socket]] = []
        for n in range(18):
            group = [connect(server, f"127.0.77.{n + 2}") for _ in range(PER_ADDRESS + 5)]
            groups.append(group)
            held += group
        # Everything over a cap is closed as it arrives, long before the idle timeout.
        over = [s for g in groups[:15] for s in g[PER_ADDRESS:]] + [
            s for g in groups[15:] for s in g
        ]
        assert closed_soon(over, 1.5) == 15 * 5 + 3 * (PER_ADDRESS + 5)
        idle = [s for g in groups[:15] for s in g[:PER_ADDRESS]]
        assert not any(closed_by_peer(s, 0) for s in idle)

        # With 300 idle connections held, the edge still serves files and UDP REGISTERs;
        # a new SIP TCP connection waits for room.
        for _ in range(5):
            fetched = httpx.get(url, headers={"User-Agent": UA, "Connection": "close"})
            assert fetched.status_code == 200 and fetched.content
        udp = Phone(server.sip_port, account["username"], tenant["sip_server"])
        try:
            assert udp.login(PASSWORD).status == 200
        finally:
            udp.close()
        late = connect(server, "127.0.77.100")
        held.append(late)
        assert closed_by_peer(late, CLOSE_WAIT_S)

        # Then the idle timeout closes every connection that never sent a message, and
        # TCP has room again.
        assert closed_soon(idle, IDLE_S + CLOSE_WAIT_S) == len(idle)
        tcp = Phone(server.sip_port, account["username"], tenant["sip_server"], transport="tcp")
        try:
            assert tcp.login(PASSWORD).status == 200
        finally:
            tcp.close()
    finally:
        for sock in held:
            sock.close()


def test_a_half_sent_request_does_not_hold_its_connection(server: Provedge) -> None:
    sock = connect(server, "127.0.78.2")
    try:
        deadline = time.monotonic() + IDLE_S + CLOSE_WAIT_S
        closed = False
        while not closed and time.monotonic() < deadline:  # a byte every half second
            try:
                sock.send(b"R")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            closed = closed_by_peer(sock, 0.5)
        assert closed
    finally:
        sock.close()


def test_a_registered_flow_lives_on_its_crlf_keepalives(server: Provedge) -> None:
    with server.api() as api:
        tenant = make_tenant(api)
        account = make_account(api, tenant, expires=600)
    phone = Phone(server.sip_port, account["username"], tenant["sip_server"], transport="tcp")
    unregistered = connect(server, "127.0.79.2")
    try:
        assert phone.login(PASSWORD).status == 200
        phone.sock.settimeout(2.0)
        # Pings for twice the idle timeout: each gets its pong and the flow stays open.
        for _ in range(IDLE_S * 2 + 1):
            phone.sock.sendall(b"\r\n\r\n")
            assert phone.sock.recv(16) == b"\r\n"
            time.sleep(1.0)
        assert closed_by_peer(unregistered, 0)  # the other one did not live this long
        # The flow still carries requests: a refresh on it is answered.
        assert phone.login(PASSWORD).status == 200
    finally:
        phone.close()
        unregistered.close()
