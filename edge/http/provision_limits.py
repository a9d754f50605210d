"""Whether a device has fetched its own files as often as its tenant allows.

Two reads per fetch of a per-MAC file, both LMDB, both cheap: the device's stop count in
the published ``limits`` sub-database (provedge/formats/limits.py; most tenants publish
none, and then that read is all), and the MAC's fetch count in the edge state. The count
is the writer's, so fetches still in the workers' batches (tens of milliseconds) are not
in it: a phone may get a file or two past its limit when it fetches them at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lmdb

from edge.http.reads import Reads
from provedge.formats import edgestate, limits


class ProvisionLimits:
    def __init__(self, data_dir: str | Path, reads: Reads) -> None:
        self.data_dir = data_dir
        self._reads = reads
        self._limits: Any = None
        self._state: tuple[lmdb.Environment, Any] | None = None

    def reached(self, mac: str) -> bool:
        stop_at = self._stop_at(mac)
        if stop_at is None:
            return False
        if self._state is None:
            self._state = edgestate.open_reader(self.data_dir, edgestate.FETCHES_DB)
            if self._state is None:
                return False  # no fetch counted yet anywhere
        env, db = self._state
        with env.begin(db=db, buffers=True) as txn:
            raw = txn.get(mac.encode())
            stamp = None if raw is None else edgestate.decode_stamp(raw)
        return stamp is not None and stamp[0] >= stop_at

    def _stop_at(self, mac: str) -> int | None:
        if self._limits is None:
            self._limits = self._reads.open_db(limits.LIMITS_DB)
            if self._limits is None:
                return None  # nothing published with limits yet
        txn = self._reads.txn()
        raw = txn.get(mac.encode(), db=self._limits)
        return None if raw is None else limits.decode(raw)

    def close(self) -> None:
        if self._state is not None:
            edgestate.close_reader(self._state[0])
            self._state = None
