"""Request bodies, query parameters and responses of the control API, as pydantic models.

pydantic gives us field-by-field errors (each bad field named, all at once) and the JSON
Schemas the OpenAPI document is built from, so one declaration serves both. Request models
refuse unknown fields; response models (``*Out``, ``Error``) say exactly what the service
answers, so the schemathesis run in the tests notices a field the document does not name.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from control.domain.catalog import MAX_LINES, MODELS
from control.domain.keys import MAX_KEYS
from control.domain.locale import LANGUAGES, is_zone
from control.domain.refs import CONTROL_CLASS, MAX_ID, BadReference, check_text, parse_ref
from provedge.formats.accounts import MAX_EXPIRES, MIN_EXPIRES, BadNetwork, parse_network
from provedge.formats.macaddr import InvalidMac, normalize_mac

HOST = r"^[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*$|^\[?[0-9A-Fa-f:.]+\]?$"
USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._+\-]{0,63}$"
NUMBER = r"^[0-9*#+]{1,32}$"
PIN = r"^[0-9]{4,8}$"
# The notations the document shows (normalize_mac checks them, case-insensitively).
MAC = r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$|^[0-9A-Fa-f]{12}$"
MODEL_ENUM: dict[str, object] = {"enum": sorted(MODELS)}  # accepted in any case

# Free text that is stored and rendered into phone configs: no control characters (a CR or
# LF would start a new line in a config file) and no bidi overrides. The pattern documents
# the rule in the JSON Schema; check_text enforces it with a message naming the character.
SafeText = Annotated[
    str,
    AfterValidator(check_text),
    Field(json_schema_extra={"pattern": f"^[^{CONTROL_CLASS}]*$"}),
]
Host = Annotated[str, Field(pattern=HOST, max_length=253, examples=["pbx.example.com"])]
Name = Annotated[SafeText, Field(min_length=1, max_length=128)]
Text = Annotated[SafeText, Field(max_length=128)]
Password = Annotated[SafeText, Field(min_length=8, max_length=128)]


def _timezone(value: str) -> str:
    if not is_zone(value):
        raise ValueError("not an IANA timezone name (such as Europe/Berlin or UTC)")
    return value


Timezone = Annotated[
    SafeText,
    AfterValidator(_timezone),
    Field(min_length=1, max_length=64, examples=["Europe/Berlin"]),
]


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"one of {', '.join(LANGUAGES)}")
    return value


Language = Annotated[
    SafeText,
    AfterValidator(_language),
    Field(
        description="the phones' UI language; a model without it falls back to English",
        json_schema_extra={"enum": list(LANGUAGES)},
    ),
]


def _ref(value: object) -> int | str:
    try:
        return parse_ref(value)
    except BadReference as exc:
        raise ValueError(str(exc)) from None


_REF_SCHEMA = {
    "description": "tenant id or name",
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        {"type": "string", "minLength": 1, "maxLength": 128},
    ],
    "examples": [1],
}
# Parsed by control.domain.refs.parse_ref, like the path and query forms and the CLI's.
TenantRef = Annotated[int | str, PlainValidator(_ref), WithJsonSchema(_REF_SCHEMA)]
OptionalTenantRef = Annotated[int | str | None, PlainValidator(_ref), WithJsonSchema(_REF_SCHEMA)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


VarName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Vars = Annotated[
    dict[VarName, Annotated[str, Field(max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")]],
    Field(max_length=50, description="custom template variables, `${vars.<name>}` in a "
          "template (a device may give its own value to a name its tenant declares)"),
]  # fmt: skip


ProvisionLimit = Annotated[
    int | None,
    Field(ge=0, le=1_000_000, description="own files a MAC may fetch between counter resets; "
          "then its files answer 404 until a reset (0 in a PATCH: no limit)"),
]  # fmt: skip


DeliveryPolicy = Annotated[
    Literal[
        "keyed_url", "device_credentials", "keyed_url+ua_mac_match",
        "device_credentials+ua_mac_match",
    ],
    Field(description="keyed_url: the tenant key in the URL is enough; device_credentials: "
          "a first stage with each device's own fetch credentials, once per provisioning "
          "cycle, then its files only with them (HTTP Digest); +ua_mac_match: the MAC in "
          "the User-Agent must be the MAC requested (docs/delivery.md)"),
]  # fmt: skip
ProvisionMode = Annotated[
    Literal["fqdn", "public_ip"],
    Field(description="provisioning URLs by the edge's public name, or by its public "
          "address (the control plane's --edge-public-ip)"),
]  # fmt: skip


# 4-8 digits, what the phones' keypads take after the manuals' #446; "" for none
HotdeskPin = Annotated[str, Field(pattern=r"^([0-9]{4,8})?$")]


class TenantIn(_Strict):
    name: Annotated[Name, Field(examples=["acme"])]
    realm: Host
    sip_server: Host
    sip_port: Annotated[int, Field(ge=1, le=65535)] = 5060
    sip_transport: Literal["udp", "tcp", "tls"] = "udp"
    timezone: Timezone = "UTC"
    ntp_server: Host = "pool.ntp.org"
    language: Language = "English"
    pnp: Annotated[
        bool, Field(description="answer its phones' plug-and-play SUBSCRIBEs (the edge)")
    ] = True
    vars: Vars = {}
    provision_limit: ProvisionLimit = None
    provision_mode: ProvisionMode = "fqdn"
    delivery_policy: DeliveryPolicy = "keyed_url"
    hotdesk_pin: Annotated[
        HotdeskPin,
        Field(description="the hot-desking PIN of its phones that have none of their own"),
    ] = ""


class TenantPatch(_Strict):
    realm: Host | None = None
    sip_server: Host | None = None
    sip_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    sip_transport: Literal["udp", "tcp", "tls"] | None = None
    timezone: Timezone | None = None
    ntp_server: Host | None = None
    language: Language | None = None
    pnp: bool | None = None
    vars: Vars | None = None
    provision_limit: ProvisionLimit = None
    provision_mode: ProvisionMode | None = None
    delivery_policy: DeliveryPolicy | None = None
    hotdesk_pin: HotdeskPin | None = None  # "": none


def _mac(value: str) -> str:
    try:
        return normalize_mac(value)
    except InvalidMac:
        raise ValueError(
            "not a MAC address (12 hex digits; colons, dashes, dots or none)"
        ) from None


def _model(value: str) -> str:
    model = value.lower()
    if model not in MODELS:
        raise ValueError("unknown model; GET /api/v1/models lists them")
    return model


BackgroundId = Annotated[
    int,
    Field(ge=1, le=MAX_ID, description="a background image of the device's tenant "
          "(POST /api/v1/backgrounds); null: none"),
]  # fmt: skip


def _no_background_url(value: object) -> None:
    """The free URL is gone (it reached one vendor family): say what replaced it."""
    raise ValueError(
        "no longer taken: upload the image (POST /api/v1/backgrounds) and set background to its id"
    )


# Refused whatever its value, with that message (an unknown field would only be "extra").
SupersededUrl = Annotated[
    object | None,
    AfterValidator(_no_background_url),
    Field(deprecated=True, description="refused: superseded by `background`"),
]


class DeviceIn(_Strict):
    tenant: TenantRef
    mac: Annotated[str, Field(examples=["00:15:65:aa:bb:cc"], json_schema_extra={"pattern": MAC})]
    model: Annotated[str, Field(examples=["yealink-t46s"], json_schema_extra=MODEL_ENUM)]
    name: Text = ""
    background: BackgroundId | None = None
    background_url: SupersededUrl = None
    hotdesk_pin: HotdeskPin = ""
    vars: Vars = {}

    _check_mac = field_validator("mac")(_mac)
    _check_model = field_validator("model")(_model)


class DevicePatch(_Strict):
    model: Annotated[str, Field(json_schema_extra=MODEL_ENUM)] | None = None
    name: Text | None = None
    background: BackgroundId | None = None  # an explicit null clears it
    background_url: SupersededUrl = None
    hotdesk_pin: HotdeskPin | None = None
    admin_password: Annotated[Password, Field(max_length=64)] | None = None
    template: Annotated[
        int | None,
        Field(ge=0, le=2**62, description="a custom template of the tenant for this model "
              "(0: back to the tenant's choice)"),
    ] = None  # fmt: skip
    vars: Vars | None = None

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str | None) -> str | None:
        return None if value is None else _model(value)


def _network(value: str) -> str:
    try:
        return parse_network(value)
    except BadNetwork as exc:
        raise ValueError(str(exc)) from None


NETWORK_DOC = "address/netmask (IPv4) or CIDR, IPv4 or IPv6; stored normalised as CIDR"
CidrNetwork = Annotated[
    str,
    AfterValidator(_network),
    Field(max_length=64, description=NETWORK_DOC, examples=["216.27.242.66/255.255.255.255"]),
]
Token = Annotated[str, Field(pattern=r"^[A-Za-z0-9._\-]{1,32}$")]
OptionalNumber = Annotated[str, Field(pattern=r"^([0-9*#+]{1,32})?$")]
Email = Annotated[SafeText, Field(max_length=254, pattern=r"^([^@\s]+@[^@\s]+)?$")]
Description = Annotated[SafeText, Field(max_length=1024)]
Expires = Annotated[int, Field(ge=MIN_EXPIRES, le=MAX_EXPIRES, description="seconds")]
AuthMethod = Literal["password", "ip"]
InviteFormat = Literal["username", "npan", "1npan", "e164", "route"]


class AccessRule(_Strict):
    action: Literal["deny", "permit"]
    network: CidrNetwork


AccessRules = Annotated[
    list[AccessRule],
    Field(
        max_length=64,
        description="evaluated first to last; the last rule matching the source decides;"
        " no match permits",
    ),
]
OutboundFlags = Annotated[list[Token], Field(max_length=16, description="carrier route tokens")]


class _AccountFields(_Strict):
    """The fields of an account a client sets, shared by create and PATCH."""

    realm: Host | None = None
    display_name: Text | None = None
    invite_format: InviteFormat | None = None
    expires: Expires | None = None
    outbound_flags: OutboundFlags | None = None
    caller_id_name: Text | None = None
    caller_id_number: OptionalNumber | None = None
    owner: Text | None = None
    email: Email | None = None
    description: Description | None = None
    secondary_number: OptionalNumber | None = None
    enabled: bool | None = None
    access_rules: AccessRules | None = None


class AccountIn(_AccountFields):
    tenant: TenantRef
    activation: Annotated[
        bool,
        Field(
            description="the wizard: created disabled, enabled by the one-time link in"
            " `activation_url`"
        ),
    ] = False
    username: Annotated[str, Field(pattern=USERNAME)] | None = None
    password: Password | None = None
    auth_method: AuthMethod = "password"
    ip: Annotated[
        CidrNetwork | None,
        Field(validate_default=True, description="required with auth_method ip, refused otherwise"),
    ] = None

    @field_validator("ip")
    @classmethod
    def _ip_with_ip_auth(cls, value: str | None, info: ValidationInfo) -> str | None:
        problem = ip_problem(info.data.get("auth_method"), value)
        if problem:
            raise ValueError(problem)
        return value


def ip_problem(auth_method: object, ip: str | None) -> str | None:
    """What is wrong with ``ip`` for ``auth_method`` (None: nothing, or no method known)."""
    if auth_method == "ip" and ip is None:
        return "required when auth_method is ip"
    if auth_method == "password" and ip is not None:
        return "only with auth_method ip"
    return None


class AccountPatch(_AccountFields):
    username: Annotated[str, Field(pattern=USERNAME)] | None = None
    password: Password | None = None
    auth_method: AuthMethod | None = None
    ip: Annotated[
        CidrNetwork | None, Field(description="null clears it (with auth_method password)")
    ] = None


MAX_BATCH = 100_000
_PATTERN_SLOT = re.compile(r"\{n(?::0?([1-9]))?\}")


def _username_pattern(value: str) -> str:
    if len(_PATTERN_SLOT.findall(value)) != 1:
        raise ValueError("holds {n} exactly once, with an optional width: sales{n:03}")
    return value


class AccountBatchIn(_AccountFields):
    """Many password-authenticated accounts at once: usernames from a pattern, a
    generated password each, the other fields shared."""

    tenant: TenantRef
    count: Annotated[int, Field(ge=1, le=MAX_BATCH)]
    username_pattern: Annotated[
        str,
        AfterValidator(_username_pattern),
        Field(
            max_length=64,
            examples=["sales{n:03}"],
            description="{n} is the row's number, {n:03} zero-padded to 3 digits",
        ),
    ]
    start: Annotated[int, Field(ge=0, le=10**12, description="the first row's number")] = 1


def batch_usernames(pattern: str, start: int, count: int) -> list[str]:
    """The usernames of a batch: ``{n}`` (or ``{n:0W}``) replaced by each row's number."""
    slot = _PATTERN_SLOT.search(pattern)
    assert slot is not None  # checked by AccountBatchIn
    width = int(slot.group(1) or 0)
    head, tail = pattern[: slot.start()], pattern[slot.end() :]
    return [f"{head}{str(n).zfill(width)}{tail}" for n in range(start, start + count)]


class AccountDeleteQuery(_Strict):
    force: Annotated[
        bool, Field(description="delete even while device lines use it; they lose it")
    ] = False


class ExtensionIn(_Strict):
    tenant: TenantRef
    number: Annotated[str, Field(pattern=NUMBER, examples=["1001"])]
    display_name: Text = ""
    accounts: Annotated[
        list[Annotated[str, Field(pattern=USERNAME)]], Field(min_length=1, max_length=8)
    ]

    @field_validator("accounts")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("an account may be listed once")
        return value


LineLabel = Annotated[SafeText, Field(max_length=64, description="what the phone shows")]


class LineIn(_Strict):
    extension: Annotated[str, Field(pattern=NUMBER)]
    label: Annotated[
        LineLabel | None, Field(description="omitted: the label it had on this device")
    ] = None


Lines = Annotated[list[LineIn], Field(max_length=MAX_LINES)]


class KeyIn(_Strict):
    """A programmable key: key N of the list lands on the phone's key (lines + N)."""

    type: Literal["blf"]
    extension: Annotated[
        str, Field(pattern=NUMBER, description="an extension of the device's tenant")
    ]
    label: Annotated[LineLabel, Field(description="empty: the extension number")] = ""


Keys = Annotated[list[KeyIn], Field(max_length=MAX_KEYS)]

Cell = Annotated[str, Field(max_length=256)]


class ImportRow(_Strict):
    """A row of an import as JSON: the CSV columns; each cell is checked by the import,
    which names every bad row, column and reason at once."""

    mac: Cell
    model: Cell
    name: Cell | None = None
    line1: Cell | None = None
    line2: Cell | None = None
    line3: Cell | None = None
    line4: Cell | None = None
    line5: Cell | None = None
    line6: Cell | None = None


ImportRows = Annotated[list[ImportRow], Field(max_length=100_000)]


class _Selection(_Strict):
    """The devices a bulk operation takes: ``macs``, or a tenant's devices under the
    device list's ``filter`` and ``q`` (exactly one of the two ways)."""

    macs: Annotated[
        list[Annotated[str, Field(max_length=64)]] | None,
        Field(min_length=1, max_length=100_000, description="MACs in any notation"),
    ] = None
    tenant: TenantRef | None = None
    filter: Literal["all", "assigned", "unassigned"] | None = None
    q: Annotated[str, Field(max_length=64, description="as the device list's q")] = ""

    @model_validator(mode="after")
    def _one_way(self) -> _Selection:
        by_filter = self.tenant is not None or self.filter is not None or bool(self.q)
        if (self.macs is None) == (not by_filter):
            raise ValueError("give macs, or tenant with filter and/or q")
        if by_filter and (self.tenant is None or self.filter is None):
            raise ValueError("tenant and filter go together (q is optional)")
        return self


class CounterResetIn(_Selection):
    pass


class DevicesRemoveIn(_Selection):
    pass


# The schemas of path parameters by name, for the document; a name not here is a string.
PATH_PARAMETERS: dict[str, dict[str, object]] = {
    "tenant": {"type": "string", "minLength": 1, "description": "tenant id or name"},
    "mac": {"type": "string", "description": "MAC address in any common notation"},
    "id": {
        "type": "string",
        "pattern": "^[0-9]{1,18}$",
        "description": "job, account, template or background id",
    },
    "token": {"type": "string", "description": "the one-time token of an activation link"},
    "address": {"type": "string", "maxLength": 64, "description": "an IPv4 or IPv6 address"},
    "token_id": {"type": "string", "pattern": "^[0-9a-f]{12}$", "description": "an API token's id"},
}


# ---- query parameters ----------------------------------------------------------------------
DeviceFilter = Annotated[
    Literal["all", "assigned", "unassigned"],
    Field(description="`assigned`: devices with at least one line; `unassigned`: none"),
]


DeviceSearch = Annotated[
    str,
    Field(
        max_length=64,
        description="a device matches when its MAC starts with these hex digits (any"
        " notation), its name starts with this text, or its model's id or label contains it"
        " (ignoring case)",
        examples=["00:15:65:1a", "reception", "t54w"],
    ),
]
DeviceSort = Literal["mac", "name", "model", "created_at", "last_fetch_at", "provision_count"]


class DevicesQuery(_Strict):
    tenant: OptionalTenantRef = None
    filter: DeviceFilter = "all"
    q: DeviceSearch = ""
    sort: Annotated[
        DeviceSort,
        Field(
            description="then by MAC; `last_fetch_at` and `provision_count` sort by the"
            " control plane's copy of the edge's counters, refreshed every 30 s"
        ),
    ] = "mac"
    order: Literal["asc", "desc"] = "asc"
    limit: Annotated[int, Field(ge=1, le=1000, description="devices per page")] = 100
    cursor: Annotated[
        str | None, Field(max_length=1000, description="`next_cursor` of the previous page")
    ] = None


class ImportQuery(_Strict):
    tenant: Annotated[
        OptionalTenantRef, Field(description="required for operators; a tenant token's own")
    ] = None
    dry_run: Annotated[bool, Field(description="check and report; write nothing")] = False


class AccountBatchQuery(_Strict):
    tenant: Annotated[
        OptionalTenantRef,
        Field(description="with a CSV body: required for operators; a tenant token's own"),
    ] = None
    dry_run: Annotated[bool, Field(description="check and report; write nothing")] = False


class ExportQuery(_Strict):
    tenant: Annotated[
        OptionalTenantRef, Field(description="required for operators; a tenant token's own")
    ] = None
    filter: DeviceFilter = "all"
    q: DeviceSearch = ""


class JobsQuery(_Strict):
    state: Literal["queued", "running", "done", "failed", "cancelled"] | None = None


class TenantQuery(_Strict):
    tenant: Annotated[
        OptionalTenantRef, Field(description="required for operators; a tenant token's own")
    ] = None


SortField = Literal[
    "username", "owner", "email", "description", "caller_id_name", "caller_id_number",
    "expires", "created_at", "id",
]  # fmt: skip


class AccountsExportQuery(TenantQuery):
    """Which accounts, in which order: an export's query, and the list's."""

    q: Annotated[
        str,
        Field(
            max_length=1000,
            description="Lucene query syntax over owner, username, callerid, email,"
            " description (and id, expires, created_at): field:term, bare terms, phrases,"
            " AND/OR/NOT/-/+, grouping, * and ? wildcards, field:[a TO b]",
            examples=["owner:alice* AND NOT email:*example.org"],
        ),
    ] = ""
    sort: SortField = "username"
    order: Literal["asc", "desc"] = "asc"


class AccountsQuery(AccountsExportQuery):
    limit: Annotated[int, Field(ge=1, le=1000, description="accounts per page")] = 100
    cursor: Annotated[
        str | None, Field(max_length=2000, description="`next_cursor` of the previous page")
    ] = None


class RegistrationsQuery(TenantQuery):
    account: Annotated[
        str | None, Field(pattern=USERNAME, description="a username of the tenant")
    ] = None
    mac: Annotated[
        str | None,
        Field(max_length=64, description="the accounts on this device's lines (any notation)"),
    ] = None
    limit: Annotated[int, Field(ge=1, le=1000, description="registrations per page")] = 100
    cursor: Annotated[
        str | None, Field(max_length=64, description="`next_cursor` of the previous page")
    ] = None


class FirewallQuery(_Strict):
    tenant: Annotated[
        OptionalTenantRef, Field(description="a tenant's settings; none: the global ones")
    ] = None


class FirewallIn(_Strict):
    """Global: absent fields take the documented defaults. A tenant: absent fields inherit
    the global value; its trusted networks add to the global ones."""

    max_failures: (
        Annotated[int, Field(ge=1, le=100_000, description="failures that ban")] | None
    ) = None
    window_s: (
        Annotated[int, Field(ge=1, le=86_400, description="sliding window, seconds")] | None
    ) = None
    ban_s: Annotated[int, Field(ge=1, le=604_800, description="ban period, seconds")] | None = None
    trusted: Annotated[
        list[Annotated[str, Field(max_length=64)]],
        Field(max_length=1000, description="networks never banned (CIDR or address/netmask)",
              examples=[["10.0.0.0/8"]]),
    ] | None = None  # fmt: skip


class BanIn(_Strict):
    address: Annotated[str, Field(max_length=64, examples=["203.0.113.7"])]
    duration_s: Annotated[
        int, Field(ge=1, le=604_800, description="default: the global ban period")
    ] | None = None  # fmt: skip


# ---- responses -----------------------------------------------------------------------------
class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(_Out):
    errors: Annotated[
        dict[str, str],
        Field(description="each bad field (or `body`, `authorization`, ...) and what is wrong"),
    ]


class Health(_Out):
    status: Literal["ok"]


class ModelOut(_Out):
    id: str
    vendor: str
    label: str
    accounts: Annotated[
        int, Field(description="SIP accounts; a device takes at most this many lines")
    ]
    line_keys: Annotated[int, Field(description="line / programmable keys on the phone")]
    files: list[str]
    wallpaper: Annotated[
        WallpaperOut | None,
        Field(description="the background file its phones get; null: it takes none"),
    ]


class WallpaperOut(_Out):
    width: int
    height: int
    content_type: str


class JobError(_Out):
    item: Annotated[str, Field(description="what failed (a MAC for a recompile); empty: the job")]
    error: str


class JobOut(_Out):
    id: int
    kind: Literal["recompile", "reboot"]
    tenant: int | None
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    done: int
    total: int
    errors: Annotated[list[JobError], Field(description="the first 100 errors")]
    error_count: int
    rate_per_s: Annotated[float | None, Field(description="items/s over the current run")]
    eta_s: Annotated[float | None, Field(description="seconds left at that rate")]
    created_at: str
    started_at: str | None
    finished_at: str | None
    counts: Annotated[
        dict[str, int] | None,
        Field(description="reboot jobs: devices by state (queued, published, sent, accepted, "
              "rejected, timeout, not_registered, rebooted, resynced)"),
    ] = None  # fmt: skip


RebootMode = Annotated[
    Literal["resync", "reboot"],
    Field(description="resync: the phone re-reads its files; reboot: it restarts"),
]
ConfirmS = Annotated[
    float,
    Field(ge=5, le=3600, description="seconds a phone has after its NOTIFY to fetch its "
          "files again (and, for a reboot, register anew) before it counts as not done"),
]  # fmt: skip


class DeviceRebootIn(_Strict):
    mode: RebootMode = "reboot"
    confirm_s: ConfirmS = 300.0


class RebootIn(_Strict):
    tenant: TenantRef | None = None
    macs: Annotated[list[str] | None, Field(max_length=100_000)] = None
    filter: Annotated[
        Literal["all", "assigned", "unassigned"],
        Field(description="the tenant's devices to take when no macs are given"),
    ] = "all"
    q: Annotated[str, Field(max_length=64, description="with filter: as the device list's q")] = ""
    mode: RebootMode = "reboot"
    rate_per_s: Annotated[float, Field(gt=0, le=10_000, description="NOTIFYs per second")] = 50
    wave_size: Annotated[int | None, Field(ge=1, le=100_000)] = None
    wave_pause_s: Annotated[float | None, Field(ge=0, le=3600)] = None
    confirm_s: ConfirmS = 300.0

    @field_validator("macs")
    @classmethod
    def _check_macs(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_mac(mac) for mac in value]

    @model_validator(mode="after")
    def _q_without_macs(self) -> RebootIn:
        if self.macs is not None and self.q:
            raise ValueError("q searches a tenant's devices: give macs or q, not both")
        return self


TemplateEngine = Annotated[
    Literal["default", "advanced"],
    Field(description="default: ${name} placeholders; advanced: sandboxed Jinja2"),
]
TemplateSource = Annotated[str, Field(min_length=1, max_length=262_144)]
TemplateName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]


class TemplateIn(_Strict):
    tenant: TenantRef
    name: TemplateName
    vendor: Annotated[str, Field(max_length=32, description="a vendor family id, e.g. yealink")]
    model: Annotated[str | None, Field(max_length=64, description="one model only")] = None
    file: Annotated[str, Field(max_length=64, description="the shipped template's name")]
    engine: TemplateEngine = "default"
    source: TemplateSource
    default: Annotated[
        bool, Field(description="the tenant's template for this vendor (or model) and file")
    ] = False


class TemplatePatch(_Strict):
    name: TemplateName | None = None
    engine: TemplateEngine | None = None
    source: TemplateSource | None = None
    default: bool | None = None


class RenderErrorOut(_Out):
    mac: str
    error: str


class RenderErrorsOut(_Out):
    count: Annotated[int, Field(description="devices whose last render with it failed")]
    devices: Annotated[list[RenderErrorOut], Field(description="the first few, by MAC")]


class TemplateOut(_Out):
    id: int
    tenant: int
    name: str
    vendor: str
    model: str | None
    file: str
    engine: str
    source: str
    default: bool
    created_at: str
    updated_at: str
    job: Annotated[JobOut | None, Field(description="the recompile it queued")] = None
    render_errors: Annotated[
        RenderErrorsOut | None,
        Field(description="devices it renders for whose render failed (one template only)"),
    ] = None


class SampleQuery(_Strict):
    engine: TemplateEngine = "default"


class PreviewQuery(_Strict):
    template: Annotated[int | None, Field(ge=1, le=2**62, description="try this one")] = None


class PreviewOut(_Out):
    file: str
    content_type: str
    body: Annotated[str, Field(description="the exact bytes (UTF-8) the phone would get")]
    template: Annotated[int | None, Field(description="the custom template used (null: shipped)")]
    shipped: Annotated[str, Field(description="the shipped template of this file")]
    variables: Annotated[dict[str, str], Field(description="the values the file renders with")]


class JobResultsQuery(_Strict):
    state: Literal[
        "queued", "published", "sent", "accepted", "rejected", "timeout", "not_registered",
        "rebooted", "resynced",
    ] | None = None  # fmt: skip
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    cursor: Annotated[str | None, Field(max_length=20)] = None


class JobResultOut(_Out):
    mac: str
    state: str
    status: Annotated[int | None, Field(description="the phone's SIP answer")]
    detail: str
    contact: Annotated[str | None, Field(description="the binding the NOTIFY went to")]
    wave: int
    sent_at: str | None
    settled_at: str | None


class JobResultPage(_Out):
    items: list[JobResultOut]
    next_cursor: str | None


class TenantOut(_Out):
    id: int
    name: str
    realm: str
    sip_server: str
    sip_port: int
    sip_transport: Literal["udp", "tcp", "tls"]
    timezone: str
    ntp_server: str
    language: str
    provisioning_url: str
    pnp: bool
    vars: dict[str, str]
    provision_limit: int | None
    provision_mode: Literal["fqdn", "public_ip"]
    delivery_policy: DeliveryPolicy
    hotdesk_pin: str
    created_at: str
    job: Annotated[
        JobOut | None,
        Field(description="only in the answer to a PATCH: the job recompiling its devices"),
    ] = None


class FirewallOut(_Out):
    tenant: int | None
    max_failures: int
    window_s: int
    ban_s: int
    trusted: list[str]
    overrides: Annotated[dict[str, Any], Field(description="a tenant's own fields")]


class BanOut(_Out):
    address: str
    reason: Annotated[str, Field(description="digest, unknown_user, access_denied, malformed,"
                                 " unknown_mac, scan or manual")]  # fmt: skip
    failures: int
    first_at: str | None
    banned_at: str
    until: str


class RegistrationOut(_Out):
    account: Annotated[str, Field(description="the account's username")]
    account_id: int
    tenant: int
    aor: Annotated[str, Field(description="address of record, sip:user@domain")]
    contact: Annotated[str, Field(description="the Contact URI the phone registered")]
    instance: Annotated[str | None, Field(description="RFC 5626 +sip.instance")]
    reg_id: int | None
    source: Annotated[str, Field(description="the address the REGISTER came from")]
    port: int
    transport: Literal["udp", "tcp"]
    flow: Annotated[
        str | None, Field(description="the TCP connection it came on, 'pid:n' (null: UDP)")
    ]
    worker: Annotated[int | None, Field(description="process id of the edge worker")]
    user_agent: str
    registered_at: Annotated[str, Field(description="first REGISTER of this Call-ID, UTC")]
    expires_at: str
    expires_in: Annotated[int, Field(description="seconds left")]


class RegistrationPage(_Out):
    items: list[RegistrationOut]
    next_cursor: str | None


class LineOut(_Out):
    position: Annotated[int, Field(ge=1, le=6)]
    extension: str
    label: Annotated[str, Field(description="empty: the phone shows the extension number")]


class CounterResetOut(_Out):
    reset: Annotated[int, Field(description="devices whose counter starts again from 0")]


class KeyOut(_Out):
    position: Annotated[int, Field(ge=1, le=MAX_KEYS)]
    type: Literal["blf"]
    extension: str
    label: str


class DeviceOut(_Out):
    mac: Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]
    tenant: int
    model: str
    name: str
    background: Annotated[int | None, Field(description="its background image's id")]
    background_url: Annotated[
        str, Field(description="the scaled image its phone fetches (empty: none)")
    ]
    hotdesk_pin: str
    lines: list[LineOut]
    keys: list[KeyOut]
    provisioning_url: str
    files: list[str]
    published: bool
    vars: Annotated[dict[str, str], Field(description="its own values of its tenant's vars")]
    template: Annotated[int | None, Field(description="its own custom template, if any")]
    render_error: Annotated[
        str | None,
        Field(description="why its files could not be rendered at the last publish (the "
              "phone keeps getting the last good ones)"),
    ]  # fmt: skip
    created_at: str
    language: Annotated[str, Field(description="the UI language the phone is given")]
    language_fallback: Annotated[
        bool,
        Field(description="true: the tenant's language is not one this model has; English"),
    ]
    provision_count: Annotated[int, Field(description="fetches of its per-MAC files")]
    last_fetch_at: Annotated[str | None, Field(description="ISO 8601 UTC")]
    last_fetch_ip: str | None
    last_user_agent: str | None
    warnings: Annotated[
        list[str],
        Field(description="accounts its lines share with other devices: calls will conflict"),
    ]
    admin_password: Annotated[
        str, Field(description="only in the answer that set it: create, or a PATCH of it")
    ] = ""


class DevicePage(_Out):
    items: list[DeviceOut]
    total: Annotated[int, Field(description="how many devices match, over all pages")]
    next_cursor: Annotated[
        str | None, Field(description="pass as `cursor` for the next page; null on the last")
    ]


class ImportOut(_Out):
    tenant: int
    dry_run: bool
    rows: int
    created: Annotated[int, Field(description="devices new to the tenant")]
    changed: Annotated[int, Field(description="devices whose model, name or lines change")]
    unchanged: Annotated[int, Field(description="rows that change nothing")]
    created_macs: Annotated[list[str], Field(description="the first 100 created")]
    changed_macs: Annotated[list[str], Field(description="the first 100 changed")]
    job: Annotated[
        JobOut | None, Field(description="the job publishing a large import; null: published")
    ]


class RemovedOut(_Out):
    removed: Annotated[int, Field(description="devices removed; their files are withdrawn")]


class AccessRuleOut(_Out):
    action: Literal["deny", "permit"]
    network: str


class AccountOut(_Out):
    id: int
    tenant: int
    username: str
    realm: str
    display_name: str
    auth_method: AuthMethod
    ip: str | None
    invite_format: InviteFormat
    expires: int
    outbound_flags: list[str]
    caller_id_name: str
    caller_id_number: str
    owner: str
    email: str
    description: str
    secondary_number: str
    enabled: bool
    access_rules: list[AccessRuleOut]
    devices: Annotated[list[str], Field(description="MACs of the devices whose lines use it")]
    warnings: Annotated[
        list[str], Field(description="e.g. on several devices: incoming calls will conflict")
    ]
    published: Annotated[bool, Field(description="its registrar record is in LMDB")]
    created_at: str
    password: Annotated[str, Field(description="only in the answer to create; never listed")] = ""
    changed: Annotated[
        list[str], Field(description="only in the answer to a PATCH: the fields it changed")
    ] = []
    activation_url: Annotated[
        str, Field(description="only in the answer to a create with `activation`")
    ] = ""
    activation_expires_at: Annotated[str, Field(description="ISO 8601 UTC")] = ""
    job: Annotated[
        JobOut | None,
        Field(description="only in a PATCH or DELETE answer: the job republishing its devices"),
    ] = None


class AccountPage(_Out):
    items: list[AccountOut]
    total: Annotated[int, Field(description="how many accounts match, over all pages")]
    next_cursor: Annotated[
        str | None, Field(description="pass as `cursor` for the next page; null on the last")
    ]


class ActivationIssued(_Out):
    activation_url: Annotated[str, Field(description="a public GET of it enables the account")]
    activation_expires_at: Annotated[str, Field(description="ISO 8601 UTC")]


class ActivationOut(_Out):
    sip_server: str
    sip_port: int
    sip_transport: Literal["udp", "tcp", "tls"]
    realm: str
    username: str
    password: str
    provisioning_url: Annotated[
        str | None, Field(description="where a device the account is on provisions; or null")
    ]


class BatchRow(_Out):
    id: Annotated[int | None, Field(description="null in a dry run")]
    username: Annotated[str | None, Field(description="null in a dry run when generated")]
    password: Annotated[str | None, Field(description="null in a dry run")]
    realm: Annotated[str | None, Field(description="absent in a dry run")] = None


class AccountBatchOut(_Out):
    tenant: int
    count: int
    dry_run: Annotated[bool, Field(description="checked only; nothing was written")]
    items: Annotated[list[BatchRow], Field(description="the accounts made, with passwords")]
    job: Annotated[
        JobOut | None, Field(description="the job publishing their records when many; or null")
    ]


class PasswordOut(_Out):
    id: int
    username: str
    realm: str
    password: str


class ExtensionOut(_Out):
    id: int
    tenant: int
    number: str
    display_name: str
    accounts: list[str]


# ---- background images (control/backgrounds.py) ----------------------------------------------
class BackgroundQuery(_Strict):
    tenant: Annotated[
        OptionalTenantRef, Field(description="required for operators; a tenant token's own")
    ] = None
    name: Annotated[
        Text | None, Field(description="what to call it (default: background <sha256 prefix>)")
    ] = None


class BackgroundDeleteQuery(_Strict):
    force: Annotated[
        bool, Field(description="delete even while devices show it; they go back to none")
    ] = False


class BackgroundFileOut(_Out):
    name: Annotated[str, Field(description="below the tenant's provisioning URL")]
    url: str
    width: int
    height: int
    content_type: str
    models: Annotated[list[str], Field(description="the models whose phones get this file")]


class BackgroundOut(_Out):
    id: int
    tenant: int
    name: str
    sha256: str
    content_type: Literal["image/png", "image/jpeg"]
    width: Annotated[int, Field(description="of the upload")]
    height: int
    size: Annotated[int, Field(description="bytes of the upload")]
    devices: Annotated[int, Field(description="devices that show it")]
    files: Annotated[list[BackgroundFileOut], Field(description="the scaled files served")]
    published: Annotated[bool, Field(description="its files are in LMDB")]
    created_at: str


# ---- end-user self-service (control/selfservice.py) ------------------------------------------
class MyLineLabel(_Strict):
    position: Annotated[int, Field(ge=1, le=MAX_LINES)]
    label: LineLabel


class MyDevicePatch(_Strict):
    """What an end user may change on a device of theirs; each field is applied by its
    changer in control/selfservice.py (BLF keys and background: one field each, added there)."""

    lines: Annotated[
        list[MyLineLabel] | None,
        Field(max_length=MAX_LINES, description="labels of lines that carry your account"),
    ] = None
    keys: Annotated[Keys | None, Field(description="the device's BLF keys, replaced")] = None
    background: Annotated[
        BackgroundId | None,
        Field(description="one of your tenant's background images; an explicit null: none"),
    ] = None


class MyLineOut(_Out):
    position: int
    extension: str
    label: str
    mine: Annotated[bool, Field(description="carries your account: you may label it")]


class MyDeviceOut(_Out):
    mac: str
    model: str
    name: str
    lines: list[MyLineOut]
    keys: list[KeyOut]
    background: Annotated[int | None, Field(description="its background image's id")]


# ---- audit trail (control/storage/audit.py) --------------------------------------------------
class AuditQuery(TenantQuery):
    object: Annotated[
        str | None,
        Field(
            max_length=200,
            pattern=r"^[a-z_]+(/[^/\s]+)*$",
            description="`device` (every device), `device/<mac>` (one, with its lines),"
            " `account/<id>`, `tenant/<id>`, `extension/<id>`, `token/<id>`",
            examples=["device/001565aabbcc"],
        ),
    ] = None
    since: Annotated[
        datetime | None, Field(description="entries at or after (ISO 8601; no zone: UTC)")
    ] = None
    limit: Annotated[int, Field(ge=1, le=1000, description="entries per page")] = 100
    cursor: Annotated[
        str | None,
        Field(pattern=r"^[0-9]{1,18}$", description="`next_cursor` of the previous page"),
    ] = None


class AuditActor(_Out):
    role: Annotated[
        str, Field(description="operator, tenant_admin, end_user, public, cli, job or system")
    ]
    label: Annotated[str, Field(description="the token's label, the OS user, or the job")]
    token: Annotated[str, Field(description="the token's id (API requests)")]


class AuditEntry(_Out):
    id: int
    at: Annotated[str, Field(description="ISO 8601 UTC, milliseconds")]
    actor: AuditActor
    tenant: int | None
    object: str
    action: Literal["create", "update", "delete"]
    before: Annotated[dict[str, Any] | None, Field(description="secrets masked")]
    after: Annotated[dict[str, Any] | None, Field(description="secrets masked")]
    changed: list[str]


class AuditPage(_Out):
    items: list[AuditEntry]
    next_cursor: str | None


# ---- API tokens (control/api/auth.py) --------------------------------------------------------
TokenRole = Literal["operator", "tenant_admin", "end_user"]


class TokenIn(_Strict):
    role: TokenRole
    tenant: Annotated[TenantRef | None, Field(description="required unless role operator")] = None
    account: Annotated[
        str | None, Field(pattern=USERNAME, description="end_user: the account it is bound to")
    ] = None
    label: Text = ""
    expires_in_days: Annotated[
        float | None, Field(gt=0, le=3650, description="omitted: never expires")
    ] = None


class TokenOut(_Out):
    id: str
    role: TokenRole
    tenant: int | None
    account: str | None
    label: str
    created_at: str
    expires_at: str | None
    expired: bool
    last_used_at: Annotated[
        str | None, Field(description="ISO 8601 UTC; written at most every few seconds")
    ]


class TokenCreated(TokenOut):
    token: Annotated[str, Field(description="the bearer token, shown only here")]
