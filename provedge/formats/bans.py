"""Bans: the record of a banned source address, shared by the edge's SIP and HTTP sides.

The edge-state writer (edge/state/bans.py) writes them into the ``bans`` sub-database of
the edge-state environment (provedge/formats/edgestate.py); every edge worker reads them
into an in-memory view (edge/sip/firewall.py); the control plane lists them read-only.

    key:   16 bytes, the packed source address (edgestate.pack_ip: IPv6, IPv4 mapped)
    value: u8 version (1) | u32 failures | f64 first_at | f64 banned_at | f64 until
           | u8 len(reason) | reason (ASCII)

Times are seconds since the epoch (UTC). ``failures`` is the count that tipped the ban
(within the window), ``first_at`` the first of them; a manual ban has ``failures`` 0 and
reason ``manual``. A ban is in force while ``until`` is in the future: readers check it, so
an expired ban the writer has not swept yet bans nobody.

One more key lives in the same sub-database: ``GENERATION_KEY`` (not 16 bytes long, so no
address), a u64 the writer bumps in every transaction that changes a ban. Workers re-read
the bans only when it moved.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from provedge.formats.edgestate import BANS_DB, pack_ip, unpack_ip

VERSION = 1
KEY_SIZE = 16
GENERATION_KEY = b"generation"
# Why a ban was made: the failure that tipped it (SIP registrar and PnP, HTTP scans), or
# an operator's hand.
REASONS = ("digest", "unknown_user", "access_denied", "malformed", "unknown_mac", "scan",
           "manual")  # fmt: skip
_RECORD = struct.Struct("<BIdddB")
_GENERATION = struct.Struct("<Q")

__all__ = ["BANS_DB", "Ban", "address", "decode", "encode", "key"]


@dataclass(frozen=True, slots=True)
class Ban:
    reason: str
    failures: int
    first_at: float
    banned_at: float
    until: float

    def active(self, now: float) -> bool:
        return self.until > now


def key(address: str) -> bytes:
    """The key of an address; ValueError for text that is not an IP address."""
    packed = pack_ip(address)
    if packed == bytes(KEY_SIZE):
        raise ValueError(f"not an IP address: {address!r}")
    return packed


def address(packed: bytes) -> str:
    text = unpack_ip(bytes(packed))
    assert text is not None
    return text


def encode(ban: Ban) -> bytes:
    reason = ban.reason.encode("ascii")[:255]
    return (
        _RECORD.pack(VERSION, ban.failures, ban.first_at, ban.banned_at, ban.until, len(reason))
        + reason
    )


def decode(raw: bytes | memoryview) -> Ban:
    """ValueError for another version or a short record."""
    if len(raw) < _RECORD.size or raw[0] != VERSION:
        raise ValueError("not a version-1 ban record")
    _, failures, first_at, banned_at, until, size = _RECORD.unpack_from(raw)
    if len(raw) < _RECORD.size + size:
        raise ValueError("truncated ban record")
    reason = bytes(raw[_RECORD.size : _RECORD.size + size]).decode("ascii", "replace")
    return Ban(reason, failures, first_at, banned_at, until)


def encode_generation(value: int) -> bytes:
    return _GENERATION.pack(value)


def decode_generation(raw: bytes | memoryview | None) -> int:
    return 0 if raw is None else int(_GENERATION.unpack(bytes(raw))[0])
