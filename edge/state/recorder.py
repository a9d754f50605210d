"""The worker's side of edge state: note fetches on the request path, send them in batches.

The request path only appends a tuple of references it already holds to a list
(:meth:`Recorder.fetch`): no system call, no header scan, no encoding. A timer on the
worker's event loop (every ``interval`` seconds, and once at shutdown) folds the noted
fetches per MAC, encodes them and sends them as one or a few datagrams over the Unix
datagram socket of the host's one writer process (edge/state/writer.py).

When the writer is away (restarting) or its queue is full, the merged fetches stay pending
in the worker and go with the next tick, so a writer restart loses nothing a worker still
holds. Pending state is bounded: beyond ``max_pending`` MACs, fetches of further MACs are
dropped and counted in ``dropped`` (shown on the edge's ``/healthz``).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from pathlib import Path
from typing import Any

from edge.state import batch
from provedge.formats.edgestate import MAX_USER_AGENT, Fetch, pack_ip

DEFAULT_INTERVAL = 0.05  # seconds between sends; what an operator waits for a counter
DEFAULT_MAX_PENDING = 100_000  # MACs held while the writer is away

# The writer is not there (restarting) or cannot take more now: keep the batch for later.
_RETRY = {errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN, errno.ENOBUFS}
_now = time.time


class Recorder:
    def __init__(
        self,
        socket_path: str | Path,
        interval: float = DEFAULT_INTERVAL,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        self.socket_path = str(socket_path)
        self.interval = interval
        self.max_pending = max_pending
        self.noted = 0  # fetches this worker noted (counted at each flush)
        self.dropped = 0  # fetches given up: pending was full, or a datagram was refused
        self.sent = 0  # fetch records the writer accepted
        self._events: list[tuple[str, float, Any, Any]] = []
        self._pending: dict[bytes, Fetch] = {}
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._timer: asyncio.TimerHandle | None = None

    def fetch(self, mac: str, client: Any, user_agent: bytes | None) -> None:
        """The hot path: a served per-MAC file. ``client`` as in the scope; ``user_agent``
        the header the app already read (None: the request had none)."""
        self._events.append((mac, _now(), client, user_agent))

    @property
    def pending(self) -> int:
        """MACs waiting for the writer, plus fetches not folded yet."""
        return len(self._pending) + len(self._events)

    def stats(self) -> dict[str, int]:
        return {
            "noted": self.noted + len(self._events),
            "pending": self.pending,
            "sent": self.sent,
            "dropped": self.dropped,
        }

    def start(self) -> None:
        """Arm the timer on the running loop (the worker's lifespan startup)."""
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def stop(self) -> None:
        """Cancel the timer and send what is left, waiting briefly for a busy writer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._sock.settimeout(1.0)
        self.flush()
        self.close()

    def close(self) -> None:
        self._sock.close()

    def _tick(self) -> None:
        self.flush()
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def flush(self) -> None:
        """Fold the noted fetches into pending, then send pending until the writer balks."""
        events, self._events = self._events, []
        self.noted += len(events)
        # Per MAC first: the address and User-Agent are only read for its latest fetch.
        latest: dict[str, list[Any]] = {}
        for event in events:
            entry = latest.get(event[0])
            if entry is None:
                latest[event[0]] = [1, event]
            else:
                entry[0] += 1
                if event[1] >= entry[1][1]:
                    entry[1] = event
        pending = self._pending
        for mac, (count, (_, at, client, user_agent)) in latest.items():
            key = mac.encode()
            if key not in pending and len(pending) >= self.max_pending:
                self.dropped += count
                continue
            host = client[0] if client else None
            fetch = Fetch(count, int(at * 1e6), pack_ip(host), (user_agent or b"")[:MAX_USER_AGENT])
            batch.fold(pending, key, fetch)
        if pending:
            self._send()

    def _send(self) -> None:
        for datagram, macs in list(batch.encode(self._pending.items())):
            try:
                self._sock.sendto(datagram, self.socket_path)
            except OSError as exc:
                if exc.errno in _RETRY or isinstance(exc, TimeoutError):
                    return  # the rest waits for the next tick
                self.dropped += sum(self._pending[mac].count for mac in macs)
            else:
                self.sent += len(macs)
            for mac in macs:
                del self._pending[mac]
