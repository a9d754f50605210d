"""The control plane's read-only view of the edge state (fetch counters, bans, bindings).

The edge writes ``DATA/edge-state`` (provedge.formats.edgestate); the control plane only
opens it read-only, and copes with it not existing yet (an edge that never ran): every
device then reads as never fetched, and the environment is opened once it appears.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import lmdb

from provedge.formats import bans, bindings, edgestate, reboots
from provedge.formats.edgestate import NO_FETCH, Fetch


class EdgeStateReader:
    def __init__(self, data_dir: str | Path | None) -> None:
        self.data_dir = data_dir
        self._env: lmdb.Environment | None = None
        self._fetches: Any = None
        self._lock = threading.Lock()

    def fetches(self, macs: Iterable[str]) -> dict[str, Fetch]:
        """The fetch records of ``macs`` (12 lowercase hex), in one read transaction."""
        keys = [mac.encode() for mac in macs]
        if not keys or not self._open():
            return {}
        assert self._env is not None
        with self._env.begin(db=self._fetches, buffers=True) as txn:
            cursor = txn.cursor()
            return {
                bytes(key).decode(): edgestate.decode_fetch(raw)
                for key, raw in cursor.getmulti(keys)
            }

    def stamps(
        self, since_us: int, after: str, limit: int
    ) -> tuple[list[tuple[str, int, int]], str | None]:
        """``(mac, count, at_us)`` of the fetch records later than ``since_us`` in MAC order
        after ``after``, from at most ``limit`` records read (only the two counters decoded),
        and the MAC to resume after (None: the end). A chunk at a time keeps each read
        transaction short: the edge's writer cannot reuse pages a reader still sees."""
        if not self._open():
            return [], None
        assert self._env is not None
        found: list[tuple[str, int, int]] = []
        with self._env.begin(db=self._fetches, buffers=True) as txn:
            cursor = txn.cursor()
            start = after.encode()
            if not cursor.set_range(start):
                return [], None
            read = 0
            for stored, raw in cursor:
                key = bytes(stored)
                if key == start:
                    continue
                stamp = edgestate.decode_stamp(raw)
                if stamp is not None and stamp[1] > since_us:
                    found.append((key.decode(), *stamp))
                read += 1
                if read == limit:
                    return found, key.decode()
        return found, None

    def fetch(self, mac: str) -> Fetch:
        return self.fetches([mac]).get(mac, NO_FETCH)

    def last_fetch(self, mac: str) -> float | None:
        """When the MAC last fetched a file of its own (seconds since the epoch), if ever."""
        fetch = self.fetch(mac)
        return fetch.at_us / 1e6 if fetch.count else None

    def outcomes(self, job: int) -> dict[int, dict[str, Any]]:
        """The edge's last word on each target of reboot job ``job``, by target seq."""
        if not self._open():
            return {}
        assert self._env is not None
        try:
            db = self._env.open_db(edgestate.NOTIFIES_DB, create=False)
        except lmdb.Error:
            return {}
        prefix = reboots.job_prefix(job)
        found: dict[int, dict[str, Any]] = {}
        with self._env.begin(db=db, buffers=True) as txn:
            cursor = txn.cursor()
            if cursor.set_range(prefix):
                for key, raw in cursor:
                    if bytes(key[:8]) != prefix:
                        break
                    try:
                        found[reboots.split_key(bytes(key))[1]] = reboots.decode(raw)
                    except ValueError:
                        continue
        return found

    def bans(self) -> dict[str, bans.Ban]:
        """Every ban in the edge state, by address (expired ones the writer has not swept
        yet included: callers check ``active``)."""
        if not self._open():
            return {}
        assert self._env is not None
        found: dict[str, bans.Ban] = {}
        try:
            db = self._env.open_db(edgestate.BANS_DB, create=False)
        except lmdb.Error:
            return {}
        with self._env.begin(db=db, buffers=True) as txn:
            for key, raw in txn.cursor():
                if len(key) == bans.KEY_SIZE:
                    found[bans.address(bytes(key))] = bans.decode(raw)
        return found

    def bindings(
        self, accounts: Iterable[int] | None, tenant: int | None, after: bytes, limit: int
    ) -> tuple[list[dict[str, Any]], bytes | None]:
        """Current bindings in key order after ``after``: of ``accounts`` (None: any) and of
        ``tenant`` (None: any); at most ``limit``, and the key to resume after (None: the
        end). Without ``accounts`` this walks the table: fine for a page at a time."""
        if not self._open():
            return [], None
        assert self._env is not None
        try:
            db = self._env.open_db(edgestate.BINDINGS_DB, create=False)
        except lmdb.Error:
            return [], None
        now = time.time()
        prefixes = None if accounts is None else sorted(map(bindings.account_prefix, accounts))
        found: list[dict[str, Any]] = []
        last = b""
        with self._env.begin(db=db, buffers=True) as txn:
            cursor = txn.cursor()
            for start in prefixes if prefixes is not None else [b""]:
                if not cursor.set_range(max(start, after)):
                    break
                for stored, raw in cursor:
                    key = bytes(stored)
                    if prefixes is not None and not key.startswith(start):
                        break
                    if key <= after:
                        continue
                    record = bindings.decode(raw)
                    if record["expires_at"] <= now or tenant not in (None, record["tenant"]):
                        continue
                    if len(found) == limit:
                        return found, last
                    found.append(record)
                    last = key
        return found, None

    def binding_counts(self) -> dict[str, int]:
        """Current bindings by transport (``udp``, ``tcp``): one walk of the table, a
        decode per binding (for ``/metrics``: about 2 µs each, 0.2 s for 100,000)."""
        counts = {"udp": 0, "tcp": 0}
        if not self._open():
            return counts
        assert self._env is not None
        try:
            db = self._env.open_db(edgestate.BINDINGS_DB, create=False)
        except lmdb.Error:
            return counts
        now = time.time()
        with self._env.begin(db=db, buffers=True) as txn:
            for _, raw in txn.cursor():
                try:
                    record = bindings.decode(raw)
                except ValueError:
                    continue
                if record["expires_at"] > now:
                    transport = record["transport"]
                    counts[transport] = counts.get(transport, 0) + 1
        return counts

    def _open(self) -> bool:
        if self._env is not None:
            return True
        if self.data_dir is None:
            return False
        with self._lock:
            if self._env is None:
                opened = edgestate.open_reader(self.data_dir, edgestate.FETCHES_DB)
                if opened is None:
                    return False
                self._env, self._fetches = opened
        return True

    def close(self) -> None:
        with self._lock:
            if self._env is not None:
                edgestate.close_reader(self._env)
                self._env = None


def fetch_view(fetch: Fetch) -> dict[str, Any]:
    """The fields a device view shows about its fetches."""
    return {
        "provision_count": fetch.count,
        "last_fetch_at": edgestate.iso_utc(fetch.at_us),
        "last_fetch_ip": edgestate.unpack_ip(fetch.ip),
        "last_user_agent": fetch.user_agent.decode("utf-8", "replace") or None,
    }
