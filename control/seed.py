"""Synthetic fleets for load tests: N phones in one SQLite transaction, published by a job.

:func:`seed` writes a new tenant and, per phone, one SIP account, one extension and one
device on that line, in batches of ``executemany`` inside a single transaction, and queues
a ``recompile`` job for the tenant in the same transaction. Nothing is compiled here: the
control plane's job runner publishes the tenant's common files and its devices (everything
ahead of LMDB), like any other mass change (docs/architecture.md, Jobs).

Each phone is one of one model per vendor family in turn, with its vendor's real OUI, the
User-Agent that model sends and the files it asks for at boot, in order (the chains the
end-to-end tests follow, from shared/reference/vendors.md).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from control.domain.catalog import MODELS
from control.domain.errors import conflict
from control.domain.passwords import new_password
from control.jobs import store as jobs
from control.jobs.kinds import RECOMPILE
from control.storage.db import Database
from control.storage.loading import provisioning_url

BATCH = 5000
DEVICE_BASE = 0x400000  # the device part of seeded MACs starts here, above the demo's

# model, its vendor's OUI, the User-Agent ({mac}: 12 lowercase hex, {colon}: with colons,
# {MAC}: upper case) and the boot chain (catalogue file patterns, in the order the phone
# fetches them).
FAMILIES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("yealink-t46s", "001565", "Yealink SIP-T46S 66.86.0.15 {colon}",
     ("{mac}.boot", "y0000000000{hwid}.cfg", "{mac}.cfg")),
    ("polycom-vvx410", "0004f2",
     "FileTransport PolycomVVX-VVX_410-UA/5.9.5.0614 (SN:{mac}) Type/Application",
     ("{mac}.cfg", "{mac}-user.cfg", "common.cfg")),
    ("cisco-spa508g", "0002fd", "Cisco/SPA508G-7.4.4 ({MAC})(CBT141400UK)",
     ("spa{psn}.cfg", "spa{psn}.cfg", "{mac}.xml")),
    ("cisco-cp8841", "00562b", "Cisco-CP-8841-3PCC/11.0 ({mac})",
     ("CP-{psn}.xml", "{psn}.xml", "{psn}.xml", "{mac}.xml")),
    ("grandstream-gxp2135", "000b82", "Grandstream Model HW GXP2135 SW 1.0.7.97 DevId {mac}",
     ("cfg{gs_model}.xml", "cfg{mac}.xml")),
    ("snom-d785", "000413",
     ("Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 2010.12-00001-gd311851f1 "
      "(Feb 25 2019 - 14:19:43) {mac} SXM:0 UXM:0 UXMC:0)"),
     ("snom{snom_model}.htm", "snom{snom_model}-{MAC}.htm", "{MAC}.xml")),
    ("fanvil-x4u", "0c383e", "Fanvil X4U 2.10.2.6887 {mac}", ("{fanvil_common}", "{mac}.cfg")),
)  # fmt: skip

FIELDS = ("mac", "model", "vendor", "user_agent", "files", "account", "password", "url",
          "sip_server")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Phone:
    mac: str
    model: str
    vendor: str
    user_agent: str
    files: tuple[str, ...]  # in boot order
    account: str
    password: str
    url: str  # the provisioning URL: the files are below it
    sip_server: str  # the domain the phone registers its account at (the tenant's)

    def row(self) -> list[str]:
        return [*(str(getattr(self, name)) for name in FIELDS[:4]), " ".join(self.files),
                self.account, self.password, self.url, self.sip_server]  # fmt: skip


def boot_files(model_id: str, mac: str) -> tuple[str, ...]:
    """The files a phone of ``model_id`` fetches at boot, in order."""
    params = MODELS[model_id].file_params(mac)
    chain = next(chain for model, _, _, chain in FAMILIES if model == model_id)
    return tuple(pattern.format(**params) for pattern in chain)


def _password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters of letters, digits, - and _


def seed(
    db: Database, tenant: str, count: int, edge_url: str, number_base: int = 100000
) -> list[Phone]:
    """Create tenant ``tenant`` with ``count`` phones and queue their publication."""
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM tenants WHERE name = ?", (tenant,)).fetchone():
            raise conflict("tenant", "a tenant with this name exists; seed a new one")
        url_key = secrets.token_urlsafe(18)
        tenant_id = int(
            conn.execute(
                "INSERT INTO tenants (name, realm, sip_server, url_key) VALUES (?, ?, ?, ?)",
                (tenant, f"{tenant}.loadtest.invalid", _sip_server(tenant), url_key),
            ).lastrowid
            or 0
        )
        (offset,) = conn.execute("SELECT COUNT(*) FROM devices").fetchone()
        url = provisioning_url(edge_url, url_key)
        phones = list(_phones(count, DEVICE_BASE + offset, number_base, url, _sip_server(tenant)))
        for start in range(0, count, BATCH):
            _insert(conn, tenant_id, phones[start : start + BATCH])
        jobs.enqueue(conn, RECOMPILE, tenant_id)
    return phones


def _sip_server(tenant: str) -> str:
    return f"sip.{tenant}.loadtest.invalid"


def _phones(
    count: int, device_base: int, number_base: int, url: str, sip_server: str
) -> Iterator[Phone]:
    for index in range(count):
        model, oui, agent, _ = FAMILIES[index % len(FAMILIES)]
        mac = f"{oui}{device_base + index:06x}"
        colon = ":".join(mac[i : i + 2] for i in range(0, 12, 2))
        yield Phone(
            mac=mac,
            model=model,
            vendor=MODELS[model].vendor.id,
            user_agent=agent.format(mac=mac, colon=colon, MAC=mac.upper()),
            files=boot_files(model, mac),
            account=str(number_base + index),
            password=_password(),
            url=url,
            sip_server=sip_server,
        )


def _insert(conn: sqlite3.Connection, tenant_id: int, phones: list[Phone]) -> None:
    first = conn.execute("SELECT coalesce(max(id), 0) FROM accounts").fetchone()[0] + 1
    ext_first = conn.execute("SELECT coalesce(max(id), 0) FROM extensions").fetchone()[0] + 1
    conn.executemany(
        "INSERT INTO accounts (id, tenant_id, username, password, display_name, realm)"
        " VALUES (?, ?, ?, ?, ?, (SELECT realm FROM tenants WHERE id = ?))",  # the tenant's
        [
            (first + i, tenant_id, p.account, p.password, p.account, tenant_id)
            for i, p in enumerate(phones)
        ],
    )
    conn.executemany(
        "INSERT INTO extensions (id, tenant_id, number, display_name) VALUES (?, ?, ?, ?)",
        [(ext_first + i, tenant_id, p.account, p.account) for i, p in enumerate(phones)],
    )
    conn.executemany(
        "INSERT INTO extension_accounts (extension_id, account_id, position) VALUES (?, ?, 1)",
        [(ext_first + i, first + i) for i in range(len(phones))],
    )
    conn.executemany(
        "INSERT INTO devices (mac, tenant_id, model, name, admin_password) VALUES (?, ?, ?, ?, ?)",
        [(p.mac, tenant_id, p.model, f"loadtest {p.account}", new_password(16)) for p in phones],
    )
    conn.executemany(
        "INSERT INTO device_lines (mac, position, extension_id) VALUES (?, 1, ?)",
        [(p.mac, ext_first + i) for i, p in enumerate(phones)],
    )
