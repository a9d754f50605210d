"""The published account records as the registrar reads them (provedge/formats/accounts.py).

A REGISTER names a user and a domain (the To URI). The publisher keys each account under
its realm and, when the tenant's SIP server name differs from the realm, under that name
too, so ``{domain}/{user}/`` finds the account whichever one the phone was configured
with. Decoded records are cached per LMDB key and dropped when the key's bytes change,
so a hot registrar decodes a record once per publication, not once per REGISTER.
"""

from __future__ import annotations

from typing import Any

import lmdb

from provedge.formats import accounts

Record = dict[str, Any]
MAX_CACHED = 200_000


class AccountDirectory:
    def __init__(self, env: lmdb.Environment) -> None:
        self._env = env
        self._db: Any = None
        self._cache: dict[bytes, tuple[bytes, Record]] = {}

    def _open(self) -> bool:
        if self._db is None:
            try:
                self._db = self._env.open_db(accounts.ACCOUNTS_DB, create=False)
            except lmdb.Error:
                return False  # nothing published yet
        return True

    def find(self, domain: str, username: str) -> list[Record]:
        """The records of ``username`` at ``domain`` (several when tenants share both)."""
        if not self._open() or "/" in domain or "/" in username:
            return []
        prefix = f"{domain.lower()}/{username}/".encode()
        found: list[Record] = []
        with self._env.begin(db=self._db, buffers=True) as txn:
            cursor = txn.cursor()
            if not cursor.set_range(prefix):
                return []
            for stored, raw in cursor:
                key = bytes(stored)
                if not key.startswith(prefix):
                    break
                found.append(self._decode(key, raw))
        return found

    def realm_of(self, domain: str) -> str:
        """The realm an unknown user at ``domain`` is challenged with: the realm of the
        first account there, else the domain itself. A known user of the same domain
        gets the same realm, so the challenge does not tell the two apart."""
        if self._open() and "/" not in domain:
            prefix = f"{domain.lower()}/".encode()
            with self._env.begin(db=self._db, buffers=True) as txn:
                cursor = txn.cursor()
                if cursor.set_range(prefix):
                    key = bytes(cursor.key())
                    if key.startswith(prefix):
                        return str(self._decode(key, cursor.value())["realm"])
        return domain

    def _decode(self, key: bytes, raw: Any) -> Record:
        data = bytes(raw)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == data:
            return cached[1]
        record = accounts.decode_record(data)
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[key] = (data, record)
        return record
