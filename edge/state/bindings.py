"""Binding changes in, bindings out: the registrar's kind of writer datagram (``PER1``).

Worker side (edge/sip/bindings.py): each REGISTER's changes go to the writer with the next
tick, framed as

    b"PER1" | (u8 op | u8 len(key) | key | u32 len(value) | value)*

    op 1 PUT     key: 24-byte binding key, value: the record (provedge/formats/bindings.py)
    op 2 DELETE  key: 24-byte binding key, no value
    op 3 CLEAR   key: 8-byte account prefix (``Contact: *``), no value

Writer side (:class:`BindingKeeper`, registered in edge/state/writer.py): the operations
of every worker are applied in arrival order inside the writer's one write transaction per
interval, so all workers see one set of bindings, and they survive an edge restart.
Expired bindings are swept a slice at a time (``SWEEP_SLICE`` records every ``SWEEP_S``),
so a sweep over half a million phones never holds the write lock for long; readers skip
expired records before the sweep reaches them.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import lmdb

from provedge.formats import bindings

MAGIC = b"PER1"
PUT, DELETE, CLEAR = 1, 2, 3
MAX_DATAGRAM = 60_000
SWEEP_S = 2.0
SWEEP_SLICE = 20_000
_OP = struct.Struct("<BB")
_LEN = struct.Struct("<I")

Operation = tuple[int, bytes, bytes]  # (op, key, value)


def encode(operations: Iterable[Operation]) -> Iterator[tuple[bytes, int]]:
    """Datagrams of at most MAX_DATAGRAM bytes, each with how many operations it carries."""
    parts, size, count = [MAGIC], len(MAGIC), 0
    for op, key, value in operations:
        record = _OP.pack(op, len(key)) + key + _LEN.pack(len(value)) + value
        if size + len(record) > MAX_DATAGRAM and count:
            yield b"".join(parts), count
            parts, size, count = [MAGIC], len(MAGIC), 0
        parts.append(record)
        size += len(record)
        count += 1
    if count:
        yield b"".join(parts), count


def decode(datagram: bytes) -> Iterator[Operation]:
    """ValueError if it is not one of ours."""
    if not datagram.startswith(MAGIC):
        raise ValueError("not a bindings datagram")
    offset = len(MAGIC)
    while offset < len(datagram):
        if len(datagram) < offset + _OP.size:
            raise ValueError("truncated binding operation")
        op, key_len = _OP.unpack_from(datagram, offset)
        start = offset + _OP.size
        value_at = start + key_len + _LEN.size
        if op not in (PUT, DELETE, CLEAR) or len(datagram) < value_at:
            raise ValueError("malformed binding operation")
        (value_len,) = _LEN.unpack_from(datagram, start + key_len)
        end = value_at + value_len
        if len(datagram) < end:
            raise ValueError("truncated binding operation")
        yield op, datagram[start : start + key_len], datagram[value_at:end]
        offset = end


class BindingKeeper:
    """The writer's side: apply what workers sent, sweep what expired."""

    MAGIC = MAGIC

    def __init__(self, db: Any, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self._pending: list[Operation] = []
        self._next_sweep = 0.0
        self._resume = b""  # where the next sweep slice starts

    def fold(self, datagram: bytes) -> None:
        self._pending.extend(decode(datagram))

    def commit(self, txn: lmdb.Transaction) -> bool:
        db = self._db
        pending, self._pending = self._pending, []
        for op, key, value in pending:
            if op == PUT:
                txn.put(key, value, db=db)
            elif op == DELETE:
                txn.delete(key, db=db)
            else:
                self._clear(txn, key)
        now = self._clock()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_S
            self._sweep(txn, now)
        return bool(pending)

    def _clear(self, txn: lmdb.Transaction, prefix: bytes) -> None:
        cursor = txn.cursor(db=self._db)
        if not cursor.set_range(prefix):
            return
        while cursor.key()[: len(prefix)] == prefix:
            if not cursor.delete():
                break

    def _sweep(self, txn: lmdb.Transaction, now: float) -> None:
        cursor = txn.cursor(db=self._db)
        if not cursor.set_range(self._resume):
            self._resume = b""
            return
        expired = []
        for seen, (key, raw) in enumerate(cursor, 1):
            if seen > SWEEP_SLICE:
                self._resume = bytes(key)
                break
            try:
                if bindings.decode(raw)["expires_at"] <= now:
                    expired.append(bytes(key))
            except (ValueError, KeyError):
                expired.append(bytes(key))  # a record no reader can use
        else:
            self._resume = b""
        for key in expired:
            txn.delete(key, db=self._db)
