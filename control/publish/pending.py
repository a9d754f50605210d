"""Compiles what SQLite says is ahead of LMDB and publishes it, one small step at a time.

A write bumps ``rev`` on every tenant and device whose files it changes, and a delete
queues a withdrawal (a trigger in schema.sql). A *step* reads, in one snapshot, the queued
withdrawals, the tenants ahead of LMDB and up to one batch of devices ahead of it,
publishes all of it in one LMDB transaction (withdrawals first), then marks it done.

Steps run one at a time under a lock, so a batch compiled from an older snapshot can never
land after a withdrawal it did not see: a delete's withdrawal is applied by the next step,
which starts only once the running one has written. A request runs one step for its own
devices; a mass recompile is a job (control/jobs) that runs steps until nothing is left,
so the lock is never held for longer than one batch. Crash anywhere and the marks are
simply behind: the next step redoes the work, which is safe because publishing is
idempotent.
"""

from __future__ import annotations

import ast
import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from control.publish.compiler import Compiler
from control.publish.publisher import Publication, Publisher
from control.storage import loading
from control.storage.db import Database

PUBLISH_BATCH = 500

_DEVICE_COLUMNS = "SELECT d.*, t.url_key FROM devices d JOIN tenants t ON t.id = d.tenant_id"


@dataclass
class Step:
    """What one step published, for the marks and for a job's progress."""

    withdrawn: int = 0  # highest withdrawals.id applied
    tenants: list[tuple[int, int]] = field(default_factory=list)  # (id, rev)
    devices: list[tuple[str, int]] = field(default_factory=list)  # (mac, rev)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (mac, what failed)

    @property
    def empty(self) -> bool:
        return not (self.withdrawn or self.tenants or self.devices or self.errors)


class Publishing:
    def __init__(
        self, db: Database, publisher: Publisher, compiler: Compiler, edge_url: str
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.compiler = compiler
        self.edge_url = edge_url
        self._lock = threading.Lock()  # one step at a time: batches never interleave

    def step(self, macs: Sequence[str] | None = None, tenant_id: int | None = None) -> Step:
        """Publish withdrawals, pending tenants and one batch of pending devices: those of
        ``macs`` (a request's own change) or the next of ``tenant_id`` (None: any)."""
        with self._lock:
            step, publications = self._read(macs, tenant_id)
            if not publications and not step.errors:
                return step
            self.publisher.publish(publications)
            self._mark(step)
            return step

    def publish_pending(self, tenant_id: int | None = None) -> int:
        """Steps until nothing is ahead (start-up and tests; requests use :meth:`step`)."""
        done = 0
        while not (step := self.step(tenant_id=tenant_id)).empty:
            done += len(step.devices) + len(step.errors)
        return done

    def pending_devices(self, tenant_id: int | None = None) -> int:
        row = self.db.query_one(
            "SELECT count(*) AS n FROM devices WHERE published_rev < rev"
            " AND (? IS NULL OR tenant_id = ?)",
            (tenant_id, tenant_id),
        )
        return int(row["n"]) if row else 0

    def _read(
        self, macs: Sequence[str] | None, tenant_id: int | None
    ) -> tuple[Step, list[Publication]]:
        step = Step()
        publications: list[Publication] = []
        with self.db.read() as conn:  # one snapshot: a withdrawal and what follows it agree
            for row in conn.execute("SELECT id, owner FROM withdrawals ORDER BY id"):
                publications.append(Publication(row["owner"], {}))
                step.withdrawn = row["id"]
            for row in conn.execute("SELECT * FROM tenants WHERE published_rev < rev"):
                files = self.compiler.tenant_files(
                    row["url_key"], loading.tenant_data(row, self.edge_url)
                )
                publications.append(Publication(f"tenant/{row['id']}", files))
                step.tenants.append((row["id"], row["rev"]))
            rows = self._pending_rows(conn, macs, tenant_id)
            tenants = {
                tid: loading.tenant_data(
                    conn.execute("SELECT * FROM tenants WHERE id = ?", (tid,)).fetchone(),
                    self.edge_url,
                )
                for tid in {row["tenant_id"] for row in rows}
            }
            for row in rows:
                try:
                    files = self.compiler.device_files(
                        row["url_key"], tenants[row["tenant_id"]], loading.device_data(conn, row)
                    )
                except Exception as exc:  # noqa: BLE001 - one bad device must not stop a job
                    # Its previous files stay served; the error is reported by the job.
                    step.errors.append((row["mac"], f"{type(exc).__name__}: {exc}"))
                    step.devices.append((row["mac"], row["rev"]))
                    continue
                publications.append(Publication(f"device/{row['mac']}", files))
                step.devices.append((row["mac"], row["rev"]))
        return step, publications

    @staticmethod
    def _pending_rows(
        conn: sqlite3.Connection, macs: Sequence[str] | None, tenant_id: int | None
    ) -> list[sqlite3.Row]:
        if macs is not None:
            if not macs:
                return []
            marks = ", ".join("?" * len(macs))
            return conn.execute(
                f"{_DEVICE_COLUMNS} WHERE d.published_rev < d.rev AND d.mac IN ({marks})",
                list(macs),
            ).fetchall()
        return conn.execute(
            f"{_DEVICE_COLUMNS} WHERE d.published_rev < d.rev AND (? IS NULL OR d.tenant_id = ?)"
            " LIMIT ?",
            (tenant_id, tenant_id, PUBLISH_BATCH),
        ).fetchall()

    def _mark(self, step: Step) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM withdrawals WHERE id <= ?", (step.withdrawn,))
            conn.executemany(
                "UPDATE tenants SET published_rev = ? WHERE id = ? AND published_rev < ?",
                [(rev, tid, rev) for tid, rev in step.tenants],
            )
            conn.executemany(
                "UPDATE devices SET published_rev = ? WHERE mac = ? AND published_rev < ?",
                [(rev, mac, rev) for mac, rev in step.devices],
            )

    def reconcile(self, fingerprint: str) -> None:
        """At start-up: queue withdrawals for owners deleted meanwhile (a store written by
        an older version, or edited by hand), and mark everything pending if the
        fingerprint of what shapes the bytes changed. Publishing is left to steps."""
        devices = {row["mac"] for row in self.db.query("SELECT mac FROM devices")}
        tenants = {str(row["id"]) for row in self.db.query("SELECT id FROM tenants")}
        gone = [
            owner
            for owner in self.publisher.owners()
            if (owner.startswith("device/") and owner.removeprefix("device/") not in devices)
            or (owner.startswith("tenant/") and owner.removeprefix("tenant/") not in tenants)
        ]
        with self.db.transaction() as conn:
            conn.executemany("INSERT INTO withdrawals (owner) VALUES (?)", [(o,) for o in gone])
            row = conn.execute("SELECT value FROM settings WHERE name = 'templates'").fetchone()
            if row is None or row["value"] != fingerprint:
                conn.execute("UPDATE tenants SET rev = rev + 1")
                conn.execute("UPDATE devices SET rev = rev + 1")
                conn.execute(
                    "INSERT OR REPLACE INTO settings (name, value) VALUES ('templates', ?)",
                    (fingerprint,),
                )


# The modules whose code shapes the bytes of a file besides the templates themselves.
_SHAPING_MODULES = ("domain/catalog.py", "domain/variables.py", "publish/compiler.py",
                    "storage/loading.py")  # fmt: skip


def code_fingerprint(source: str) -> bytes:
    """The code of a module without its comments, docstrings and layout: what it does.

    Comments never reach the AST; docstrings are removed before dumping, so editing
    either (or reformatting) changes nothing, while any change to what runs does.
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.dump(tree, annotate_fields=False, include_attributes=False).encode()


def templates_fingerprint(
    compiler: Compiler, edge_url: str, modules: Iterable[Path] | None = None
) -> str:
    """Everything outside SQLite that could change the bytes: the templates the compiler
    renders (byte for byte: a comment in a template is in the phone's file), the code of
    the catalogue, values, compiler and loader (as code, not text), the edge URL."""
    digest = hashlib.sha256(edge_url.encode())
    control = Path(__file__).resolve().parents[1]
    paths = list(modules) if modules is not None else [control / m for m in _SHAPING_MODULES]
    for path in paths:
        digest.update(path.name.encode())
        digest.update(code_fingerprint(path.read_text(encoding="utf-8")))
    # Only what the compiler renders: the advanced samples under */advanced/ do not count.
    templates = [
        p for p in sorted(compiler.templates_dir.rglob("*")) if p.parent.name != "advanced"
    ]
    for path in templates:
        if path.is_file():
            digest.update(str(path.relative_to(compiler.templates_dir)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
