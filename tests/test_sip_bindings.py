"""edge/sip/bindings.py: the overlay of recent changes stays bounded by the REGISTER rate.

A fake clock and a Unix datagram socket standing in for the edge-state writer (bound,
or not: the writer away); no LMDB, so what ``current`` returns is the overlay alone.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.sip.bindings import OVERLAY_S, Bindings
from provedge.formats import bindings, edgestate


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[socket.socket]:
    """A socket where the writer's would be, drained by the test."""
    edgestate.env_path(tmp_path).mkdir(parents=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(edgestate.socket_path(tmp_path)))
    sock.setblocking(False)
    yield sock
    sock.close()


def drain(sock: socket.socket) -> int:
    """How many datagrams were waiting."""
    for count in range(10_000):
        try:
            sock.recv(65536)
        except BlockingIOError:
            return count
    raise AssertionError("the writer's socket never ran dry")


def record(clock: Clock, port: int) -> dict[str, object]:
    return {"contact": f"sip:7@192.0.2.1:{port}", "expires_at": clock.now + 600}


def key(port: int) -> bytes:
    return bindings.key(7, bindings.identity(f"sip:7@192.0.2.1:{port}", None, None))


def test_an_account_refreshing_faster_than_the_overlay_keeps_only_recent_changes(
    tmp_path: Path, writer: socket.socket
) -> None:
    clock = Clock()
    store = Bindings(tmp_path, clock=clock)
    try:
        sent = 0
        for _ in range(400):  # a refresh every 0.1 s for 40 s, a tick after each
            store.put(7, key(5060), record(clock, 5060))
            store.tick()
            sent += drain(writer)
            clock.now += 0.1
        assert sent == 400  # every change went to the writer
        stats = store.stats()
        assert (stats["pending"], stats["dropped"]) == (0, 0)
        assert stats["overlay"] <= OVERLAY_S / 0.1 + 1  # not 400
        assert list(store.current(7)) == [key(5060)]
    finally:
        store.stop()


def test_quiet_accounts_leave_the_overlay_and_busy_ones_stay(
    tmp_path: Path, writer: socket.socket
) -> None:
    clock = Clock()
    store = Bindings(tmp_path, clock=clock)
    try:
        for account in range(1, 6):
            store.put(account, key(5060), record(clock, 5060))
        clock.now += OVERLAY_S / 2
        store.put(3, key(5062), record(clock, 5062))  # account 3 changes again
        store.tick()
        clock.now += OVERLAY_S / 2 + 0.01
        store.tick()
        drain(writer)
        assert [a for a in range(1, 6) if store.current(a)] == [3]
        assert set(store.current(3)) == {key(5060), key(5062)}  # its older change too
    finally:
        store.stop()


def test_while_the_writer_is_away_the_overlay_keeps_every_change(tmp_path: Path) -> None:
    clock = Clock()
    store = Bindings(tmp_path, clock=clock)  # nobody listens on the writer's socket
    try:
        for port in range(5060, 5080):  # 20 contacts over 10 s
            store.put(7, key(port), record(clock, port))
            store.tick()
            clock.now += 0.5
        stats = store.stats()
        assert (stats["pending"], stats["overlay"]) == (20, 20)
        assert len(store.current(7)) == 20  # the overlay is all there is of them
    finally:
        store.stop()
