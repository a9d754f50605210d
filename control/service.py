"""The control plane's operations: validate against the truth, write SQLite, publish.

Every write happens in one SQLite transaction that also bumps the ``rev`` of each device
(and tenant) whose files it changes; :meth:`Control.publish_pending` then compiles exactly
those and marks them published. A crash in between leaves ``published_rev < rev`` and the
next start publishes again, so nothing depends on the process surviving a request.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from control import (
    accountbatch,
    backgrounds,
    devicekeys,
    devicelist,
    fleet,
    reboots,
    registrations,
    search,
    selfservice,
)
from control import templates as custom_templates
from control.accountbatch import ACCOUNT_DEFAULTS, account_params
from control.api.schemas import (
    MAX_BATCH,
    AccountBatchIn,
    AccountIn,
    AccountPatch,
    DeviceIn,
    DevicePatch,
    ExtensionIn,
    MyDevicePatch,
    TenantIn,
    TenantPatch,
    batch_usernames,
    ip_problem,
)
from control.domain import accountcsv, devicecsv
from control.domain.backgrounds import STEM_LENGTH
from control.domain.backgrounds import values as background_values
from control.domain.catalog import MODELS, Model, device_files
from control.domain.errors import ServiceError, conflict, invalid, not_found
from control.domain.hotdesk import check_hotdesk
from control.domain.locale import language_for
from control.domain.passwords import new_password
from control.fetchmirror import FetchMirror
from control.firewall import Firewall
from control.jobs import store as jobs
from control.jobs.kinds import RECOMPILE, Recompile
from control.jobs.runner import JobRunner
from control.publish.compiler import Compiler
from control.publish.pending import PUBLISH_BATCH, Publishing
from control.publish.publisher import Publisher
from control.storage import audit, loading
from control.storage.db import Database
from control.storage.edgestate import EdgeStateReader, fetch_view
from control.storage.tenants import find_tenant
from provedge.formats.edgestate import NO_FETCH, Fetch
from provedge.formats.macaddr import InvalidMac, normalize_mac

DEFAULT_PAGE = 100
ACTIVATION_LIFETIME_S = 7 * 24 * 3600  # how long a wizard's activation link is valid
MAX_PAGE = 1000


# A device row with what its view needs of its tenant (the URL key, the language).
_DEVICE_ROWS = (
    "SELECT d.*, t.url_key, t.language, t.provision_mode, t.delivery_policy"
    " FROM devices d JOIN tenants t ON t.id = d.tenant_id"
)


def _background_stems(conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> dict[int, str]:
    """The file stems of the backgrounds a page of devices shows, in one query."""
    ids = sorted({row["background_id"] for row in rows if row["background_id"] is not None})
    if not ids:
        return {}
    found = conn.execute(
        f"SELECT id, sha256 FROM backgrounds WHERE id IN ({', '.join('?' * len(ids))})", ids
    )
    return {r["id"]: r["sha256"][:STEM_LENGTH] for r in found}


def _check_lines(model: Model, count: int, field: str) -> None:
    """A device carries at most as many lines as its model has SIP accounts."""
    if count > model.max_lines:
        raise invalid(
            field,
            f"{model.label} holds {model.max_lines} SIP account(s); this device has {count} lines",
        )


def _check_key_room(
    conn: sqlite3.Connection, model: Model, mac: str, lines: int, field: str
) -> None:
    """BLF keys sit after the lines: more lines or a smaller model must leave them room."""
    (keys,) = conn.execute("SELECT count(*) FROM device_keys WHERE mac = ?", (mac,)).fetchone()
    if keys and lines + keys > model.line_keys:
        raise invalid(
            field,
            f"{model.label} has {model.line_keys} programmable key(s); {lines} line(s) and"
            f" this device's {keys} BLF key(s) do not fit (remove keys first)",
        )


def _language_view(model: Model, language: str) -> dict[str, Any]:
    """The language the phone is given: the tenant's, or English where its vendor has no code."""
    given = language_for(model.vendor.id, language)
    return {"language": given.name, "language_fallback": given.fallback}


# The account columns a phone's file carries (control/storage/loading.py): a change of one
# republishes the devices whose lines have the account as their identity.
RENDERED_ACCOUNT_FIELDS = frozenset({"username", "password", "display_name", "expires", "enabled"})


def _account_fields(row: sqlite3.Row) -> dict[str, Any]:
    """The fields of an account row as the API writes them."""
    fields = {name: row[name] for name in row.keys()}  # noqa: SIM118 - a Row's keys
    for name in ("outbound_flags", "access_rules"):
        fields[name] = orjson.loads(row[name])
    fields["enabled"] = bool(row["enabled"])
    return fields


def _account_devices(conn: sqlite3.Connection, ids: list[int]) -> dict[int, list[str]]:
    """The MACs whose lines use each account (at any position of their extension)."""
    found: dict[int, list[str]] = {account_id: [] for account_id in ids}
    for start in range(0, len(ids), 500):  # within SQLite's limit of bound parameters
        chunk = ids[start : start + 500]
        for r in conn.execute(
            "SELECT DISTINCT ea.account_id, dl.mac FROM extension_accounts ea"
            " JOIN device_lines dl ON dl.extension_id = ea.extension_id"
            f" WHERE ea.account_id IN ({', '.join('?' * len(chunk))}) ORDER BY dl.mac",
            chunk,
        ):
            found[r["account_id"]].append(r["mac"])
    return found


_BATCH_ONLY = {"tenant", "count", "username_pattern", "start"}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def several_devices_warning(macs: list[str]) -> list[str]:
    if len(macs) < 2:
        return []
    return [f"on {len(macs)} devices ({', '.join(macs)}): incoming calls will conflict"]


def _shared_account_warnings(conn: sqlite3.Connection, macs: list[str]) -> dict[str, list[str]]:
    """For each device of a page, a warning per account its lines share with another
    device (incoming calls to it will conflict), in two queries."""
    warnings: dict[str, list[str]] = {mac: [] for mac in macs}
    if not macs:
        return warnings
    used = conn.execute(
        "SELECT DISTINCT dl.mac, a.id, a.username FROM device_lines dl"
        " JOIN extension_accounts ea ON ea.extension_id = dl.extension_id"
        f" JOIN accounts a ON a.id = ea.account_id WHERE dl.mac IN ({', '.join('?' * len(macs))})"
        " ORDER BY dl.mac, a.username",
        macs,
    ).fetchall()
    devices = _account_devices(conn, sorted({r["id"] for r in used}))
    for r in used:
        for warning in several_devices_warning(devices[r["id"]]):
            warnings[r["mac"]].append(f"account {r['username']} is {warning}")
    return warnings


def _account_view(row: sqlite3.Row, macs: list[str]) -> dict[str, Any]:
    fields = _account_fields(row)
    view = {
        name: fields[name]
        for name in ("id", "username", "realm", "ip", "created_at", *ACCOUNT_DEFAULTS)
    }
    view.update(
        tenant=row["tenant_id"],
        devices=macs,
        warnings=several_devices_warning(macs),
        published=row["published_rev"] >= row["rev"],
    )
    return view


def _scoped(row: sqlite3.Row | None, scope: int | None, field: str, what: str) -> sqlite3.Row:
    """``row`` if it exists within the tenant ``scope`` (None: any); 404 on ``field``."""
    if row is None or (scope is not None and row["tenant_id"] != scope):
        raise not_found(field, what)
    return row


def import_devices(
    db: Database,
    tenant: int | str,
    rows: Sequence[Mapping[str, str | None]],
    dry_run: bool = False,
    scope: int | None = None,
    always_job: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], list[str], int | None]:
    """Checks every row, then (unless ``dry_run``) writes them all in one transaction:
    ``(answer, MACs for the caller to step, recompile job id)``. More than a batch of
    changed devices, or ``always_job`` (a process that cannot publish: the CLI), queues a
    ``recompile`` job instead of MACs to step."""
    with db.transaction() as conn:
        tenant_id = int(find_tenant(conn, tenant, "tenant", scope)["id"])
        plan = fleet.plan_import(conn, tenant_id, rows, progress)
        macs: list[str] = []
        job_id = None
        if not dry_run:
            # the bulk insert of the new devices refreshes the statistics the list's plans
            # rely on (control/devicelist.py)
            macs = fleet.write_import(conn, tenant_id, plan, lambda: new_password(16))
            if macs and (always_job or len(macs) > PUBLISH_BATCH):
                job_id, macs = jobs.enqueue(conn, RECOMPILE, tenant_id), []
    return {"tenant": tenant_id, "dry_run": dry_run, **plan.view()}, macs, job_id


def export_devices(
    db: Database, tenant: int | str, which: str = "all", scope: int | None = None, q: str = "",
    macs: list[str] | None = None,
) -> str:  # fmt: skip
    """CSV of a tenant's devices under a filter and search (or those of ``macs``, each the
    tenant's, else a 404), as an import reads it; no passwords."""
    devicelist.check(which)
    with db.read() as conn:
        tenant_id = int(find_tenant(conn, tenant, "tenant", scope)["id"])
        devices, lines, keys = fleet.export_rows(conn, tenant_id, which, q)
        if macs is not None:
            chosen = set(fleet.known_macs(conn, macs, tenant_id))
            devices = [row for row in devices if row["mac"] in chosen]
    return devicecsv.write_rows(devices, lines, keys)


def list_accounts(
    db: Database,
    tenant: int | str,
    scope: int | None = None,
    q: str = "",
    sort: str = "username",
    order: str = "asc",
    limit: int = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    """One page of the tenant's accounts matching the Lucene query ``q``
    (control/search.py), in ``sort`` order then by id; ``cursor`` is the previous
    page's ``next_cursor``. A bad query is a 400 on ``q``, a bad cursor a 422."""
    if sort not in search.SORT_FIELDS:
        raise invalid("sort", f"one of {', '.join(search.SORT_FIELDS)}")
    try:
        where = search.translate(q)
    except search.QueryError as exc:
        raise ServiceError(400, {"q": str(exc)}) from None
    try:
        after = search.decode_cursor(cursor, sort, order) if cursor else None
    except search.QueryError as exc:
        raise invalid("cursor", str(exc)) from None
    column = search.sort_key(sort)
    direction, beyond = ("DESC", "<") if order == "desc" else ("ASC", ">")
    with db.read() as conn:
        tenant_id = find_tenant(conn, tenant, "tenant", scope)["id"]
        base = f"FROM accounts a WHERE a.tenant_id = ? AND {where.text}"
        params = [tenant_id, *where.params]
        (total,) = conn.execute(f"SELECT count(*) {base}", params).fetchone()
        page = base
        if after is not None:
            page += f" AND ({column}, a.id) {beyond} (?, ?)"
            params += after
        rows = conn.execute(
            f"SELECT a.* {page} ORDER BY {column} {direction}, a.id {direction} LIMIT ?",
            [*params, limit + 1],
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        items = _account_views(conn, rows)
    last = rows[-1] if more else None
    return {
        "items": items,
        "total": total,
        "next_cursor": None
        if last is None
        else search.encode_cursor(sort, order, last[sort], last["id"]),
    }


def export_accounts(
    db: Database,
    tenant: int | str,
    q: str = "",
    sort: str = "username",
    order: str = "asc",
    scope: int | None = None,
) -> str:
    """CSV of the accounts matching ``q`` (as the list finds them), in ``sort`` order,
    without passwords; a batch reads it back."""

    def matching() -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            page = list_accounts(db, tenant, scope, q, sort, order, MAX_PAGE, cursor)
            yield from page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return

    return accountcsv.write_accounts(matching())


def _account_views(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    devices = _account_devices(conn, [row["id"] for row in rows])
    return [_account_view(row, devices[row["id"]]) for row in rows]


class Control:
    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        compiler: Compiler,
        edge_url: str,
        edge_state: EdgeStateReader | None = None,
        activation_lifetime_s: float = ACTIVATION_LIFETIME_S,
        edge_ip: str | None = None,
    ) -> None:
        """``edge_ip``: the edge's public address, for tenants whose provision_mode is
        public_ip (None: such a tenant is refused)."""
        self.edge_ip = edge_ip
        self.db = db
        self.activation_lifetime_s = activation_lifetime_s
        self.edge_state = edge_state or EdgeStateReader(None)
        self.publisher = publisher
        self.compiler = compiler
        self.edge_url = edge_url
        self.publishing = Publishing(db, publisher, compiler, edge_url)
        self.publishing.edge_ip = edge_ip
        self.jobs = JobRunner(db, {RECOMPILE: Recompile(self.publishing)})
        # Reboot jobs wait on phones for minutes: a runner of their own.
        self.reboots = JobRunner(
            db, {reboots.REBOOT: reboots.RebootJob(db, publisher, self.edge_state)}, "reboots"
        )
        self.firewall = Firewall(db, publisher, self.edge_state)
        self.fetch_mirror = FetchMirror(db, self.edge_state)

    def close(self) -> None:
        self.jobs.stop()
        self.reboots.stop()
        self.fetch_mirror.stop()
        self.db.close()
        self.publisher.close()
        self.edge_state.close()

    # ---- tenants -------------------------------------------------------------------------
    def create_tenant(self, body: TenantIn) -> dict[str, Any]:
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM tenants WHERE name = ?", (body.name,)).fetchone():
                raise conflict("name", "a tenant with this name exists")
            fields = body.model_dump()
            fields["vars"] = orjson.dumps(fields["vars"]).decode()
            fields["provision_limit"] = fields["provision_limit"] or None
            self._check_mode(fields["provision_mode"])
            cur = conn.execute(
                f"INSERT INTO tenants ({', '.join(fields)}, url_key)"
                f" VALUES ({', '.join('?' * len(fields))}, ?)",
                (*fields.values(), secrets.token_urlsafe(18)),
            )
            tenant_id = int(cur.lastrowid or 0)
        self.publishing.step(macs=[])  # the tenant's common files: a few dozen small blobs
        return self.get_tenant(tenant_id)

    def update_tenant(self, ref: int | str, patch: TenantPatch) -> dict[str, Any]:
        """Publishes the tenant's common files now; its devices are recompiled by a job
        (``job`` in the answer, None when there was nothing to recompile)."""
        changes = patch.model_dump(exclude_none=True)
        if "vars" in changes:
            changes["vars"] = orjson.dumps(changes["vars"]).decode()
        if "provision_limit" in changes:
            changes["provision_limit"] = changes["provision_limit"] or None  # 0: no limit
        self._check_mode(changes.get("provision_mode", "fqdn"))
        job_id = None
        with self.db.transaction() as conn:
            tenant = self._tenant_row(conn, ref, "tenant")
            if changes:
                columns = ", ".join(f"{name} = :{name}" for name in changes)
                conn.execute(
                    f"UPDATE tenants SET {columns}, rev = rev + 1 WHERE id = :id",
                    {**changes, "id": tenant["id"]},
                )
                # PnP on/off is the tenant's own record: its devices' files stay as they are.
                bumped = (
                    set(changes) != {"pnp"}
                    and conn.execute(
                        "UPDATE devices SET rev = rev + 1 WHERE tenant_id = ?", (tenant["id"],)
                    ).rowcount
                )
                if "sip_server" in changes:  # the registrar finds accounts under it too
                    bumped += conn.execute(
                        "UPDATE accounts SET rev = rev + 1 WHERE tenant_id = ?", (tenant["id"],)
                    ).rowcount
                if bumped:
                    job_id = jobs.enqueue(conn, RECOMPILE, tenant["id"])
                    # What it was queued for, even if another job publishes some of it first
                    conn.execute(
                        "UPDATE jobs SET total = max(total, done + ?) WHERE id = ?",
                        (bumped, job_id),
                    )
        self.publishing.step(macs=[])
        self.jobs.wake()
        view = self.get_tenant(tenant["id"])
        view["job"] = None if job_id is None else self.get_job(job_id)
        return view

    def _check_mode(self, mode: str) -> None:
        if mode == "public_ip" and not self.edge_ip:
            raise invalid(
                "provision_mode", "the control plane knows no public IP of the edge"
                " (--edge-public-ip)",
            )  # fmt: skip

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
            if key not in ("url_key", "rev", "published_rev", "ahead_since")
        }
        view["provisioning_url"] = loading.tenant_url(row, self.edge_url, self.edge_ip)
        view["pnp"] = bool(row["pnp"])
        view["vars"] = orjson.loads(row["vars"])
        return view

    # ---- devices -------------------------------------------------------------------------
    def create_device(self, body: DeviceIn, scope: int | None = None) -> dict[str, Any]:
        admin_password = new_password(16)
        with self.db.transaction() as conn:
            tenant = self._tenant_row(conn, body.tenant, "tenant", scope)
            if conn.execute("SELECT 1 FROM devices WHERE mac = ?", (body.mac,)).fetchone():
                raise conflict("mac", "this MAC is already provisioned")
            check_hotdesk(MODELS[body.model], body.hotdesk_pin, "hotdesk_pin")
            backgrounds.check_choice(conn, tenant["id"], body.model, body.background, "background")
            _check_vars(tenant, body.vars)
            conn.execute(
                "INSERT INTO devices (mac, tenant_id, model, name, admin_password, background_id,"
                " hotdesk_pin, vars) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    body.mac,
                    tenant["id"],
                    body.model,
                    body.name,
                    admin_password,
                    body.background,
                    body.hotdesk_pin,
                    orjson.dumps(body.vars).decode(),
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
        cursor: str | None = None,
        which: str = "all",
        q: str = "",
        sort: str = "mac",
        order: str = "asc",
    ) -> dict[str, Any]:
        """One page: ``{"items": [...], "total": n, "next_cursor": cursor or None}``, the
        devices under the filter ``which`` (``all``, ``assigned``: at least one line, or
        ``unassigned``) matching ``q`` in ``sort`` order then by MAC (control/devicelist.py).
        Keyset paging (``cursor`` = the previous page's ``next_cursor``) costs the same on
        the millionth device as on the first, and a fixed number of queries per page."""
        if not 1 <= limit <= MAX_PAGE:
            raise invalid("limit", f"between 1 and {MAX_PAGE}")
        devicelist.check(which, sort, order)
        after = devicelist.decode_cursor(cursor, sort, order) if cursor else None
        with self.db.read() as conn:
            tenant_id = (
                None if tenant is None else self._tenant_row(conn, tenant, "tenant", scope)["id"]
            )
            if scope is not None and tenant_id is None:
                tenant_id = scope
            counted = devicelist.count(tenant_id, which, q)
            counts = list(conn.execute(counted.text, counted.params).fetchone())
            found = devicelist.page(
                _DEVICE_ROWS, tenant_id, which, q, sort, order, after, counts, limit + 1
            )
            rows = conn.execute(found.text, found.params).fetchall()
            items = self._device_views(conn, rows[:limit])
        last = rows[limit - 1] if len(rows) > limit else None
        return {
            "items": items,
            "total": sum(counts),
            "next_cursor": None
            if last is None
            else devicelist.encode_cursor(
                sort, order, devicelist.sort_value(sort, last), last["mac"]
            ),
        }

    def import_devices(
        self,
        tenant: int | str,
        rows: Sequence[Mapping[str, str | None]],
        dry_run: bool = False,
        scope: int | None = None,
    ) -> dict[str, Any]:
        """All or nothing (:func:`import_devices`); published now, or by the job in ``job``."""
        view, macs, job_id = import_devices(self.db, tenant, rows, dry_run, scope)
        if macs:
            self.publishing.step(macs=macs)
        if job_id is not None:
            self.jobs.wake()
        view["job"] = None if job_id is None else self.get_job(job_id)
        return view

    def export_devices(
        self, tenant: int | str, which: str = "all", scope: int | None = None, q: str = "",
        macs: list[str] | None = None,
    ) -> str:  # fmt: skip
        """CSV of the devices (:func:`export_devices`)."""
        return export_devices(self.db, tenant, which, scope, q, macs)

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
                _check_key_room(conn, MODELS[changes["model"]], row["mac"], count, "model")
            check_hotdesk(
                MODELS[changes.get("model", row["model"])],
                changes.get("hotdesk_pin", row["hotdesk_pin"]),
                "hotdesk_pin" if "hotdesk_pin" in changes else "model",
            )
            changes.pop("background", None)
            if "background" in patch.model_fields_set:  # an explicit null clears it
                changes["background_id"] = patch.background
            backgrounds.check_choice(
                conn, row["tenant_id"], changes.get("model", row["model"]),
                changes.get("background_id", row["background_id"]),
                "background" if "background_id" in changes else "model",
            )  # fmt: skip
            if "vars" in changes:
                tenant_row = conn.execute(
                    "SELECT vars FROM tenants WHERE id = ?", (row["tenant_id"],)
                ).fetchone()
                _check_vars(tenant_row, changes["vars"])
                changes["vars"] = orjson.dumps(changes["vars"]).decode()
            if "template" in changes:  # 0: back to the tenant's choice
                chosen = changes.pop("template") or None
                if chosen is not None:
                    template = conn.execute(
                        "SELECT * FROM templates WHERE id = ? AND tenant_id = ?",
                        (chosen, row["tenant_id"]),
                    ).fetchone()
                    if template is None:
                        raise not_found("template", "template of this device's tenant")
                    if not custom_templates.fits(template, changes.get("model", row["model"])):
                        raise invalid("template", "not a template for this device's model")
                changes["template_id"] = chosen
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

    def selected_devices(
        self, macs: list[str] | None, tenant: int | str | None, which: str | None, q: str,
        scope: int | None = None,
    ) -> list[str]:  # fmt: skip
        """A bulk operation's devices: the MACs given, else the tenant's devices under the
        list's filter and search (the selection of every page at once)."""
        if macs is not None:
            return macs
        if tenant is None or which is None:
            raise invalid("tenant", "give macs, or tenant with filter and/or q")
        return self.select_devices(tenant, which, q, scope)

    def select_devices(
        self, tenant: int | str, which: str, q: str, scope: int | None = None
    ) -> list[str]:
        """The MACs of a tenant's devices under the device list's filter and search."""
        devicelist.check(which)
        with self.db.read() as conn:
            tenant_id = int(self._tenant_row(conn, tenant, "tenant", scope)["id"])
            found = devicelist.where(tenant_id, which, q)
            rows = conn.execute(
                f"SELECT d.mac FROM devices d WHERE {found.text} ORDER BY d.mac", found.params
            ).fetchall()
        return [row["mac"] for row in rows]

    def remove_devices(self, macs: list[str], scope: int | None = None) -> dict[str, Any]:
        """All or nothing: a 404 naming each unknown MAC, or every device removed, its
        files withdrawn before this answers (as :meth:`delete_device`)."""
        with self.db.transaction() as conn:
            removed = fleet.remove(conn, macs, scope)
        self.publishing.step(macs=[])
        return {"removed": removed}

    def reset_provision_counters(self, macs: list[str], scope: int | None = None) -> dict[str, Any]:
        """All or nothing, as :meth:`remove_devices`: each device's provision counter starts
        again from 0. The edge keeps counting (its state is its own); the device remembers
        the count at the reset and shows the fetches since."""
        with self.db.transaction() as conn:
            normal = fleet.known_macs(conn, macs, scope)
            counts = self.edge_state.fetches(normal)
            # rev: the provision limit's stop moves with the base (formats/limits.py), and
            # a new delivery cycle serves the first stage again (formats/delivery.py)
            conn.executemany(
                "UPDATE devices SET provision_base = ?, provision_count = 0, rev = rev + 1,"
                " delivery_cycle = random() & 9223372036854775807 WHERE mac = ?",
                [(counts.get(mac, NO_FETCH).count, mac) for mac in normal],
            )
        if len(normal) <= PUBLISH_BATCH:
            self.publishing.step(macs=normal)
        else:
            with self.db.transaction() as conn:
                jobs.enqueue(conn, RECOMPILE, scope)
            self.jobs.wake()
        return {"reset": len(normal)}

    def set_lines(
        self,
        mac: str,
        numbers: list[str],
        scope: int | None = None,
        labels: Sequence[str | None] | None = None,
    ) -> dict[str, Any]:
        """Replaces the lines; a line's label is ``labels[i]``, or (None) the label its
        extension had on this device before."""
        with self.db.transaction() as conn:
            row = self._device_row(conn, mac, scope)
            kept = {
                r["extension_id"]: r["label"]
                for r in conn.execute(
                    "SELECT extension_id, label FROM device_lines WHERE mac = ?", (row["mac"],)
                )
            }
            extension_ids = devicekeys.extension_ids(conn, row["tenant_id"], numbers, "lines")
            if len(set(extension_ids)) != len(extension_ids):
                raise invalid("lines", "an extension may appear once per device")
            _check_lines(MODELS[row["model"]], len(extension_ids), "lines")
            _check_key_room(conn, MODELS[row["model"]], row["mac"], len(extension_ids), "lines")
            given = list(labels or [])
            given += [None] * (len(extension_ids) - len(given))
            conn.execute("DELETE FROM device_lines WHERE mac = ?", (row["mac"],))
            conn.executemany(
                "INSERT INTO device_lines (mac, position, extension_id, label) VALUES (?, ?, ?, ?)",
                [
                    (row["mac"], pos, ext_id, kept.get(ext_id, "") if label is None else label)
                    for pos, (ext_id, label) in enumerate(zip(extension_ids, given), 1)
                ],
            )
            conn.execute("UPDATE devices SET rev = rev + 1 WHERE mac = ?", (row["mac"],))
        self.publishing.step(macs=[row["mac"]])
        return self.get_device(row["mac"])

    def set_keys(
        self, mac: str, keys: Sequence[tuple[str, str]], scope: int | None = None
    ) -> dict[str, Any]:
        """Replaces the BLF keys, each ``(extension number, label)``: key N lands on the
        phone's key (lines + N), so lines and keys together fit the model's keys."""
        with self.db.transaction() as conn:
            row = self._device_row(conn, mac, scope)
            devicekeys.write_keys(conn, row, keys)
            conn.execute("UPDATE devices SET rev = rev + 1 WHERE mac = ?", (row["mac"],))
        self.publishing.step(macs=[row["mac"]])
        return self.get_device(row["mac"])

    def _device_row(self, conn: sqlite3.Connection, mac: str, scope: int | None) -> sqlite3.Row:
        try:
            normal = normalize_mac(mac)
        except InvalidMac:
            raise not_found("mac", "device") from None
        row = conn.execute(_DEVICE_ROWS + " WHERE d.mac = ?", (normal,)).fetchone()
        return _scoped(row, scope, "mac", "device")

    def _device_views(
        self, conn: sqlite3.Connection, rows: list[sqlite3.Row]
    ) -> list[dict[str, Any]]:
        """Views of a page of devices with their lines read in one query."""
        lines: dict[str, list[dict[str, Any]]] = {row["mac"]: [] for row in rows}
        if rows:
            for line in conn.execute(
                "SELECT dl.mac, dl.position, dl.label, e.number FROM device_lines dl JOIN extensions e"
                f" ON e.id = dl.extension_id WHERE dl.mac IN ({', '.join('?' * len(rows))})"
                " ORDER BY dl.mac, dl.position",
                [row["mac"] for row in rows],
            ):
                lines[line["mac"]].append(
                    {
                        "position": line["position"],
                        "extension": line["number"],
                        "label": line["label"],
                    }
                )
        keys: dict[str, list[dict[str, Any]]] = {row["mac"]: [] for row in rows}
        if rows:
            for key in conn.execute(
                "SELECT dk.mac, dk.position, dk.kind, dk.label, e.number FROM device_keys dk"
                " JOIN extensions e ON e.id = dk.extension_id"
                f" WHERE dk.mac IN ({', '.join('?' * len(rows))}) ORDER BY dk.mac, dk.position",
                [row["mac"] for row in rows],
            ):
                keys[key["mac"]].append(
                    {
                        "position": key["position"],
                        "type": key["kind"],
                        "extension": key["number"],
                        "label": key["label"],
                    }
                )
        stems = _background_stems(conn, rows)
        # The fetch counters of the whole page in one read of the edge state.
        fetches = self.edge_state.fetches(row["mac"] for row in rows)
        warnings = _shared_account_warnings(conn, [row["mac"] for row in rows])
        return [
            {
                **self._device_view(
                    row,
                    lines[row["mac"]],
                    fetches.get(row["mac"], NO_FETCH),
                    stems.get(row["background_id"], ""),
                ),
                "keys": keys[row["mac"]],
                "provision_count": max(
                    0, fetches.get(row["mac"], NO_FETCH).count - row["provision_base"]
                ),
                "warnings": warnings[row["mac"]],
            }
            for row in rows
        ]

    def _device_view(
        self, row: sqlite3.Row, lines: list[dict[str, Any]], fetch: Fetch, stem: str
    ) -> dict[str, Any]:
        model = MODELS[row["model"]]
        url = loading.tenant_url(row, self.edge_url, self.edge_ip)
        fetched_from = loading.fetch_url(row, self.edge_url, self.edge_ip)  # as its files say
        return {
            "mac": row["mac"],
            "tenant": row["tenant_id"],
            "model": row["model"],
            "name": row["name"],
            "background": row["background_id"],
            "background_url": background_values(model, fetched_from, stem)["device.background_url"],
            "hotdesk_pin": row["hotdesk_pin"],
            "lines": lines,
            "provisioning_url": url,
            "files": [name for name, _ in device_files(model, row["mac"])],
            "published": row["published_rev"] >= row["rev"],
            "vars": orjson.loads(row["vars"]),
            "template": row["template_id"],
            "render_error": row["render_error"] or None,
            "created_at": row["created_at"],
            **_language_view(model, row["language"]),
            **fetch_view(fetch),
        }

    # ---- accounts and extensions -----------------------------------------------------------
    def create_account(self, body: AccountIn, scope: int | None = None) -> dict[str, Any]:
        password = body.password or new_password()
        fields = {
            **ACCOUNT_DEFAULTS,
            **body.model_dump(exclude_none=True, exclude={"tenant", "activation"}),
        }
        if body.activation:
            fields["enabled"] = False  # the wizard: disabled until its link is used
        with self.db.transaction() as conn:
            tenant = self._tenant_row(conn, body.tenant, "tenant", scope)
            username = body.username or accountbatch.free_username(conn, tenant["id"])
            taken = conn.execute(
                "SELECT 1 FROM accounts WHERE tenant_id = ? AND username = ?",
                (tenant["id"], username),
            ).fetchone()
            if taken:
                raise conflict("username", "this username exists in the tenant")
            fields.update(
                username=username,
                password=password,
                realm=body.realm or tenant["realm"],
                tenant_id=tenant["id"],
                ip=body.ip,
            )
            columns = ", ".join(fields)
            cur = conn.execute(
                f"INSERT INTO accounts ({columns}) VALUES ({', '.join(':' + c for c in fields)})",
                account_params(fields),
            )
            account_id = int(cur.lastrowid or 0)
            activation = self._issue_activation(conn, account_id) if body.activation else {}
        self.publishing.step(macs=[], accounts=[account_id])
        # The password is returned here once; later reads show it only when revealed.
        return {**self.get_account(account_id), "password": password, **activation}

    def create_accounts(
        self, body: AccountBatchIn, scope: int | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Accounts from a username pattern, the other fields shared: all or nothing
        (control/accountbatch.py)."""
        shared = body.model_dump(exclude_none=True, exclude=_BATCH_ONLY)
        rows = [
            {**shared, "username": username}
            for username in batch_usernames(body.username_pattern, body.start, body.count)
        ]
        return self._created(accountbatch.create(self.db, body.tenant, rows, {}, scope, dry_run))

    def import_accounts(
        self, tenant: int | str, text: str, scope: int | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Accounts from the rows of a CSV file (control/domain/accountcsv.py), each row
        checked as a create body: all or nothing."""
        bodies = [accountcsv.body_of(row) for row in accountcsv.read_rows(text)]
        if len(bodies) > MAX_BATCH:
            raise invalid("body", f"{len(bodies)} rows; at most {MAX_BATCH} in one batch")
        rows, errors = accountbatch.check_rows(bodies, tenant, lambda _: None)
        made = accountbatch.create(self.db, tenant, rows, errors, scope, dry_run)
        return self._created(made)

    def _created(self, made: accountbatch.Made) -> dict[str, Any]:
        if made.accounts:
            self.publishing.step(macs=[], accounts=made.accounts)
        elif made.job is not None:
            self.jobs.wake()
        answer = dict(made.answer)
        answer["job"] = None if made.job is None else self.get_job(made.job)
        return answer

    def issue_activation(self, account_id: int, scope: int | None = None) -> dict[str, Any]:
        """A new one-time link for the account; its earlier unused links stop working."""
        with self.db.transaction() as conn:
            self._account_row(conn, account_id, scope)
            return self._issue_activation(conn, account_id)

    def _issue_activation(self, conn: sqlite3.Connection, account_id: int) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        expires_at = time.time() + self.activation_lifetime_s
        conn.execute(
            "DELETE FROM activations WHERE account_id = ? AND used_at IS NULL", (account_id,)
        )
        conn.execute(
            "INSERT INTO activations (token_hash, account_id, expires_at) VALUES (?, ?, ?)",
            (_token_hash(token), account_id, expires_at),
        )
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at))
        return {"activation_token": token, "activation_expires_at": when}

    def activate(self, token: str) -> dict[str, Any]:
        """Uses a one-time link: enables the account once and answers what a client needs
        to configure itself. A used or expired link is a 410 and changes nothing."""
        with self.db.transaction() as conn:
            link = conn.execute(
                "SELECT * FROM activations WHERE token_hash = ?", (_token_hash(token),)
            ).fetchone()
            if link is None:
                raise not_found("token", "activation")
            if link["used_at"] is not None:
                raise ServiceError(410, {"token": "this activation link was used"})
            if link["expires_at"] < time.time():
                raise ServiceError(410, {"token": "this activation link expired"})
            conn.execute(
                "UPDATE activations SET used_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
                " WHERE token_hash = ?",
                (link["token_hash"],),
            )
            account = self._account_row(conn, link["account_id"], None)
            conn.execute(
                "UPDATE accounts SET enabled = 1, rev = rev + 1 WHERE id = ?", (account["id"],)
            )
            macs, job_id = self._republish_devices(conn, account["id"], account["tenant_id"])
            tenant = conn.execute(
                "SELECT * FROM tenants WHERE id = ?", (account["tenant_id"],)
            ).fetchone()
            on_device = _account_devices(conn, [account["id"]])[account["id"]]
        self._publish_account_change(account["id"], macs, job_id)
        return {
            "sip_server": tenant["sip_server"],
            "sip_port": tenant["sip_port"],
            "sip_transport": tenant["sip_transport"],
            "realm": account["realm"],
            "username": account["username"],
            "password": account["password"],
            "provisioning_url": (
                loading.tenant_url(tenant, self.edge_url, self.edge_ip) if on_device else None
            ),
        }

    def get_account(self, account_id: int, scope: int | None = None) -> dict[str, Any]:
        with self.db.read() as conn:
            row = self._account_row(conn, account_id, scope)
            return _account_views(conn, [row])[0]

    def list_accounts(
        self,
        tenant: int | str,
        scope: int | None = None,
        q: str = "",
        sort: str = "username",
        order: str = "asc",
        limit: int = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page of accounts (:func:`list_accounts`)."""
        return list_accounts(self.db, tenant, scope, q, sort, order, limit, cursor)

    def export_accounts(
        self,
        tenant: int | str,
        q: str = "",
        sort: str = "username",
        order: str = "asc",
        scope: int | None = None,
    ) -> str:
        """CSV of the matching accounts (:func:`export_accounts`)."""
        return export_accounts(self.db, tenant, q, sort, order, scope)

    def reveal_password(self, account_id: int, scope: int | None = None) -> dict[str, Any]:
        with self.db.read() as conn:
            row = self._account_row(conn, account_id, scope)
        return {k: row[k] for k in ("id", "username", "realm", "password")}

    def update_account(
        self, account_id: int, patch: AccountPatch, scope: int | None = None
    ) -> dict[str, Any]:
        """Writes what differs; republishes its registrar record, and the devices whose
        files carry it when a field they render changed (a job when they are many)."""
        given = patch.model_dump(exclude_unset=True)
        given = {k: v for k, v in given.items() if v is not None or k == "ip"}
        with self.db.transaction() as conn:
            row = self._account_row(conn, account_id, scope)
            if given.get("auth_method") == "password" and "ip" not in given:
                given["ip"] = None  # leaving IP authentication drops the address
            current = _account_fields(row)
            changes = {k: v for k, v in given.items() if current.get(k) != v}
            problem = ip_problem(
                changes.get("auth_method", row["auth_method"]), changes.get("ip", row["ip"])
            )
            if problem:
                raise invalid("ip", problem)
            if (
                "username" in changes
                and conn.execute(
                    "SELECT 1 FROM accounts WHERE tenant_id = ? AND username = ?",
                    (row["tenant_id"], changes["username"]),
                ).fetchone()
            ):
                raise conflict("username", "this username exists in the tenant")
            macs: list[str] = []
            job_id = None
            if changes:
                columns = ", ".join(f"{name} = :{name}" for name in changes)
                conn.execute(
                    f"UPDATE accounts SET {columns}, rev = rev + 1 WHERE id = :id",
                    account_params({**changes, "id": row["id"]}),
                )
                if RENDERED_ACCOUNT_FIELDS & changes.keys():
                    macs, job_id = self._republish_devices(conn, row["id"], row["tenant_id"])
        self._publish_account_change(account_id, macs, job_id)
        view = self.get_account(account_id)
        view["changed"] = sorted(changes)
        view["job"] = None if job_id is None else self.get_job(job_id)
        return view

    def delete_account(
        self, account_id: int, force: bool = False, scope: int | None = None
    ) -> None:
        """409 naming the devices while a device line uses it, unless ``force``."""
        with self.db.transaction() as conn:
            row = self._account_row(conn, account_id, scope)
            used = _account_devices(conn, [row["id"]])[row["id"]]
            if used and not force:
                raise conflict(
                    "devices", f"used by the lines of {', '.join(used)}; ?force=true deletes it"
                )
            macs, job_id = self._republish_devices(conn, row["id"], row["tenant_id"])
            # The delete trigger queues the withdrawal of its record (schema.sql).
            conn.execute("DELETE FROM accounts WHERE id = ?", (row["id"],))
        self._publish_account_change(account_id, macs, job_id)

    def _republish_devices(
        self, conn: sqlite3.Connection, account_id: int, tenant_id: int
    ) -> tuple[list[str], int | None]:
        """Bumps the devices whose files carry the account: ``(macs, None)`` for a request
        to step itself, or ``([], job id)`` when they are more than one batch."""
        macs = [
            r["mac"]
            for r in conn.execute(
                "SELECT DISTINCT dl.mac FROM extension_accounts ea"
                " JOIN device_lines dl ON dl.extension_id = ea.extension_id"
                " WHERE ea.account_id = ? AND ea.position = 1",
                (account_id,),
            )
        ]
        conn.executemany("UPDATE devices SET rev = rev + 1 WHERE mac = ?", [(m,) for m in macs])
        if len(macs) > PUBLISH_BATCH:
            return [], jobs.enqueue(conn, RECOMPILE, tenant_id)
        return macs, None

    def _publish_account_change(self, account_id: int, macs: list[str], job_id: int | None) -> None:
        self.publishing.step(macs=macs, accounts=[account_id])
        if job_id is not None:
            self.jobs.wake()

    def _account_row(
        self, conn: sqlite3.Connection, account_id: int, scope: int | None
    ) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
        return _scoped(row, scope, "id", "account")

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
        view = jobs.view(row)
        view["counts"] = reboots.counts(self.db, job_id) if row["kind"] == reboots.REBOOT else None
        return view

    def job_results(
        self, job_id: int, scope: int | None, state: str | None, limit: int, cursor: str | None
    ) -> dict[str, Any]:
        job = self.get_job(job_id, scope)
        if job["kind"] != reboots.REBOOT:
            raise invalid("id", "only reboot jobs have results per device")
        try:
            after = None if cursor is None else int(cursor)
        except ValueError:
            raise invalid("cursor", "not a cursor this API gave") from None
        return reboots.results(self.db, job_id, state, limit, after)

    # ---- custom templates ----------------------------------------------------------------
    def template_sample(self, model: str, file: str, engine: str) -> str:
        return custom_templates.sample(model, file, engine)

    def _template_row(self, conn: sqlite3.Connection, template_id: int, scope: int | None) -> Any:
        row = conn.execute("SELECT * FROM templates WHERE id = ?", (template_id,)).fetchone()
        if row is None or (scope is not None and row["tenant_id"] != scope):
            raise not_found("id", "template")
        return row

    def list_templates(self, tenant: int | str | None, scope: int | None) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            tenant_id = scope
            if tenant is not None:
                tenant_id = int(self._tenant_row(conn, tenant, "tenant", scope)["id"])
            rows = conn.execute(
                "SELECT * FROM templates WHERE ? IS NULL OR tenant_id = ? ORDER BY id",
                (tenant_id, tenant_id),
            ).fetchall()
        return [custom_templates.view(row) for row in rows]

    def get_template(self, template_id: int, scope: int | None = None) -> dict[str, Any]:
        with self.db.read() as conn:
            row = self._template_row(conn, template_id, scope)
            return {
                **custom_templates.view(row),
                "render_errors": custom_templates.render_errors(conn, row),
            }

    def save_template(
        self, template_id: int | None, fields: dict[str, Any], scope: int | None
    ) -> dict[str, Any]:
        """Create (``template_id`` None, ``fields["tenant"]`` a reference) or change one,
        after lint; a recompile job follows when it may render for a device."""
        with self.db.transaction() as conn:
            if template_id is None:
                tenant_id = int(self._tenant_row(conn, fields.pop("tenant"), "tenant", scope)["id"])
                merged = fields
            else:
                old = self._template_row(conn, template_id, scope)
                tenant_id = int(old["tenant_id"])
                merged = {**{k: old[k] for k in ("name", "vendor", "model", "file", "engine",
                                                 "source", "is_default")}, **fields}  # fmt: skip
            custom_templates.check(
                conn, self.compiler, self.edge_url, tenant_id, merged, self.edge_ip
            )
            saved = custom_templates.save(conn, tenant_id, fields, template_id)
            job = custom_templates.recompile(conn, tenant_id, merged["vendor"])
        self.jobs.wake()
        view = self.get_template(saved)
        view["job"] = self.get_job(job)
        return view

    def delete_template(self, template_id: int, scope: int | None = None) -> dict[str, Any]:
        with self.db.transaction() as conn:
            row = self._template_row(conn, template_id, scope)
            conn.execute("DELETE FROM templates WHERE id = ?", (template_id,))
            job = custom_templates.recompile(conn, int(row["tenant_id"]), row["vendor"])
        self.jobs.wake()
        return self.get_job(job)

    def preview(
        self, mac: str, file: str, template_id: int | None, scope: int | None = None
    ) -> dict[str, Any]:
        with self.db.read() as conn:
            row = self._device_row(conn, mac, scope)
            return custom_templates.preview(
                conn, self.compiler, self.edge_url, row, file, template_id, self.edge_ip
            )

    # ---- remote re-sync and reboot -------------------------------------------------------
    def start_reboot(
        self, tenant: int | str | None, scope: int | None, macs: list[str] | None,
        filter_: str, mode: str, rate_per_s: float, wave_size: int | None,
        wave_pause_s: float | None, confirm_s: float, q: str = "",
    ) -> dict[str, Any]:  # fmt: skip
        """Queue a reboot job for the devices named (MACs, or a tenant, a filter and the
        device list's search ``q``)."""
        with self.db.transaction() as conn:
            tenant_id = scope
            if tenant is not None:
                tenant_id = int(self._tenant_row(conn, tenant, "tenant", scope)["id"])
            job_params = reboots.params(mode, rate_per_s, wave_size, wave_pause_s, confirm_s)
            job_id = reboots.queue(conn, tenant_id, macs, filter_, job_params, q)
        self.reboots.wake()
        return self.get_job(job_id, scope)

    def list_jobs(self, state: str | None = None, scope: int | None = None) -> list[dict[str, Any]]:
        if state is not None and state not in jobs.STATES:
            raise invalid("state", f"one of {', '.join(jobs.STATES)}")
        return [jobs.view(row) for row in jobs.listing(self.db, state, scope)]

    def cancel_job(self, job_id: int, scope: int | None = None) -> dict[str, Any]:
        self.get_job(job_id, scope)
        jobs.request_cancel(self.db, job_id)
        return self.get_job(job_id, scope)

    # ---- firewall --------------------------------------------------------------------------
    def firewall_tenant(self, ref: int | str | None) -> int | None:
        """A tenant reference of the firewall routes as its id (None: the global settings)."""
        if ref is None:
            return None
        with self.db.read() as conn:
            return int(find_tenant(conn, ref, "tenant", None)["id"])

    # ---- background images (control/backgrounds.py) ------------------------------------------
    def upload_background(
        self, tenant: int | str, name: str | None, data: bytes, content_type: str,
        scope: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Checked by Pillow first (422 naming what is wrong), stored, and its scaled files
        published before this answers."""
        with self.db.read() as conn:
            self._tenant_row(conn, tenant, "tenant", scope)  # 404 before any decoding
        size = backgrounds.checked(data, content_type)
        with self.db.transaction() as conn:
            tenant_id = int(self._tenant_row(conn, tenant, "tenant", scope)["id"])
            background_id = backgrounds.insert(conn, tenant_id, name, data, content_type, size)
        self.publishing.step(macs=[])
        return self.get_background(background_id)

    def list_backgrounds(self, tenant: int | str | None, scope: int | None) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            tenant_id = scope
            if tenant is not None:
                tenant_id = int(self._tenant_row(conn, tenant, "tenant", scope)["id"])
            return [self._background_view(conn, r) for r in backgrounds.rows(conn, tenant_id)]

    def get_background(self, background_id: int, scope: int | None = None) -> dict[str, Any]:
        with self.db.read() as conn:
            return self._background_view(conn, backgrounds.row(conn, background_id, scope))

    def _background_view(self, conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        tenant = conn.execute("SELECT * FROM tenants WHERE id = ?", (row["tenant_id"],)).fetchone()
        # the URLs its phones are given: under device_credentials the authenticated
        # directory, which serves a tenant's file to anyone holding the key, as here
        return backgrounds.view(row, loading.fetch_url(tenant, self.edge_url, self.edge_ip))

    def delete_background(
        self, background_id: int, force: bool = False, scope: int | None = None
    ) -> None:
        """409 while devices show it, unless ``force`` (they go back to none)."""
        with self.db.transaction() as conn:
            found = backgrounds.row(conn, background_id, scope)
            macs = backgrounds.delete(conn, found, force)
            job_id = None
            if len(macs) > PUBLISH_BATCH:
                job_id, macs = jobs.enqueue(conn, RECOMPILE, found["tenant_id"]), []
        # The devices first lose the URL, then the files go: one step, one transaction.
        self.publishing.step(macs=macs)
        if job_id is not None:
            self.jobs.wake()

    # ---- end-user self-service (control/selfservice.py) -------------------------------------
    def my_devices(self, account_id: int, scope: int) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = selfservice.device_rows(conn, account_id, scope)
            return [selfservice.device_view(conn, row, account_id) for row in rows]

    def my_device(self, mac: str, account_id: int, scope: int) -> dict[str, Any]:
        with self.db.read() as conn:
            row = selfservice.device_row(conn, mac, account_id, scope)
            return selfservice.device_view(conn, row, account_id)

    def update_my_device(
        self, mac: str, patch: MyDevicePatch, account_id: int, scope: int
    ) -> dict[str, Any]:
        """Applies each given field by its changer, all in one transaction."""
        with self.db.transaction() as conn:
            row = selfservice.device_row(conn, mac, account_id, scope)
            changed = False
            for name in sorted(patch.model_fields_set):
                value = getattr(patch, name)
                if value is not None or name in selfservice.NULLABLE:
                    changed |= selfservice.CHANGERS[name](conn, row, account_id, value)
            if changed:
                conn.execute("UPDATE devices SET rev = rev + 1 WHERE mac = ?", (row["mac"],))
        if changed:
            self.publishing.step(macs=[row["mac"]])
        return self.my_device(row["mac"], account_id, scope)

    # ---- audit trail (control/storage/audit.py) -------------------------------------------
    def list_audit(
        self,
        tenant: int | str | None,
        scope: int | None,
        object_name: str | None = None,
        since: str | None = None,
        limit: int = DEFAULT_PAGE,
        cursor: int | None = None,
    ) -> dict[str, Any]:
        """Newest first; a tenant admin sees its tenant's entries only (``tenant`` of
        another is the ordinary 404)."""
        with self.db.read() as conn:
            tenant_id = (
                scope
                if tenant is None
                else int(self._tenant_row(conn, tenant, "tenant", scope)["id"])
            )
            items, after = audit.entries(conn, tenant_id, object_name, since, limit, cursor)
        return {"items": items, "next_cursor": None if after is None else str(after)}

    def list_registrations(
        self, tenant: int | str | None, scope: int | None, account: str | None,
        mac: str | None, limit: int, cursor: str | None,
    ) -> dict[str, Any]:  # fmt: skip
        with self.db.read() as conn:
            return registrations.page(
                conn, self.edge_state, tenant, scope, account, mac, limit, cursor
            )

    # ---- publishing ----------------------------------------------------------------------
    def publish_pending(self) -> int:
        """Everything ahead of LMDB, in this thread (tests and tools; requests step)."""
        return self.publishing.publish_pending()

    def reconcile(self, fingerprint: str) -> int | None:
        """At start-up: withdrawals and common files now, devices and account records by a
        recompile job (its id, None when nothing is pending)."""
        self.publishing.reconcile(fingerprint)
        self.publishing.step(macs=[])
        self.firewall.publish()  # an LMDB made afresh gets the settings, bans and lifts
        if not self.publishing.pending():
            return None
        with self.db.transaction() as conn:
            job_id = jobs.enqueue(conn, RECOMPILE, None)
        self.jobs.wake()
        return job_id


__all__ = ["Control", "ServiceError", "find_tenant"]


def _check_vars(tenant: sqlite3.Row, values: dict[str, str]) -> None:
    """A device sets values only for the custom variables its tenant declares."""
    declared = orjson.loads(tenant["vars"])
    unknown = [name for name in values if name not in declared]
    if unknown:
        raise ServiceError(422, {f"vars.{name}": "not a variable its tenant declares"
                                 for name in unknown})  # fmt: skip
