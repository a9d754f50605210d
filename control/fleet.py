"""Devices by the thousand: the checks and writes of an import, the rows of an export.

An import is planned before anything is written: every row is checked against the file and
the truth (:func:`plan_import`), and any bad row is a 422 naming each bad row, column and
reason, with nothing written. The plan then says per MAC whether it is created, changed or
left alone; :func:`write_import` writes it within the caller's transaction. Re-importing a
file therefore changes nothing. ``control.service`` wraps both in one transaction and
publishes (a step, or a ``recompile`` job when more than a batch changed).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from control import devicelist
from control.domain.catalog import MODELS
from control.domain.devicecsv import LINE_COLUMNS, parse_keys
from control.domain.errors import ServiceError
from control.domain.keys import MAX_KEYS
from control.domain.refs import check_text
from control.storage import bulk
from provedge.formats.macaddr import InvalidMac, normalize_mac

CHUNK = 500  # bound parameters per query, within SQLite's limit
MAX_ERRORS = 100
SAMPLE = 100  # MACs of each outcome listed in an answer
NAME_MAX = 128


@dataclass(frozen=True, slots=True)
class Wanted:
    """One checked row: what the device is to be."""

    mac: str
    model: str
    name: str | None  # None: the file has no name for it (a new device gets "")
    lines: list[int] | None  # extension ids; None: the file says nothing of lines
    keys: list[tuple[int, str]] | None = None  # BLF (extension id, label); None: nothing said


@dataclass(slots=True)
class Plan:
    rows: int = 0
    created: list[Wanted] = field(default_factory=list)
    changed: list[Wanted] = field(default_factory=list)
    unchanged: int = 0

    def view(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": len(self.created),
            "changed": len(self.changed),
            "unchanged": self.unchanged,
            "created_macs": [w.mac for w in self.created[:SAMPLE]],
            "changed_macs": [w.mac for w in self.changed[:SAMPLE]],
        }


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _row(
    number: int,
    row: Mapping[str, str | None],
    extensions: Mapping[str, int],
    errors: dict[str, str],
) -> tuple[str, Wanted | None]:
    """One row checked on its own: its MAC ("" when bad) and what it wants, None when a
    cell is bad (the file and the truth are checked by the caller)."""
    bad = len(errors)
    where = f"rows[{number}]"
    mac = ""
    try:
        mac = normalize_mac(row.get("mac") or "")
    except InvalidMac:
        errors[f"{where}.mac"] = f"{row.get('mac')!r} is not a MAC address"
    model_id = (row.get("model") or "").lower()
    model = MODELS.get(model_id)
    if model is None:
        errors[f"{where}.model"] = f"unknown model {row.get('model')!r}"
    name = row.get("name")
    if name is not None:
        try:
            check_text(name)
            if len(name) > NAME_MAX:
                errors[f"{where}.name"] = f"longer than {NAME_MAX} characters"
        except ValueError as exc:
            errors[f"{where}.name"] = str(exc)
    lines: list[int] | None = None
    if any(column in row for column in LINE_COLUMNS):
        lines = []
        for column in LINE_COLUMNS:
            number_text = row.get(column) or ""
            if not number_text:
                continue
            ext = extensions.get(number_text)
            if ext is None:
                errors[f"{where}.{column}"] = f"no extension {number_text} in this tenant"
            elif ext in lines:
                errors[f"{where}.{column}"] = f"extension {number_text} twice on this device"
            else:
                lines.append(ext)
            if model is not None and len(lines) > model.max_lines:
                errors[f"{where}.{column}"] = (
                    f"{model.label} holds {model.max_lines} line(s); this is one more"
                )
                break
    keys: list[tuple[int, str]] | None = None
    if "blf" in row:
        keys = []
        for number_text, label in parse_keys(row.get("blf") or ""):
            ext = extensions.get(number_text)
            if ext is None:
                errors[f"{where}.blf"] = f"no extension {number_text!r} in this tenant"
                break
            try:
                check_text(label)
            except ValueError as exc:
                errors[f"{where}.blf"] = f"the label of {number_text}: {exc}"
                break
            keys.append((ext, label))
        if len(keys) > MAX_KEYS:
            errors[f"{where}.blf"] = f"at most {MAX_KEYS} BLF keys"
    if len(errors) > bad:
        return mac, None
    return mac, Wanted(mac, model_id, name, lines, keys)


def plan_import(
    conn: sqlite3.Connection,
    tenant_id: int,
    rows: Sequence[Mapping[str, str | None]],
    progress: Callable[[int], None] | None = None,
) -> Plan:
    """Every row checked; a 422 with the first 100 bad rows' cells when any is bad."""
    extensions = {
        r["number"]: r["id"]
        for r in conn.execute("SELECT id, number FROM extensions WHERE tenant_id = ?", (tenant_id,))
    }
    errors: dict[str, str] = {}
    wanted: list[Wanted] = []
    first_row: dict[str, int] = {}
    for number, row in enumerate(rows, 1):
        mac, checked = _row(number, row, extensions, errors)
        if mac in first_row:
            errors[f"rows[{number}].mac"] = f"also in row {first_row[mac]} of the file"
            continue
        if mac:
            first_row[mac] = number
        if checked is not None:
            wanted.append(checked)
        if progress is not None and number % 1000 == 0:
            progress(1000)
    macs = [w.mac for w in wanted]
    current: dict[str, sqlite3.Row] = {}
    current_lines: dict[str, list[int]] = {mac: [] for mac in macs}
    current_keys: dict[str, list[tuple[int, str]]] = {mac: [] for mac in macs}
    for chunk in _chunks(macs):
        for r in conn.execute(
            "SELECT mac, extension_id, label FROM device_keys"
            f" WHERE mac IN ({_marks(len(chunk))}) ORDER BY mac, position",
            chunk,
        ):
            current_keys[r["mac"]].append((r["extension_id"], r["label"]))
        for r in conn.execute(
            f"SELECT mac, tenant_id, model, name FROM devices WHERE mac IN ({_marks(len(chunk))})",
            chunk,
        ):
            current[r["mac"]] = r
        for r in conn.execute(
            "SELECT mac, extension_id FROM device_lines"
            f" WHERE mac IN ({_marks(len(chunk))}) ORDER BY mac, position",
            chunk,
        ):
            current_lines[r["mac"]].append(r["extension_id"])
    plan = Plan(rows=len(rows))
    for w in wanted:
        now = current.get(w.mac)
        lines = (current_lines[w.mac] if now is not None else []) if w.lines is None else w.lines
        keys = (current_keys[w.mac] if now is not None else []) if w.keys is None else w.keys
        model = MODELS[w.model]
        if keys and len(lines) + len(keys) > model.line_keys:
            errors[f"rows[{first_row[w.mac]}].blf"] = (
                f"{model.label} has {model.line_keys} programmable key(s); {len(lines)}"
                f" line(s) and {len(keys)} BLF key(s) do not fit"
            )
        if now is None:
            plan.created.append(w)
        elif now["tenant_id"] != tenant_id:
            errors[f"rows[{first_row[w.mac]}].mac"] = "this MAC is provisioned in another tenant"
        elif (
            now["model"] == w.model
            and w.name in (None, now["name"])
            and w.lines in (None, current_lines[w.mac])
            and w.keys in (None, current_keys[w.mac])
        ):
            plan.unchanged += 1
        else:
            if len(lines) > MODELS[w.model].max_lines:
                errors[f"rows[{first_row[w.mac]}].model"] = (
                    f"{MODELS[w.model].label} holds {MODELS[w.model].max_lines} line(s);"
                    f" the device has {len(lines)}"
                )
            plan.changed.append(w)
    if errors:
        raise ServiceError(422, _first_rows(errors))
    return plan


def _first_rows(errors: dict[str, str]) -> dict[str, str]:
    """The errors of the first ``MAX_ERRORS`` bad rows in row order, and how many rows were bad."""

    def row_of(key: str) -> int:
        return int(key[len("rows[") : key.index("]")])

    bad_rows = sorted({row_of(key) for key in errors})
    kept = set(bad_rows[:MAX_ERRORS])
    ordered = sorted(errors, key=row_of)
    found = {key: errors[key] for key in ordered if row_of(key) in kept}
    if len(bad_rows) > MAX_ERRORS:
        found["rows"] = f"{len(bad_rows)} bad rows; the first {MAX_ERRORS} are listed"
    return found


# The triggers a created device's rows would run one by one, and what does their work for
# the whole import in one statement instead (schema.sql): the tenant's totals, and each
# device's line count, which the insert carries from the start (every line-count update
# rewrote six of the list's indexes).
_CREATE_ASIDE = ("device_counts_insert",)
_LINES_ASIDE = ("device_lines_count_insert",)
_DEVICE_COLUMNS = ("mac", "tenant_id", "model", "name", "admin_password", "line_count")
_COUNT_CREATED = (
    "INSERT INTO device_counts (tenant_id, devices, assigned)"
    " SELECT tenant_id, count(*), total(line_count > 0) FROM devices WHERE rowid > ?"
    " GROUP BY tenant_id ON CONFLICT (tenant_id) DO UPDATE"
    " SET devices = devices + excluded.devices, assigned = assigned + excluded.assigned"
)


def _create(
    conn: sqlite3.Connection, tenant_id: int, created: list[Wanted], password: Callable[[], str]
) -> None:
    """Inserts the new devices, their lines and keys set-based (control/storage/bulk.py),
    with the same totals, line counts and audit entries as one at a time."""
    if not created:
        return
    before = bulk.insert_rows(
        conn,
        "devices",
        _DEVICE_COLUMNS,
        [
            (w.mac, tenant_id, w.model, w.name or "", password(), len(w.lines or ()))
            for w in created
        ],
        aside=_CREATE_ASIDE,
    )
    conn.execute(_COUNT_CREATED, (before,))
    bulk.insert_rows(
        conn,
        "device_lines",
        ("mac", "position", "extension_id"),
        [(w.mac, position, ext) for w in created for position, ext in enumerate(w.lines or (), 1)],
        aside=_LINES_ASIDE,
        statistics=False,
    )
    bulk.insert_rows(
        conn,
        "device_keys",
        ("mac", "position", "kind", "extension_id", "label"),
        [(w.mac, position, "blf", ext, label) for w in created
         for position, (ext, label) in enumerate(w.keys or (), 1)],
        statistics=False,
    )  # fmt: skip


def write_import(
    conn: sqlite3.Connection, tenant_id: int, plan: Plan, password: Callable[[], str]
) -> list[str]:
    """Writes a plan in the caller's transaction; the MACs whose files change."""
    _create(conn, tenant_id, plan.created, password)
    conn.executemany(
        "UPDATE devices SET model = ?, name = coalesce(?, name), rev = rev + 1 WHERE mac = ?",
        [(w.model, w.name, w.mac) for w in plan.changed],
    )
    relined = [w for w in plan.changed if w.lines is not None]
    conn.executemany("DELETE FROM device_lines WHERE mac = ?", [(w.mac,) for w in relined])
    conn.executemany(
        "INSERT INTO device_lines (mac, position, extension_id) VALUES (?, ?, ?)",
        [(w.mac, position, ext) for w in relined for position, ext in enumerate(w.lines or (), 1)],
    )
    rekeyed = [w for w in plan.changed if w.keys is not None]
    conn.executemany("DELETE FROM device_keys WHERE mac = ?", [(w.mac,) for w in rekeyed])
    conn.executemany(
        "INSERT INTO device_keys (mac, position, kind, extension_id, label)"
        " VALUES (?, ?, 'blf', ?, ?)",
        [(w.mac, position, ext, label) for w in rekeyed
         for position, (ext, label) in enumerate(w.keys or (), 1)],
    )  # fmt: skip
    return [w.mac for w in [*plan.created, *plan.changed]]


def remove(conn: sqlite3.Connection, macs: Sequence[str], scope: int | None) -> int:
    """Deletes the devices in the caller's transaction (the delete trigger queues their
    withdrawals), or a 404 naming each MAC that is bad, unknown or outside ``scope``,
    with nothing deleted."""
    normal = known_macs(conn, macs, scope)
    for chunk in _chunks(normal):
        conn.execute(f"DELETE FROM devices WHERE mac IN ({_marks(len(chunk))})", chunk)
    return len(normal)


def known_macs(conn: sqlite3.Connection, macs: Sequence[str], scope: int | None) -> list[str]:
    """``macs`` normalised, each once, or a 404 naming each that is bad, unknown or outside
    ``scope``."""
    errors: dict[str, str] = {}
    normal: dict[str, int] = {}
    for index, mac in enumerate(macs):
        try:
            normal.setdefault(normalize_mac(mac), index)
        except InvalidMac:
            errors[f"macs[{index}]"] = "no such device"
    found: set[str] = set()
    for chunk in _chunks(list(normal)):
        found.update(
            r["mac"]
            for r in conn.execute(
                f"SELECT mac FROM devices WHERE mac IN ({_marks(len(chunk))})"
                " AND (? IS NULL OR tenant_id = ?)",
                [*chunk, scope, scope],
            )
        )
    errors.update({f"macs[{i}]": "no such device" for mac, i in normal.items() if mac not in found})
    if errors:
        raise ServiceError(404, dict(list(errors.items())[:MAX_ERRORS]))
    return list(normal)


def export_rows(
    conn: sqlite3.Connection, tenant_id: int, which: str, q: str = ""
) -> tuple[list[sqlite3.Row], dict[str, list[str]], dict[str, list[tuple[str, str]]]]:
    """The devices of a tenant under a filter and search (as the list's,
    control/devicelist.py) in MAC order, and their extension numbers."""
    found = devicelist.where(tenant_id, which, q)
    devices = conn.execute(
        f"SELECT d.mac, d.model, d.name FROM devices d WHERE {found.text} ORDER BY d.mac",
        found.params,
    ).fetchall()
    lines: dict[str, list[str]] = {}
    for r in conn.execute(
        "SELECT dl.mac, e.number FROM device_lines dl JOIN extensions e ON e.id = dl.extension_id"
        " WHERE e.tenant_id = ? ORDER BY dl.mac, dl.position",
        (tenant_id,),
    ):
        lines.setdefault(r["mac"], []).append(r["number"])
    keys: dict[str, list[tuple[str, str]]] = {}
    for r in conn.execute(
        "SELECT dk.mac, e.number, dk.label FROM device_keys dk"
        " JOIN extensions e ON e.id = dk.extension_id"
        " WHERE e.tenant_id = ? ORDER BY dk.mac, dk.position",
        (tenant_id,),
    ):
        keys.setdefault(r["mac"], []).append((r["number"], r["label"]))
    return devices, lines, keys
