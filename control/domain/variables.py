"""The documented variable set templates render against (docs/templates.md, "Variables").

Values are flat ``name -> str``; booleans and transports are already in the vendor's own
notation (``1``/``0``, ``Yes``/``No``, ``on``/``off``; ``0``/``UDPOnly``/``UDP``...), so a
Default-engine template stays pure value insertion.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from control.domain import backgrounds, hotdesk, locale
from control.domain.catalog import MAX_LINES, Model, Vendor, common_files
from control.domain.keys import KEY_FIELDS, MAX_KEYS, KeyData, key_values
from provedge.formats.macaddr import colon_form


@dataclass(frozen=True, slots=True)
class TenantData:
    name: str
    realm: str
    sip_server: str
    sip_port: int = 5060
    sip_transport: str = "udp"
    timezone: str = "UTC"
    ntp_server: str = "pool.ntp.org"
    language: str = "English"
    provisioning_url: str = ""
    # device_credentials delivery: the URL is the authenticated directory (docs/delivery.md)
    fetch_credentials: bool = False
    hotdesk_pin: str = ""  # for its phones without a PIN of their own
    # custom variables (name, value), ``vars.<name>`` in templates; the names a tenant's
    # templates may use
    vars: tuple[tuple[str, str], ...] = ()

    @property
    def var_names(self) -> frozenset[str]:
        return frozenset(f"vars.{name}" for name, _ in self.vars)


@dataclass(frozen=True, slots=True)
class LineData:
    user: str
    auth_user: str
    password: str
    display_name: str
    label: str
    expires: int = 360
    blf: tuple[str, ...] = ()
    enabled: bool = True  # a disabled account's line is rendered off: it cannot register


@dataclass(frozen=True, slots=True)
class DeviceData:
    mac: str
    model: Model
    name: str
    admin_password: str
    # the chosen background's file stem (control/domain/backgrounds.py); empty: none
    background: str = ""
    hotdesk_pin: str = ""
    fetch_password: str = ""  # its fetch credentials' password (docs/delivery.md)
    vars: tuple[tuple[str, str], ...] = ()  # its own values of names its tenant declares
    lines: tuple[LineData, ...] = field(default=())
    keys: tuple[KeyData, ...] = field(default=())


TENANT_FIELDS = (
    "name",
    "realm",
    "sip_server",
    "sip_port",
    "sip_transport",
    "sip_transport_name",
    "timezone",
    "ntp_server",
    "language",
    "provisioning_url",
)
MODEL_FIELDS = ("id", "label", "common_file")
DEVICE_FIELDS = (
    "mac",
    "mac_upper",
    "mac_colon",
    "name",
    "admin_password",
    "background_url",
    "background_file",
    "background_enabled",
    "background_select",
    "hotdesk_pin",
    "hotdesk_enabled",
    "fetch_url",
)
LINE_FIELDS = (
    "enabled",
    "user",
    "auth_user",
    "password",
    "display_name",
    "label",
    "expires",
    "expires_minutes",
    "blf",
)

_DEVICE_ONLY = frozenset(
    [f"device.{f}" for f in DEVICE_FIELDS]
    + [f"line{n}.{f}" for n in range(1, MAX_LINES + 1) for f in LINE_FIELDS]
    + [f"key{n}.{f}" for n in range(1, MAX_KEYS + 1) for f in KEY_FIELDS]
)


def known_names(
    model: Model, scope: str, var_names: frozenset[str] = frozenset()
) -> frozenset[str]:
    """Names a template may use: common files see tenant, model and the tenant's timezone
    and language in the vendor's notation (``tz.*``, ``lang.*``), and the tenant's custom
    ``vars.*``; device files see all. Cached: the compiler asks once per file rendered."""
    key = (model.id, scope, var_names)
    found = _KNOWN.get(key)
    if found is None:
        found = _KNOWN[key] = _known_names(model, scope, var_names)
    return found


_KNOWN: dict[tuple[str, str, frozenset[str]], frozenset[str]] = {}


def _known_names(model: Model, scope: str, var_names: frozenset[str]) -> frozenset[str]:
    common = (
        frozenset(
            [f"tenant.{f}" for f in TENANT_FIELDS]
            + [f"model.{f}" for f in (*MODEL_FIELDS, *model.params)]
            + [*locale.tz_names(model.vendor.id), *locale.LANG_NAMES]
        )
        | var_names
    )
    return common | _DEVICE_ONLY if scope == "device" else common


def _fetch_location(vendor: Vendor, tenant: TenantData) -> str:
    """The provisioning URL as the vendor's files write it. Cisco's profile rules are set
    by the common file, which cannot carry a device's password: under device_credentials
    the rule names it by macro (``$MA`` the MAC, ``$B`` the GPP_B the first stage set;
    control/publish/firststage.py), so a resync keeps the credentials."""
    if tenant.fetch_credentials and vendor.id in ("cisco-spa", "cisco-mpp"):
        return f"{CISCO_CREDENTIALS}{tenant.provisioning_url}"
    return tenant.provisioning_url


CISCO_CREDENTIALS = "[--uid $MA --pwd $B]"


def with_login(url: str, user: str, password: str) -> str:
    """``url`` with ``user:password@`` before its host (Snom's setting_server, vendors.md)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{user}:{password}@{parts.netloc}", parts.path, "", ""))


def fetch_url(tenant: TenantData, device: DeviceData) -> str:
    """The provisioning URL with the device's fetch credentials in it under
    device_credentials, for vendors that take them in the URL (Snom's device file sets it
    after the common file, so the phone keeps them); the provisioning URL otherwise."""
    if tenant.fetch_credentials and device.fetch_password:
        return with_login(tenant.provisioning_url, device.mac, device.fetch_password)
    return tenant.provisioning_url


def common_values(tenant: TenantData, model: Model) -> dict[str, str]:
    vendor = model.vendor
    values = {
        "tenant.name": tenant.name,
        "tenant.realm": tenant.realm,
        "tenant.sip_server": tenant.sip_server,
        "tenant.sip_port": str(tenant.sip_port),
        "tenant.sip_transport": vendor.transports[tenant.sip_transport],
        "tenant.sip_transport_name": tenant.sip_transport,
        "tenant.timezone": tenant.timezone,
        "tenant.ntp_server": tenant.ntp_server,
        "tenant.language": tenant.language,
        "tenant.provisioning_url": _fetch_location(vendor, tenant),
        "model.id": model.id,
        "model.label": model.label,
        # the name the phone fetched its common file by (Cisco's Profile_Rule re-fetches it)
        "model.common_file": common_files(model)[0][0],
    }
    values.update({f"model.{key}": value for key, value in model.params.items()})
    values.update({f"vars.{name}": value for name, value in tenant.vars})
    values.update(locale.tz_values(vendor.id, tenant.timezone, vendor.true, vendor.false))
    values.update(locale.lang_values(vendor.id, tenant.language))
    return values


def device_values(tenant: TenantData, device: DeviceData) -> dict[str, str]:
    model, lines = device.model, device.lines
    vendor = model.vendor
    # Everything but the phone's own fields, lines and keys is the same for every phone
    # of a tenant's model with as many lines: one copy of that, then the few of its own.
    values = dict(_base_of(tenant, model, len(lines)))
    pin = hotdesk.pin_of(model, device.hotdesk_pin, tenant.hotdesk_pin)
    values["device.mac"] = device.mac
    values["device.mac_upper"] = device.mac.upper()
    values["device.mac_colon"] = colon_form(device.mac)
    values["device.name"] = device.name
    values["device.admin_password"] = device.admin_password
    values["device.hotdesk_pin"] = pin
    # a PIN turns the vendor's hot-desking on (control/domain/hotdesk.py)
    values["device.hotdesk_enabled"] = vendor_bool(vendor, bool(pin))
    values["device.fetch_url"] = fetch_url(tenant, device)
    # the scaled file of its background for this model, and the vendor's settings for it
    values.update(backgrounds.values(model, tenant.provisioning_url, device.background))
    if device.vars:
        declared = {name for name, _ in tenant.vars}
        values.update({f"vars.{n}": value for n, value in device.vars if n in declared})
    for index, line in enumerate(lines[:MAX_LINES]):
        values.update(_line_values(index + 1, line, vendor))
    if device.keys:
        values.update(key_values(_family(vendor), tenant.realm, len(lines), device.keys))
    return values


def _family(vendor: Vendor) -> str:
    # Cisco SPA and MPP share the key notation; the vendor's family name picks it.
    return vendor.id.split("-")[0]


_COMMON: dict[tuple[TenantData, str], dict[str, str]] = {}
_BASE: dict[tuple[TenantData, str, int], dict[str, str]] = {}


def _common_of(tenant: TenantData, model: Model) -> dict[str, str]:
    """common_values, kept for the last few (tenant, model) pairs: every phone of a
    tenant's model shares them, and a recompile builds them for each phone."""
    key = (tenant, model.id)
    found = _COMMON.get(key)
    if found is None:
        if len(_COMMON) >= 256:
            _COMMON.clear()
        found = _COMMON[key] = common_values(tenant, model)
    return found


def _base_of(tenant: TenantData, model: Model, lines: int) -> dict[str, str]:
    """What a phone of ``model`` with ``lines`` lines and no keys shares with every other:
    the common values, its unused line slots (rendered off) and its unused key slots.
    Kept for the last few hundred (tenant, model, lines): a recompile copies it for each
    phone instead of building some 300 values one by one."""
    key = (tenant, model.id, lines)
    found = _BASE.get(key)
    if found is None:
        if len(_BASE) >= 1024:
            _BASE.clear()
        found = dict(_common_of(tenant, model))
        for number in range(lines + 1, MAX_LINES + 1):
            found.update(_unused_line(number, model.vendor.false))
        found.update(key_values(_family(model.vendor), tenant.realm, lines, ()))
        _BASE[key] = found
    return found


def vendor_bool(vendor: Vendor, flag: bool) -> str:
    return vendor.true if flag else vendor.false


# Each slot's value names in LINE_FIELDS order ("line2.user", ...), made once.
_LINE_NAMES = {
    number: tuple(f"line{number}.{key}" for key in LINE_FIELDS)
    for number in range(1, MAX_LINES + 1)
}


def _line_values(number: int, line: LineData | None, vendor: Vendor) -> dict[str, str]:
    """An unused slot renders disabled with empty values, so a removed line is cleared on the phone."""
    if line is None:
        return _unused_line(number, vendor.false)
    # in LINE_FIELDS order
    values = (
        vendor.true if line.enabled else vendor.false,
        line.user,
        line.auth_user,
        line.password,
        line.display_name,
        line.label,
        str(line.expires),
        # Grandstream counts registration expiry in minutes; round up, never 0.
        str(max(1, -(-line.expires // 60))),
        ",".join(line.blf),
    )
    return dict(zip(_LINE_NAMES[number], values, strict=True))


@functools.lru_cache(maxsize=64)
def _unused_line(number: int, false: str) -> dict[str, str]:
    """Returned as is to callers that only read it (device_values copies it in)."""
    fields = dict.fromkeys(LINE_FIELDS, "")
    fields.update(enabled=false, expires="0", expires_minutes="0")
    return {f"line{number}.{key}": value for key, value in fields.items()}
