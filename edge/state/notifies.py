"""Reboot and re-sync outcomes in, kept per target: the ``PNR1`` kind of writer datagram.

Worker side (edge/sip/reboot.py): each outcome goes to the writer with the next tick, as

    b"PNR1" | (12-byte target key | u32 len(value) | value)*

with the value as provedge/formats/reboots.py describes. Writer side
(:class:`OutcomeKeeper`): an outcome is stored unless a stronger one is there already
(several workers may speak of one target: the sender about a timeout, the worker the
phone's answer reached about the 200), in the writer's one transaction per interval.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import Any

import lmdb

from provedge.formats import reboots

MAGIC = b"PNR1"
KEY_SIZE = 12
MAX_DATAGRAM = 60_000
_LEN = struct.Struct("<I")

Outcome = tuple[bytes, bytes]  # (target key, encoded outcome)


def encode(outcomes: Iterable[Outcome]) -> Iterator[bytes]:
    parts, size = [MAGIC], len(MAGIC)
    for key, value in outcomes:
        record = key + _LEN.pack(len(value)) + value
        if size + len(record) > MAX_DATAGRAM and len(parts) > 1:
            yield b"".join(parts)
            parts, size = [MAGIC], len(MAGIC)
        parts.append(record)
        size += len(record)
    if len(parts) > 1:
        yield b"".join(parts)


def decode(datagram: bytes) -> Iterator[Outcome]:
    """ValueError if it is not one of ours."""
    if not datagram.startswith(MAGIC):
        raise ValueError("not an outcomes datagram")
    offset = len(MAGIC)
    while offset < len(datagram):
        value_at = offset + KEY_SIZE + _LEN.size
        if len(datagram) < value_at:
            raise ValueError("truncated outcome")
        (length,) = _LEN.unpack_from(datagram, offset + KEY_SIZE)
        if len(datagram) < value_at + length:
            raise ValueError("truncated outcome")
        yield datagram[offset : offset + KEY_SIZE], datagram[value_at : value_at + length]
        offset = value_at + length


class OutcomeKeeper:
    MAGIC = MAGIC

    def __init__(self, db: Any) -> None:
        self._db = db
        self._pending: list[Outcome] = []

    def fold(self, datagram: bytes) -> None:
        self._pending.extend(decode(datagram))

    def commit(self, txn: lmdb.Transaction) -> bool:
        pending, self._pending = self._pending, []
        for key, value in pending:
            try:
                new = reboots.decode(value)
            except ValueError:
                continue
            raw = txn.get(key, db=self._db)
            old = None
            if raw is not None:
                try:
                    old = reboots.decode(raw)
                except ValueError:
                    old = None
            if reboots.stronger(new, old):
                txn.put(key, value, db=self._db)
        return bool(pending)
