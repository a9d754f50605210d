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

from control.storage import audit
from provedge.private import private_dir, private_file

DB_FILE = "provedge.sqlite3"


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 5000")
    # 64 MiB of pages, not SQLite's 2 MiB: a batch of 100,000 accounts updates nine
    # indexes and two full-text tables, which then stay in memory while it is written.
    conn.execute("PRAGMA cache_size = -65536")
    return conn


# Schema version 1 had accounts with a username, a password, a display name, expires
# (30..86400) and enabled. The new shape needs new CHECKs on existing columns, which SQLite
# cannot add in place, so the table is rebuilt in one transaction (SQLite's documented
# procedure: foreign keys off, references left pointing at the name "accounts").
_ACCOUNTS_V1_TO_V2 = """
PRAGMA foreign_keys = OFF;
PRAGMA legacy_alter_table = ON;
BEGIN IMMEDIATE;
ALTER TABLE accounts RENAME TO accounts_v1;
{schema}
-- expires is clamped into 60..3600: the phones carrying such an account are republished
UPDATE devices SET rev = rev + 1 WHERE mac IN (
    SELECT dl.mac FROM device_lines dl
    JOIN extension_accounts ea ON ea.extension_id = dl.extension_id AND ea.position = 1
    JOIN accounts_v1 a ON a.id = ea.account_id WHERE a.expires NOT BETWEEN 60 AND 3600);
INSERT INTO accounts (id, tenant_id, username, password, display_name, expires, enabled, realm)
    SELECT a.id, a.tenant_id, a.username, a.password, a.display_name,
           min(max(a.expires, 60), 3600), a.enabled, t.realm
    FROM accounts_v1 a JOIN tenants t ON t.id = a.tenant_id;
DROP TABLE accounts_v1;
COMMIT;
PRAGMA legacy_alter_table = OFF;
PRAGMA foreign_keys = ON;
"""


# The search tables are external-content FTS5 tables: 'rebuild' reads the accounts afresh.
_REBUILD_SEARCH = """
BEGIN IMMEDIATE;
INSERT INTO accounts_words (accounts_words) VALUES ('rebuild');
INSERT INTO accounts_grams (accounts_grams) VALUES ('rebuild');
COMMIT;
"""


# device_counts is kept by triggers from its creation on; what was there before is counted.
_FILL_DEVICE_COUNTS = """
BEGIN IMMEDIATE;
INSERT INTO device_counts (tenant_id, devices, assigned)
    SELECT tenant_id, count(*), sum(line_count > 0) FROM devices GROUP BY tenant_id;
COMMIT;
"""


# Columns added to existing tables after their first release: (table, column, definition).
# A database made before them gets them in place (ALTER TABLE ADD COLUMN keeps every row).
_ADDED_COLUMNS = (
    ("device_lines", "label", "TEXT NOT NULL DEFAULT ''"),
    ("devices", "provision_base", "INTEGER NOT NULL DEFAULT 0"),
    ("tokens", "account_id", "INTEGER REFERENCES accounts(id) ON DELETE CASCADE"),
    ("tokens", "expires_at", "REAL"),
    ("tokens", "last_used_at", "TEXT"),
    ("tenants", "pnp", "INTEGER NOT NULL DEFAULT 1 CHECK (pnp IN (0, 1))"),
    # a custom template chosen for this device (control/publish/custom.py)
    ("devices", "template_id", "INTEGER REFERENCES templates(id) ON DELETE SET NULL"),
    # why its files could not be rendered at the last publish ('' : they were)
    ("devices", "render_error", "TEXT NOT NULL DEFAULT ''"),
    # custom template variables: the tenant declares them, a device may set its own values
    ("tenants", "vars", "TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(vars))"),
    (
        "tenants",
        "provision_mode",
        "TEXT NOT NULL DEFAULT 'fqdn' CHECK (provision_mode IN ('fqdn', 'public_ip'))",
    ),
    (
        "tenants",
        "provision_limit",
        "INTEGER CHECK (provision_limit IS NULL OR provision_limit >= 1)",
    ),
    ("tenants", "hotdesk_pin", "TEXT NOT NULL DEFAULT ''"),
    ("devices", "vars", "TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(vars))"),
    # schema.sql, "Ahead of LMDB"; rows already there read as ahead since unknown (NULL)
    ("tenants", "ahead_since", "REAL"),
    ("devices", "ahead_since", "REAL"),
    ("accounts", "ahead_since", "REAL"),
    ("devices", "line_count", "INTEGER NOT NULL DEFAULT 0"),
    ("devices", "last_fetch_us", "INTEGER NOT NULL DEFAULT 0"),
    ("devices", "provision_count", "INTEGER NOT NULL DEFAULT 0"),
    # its background image; supersedes background_url, which stays in such a database
    # unused (a free URL reached one vendor family only)
    ("devices", "background_id", "INTEGER REFERENCES backgrounds(id)"),
    (
        "tenants",
        "delivery_policy",
        (
            "TEXT NOT NULL DEFAULT 'keyed_url' CHECK (delivery_policy IN ('keyed_url',"
            " 'device_credentials', 'keyed_url+ua_mac_match', 'device_credentials+ua_mac_match'))"
        ),
    ),
    # ALTER TABLE takes no random default: the backfill draws each row's password
    ("devices", "fetch_password", "TEXT NOT NULL DEFAULT ''"),
    ("devices", "delivery_cycle", "INTEGER NOT NULL DEFAULT 0"),  # drawn by the backfill
)
# What an added column holds for the rows it was added to, when not its default; the
# fetch copies wait for control/fetchmirror.py's first refresh.
_BACKFILLS = {
    ("devices", "fetch_password"): (
        "UPDATE devices SET fetch_password = lower(hex(randomblob(12))) WHERE fetch_password = ''"
    ),
    ("devices", "delivery_cycle"): (
        "UPDATE devices SET delivery_cycle = random() & 9223372036854775807"
    ),
    ("devices", "line_count"): (
        "UPDATE devices SET line_count = (SELECT count(*) FROM device_lines l WHERE l.mac = devices.mac)"
    ),
}


def _add_columns(conn: sqlite3.Connection) -> None:
    for table, column, definition in _ADDED_COLUMNS:
        columns = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
        if columns and column not in columns:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            if (table, column) in _BACKFILLS:
                conn.execute(_BACKFILLS[table, column])


def _migrate_accounts(conn: sqlite3.Connection, schema: str) -> None:
    columns = {row["name"] for row in conn.execute("PRAGMA table_info(accounts)")}
    if not columns or "auth_method" in columns:
        return  # a new database, or one already migrated
    try:
        conn.executescript(_ACCOUNTS_V1_TO_V2.replace("{schema}", schema))
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute("PRAGMA legacy_alter_table = OFF")
        conn.execute("PRAGMA foreign_keys = ON")
        raise


class Database:
    def __init__(self, data_dir: str | Path) -> None:
        self.path = private_dir(data_dir) / DB_FILE
        private_file(self.path)  # 0600 before SQLite opens it; -wal/-shm inherit the mode
        self._conn = _connect(self.path)
        self._lock = threading.RLock()
        self._conn.execute("PRAGMA journal_mode = WAL")
        schema = resources.files("control.storage").joinpath("schema.sql").read_text()
        # executescript commits on its own, so it runs outside transaction(); the
        # schema is idempotent (IF NOT EXISTS), and an older database is migrated first.
        _migrate_accounts(self._conn, schema)
        _add_columns(self._conn)
        searchable = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'accounts_words'"
        ).fetchone()
        counted = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'device_counts'"
        ).fetchone()
        self._conn.executescript(schema)
        if not counted:  # new to this database: count the devices it has
            self._conn.executescript(_FILL_DEVICE_COUNTS)
        if not searchable:  # search tables new to this database: index the accounts it has
            self._conn.executescript(_REBUILD_SEARCH)
        audit.install(self._conn)  # every write of this connection is recorded from here on
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
