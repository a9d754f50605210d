"""How many HTTP connections an edge worker holds, and how long an idle one may stay.

granian runs each connection under hyper; the two knobs that bound what a connection
holds are granian's:

- ``backpressure``: the connections a worker serves at once. Each holds one of that many
  permits from accept to close; with none free the worker accepts nothing, and new
  connections wait in the listen queue (``backlog``), then in SYN retries. granian's
  default is ``backlog / workers``, 1,024: that many idle connections stopped the edge
  (issue 19).
- hyper's HTTP/1 ``header_read_timeout``: a request head must be complete within it,
  counted from the connection's start and again from the end of each response. It is the
  edge's one idle timeout: a connection that never sends a byte, one idle between
  keep-alive requests and one that sends its head slowly are all closed when it runs out.

The edge speaks HTTP/1.1 only (``HTTPModes.http1``). In granian's ``auto`` mode hyper-util
first reads enough bytes to tell HTTP/1 from an HTTP/2 preface, with no timer, so a
connection that sends nothing is never closed and holds its permit for good. Phones fetch
over HTTP/1.x; no provisioning client speaks cleartext HTTP/2 (h2c).
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass
from typing import Any

from granian.constants import HTTPModes
from granian.http import HTTP1Settings

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

    def granian(self) -> dict[str, Any]:
        """Granian's keyword arguments for these limits (per worker, as granian counts)."""
        return {
            "http": HTTPModes.http1,
            "backlog": self.backlog,
            "backpressure": self.max_connections,
            "http1_settings": HTTP1Settings(header_read_timeout=self.header_timeout_s * 1000),
        }
