"""The SQLite source of truth: one writer connection, a reader connection per thread, WAL.

All writes go through :meth:`Database.transaction` (``BEGIN IMMEDIATE`` on the one writer
connection, under a lock), so a request either commits whole or leaves nothing behind
(the datasette "one writer callers wait for" idea). Reads go through :meth:`Database.read`
on a connection of their own thread: in WAL mode a reader sees the last committed state
and never waits for a writer, so a long write (a big import, a mass recompile's marks)
does not stall the API's reads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from provedge.private import private_dir, private_file

DB_FILE = "provedge.sqlite3"


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


class Database:
    def __init__(self, data_dir: str | Path) -> None:
        self.path = private_dir(data_dir) / DB_FILE
        private_file(self.path)  # 0600 before SQLite opens it; -wal/-shm inherit the mode
        self._conn = _connect(self.path)
        self._lock = threading.RLock()
        self._conn.execute("PRAGMA journal_mode = WAL")
        schema = resources.files("control.storage").joinpath("schema.sql").read_text()
        # executescript commits on its own, so it runs outside transaction(); the
        # schema is idempotent (IF NOT EXISTS).
        self._conn.executescript(schema)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The one writer: serialised, ``BEGIN IMMEDIATE``, committed whole or rolled back."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several queries, without waiting for any writer."""
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.execute("PRAGMA query_only = ON")  # a reader that tries to write is a bug
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        with self.read() as conn:
            return conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        with self._lock:
            self._conn.close()
