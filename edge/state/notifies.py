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
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import lmdb

from provedge.formats import reboots

MAGIC = b"PNR1"
KEY_SIZE = 12
MAX_DATAGRAM = 60_000
KEEP_S = 7 * 86400.0
SWEEP_S = 60.0
SWEEP_SLICE = 20_000
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
    """The writer's side: keep the strongest outcome, sweep those older than ``KEEP_S``
    (a slice of ``SWEEP_SLICE`` records every ``SWEEP_S``: a job reads its outcomes
    while it runs; a week later nobody does)."""

    MAGIC = MAGIC

    def __init__(self, db: Any, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self._pending: list[Outcome] = []
        self._next_sweep = 0.0
        self._resume = b""

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
        now = self._clock()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_S
            self._sweep(txn, now - KEEP_S)
        return bool(pending)

    def _sweep(self, txn: lmdb.Transaction, before: float) -> None:
        cursor = txn.cursor(db=self._db)
        if not cursor.set_range(self._resume):
            self._resume = b""
            return
        old = []
        for seen, (key, raw) in enumerate(cursor, 1):
            if seen > SWEEP_SLICE:
                self._resume = bytes(key)
                break
            try:
                if float(reboots.decode(raw)["at"]) < before:
                    old.append(bytes(key))
            except (ValueError, KeyError):
                old.append(bytes(key))
        else:
            self._resume = b""
        for key in old:
            txn.delete(key, db=self._db)
