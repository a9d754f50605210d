"""Writes compiled blobs into LMDB: the one interface the publish step hides behind.

An *owner* (``device/<mac>`` or ``tenant/<id>``) publishes its whole set of files at once;
``account/<id>`` publishes its registrar record (provedge/formats/accounts.py) the same
way, into the accounts sub-database; ``pnp/...`` its plug-and-play records
(provedge/formats/pnp.py) and ``firewall`` the firewall's settings, manual bans and lifts
(provedge/formats/firewall.py), each into its own sub-database.
All owners of a batch go into one write transaction, so a reader sees either the old set
or the new one, never half; files an owner no longer has are deleted in the same
transaction. Publishing the same set twice changes no file (idempotent), which is what
makes redoing an interrupted publish after a restart safe.

Every publish transaction also bumps the *publish generation* (provedge/formats/store.py,
``META_DB``) and notes its time, in the same transaction: the number names the LMDB state
the edge serves, and counts the publishes across restarts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import lmdb
import orjson

from provedge.formats import accounts, delivery, firewall, limits, pnp, reboots, store


@dataclass(frozen=True, slots=True)
class Publication:
    owner: str
    files: Mapping[bytes, bytes]  # blob key -> encoded blob; empty = withdraw the owner


class Publisher(Protocol):
    def publish(self, batch: Iterable[Publication]) -> None: ...

    def owners(self) -> Iterator[str]: ...

    def generation(self) -> tuple[int, float]: ...

    def close(self) -> None: ...


class LmdbPublisher:
    def __init__(self, env: lmdb.Environment) -> None:
        self._env = env
        self._blobs = env.open_db(store.BLOBS_DB)
        self._index = env.open_db(store.INDEX_DB)
        self._accounts = env.open_db(accounts.ACCOUNTS_DB)
        # Owners whose records are not files, by prefix: each kind has its sub-database.
        self._dbs = (
            (accounts.OWNER_PREFIX, self._accounts),
            (pnp.OWNER_PREFIX, env.open_db(pnp.PNP_DB)),
            (firewall.OWNER, env.open_db(firewall.FIREWALL_DB)),
            (reboots.OWNER_PREFIX, env.open_db(reboots.REBOOTS_DB)),
            (limits.OWNER_PREFIX, env.open_db(limits.LIMITS_DB)),
            (delivery.OWNER_PREFIX, env.open_db(delivery.DELIVERY_DB)),
        )
        self._meta = env.open_db(store.META_DB)
        # the same, by the owner's kind (what comes before its first "/"): one dict
        # look-up per owner, where a recompile publishes three owners per phone
        self._db_of_kind = {prefix.partition("/")[0]: db for prefix, db in self._dbs}

    def publish(self, batch: Iterable[Publication]) -> None:
        with self._env.begin(write=True) as txn:
            for publication in batch:
                self._replace(txn, publication)
            generation, _ = store.decode_generation(txn.get(store.GENERATION_KEY, db=self._meta))
            txn.put(
                store.GENERATION_KEY, store.encode_generation(generation + 1, time.time()),
                db=self._meta,
            )  # fmt: skip

    def generation(self) -> tuple[int, float]:
        """The generation LMDB holds now, and when it was published."""
        with self._env.begin(db=self._meta) as txn:
            return store.decode_generation(txn.get(store.GENERATION_KEY))

    def _replace(self, txn: lmdb.Transaction, publication: Publication) -> None:
        owner_key = publication.owner.encode()
        db = self._db_of_kind.get(publication.owner.partition("/")[0], self._blobs)
        previous = txn.get(owner_key, db=self._index)
        names = (
            orjson.dumps(sorted(key.decode() for key in publication.files))
            if publication.files
            else None
        )
        # The same names as before (a recompile): nothing to delete, the index stays.
        if previous and names != previous:
            stale = set(map(str.encode, orjson.loads(previous)))
            stale.difference_update(publication.files)
            for key in stale:
                txn.delete(key, db=db)
        for key, blob in publication.files.items():
            # Unchanged bytes are not rewritten: a republish of a big tenant stays cheap
            # and LMDB pages of untouched blobs stay shared with readers.
            if txn.get(key, db=db) != blob:
                txn.put(key, blob, db=db)
        if names is None:
            if previous is not None:
                txn.delete(owner_key, db=self._index)
        elif names != previous:
            txn.put(owner_key, names, db=self._index)

    def owners(self) -> Iterator[str]:
        with self._env.begin(db=self._index) as txn:
            keys = [key.decode() for key in txn.cursor().iternext(values=False)]
        yield from keys

    def close(self) -> None:
        self._env.close()
