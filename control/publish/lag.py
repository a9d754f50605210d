"""The publish lag: how long a change waited between its write to SQLite and LMDB.

For every tenant, device and account a publish step writes to LMDB, the lag is the time
from the row's ``ahead_since`` (schema.sql, "Ahead of LMDB": its insert, or the first
change of its files after its last publish; later changes waiting with it share the
oldest one's time) to the end of the LMDB write transaction that published it, the
moment the edge serves the new bytes (its reads are one short transaction each). The
time is the one SQLite's clock gave the write's statement, so the transaction's own
remaining time counts in the lag, never against it. Rows whose compile failed are not
published and not observed; nor are rows from before the column (``ahead_since`` NULL).

Plain numbers under a lock (a step observes, a scrape reads from another thread), as a
histogram by kind (``tenant``, ``device``, ``account``): control/api/metrics.py renders
it. Only this process's publishes are counted; the counts start at zero with it.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable

# Seconds: a request's own publish takes milliseconds, a mass recompile's last batch minutes.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
           300.0, 900.0, 3600.0)  # fmt: skip
KINDS = ("tenant", "device", "account")


class PublishLag:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # kind -> (counts per bucket, the last one above every bound; sum of seconds)
        self._buckets = {kind: [0] * (len(BUCKETS) + 1) for kind in KINDS}
        self._sums = dict.fromkeys(KINDS, 0.0)

    def observe(self, kind: str, published_at: float, ahead_since: Iterable[float | None]) -> None:
        """The rows of ``kind`` that the transaction ending at ``published_at`` published."""
        with self._lock:
            buckets = self._buckets[kind]
            for since in ahead_since:
                if since is None:
                    continue
                seconds = max(published_at - since, 0.0)  # clocks of one host; never negative
                buckets[bisect_left(BUCKETS, seconds)] += 1
                self._sums[kind] += seconds

    def snapshot(self) -> dict[str, tuple[list[int], float]]:
        """kind -> (counts per bucket, sum of seconds)."""
        with self._lock:
            return {kind: (list(self._buckets[kind]), self._sums[kind]) for kind in KINDS}
