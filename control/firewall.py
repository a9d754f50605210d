"""The firewall's control side: settings, the bans view, manual bans and lifts.

The edge decides bans from failures (edge/state/bans.py) and keeps them in its edge state,
which the control plane only reads. What an operator decides goes the house's one way:
written to SQLite (``settings`` row ``firewall``, tables ``manual_bans`` and
``ban_lifts``), then published whole as the LMDB owner ``firewall``
(provedge/formats/firewall.py), which the edge's writer and workers honour within a
fraction of a second. Publishing reads SQLite and writes LMDB under one file lock, so the
API and the CLI (two processes) never publish an older state over a newer one.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from control.domain.errors import ServiceError
from control.publish.publisher import Publication, Publisher
from control.storage.db import Database
from control.storage.edgestate import EdgeStateReader
from provedge.formats import bans, firewall
from provedge.formats.accounts import BadNetwork, parse_network
from provedge.formats.edgestate import iso_utc

SETTING_NAME = "firewall"
LOCK_NAME = "firewall.lock"
FIELDS = ("max_failures", "window_s", "ban_s")
DEFAULTS = {
    "max_failures": firewall.DEFAULT_MAX_FAILURES,
    "window_s": firewall.DEFAULT_WINDOW_S,
    "ban_s": firewall.DEFAULT_BAN_S,
    "trusted": [],
}


def normal_address(text: str) -> str:
    """An IP address in its one text form (ValueError otherwise)."""
    address = ipaddress.ip_address(text.strip())
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def trusted_networks(texts: list[str], field: str = "trusted") -> list[str]:
    """Normalised CIDRs; a 422 naming each bad one."""
    found, errors = [], {}
    for index, text in enumerate(texts):
        try:
            found.append(parse_network(text))
        except BadNetwork as exc:
            errors[f"{field}[{index}]"] = str(exc)
    if errors:
        raise ServiceError(422, errors)
    return list(dict.fromkeys(found))  # each once, in the operator's order


# ---- settings -----------------------------------------------------------------------------
def stored(conn: sqlite3.Connection) -> dict[str, Any]:
    """``{"global": {...}, "tenants": {"<id>": {...overrides}}}`` as kept in SQLite."""
    row = conn.execute("SELECT value FROM settings WHERE name = ?", (SETTING_NAME,)).fetchone()
    value: dict[str, Any] = orjson.loads(row["value"]) if row else {}
    return {"global": {**DEFAULTS, **value.get("global", {})}, "tenants": value.get("tenants", {})}


def view(settings: Mapping[str, Any], tenant: int | None) -> dict[str, Any]:
    """The effective settings of the edge for ``tenant`` (None: global), with the
    tenant's own overrides."""
    base = dict(settings["global"])
    if tenant is None:
        return {"tenant": None, **base, "overrides": {}}
    overrides = settings["tenants"].get(str(tenant), {})
    effective = {**base, **{k: v for k, v in overrides.items() if k in FIELDS}}
    effective["trusted"] = base["trusted"] + [
        n for n in overrides.get("trusted", []) if n not in base["trusted"]
    ]
    return {"tenant": tenant, **effective, "overrides": overrides}


def put(conn: sqlite3.Connection, tenant: int | None, body: Mapping[str, Any]) -> None:
    """Replace the global settings (absent fields: the defaults) or a tenant's overrides
    (absent fields: inherited)."""
    settings = stored(conn)
    given = {k: v for k, v in body.items() if v is not None}
    if "trusted" in given:
        given["trusted"] = trusted_networks(list(given["trusted"]))
    if tenant is None:
        settings["global"] = {**DEFAULTS, **given}
    elif given:
        settings["tenants"][str(tenant)] = given
    else:
        settings["tenants"].pop(str(tenant), None)
    conn.execute(
        "INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)",
        (SETTING_NAME, orjson.dumps(settings).decode()),
    )


# ---- bans ---------------------------------------------------------------------------------
def ban_view(address: str, ban: bans.Ban) -> dict[str, Any]:
    return {
        "address": address,
        "reason": ban.reason,
        "failures": ban.failures,
        "first_at": iso_utc(int(ban.first_at * 1e6)) if ban.first_at else None,
        "banned_at": iso_utc(int(ban.banned_at * 1e6)),
        "until": iso_utc(int(ban.until * 1e6)),
    }


def current(conn: sqlite3.Connection, edge: EdgeStateReader, now: float) -> dict[str, bans.Ban]:
    """The bans in force: the edge's, and manual ones the edge has not taken up yet,
    without those an operator lifted since (the edge follows within a moment)."""
    found = {a: b for a, b in edge.bans().items() if b.active(now)}
    for row in conn.execute("SELECT * FROM manual_bans WHERE until > ?", (now,)):
        if row["address"] not in found:
            found[row["address"]] = _manual(row)
    lifts = {r["address"]: r["lifted_at"] for r in conn.execute("SELECT * FROM ban_lifts")}
    return {a: b for a, b in sorted(found.items()) if not (a in lifts and b.banned_at <= lifts[a])}


def _manual(row: sqlite3.Row) -> bans.Ban:
    return bans.Ban(row["reason"], 0, row["banned_at"], row["banned_at"], row["until"])


def add(conn: sqlite3.Connection, address: str, duration_s: float | None, now: float) -> bans.Ban:
    settings = stored(conn)["global"]
    if firewall.Policy(trusted=firewall.networks(settings["trusted"])).trusts(address):
        raise ServiceError(422, {"address": "is in a trusted network: it is never banned"})
    ban = bans.Ban("manual", 0, now, now, now + (duration_s or settings["ban_s"]))
    conn.execute(
        "INSERT OR REPLACE INTO manual_bans (address, reason, banned_at, until)"
        " VALUES (?, ?, ?, ?)",
        (address, ban.reason, ban.banned_at, ban.until),
    )
    return ban


def lift(conn: sqlite3.Connection, address: str, now: float) -> None:
    conn.execute("DELETE FROM manual_bans WHERE address = ?", (address,))
    conn.execute(
        "INSERT OR REPLACE INTO ban_lifts (address, lifted_at) VALUES (?, ?)", (address, now)
    )
    # A lift older than the longest ban period can lift nothing any more.
    conn.execute("DELETE FROM ban_lifts WHERE lifted_at < ?", (now - firewall.MAX_BAN_S,))


# ---- publishing ---------------------------------------------------------------------------
def publication(conn: sqlite3.Connection) -> Publication:
    """The whole ``firewall`` owner from SQLite (provedge/formats/firewall.py)."""
    settings = stored(conn)
    record = firewall.settings_record(
        settings["global"], {int(t): o for t, o in settings["tenants"].items()}
    )
    files = {firewall.SETTINGS_KEY: record}
    for row in conn.execute("SELECT * FROM manual_bans"):
        files[firewall.ban_key(row["address"])] = bans.encode(_manual(row))
    for row in conn.execute("SELECT * FROM ban_lifts"):
        files[firewall.lift_key(row["address"])] = firewall.encode_lift(row["lifted_at"])
    return Publication(firewall.OWNER, files)


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def publish(db: Database, publisher: Publisher) -> None:
    """Publish what SQLite says now; under the lock, so the last to publish is newest."""
    with _locked(db.path.parent), db.read() as conn:
        item = publication(conn)
        publisher.publish([item])


class Firewall:
    """The operations the API and the CLI share."""

    def __init__(self, db: Database, publisher: Publisher, edge: EdgeStateReader) -> None:
        self.db = db
        self.publisher = publisher
        self.edge = edge

    def publish(self) -> None:
        publish(self.db, self.publisher)

    def settings(self, tenant: int | None) -> dict[str, Any]:
        with self.db.read() as conn:
            return view(stored(conn), tenant)

    def put_settings(self, tenant: int | None, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.db.transaction() as conn:
            put(conn, tenant, body)
        publish(self.db, self.publisher)
        return self.settings(tenant)

    def list(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            found = current(conn, self.edge, time.time())
        return [ban_view(address, ban) for address, ban in found.items()]

    def add(self, address: str, duration_s: float | None) -> dict[str, Any]:
        address = _address(address)
        with self.db.transaction() as conn:
            ban = add(conn, address, duration_s, time.time())
        publish(self.db, self.publisher)
        return ban_view(address, ban)

    def lift(self, address: str) -> None:
        address = _address(address, status=404)
        now = time.time()
        with self.db.transaction() as conn:
            if address not in current(conn, self.edge, now):
                raise ServiceError(404, {"address": "not banned"})
            lift(conn, address, now)
        publish(self.db, self.publisher)


def _address(text: str, status: int = 422) -> str:
    try:
        return normal_address(text)
    except ValueError:
        raise ServiceError(status, {"address": "not an IPv4 or IPv6 address"}) from None
