"""Compiles what SQLite says is ahead of LMDB and publishes it, in batches.

A write bumps ``rev`` on every tenant and device whose files it changes; here those with
``published_rev < rev`` are compiled, published in one LMDB transaction per batch, then
marked. Crash anywhere and the marks are simply behind: the next run redoes the work,
which is safe because publishing is idempotent.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

from control.storage import loading
from control.publish.compiler import Compiler
from control.storage.db import Database
from control.publish.publisher import Publication, Publisher

PUBLISH_BATCH = 500

_PENDING_DEVICES = (
    "SELECT d.*, t.url_key FROM devices d JOIN tenants t ON t.id = d.tenant_id"
    " WHERE d.published_rev < d.rev LIMIT ?"
)


class Publishing:
    def __init__(
        self, db: Database, publisher: Publisher, compiler: Compiler, edge_url: str
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.compiler = compiler
        self.edge_url = edge_url
        self._lock = threading.Lock()  # one publisher at a time: batches never interleave

    def publish_pending(self) -> int:
        """Publish every tenant and device whose rev is ahead; returns the devices done."""
        done = 0
        with self._lock:
            self._publish_tenants()
            while batch := self._next_device_batch():
                rows, publications = batch
                self.publisher.publish(publications)
                with self.db.transaction() as conn:
                    conn.executemany(
                        "UPDATE devices SET published_rev = ? WHERE mac = ?",
                        [(row["rev"], row["mac"]) for row in rows],
                    )
                done += len(rows)
        return done

    def _next_device_batch(self) -> tuple[list[sqlite3.Row], list[Publication]] | None:
        with self.db.transaction() as conn:
            rows = conn.execute(_PENDING_DEVICES, (PUBLISH_BATCH,)).fetchall()
            if not rows:
                return None
            tenants = {
                tenant_id: loading.tenant_data(
                    conn.execute("SELECT * FROM tenants WHERE id = ?", (tenant_id,)).fetchone(),
                    self.edge_url,
                )
                for tenant_id in {row["tenant_id"] for row in rows}
            }
            publications = [
                Publication(
                    f"device/{row['mac']}",
                    self.compiler.device_files(
                        row["url_key"], tenants[row["tenant_id"]], loading.device_data(conn, row)
                    ),
                )
                for row in rows
            ]
        return rows, publications

    def _publish_tenants(self) -> None:
        rows = self.db.query("SELECT * FROM tenants WHERE published_rev < rev")
        if not rows:
            return
        self.publisher.publish(
            Publication(
                f"tenant/{row['id']}",
                self.compiler.tenant_files(row["url_key"], loading.tenant_data(row, self.edge_url)),
            )
            for row in rows
        )
        with self.db.transaction() as conn:
            conn.executemany(
                "UPDATE tenants SET published_rev = ? WHERE id = ?",
                [(row["rev"], row["id"]) for row in rows],
            )

    def reconcile(self, fingerprint: str) -> int:
        """At start-up: withdraw files of owners deleted meanwhile, republish all if the
        fingerprint of what shapes the bytes changed, then publish what is pending."""
        devices = {row["mac"] for row in self.db.query("SELECT mac FROM devices")}
        tenants = {str(row["id"]) for row in self.db.query("SELECT id FROM tenants")}
        gone = [
            owner
            for owner in self.publisher.owners()
            if (owner.startswith("device/") and owner.removeprefix("device/") not in devices)
            or (owner.startswith("tenant/") and owner.removeprefix("tenant/") not in tenants)
        ]
        self.publisher.publish(Publication(owner, {}) for owner in gone)
        with self.db.transaction() as conn:
            row = conn.execute("SELECT value FROM settings WHERE name = 'templates'").fetchone()
            if row is None or row["value"] != fingerprint:
                conn.execute("UPDATE tenants SET rev = rev + 1")
                conn.execute("UPDATE devices SET rev = rev + 1")
                conn.execute(
                    "INSERT OR REPLACE INTO settings (name, value) VALUES ('templates', ?)",
                    (fingerprint,),
                )
        return self.publish_pending()


def templates_fingerprint(compiler: Compiler, edge_url: str) -> str:
    """Everything outside SQLite that shapes the bytes: templates, catalogue, the edge URL."""
    digest = hashlib.sha256(edge_url.encode())
    here = Path(__file__).resolve().parent
    # Only what the compiler renders: the advanced samples under */advanced/ do not count.
    templates = [
        p for p in sorted(compiler.templates_dir.rglob("*")) if p.parent.name != "advanced"
    ]
    for path in [here / "catalog.py", here / "variables.py", *templates]:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
