"""Failed authentications per source address, refused with 429 past a limit.

A moving window per address: the times of its last ``limit`` failures. An address with
``limit`` failures within ``window_s`` gets 429 (``Retry-After``: until the oldest ages
out) for every request that carries a token, valid or not; otherwise a guess that
happens to be right would still answer differently. Requests without a token are not
guesses and are not counted. In memory, per process: a guesser is slowed to ``limit``
tries per window per address, which is what this is for; nothing needs to survive a
restart. (A deque per address is all it takes; a rate-limit library would add a
dependency for these lines.)
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

DEFAULT_LIMIT = 10
DEFAULT_WINDOW_S = 60.0
MAX_ADDRESSES = 100_000  # past this, addresses whose failures aged out are forgotten


class FailureThrottle:
    def __init__(self, limit: int = DEFAULT_LIMIT, window_s: float = DEFAULT_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str, now: float | None = None) -> int | None:
        """Seconds until ``address`` may try again, or None when it may now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            failures = self._failures.get(address)
            if failures is None or len(failures) < self.limit:
                return None
            wait = failures[0] + self.window_s - now
        return math.ceil(wait) if wait > 0 else None

    def failed(self, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            failures = self._failures.get(address)
            if failures is None:
                if len(self._failures) >= MAX_ADDRESSES:
                    self._forget(now)
                failures = self._failures[address] = deque(maxlen=self.limit)
            failures.append(now)

    def _forget(self, now: float) -> None:
        stale = [a for a, f in self._failures.items() if f[-1] + self.window_s <= now]
        for address in stale or list(self._failures)[: MAX_ADDRESSES // 10]:
            del self._failures[address]
