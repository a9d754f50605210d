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

Each step observes the publish lag of what it wrote (control/publish/lag.py) once the
LMDB transaction has ended.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from control.publish import custom
from control.publish.compiler import Compiler
from control.publish.lag import PublishLag
from control.publish.publisher import Publication, Publisher
from control.storage import loading
from control.storage.db import Database
from provedge.formats import delivery, limits, pnp

PUBLISH_BATCH = 500  # what a request publishes itself; more is a job's
# Devices per step of a job: one LMDB write transaction each. Its commit syncs to disk
# (0.2 s on this machine's disk), so a batch of 500 capped a recompile near 2,500
# devices/s; readers (the edge) never wait for a writer, whatever its size.
JOB_BATCH = 5000

_DEVICE_COLUMNS = (
    "SELECT d.*, t.url_key, t.provision_limit, t.provision_mode, t.delivery_policy"
    " FROM devices d JOIN tenants t ON t.id = d.tenant_id"
)
_BACKGROUNDS_AHEAD = (
    "SELECT b.*, t.url_key FROM backgrounds b JOIN tenants t ON t.id = b.tenant_id"
    " WHERE b.published_rev < b.rev"
)
_ACCOUNT_COLUMNS = (
    "SELECT a.*, t.sip_server AS domain FROM accounts a JOIN tenants t ON t.id = a.tenant_id"
)


def _pending_rows(
    conn: sqlite3.Connection,
    select: str,
    alias: str,
    key: str,
    only: Sequence[str] | Sequence[int] | None,
    tenant_id: int | None,
) -> list[sqlite3.Row]:
    """Rows of ``select`` (devices or accounts, columns prefixed ``alias``) ahead of LMDB:
    those whose ``key`` is in ``only``, or with ``only`` None one batch of ``tenant_id``'s
    (None: any tenant's)."""
    ahead = f"{select} WHERE {alias}published_rev < {alias}rev"
    if only is not None:
        if not only:
            return []
        marks = ", ".join("?" * len(only))
        return conn.execute(f"{ahead} AND {alias}{key} IN ({marks})", list(only)).fetchall()
    return conn.execute(
        f"{ahead} AND (? IS NULL OR {alias}tenant_id = ?) LIMIT ?",
        (tenant_id, tenant_id, JOB_BATCH),
    ).fetchall()


def _beside(owner: str) -> list[str]:
    """The owners published beside a device's or a tenant's files (loading.py): its PnP
    record and, for a device, its provision limit and delivery rule; withdrawn with it."""
    kind, _, name = owner.partition("/")
    if kind == "device":
        return [pnp.device_owner(name), limits.owner(name), delivery.owner(name)]
    if kind == "tenant" and name.isdigit():
        return [pnp.tenant_owner(int(name))]
    return []


@dataclass
class Step:
    """What one step published, for the marks and for a job's progress."""

    withdrawn: int = 0  # highest withdrawals.id applied
    tenants: list[tuple[int, int]] = field(default_factory=list)  # (id, rev)
    devices: list[tuple[str, int]] = field(default_factory=list)  # (mac, rev)
    accounts: list[tuple[int, int]] = field(default_factory=list)  # (id, rev)
    backgrounds: list[tuple[int, int]] = field(default_factory=list)  # (id, rev)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (mac, what failed)
    # (mac, its render_error now) where that differs from the row read: the few to write
    render_errors: list[tuple[str, str]] = field(default_factory=list)
    # kind -> ahead_since of each row published (schema.sql, "Ahead of LMDB")
    ahead: dict[str, list[float | None]] = field(
        default_factory=lambda: {"tenant": [], "device": [], "account": []}
    )
    read_at: float = 0.0  # when the step's snapshot was taken

    @property
    def empty(self) -> bool:
        return not (
            self.withdrawn
            or self.tenants
            or self.devices
            or self.accounts
            or self.backgrounds
            or self.errors
        )

    @property
    def done(self) -> int:
        """Items finished: devices (failed ones included), account records, backgrounds."""
        return len(self.devices) + len(self.accounts) + len(self.backgrounds)


class Publishing:
    def __init__(
        self, db: Database, publisher: Publisher, compiler: Compiler, edge_url: str
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.compiler = compiler
        self.edge_url = edge_url
        self.edge_ip: str | None = None  # the edge's public address (provision_mode public_ip)
        self._lock = threading.Lock()  # one step at a time: batches never interleave
        self.lag = PublishLag()

    def step(
        self,
        macs: Sequence[str] | None = None,
        tenant_id: int | None = None,
        accounts: Sequence[int] = (),
    ) -> Step:
        """Publish withdrawals, pending tenants and one batch of pending devices and account
        records: those of ``macs`` and ``accounts`` (a request's own change) or, when
        ``macs`` is None, the next of ``tenant_id`` (None: any)."""
        with self._lock:
            step, publications = self._read(macs, tenant_id, accounts)
            if not publications and not step.errors:
                return step
            self.publisher.publish(publications)
            published_at = time.time()  # the transaction has ended: the edge serves it
            for kind, ahead in step.ahead.items():
                self.lag.observe(kind, published_at, ahead)
            self._mark(step)
            return step

    def publish_pending(self, tenant_id: int | None = None) -> int:
        """Steps until nothing is ahead (start-up and tests; requests use :meth:`step`)."""
        done = 0
        while not (step := self.step(tenant_id=tenant_id)).empty:
            done += step.done
        return done

    def pending_devices(self, tenant_id: int | None = None) -> int:
        return self._pending("devices", tenant_id)

    def pending(self, tenant_id: int | None = None) -> int:
        """Devices, account records and backgrounds ahead of LMDB: what a recompile job
        has left."""
        return sum(self._pending(t, tenant_id) for t in ("devices", "accounts", "backgrounds"))

    def _pending(self, table: str, tenant_id: int | None) -> int:
        row = self.db.query_one(
            f"SELECT count(*) AS n FROM {table} WHERE published_rev < rev"
            " AND (? IS NULL OR tenant_id = ?)",
            (tenant_id, tenant_id),
        )
        return int(row["n"]) if row else 0

    def _read(
        self, macs: Sequence[str] | None, tenant_id: int | None, accounts: Sequence[int]
    ) -> tuple[Step, list[Publication]]:
        step = Step(read_at=time.time())  # before the snapshot: no later write is in it
        publications: list[Publication] = []
        with self.db.read() as conn:  # one snapshot: a withdrawal and what follows it agree
            for row in conn.execute("SELECT id, owner FROM withdrawals ORDER BY id"):
                publications.append(Publication(row["owner"], {}))
                publications.extend(Publication(o, {}) for o in _beside(row["owner"]))
                step.withdrawn = row["id"]
            customs: dict[int, list[custom.Custom]] = {}  # tenant -> its templates

            def templates_of(tenant_id: int) -> list[custom.Custom]:
                if tenant_id not in customs:
                    customs[tenant_id] = [custom.from_row(r) for r in conn.execute(
                        "SELECT * FROM templates WHERE tenant_id = ?", (tenant_id,)
                    )]  # fmt: skip
                return customs[tenant_id]

            for row in conn.execute("SELECT * FROM tenants WHERE published_rev < rev"):
                own = templates_of(row["id"])
                files = self.compiler.tenant_files(
                    row["url_key"], loading.tenant_data(row, self.edge_url, self.edge_ip),
                    functools.partial(custom.choose, own, None),
                )  # fmt: skip
                publications.append(Publication(f"tenant/{row['id']}", files))
                publications.append(loading.pnp_tenant_publication(row))
                step.tenants.append((row["id"], row["rev"]))
                step.ahead["tenant"].append(row["ahead_since"])
            # A background's scaled files: in the same transaction as the devices that
            # point at them, so a phone never gets a URL before its file is there.
            for row in conn.execute(_BACKGROUNDS_AHEAD):
                try:
                    publications.append(loading.background_publication(row))
                except Exception as exc:  # noqa: BLE001 - one bad image must not stop a job
                    # Checked at upload, so only a Pillow change could get here: it is
                    # marked (not retried by every step) and reported; no file is served.
                    step.errors.append((f"background/{row['id']}", f"{type(exc).__name__}: {exc}"))
                step.backgrounds.append((row["id"], row["rev"]))
            rows = _pending_rows(conn, _DEVICE_COLUMNS, "d.", "mac", macs, tenant_id)
            tenants = {
                tid: loading.tenant_data(
                    conn.execute("SELECT * FROM tenants WHERE id = ?", (tid,)).fetchone(),
                    self.edge_url,
                    self.edge_ip,
                )
                for tid in {row["tenant_id"] for row in rows}
            }
            for row, device in zip(rows, loading.devices_data(conn, rows), strict=True):
                own, override = templates_of(row["tenant_id"]), row["template_id"]
                try:
                    files = self.compiler.device_files(
                        row["url_key"], tenants[row["tenant_id"]], device,
                        # no custom template in the tenant: the shipped ones, none to choose
                        functools.partial(custom.choose, own, override, device.model)
                        if own else None,
                    )  # fmt: skip
                except Exception as exc:  # noqa: BLE001 - one bad device must not stop a job
                    # Its previous files stay served (the last good blob); the device view
                    # and the job show the error.
                    failed = f"{type(exc).__name__}: {exc}"
                    step.errors.append((row["mac"], failed))
                    step.devices.append((row["mac"], row["rev"]))
                    if row["render_error"] != failed:
                        step.render_errors.append((row["mac"], failed))
                    continue
                if row["render_error"]:  # rendered again: the error is gone
                    step.render_errors.append((row["mac"], ""))
                publications.append(Publication(f"device/{row['mac']}", files))
                publications.append(loading.pnp_publication(row, self.edge_url, self.edge_ip))
                publications.append(loading.limit_publication(row))
                publications.append(loading.delivery_publication(row, self.edge_url, self.edge_ip))
                step.devices.append((row["mac"], row["rev"]))
                step.ahead["device"].append(row["ahead_since"])
            only = None if macs is None else accounts  # a request's own, or a batch
            for row in _pending_rows(conn, _ACCOUNT_COLUMNS, "a.", "id", only, tenant_id):
                publications.append(loading.account_publication(row))
                step.accounts.append((row["id"], row["rev"]))
                step.ahead["account"].append(row["ahead_since"])
        return step, publications

    def _mark(self, step: Step) -> None:
        # A row changed again since the snapshot stays ahead of LMDB; its next publish is
        # timed from the snapshot, which that change came after (an upper bound).
        marked = ("UPDATE {} SET published_rev = ?, ahead_since = CASE WHEN rev > ? THEN ?"
                  " ELSE ahead_since END WHERE {} = ? AND published_rev < ?")  # fmt: skip
        at = step.read_at
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM withdrawals WHERE id <= ?", (step.withdrawn,))
            conn.executemany(
                marked.format("tenants", "id"),
                [(rev, rev, at, tid, rev) for tid, rev in step.tenants],
            )
            conn.executemany(
                marked.format("devices", "mac"),
                [(rev, rev, at, mac, rev) for mac, rev in step.devices],
            )
            # only where it changed (the step read each row's): a recompile writes none
            conn.executemany(
                "UPDATE devices SET render_error = ? WHERE mac = ?",
                [(error, mac) for mac, error in step.render_errors],
            )
            conn.executemany(
                marked.format("accounts", "id"),
                [(rev, rev, at, aid, rev) for aid, rev in step.accounts],
            )
            conn.executemany(
                "UPDATE backgrounds SET published_rev = ? WHERE id = ? AND published_rev < ?",
                [(rev, bid, rev) for bid, rev in step.backgrounds],
            )

    def reconcile(self, fingerprint: str) -> None:
        """At start-up: queue withdrawals for owners deleted meanwhile (a store written by
        an older version, or edited by hand), and mark everything pending if the
        fingerprint of what shapes the bytes changed. Publishing is left to steps."""
        devices = {row["mac"] for row in self.db.query("SELECT mac FROM devices")}
        tenants = {str(row["id"]) for row in self.db.query("SELECT id FROM tenants")}
        accounts = {str(row["id"]) for row in self.db.query("SELECT id FROM accounts")}
        pictures = {str(row["id"]) for row in self.db.query("SELECT id FROM backgrounds")}
        known = {"device": devices, "tenant": tenants, "account": accounts,
                 "background": pictures}  # fmt: skip
        gone = [
            owner
            for owner in self.publisher.owners()
            if (kind := owner.partition("/"))[0] in known and kind[2] not in known[kind[0]]
        ]
        with self.db.transaction() as conn:
            conn.executemany("INSERT INTO withdrawals (owner) VALUES (?)", [(o,) for o in gone])
            row = conn.execute("SELECT value FROM settings WHERE name = 'templates'").fetchone()
            if row is None or row["value"] != fingerprint:
                conn.execute("UPDATE tenants SET rev = rev + 1")
                conn.execute("UPDATE devices SET rev = rev + 1")
                conn.execute("UPDATE accounts SET rev = rev + 1")  # loading.py writes them too
                conn.execute("UPDATE backgrounds SET rev = rev + 1")  # and scales these
                conn.execute(
                    "INSERT OR REPLACE INTO settings (name, value) VALUES ('templates', ?)",
                    (fingerprint,),
                )


# The modules whose code shapes the bytes of a file besides the templates themselves.
_SHAPING_MODULES = ("domain/catalog.py", "domain/variables.py", "publish/compiler.py",
                    "storage/loading.py", "domain/backgrounds.py")  # fmt: skip


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
