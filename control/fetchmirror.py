"""Copies of the edge's fetch counters in SQLite, so that the device list can sort by them.

The fetch counters live in the edge state (LMDB, written by the edge); a sort over a
million devices needs them in an index next to the tenant, so ``devices.last_fetch_us``
and ``devices.provision_count`` hold copies that :class:`FetchMirror` refreshes: every
``INTERVAL_S`` the records that changed since the last refresh (a walk of the table that
decodes two integers per record, then one UPDATE per changed device), and every
``FULL_EVERY`` refreshes all of them (a device made again for a MAC that fetched before).
A sort by these keys is therefore up to a refresh behind; the values each page shows
come from the edge state itself (docs/architecture.md, "Sorting by fetches").
"""

from __future__ import annotations

import logging
import threading

from control.storage.db import Database
from control.storage.edgestate import EdgeStateReader

log = logging.getLogger("provedge.fetches")

INTERVAL_S = 30.0
FULL_EVERY = 120  # one full refresh an hour
CHUNK = 5000  # records read, and rows written, per transaction
SLACK_US = 300_000_000  # a record stamped up to 5 min before the last refresh is read again

_UPDATE = (
    "UPDATE devices SET last_fetch_us = :at, provision_count = max(0, :count - provision_base)"
    " WHERE mac = :mac AND (last_fetch_us IS NOT :at"
    " OR provision_count IS NOT max(0, :count - provision_base))"
)


class FetchMirror:
    def __init__(self, db: Database, edge_state: EdgeStateReader) -> None:
        self.db = db
        self.edge_state = edge_state
        self._mark_us = 0  # the latest fetch seen by the last refresh
        self._refreshes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self, full: bool = False) -> int:
        """Copies the fetch records stamped after the last refresh (all of them when
        ``full`` or on the first); how many devices changed."""
        since = 0 if full or self._mark_us == 0 else self._mark_us - SLACK_US
        changed = 0
        latest = self._mark_us
        after = ""
        for _ in range(1 << 40):  # bounded by the table: each round moves ``after`` on
            if self._stop.is_set():  # closing: the next start refreshes everything
                return changed
            stamps, resume = self.edge_state.stamps(since, after, CHUNK)
            if stamps:
                latest = max(latest, max(at for _, _, at in stamps))
                with self.db.transaction() as conn:
                    before = conn.total_changes
                    conn.executemany(
                        _UPDATE, [{"mac": m, "count": c, "at": at} for m, c, at in stamps]
                    )
                    changed += conn.total_changes - before
            if resume is None:
                break
            after = resume
        self._mark_us = latest
        return changed

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="provedge-fetches", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh(full=self._refreshes % FULL_EVERY == 0)
            except Exception:  # the next round tries again; the list sorts by older copies
                log.exception("refreshing the fetch copies failed")
            self._refreshes += 1
            self._stop.wait(INTERVAL_S)
