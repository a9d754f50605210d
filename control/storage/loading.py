"""Reads what the compiler needs from SQLite rows into the domain values of control.domain.variables."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import orjson

from control.domain import backgrounds
from control.domain.backgrounds import STEM_LENGTH
from control.domain.catalog import MODELS
from control.domain.keys import KeyData
from control.domain.variables import DeviceData, LineData, TenantData
from control.publish import firststage
from control.publish.publisher import Publication
from provedge.formats import accounts, delivery, limits, pnp, store


@functools.lru_cache(maxsize=1024)  # asked for each phone's PnP record of a recompile
def provisioning_url(
    edge_url: str, url_key: str, mode: str = "fqdn", edge_ip: str | None = None
) -> str:
    """The directory URL a tenant's phones fetch from: the edge's public name (``fqdn``),
    or with ``public_ip`` its public address in the host's place."""
    base = edge_url.rstrip("/")
    if mode == "public_ip" and edge_ip:
        parts = urlsplit(base)
        host = f"[{edge_ip}]" if ":" in edge_ip else edge_ip
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        base = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return f"{base}/p/{url_key}/"


def tenant_url(row: sqlite3.Row, edge_url: str, edge_ip: str | None) -> str:
    """``provisioning_url`` of a row carrying ``url_key`` and ``provision_mode``."""
    return provisioning_url(edge_url, row["url_key"], row["provision_mode"], edge_ip)


def fetch_url(row: sqlite3.Row, edge_url: str, edge_ip: str | None) -> str:
    """Where a tenant's files tell its phones to fetch from: under device_credentials the
    authenticated directory (provedge/formats/delivery.py), else ``tenant_url``."""
    url = tenant_url(row, edge_url, edge_ip)
    if delivery.flags_of(row["delivery_policy"]) & delivery.FLAG_CREDENTIALS:
        return url + delivery.AUTH_DIR
    return url


def pnp_url(model_id: str, base_url: str, mac: str) -> str:
    """The URL a PnP NOTIFY gives a device, in the form its vendor takes (vendors.md 2.2):
    snom fetches exactly the URL it is given, so it gets its own per-device file; the
    others (Yealink, Grandstream, Fanvil, ...) append their file names to a directory
    URL, which must end in ``/`` (Grandstream ignores one that does not)."""
    model = MODELS[model_id]
    if model.vendor.id == "snom":
        first = next(f for f in model.vendor.files if f.scope == "device")
        return base_url + first.name(model.file_params(mac))
    return base_url


def pnp_publication(row: sqlite3.Row, edge_url: str, edge_ip: str | None = None) -> Publication:
    """A device row (with its tenant's ``url_key`` and ``provision_mode``) as its PnP record."""
    url = pnp_url(row["model"], tenant_url(row, edge_url, edge_ip), row["mac"])
    device = pnp.Device(row["tenant_id"], MODELS[row["model"]].vendor.id, url)
    return Publication(
        pnp.device_owner(row["mac"]), {row["mac"].encode(): pnp.encode_device(device)}
    )


def limit_publication(row: sqlite3.Row) -> Publication:
    """A device row (with its tenant's ``provision_limit``) as the edge count at which its
    files stop (provedge/formats/limits.py); no record without a limit."""
    limit = row["provision_limit"]
    if not limit:
        return Publication(limits.owner(row["mac"]), {})
    stop_at = int(row["provision_base"]) + int(limit)
    return Publication(limits.owner(row["mac"]), {row["mac"].encode(): limits.encode(stop_at)})


def delivery_publication(
    row: sqlite3.Row, edge_url: str, edge_ip: str | None = None
) -> Publication:
    """A device row (with its tenant's ``delivery_policy``, ``url_key`` and
    ``provision_mode``) as its delivery rule (provedge/formats/delivery.py): none under
    plain keyed_url; ua_mac_match only for a vendor whose User-Agent carries the MAC."""
    mac, model = row["mac"], MODELS[row["model"]]
    flags = delivery.flags_of(row["delivery_policy"])
    if model.vendor.id not in firststage.UA_CARRIES_MAC:
        flags &= ~delivery.FLAG_UA_MAC
    if not flags:
        return Publication(delivery.owner(mac), {})
    name, blob, md5, sha256, basic = "", b"", "", "", bytes(32)
    if flags & delivery.FLAG_CREDENTIALS:
        password = row["fetch_password"]
        auth_url = fetch_url(row, edge_url, edge_ip)
        name, content_type, body = firststage.render(model, mac, auth_url, password)
        blob = store.encode_blob(content_type, body)
        md5 = delivery.ha1("md5", mac, password)
        sha256 = delivery.ha1("sha256", mac, password)
        basic = delivery.basic_verifier(mac, password)
    rule = delivery.Rule(flags, int(row["delivery_cycle"]), md5, sha256, basic, name, blob)
    return Publication(delivery.owner(mac), {mac.encode(): delivery.encode(rule)})


def pnp_tenant_publication(row: sqlite3.Row) -> Publication:
    """Whether a tenant's phones get PnP answers at all."""
    record = pnp.encode_tenant(bool(row["pnp"]))
    return Publication(pnp.tenant_owner(row["id"]), {pnp.tenant_key(row["id"]): record})


def tenant_data(row: sqlite3.Row, edge_url: str, edge_ip: str | None = None) -> TenantData:
    return TenantData(
        name=row["name"],
        realm=row["realm"],
        sip_server=row["sip_server"],
        sip_port=row["sip_port"],
        sip_transport=row["sip_transport"],
        timezone=row["timezone"],
        ntp_server=row["ntp_server"],
        language=row["language"],
        provisioning_url=fetch_url(row, edge_url, edge_ip),
        fetch_credentials=bool(
            delivery.flags_of(row["delivery_policy"]) & delivery.FLAG_CREDENTIALS
        ),
        vars=tuple(sorted(orjson.loads(row["vars"]).items())),
        hotdesk_pin=row["hotdesk_pin"],
    )


_LINES_SQL = """
SELECT dl.mac, dl.position, dl.label, e.number, e.display_name AS ext_name,
       a.username, a.password, a.display_name AS acc_name, a.expires, a.enabled
FROM device_lines dl
JOIN extensions e ON e.id = dl.extension_id
JOIN extension_accounts ea ON ea.extension_id = e.id AND ea.position = 1
JOIN accounts a ON a.id = ea.account_id
WHERE dl.mac IN ({macs})
ORDER BY dl.mac, dl.position
"""
_IN_CHUNK = 900  # MACs per IN (...): well under SQLite's variable limit


_KEYS_SQL = """
SELECT dk.mac, e.number, dk.label FROM device_keys dk JOIN extensions e ON e.id = dk.extension_id
WHERE dk.mac IN ({macs}) ORDER BY dk.mac, dk.position
"""


def device_data(conn: sqlite3.Connection, row: sqlite3.Row) -> DeviceData:
    return devices_data(conn, [row])[0]


def devices_data(conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[DeviceData]:
    """The compiler's view of each device row, its lines and keys read in one query each
    for the whole batch (a recompile reads thousands at a time)."""
    macs = [row["mac"] for row in rows]
    lines: dict[str, list[LineData]] = {mac: [] for mac in macs}
    keys: dict[str, list[KeyData]] = {mac: [] for mac in macs}
    chosen = sorted({row["background_id"] for row in rows if row["background_id"] is not None})
    stems: dict[int, str] = {}
    for chunk in range(0, len(chosen), _IN_CHUNK):
        part = chosen[chunk : chunk + _IN_CHUNK]
        for found in conn.execute(
            f"SELECT id, sha256 FROM backgrounds WHERE id IN ({', '.join('?' * len(part))})", part
        ):
            stems[found["id"]] = found["sha256"][:STEM_LENGTH]
    for chunk in range(0, len(macs), _IN_CHUNK):
        part = macs[chunk : chunk + _IN_CHUNK]
        marks = ", ".join("?" * len(part))
        # plain tuples, by position in _LINES_SQL: a recompile reads a line per account
        # of every phone, and a Row's look-up by name costs more than the LineData
        plain = conn.cursor()
        plain.row_factory = None
        for (
            mac,
            _,
            label,
            number,
            ext_name,
            user,
            password,
            acc_name,
            expires,
            enabled,
        ) in plain.execute(_LINES_SQL.format(macs=marks), part):
            lines[mac].append(LineData(
                user, user, password, ext_name or acc_name or number, label or number,
                expires, (), bool(enabled),
            ))  # fmt: skip
        for mac, number, label in plain.execute(_KEYS_SQL.format(macs=marks), part):
            keys[mac].append(KeyData(number, label))
    return [
        DeviceData(
            mac=row["mac"],
            model=MODELS[row["model"]],
            name=row["name"],
            admin_password=row["admin_password"],
            background=stems.get(row["background_id"], ""),
            hotdesk_pin=row["hotdesk_pin"],
            fetch_password=row["fetch_password"],
            vars=_vars(row["vars"]),
            lines=tuple(lines[row["mac"]]),
            keys=tuple(keys[row["mac"]]),
        )
        for row in rows
    ]


def background_publication(row: sqlite3.Row) -> Publication:
    """A background row (with its tenant's ``url_key``) as its files: the upload scaled to
    every screen size and format a model takes (control/domain/backgrounds.py)."""
    wanted = backgrounds.variants()
    scaled = backgrounds.render_all(bytes(row["image"]), wanted)
    stem = row["sha256"][:STEM_LENGTH]
    files = {
        store.blob_key(row["url_key"], backgrounds.file_name(stem, variant)): store.encode_blob(
            variant.content_type, body
        )
        for variant, body in scaled.items()
    }
    return Publication(f"{BACKGROUND_OWNER}{row['id']}", files)


BACKGROUND_OWNER = "background/"


def _vars(text: str) -> tuple[tuple[str, str], ...]:
    # most devices have none of their own: no JSON to parse
    return () if text == "{}" else tuple(sorted(orjson.loads(text).items()))


def account_publication(row: sqlite3.Row) -> Publication:
    """An account row (with its tenant's ``sip_server`` as ``domain``) as its registrar
    record (provedge/formats/accounts.py)."""
    record = accounts.encode_record(
        account_id=row["id"],
        tenant=row["tenant_id"],
        realm=row["realm"],
        username=row["username"],
        password=row["password"],
        enabled=bool(row["enabled"]),
        auth_method=row["auth_method"],
        ip_networks=[] if row["ip"] is None else [row["ip"]],
        access_rules=orjson.loads(row["access_rules"]),
        expires=row["expires"],
        invite_format=row["invite_format"],
        outbound_flags=orjson.loads(row["outbound_flags"]),
        caller_id_name=row["caller_id_name"],
        caller_id_number=row["caller_id_number"],
        secondary_number=row["secondary_number"],
    )
    # Under the realm and under the tenant's SIP server name: a phone's REGISTER names the
    # server it was configured with (edge/sip/accounts.py).
    domains = {row["realm"].lower(), row["domain"].lower()}
    keys = {accounts.record_key(domain, row["username"], row["id"]) for domain in domains}
    return Publication(f"{accounts.OWNER_PREFIX}{row['id']}", dict.fromkeys(keys, record))
