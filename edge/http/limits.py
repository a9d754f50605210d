"""How many HTTP connections an edge worker holds, and how long an idle one may stay.

The edge's own server (edge/http/protocol.py) applies them per worker:

- ``max_connections``: the connections a worker holds at once; one accepted over it is
  closed at once, so the ones held keep being served. 1,024 idle connections stopped the
  edge under granian (issue 19); the default is sized for a storm.
- ``header_timeout_s``: a request head must be complete within it, counted from the
  connection's start and again from the end of each answer. It is the edge's one idle
  timeout: a connection that never sends a byte, one idle between keep-alive requests and
  one that sends its head slowly are all closed when it runs out.
- ``backlog``: the listen queue of each worker's socket (edge/http/listener.py).

The edge speaks HTTP/1.x only: phones fetch over it; no provisioning client speaks
cleartext HTTP/2 (h2c).
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

from edge import fds

log = logging.getLogger("provedge.http")
RESERVE = 256  # descriptors kept for LMDB, listeners, logs and the writer's socket


@dataclass(frozen=True, slots=True)
class HttpLimits:
    header_timeout_s: int = 10
    max_connections: int = 25_000
    backlog: int = 4096

    def fitted(self) -> HttpLimits:
        """The limits with ``max_connections`` lowered to what the descriptor limit allows
        (soft raised to hard first): half of it is HTTP's, the other half SIP's
        (edge/sip/flows.py), less a reserve for everything else."""
        soft = fds.raised()
        if soft == resource.RLIM_INFINITY:
            return self
        room = max(soft // 2 - RESERVE, 1)
        if self.max_connections <= room:
            return self
        log.warning("HTTP connections capped at %d a worker (%d descriptors)", room, soft)
        return HttpLimits(self.header_timeout_s, room, self.backlog)
