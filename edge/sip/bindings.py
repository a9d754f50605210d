"""The bindings as one edge worker sees and changes them.

Reads come from the edge state's ``bindings`` sub-database (provedge/formats/bindings.py),
which the host's one writer keeps for every worker. Changes go to that writer with the
next tick (edge/state/bindings.py, every ``interval`` seconds) and, until the writer has
surely committed them, stay in a short overlay here, so the 200 to a REGISTER already
lists the binding it made, and a re-REGISTER a moment later sees it too.

While the writer is away (restarting) changes wait here, bounded by ``MAX_PENDING``; a
phone re-registers well within its expiry, so a change dropped past that bound comes back.
While it is there, a change older than ``OVERLAY_S`` leaves the overlay: an account that
re-registers faster than that keeps only its recent changes (the overlay is bounded by
the rate of REGISTERs, not by how long the account keeps refreshing), and the overlay is
kept in the order of each account's last change, so a tick drops the quiet accounts
without looking at the others.

The edge state is read through the process's one read-only handle
(``edgestate.open_reader``), which the firewall shares: LMDB allows one per process.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lmdb

from edge.state import bindings as ops
from provedge.formats import bindings, edgestate

DEFAULT_INTERVAL = 0.05
OVERLAY_S = 2.0  # many writer intervals: by then the change is in LMDB
MAX_PENDING = 50_000
_RETRY = {errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN, errno.ENOBUFS}

Record = dict[str, Any]


class Bindings:
    def __init__(
        self, data_dir: str | Path, interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.data_dir = Path(data_dir)
        self.socket_path = str(edgestate.socket_path(data_dir))
        self.interval = interval
        self.dropped = 0
        self._clock = clock
        self._pending: list[ops.Operation] = []
        # account -> [(at, op, key, record)]: changes the LMDB view may not hold yet
        self._overlay: dict[int, list[tuple[float, int, bytes, Record | None]]] = {}
        self._away = False  # the last tick could not send everything: keep the overlay
        self._sent_at = float("-inf")  # the last tick that sent everything pending
        self._env: lmdb.Environment | None = None
        self._db: Any = None
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._timer: asyncio.TimerHandle | None = None

    # -- reads ------------------------------------------------------------------------------

    def current(self, account_id: int) -> dict[bytes, Record]:
        """The account's unexpired bindings by key, this worker's latest changes applied."""
        now = self._clock()
        found: dict[bytes, Record] = {}
        if self._open():
            env, db = self._env, self._db
            assert env is not None
            prefix = bindings.account_prefix(account_id)
            with env.begin(db=db, buffers=True) as txn:
                cursor = txn.cursor()
                if cursor.set_range(prefix):
                    for stored, raw in cursor:
                        if bytes(stored[:8]) != prefix:
                            break
                        try:
                            found[bytes(stored)] = bindings.decode(raw)
                        except ValueError:
                            continue
        for _, op, key, record in self._overlay.get(account_id, ()):
            if op == ops.PUT and record is not None:
                found[key] = record
            elif op == ops.DELETE:
                found.pop(key, None)
            else:
                found.clear()
        return {key: rec for key, rec in found.items() if rec["expires_at"] > now}

    def _open(self) -> bool:
        if self._env is not None:
            return True
        opened = edgestate.open_reader(self.data_dir, edgestate.BINDINGS_DB)
        if opened is None:
            return False
        self._env, self._db = opened
        return True

    # -- changes ----------------------------------------------------------------------------

    def put(self, account_id: int, key: bytes, record: Record) -> None:
        self._change(account_id, ops.PUT, key, record)

    def delete(self, account_id: int, key: bytes) -> None:
        self._change(account_id, ops.DELETE, key, None)

    def clear(self, account_id: int) -> None:
        self._change(account_id, ops.CLEAR, bindings.account_prefix(account_id), None)

    def _change(self, account_id: int, op: int, key: bytes, record: Record | None) -> None:
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            return
        value = bindings.encode(record) if record is not None else b""
        self._pending.append((op, key, value))
        now = self._clock()
        changes = self._overlay.pop(account_id, None)  # back in at the end: newest last
        if changes is None:
            changes = []
        elif not self._away:
            horizon, old = min(now - OVERLAY_S, self._sent_at), 0
            while old < len(changes) and changes[old][0] < horizon:
                old += 1  # sent ticks ago: in LMDB by now
            del changes[:old]
        changes.append((now, op, key, record))
        self._overlay[account_id] = changes

    def stats(self) -> dict[str, int]:
        overlay = sum(len(changes) for changes in self._overlay.values())
        return {"pending": len(self._pending), "dropped": self.dropped, "overlay": overlay}

    # -- the tick ---------------------------------------------------------------------------

    def start(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._sock.settimeout(1.0)
        self.send()
        self._sock.close()
        if self._env is not None:
            edgestate.close_reader(self._env)
            self._env = None

    def _tick(self) -> None:
        self.tick()
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def tick(self) -> None:
        self.send()
        self._away = bool(self._pending)
        if self._away:
            return  # the writer is away: the overlay is all there is of these changes
        now = self._clock()
        self._sent_at, horizon = now, now - OVERLAY_S
        overlay = self._overlay
        while overlay:
            account_id, changes = next(iter(overlay.items()))
            if changes[-1][0] >= horizon:
                break  # this account and every one after it changed since the horizon
            del overlay[account_id]

    def send(self) -> None:
        pending, self._pending = self._pending, []
        sent = 0
        for datagram, count in ops.encode(pending):
            try:
                self._sock.sendto(datagram, self.socket_path)
            except OSError as exc:
                if exc.errno in _RETRY or isinstance(exc, TimeoutError):
                    self._pending = pending[sent:] + self._pending  # the next tick retries
                    return
                self.dropped += count
            sent += count
