"""The SIP TCP connections of one worker: caps, idle timeouts and RFC 5626 keep-alives.

A TCP connection holds a file descriptor for as long as it is open, and the worker's HTTP
side needs descriptors too. So:

- a connection that has not registered is closed ``idle_s`` after its last complete
  message (bytes that never finish a message do not count: a half-sent request holds
  nothing for long);
- a registered flow (a REGISTER on it left bindings) lives while its phone talks: any
  bytes, the RFC 5626 CRLF keep-alive ping included, keep it ``flow_idle_s`` longer, and
  it falls back to ``idle_s`` once its bindings have expired;
- each source address may hold ``per_address`` connections and the worker ``total``;
  a connection over either cap is closed as it is accepted.

The caps are per worker, as the descriptors are. One sweep a second closes what is idle:
cheaper than a timer per connection that every message would have to move.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import time
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from edge import fds

log = logging.getLogger("provedge.sip")
SWEEP_S = 1.0
_now = time.monotonic


class Flow(Protocol):
    peer: tuple[str, int]
    flow_id: str
    last_message: float  # monotonic time of the last complete message
    last_bytes: float  # monotonic time of the last bytes of any kind
    registered_until: float  # monotonic time its bindings expire (0: none)

    def close(self) -> None: ...

    def write(self, data: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class FlowLimits:
    idle_s: float = 30.0
    flow_idle_s: float = 300.0
    per_address: int = 1000
    total: int = 10_000

    def fitted(self) -> FlowLimits:
        """The limits with ``total`` raised the process's descriptor limit allows: the soft
        limit goes up to the hard one, and half of it is left to HTTP and LMDB."""
        soft = fds.raised()
        room = max(soft // 2, 1) if soft != resource.RLIM_INFINITY else self.total
        if self.total <= room:
            return self
        log.warning("SIP TCP connections capped at %d (half of %d descriptors)", room, soft)
        return FlowLimits(self.idle_s, self.flow_idle_s, min(self.per_address, room), room)


class FlowTable:
    def __init__(self, limits: FlowLimits | None = None) -> None:
        self.limits = limits or FlowLimits()
        self.flows: set[Flow] = set()
        self.by_id: dict[str, Flow] = {}  # where a NOTIFY to a TCP binding goes
        self.per_address: Counter[str] = Counter()
        self.refused = 0  # connections closed on arrival by a cap
        self.timed_out = 0  # connections closed by the sweep
        self._sweeper: asyncio.Task[None] | None = None

    def admit(self, flow: Flow) -> bool:
        """Count a new connection in; False (and nothing counted) when a cap is reached."""
        host = flow.peer[0]
        limits = self.limits
        if len(self.flows) >= limits.total or self.per_address[host] >= limits.per_address:
            self.refused += 1
            return False
        self.flows.add(flow)
        self.by_id[flow.flow_id] = flow
        self.per_address[host] += 1
        return True

    def leave(self, flow: Flow) -> None:
        if flow in self.flows:
            self.flows.discard(flow)
            self.by_id.pop(flow.flow_id, None)
            host = flow.peer[0]
            self.per_address[host] -= 1
            if self.per_address[host] <= 0:
                del self.per_address[host]

    def expired(self, flow: Flow, now: float) -> bool:
        limits = self.limits
        if flow.registered_until > now:
            return now - flow.last_bytes > limits.flow_idle_s
        return now - max(flow.last_message, flow.registered_until) > limits.idle_s

    def sweep(self, now: float | None = None) -> int:
        """Close every idle connection; how many were closed."""
        now = _now() if now is None else now
        idle = [flow for flow in self.flows if self.expired(flow, now)]
        for flow in idle:
            self.leave(flow)
            flow.close()
        self.timed_out += len(idle)
        return len(idle)

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            self.sweep()
