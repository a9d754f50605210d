"""When each API token was last used, without a write per request.

Requests only note the time in memory; the notes are written in one transaction at most
every ``interval_s`` (by the request that finds the interval over, or :meth:`flush` when
a listing wants them fresh, and at shutdown). ``last_used_at`` is thus at most
``interval_s`` late, and the writer is taken once per interval, not once per request.
The column is bookkeeping: the audit trail does not record its updates.
"""

from __future__ import annotations

import threading
import time

from control.storage.db import Database

DEFAULT_INTERVAL_S = 10.0


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class LastUse:
    def __init__(self, db: Database, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.db = db
        self.interval_s = interval_s
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._due = time.monotonic() + interval_s

    def touch(self, token_hash: str) -> None:
        with self._lock:
            self._seen[token_hash] = time.time()
            due = time.monotonic() >= self._due
        if due:
            self.flush()

    def flush(self) -> int:
        """Writes the noted times now; how many tokens."""
        with self._lock:
            seen, self._seen = self._seen, {}
            self._due = time.monotonic() + self.interval_s
        if seen:
            with self.db.transaction() as conn:
                conn.executemany(
                    "UPDATE tokens SET last_used_at = ? WHERE token_hash = ?",
                    [(_iso(at), token_hash) for token_hash, at in seen.items()],
                )
        return len(seen)
