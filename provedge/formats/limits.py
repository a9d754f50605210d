"""Provision limits: where the edge stops serving a device its own files.

A tenant may set ``provision_limit``: once a MAC has fetched that many of its own files
since its counter was last reset, its per-device files get the ordinary 404 until an
operator resets the counter (the manuals' "reset provision counter" before a factory
reset). The edge counts fetches in its own state (provedge/formats/edgestate.py) and the
counter reset is the control plane's (a base subtracted from the count), so the publisher
writes, beside the device's files, the edge count at which serving stops:

    sub-database ``limits`` of DATA/lmdb, owner ``limit/<mac>``
    key:   <mac> (12 lowercase hex)
    value: u64 little-endian: stop once the edge's fetch count for the MAC is this or more

A device of a tenant without a limit has no record.
"""

from __future__ import annotations

import struct

LIMITS_DB = b"limits"
OWNER_PREFIX = "limit/"
_STOP = struct.Struct("<Q")


def owner(mac: str) -> str:
    return f"{OWNER_PREFIX}{mac}"


def encode(stop_at: int) -> bytes:
    return _STOP.pack(stop_at)


def decode(raw: bytes | memoryview) -> int:
    """ValueError for a record of another size."""
    if len(raw) != _STOP.size:
        raise ValueError("not a limit record")
    return int(_STOP.unpack(bytes(raw))[0])
