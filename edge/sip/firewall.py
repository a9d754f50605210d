"""The firewall as one edge worker sees it: ``banned(host)`` on the hot path, ``failure``.

``banned(host)`` is one dict lookup (and a clock read for a listed address): the view is
an in-memory map address -> until, refreshed from the edge state's ``bans`` sub-database
(provedge/formats/bans.py) every ``refresh`` seconds, and only re-read when the writer's
generation counter moved. Both the SIP side (checked before a datagram is parsed; a TCP
connection is closed) and the HTTP side (403) ask it.

``failure(host, reason, tenant)`` notes a failed attempt (a wrong digest, an unknown user
or MAC, an access-rule denial, a malformed request): the failures go to the host's one
edge-state writer with the next tick (edge/state/bans.py), which keeps the sliding windows
across all workers and writes the ban. So that a fast scanner hitting one worker is cut
off at once rather than a refresh later, the worker also keeps its own windows: when its
own failures from an address reach the threshold, it bans the address locally at once; a
local ban that the shared bans do not confirm within ``LOCAL_GRACE_S`` lapses (the shared
view is the truth: lifts, trusted networks of other tenants). Successes never count.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from collections import deque
from pathlib import Path
from typing import Any

import lmdb

from edge.state import bans as failures
from edge.state.reader import StateReader
from provedge.formats import bans, edgestate, firewall

DEFAULT_INTERVAL = 0.05  # seconds between sends of failures to the writer
DEFAULT_REFRESH = 0.15  # seconds between looks at the shared bans
LOCAL_GRACE_S = 2.0  # a local ban the writer has not confirmed by then lapses
MAX_PENDING = 10_000  # failures held while the writer is away; more are dropped
MAX_LOCAL = 10_000  # addresses with a local window

_RETRY = {errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN, errno.ENOBUFS}
_now = time.time
log = logging.getLogger("provedge.firewall")


class Firewall:
    def __init__(
        self,
        data_dir: str | Path,
        published: lmdb.Environment | None = None,
        interval: float = DEFAULT_INTERVAL,
        refresh: float = DEFAULT_REFRESH,
        state: StateReader | None = None,
    ) -> None:
        """``state``: the worker's edge-state handle, shared with the registrar's bindings
        (one of its own when None, closed with it): LMDB allows one per process."""
        self.data_dir = Path(data_dir)
        self.socket_path = str(edgestate.socket_path(data_dir))
        self.interval = interval
        self.refresh = refresh
        self.settings = firewall.DEFAULT_SETTINGS
        self.dropped = 0  # failures given up (writer away too long)
        self._published = published
        self._published_db: Any = None
        self._settings_raw: bytes | None = None
        self._view: dict[str, float] = {}  # address -> until (shared bans and local ones)
        self._shared: dict[str, float] = {}
        self._local: dict[str, tuple[float, float]] = {}  # address -> (until, lapses at)
        self._windows: dict[str, deque[float]] = {}
        self._pending: list[failures.Failure] = []
        self._state = state or StateReader(data_dir)
        self._owns_state = state is None
        self._generation = -1
        self._next_refresh = 0.0
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._timer: asyncio.TimerHandle | None = None

    # -- the hot path ----------------------------------------------------------------------

    def banned(self, host: str) -> bool:
        until = self._view.get(host)
        return until is not None and until > _now()

    def failure(self, host: str, reason: str, tenant: int | None = None) -> None:
        at = _now()
        if len(self._pending) < MAX_PENDING:
            self._pending.append(failures.failure(host, reason, tenant, at))
        else:
            self.dropped += 1
        policy = self.settings.policy(tenant)
        if host in self._view or policy.trusts(host):
            return
        window = self._windows.get(host)
        if window is None:
            if len(self._windows) >= MAX_LOCAL:
                self._windows.clear()  # a spread-out scan: the writer's windows still count
            window = self._windows[host] = deque()
        window.append(at)
        while window and window[0] <= at - policy.window_s:
            window.popleft()
        if len(window) >= policy.max_failures:
            del self._windows[host]
            self._local[host] = (at + policy.ban_s, at + LOCAL_GRACE_S)
            self._view[host] = at + policy.ban_s

    def stats(self) -> dict[str, int]:
        return {"banned": len(self._view), "pending": len(self._pending), "dropped": self.dropped}

    # -- the tick --------------------------------------------------------------------------

    def start(self) -> None:
        self.tick()
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._sock.settimeout(1.0)
        self.send()
        self._sock.close()
        if self._owns_state:
            self._state.close()

    def _tick(self) -> None:
        self.tick()
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def tick(self) -> None:
        self.send()
        now = _now()
        if now >= self._next_refresh:
            self._next_refresh = now + self.refresh
            self.reload(now)

    def send(self) -> None:
        pending, self._pending = self._pending, []
        sent = 0
        for datagram, count in failures.encode(pending):
            try:
                self._sock.sendto(datagram, self.socket_path)
            except OSError as exc:
                if exc.errno in _RETRY or isinstance(exc, TimeoutError):
                    # The writer is restarting or busy: the rest goes with the next tick.
                    self._pending = pending[sent:] + self._pending
                    return
                self.dropped += count
            sent += count

    def reload(self, now: float) -> None:
        """Re-read the shared bans (when the writer's generation moved) and the settings."""
        self._reload_settings()
        opened = self._state.db(edgestate.BANS_DB)
        if opened is not None:
            env, bans_db = opened
            with env.begin(db=bans_db, buffers=True) as txn:
                generation = bans.decode_generation(txn.get(bans.GENERATION_KEY))
                if generation != self._generation:
                    self._generation = generation
                    self._shared = {
                        bans.address(bytes(key)): bans.decode(raw).until
                        for key, raw in txn.cursor()
                        if len(key) == bans.KEY_SIZE
                    }
        self._local = {
            host: (until, lapses)
            for host, (until, lapses) in self._local.items()
            if host not in self._shared and lapses > now
        }
        view = dict(self._shared)
        view.update((host, until) for host, (until, _) in self._local.items())
        self._view = view

    def _reload_settings(self) -> None:
        if self._published is None:
            return
        try:
            if self._published_db is None:
                self._published_db = self._published.open_db(firewall.FIREWALL_DB, create=False)
            with self._published.begin(db=self._published_db) as txn:
                raw = txn.get(firewall.SETTINGS_KEY)
        except lmdb.Error:
            return  # nothing published yet: the defaults hold
        if raw != self._settings_raw:
            self._settings_raw = raw
            self.settings = firewall.decode_settings(raw)
