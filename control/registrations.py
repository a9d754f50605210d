"""Registered clients: the registrar's bindings (edge state) as the API and CLI list them.

The edge keeps the bindings (provedge/formats/bindings.py); the control plane reads them
read-only. ``account`` (a username of the tenant) and ``mac`` (the accounts on that
device's lines) narrow the walk to those accounts' key ranges; without them one page walks
the tenant's bindings in key order. The cursor is the last key of the page, in hex.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from control.domain.errors import invalid, not_found
from control.storage.edgestate import EdgeStateReader
from control.storage.tenants import find_tenant

_DEVICE_ACCOUNTS = """
SELECT ea.account_id FROM device_lines dl
JOIN extension_accounts ea ON ea.extension_id = dl.extension_id
WHERE dl.mac = ?
"""


def page(
    conn: sqlite3.Connection,
    edge: EdgeStateReader,
    tenant: int | str | None,
    scope: int | None,
    account: str | None = None,
    mac: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    tenant_id = scope if tenant is None else int(find_tenant(conn, tenant, "tenant", scope)["id"])
    accounts: list[int] | None = None
    if account is not None:
        if tenant_id is None:
            raise invalid("tenant", "required with account (usernames are per tenant)")
        row = conn.execute(
            "SELECT id FROM accounts WHERE tenant_id = ? AND username = ?", (tenant_id, account)
        ).fetchone()
        if row is None:
            raise not_found("account", "account")
        accounts = [int(row["id"])]
    if mac is not None:
        device = conn.execute("SELECT tenant_id FROM devices WHERE mac = ?", (mac,)).fetchone()
        if device is None or tenant_id not in (None, device["tenant_id"]):
            raise not_found("mac", "device")
        of_device = [int(r["account_id"]) for r in conn.execute(_DEVICE_ACCOUNTS, (mac,))]
        accounts = of_device if accounts is None else [a for a in accounts if a in of_device]
    try:
        after = bytes.fromhex(cursor) if cursor else b""
    except ValueError:
        raise invalid("cursor", "not a cursor this API gave") from None
    items, last = edge.bindings(accounts, tenant_id, after, limit)
    return {"items": [view(r) for r in items], "next_cursor": None if last is None else last.hex()}


def view(record: dict[str, Any]) -> dict[str, Any]:
    expires_at = float(record["expires_at"])
    return {
        "account": record["username"],
        "account_id": record["account"],
        "tenant": record["tenant"],
        "aor": record["aor"],
        "contact": record["contact"],
        "instance": record["instance"],
        "reg_id": record["reg_id"],
        "source": record["source"],
        "port": record["port"],
        "transport": record["transport"],
        "flow": record["flow"],
        "worker": record.get("worker"),
        "user_agent": record["user_agent"],
        "registered_at": _iso(record["registered_at"]),
        "expires_at": _iso(expires_at),
        "expires_in": max(0, int(expires_at - datetime.now(UTC).timestamp())),
    }


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
