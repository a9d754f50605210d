"""The control plane's operations: validate against the truth, write SQLite, publish.

Every write happens in one SQLite transaction that also bumps the ``rev`` of each device
(and tenant) whose files it changes; :meth:`Control.publish_pending` then compiles exactly
those and marks them published. A crash in between leaves ``published_rev < rev`` and the
next start publishes again, so nothing depends on the process surviving a request.
"""

from __future__ import annotations

import secrets
import sqlite3
import string
from typing import Any

from control.api.schemas import AccountIn, DeviceIn, DevicePatch, ExtensionIn, TenantIn, TenantPatch
from control.domain.catalog import MODELS, Model, device_files
from control.domain.errors import ServiceError, conflict, invalid, not_found
from control.domain.locale import language_for
from control.jobs import store as jobs
from control.jobs.kinds import RECOMPILE, Recompile
from control.jobs.runner import JobRunner
from control.publish.compiler import Compiler
from control.publish.pending import Publishing
from control.publish.publisher import Publisher
from control.storage import loading
from control.storage.db import Database
from control.storage.edgestate import EdgeStateReader, fetch_view
from provedge.formats.edgestate import NO_FETCH, Fetch
from provedge.formats.macaddr import InvalidMac, normalize_mac

DEFAULT_PAGE = 100
MAX_PAGE = 1000


# A device row with what its view needs of its tenant (the URL key, the language).
_DEVICE_ROWS = (
    "SELECT d.*, t.url_key, t.language FROM devices d JOIN tenants t ON t.id = d.tenant_id"
)

PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_"
_PASSWORD_CLASSES = (string.ascii_uppercase, string.ascii_lowercase, string.digits, "-_")


def new_password(length: int = 20) -> str:
    """A random password every vendor takes: letters, digits, ``-`` and ``_`` only, which
    every phone's config syntax takes, from at least 3 of the 4 classes (upper, lower,
    digit, symbol), as Cisco MPP requires of an admin password (8-127 characters)."""
    if not 8 <= length <= 127:
        raise ValueError("a password is 8 to 127 characters")
    while True:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))
        if sum(any(c in cls for c in password) for cls in _PASSWORD_CLASSES) >= 3:
            return password


def _check_lines(model: Model, count: int, field: str) -> None:
    """A device carries at most as many lines as its model has SIP accounts."""
    if count > model.max_lines:
        raise invalid(
            field,
            f"{model.label} holds {model.max_lines} SIP account(s); this device has {count} lines",
        )


def _language_view(model: Model, language: str) -> dict[str, Any]:
    """The language the phone is given: the tenant's, or English where its vendor has no code."""
    given = language_for(model.vendor.id, language)
    return {"language": given.name, "language_fallback": given.fallback}


def find_tenant(
    conn: sqlite3.Connection, ref: int | str, field: str = "tenant", scope: int | None = None
) -> sqlite3.Row:
    """The tenant a reference (id or name) names, within ``scope``; 404 on ``field`` otherwise."""
    column = "id" if isinstance(ref, int) else "name"
    row: sqlite3.Row | None = conn.execute(
        f"SELECT * FROM tenants WHERE {column} = ?", (ref,)
    ).fetchone()
    if row is None or (scope is not None and row["id"] != scope):
        raise not_found(field, "tenant")
    return row


class Control:
    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        compiler: Compiler,
        edge_url: str,
        edge_state: EdgeStateReader | None = None,
    ) -> None:
        self.db = db
        self.edge_state = edge_state or EdgeStateReader(None)
        self.publisher = publisher
        self.compiler = compiler
        self.edge_url = edge_url
        self.publishing = Publishing(db, publisher, compiler, edge_url)
        self.jobs = JobRunner(db, {RECOMPILE: Recompile(self.publishing)})

    def close(self) -> None:
        self.jobs.stop()
        self.db.close()
        self.publisher.close()
        self.edge_state.close()

    # ---- tenants -------------------------------------------------------------------------
    def create_tenant(self, body: TenantIn) -> dict[str, Any]:
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM tenants WHERE name = ?", (body.name,)).fetchone():
                raise conflict("name", "a tenant with this name exists")
            cur = conn.execute(
                "INSERT INTO tenants (name, realm, sip_server, sip_port, sip_transport, timezone,"
                " ntp_server, language, url_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*body.model_dump().values(), secrets.token_urlsafe(18)),
            )
            tenant_id = int(cur.lastrowid or 0)
        self.publishing.step(macs=[])  # the tenant's common files: a few dozen small blobs
        return self.get_tenant(tenant_id)

    def update_tenant(self, ref: int | str, patch: TenantPatch) -> dict[str, Any]:
        """Publishes the tenant's common files now; its devices are recompiled by a job
        (``job`` in the answer, None when there was nothing to recompile)."""
        changes = patch.model_dump(exclude_none=True)
        job_id = None
        with self.db.transaction() as conn:
            tenant = self._tenant_row(conn, ref, "tenant")
            if changes:
                columns = ", ".join(f"{name} = :{name}" for name in changes)
                conn.execute(
                    f"UPDATE tenants SET {columns}, rev = rev + 1 WHERE id = :id",
                    {**changes, "id": tenant["id"]},
                )
                bumped = conn.execute(
                    "UPDATE devices SET rev = rev + 1 WHERE tenant_id = ?", (tenant["id"],)
                ).rowcount
                if bumped:
                    job_id = jobs.enqueue(conn, RECOMPILE, tenant["id"])
        self.publishing.step(macs=[])
        self.jobs.wake()
        view = self.get_tenant(tenant["id"])
        view["job"] = None if job_id is None else self.get_job(job_id)
        return view

    def list_tenants(self, scope: int | None = None) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT * FROM tenants WHERE ? IS NULL OR id = ? ORDER BY id", (scope, scope)
        )
        return [self._tenant_view(row) for row in rows]

    def get_tenant(self, ref: int | str, scope: int | None = None) -> dict[str, Any]:
        with self.db.read() as conn:
            row = self._tenant_row(conn, ref, "tenant", scope)
        return self._tenant_view(row)

    def _tenant_row(
        self, conn: sqlite3.Connection, ref: int | str, field: str, scope: int | None = None
    ) -> sqlite3.Row:
        return find_tenant(conn, ref, field, scope)

    def _tenant_view(self, row: sqlite3.Row) -> dict[str, Any]:
        view = {
            key: row[key]
            for key in row.keys()  # noqa: SIM118 - iterating a Row yields values, not keys
            if key not in ("url_key", "rev", "published_rev")
        }
        view["provisioning_url"] = loading.provisioning_url(self.edge_url, row["url_key"])
        return view

    # ---- devices -------------------------------------------------------------------------
    def create_device(self, body: DeviceIn, scope: int | None = None) -> dict[str, Any]:
        admin_password = new_password(16)
        with self.db.transaction() as conn:
            tenant = self._tenant_row(conn, body.tenant, "tenant", scope)
            if conn.execute("SELECT 1 FROM devices WHERE mac = ?", (body.mac,)).fetchone():
                raise conflict("mac", "this MAC is already provisioned")
            conn.execute(
                "INSERT INTO devices (mac, tenant_id, model, name, admin_password, background_url,"
                " hotdesk_pin) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    body.mac,
                    tenant["id"],
                    body.model,
                    body.name,
                    admin_password,
                    body.background_url,
                    body.hotdesk_pin,
                ),
            )
        self.publishing.step(macs=[body.mac])
        return {**self.get_device(body.mac), "admin_password": admin_password}

    def get_device(self, mac: str, scope: int | None = None) -> dict[str, Any]:
        with self.db.read() as conn:
            row = self._device_row(conn, mac, scope)
            return self._device_views(conn, [row])[0]

    def list_devices(
        self,
        tenant: int | str | None = None,
        scope: int | None = None,
        limit: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> dict[str, Any]:
        """One page in MAC order: ``{"items": [...], "next": cursor or None}``. Keyset
        paging (``after`` = the last MAC of the previous page) costs the same on the
        millionth device as on the first, and two queries per page whatever its size."""
        if not 1 <= limit <= MAX_PAGE:
            raise invalid("limit", f"between 1 and {MAX_PAGE}")
        with self.db.read() as conn:
            tenant_id = (
                None if tenant is None else self._tenant_row(conn, tenant, "tenant", scope)["id"]
            )
            if scope is not None and tenant_id is None:
                tenant_id = scope
            rows = conn.execute(
                _DEVICE_ROWS
                + " WHERE (? IS NULL OR d.tenant_id = ?) AND d.mac > ? ORDER BY d.mac LIMIT ?",
                (tenant_id, tenant_id, after or "", limit + 1),
            ).fetchall()
            items = self._device_views(conn, rows[:limit])
        return {"items": items, "next": items[-1]["mac"] if len(rows) > limit else None}

    def update_device(
        self, mac: str, patch: DevicePatch, scope: int | None = None
    ) -> dict[str, Any]:
        changes = patch.model_dump(exclude_none=True)
        with self.db.transaction() as conn:
            row = self._device_row(conn, mac, scope)
            if "model" in changes:
                (count,) = conn.execute(
                    "SELECT COUNT(*) FROM device_lines WHERE mac = ?", (row["mac"],)
                ).fetchone()
                _check_lines(MODELS[changes["model"]], count, "model")
            if changes:
                columns = ", ".join(f"{name} = :{name}" for name in changes)
                conn.execute(
                    f"UPDATE devices SET {columns}, rev = rev + 1 WHERE mac = :mac",
                    {**changes, "mac": row["mac"]},
                )
        self.publishing.step(macs=[row["mac"]])
        view = self.get_device(row["mac"])
        if "admin_password" in changes:
            view["admin_password"] = changes["admin_password"]
        return view

    def delete_device(self, mac: str, scope: int | None = None) -> None:
        with self.db.transaction() as conn:
            row = self._device_row(conn, mac, scope)
            # The delete trigger queues the withdrawal in this transaction (schema.sql).
            conn.execute("DELETE FROM devices WHERE mac = ?", (row["mac"],))
        # Applied by the next step, which waits for a batch being written now: a batch
        # compiled before the delete cannot land after the withdrawal.
        self.publishing.step(macs=[])

    def set_lines(self, mac: str, numbers: list[str], scope: int | None = None) -> dict[str, Any]:
        with self.db.transaction() as conn:
            row = self._device_row(conn, mac, scope)
            extension_ids = []
            for index, number in enumerate(numbers):
                ext = conn.execute(
                    "SELECT id FROM extensions WHERE tenant_id = ? AND number = ?",
                    (row["tenant_id"], number),
                ).fetchone()
                if ext is None:
                    raise invalid(
                        f"lines[{index}].extension", f"no extension {number} in this tenant"
                    )
                extension_ids.append(ext["id"])
            if len(set(extension_ids)) != len(extension_ids):
                raise invalid("lines", "an extension may appear once per device")
            _check_lines(MODELS[row["model"]], len(extension_ids), "lines")
            conn.execute("DELETE FROM device_lines WHERE mac = ?", (row["mac"],))
            conn.executemany(
                "INSERT INTO device_lines (mac, position, extension_id) VALUES (?, ?, ?)",
                [(row["mac"], pos, ext_id) for pos, ext_id in enumerate(extension_ids, 1)],
            )
            conn.execute("UPDATE devices SET rev = rev + 1 WHERE mac = ?", (row["mac"],))
        self.publishing.step(macs=[row["mac"]])
        return self.get_device(row["mac"])

    def _device_row(self, conn: sqlite3.Connection, mac: str, scope: int | None) -> sqlite3.Row:
        try:
            normal = normalize_mac(mac)
        except InvalidMac:
            raise not_found("mac", "device") from None
        row: sqlite3.Row | None = conn.execute(
            _DEVICE_ROWS + " WHERE d.mac = ?",
            (normal,),
        ).fetchone()
        if row is None or (scope is not None and row["tenant_id"] != scope):
            raise not_found("mac", "device")
        return row

    def _device_views(
        self, conn: sqlite3.Connection, rows: list[sqlite3.Row]
    ) -> list[dict[str, Any]]:
        """Views of a page of devices with their lines read in one query."""
        lines: dict[str, list[dict[str, Any]]] = {row["mac"]: [] for row in rows}
        if rows:
            for line in conn.execute(
                "SELECT dl.mac, dl.position, e.number FROM device_lines dl JOIN extensions e"
                f" ON e.id = dl.extension_id WHERE dl.mac IN ({', '.join('?' * len(rows))})"
                " ORDER BY dl.mac, dl.position",
                [row["mac"] for row in rows],
            ):
                lines[line["mac"]].append(
                    {"position": line["position"], "extension": line["number"]}
                )
        # The fetch counters of the whole page in one read of the edge state.
        fetches = self.edge_state.fetches(row["mac"] for row in rows)
        return [
            self._device_view(row, lines[row["mac"]], fetches.get(row["mac"], NO_FETCH))
            for row in rows
        ]

    def _device_view(
        self, row: sqlite3.Row, lines: list[dict[str, Any]], fetch: Fetch
    ) -> dict[str, Any]:
        model = MODELS[row["model"]]
        return {
            "mac": row["mac"],
            "tenant": row["tenant_id"],
            "model": row["model"],
            "name": row["name"],
            "background_url": row["background_url"],
            "hotdesk_pin": row["hotdesk_pin"],
            "lines": lines,
            "provisioning_url": loading.provisioning_url(self.edge_url, row["url_key"]),
            "files": [name for name, _ in device_files(model, row["mac"])],
            "published": row["published_rev"] >= row["rev"],
            "created_at": row["created_at"],
            **_language_view(model, row["language"]),
            **fetch_view(fetch),
        }

    # ---- accounts and extensions -----------------------------------------------------------
    def create_account(self, body: AccountIn, scope: int | None = None) -> dict[str, Any]:
        password = body.password or new_password()
        with self.db.transaction() as conn:
            tenant = self._tenant_row(conn, body.tenant, "tenant", scope)
            username = body.username or self._free_username(conn, tenant["id"])
            taken = conn.execute(
                "SELECT 1 FROM accounts WHERE tenant_id = ? AND username = ?",
                (tenant["id"], username),
            ).fetchone()
            if taken:
                raise conflict("username", "this username exists in the tenant")
            cur = conn.execute(
                "INSERT INTO accounts (tenant_id, username, password, display_name, expires)"
                " VALUES (?, ?, ?, ?, ?)",
                (tenant["id"], username, password, body.display_name, body.expires),
            )
        # The password is returned here once; later reads never show it.
        return {
            "id": cur.lastrowid,
            "tenant": tenant["id"],
            "username": username,
            "password": password,
            "display_name": body.display_name,
            "expires": body.expires,
            "enabled": True,
        }

    def list_accounts(self, tenant: int | str, scope: int | None = None) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            tenant_id = self._tenant_row(conn, tenant, "tenant", scope)["id"]
            rows = conn.execute(
                "SELECT id, tenant_id, username, display_name, expires, enabled FROM accounts"
                " WHERE tenant_id = ? ORDER BY username",
                (tenant_id,),
            ).fetchall()
        return [
            {
                "id": r["id"],
                "tenant": r["tenant_id"],
                "username": r["username"],
                "display_name": r["display_name"],
                "expires": r["expires"],
                "enabled": bool(r["enabled"]),
            }
            for r in rows
        ]

    @staticmethod
    def _free_username(conn: sqlite3.Connection, tenant_id: int) -> str:
        while True:
            username = "u" + "".join(secrets.choice("0123456789") for _ in range(9))
            if not conn.execute(
                "SELECT 1 FROM accounts WHERE tenant_id = ? AND username = ?", (tenant_id, username)
            ).fetchone():
                return username

    def create_extension(self, body: ExtensionIn, scope: int | None = None) -> dict[str, Any]:
        with self.db.transaction() as conn:
            tenant = self._tenant_row(conn, body.tenant, "tenant", scope)
            if conn.execute(
                "SELECT 1 FROM extensions WHERE tenant_id = ? AND number = ?",
                (tenant["id"], body.number),
            ).fetchone():
                raise conflict("number", "this extension number exists in the tenant")
            account_ids = []
            for index, username in enumerate(body.accounts):
                acc = conn.execute(
                    "SELECT id FROM accounts WHERE tenant_id = ? AND username = ?",
                    (tenant["id"], username),
                ).fetchone()
                if acc is None:
                    raise invalid(f"accounts[{index}]", f"no account {username} in this tenant")
                account_ids.append(acc["id"])
            cur = conn.execute(
                "INSERT INTO extensions (tenant_id, number, display_name) VALUES (?, ?, ?)",
                (tenant["id"], body.number, body.display_name),
            )
            conn.executemany(
                "INSERT INTO extension_accounts (extension_id, account_id, position) VALUES (?, ?, ?)",
                [(cur.lastrowid, acc_id, pos) for pos, acc_id in enumerate(account_ids, 1)],
            )
        return {
            "id": cur.lastrowid,
            "tenant": tenant["id"],
            "number": body.number,
            "display_name": body.display_name,
            "accounts": body.accounts,
        }

    def list_extensions(self, tenant: int | str, scope: int | None = None) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            tenant_id = self._tenant_row(conn, tenant, "tenant", scope)["id"]
            rows = conn.execute(
                "SELECT e.id, e.number, e.display_name, group_concat(a.username, ',') AS accounts"
                " FROM extensions e JOIN extension_accounts ea ON ea.extension_id = e.id"
                " JOIN accounts a ON a.id = ea.account_id WHERE e.tenant_id = ?"
                " GROUP BY e.id ORDER BY e.number",
                (tenant_id,),
            ).fetchall()
        return [
            {
                "id": r["id"],
                "tenant": tenant_id,
                "number": r["number"],
                "display_name": r["display_name"],
                "accounts": r["accounts"].split(","),
            }
            for r in rows
        ]

    # ---- jobs ----------------------------------------------------------------------------
    def get_job(self, job_id: int, scope: int | None = None) -> dict[str, Any]:
        row = jobs.get(self.db, job_id)
        if row is None or (scope is not None and row["tenant_id"] != scope):
            raise not_found("id", "job")
        return jobs.view(row)

    def list_jobs(self, state: str | None = None, scope: int | None = None) -> list[dict[str, Any]]:
        if state is not None and state not in jobs.STATES:
            raise invalid("state", f"one of {', '.join(jobs.STATES)}")
        return [jobs.view(row) for row in jobs.listing(self.db, state, scope)]

    def cancel_job(self, job_id: int, scope: int | None = None) -> dict[str, Any]:
        self.get_job(job_id, scope)
        jobs.request_cancel(self.db, job_id)
        return self.get_job(job_id, scope)

    # ---- publishing ----------------------------------------------------------------------
    def publish_pending(self) -> int:
        """Everything ahead of LMDB, in this thread (tests and tools; requests step)."""
        return self.publishing.publish_pending()

    def reconcile(self, fingerprint: str) -> int | None:
        """At start-up: withdrawals and common files now, devices by a recompile job
        (its id, None when nothing is pending)."""
        self.publishing.reconcile(fingerprint)
        self.publishing.step(macs=[])
        if not self.publishing.pending_devices():
            return None
        with self.db.transaction() as conn:
            job_id = jobs.enqueue(conn, RECOMPILE, None)
        self.jobs.wake()
        return job_id


__all__ = ["Control", "ServiceError", "find_tenant"]
