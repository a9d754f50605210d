"""End to end: idle and slow HTTP connections neither stop the edge nor stay (issue 19).

Each test runs a `provedge run` of its own on loopback and opens 2,000 TCP connections to
its HTTP port that send nothing. Before the fix, the edge's worker (then granian) served at most
1,024 connections and never closed one that had sent no byte, so every fetch after them hung.
"""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edge.http import limits as limits_module
from edge.http import listener
from edge.http.limits import HttpLimits
from tests.conftest import Provedge, start_provedge, stop_provedge, unique_name
from tests.test_fetch_counters import UA, phone

IDLE = 2000
FETCHES = 20
DEADLINE = 60.0  # bound on waiting for the edge to close what it must close


@pytest.fixture(autouse=True)
def descriptors() -> None:
    """Room in this process for the idle connections (the edge inherits the limit too)."""
    need = IDLE + 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"{IDLE} connections need {need} descriptors; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


@contextlib.contextmanager
def edge(tmp_path: Path, *extra: str) -> Iterator[tuple[Provedge, str, int]]:
    data = tmp_path / "data"
    data.mkdir()
    server = start_provedge(data, *extra)
    try:
        yield server, phone(server, unique_name("idle")), int(server.edge.rsplit(":", 1)[1])
    finally:
        stop_provedge(server)


def open_idle(port: int, count: int) -> list[socket.socket]:
    """``count`` connected sockets that send nothing (the kernel completes the handshake
    whether or not the edge has accepted them yet)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    except BaseException:
        close(socks)
        raise
    for sock in socks:
        sock.setblocking(False)
    return socks


def close(socks: list[socket.socket]) -> None:
    for sock in socks:
        sock.close()


def closed_by_peer(sock: socket.socket) -> bool:
    """True once the edge has closed it (EOF or reset); reads and drops any bytes."""
    try:
        while sock.recv(65536):
            pass
    except BlockingIOError:
        return False
    except ConnectionError:
        pass
    return True


def still_open(socks: list[socket.socket]) -> int:
    return sum(not closed_by_peer(sock) for sock in socks)


def wait_all_closed(socks: list[socket.socket]) -> int:
    """Wait (bounded) until the edge has closed every one; how many it left open."""
    selector = selectors.DefaultSelector()
    open_ = set(socks)
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
    deadline = time.monotonic() + DEADLINE
    try:
        while open_ and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1.0):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if closed_by_peer(sock):
                    selector.unregister(sock)
                    open_.discard(sock)
    finally:
        selector.close()
    return len(open_)


def fetch_all(url: str) -> list[int]:
    """``FETCHES`` fetches on new connections, then as many on one keep-alive connection."""
    statuses = []
    for _ in range(FETCHES):
        headers = {"User-Agent": UA, "Connection": "close"}
        statuses.append(httpx.get(url, headers=headers, timeout=10).status_code)
    with httpx.Client(headers={"User-Agent": UA}, timeout=10) as client:
        statuses += [client.get(url).status_code for _ in range(FETCHES)]
    return statuses


def test_fetches_succeed_while_2000_idle_connections_are_held(tmp_path: Path) -> None:
    # A timeout far longer than the fetches take: the idle ones are all still held then.
    with edge(tmp_path, "--http-header-timeout-s", "120") as (server, url, port):
        idle = open_idle(port, IDLE)
        try:
            assert fetch_all(url) == [200] * (2 * FETCHES)
            assert still_open(idle) == IDLE
            assert httpx.get(f"{server.edge}/healthz", timeout=10).status_code == 200
        finally:
            close(idle)


def test_idle_and_slow_connections_are_closed_after_the_timeout(tmp_path: Path) -> None:
    with edge(tmp_path, "--http-header-timeout-s", "2") as (_server, url, port):
        path = url.split(f":{port}", 1)[1]
        idle = open_idle(port, IDLE)
        try:
            [after_response, slow] = open_idle(port, 2)
            idle += [after_response, slow]
            after_response.settimeout(10)  # bounded: before the fix, it was never served
            after_response.sendall(f"GET {path} HTTP/1.1\r\nHost: edge\r\n\r\n".encode())
            assert after_response.recv(65536).startswith(b"HTTP/1.1 200")
            after_response.setblocking(False)
            slow.sendall(f"GET {path} HTTP/1.1\r\nHost: ed".encode())  # never finished
            assert wait_all_closed(idle) == 0
            assert fetch_all(url) == [200] * (2 * FETCHES)
        finally:
            close(idle)


def test_a_client_that_never_reads_is_closed_after_the_send_timeout(tmp_path: Path) -> None:
    with edge(tmp_path, "--http-send-timeout-s", "2") as (_server, url, port):
        path = url.split(f":{port}", 1)[1]
        requests = f"GET {path} HTTP/1.1\r\nHost: edge\r\n\r\n".encode() * 100
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            sock.connect(("127.0.0.1", port))
            sock.setblocking(False)
            deadline = time.monotonic() + DEADLINE
            reset = False
            while not reset and time.monotonic() < deadline:
                try:
                    sock.send(requests)  # answers pile up unread, behind a zero window
                    time.sleep(0.1)
                except BlockingIOError:
                    time.sleep(0.1)
                except ConnectionError:
                    reset = True
            assert reset
        assert fetch_all(url) == [200] * (2 * FETCHES)


def test_connection_limit_fits_the_descriptors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits_module.fds, "raised", lambda: 4096)
    assert HttpLimits(10, 25_000, 4096).fitted() == HttpLimits(10, 4096 // 2 - 256, 4096)
    assert HttpLimits(10, 1000, 4096).fitted() == HttpLimits(10, 1000, 4096)


def test_the_listener_passes_its_send_timeout_on_to_what_it_accepts() -> None:
    with listener.listening_socket("127.0.0.1", 0, 16, 7) as bound:
        bound.setblocking(True)
        port = bound.getsockname()[1]
        assert bound.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 7000
        assert bound.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            bound.settimeout(5)
            accepted, _ = bound.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 7000
