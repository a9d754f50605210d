"""The audit trail: who changed which object, when, from what to what.

Every write of the control plane (the API, the CLI, a job, a service added later) goes
through the one writer connection of :class:`control.storage.db.Database`. On that
connection :func:`install` creates temporary triggers on every table of :data:`AUDITED`:
each inserted, updated or deleted row writes an ``audit`` row *in the same transaction*,
so a change that rolls back leaves no entry, and no code path can forget to record one.

Who acts is a context variable (:func:`acting`), set by the API for each request (the
token's role, label and id), by the CLI (``cli``) and by the job runner (the job); the
triggers read it through SQL functions registered on the connection. Nothing set means
``system`` (start-up reconciliation, tests calling the service directly).

What is recorded is the row as JSON, before and after, without its bookkeeping columns
(``rev``, ``published_rev``, ``ahead_since``, ``last_used_at``: an update of only those is not a change
anyone made) and with its secret columns masked: ``"***"``, ``"*** (changed)"`` in the
``after`` of an update that changed it, ``""`` when the value is empty.

**Adding a table** (a service of its own: templates, bans, keys, ...) is one entry in
:data:`AUDITED`: the table, the object name as an SQL expression over the row (``{row}``
stands for ``NEW`` or ``OLD``), the tenant (a column or a sub-select), its secrets. A table
that is not a change anyone makes goes in :data:`NOT_AUDITED` with the reason;
tests/test_audit.py fails on a table in neither.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson

MASK = "***"
MASK_CHANGED = "*** (changed)"


@dataclass(frozen=True, slots=True)
class Actor:
    role: str  # operator | tenant_admin | end_user | public | cli | job | system
    label: str = ""
    token: str = ""  # the token's id, for API requests


SYSTEM = Actor("system")
_actor: ContextVar[Actor] = ContextVar("provedge_actor", default=SYSTEM)
# False inside :func:`inserting_in_bulk`: the insert triggers stand aside for one
# set-based INSERT ... SELECT of the same entries (:func:`record_inserts`).
_row_by_row: ContextVar[bool] = ContextVar("provedge_audit_row_by_row", default=True)


@contextmanager
def acting(actor: Actor) -> Iterator[None]:
    """Changes made inside are recorded as ``actor``'s (threads started by
    ``run_in_threadpool`` inherit it: anyio copies the context)."""
    reset = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(reset)


def current_actor() -> Actor:
    return _actor.get()


@contextmanager
def inserting_in_bulk() -> Iterator[None]:
    """Rows inserted inside are not recorded by the triggers: the caller records them
    with :func:`record_inserts` in the same transaction (control/storage/bulk.py)."""
    reset = _row_by_row.set(False)
    try:
        yield
    finally:
        _row_by_row.reset(reset)


@dataclass(frozen=True, slots=True)
class Audited:
    """How the rows of one table are named in the trail."""

    table: str
    object: str  # SQL over {row}: "'device/' || {row}.mac"
    tenant: str = "{row}.tenant_id"  # SQL over {row}: the tenant id, or NULL
    secrets: tuple[str, ...] = ()
    bookkeeping: tuple[str, ...] = ("rev", "published_rev", "ahead_since")


def _parent_tenant(table: str, key: str, column: str) -> str:
    return f"(SELECT tenant_id FROM {table} WHERE {key} = {{row}}.{column})"


AUDITED: tuple[Audited, ...] = (
    Audited("tenants", "'tenant/' || {row}.id", "{row}.id", secrets=("url_key", "hotdesk_pin")),
    Audited(
        "devices",
        "'device/' || {row}.mac",
        secrets=("admin_password", "hotdesk_pin", "fetch_password"),
        # kept by triggers, the publisher and the fetch mirror, not changes anyone made
        bookkeeping=(
            "rev",
            "published_rev",
            "ahead_since",
            "delivery_cycle",  # drawn at random by a counter reset (provision_base says it)
            "render_error",
            "line_count",
            "last_fetch_us",
            "provision_count",
        ),
    ),
    Audited(
        "device_lines",
        "'device/' || {row}.mac || '/line/' || {row}.position",
        _parent_tenant("devices", "mac", "mac"),
    ),
    Audited(
        "device_keys",
        "'device/' || {row}.mac || '/key/' || {row}.position",
        _parent_tenant("devices", "mac", "mac"),
    ),
    Audited("accounts", "'account/' || {row}.id", secrets=("password",)),
    Audited(
        "activations",
        "'account/' || {row}.account_id || '/activation'",
        _parent_tenant("accounts", "id", "account_id"),
        secrets=("token_hash",),
    ),
    Audited("extensions", "'extension/' || {row}.id"),
    Audited(
        "extension_accounts",
        "'extension/' || {row}.extension_id || '/account/' || {row}.position",
        _parent_tenant("extensions", "id", "extension_id"),
    ),
    Audited(
        "tokens",
        "'token/' || substr({row}.token_hash, 1, 12)",
        secrets=("token_hash",),
        bookkeeping=("last_used_at",),
    ),
    # the image itself is not JSON; its sha256, type and size are
    Audited(
        "backgrounds",
        "'background/' || {row}.id",
        bookkeeping=("rev", "published_rev", "image"),
    ),
    Audited("templates", "'template/' || {row}.id", "{row}.tenant_id", bookkeeping=("rev",)),
    Audited("manual_bans", "'ban/' || {row}.address", "NULL"),
    Audited("ban_lifts", "'ban/' || {row}.address || '/lift'", "NULL"),
)
# Tables whose rows nobody changes as such, and why (tests/test_audit.py checks the split).
NOT_AUDITED: dict[str, str] = {
    "audit": "the trail itself",
    "settings": "the compiler fingerprint the control plane keeps for itself",
    "withdrawals": "publishing bookkeeping, queued by the delete triggers of audited tables",
    "device_counts": "each tenant's device totals, kept by the triggers on devices",
    "jobs": "work queued by audited changes; a job's own record is its progress",
    "console_sessions": "log-ins: what a session changes is recorded under its token",
    "reboot_targets": "a reboot job's devices and their outcomes; the request has one entry,"
    " reboot/<job> (control/reboots.py)",
}


def _json(columns: list[str], spec: Audited, row: str, other: str | None) -> str:
    """``json_object`` of a row's columns; secrets masked, and marked changed when
    ``other`` (the row before an update) differs."""
    parts = []
    for column in columns:
        value = f"{row}.{column}"
        if column in spec.secrets:
            masked = f"CASE WHEN coalesce({value}, '') = '' THEN '' ELSE '{MASK}' END"
            if other is not None:
                masked = (
                    f"CASE WHEN {value} IS {other}.{column} THEN {masked} ELSE '{MASK_CHANGED}' END"
                )
            value = masked
        parts.append(f"'{column}', {value}")
    return f"json_object({', '.join(parts)})"


def _trigger(spec: Audited, columns: list[str], event: str) -> str:
    kept = [c for c in columns if c not in spec.bookkeeping]
    row = "OLD" if event == "DELETE" else "NEW"
    before = "NULL" if event == "INSERT" else _json(kept, spec, "OLD", None)
    after = (
        "NULL"
        if event == "DELETE"
        else _json(kept, spec, "NEW", "OLD" if event == "UPDATE" else None)
    )
    action = {"INSERT": "create", "UPDATE": "update", "DELETE": "delete"}[event]
    when = "WHEN audit_row_by_row()" if event == "INSERT" else ""
    if event == "UPDATE":
        when = "WHEN " + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in kept)
    return (
        f"CREATE TEMP TRIGGER audit_{spec.table}_{event.lower()}"
        f" AFTER {event} ON main.{spec.table} {when} BEGIN"
        " INSERT INTO audit"
        " (actor_role, actor_label, actor_token, tenant_id, object, action, before, after)"
        " VALUES (audit_actor_role(), audit_actor_label(), audit_actor_token(),"
        f" {spec.tenant.format(row=row)}, {spec.object.format(row=row)}, '{action}',"
        f" {before}, {after}); END"
    )


def _spec(table: str) -> Audited:
    return next(spec for spec in AUDITED if spec.table == table)


def record_inserts(conn: sqlite3.Connection, table: str, where: str, params: list[Any]) -> None:
    """The ``create`` entries of the rows of ``table`` that ``where`` selects (over the
    alias ``r``), as the insert trigger writes them, in one statement."""
    spec = _spec(table)
    columns = [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")]
    kept = [c for c in columns if c not in spec.bookkeeping]
    conn.execute(
        "INSERT INTO audit"
        " (actor_role, actor_label, actor_token, tenant_id, object, action, before, after)"
        " SELECT audit_actor_role(), audit_actor_label(), audit_actor_token(),"
        f" {spec.tenant.format(row='r')}, {spec.object.format(row='r')}, 'create', NULL,"
        f" {_json(kept, spec, 'r', None)} FROM main.{table} AS r WHERE {where} ORDER BY r.rowid",
        params,
    )


def install(conn: sqlite3.Connection) -> None:
    """The trail's functions and triggers on the writer connection ``conn``. Generated
    from the tables as they are now, so a column added later is recorded too."""
    conn.create_function("audit_actor_role", 0, lambda: _actor.get().role)
    conn.create_function("audit_actor_label", 0, lambda: _actor.get().label)
    conn.create_function("audit_actor_token", 0, lambda: _actor.get().token)
    conn.create_function("audit_row_by_row", 0, lambda: _row_by_row.get())
    for spec in AUDITED:
        columns = [r[1] for r in conn.execute(f"PRAGMA main.table_info({spec.table})")]
        if not columns:
            raise RuntimeError(f"audited table {spec.table} does not exist")
        for event in ("INSERT", "UPDATE", "DELETE"):
            conn.execute(f"DROP TRIGGER IF EXISTS temp.audit_{spec.table}_{event.lower()}")
            conn.execute(_trigger(spec, columns, event))


# ---- reading ---------------------------------------------------------------------------------
def object_filter(name: str) -> tuple[str, list[Any]]:
    """SQL matching an object name: ``device`` (every device), ``device/<mac>`` (that
    device and its parts, such as its lines). Ranges, so the index on ``object`` serves."""
    prefix = name if "/" in name else name + "/"
    # '/' + 1 is '0': [prefix + '/', prefix + '0') holds exactly the names under it.
    if "/" in name:
        return "(a.object = ? OR (a.object >= ? AND a.object < ?))", [name, name + "/", name + "0"]
    return "(a.object >= ? AND a.object < ?)", [prefix, prefix[:-1] + "0"]


def entry_view(row: sqlite3.Row) -> dict[str, Any]:
    before = None if row["before"] is None else orjson.loads(row["before"])
    after = None if row["after"] is None else orjson.loads(row["after"])
    changed = sorted(
        set(before or {}) | set(after or {})
        if before is None or after is None
        else {k for k in after if before.get(k) != after[k]}
    )
    return {
        "id": row["id"],
        "at": row["at"],
        "actor": {
            "role": row["actor_role"],
            "label": row["actor_label"],
            "token": row["actor_token"],
        },
        "tenant": row["tenant_id"],
        "object": row["object"],
        "action": row["action"],
        "before": before,
        "after": after,
        "changed": changed,
    }


def entries(
    conn: sqlite3.Connection,
    tenant_id: int | None,
    object_name: str | None,
    since: str | None,
    limit: int,
    before_id: int | None,
) -> tuple[list[dict[str, Any]], int | None]:
    """One page, newest first: ``(entries, cursor of the next page or None)``."""
    where: list[str] = ["1"]
    params: list[Any] = []
    if tenant_id is not None:
        where.append("a.tenant_id = ?")
        params.append(tenant_id)
    if object_name:
        text, values = object_filter(object_name)
        where.append(text)
        params += values
    if since is not None:
        where.append("a.at >= ?")
        params.append(since)
    if before_id is not None:
        where.append("a.id < ?")
        params.append(before_id)
    rows = conn.execute(
        f"SELECT a.* FROM audit a WHERE {' AND '.join(where)} ORDER BY a.id DESC LIMIT ?",
        [*params, limit + 1],
    ).fetchall()
    page = [entry_view(r) for r in rows[:limit]]
    return page, (page[-1]["id"] if len(rows) > limit else None)
