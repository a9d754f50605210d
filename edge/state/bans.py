"""Failures in, bans out: the firewall's kind of writer datagram (magic ``PEF1``).

Worker side (edge/sip/firewall.py): every failed attempt from a source address is noted
and sent with the next tick, framed as

    b"PEF1" | (16 bytes address | f64 at | u32 tenant (0: none) | u8 len | reason)*

Writer side (:class:`BanKeeper`, registered in edge/state/writer.py): the writer folds the
failures of every worker into one sliding window per address, so a ban does not depend on
which worker a scanner's packets reached, and writes bans (provedge/formats/bans.py) in
the writer's one write transaction per interval. It also honours what the control plane
published (provedge/formats/firewall.py): the settings, manual bans and lifts. Expired
bans are swept every ``SWEEP_S``; the windows live in the writer's memory only (a writer
restart forgets failures, never bans).
"""

from __future__ import annotations

import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import lmdb

from provedge.formats import bans, firewall
from provedge.formats.bans import Ban
from provedge.formats.edgestate import pack_ip

MAGIC = b"PEF1"
MAX_DATAGRAM = 60_000
MAX_TRACKED = 100_000  # addresses with failures in a window; beyond, the oldest are forgotten
RELOAD_S = 0.25  # how often the writer re-reads the published firewall records
SWEEP_S = 5.0  # how often expired bans are deleted (readers ignore them before that)
_HEAD = struct.Struct("<16sdIB")


@dataclass(frozen=True, slots=True)
class Failure:
    ip: bytes  # 16 bytes, pack_ip
    at: float
    tenant: int  # 0: none
    reason: str


def encode(failures: Iterable[Failure]) -> Iterator[tuple[bytes, int]]:
    """Datagrams of at most MAX_DATAGRAM bytes, each with how many failures it carries."""
    parts, size = [MAGIC], len(MAGIC)
    for failure in failures:
        reason = failure.reason.encode("ascii", "replace")[:255]
        record = _HEAD.pack(failure.ip, failure.at, failure.tenant, len(reason)) + reason
        if size + len(record) > MAX_DATAGRAM and len(parts) > 1:
            yield b"".join(parts), len(parts) - 1
            parts, size = [MAGIC], len(MAGIC)
        parts.append(record)
        size += len(record)
    if len(parts) > 1:
        yield b"".join(parts), len(parts) - 1


def decode(datagram: bytes) -> Iterator[Failure]:
    """ValueError if it is not one of ours."""
    if not datagram.startswith(MAGIC):
        raise ValueError("not a failures datagram")
    offset = len(MAGIC)
    while offset < len(datagram):
        if len(datagram) < offset + _HEAD.size:
            raise ValueError("truncated failure record")
        ip, at, tenant, size = _HEAD.unpack_from(datagram, offset)
        start = offset + _HEAD.size
        if len(datagram) < start + size:
            raise ValueError("truncated failure record")
        yield Failure(ip, at, tenant, datagram[start : start + size].decode("ascii", "replace"))
        offset = start + size


def failure(host: str, reason: str, tenant: int | None = None, at: float | None = None) -> Failure:
    return Failure(pack_ip(host), time.time() if at is None else at, tenant or 0, reason)


class BanKeeper:
    """The writer's firewall: sliding windows per address, bans, and the operator's word."""

    MAGIC = MAGIC

    def __init__(
        self, db: Any, published: Callable[[], Any], clock: Callable[[], float] = time.time
    ) -> None:
        """``db``: the edge state's ``bans`` sub-database; ``published``: returns the
        published environment and its ``firewall`` sub-database as ``(env, db)``, or None
        while there is none yet."""
        self._db = db
        self._published = published
        self._clock = clock
        self._pending: list[Failure] = []
        self._windows: dict[bytes, deque[float]] = {}
        self.settings = firewall.DEFAULT_SETTINGS
        self._seen: dict[bytes, bytes] = {}  # the published records applied so far
        self._next_reload = 0.0
        self._next_sweep = 0.0

    def fold(self, datagram: bytes) -> None:
        self._pending.extend(decode(datagram))

    def commit(self, txn: lmdb.Transaction) -> bool:
        """Apply what arrived and what was published; True when a ban changed."""
        db, now = self._db, self._clock()
        changed = False
        if now >= self._next_reload:
            self._next_reload = now + RELOAD_S
            changed |= self._reload(txn, db)
        pending, self._pending = self._pending, []
        for item in sorted(pending, key=lambda f: f.at):
            changed |= self._count(txn, db, item, now)
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_S
            changed |= self._sweep(txn, db, now)
        if changed:
            generation = bans.decode_generation(txn.get(bans.GENERATION_KEY, db=db))
            txn.put(bans.GENERATION_KEY, bans.encode_generation(generation + 1), db=db)
        return changed

    def _count(self, txn: lmdb.Transaction, db: Any, item: Failure, now: float) -> bool:
        policy = self.settings.policy(item.tenant)
        if policy.trusts(bans.address(item.ip)):
            return False
        current = txn.get(item.ip, db=db)
        if current is not None and bans.decode(current).active(now):
            return False  # banned already: its packets are not even read any more
        window = self._windows.get(item.ip)
        if window is None:
            if len(self._windows) >= MAX_TRACKED:
                self._forget(now)
            window = self._windows[item.ip] = deque()
        window.append(item.at)
        while window and window[0] <= item.at - policy.window_s:
            window.popleft()
        if len(window) < policy.max_failures:
            return False
        ban = Ban(item.reason, len(window), window[0], item.at, item.at + policy.ban_s)
        txn.put(item.ip, bans.encode(ban), db=db)
        del self._windows[item.ip]
        return True

    def _forget(self, now: float) -> None:
        """Drop the windows whose last failure is older than any window (or, when every
        one is recent, the oldest half): memory stays bounded under a spread-out scan."""
        longest = max([self.settings.default.window_s] +
                      [p.window_s for p in self.settings.tenants.values()])  # fmt: skip
        stale = [ip for ip, window in self._windows.items() if window[-1] <= now - longest]
        if not stale:
            stale = sorted(self._windows, key=lambda ip: self._windows[ip][-1])
            stale = stale[: len(stale) // 2]
        for ip in stale:
            del self._windows[ip]

    def _sweep(self, txn: lmdb.Transaction, db: Any, now: float) -> bool:
        expired = [
            bytes(key)
            for key, raw in txn.cursor(db=db)
            if len(key) == bans.KEY_SIZE and not bans.decode(raw).active(now)
        ]
        for key in expired:
            txn.delete(key, db=db)
        return bool(expired)

    def _reload(self, txn: lmdb.Transaction, db: Any) -> bool:
        """Read the published firewall records; apply new manual bans and lifts."""
        source = self._published()
        if source is None:
            return False
        env, published = source
        with env.begin(db=published) as read:
            records = {bytes(k): bytes(v) for k, v in read.cursor()}
        new = {k: v for k, v in records.items() if self._seen.get(k) != v}
        self._seen = records
        if firewall.SETTINGS_KEY in new:
            self.settings = firewall.decode_settings(new[firewall.SETTINGS_KEY])
        changed = False
        now = self._clock()
        for name, raw in new.items():
            text = name.decode()
            if text.startswith(firewall.LIFT_PREFIX):
                changed |= self._lift(txn, db, text[len(firewall.LIFT_PREFIX) :], raw)
        for name, raw in new.items():
            text = name.decode()
            if text.startswith(firewall.BAN_PREFIX):
                ban = bans.decode(raw)
                key = bans.key(text[len(firewall.BAN_PREFIX) :])
                if ban.active(now) and not self._lifted(records, key, ban):
                    txn.put(key, raw, db=db)
                    changed = True
        return changed

    def _lift(self, txn: lmdb.Transaction, db: Any, address: str, raw: bytes) -> bool:
        at = firewall.decode_lift(raw)
        key = bans.key(address)
        window = self._windows.get(key)
        if window is not None:
            while window and window[0] <= at:
                window.popleft()
        current = txn.get(key, db=db)
        if current is not None and bans.decode(current).banned_at <= at:
            txn.delete(key, db=db)
            return True
        return False

    @staticmethod
    def _lifted(records: dict[bytes, bytes], key: bytes, ban: Ban) -> bool:
        lift = records.get(firewall.lift_key(bans.address(key)))
        return lift is not None and ban.banned_at <= firewall.decode_lift(lift)
