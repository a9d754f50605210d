"""End-user self-service: the devices whose lines carry one SIP account, and the few
things its user may change on them.

An ``end_user`` token is bound to an account (control/api/auth.py). Its devices are those
with a line whose extension lists the account (at any position); any other MAC, in its
tenant or not, is the same 404 as an unknown one. What it may change is what
:data:`CHANGERS` names: the labels of the lines that carry its account and the device's
BLF keys (the same checks as the operator's, control/devicekeys.py), and its background
among its tenant's images (control/backgrounds.py; null: none). Each is a field of
``MyDevicePatch`` (control/api/schemas.py), a changer here, and what the view shows in
:func:`device_view`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from control import backgrounds, devicekeys
from control.domain.errors import ServiceError, not_found
from provedge.formats.macaddr import InvalidMac, normalize_mac

_MINE = (
    "SELECT DISTINCT dl.mac FROM device_lines dl"
    " JOIN extension_accounts ea ON ea.extension_id = dl.extension_id WHERE ea.account_id = ?"
)
_LINES = (
    "SELECT dl.position, dl.label, e.number,"
    " EXISTS (SELECT 1 FROM extension_accounts ea"
    "         WHERE ea.extension_id = dl.extension_id AND ea.account_id = ?) AS mine"
    " FROM device_lines dl JOIN extensions e ON e.id = dl.extension_id"
    " WHERE dl.mac = ? ORDER BY dl.position"
)


def device_rows(conn: sqlite3.Connection, account_id: int, scope: int) -> list[sqlite3.Row]:
    rows: list[sqlite3.Row] = conn.execute(
        f"SELECT mac, tenant_id, model, name, background_id FROM devices WHERE tenant_id = ?"
        f" AND mac IN ({_MINE}) ORDER BY mac",
        (scope, account_id),
    ).fetchall()
    return rows


def device_row(conn: sqlite3.Connection, mac: str, account_id: int, scope: int) -> sqlite3.Row:
    """The device if it is the account's; the ordinary 404 otherwise."""
    try:
        normal = normalize_mac(mac)
    except InvalidMac:
        raise not_found("mac", "device") from None
    row: sqlite3.Row | None = conn.execute(
        f"SELECT mac, tenant_id, model, name, background_id FROM devices WHERE mac = ?"
        f" AND tenant_id = ?"
        f" AND mac IN ({_MINE})",
        (normal, scope, account_id),
    ).fetchone()
    if row is None:
        raise not_found("mac", "device")
    return row


def device_view(conn: sqlite3.Connection, row: sqlite3.Row, account_id: int) -> dict[str, Any]:
    """What an end user sees of a device: no secrets, no provisioning URL."""
    lines = [
        {
            "position": r["position"],
            "extension": r["number"],
            "label": r["label"],
            "mine": bool(r["mine"]),
        }
        for r in conn.execute(_LINES, (account_id, row["mac"]))
    ]
    keys = [
        {"position": r["position"], "type": "blf", "extension": r["number"], "label": r["label"]}
        for r in conn.execute(
            "SELECT dk.position, dk.label, e.number FROM device_keys dk"
            " JOIN extensions e ON e.id = dk.extension_id WHERE dk.mac = ? ORDER BY dk.position",
            (row["mac"],),
        )
    ]
    return {"mac": row["mac"], "model": row["model"], "name": row["name"], "lines": lines,
            "keys": keys, "background": row["background_id"]}  # fmt: skip


def set_labels(
    conn: sqlite3.Connection, row: sqlite3.Row, account_id: int, labels: list[Any]
) -> bool:
    """Each ``{position, label}`` on a line that carries the account (403 naming it
    otherwise, 422 for a position the device does not have); True when one changed."""
    lines = {r["position"]: r for r in conn.execute(_LINES, (account_id, row["mac"]))}
    errors: dict[str, str] = {}
    for index, item in enumerate(labels):
        line = lines.get(item.position)
        if line is None:
            errors[f"lines[{index}].position"] = f"this device has no line {item.position}"
        elif not line["mine"]:
            raise ServiceError(403, {f"lines[{index}].position": "not a line of your account"})
    if errors:
        raise ServiceError(422, errors)
    changed = False
    for item in labels:
        if lines[item.position]["label"] != item.label:
            conn.execute(
                "UPDATE device_lines SET label = ? WHERE mac = ? AND position = ?",
                (item.label, row["mac"], item.position),
            )
            changed = True
    return changed


# What an end user may change: a field of MyDevicePatch -> a function applying it inside
# the update's transaction, True when the device's files change.
Changer = Callable[[sqlite3.Connection, sqlite3.Row, int, Any], bool]


def set_keys(conn: sqlite3.Connection, row: sqlite3.Row, account_id: int, keys: list[Any]) -> bool:
    """The device's BLF keys, as the operator sets them (control/devicekeys.py)."""
    return devicekeys.write_keys(conn, row, [(key.extension, key.label) for key in keys])


def set_background(
    conn: sqlite3.Connection, row: sqlite3.Row, account_id: int, background_id: int | None
) -> bool:
    """One of the tenant's backgrounds (404 for another's), where the model takes one."""
    backgrounds.check_choice(conn, row["tenant_id"], row["model"], background_id, "background")
    return backgrounds.choose(conn, row, background_id)


CHANGERS: dict[str, Changer] = {"lines": set_labels, "keys": set_keys, "background": set_background}
# Fields whose explicit null is a value (none), not "left out"
NULLABLE = frozenset({"background"})
