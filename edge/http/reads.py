"""One read transaction of the published LMDB for each turn of the event loop.

A fetch reads two or three values (the blob, the MAC's delivery rule, its provision
limit); a read transaction of its own for each costs more than the reads themselves
(``begin`` and its end about 0.45 µs, a ``get`` 0.3 µs, docs/performance.md). So every
read of one turn of the loop shares one transaction, ended by a ``call_soon`` callback:
a commit of the publisher is seen by the first request of the next turn, before any
request read after it, and no reader slot is held while the loop waits for the network.
Without a running loop (a test or benchmark calling ``EdgeApp.answer`` directly) each
call gets a transaction of its own, ended when the caller drops it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import lmdb


class Reads:
    __slots__ = ("_txn", "env")

    def __init__(self, env: lmdb.Environment) -> None:
        self.env = env
        self._txn: lmdb.Transaction | None = None

    def txn(self) -> lmdb.Transaction:
        """This turn's read transaction (``buffers=True``: values are valid in it only)."""
        txn = self._txn
        if txn is not None:
            return txn
        txn = self.env.begin(buffers=True)
        try:
            asyncio.get_running_loop().call_soon(self._end)
        except RuntimeError:
            return txn  # no loop: this call's alone
        self._txn = txn
        return txn

    def open_db(self, name: bytes) -> Any | None:
        """A named sub-database's handle; None while nothing has published it. LMDB lets
        no transaction begun before a handle was opened read through it, so the turn's
        transaction is ended: the next read begins one that can."""
        try:
            handle = self.env.open_db(name, create=False)
        except lmdb.Error:
            return None
        self._end()
        return handle

    def _end(self) -> None:
        txn, self._txn = self._txn, None
        if txn is not None:
            txn.abort()
